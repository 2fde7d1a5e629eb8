//! The real Codex and Claude Code CLIs, offline with dummy API keys: start (login pre-step, trust
//! dialogs), message delivery, session capture. Never in CI: it runs only when
//! `TEAM_AGENT_REAL_CLI_DIR` names an npm prefix holding them, e.g.
//!
//! ```sh
//! npm install --prefix /tmp/clis @openai/codex@0.169.0 @anthropic-ai/claude-code@2.1.330
//! TEAM_AGENT_REAL_CLI_DIR=/tmp/clis cargo test -p team-agent --test real_clis -- --nocapture
//! ```

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use support::*;

fn cli_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("TEAM_AGENT_REAL_CLI_DIR")?);
    let bin = dir.join("node_modules/.bin");
    (bin.join("codex").exists() && bin.join("claude").exists()).then_some(bin)
}

#[test]
fn the_real_codex_and_claude_start_take_a_message_and_are_captured() {
    let Some(bin) = cli_dir() else {
        eprintln!(
            "skipped: set TEAM_AGENT_REAL_CLI_DIR to an npm prefix with @openai/codex and @anthropic-ai/claude-code"
        );
        return;
    };
    let env = TeamEnv::new();
    // Claude's first-run connectivity check fails offline; a finished onboarding skips it.
    std::fs::write(
        env.home().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    // A git repository, so both CLIs ask whether to trust the folder.
    assert!(
        std::process::Command::new("git")
            .arg("init")
            .arg("-q")
            .current_dir(env.workspace())
            .status()
            .unwrap()
            .success()
    );
    let team = env.workspace().join("real");
    std::fs::create_dir_all(team.join("agents")).unwrap();
    std::fs::write(
        team.join("TEAM.md"),
        "---\nname: real\nprovider: claude\ntick_interval_sec: 1\n---\n",
    )
    .unwrap();
    std::fs::write(
        team.join("agents/cx.md"),
        "---\nname: cx\nrole: worker\nprovider: codex\nprofile: openai\n---\nYou are cx.\n",
    )
    .unwrap();
    std::fs::write(
        team.join("agents/cl.md"),
        "---\nname: cl\nrole: worker\nprovider: claude\nprofile: anthropic\n---\nYou are cl.\n",
    )
    .unwrap();
    let profiles = env.workspace().join(".team/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    for (name, line) in [
        ("openai", "OPENAI_API_KEY=sk-dummy-offline\n"),
        ("anthropic", "ANTHROPIC_API_KEY=sk-ant-dummy-offline\n"),
    ] {
        let path = profiles.join(format!("{name}.env"));
        std::fs::write(&path, line).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        bundled_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        let out = env
            .command()
            .env("PATH", &path)
            .env("DISABLE_AUTOUPDATER", "1")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        (out.status.success(), json(&out))
    };
    let (ok, up) = run(&["up", "real"]);
    eprintln!("up: {up}");
    assert!(ok, "{up}");
    for agent in up["agents"].as_array().unwrap() {
        assert_eq!(agent["status"], "running", "{agent}");
    }
    for id in ["cx", "cl"] {
        let (ok, sent) = run(&["send", id, "Say hello."]);
        eprintln!("send {id}: {sent}");
        assert!(ok && sent["status"] == "submitted", "{sent}");
    }
    assert!(
        wait_until(60, || {
            let (_, status) = run(&["status"]);
            status["agents"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["session_id"].is_string())
        }),
        "sessions not captured: {}",
        run(&["status"]).1
    );
    assert!(run(&["shutdown"]).0);
}
