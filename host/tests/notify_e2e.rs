//! Notifications when a human is needed, end to end with scripted workers and the command sink
//! (`notify: {command: [sh, -c, "cat >> FILE"]}`): an approval passed to the leader, a blocked
//! worker, a stuck worker, an API error episode and an all-idle team each reach the command
//! once, as JSON; a second notice of a kind for an agent within a minute is held back.

mod support;

use serde_json::Value;
use support::*;

fn events(env: &TeamEnv, name: &str) -> Vec<Value> {
    std::fs::read_to_string(env.logs().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == name)
        .collect()
}

/// What the notify command got: one JSON object a line.
fn notices(env: &TeamEnv) -> Vec<Value> {
    std::fs::read_to_string(env.workspace().join("notices.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_kind(env: &TeamEnv, kind: &str, agent: Option<&str>) -> Vec<Value> {
    notices(env)
        .into_iter()
        .filter(|n| n["kind"] == kind && n["agent"].as_str() == agent)
        .collect()
}

/// The starter team, quick, with its notices appended to WORKSPACE/notices.jsonl; `extra` goes
/// into TEAM.md's front matter.
fn team_with_command_sink(env: &TeamEnv, extra: &str) {
    assert!(env.run(&["init", "team"]).status.success());
    let team = env.workspace().join("team/TEAM.md");
    let sink = env.workspace().join("notices.jsonl");
    let text = std::fs::read_to_string(&team).unwrap().replace(
        "tick_interval_sec: 2",
        &format!(
            "tick_interval_sec: 0.5\nnotify: {{command: [sh, -c, \"cat >> '{}'\"]}}\n{extra}",
            sink.display()
        ),
    );
    std::fs::write(&team, text).unwrap();
}

#[test]
fn an_approval_for_the_leader_and_a_blocked_worker_reach_the_command_once_each() {
    let env = TeamEnv::new();
    team_with_command_sink(&env, "");
    let role = env.workspace().join("team/agents/bob.md");
    std::fs::write(
        &role,
        std::fs::read_to_string(&role).unwrap().replace(
            "provider: scripted\n",
            "provider: scripted\nprovider_options:\n  login_screen: true\n",
        ),
    )
    .unwrap();
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "{up}");
    assert_eq!(env.agent("bob")["status"], "blocked");
    assert!(
        wait_until(15, || of_kind(&env, "blocked", Some("bob")).len() == 1),
        "no blocked notice: {:?}",
        notices(&env)
    );
    let blocked = &of_kind(&env, "blocked", Some("bob"))[0];
    assert_eq!(blocked["event"], "team_agent.human_needed");
    assert_eq!(blocked["team"], "team");
    assert!(
        blocked["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("not signed in"),
        "{blocked}"
    );

    assert!(
        env.json(&["send", "alice", "@scripted approval shell.rm"])
            .0
    );
    assert!(
        wait_until(15, || of_kind(&env, "approval", Some("alice")).len() == 1),
        "no approval notice: {:?}",
        notices(&env)
    );
    let approval = &of_kind(&env, "approval", Some("alice"))[0];
    assert!(
        approval["detail"]["prompt"]
            .as_str()
            .unwrap()
            .contains("shell.rm"),
        "{approval}"
    );
    assert!(
        approval["body"]
            .as_str()
            .unwrap()
            .contains("team-agent answer alice"),
        "{approval}"
    );
    assert!(wait_until(10, || !events(&env, "notify.sent").is_empty()));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        of_kind(&env, "approval", Some("alice")).len(),
        1,
        "told once per prompt"
    );
    assert_eq!(
        of_kind(&env, "blocked", Some("bob")).len(),
        1,
        "told once per episode"
    );

    // A second prompt within the minute: the leader hears of it, the operator's sink does not.
    assert!(env.json(&["answer", "alice", "no"]).0);
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.exec"])
            .0
    );
    assert!(
        wait_until(20, || events(&env, "notify.rate_limited")
            .iter()
            .any(|e| e["kind"] == "approval" && e["agent_id"] == "alice")),
        "the second approval notice was not held back: {:?}",
        events(&env, "approval.needs_leader")
    );
    assert_eq!(of_kind(&env, "approval", Some("alice")).len(), 1);
}

#[test]
fn stuck_api_errors_and_an_all_idle_team_reach_the_command() {
    let env = TeamEnv::new();
    team_with_command_sink(&env, "stuck_timeout_sec: 2");
    let quick = [
        ("TEAM_AGENT_IDLE_DEBOUNCE_SECS", "1"),
        ("TEAM_AGENT_API_ERROR_GRACE_SECS", "1"),
    ];
    let up = env
        .command()
        .args(["up", "team", "--json"])
        .envs(quick)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        env.json(&["send", "bob", "@scripted freeze 6", "--task", "t-stuck"])
            .0
    );
    assert!(
        wait_until(20, || of_kind(&env, "stuck", Some("bob")).len() == 1),
        "no stuck notice: {:?}",
        notices(&env)
    );
    assert!(
        env.json(&["send", "alice", "@scripted api-error overloaded"])
            .0
    );
    assert!(
        wait_until(20, || of_kind(&env, "api_error", Some("alice")).len() == 1),
        "no api_error notice: {:?} {:?}",
        notices(&env),
        events(&env, "agent.api_error")
    );
    assert_eq!(
        of_kind(&env, "api_error", Some("alice"))[0]["detail"]["class"],
        "overloaded"
    );
    // Both end their episodes; once every worker is idle the operator hears of it.
    assert!(env.json(&["interrupt", "alice"]).0);
    assert!(
        wait_until(40, || !of_kind(&env, "all_idle", None).is_empty()),
        "no all-idle notice: {:?} {}",
        notices(&env),
        env.status()
    );
    let idle = &of_kind(&env, "all_idle", None)[0];
    assert_eq!(idle["detail"]["workers"], 2, "{idle}");
    assert_eq!(
        of_kind(&env, "stuck", Some("bob")).len(),
        1,
        "told once per episode"
    );
}

#[test]
fn a_failing_notify_command_is_an_event_naming_it_and_none_sends_nothing() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let team = env.workspace().join("team/TEAM.md");
    let text = std::fs::read_to_string(&team).unwrap().replace(
        "tick_interval_sec: 2",
        "tick_interval_sec: 0.5\nnotify: {command: [sh, -c, \"echo hook refused >&2; exit 4\"]}",
    );
    std::fs::write(&team, &text).unwrap();
    assert!(env.json(&["up", "team"]).0);
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.rm"])
            .0
    );
    assert!(
        wait_until(15, || !events(&env, "notify.failed").is_empty()),
        "no notify.failed event"
    );
    let failed = &events(&env, "notify.failed")[0];
    assert!(
        failed["error"].as_str().unwrap().contains("hook refused"),
        "{failed}"
    );
    assert_eq!(failed["sink"], "command");
    assert!(env.json(&["answer", "alice", "no"]).0);
    assert!(env.json(&["shutdown"]).0);

    // `none` sends nothing, even where a session bus is announced; without a setting such a bus
    // means the desktop (here a bus that is not there, so the failure names the desktop).
    let bus = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")];
    let command = "notify: {command: [sh, -c, \"echo hook refused >&2; exit 4\"]}";
    std::fs::write(&team, text.replace(command, "notify: none")).unwrap();
    let up = env
        .command()
        .args(["up", "team", "--fresh", "--json"])
        .envs(bus)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    let before = events(&env, "notify.failed").len();
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.exec"])
            .0
    );
    assert!(wait_until(15, || events(&env, "approval.needs_leader")
        .len()
        >= 2));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        events(&env, "notify.failed").len(),
        before,
        "none sent something"
    );
    assert!(events(&env, "notify.sent").is_empty());
    assert!(env.json(&["answer", "alice", "no"]).0);
    assert!(env.json(&["shutdown"]).0);

    std::fs::write(&team, text.replace(command, "")).unwrap();
    let up = env
        .command()
        .args(["up", "team", "--fresh", "--json"])
        .envs(bus)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.mv"])
            .0
    );
    assert!(
        wait_until(20, || events(&env, "notify.failed")
            .iter()
            .any(|e| e["sink"] == "desktop")),
        "the default with a session bus is not the desktop: {:?}",
        events(&env, "notify.failed")
    );
}
