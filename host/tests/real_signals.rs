//! Status from the real CLIs' own signals (issue 14): the real Codex (0.169.0) and Claude Code
//! (2.1.330) as workers, against the scripted model (`tests/fake-model`), never the network
//! (see `real/mod.rs`). Their hooks drive the status through a turn with a slow tool and an
//! approval, a prompt hook marks the message consumed, a slow tool is `in_tool` and not stuck,
//! a frozen stream is stuck, a message whose worker's input is held is bounced to the leader,
//! and a usage limit is `api_error` of class `quota` with its reset time.
//!
//! ```sh
//! scripts/install-real-clis.sh
//! cargo build --workspace && cargo test -p team-agent --test real_signals -- --nocapture
//! ```

mod real;
mod support;

use serde_json::json;
use team_agent_fake_model::Scenario;

use real::{CODEX_ANNOUNCEMENT, RealTeam, Worker};
use support::wait_until;

fn inbox(team: &RealTeam) -> String {
    std::fs::read_to_string(team.env.runtime().join("leader-inbox.log")).unwrap_or_default()
}

/// Sends `text` to `agent`: submitted now, or queued for the coordinator (a CLI's screen can
/// show a spinner for a moment when it looked idle); the message's id.
fn send(team: &RealTeam, agent: &str, text: &str) -> String {
    let (ok, sent) = team.json(&["send", agent, text]);
    assert!(
        ok && sent["status"]
            .as_str()
            .is_some_and(|s| s == "submitted" || s.starts_with("queued_")),
        "send to {agent}: {sent}\n{}",
        team.screens()
    );
    sent["message_id"].as_str().unwrap().to_string()
}

fn slow_command(agent: &str) -> String {
    format!("sleep 8 && echo built-{agent}")
}

#[test]
fn hooks_drive_status_through_a_slow_tool_and_an_approval_and_take_the_receipt() {
    let mut rules = Vec::new();
    for agent in ["cx", "cl"] {
        rules.push(json!({"id": format!("slow-{agent}"), "when": {"user_contains": format!("SLOW-TOOL-{agent}")},
            "reply": [{"text": "Building."}, {"shell": {"command": slow_command(agent)}}]}));
        rules.push(json!({"id": format!("ask-{agent}"), "when": {"user_contains": format!("ASK-{agent}")},
            "reply": [{"text": "Writing it."}, {"shell": {"command": format!("echo asked-{agent} > asked-{agent}.txt")}}]}));
    }
    rules.push(json!({"id": "after", "when": {"after_tool": ""},
                      "reply": [{"text": "Done: {{tool_output}}"}]}));
    let scenario = Scenario::from_json(&json!({"rules": rules}).to_string()).unwrap();
    let Some(mut team) = RealTeam::new(
        "hooks_drive_status_through_a_slow_tool_and_an_approval_and_take_the_receipt",
        scenario,
        &[
            Worker::codex("cx").with("auto_approve: [\"sleep 8 && echo built-cx\"]\n"),
            Worker::claude("cl").with("auto_approve: [\"sleep 8 && echo built-cl\"]\n"),
        ],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    // A stuck timeout the slow tool outlasts: in a tool whose process runs, it is slow.
    team.team_settings("stuck_timeout_sec: 4\nlong_tool_notice_sec: 3\n");
    team.up();
    for agent in ["cx", "cl"] {
        team.wait_agent(agent, 60, |a| a["activity"] == "idle");
        let id = send(&team, agent, &format!("SLOW-TOOL-{agent}"));
        let row = team.wait_agent(agent, 90, |a| a["activity"] == "in_tool");
        assert_eq!(row["activity_source"], "hook", "{agent}: {row}");
        assert!(row["activity_detail"]["tool"].is_string(), "{agent}: {row}");
        // The CLI's prompt hook took the receipt.
        assert!(
            wait_until(20, || team
                .events()
                .iter()
                .any(|e| e["event"] == "send.consumed"
                    && e["message_id"] == id.as_str()
                    && e["source"] == "hook")),
            "{agent}: no receipt from its prompt hook for {id}: {:?}",
            team.events_of("agent.hook", agent)
        );
        assert!(
            wait_until(20, || !team
                .events_of("coordinator.long_tool", agent)
                .is_empty()),
            "{agent}: the leader was not told of the long tool\n{}",
            team.screens()
        );
        let long = &team.events_of("coordinator.long_tool", agent)[0];
        assert!(
            long["processes"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p.as_str().unwrap_or("").contains("sleep"))),
            "{agent}: {long}"
        );
        let row = team.wait_agent(agent, 60, |a| a["activity"] == "idle");
        assert_eq!(row["activity_source"], "hook", "{agent}: {row}");
        assert!(
            team.events_of("coordinator.agent_stuck", agent).is_empty(),
            "{agent}: a slow tool is not stuck"
        );
        let kinds: Vec<String> = team
            .events_of("agent.hook", agent)
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("").to_string())
            .collect();
        for kind in [
            "prompt_submitted",
            "tool_started",
            "tool_finished",
            "turn_ended",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{agent}: no {kind} in {kinds:?}"
            );
        }

        // An approval the policy does not allow: the worker waits, the leader answers.
        send(&team, agent, &format!("ASK-{agent}"));
        team.wait_agent(agent, 60, |a| a["activity"] == "awaiting_approval");
        let (ok, answered) = team.json(&["answer", agent, "yes"]);
        assert!(ok, "{answered}");
        let row = team.wait_agent(agent, 60, |a| a["activity"] == "idle");
        assert_eq!(row["activity_source"], "hook", "{agent}: {row}");
        assert!(
            team.env
                .workspace()
                .join(format!("asked-{agent}.txt"))
                .exists()
        );
    }
    team.assert_no_egress();
}

#[test]
fn a_frozen_stream_is_stuck_and_a_held_input_bounces_the_message() {
    let mut rules = Vec::new();
    for agent in ["cx", "cl"] {
        rules.push(json!({"id": format!("freeze-{agent}"), "when": {"user_contains": format!("FREEZE-{agent}")},
            "reply": [{"text": "Thinking"}, {"slow": {"event_delay_ms": 120_000}}, {"text": " about it for ever."}]}));
    }
    let scenario =
        Scenario::from_json(&json!({"rules": rules, "default": [{"text": "OK."}]}).to_string())
            .unwrap();
    let Some(mut team) = RealTeam::new(
        "a_frozen_stream_is_stuck_and_a_held_input_bounces_the_message",
        scenario,
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.team_settings("stuck_timeout_sec: 6\nconsume_timeout_sec: 4\n");
    team.up();
    for agent in ["cx", "cl"] {
        team.wait_agent(agent, 60, |a| a["activity"] == "idle");
        // A stream that stops sending: the CLI's spinner and timer go on, nothing else moves.
        send(&team, agent, &format!("FREEZE-{agent}"));
        team.wait_agent(agent, 60, |a| a["activity"] == "working");
        assert!(
            wait_until(40, || !team
                .events_of("coordinator.agent_stuck", agent)
                .is_empty()),
            "{agent} was never found stuck: {}\n{}",
            team.agent(agent),
            team.screens()
        );
        assert!(
            inbox(&team).contains(&format!("{agent} looks stuck")),
            "{}",
            inbox(&team)
        );
        // Shown in its status while it stays so. (Something the detector takes for progress
        // clears it and says so in `coordinator.agent_unstuck`; a frozen stream is found stuck
        // again one timeout later.)
        assert!(
            wait_until(15, || team.agent(agent)["stuck_since"].is_string()),
            "{agent}: {}\n{:?}\n{}",
            team.agent(agent),
            team.events_of("coordinator.agent_unstuck", agent),
            team.screens()
        );
        let (ok, interrupted) = team.json(&["interrupt", agent]);
        assert!(ok, "{interrupted}");
        team.wait_agent(agent, 30, |a| a["activity"] == "idle");

        // Someone's draft in its input box: nothing is pasted into it, and the sender hears why.
        let pane = team.agent(agent)["pane_id"].as_str().unwrap().to_string();
        assert!(
            team.env
                .tmux(&["send-keys", "-t", &pane, "-l", "half-typed draft"])
                .status
                .success()
        );
        // Drawn in its input box (a CLI draws typing a moment after the keys).
        assert!(
            wait_until(10, || team.screen(agent).contains("half-typed draft")),
            "{}",
            team.screens()
        );
        let (ok, answer) = team.json(&[
            "send",
            agent,
            &format!("BOUNCE-{agent}"),
            "--wait",
            "consumed",
            "--timeout",
            "40",
        ]);
        assert!(!ok, "{answer}\n{}", team.screens());
        assert_eq!(
            answer["status"],
            "bounced",
            "{agent}: {answer}\n{}",
            team.screens()
        );
        assert!(
            wait_until(10, || inbox(&team).contains(&format!(
                "{} to {agent} bounced",
                answer["message_id"].as_str().unwrap()
            ))),
            "{}",
            inbox(&team)
        );
        assert!(
            !team
                .model
                .main_requests()
                .iter()
                .any(|r| r.newest_user_text().contains(&format!("BOUNCE-{agent}"))),
            "the bounced message reached the model"
        );
    }
    team.assert_no_egress();
}

#[test]
fn a_usage_limit_is_an_api_error_of_class_quota_with_its_reset_time() {
    // Codex reads when the limit resets from the error's `resets_at` (seconds since the epoch).
    let resets_at = chrono::Utc::now().timestamp() + 2 * 3600 + 300;
    let scenario = Scenario::from_json(
        &json!({"rules": [
            {"when": {"user_contains": "OVER-LIMIT"}, "api": "responses",
             "reply": [{"error": {"status": 429, "type": "usage_limit_reached",
                                  "message": "The usage limit has been reached",
                                  "fields": {"plan_type": "plus", "resets_at": resets_at, "resets_in_seconds": 7500}}}]}
        ]})
        .to_string(),
    )
    .unwrap();
    let Some(mut team) = RealTeam::new(
        "a_usage_limit_is_an_api_error_of_class_quota_with_its_reset_time",
        scenario,
        &[Worker::codex("cx")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    send(&team, "cx", "OVER-LIMIT");
    let row = team.wait_agent("cx", 90, |a| a["activity"] == "api_error");
    assert_eq!(
        row["activity_detail"]["class"],
        "quota",
        "{row}\n{}",
        team.screens()
    );
    assert!(
        row["activity_detail"]["reset"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{row}\n{}",
        team.screens()
    );
    assert_eq!(row["api_error"]["class"], "quota", "{row}");
    team.assert_no_egress();
}
