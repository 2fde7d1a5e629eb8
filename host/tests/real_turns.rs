//! The real Codex (0.169.0) and Claude Code (2.1.330) CLIs as workers doing real turns against
//! the scripted model (`tests/fake-model`): getting a task, calling the team's tools, reporting,
//! going idle. Never the network (see `real/mod.rs`). The CLIs come from
//! `scripts/install-real-clis.sh`; without them each test says loudly that it did not run
//! (`TEAM_AGENT_REQUIRE_REAL_CLIS=1` makes that a failure, as in CI).
//!
//! ```sh
//! scripts/install-real-clis.sh
//! cargo build --workspace && cargo test -p team-agent --test real_turns -- --nocapture
//! ```

mod real;
mod support;

use serde_json::json;
use team_agent_fake_model::Scenario;

use real::{CODEX_ANNOUNCEMENT, RealTeam, Worker};
use support::{LeaderPane, wait_until};

/// A turn that does the task: a word, the team's `report_result`, a closing word.
fn reporting_scenario() -> Scenario {
    Scenario::from_json(
        &json!({
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

#[test]
fn a_mixed_team_of_real_clis_takes_tasks_reports_through_mcp_and_goes_idle() {
    let Some(mut team) = RealTeam::new(
        "a_mixed_team_of_real_clis_takes_tasks_reports_through_mcp_and_goes_idle",
        reporting_scenario(),
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    // No leader pane yet: the results wait in the leader's inbox.
    for (agent, task) in [("cx", "t1-cx"), ("cl", "t1-cl")] {
        team.send(
            agent,
            &format!("Please do {task} and REPORT-BACK."),
            Some(task),
        );
    }
    for (agent, task) in [("cx", "t1-cx"), ("cl", "t1-cl")] {
        let (ok, waited) = team.json(&["wait", "--task", task, "--timeout", "90"]);
        assert!(ok, "no result for {task}: {waited}\n{}", team.screens());
        assert_eq!(waited["envelope"]["agent_id"], agent, "{waited}");
        assert_eq!(waited["envelope"]["status"], "success");
        assert_eq!(
            waited["envelope"]["summary"],
            "the scripted model did the task"
        );
    }
    let inbox = team.env.workspace().join(".team/runtime/leader-inbox.log");
    let told = |task: &str| {
        std::fs::read_to_string(&inbox)
            .unwrap_or_default()
            .matches(&format!("Task {task} reported success"))
            .count()
    };
    assert!(
        wait_until(20, || told("t1-cx") >= 1 && told("t1-cl") >= 1),
        "the inbox never got both results"
    );
    // Both turns end: idle on screen and, from their own transcripts, idle turns.
    for agent in ["cx", "cl"] {
        team.wait_agent(agent, 30, |a| {
            a["activity"] == "idle" && a["turn"]["state"] == "idle" && a["session_id"].is_string()
        });
    }
    // With a leader pane bound, each result is pasted there exactly once.
    let leader = LeaderPane::start(&team.env);
    let (ok, bound) = team.json(&[
        "attach-leader",
        "--pane",
        &leader.pane,
        "--socket",
        leader.socket.to_str().unwrap(),
    ]);
    assert!(ok, "{bound}");
    // What waited in the inbox is handed to the new pane first.
    assert!(
        wait_until(20, || leader.notifications() >= 2),
        "the waiting results never reached the pane"
    );
    let before = leader.notifications();
    for (agent, task) in [("cx", "t2-cx"), ("cl", "t2-cl")] {
        team.send(
            agent,
            &format!("Now {task}, REPORT-BACK again."),
            Some(task),
        );
    }
    for task in ["t2-cx", "t2-cl"] {
        let (ok, waited) = team.json(&["wait", "--task", task, "--timeout", "90"]);
        assert!(ok, "no result for {task}: {waited}\n{}", team.screens());
    }
    assert!(
        wait_until(20, || leader.notifications() >= before + 2),
        "the leader pane did not get both new results: {}",
        std::fs::read_to_string(&leader.file).unwrap_or_default()
    );
    std::thread::sleep(std::time::Duration::from_secs(3)); // several coordinator ticks
    let pasted = std::fs::read_to_string(&leader.file).unwrap_or_default();
    for task in ["t1-cx", "t1-cl", "t2-cx", "t2-cl"] {
        assert_eq!(
            pasted
                .matches(&format!("Task {task} reported success"))
                .count(),
            1,
            "{task} was told once in the pane: {pasted}"
        );
    }
    // Every model turn the CLIs asked for was answered by the scenario's rules.
    for api in ["responses", "anthropic"] {
        let turns = team.turns_of(api);
        assert!(
            turns.iter().filter(|r| r.rule_id() == Some("task")).count() >= 2,
            "{api}: {:?}",
            turns.iter().map(|r| r.rule_id()).collect::<Vec<_>>()
        );
    }
    team.assert_no_egress();
}
