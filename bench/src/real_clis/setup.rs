/*! What the real team needs before it starts: the pinned CLIs (found as the host's real-CLI tests
find them), the scripted model's scenario, and a sandbox set up as a user of a model gateway would
set up their machine: the CLIs' own switches in HOME, each provider's key and endpoint in a team
profile, every proxy variable at the scripted model. Also the leader's pane the results go to. */

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use team_agent_fake_model::{FakeModel, Scenario};

use super::SLOW_EVENT_MS;
use crate::sandbox::{Sandbox, TEAM, TICK_INTERVAL_SEC};
use crate::setup::Binaries;

/// Words in a message that choose the scenario's answer.
pub const SLOW_WORD: &str = "BENCH-SLOW";
pub const REPORT_WORD: &str = "BENCH-REPORT";

/// A worker of the team: its id, provider and the CLI's name in the report.
pub struct Worker {
    pub id: &'static str,
    pub provider: &'static str,
    pub cli: &'static str,
}

pub const WORKERS: [Worker; 2] = [
    Worker {
        id: "cx",
        provider: "codex",
        cli: "Codex",
    },
    Worker {
        id: "cl",
        provider: "claude",
        cli: "Claude",
    },
];

/// The pinned CLIs, where `scripts/install-real-clis.sh` puts them.
pub struct Clis {
    /// Their `node_modules/.bin`.
    bin: PathBuf,
    codex: String,
    claude: String,
}

impl Clis {
    /// `$TEAM_AGENT_REAL_CLI_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/team-agent/real-clis`.
    pub fn dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("TEAM_AGENT_REAL_CLI_DIR") {
            return Some(PathBuf::from(dir));
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(cache.join("team-agent/real-clis"))
    }

    pub fn locate(dir: &Path) -> Option<Self> {
        let modules = dir.join("node_modules");
        let bin = modules.join(".bin");
        if !(bin.join("codex").is_file() && bin.join("claude").is_file()) {
            return None;
        }
        let version = |package: &str| {
            std::fs::read_to_string(modules.join(package).join("package.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|p| p["version"].as_str().map(str::to_string))
                .unwrap_or_else(|| "version unknown".into())
        };
        Some(Self {
            codex: version("@openai/codex"),
            claude: version("@anthropic-ai/claude-code"),
            bin,
        })
    }

    pub fn section(&self) -> String {
        format!(
            "Real CLIs (Codex {}, Claude Code {}, against the scripted model)",
            self.codex, self.claude
        )
    }
}

/// Plain text (`OK.` by default, slowly for [`SLOW_WORD`]); for [`REPORT_WORD`] the team's
/// `report_result`, then a word.
pub fn scenario() -> anyhow::Result<Scenario> {
    let text = json!({
        "rules": [
            {"id": "report", "when": {"user_contains": REPORT_WORD},
             "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                                     "input": {"status": "success", "summary": "bench"}}}]},
            {"id": "reported", "when": {"after_tool": "report_result"},
             "reply": [{"text": "Reported."}]},
            {"id": "slow", "when": {"user_contains": SLOW_WORD},
             "reply": [{"slow": {"event_delay_ms": SLOW_EVENT_MS}},
                       {"text": "Taking my time over this one, then done."}]}
        ],
        "default": [{"text": "OK."}]
    });
    Ok(Scenario::from_json(&text.to_string())?)
}

/// A sandbox for the real team: the CLIs first on `PATH`, every proxy variable at the scripted
/// model, the CLIs' switches; the user's configuration in its HOME; the team, its profiles and a
/// git repository in its workspace.
pub fn real_sandbox(
    binaries: &Binaries,
    clis: &Clis,
    model: &FakeModel,
) -> anyhow::Result<Sandbox> {
    let url = model.url();
    let mut path = vec![clis.bin.clone(), binaries.dir.clone()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path)?;
    let mut env: Vec<(&str, OsString)> = vec![("PATH", path)];
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        env.push((var, url.clone().into()));
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.push((var, "127.0.0.1,localhost".into()));
    }
    for var in [
        "DISABLE_AUTOUPDATER",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL",
    ] {
        env.push((var, "1".into()));
    }
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let sandbox = Sandbox::new(binaries, false, &env)?;
    write_home(&sandbox.home)?;
    write_profiles(&sandbox.workspace, &url)?;
    write_team(&sandbox.workspace)?;
    let git = Command::new("git")
        .args(["init", "-q", "."])
        .current_dir(&sandbox.workspace)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .context("cannot run git")?;
    if !git.status.success() {
        bail!(
            "git init failed: {}",
            String::from_utf8_lossy(&git.stderr).trim()
        );
    }
    Ok(sandbox)
}

/// The user's own configuration: Claude's finished onboarding; Codex's switches for update
/// checks, analytics and plugin sync (all network).
fn write_home(home: &Path) -> anyhow::Result<()> {
    std::fs::write(
        home.join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )?;
    std::fs::create_dir_all(home.join(".codex"))?;
    std::fs::write(
        home.join(".codex/config.toml"),
        "check_for_update_on_startup = false\n[analytics]\nenabled = false\n[features]\nplugins = false\n",
    )?;
    Ok(())
}

/// Each provider's key and endpoint, as `.team/profiles/NAME.env` (mode 0600).
fn write_profiles(workspace: &Path, url: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let profiles = workspace.join(".team/profiles");
    std::fs::create_dir_all(&profiles)?;
    for (name, text) in [
        (
            "openai",
            format!("OPENAI_API_KEY=sk-offline-bench-key\nOPENAI_BASE_URL={url}/v1\n"),
        ),
        (
            "anthropic",
            format!(
                "ANTHROPIC_API_KEY=sk-ant-offline-bench-00000000000000000000\nANTHROPIC_BASE_URL={url}\n"
            ),
        ),
    ] {
        let path = profiles.join(format!("{name}.env"));
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn write_team(workspace: &Path) -> anyhow::Result<()> {
    let dir = workspace.join(TEAM);
    std::fs::create_dir_all(dir.join("agents"))?;
    std::fs::write(
        dir.join("TEAM.md"),
        format!(
            "---\nname: {TEAM}\nobjective: Measure team-agent with the real CLIs.\n\
             display_backend: none\ntick_interval_sec: {TICK_INTERVAL_SEC}\n---\n# {TEAM}\n\n\
             Written by team-agent-bench.\n"
        ),
    )?;
    for worker in &WORKERS {
        let (profile, model) = match worker.provider {
            // A model Codex knows nothing about gets its full tool set.
            "codex" => ("openai", "model: fake-model\n"),
            _ => ("anthropic", ""),
        };
        std::fs::write(
            dir.join("agents").join(format!("{}.md", worker.id)),
            format!(
                "---\nname: {id}\nrole: worker\nprovider: {provider}\nprofile: {profile}\n{model}---\n\
                 You are {id}, a worker of the benchmark team.\n",
                id = worker.id,
                provider = worker.provider,
            ),
        )?;
    }
    Ok(())
}

/// The leader's pane: a tmux server of the harness's own (its socket in the sandbox's socket
/// directory, so the sandbox ends it) running `cat > FILE`, so every notification pasted into it
/// lands in FILE.
pub struct LeaderPane {
    pub socket: PathBuf,
    pub file: PathBuf,
    pub pane: String,
}

impl LeaderPane {
    pub fn start(tmux: &Path, sandbox: &Sandbox) -> anyhow::Result<Self> {
        let socket = sandbox.tmux_dir.join("leader");
        let file = sandbox.home.join("leader.txt");
        let tmux = |args: &[&str]| {
            Command::new(tmux)
                .arg("-S")
                .arg(&socket)
                .args(["-f", "/dev/null"])
                .args(args)
                .env("HOME", &sandbox.home)
                .env_remove("TMUX")
                .env_remove("TMUX_PANE")
                .output()
                .context("cannot run tmux")
        };
        let cat = format!("cat > {}", file.display());
        let started = tmux(&[
            "new-session",
            "-d",
            "-s",
            "leader",
            "-x",
            "200",
            "-y",
            "50",
            cat.as_str(),
        ])?;
        if !started.status.success() {
            bail!(
                "the leader's tmux server did not start: {}",
                String::from_utf8_lossy(&started.stderr).trim()
            );
        }
        let pane = tmux(&["display", "-p", "-t", "leader", "#{pane_id}"])?;
        let pane = String::from_utf8_lossy(&pane.stdout).trim().to_string();
        Ok(Self { socket, file, pane })
    }
}
