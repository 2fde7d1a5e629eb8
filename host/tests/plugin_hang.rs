//! A plugin call that never returns: the command or the coordinator that made it gives up after
//! the method's time budget, marks the plugin faulted, and goes on.

mod support;

use support::*;

const BUDGET_MS: &str = "1500";

fn plugin_path() -> String {
    format!(
        "{}:{}",
        broken_plugins_dir().display(),
        bundled_dir().display()
    )
}

#[test]
fn a_command_whose_plugin_hangs_fails_after_the_budget_naming_the_method() {
    let scratch = Scratch::new();
    let screen = scratch.path().join("screen.txt");
    std::fs::write(&screen, "hangs> \n").unwrap();
    let out = scratch
        .command(&plugin_path())
        .env("TEAM_AGENT_PLUGIN_BUDGET_MS", BUDGET_MS)
        .args(["plugins", "probe", "hangs", "--screen"])
        .arg(&screen)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("gave no answer to classify_screen in 1500 ms"),
        "{said}"
    );
}

#[test]
fn a_hanging_provider_is_faulted_and_the_coordinator_goes_on_with_the_others() {
    let mut env = TeamEnv::new();
    env.env = vec![
        ("TEAM_AGENT_PLUGIN_PATH".into(), plugin_path()),
        ("TEAM_AGENT_PLUGIN_BUDGET_MS".into(), BUDGET_MS.into()),
    ];
    assert!(env.run(&["init", "team"]).status.success());
    let dir = env.workspace().join("team");
    let team = std::fs::read_to_string(dir.join("TEAM.md"))
        .unwrap()
        .replace("tick_interval_sec: 2", "tick_interval_sec: 0.5");
    std::fs::write(dir.join("TEAM.md"), team).unwrap();
    let bob = std::fs::read_to_string(dir.join("agents/bob.md"))
        .unwrap()
        .replace("provider: scripted\n", "provider: hangs\n");
    std::fs::write(dir.join("agents/bob.md"), bob).unwrap();
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "{up}");

    // bob's screen is read once: the call hangs, and the coordinator gives up on it.
    let mut bob = serde_json::Value::Null;
    assert!(
        wait_until(30, || {
            bob = env.agent("bob");
            bob["provider_fault"].is_string()
        }),
        "bob's status never said its plugin is faulted: {bob}"
    );
    let fault = bob["provider_fault"].as_str().unwrap();
    assert!(
        fault.contains("classify_screen gave no answer in 1500 ms"),
        "{fault}"
    );
    let faulted = std::fs::read_to_string(env.logs().join("events.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"plugin.faulted\""))
        .count();
    assert_eq!(faulted, 1, "one fault, one event");
    assert!(wait_until(10, || {
        std::fs::read_to_string(env.runtime().join("leader-inbox.log"))
            .unwrap_or_default()
            .contains("bob's provider plugin 'hangs' is faulted")
    }));

    // The coordinator still ticks: alice takes a message and goes back to idle.
    assert!(wait_until(20, || env.agent("alice")["activity"] == "idle"));
    let (ok, sent) = env.json(&["send", "alice", "@scripted sleep 2"]);
    assert!(ok, "{sent}");
    assert!(
        wait_until(20, || env.agent("alice")["activity"] == "working"),
        "{}",
        env.agent("alice")
    );
    assert!(
        wait_until(20, || env.agent("alice")["activity"] == "idle"),
        "{}",
        env.agent("alice")
    );
    let (ok, shutdown) = env.json(&["shutdown"]);
    assert!(ok, "{shutdown}");
}
