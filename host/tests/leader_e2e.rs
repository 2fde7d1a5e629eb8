//! The leader's side on real tmux: `team-agent claude` outside and inside tmux with a stand-in
//! `claude`, unknown commands, `install-skill`, and the ownership of a team (refusal from a foreign
//! pane, `takeover`, `claim-leader`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::*;

/// A `claude` that logs its arguments and team-agent variables, then waits.
fn stand_in_claude(env: &TeamEnv) -> (PathBuf, PathBuf) {
    let bin = env.scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = env.scratch.path().join("claude-calls.txt");
    let script = format!(
        "#!/bin/bash\n{{ echo \"ARGS $*\"; env | grep -E '^(TEAM_AGENT_|LEADER_PROBE=)' ; }} >> '{}'\nexec sleep 300\n",
        calls.display()
    );
    let path = bin.join("claude");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls)
}

fn with_path(cmd: &mut Command, bin: &Path) {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    cmd.env("PATH", path);
}

fn launch(env: &TeamEnv, bin: &Path, args: &[&str]) -> Output {
    let mut cmd = env.command();
    with_path(&mut cmd, bin);
    cmd.env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("LEADER_PROBE", "carried")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn calls(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_default()
}

#[test]
fn outside_tmux_the_leader_starts_once_in_a_named_session_with_its_environment() {
    let env = TeamEnv::new();
    let (bin, calls_file) = stand_in_claude(&env);
    let first = launch(&env, &bin, &["--json", "claude", "--foo"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let first = json(&first);
    assert_eq!(first["started"], true, "{first}");
    let session = first["session"].as_str().unwrap().to_string();
    assert!(
        session.starts_with("team-agent-leader-claude-ws-"),
        "{session}"
    );
    assert!(wait_until(10, || calls(&calls_file).contains("ARGS")));

    let second = launch(&env, &bin, &["--json", "claude", "--foo"]);
    let second = json(&second);
    assert_eq!(second["started"], false, "{second}");
    assert_eq!(second["session"], session.as_str());
    assert!(
        second["attach_command"]
            .as_str()
            .unwrap()
            .contains(&session)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));

    let log = calls(&calls_file);
    assert_eq!(log.matches("ARGS").count(), 1, "started twice:\n{log}");
    let args = log.lines().find(|l| l.starts_with("ARGS")).unwrap();
    assert!(args.starts_with("ARGS --foo --mcp-config "), "{args}");
    let mcp = env.workspace().join(".team/runtime/mcp/leader.json");
    assert!(args.contains(mcp.to_str().unwrap()), "{args}");
    assert!(args.contains("--append-system-prompt You lead a team"));
    let ws = env.workspace().canonicalize().unwrap();
    assert!(log.contains(&format!("TEAM_AGENT_WORKSPACE={}", ws.display())));
    assert!(log.contains("TEAM_AGENT_LEADER_PROVIDER=claude"));
    assert!(
        log.contains("LEADER_PROBE=carried"),
        "the caller's environment reaches the leader"
    );
    assert!(!log.contains("TEAM_AGENT_ID="));

    let config: Value = serde_json::from_slice(&std::fs::read(&mcp).unwrap()).unwrap();
    let server = &config["mcpServers"]["team"];
    assert_eq!(server["args"][0], "mcp-server");
    assert!(server["env"].get("TEAM_AGENT_ID").is_none());
    assert!(
        server["env"]["TEAM_AGENT_LEADER_PANE"]
            .as_str()
            .unwrap()
            .starts_with('%')
    );
    let socket = first["tmux_socket"].as_str().unwrap();
    let listed = Command::new("tmux")
        .args(["-S", socket, "list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    assert_eq!(stdout(&listed).trim(), session);
}

#[test]
fn inside_tmux_the_leader_becomes_the_current_panes_program() {
    let env = TeamEnv::new();
    let (bin, calls_file) = stand_in_claude(&env);
    // Under the test's tmux directory, where the environment's cleanup ends every server.
    let socket = env.tmux_dir().join("op").join("operator");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let started = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "op",
            "-x",
            "120",
            "-y",
            "40",
        ])
        // tmux gives a new session the PATH of the client that asks for it.
        .env("PATH", &path)
        .args(["-e", &format!("HOME={}", env.home().display())])
        .args([
            "-e",
            &format!("TEAM_AGENT_PLUGIN_PATH={}", bundled_dir().display()),
        ])
        .args(["-c", env.workspace().to_str().unwrap(), "--"])
        .arg(team_agent_bin())
        .args(["claude", "--bar", "positional"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(wait_until(10, || calls(&calls_file).contains("ARGS")));
    let log = calls(&calls_file);
    assert!(
        log.starts_with("ARGS --bar positional --mcp-config"),
        "{log}"
    );
    assert!(log.contains("TEAM_AGENT_LEADER_PROVIDER=claude"));
    // The launcher became claude, which became `sleep`: the pane's own process, not a child.
    let pane_pid = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(["display", "-p", "-t", "op", "#{pane_pid}"])
        .output()
        .unwrap();
    let pid = stdout(&pane_pid).trim().to_string();
    assert!(wait_until(5, || std::fs::read(format!(
        "/proc/{pid}/cmdline"
    ))
    .is_ok_and(|c| c.starts_with(b"sleep\x00300"))));
    let config: Value = serde_json::from_slice(
        &std::fs::read(env.workspace().join(".team/runtime/mcp/leader.json")).unwrap(),
    )
    .unwrap();
    let pane = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(["display", "-p", "-t", "op", "#{pane_id}"])
        .output()
        .unwrap();
    assert_eq!(
        config["mcpServers"]["team"]["env"]["TEAM_AGENT_LEADER_PANE"],
        stdout(&pane).trim()
    );
}

#[test]
fn an_unknown_command_or_a_missing_cli_is_a_clear_error() {
    let env = TeamEnv::new();
    let unknown = env.run(&["frobnicate", "--json"]);
    assert!(!unknown.status.success());
    let text = stdout(&unknown) + &stderr(&unknown);
    assert!(text.contains("unknown command 'frobnicate'"), "{text}");
    assert!(text.contains("team-agent claude"), "{text}");

    let mut cmd = env.command();
    cmd.env("PATH", "/nonexistent").args(["--json", "codex"]);
    let missing = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(!missing.status.success());
    let answer = json(&missing);
    assert_eq!(answer["reason"], "provider_cli_missing", "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("'codex'"));
}

#[test]
fn install_skill_writes_each_clis_skill_once_and_dry_run_writes_nothing() {
    let env = TeamEnv::new();
    let claude = env.home().join(".claude/skills/team-agent/SKILL.md");
    let codex = env.home().join(".codex/skills/team-agent/SKILL.md");

    let (ok, dry) = env.json(&["install-skill", "--dry-run"]);
    assert!(ok, "{dry}");
    assert_eq!(dry["files"][0]["action"], "would_create");
    assert!(!claude.exists() && !codex.exists());
    assert!(
        dry["content"]
            .as_str()
            .unwrap()
            .starts_with("---\nname: team-agent\n")
    );

    let (ok, first) = env.json(&["install-skill"]);
    assert!(ok, "{first}");
    let actions: Vec<&str> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "created"]);
    let text = std::fs::read_to_string(&claude).unwrap();
    assert!(text.contains("description: "));
    assert!(text.contains("team-agent up DIR"));
    assert_eq!(text, std::fs::read_to_string(&codex).unwrap());

    let (_, again) = env.json(&["install-skill", "--target", "codex"]);
    assert_eq!(again["files"].as_array().unwrap().len(), 1);
    assert_eq!(again["files"][0]["target"], "codex");
    assert_eq!(again["files"][0]["action"], "unchanged");

    std::fs::write(&claude, "old text").unwrap();
    let (_, updated) = env.json(&["install-skill", "--target", "claude"]);
    assert_eq!(updated["files"][0]["action"], "updated");
    assert_eq!(std::fs::read_to_string(&claude).unwrap(), text);
}

#[test]
fn a_foreign_pane_is_refused_until_it_takes_over_and_a_gone_owner_can_be_claimed() {
    let env = TeamEnv::new();
    let panes = Panes::new(&env);
    assert!(env.run(&["init", "team"]).status.success());
    let (ok, up) = panes.run(&env, &panes.a, &["up", "team"]);
    assert!(ok, "{up}");
    assert_eq!(up["leader"]["pane_id"], panes.a.as_str());

    // From pane B the team's owner is alive elsewhere: refused, with the command to run.
    let (ok, refused) = panes.run(&env, &panes.b, &["send", "alice", "hi"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "team_owner_mismatch", "{refused}");
    assert!(
        refused["action"]
            .as_str()
            .unwrap()
            .contains("takeover --confirm")
    );
    let (ok, refused) = panes.run(&env, &panes.b, &["shutdown"]);
    assert!(!ok && refused["reason"] == "team_owner_mismatch");
    // Reading is never refused; nor is the owner, nor a script outside tmux.
    assert!(panes.run(&env, &panes.b, &["status"]).0);
    assert!(
        panes
            .run(&env, &panes.a, &["send", "alice", "from the owner"])
            .0
    );
    assert!(env.json(&["send", "alice", "from a script"]).0);
    // A claim is refused while the owner lives; a takeover needs --confirm.
    let (ok, claim) = panes.run(&env, &panes.b, &["claim-leader", "--confirm"]);
    assert!(!ok && claim["reason"] == "previous_owner_alive", "{claim}");
    let (ok, take) = panes.run(&env, &panes.b, &["takeover"]);
    assert!(!ok && take["reason"] == "confirm_required", "{take}");

    let (ok, take) = panes.run(&env, &panes.b, &["takeover", "--confirm"]);
    assert!(ok, "{take}");
    assert_eq!(take["owner"]["pane_id"], panes.b.as_str());
    assert_eq!(take["owner"]["epoch"], 1);
    assert_eq!(env.status()["leader"]["pane_id"], panes.b.as_str());
    let (ok, refused) = panes.run(&env, &panes.a, &["send", "alice", "hi"]);
    assert!(!ok && refused["reason"] == "team_owner_mismatch");

    // The owner's pane goes away: A is told to claim, a dry run changes nothing, --confirm does.
    panes.kill(&panes.b);
    let (ok, refused) = panes.run(&env, &panes.a, &["send", "alice", "hi"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "team_owner_gone", "{refused}");
    assert!(
        refused["action"]
            .as_str()
            .unwrap()
            .contains("claim-leader --confirm")
    );
    let (ok, dry) = panes.run(&env, &panes.a, &["claim-leader"]);
    assert!(ok && dry["applied"] == false, "{dry}");
    assert_eq!(env.status()["leader"]["pane_id"], panes.b.as_str());
    let (ok, claim) = panes.run(&env, &panes.a, &["claim-leader", "--confirm"]);
    assert!(ok, "{claim}");
    assert_eq!(claim["owner"]["epoch"], 2);
    assert_eq!(claim["owner"]["claimed_via"], "claim-leader");
    assert!(panes.run(&env, &panes.a, &["send", "alice", "hi again"]).0);

    // A worker is never an owner.
    let out = env
        .command()
        .env("TMUX", format!("{},1,0", panes.socket.display()))
        .env("TMUX_PANE", &panes.a)
        .env("TEAM_AGENT_ID", "alice")
        .args(["claim-leader", "--confirm", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["reason"], "worker_cannot_lead");

    let events = std::fs::read_to_string(env.logs().join("events.jsonl")).unwrap_or_default();
    assert!(events.contains("owner.takeover") && events.contains("owner.claimed"));
    let _ = Command::new("tmux")
        .arg("-S")
        .arg(&panes.socket)
        .arg("kill-server")
        .output();
}
