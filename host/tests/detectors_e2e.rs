//! The coordinator's detectors, end to end with scripted workers: runtime approvals, abnormal
//! exits, API errors, a stuck worker and an all-idle team, each told to the leader once.

mod support;

use support::*;

fn inbox(env: &TeamEnv) -> String {
    std::fs::read_to_string(env.runtime().join("leader-inbox.log")).unwrap_or_default()
}

fn events(env: &TeamEnv, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.logs().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == name)
        .collect()
}

/// A starter team with quick ticks and a short stuck timeout.
fn quick_team(env: &TeamEnv) {
    assert!(env.run(&["init", "team"]).status.success());
    let team = env.workspace().join("team/TEAM.md");
    let text = std::fs::read_to_string(&team).unwrap().replace(
        "tick_interval_sec: 2",
        "tick_interval_sec: 0.5\nstuck_timeout_sec: 2",
    );
    std::fs::write(&team, text).unwrap();
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "{up}");
}

#[test]
fn approvals_of_the_teams_own_tools_are_answered_and_others_go_to_the_leader_once() {
    let env = TeamEnv::new();
    quick_team(&env);
    let session = env.session_of("alice");
    let (ok, sent) = env.json(&["send", "alice", "@scripted approval team.report_result"]);
    assert!(ok, "{sent}");
    assert!(
        wait_until(15, || events(&env, "approval.auto_answered").len() == 1),
        "not auto-answered"
    );
    let answered = std::fs::read_to_string(env.transcript(&session)).unwrap();
    assert!(
        answered.contains("\"choice\":\"Yes, and don't ask again for this session\""),
        "{answered}"
    );

    assert!(
        env.json(&["send", "alice", "@scripted approval shell.rm"])
            .0
    );
    assert!(wait_until(15, || inbox(&env)
        .contains("alice is waiting for an approval")));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        inbox(&env)
            .matches("alice is waiting for an approval")
            .count(),
        1,
        "told once"
    );
    let (ok, answered) = env.json(&["answer", "alice", "no"]);
    assert!(ok, "{answered}");
    assert!(wait_until(10, || std::fs::read_to_string(
        env.transcript(&session)
    )
    .unwrap()
    .contains("\"choice\":\"No\"")));
}

#[test]
fn an_abnormal_exit_is_told_to_the_leader_once_and_start_agent_resumes_it() {
    let env = TeamEnv::new();
    quick_team(&env);
    let session = env.session_of("bob");
    assert!(env.json(&["send", "bob", "@scripted exit 3"]).0);
    assert!(
        wait_until(15, || env.agent("bob")["status"] == "exited"
            && env.agent("bob")["exit_code"] == 3),
        "{}",
        env.agent("bob")
    );
    assert!(wait_until(10, || inbox(&env).contains("bob exited (code 3)")));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(inbox(&env).matches("bob exited").count(), 1);
    let (ok, started) = env.json(&["start-agent", "bob", "--force"]);
    assert!(ok && started["action"] == "resumed", "{started}");
    assert_eq!(env.agent("bob")["session_id"].as_str().unwrap(), session);
}

#[test]
fn api_errors_and_a_stuck_worker_are_seen() {
    let env = TeamEnv::new();
    quick_team(&env);
    assert!(
        env.json(&["send", "alice", "@scripted api-error overloaded"])
            .0
    );
    assert!(
        wait_until(15, || events(&env, "agent.api_error")
            .iter()
            .any(|e| e["class"] == "overloaded")),
        "no api_error event"
    );
    assert!(
        env.json(&["send", "bob", "@scripted freeze 8", "--task", "t-stuck"])
            .0
    );
    assert!(
        wait_until(20, || inbox(&env).contains("bob looks stuck")),
        "stuck worker not reported: {}",
        inbox(&env)
    );
}

#[test]
fn an_all_idle_team_gets_one_reminder_per_episode_and_acknowledge_idle_silences_it() {
    let env = TeamEnv::new();
    let quick = [("TEAM_AGENT_IDLE_DEBOUNCE_SECS", "1")];
    assert!(env.run(&["init", "team"]).status.success());
    let team = env.workspace().join("team/TEAM.md");
    std::fs::write(
        &team,
        std::fs::read_to_string(&team)
            .unwrap()
            .replace("tick_interval_sec: 2", "tick_interval_sec: 0.5"),
    )
    .unwrap();
    let up = env
        .command()
        .args(["up", "team", "--json"])
        .envs(quick)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(env.json(&["send", "alice", "@scripted sleep 1"]).0);
    assert!(
        wait_until(20, || inbox(&env).contains("All 2 workers are idle")),
        "no reminder: {}",
        inbox(&env)
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        inbox(&env).matches("All 2 workers are idle").count(),
        1,
        "one reminder per episode"
    );
    assert!(env.json(&["acknowledge-idle"]).0);
    assert!(env.json(&["send", "bob", "@scripted sleep 1"]).0);
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert_eq!(
        inbox(&env).matches("All 2 workers are idle").count(),
        1,
        "silenced after acknowledge-idle"
    );
    assert!(!events(&env, "idle_takeover.no_ping").is_empty());
}

#[test]
fn a_worker_someone_signs_in_long_after_its_start_is_seen_ready_and_takes_messages() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let dir = env.workspace().join("team");
    let team = dir.join("TEAM.md");
    let text = std::fs::read_to_string(&team).unwrap().replace(
        "tick_interval_sec: 2",
        "tick_interval_sec: 0.5\nstartup_answer_window_sec: 1",
    );
    std::fs::write(&team, text).unwrap();
    let role = dir.join("agents/alice.md");
    let text = std::fs::read_to_string(&role)
        .unwrap()
        .replace("  work_ms: 300\n", "  work_ms: 300\n  login_screen: true\n");
    std::fs::write(&role, text).unwrap();
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "{up}");
    let alice = env.agent("alice");
    assert_eq!(alice["status"], "blocked", "{alice}");
    assert!(
        alice["blocked_reason"]
            .as_str()
            .unwrap()
            .contains("not signed in"),
        "{alice}"
    );
    let (ok, sent) = env.json(&["send", "alice", "@scripted report success signed in"]);
    assert!(ok, "{sent}");
    // Past the window in which the coordinator answers dialogs, a person signs in.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(env.agent("alice")["status"], "blocked");
    let pane = alice["pane_id"].as_str().unwrap().to_string();
    assert!(
        env.tmux(&["send-keys", "-t", &pane, "Enter"])
            .status
            .success()
    );
    assert!(
        wait_until(15, || env.agent("alice")["status"] == "running"),
        "{}",
        env.agent("alice")
    );
    // What waited is delivered now.
    assert!(
        wait_until(20, || inbox(&env).contains("signed in")),
        "the queued message never reached alice: {}",
        env.agent("alice")
    );
}
