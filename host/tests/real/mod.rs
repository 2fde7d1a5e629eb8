//! The real Codex, Claude Code and Gemini CLIs as workers, doing real turns against the
//! scripted model (`team-agent-fake-model`) on 127.0.0.1 — never the network:
//! - each test thread gets a loopback-only network namespace when the tests run as root (the
//!   fake model, the team's tmux server and every CLI are started from that thread, so they all
//!   live in it);
//! - `HTTPS_PROXY`/`HTTP_PROXY` point at the fake model, which refuses and records every
//!   `CONNECT`; a test fails on any it does not expect;
//! - the CLIs' own switches for non-essential traffic are set as a user would set them.
//!
//! The CLIs come from `scripts/install-real-clis.sh` (the pinned versions from npm, in a cache
//! outside the checkout). Without them a test says loudly that it did not run, and fails when
//! `TEAM_AGENT_REQUIRE_REAL_CLIS=1` (CI sets it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use team_agent_fake_model::{EgressAttempt, FakeModel, RecordedRequest, RequestKind, Scenario};

pub use team_agent_fake_model::isolation::{Isolation, isolate_network};

use crate::support::{TeamEnv, bundled_dir, json, wait_until};

/// The pinned Codex and Claude Code CLIs' `node_modules/.bin`, where
/// `scripts/install-real-clis.sh` puts them.
pub fn cli_bin() -> Option<PathBuf> {
    cli_bin_for(&["codex", "claude"])
}

/// The pinned CLIs' `node_modules/.bin`, when it holds every one of `clis` (`codex`, `claude`,
/// `gemini`).
pub fn cli_bin_for(clis: &[&str]) -> Option<PathBuf> {
    let dir = match std::env::var_os("TEAM_AGENT_REAL_CLI_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            cache.join("team-agent/real-clis")
        }
    };
    let bin = dir.join("node_modules/.bin");
    clis.iter()
        .all(|cli| bin.join(cli).is_file())
        .then_some(bin)
}

/// The CLIs, or `None` after saying loudly that this test did not run (a panic when the CLIs
/// are required).
pub fn require_clis(test: &str) -> Option<PathBuf> {
    require_clis_for(test, &["codex", "claude"])
}

/// [`require_clis`] for the CLIs `clis`.
pub fn require_clis_for(test: &str, clis: &[&str]) -> Option<PathBuf> {
    if let Some(bin) = cli_bin_for(clis) {
        return Some(bin);
    }
    let required = std::env::var("TEAM_AGENT_REQUIRE_REAL_CLIS").is_ok_and(|v| v == "1");
    let message = format!(
        "\n!!! {test} DID NOT RUN: the real CLIs ({}) are not installed.\n\
         !!! Install them with scripts/install-real-clis.sh (npm), or point TEAM_AGENT_REAL_CLI_DIR at an npm prefix holding them.\n",
        clis.join(", ")
    );
    if required {
        panic!("{message}!!! TEAM_AGENT_REQUIRE_REAL_CLIS=1: they are required here.");
    }
    eprintln!("{message}");
    None
}

/// One worker of a real team.
pub struct Worker {
    pub id: &'static str,
    pub provider: &'static str,
    /// Extra front matter lines (`permission_mode: ask`, …).
    pub front_matter: &'static str,
}

impl Worker {
    pub fn codex(id: &'static str) -> Self {
        Self {
            id,
            provider: "codex",
            front_matter: "",
        }
    }

    pub fn claude(id: &'static str) -> Self {
        Self {
            id,
            provider: "claude",
            front_matter: "",
        }
    }

    pub fn gemini(id: &'static str) -> Self {
        Self {
            id,
            provider: "gemini",
            front_matter: "",
        }
    }

    pub fn with(mut self, front_matter: &'static str) -> Self {
        self.front_matter = front_matter;
        self
    }
}

/// A team of real CLIs against the scripted model, in a fresh HOME and a git workspace.
pub struct RealTeam {
    pub env: TeamEnv,
    pub model: FakeModel,
    pub isolation: Isolation,
    bin: PathBuf,
    /// Whether a Gemini worker is in the team: its commands then run with the CI markers set
    /// (see [`RealTeam::command`]).
    gemini: bool,
    /// Egress the test expects (see [`RealTeam::assert_no_egress`]).
    expected_egress: Vec<&'static str>,
    /// Last: given back after the team is shut down.
    _slot: Slot,
}

/// How many real teams run at once (each runs two or three real CLIs, Node processes of a few
/// hundred MB): more at once on a small machine starve each other into timeouts.
/// `TEAM_AGENT_REAL_TEAMS_AT_ONCE` overrides it.
fn teams_at_once() -> usize {
    std::env::var("TEAM_AGENT_REAL_TEAMS_AT_ONCE")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// A place among the real teams running at once, held for a team's life.
struct Slot;

static SLOTS: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

impl Slot {
    fn take() -> Self {
        let (taken, freed) = &SLOTS;
        let mut taken = taken.lock().unwrap_or_else(|e| e.into_inner());
        while *taken >= teams_at_once() {
            taken = freed.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (taken, freed) = &SLOTS;
        *taken.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// The CLIs a team of `workers` needs: Codex and Claude Code as every team of theirs always
/// has, Gemini CLI when a worker runs it.
fn clis_of(workers: &[Worker]) -> Vec<&'static str> {
    let mut clis = Vec::new();
    if workers.iter().any(|w| w.provider != "gemini") {
        clis.extend(["codex", "claude"]);
    }
    if workers.iter().any(|w| w.provider == "gemini") {
        clis.push("gemini");
    }
    clis
}

/// Codex's TUI fetches `announcement_tip.toml` from GitHub at every start, and no switch of
/// 0.169.0 stops it: the one egress attempt these tests expect (refused by the proxy trap, and
/// with no route anywhere in the namespace).
pub const CODEX_ANNOUNCEMENT: &str = "raw.githubusercontent.com:443";

impl RealTeam {
    /// Starts the scripted model, writes the user's configuration as a user of a model gateway
    /// would (the endpoint and key in each agent's profile, the CLIs' own switches for
    /// non-essential traffic), and the team definition. Nothing is started yet.
    pub fn new(test: &str, scenario: Scenario, workers: &[Worker]) -> Option<Self> {
        let bin = require_clis_for(test, &clis_of(workers))?;
        let slot = Slot::take();
        let isolation = isolate_network();
        let model = FakeModel::start(scenario).expect("the scripted model starts");
        let env = TeamEnv::new();
        let team = Self {
            env,
            model,
            isolation,
            bin,
            gemini: workers.iter().any(|w| w.provider == "gemini"),
            expected_egress: Vec::new(),
            _slot: slot,
        };
        team.write_home();
        team.write_profiles();
        team.write_team(workers);
        git(&team.env.workspace(), &["init", "-q", "."]);
        Some(team)
    }

    /// The user's own configuration in the fresh HOME: Claude's finished onboarding, Codex's
    /// switches for update checks, analytics and plugin sync (all network).
    fn write_home(&self) {
        let home = self.env.home();
        std::fs::write(
            home.join(".claude.json"),
            r#"{"hasCompletedOnboarding": true}"#,
        )
        .unwrap();
        std::fs::create_dir_all(home.join(".codex")).unwrap();
        std::fs::write(
            home.join(".codex/config.toml"),
            "check_for_update_on_startup = false\n[analytics]\nenabled = false\n[features]\nplugins = false\n",
        )
        .unwrap();
    }

    /// Each provider's key and endpoint, as `.team/profiles/NAME.env` (mode 0600).
    fn write_profiles(&self) {
        use std::os::unix::fs::PermissionsExt;
        let url = self.model.url();
        let profiles = self.env.workspace().join(".team/profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        for (name, text) in [
            (
                "openai",
                format!("OPENAI_API_KEY=sk-offline-test-key\nOPENAI_BASE_URL={url}/v1\n"),
            ),
            (
                "anthropic",
                format!(
                    "ANTHROPIC_API_KEY=sk-ant-offline-test-00000000000000000000\nANTHROPIC_BASE_URL={url}\n"
                ),
            ),
            (
                "gemini",
                format!("GEMINI_API_KEY=offline-test-key\nGOOGLE_GEMINI_BASE_URL={url}\n"),
            ),
        ] {
            let path = profiles.join(format!("{name}.env"));
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// Adds `KEY=VALUE` lines to a profile (`openai`, `anthropic` or `gemini`), as a user would.
    pub fn add_to_profile(&self, profile: &str, lines: &str) {
        use std::io::Write;
        let path = self
            .env
            .workspace()
            .join(format!(".team/profiles/{profile}.env"));
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(lines.as_bytes()).unwrap();
    }

    fn write_team(&self, workers: &[Worker]) {
        let team = self.env.workspace().join("team");
        std::fs::create_dir_all(team.join("agents")).unwrap();
        std::fs::write(
            team.join("TEAM.md"),
            "---\nname: real\ndisplay_backend: none\ntick_interval_sec: 0.5\n---\nA team of real CLIs.\n",
        )
        .unwrap();
        for worker in workers {
            let (profile, model) = match worker.provider {
                // A model Codex knows nothing about gets its full tool set.
                "codex" => ("openai", "model: fake-model\n"),
                // A model named, so Gemini's router (a side request per prompt) stays out.
                "gemini" => ("gemini", "model: gemini-2.5-flash\n"),
                _ => ("anthropic", ""),
            };
            std::fs::write(
                team.join(format!("agents/{}.md", worker.id)),
                format!(
                    "---\nname: {}\nrole: worker\nprovider: {}\nprofile: {profile}\n{model}{}---\nYou are {}, a worker of the test team.\n",
                    worker.id, worker.provider, worker.front_matter, worker.id
                ),
            )
            .unwrap();
        }
    }

    /// Adds settings to the team's TEAM.md front matter (before `up`).
    pub fn team_settings(&self, lines: &str) {
        let path = self.env.workspace().join("team/TEAM.md");
        let text = std::fs::read_to_string(&path).unwrap().replacen(
            "tick_interval_sec: 0.5\n",
            &format!("tick_interval_sec: 0.5\n{lines}"),
            1,
        );
        std::fs::write(&path, text).unwrap();
    }

    /// `team-agent …` with the CLIs on PATH and every request that honours a proxy sent to the
    /// trap, as the operator's shell would have it.
    pub fn command(&self) -> Command {
        let mut cmd = self.env.command();
        let trap = self.model.url();
        cmd.env(
            "PATH",
            format!(
                "{}:{}:{}",
                self.bin.display(),
                bundled_dir().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        );
        for var in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
            cmd.env(var, &trap);
        }
        for var in ["NO_PROXY", "no_proxy"] {
            cmd.env(var, "127.0.0.1,localhost");
        }
        cmd.env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("CODEX_HOME")
            .env_remove("CLAUDE_CONFIG_DIR");
        if self.gemini {
            // As a CI job's shell has them, wherever the test runs: Gemini CLI goes headless on
            // either, so its plugin must strip them from the worker's environment.
            cmd.env("CI", "true").env("GITHUB_ACTIONS", "true");
        }
        cmd
    }

    /// Runs `team-agent ARGS --json`: whether it succeeded, and its answer.
    pub fn json(&self, args: &[&str]) -> (bool, Value) {
        let out = self
            .command()
            .args(args)
            .arg("--json")
            .output()
            .expect("team-agent runs");
        (out.status.success(), json(&out))
    }

    /// `up team`, asserting every worker runs.
    pub fn up(&self) -> Value {
        let (ok, up) = self.json(&["up", "team"]);
        assert!(ok, "up failed: {up}");
        for agent in up["agents"].as_array().unwrap() {
            assert_eq!(agent["status"], "running", "{agent}\n{}", self.screens());
        }
        up
    }

    /// `up team` for CLIs that may take longer than `up`'s startup bound to reach their prompt
    /// (Gemini CLI on a loaded machine): `up` must succeed, and each worker it left starting
    /// must be running within `seconds` (the coordinator goes on reading its screen).
    pub fn up_allowing_slow_start(&self, seconds: u64) -> Value {
        let (ok, up) = self.json(&["up", "team"]);
        assert!(ok, "up failed: {up}");
        for agent in up["agents"].as_array().unwrap() {
            if agent["status"] != "running" {
                assert_eq!(agent["status"], "starting", "{agent}\n{}", self.screens());
                self.wait_agent(agent["id"].as_str().unwrap(), seconds, |a| {
                    a["status"] == "running"
                });
            }
        }
        up
    }

    pub fn status(&self) -> Value {
        let (ok, status) = self.json(&["status"]);
        assert!(ok, "status failed: {status}");
        status
    }

    pub fn agent(&self, id: &str) -> Value {
        self.status()["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no agent {id}"))
    }

    /// Sends `text` to `agent` (for `task`), asserting the message was submitted.
    pub fn send(&self, agent: &str, text: &str, task: Option<&str>) -> Value {
        let mut args = vec!["send", agent, text];
        if let Some(task) = task {
            args.extend(["--task", task]);
        }
        let (ok, sent) = self.json(&args);
        assert!(
            ok && sent["status"] == "submitted",
            "send to {agent}: {sent}\n{}",
            self.screens()
        );
        sent
    }

    /// Waits up to `seconds` for `agent`'s status row to satisfy `condition`.
    pub fn wait_agent(
        &self,
        agent: &str,
        seconds: u64,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        let held = wait_until(seconds, || {
            last = self.agent(agent);
            condition(&last)
        });
        let events: Vec<String> = self
            .events()
            .into_iter()
            .filter(|e| e["agent_id"] == agent)
            .map(|e| e.to_string())
            .collect();
        assert!(
            held,
            "{agent} never got there: {last}\n{}\n--- the end of its transcript:\n{}\n--- its last events:\n{}",
            self.screens(),
            transcript_end(&last),
            events[events.len().saturating_sub(12)..].join("\n")
        );
        last
    }

    /// The pane of `agent` as it looks now.
    pub fn screen(&self, agent: &str) -> String {
        let pane = self.agent(agent)["pane_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let out = self.env.tmux(&["capture-pane", "-p", "-t", &pane]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every worker's screen, for failure messages.
    pub fn screens(&self) -> String {
        let Ok(out) = self.command().args(["status", "--json"]).output() else {
            return String::new();
        };
        let status: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut text = String::new();
        for agent in status["agents"].as_array().into_iter().flatten() {
            let id = agent["id"].as_str().unwrap_or("?");
            if let Some(pane) = agent["pane_id"].as_str() {
                let out = self.env.tmux(&["capture-pane", "-p", "-t", pane]);
                let screen = String::from_utf8_lossy(&out.stdout);
                let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
                text.push_str(&format!(
                    "--- {id} ({}):\n{}\n",
                    agent["activity"],
                    lines[lines.len().saturating_sub(40)..].join("\n")
                ));
            }
            // What still waits for it, and why.
            if let Ok(out) = self.command().args(["inbox", id, "--json"]).output() {
                let inbox: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
                for m in inbox["messages"].as_array().into_iter().flatten() {
                    let status = m["status"].as_str().unwrap_or("?");
                    if m["recipient"] == id && !matches!(status, "submitted" | "acknowledged") {
                        text.push_str(&format!(
                            "    waiting: {} {status} (attempts {})\n",
                            m["message_id"].as_str().unwrap_or("?"),
                            m["delivery_attempts"]
                        ));
                    }
                }
            }
        }
        let events =
            std::fs::read_to_string(self.env.logs().join("events.jsonl")).unwrap_or_default();
        text.push_str("--- sessions captured:\n");
        for line in events
            .lines()
            .filter(|l| l.contains("\"session.captured\""))
        {
            text.push_str(&format!("  {line}\n"));
        }
        let last: Vec<&str> = events.lines().collect();
        text.push_str("--- the last events:\n");
        for line in &last[last.len().saturating_sub(30)..] {
            text.push_str(&format!("  {line}\n"));
        }
        text
    }

    /// The model requests of one API so far, in order.
    pub fn turns_of(&self, api: &str) -> Vec<RecordedRequest> {
        self.model
            .main_requests()
            .into_iter()
            .filter(|r| {
                r.api
                    .and_then(|a| serde_json::to_value(a).ok())
                    .is_some_and(|a| a == api)
            })
            .collect()
    }

    /// Waits until the model has seen a main request satisfying `condition`.
    pub fn wait_request(&self, seconds: u64, condition: impl Fn(&RecordedRequest) -> bool) -> bool {
        self.model.wait_for(
            |requests| {
                requests
                    .iter()
                    .any(|r| r.kind == RequestKind::Main && condition(r))
            },
            Duration::from_secs(seconds),
        )
    }

    /// Allows one more kind of egress attempt (by `host:port` target) for this test.
    pub fn expect_egress(&mut self, target: &'static str) {
        self.expected_egress.push(target);
    }

    /// Fails on any egress attempt the test did not expect (the trap refused them all).
    pub fn assert_no_egress(&self) {
        let unexpected: Vec<EgressAttempt> = self
            .model
            .egress()
            .into_iter()
            .filter(|e| !self.expected_egress.contains(&e.target.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "the CLIs tried to reach the network (refused by the trap): {unexpected:?}"
        );
    }

    /// The team's event log, parsed.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.env.logs().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every event of `kind` about `agent`.
    pub fn events_of(&self, kind: &str, agent: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind && e["agent_id"] == agent)
            .collect()
    }

    /// The first model request whose newest user text carries `marker` (waited for).
    pub fn request_with(&self, marker: &str) -> RecordedRequest {
        assert!(
            self.wait_request(90, |r| r.newest_user_text().contains(marker)),
            "no model request for {marker}\n{}",
            self.screens()
        );
        self.model
            .main_requests()
            .into_iter()
            .find(|r| r.newest_user_text().contains(marker))
            .unwrap()
    }
}

/// A leader CLI started by `team-agent claude|codex`, in its own tmux session.
pub struct Leader {
    pub socket: PathBuf,
    pub session: String,
}

impl Leader {
    /// Whether the leader's CLI is up and takes input, as its own provider plugin judges it.
    pub fn ready(&self, team: &RealTeam, provider: &str) -> bool {
        use std::io::Write;
        let mut child = team
            .command()
            .args(["plugins", "probe", provider, "--screen", "-", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(self.screen().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        verdict["startup"]["decision"] == "ready"
    }

    /// Its pane's screen now.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["capture-pane", "-p", "-t", &format!("={}:", self.session)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Its pane's id.
    pub fn pane(&self) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args([
                "display",
                "-p",
                "-t",
                &format!("={}:", self.session),
                "#{pane_id}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Types `text` and presses Enter, as the operator would.
    pub fn say(&self, text: &str) {
        let target = format!("={}:", self.session);
        let keys = |keys: &[&str]| {
            let ok = Command::new("tmux")
                .arg("-S")
                .arg(&self.socket)
                .args(["send-keys", "-t", &target])
                .args(keys)
                .status()
                .unwrap()
                .success();
            assert!(ok, "keys reached the leader");
        };
        keys(&["-l", text]);
        std::thread::sleep(Duration::from_millis(300));
        // As a person would: Enter, and again if the text still sits in the input box (a busy
        // machine's TUI may take the Enter as part of the typing).
        let head: String = text.chars().take(24).collect();
        for _ in 0..4 {
            keys(&["Enter"]);
            std::thread::sleep(Duration::from_millis(1500));
            // The input box is the last prompt line on screen (earlier ones are history).
            let screen = self.screen();
            let typed = screen
                .lines()
                .map(str::trim_start)
                .rfind(|l| l.starts_with('❯') || l.starts_with('›'))
                .is_some_and(|l| l.contains(&head));
            if !typed {
                break;
            }
        }
    }
}

impl RealTeam {
    /// Trusts the workspace for both CLIs in the user's configuration (the leader's own dialogs
    /// are the operator's, and no test is about them).
    pub fn trust_workspace(&self) {
        let ws = self.env.workspace();
        let ws = ws.to_string_lossy();
        std::fs::write(
            self.env.home().join(".claude.json"),
            serde_json::json!({"hasCompletedOnboarding": true,
                               "projects": {ws.as_ref(): {"hasTrustDialogAccepted": true}}})
            .to_string(),
        )
        .unwrap();
        let config = self.env.home().join(".codex/config.toml");
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.push_str(&format!(
            "\n[projects.\"{ws}\"]\ntrust_level = \"trusted\"\n"
        ));
        std::fs::write(config, text).unwrap();
    }

    /// `team-agent PROVIDER` from outside tmux, with the operator's own credentials for the
    /// scripted model in the environment (Claude: a bearer token; Codex: a provider of its own in
    /// `~/.codex/config.toml`), and the session it started.
    pub fn launch_leader(&self, provider: &str) -> Leader {
        let url = self.model.url();
        let mut cmd = self.command();
        match provider {
            "claude" => {
                cmd.env("ANTHROPIC_BASE_URL", &url)
                    .env("ANTHROPIC_AUTH_TOKEN", "sk-ant-offline-leader")
                    .env("CLAUDE_CODE_MAX_RETRIES", "0");
            }
            _ => {
                let config = self.env.home().join(".codex/config.toml");
                let text = std::fs::read_to_string(&config).unwrap_or_default();
                std::fs::write(
                    &config,
                    format!(
                        "model = \"fake-model\"\nmodel_provider = \"scripted\"\n{text}\n[model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{url}/v1\"\nenv_key = \"SCRIPTED_KEY\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n"
                    ),
                )
                .unwrap();
                cmd.env("SCRIPTED_KEY", "sk-offline-leader");
            }
        }
        let out = cmd
            .args(["--json", provider])
            .output()
            .expect("the launcher runs");
        let launched = json(&out);
        assert!(
            out.status.success() && launched["started"] == true,
            "{launched}"
        );
        Leader {
            socket: PathBuf::from(launched["tmux_socket"].as_str().unwrap()),
            session: launched["session"].as_str().unwrap().to_string(),
        }
    }
}

/// The types of the last records of an agent's transcript (for failure messages).
fn transcript_end(agent: &Value) -> String {
    let Some(path) = agent["transcript_path"].as_str() else {
        return "(none)".into();
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|r| {
            let kind = |v: &Value| v.as_str().unwrap_or("").to_string();
            format!(
                "{} {} {}",
                kind(&r["timestamp"]),
                kind(&r["type"]),
                kind(&r["payload"]["type"]) + &kind(&r["subtype"])
            )
        })
        .collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Runs git in `dir` (a test workspace), asserting it succeeds.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A turn that does the task: a word, the team's `report_result`, a closing word.
pub fn reporting_scenario() -> Scenario {
    Scenario::from_json(
        &serde_json::json!({
            "rules": [
                {"id": "task", "when": {"user_contains": "REPORT-BACK"},
                 "reply": [{"text": "On it."},
                           {"mcp_tool": {"server": "team", "name": "report_result",
                                         "input": {"status": "success", "summary": "the scripted model did the task"}}}]},
                {"id": "reported", "when": {"after_tool": "report_result"},
                 "reply": [{"text": "Reported: {{tool_output}}"}]}
            ],
            "default": [{"text": "OK."}]
        })
        .to_string(),
    )
    .unwrap()
}

/// A reply streamed slowly (an event every 250 ms) to a message holding `TAKE-YOUR-TIME`: a turn
/// long enough to interrupt mid-stream.
pub fn slow_stream_scenario() -> Scenario {
    let long_text = "All work and no play makes a slow stream. ".repeat(60);
    Scenario::from_json(
        &serde_json::json!({"rules": [{"id": "slow", "when": {"user_contains": "TAKE-YOUR-TIME"},
                           "reply": [{"slow": {"event_delay_ms": 250}}, {"text": long_text}]}]})
        .to_string(),
    )
    .unwrap()
}
