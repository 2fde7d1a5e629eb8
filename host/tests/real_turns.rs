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

use real::{CODEX_ANNOUNCEMENT, RealTeam, Worker, reporting_scenario, slow_stream_scenario};
use support::{LeaderPane, wait_until};

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
    let inbox = team.env.runtime().join("leader-inbox.log");
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

#[test]
fn the_teams_own_tools_never_stop_a_worker_at_a_prompt() {
    let scenario = Scenario::from_json(
        &json!({
            "rules": [
                {"id": "tell", "when": {"user_contains": "TELL-AND-REPORT"},
                 "reply": [{"mcp_tool": {"server": "team", "name": "send_message",
                                         "input": {"to": "leader", "content": "progress: half done"}}}]},
                {"id": "report", "when": {"after_tool": "send_message"},
                 "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                                         "input": {"status": "success", "summary": "told and reported"}}}]},
                {"id": "reported", "when": {"after_tool": "report_result"},
                 "reply": [{"text": "Done: {{tool_output}}"}]}
            ]
        })
        .to_string(),
    )
    .unwrap();
    // Default permission modes: Claude asks before every tool it was not told to allow, Codex
    // asks before every MCP tool whose server it was not told to trust.
    let Some(mut team) = RealTeam::new(
        "the_teams_own_tools_never_stop_a_worker_at_a_prompt",
        scenario,
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    for agent in ["cx", "cl"] {
        team.send(agent, "TELL-AND-REPORT please", Some(&format!("t-{agent}")));
    }
    for agent in ["cx", "cl"] {
        let (ok, waited) = team.json(&["wait", "--task", &format!("t-{agent}"), "--timeout", "90"]);
        assert!(ok, "{agent}: {waited}\n{}", team.screens());
        assert_eq!(waited["envelope"]["summary"], "told and reported");
    }
    // Both tools ran, and the model got their answers back (the request after the last tool
    // may still be on its way when `wait` returns: the result is stored before the tool answers).
    wait_until(30, || {
        ["responses", "anthropic"].iter().all(|api| {
            team.turns_of(api)
                .iter()
                .any(|r| r.rule_id() == Some("reported"))
        })
    });
    for api in ["responses", "anthropic"] {
        let turns = team.turns_of(api);
        for rule in ["report", "reported"] {
            assert!(
                turns.iter().any(|r| r.rule_id() == Some(rule)),
                "{api} never reached {rule}: {:?}",
                turns.iter().map(|r| r.rule_id()).collect::<Vec<_>>()
            );
        }
    }
    let (_, inbox) = team.json(&["inbox", "leader"]);
    for agent in ["cx", "cl"] {
        assert!(
            inbox["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["sender"] == agent && m["content"] == "progress: half done"),
            "{agent}'s message never reached the leader: {inbox}"
        );
        team.wait_agent(agent, 30, |a| a["turn"]["state"] == "idle");
        // Never a prompt: nothing was answered for them, nothing waited on a human.
        for kind in ["approval.auto_answered", "approval.needs_leader"] {
            assert!(team.events_of(kind, agent).is_empty(), "{agent}: {kind}");
        }
        assert!(
            !team
                .events_of("agent.activity", agent)
                .iter()
                .any(|e| e["activity"] == "awaiting_approval"),
            "{agent} showed an approval prompt"
        );
    }
    team.assert_no_egress();
}

/// A shell command per worker and purpose: `echo <purpose>-<agent> > <purpose>-<agent>.txt`.
fn command(purpose: &str, agent: &str) -> String {
    format!("echo {purpose}-{agent} > {purpose}-{agent}.txt")
}

#[test]
fn runtime_approvals_are_answered_by_policy_escalated_otherwise_and_answered_by_hand() {
    let mut rules = Vec::new();
    for agent in ["cx", "cl"] {
        for purpose in ["allowed", "by-hand", "denied"] {
            rules.push(json!({"id": format!("{purpose}-{agent}"),
                "when": {"user_contains": format!("RUN-{purpose}-{agent}")},
                "reply": [{"text": "Running it."}, {"shell": {"command": command(purpose, agent)}}]}));
        }
    }
    rules.push(json!({"id": "after", "when": {"after_tool": ""},
                      "reply": [{"text": "The command is over: {{tool_output}}"}]}));
    let scenario = Scenario::from_json(&json!({"rules": rules}).to_string()).unwrap();
    let Some(mut team) = RealTeam::new(
        "runtime_approvals_are_answered_by_policy_escalated_otherwise_and_answered_by_hand",
        scenario,
        &[
            Worker::codex("cx").with("auto_approve: [\"echo allowed-cx > allowed-cx.txt\"]\n"),
            Worker::claude("cl").with("auto_approve: [\"echo allowed-cl > allowed-cl.txt\"]\n"),
        ],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    let ws = team.env.workspace();
    let ran = |purpose: &str, agent: &str| {
        std::fs::read_to_string(ws.join(format!("{purpose}-{agent}.txt")))
            .is_ok_and(|t| t.trim() == format!("{purpose}-{agent}"))
    };
    for agent in ["cx", "cl"] {
        // The policy allows it: the coordinator answers, the command runs.
        team.send(agent, &format!("RUN-allowed-{agent}"), None);
        assert!(
            wait_until(60, || ran("allowed", agent)),
            "{agent}'s allowed command never ran\n{}",
            team.screens()
        );
        let answered = team.events_of("approval.auto_answered", agent);
        assert_eq!(answered.len(), 1, "{agent}: {answered:?}");
        team.wait_agent(agent, 30, |a| a["activity"] == "idle");

        // Not in the policy: it waits, and the leader is told.
        team.send(agent, &format!("RUN-by-hand-{agent}"), None);
        team.wait_agent(agent, 60, |a| a["activity"] == "awaiting_approval");
        let inbox = team.env.runtime().join("leader-inbox.log");
        assert!(
            wait_until(20, || std::fs::read_to_string(&inbox).is_ok_and(|t| t
                .contains(&format!("{agent} is waiting for an approval"))
                && t.contains(&command("by-hand", agent)))),
            "the leader was not told about {agent}'s prompt"
        );
        assert!(!ran("by-hand", agent), "it ran before anyone answered");
        let (ok, answered) = team.json(&["answer", agent, "yes"]);
        assert!(ok, "{answered}");
        assert!(
            wait_until(60, || ran("by-hand", agent)),
            "{agent}'s approved command never ran\n{}",
            team.screens()
        );
        team.wait_agent(agent, 30, |a| a["activity"] == "idle");

        // Answered no: it does not run, and the turn goes on without it.
        team.send(agent, &format!("RUN-denied-{agent}"), None);
        team.wait_agent(agent, 60, |a| a["activity"] == "awaiting_approval");
        let (ok, answered) = team.json(&["answer", agent, "no"]);
        assert!(ok, "{answered}");
        team.wait_agent(agent, 60, |a| a["activity"] == "idle");
        std::thread::sleep(std::time::Duration::from_secs(1));
        assert!(
            !ran("denied", agent),
            "{agent} ran the command it was denied"
        );
        assert_eq!(
            team.events_of("approval.auto_answered", agent).len(),
            1,
            "only the allowed command was answered by the policy"
        );
    }
    team.assert_no_egress();
}

/// Whether a request's conversation holds a user text with `marker` before its newest one.
fn carries(request: &team_agent_fake_model::RecordedRequest, marker: &str) -> bool {
    let texts = request.user_texts();
    texts[..texts.len().saturating_sub(1)]
        .iter()
        .any(|t| t.contains(marker))
}

#[test]
fn resume_continues_the_same_conversation_reset_starts_without_it_and_fork_carries_it() {
    let Some(mut team) = RealTeam::new(
        "resume_continues_the_same_conversation_reset_starts_without_it_and_fork_carries_it",
        Scenario::default(),
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    let mut sessions = std::collections::BTreeMap::new();
    for agent in ["cx", "cl"] {
        team.send(
            agent,
            &format!("FIRST-TURN-{agent}: remember the word heron."),
            None,
        );
        team.request_with(&format!("FIRST-TURN-{agent}"));
        let row = team.wait_agent(agent, 60, |a| {
            a["session_id"].is_string() && a["turn"]["state"] == "idle"
        });
        sessions.insert(agent, row["session_id"].as_str().unwrap().to_string());
    }
    let (ok, down) = team.json(&["shutdown"]);
    assert!(ok, "{down}");
    let (ok, up) = team.json(&["restart"]);
    assert!(ok, "{up}");
    for agent in ["cx", "cl"] {
        let row = team.wait_agent(agent, 60, |a| a["status"] == "running");
        assert_eq!(
            row["session_id"], sessions[agent],
            "{agent} resumed its session"
        );
        team.send(agent, &format!("SECOND-TURN-{agent}: which word?"), None);
        let request = team.request_with(&format!("SECOND-TURN-{agent}"));
        assert!(
            carries(&request, &format!("FIRST-TURN-{agent}")),
            "{agent}'s resumed turn does not carry the first one: {:?}",
            request.user_texts()
        );
        team.wait_agent(agent, 60, |a| a["turn"]["state"] == "idle");
    }
    // A fork is a new worker with a new session that carries the source's conversation.
    for (source, fork) in [("cx", "cx2"), ("cl", "cl2")] {
        let (ok, forked) = team.json(&["fork-agent", source, "--as", fork]);
        assert!(ok, "{forked}\n{}", team.screens());
        team.send(fork, &format!("FORK-TURN-{fork}: and now?"), None);
        let request = team.request_with(&format!("FORK-TURN-{fork}"));
        for earlier in [
            format!("FIRST-TURN-{source}"),
            format!("SECOND-TURN-{source}"),
        ] {
            assert!(
                carries(&request, &earlier),
                "{fork} does not carry {earlier}: {:?}",
                request.user_texts()
            );
        }
        let row = team.wait_agent(fork, 60, |a| a["session_id"].is_string());
        assert_ne!(
            row["session_id"], sessions[source],
            "{fork} has a session of its own"
        );
    }
    // A reset starts over: the next turn knows nothing of the earlier ones.
    for agent in ["cx", "cl"] {
        let (ok, reset) = team.json(&["reset-agent", agent, "--discard-session"]);
        assert!(ok, "{reset}");
        team.wait_agent(agent, 60, |a| a["status"] == "running");
        team.send(agent, &format!("AFTER-RESET-{agent}: anything?"), None);
        let request = team.request_with(&format!("AFTER-RESET-{agent}"));
        for earlier in ["FIRST-TURN", "SECOND-TURN"] {
            assert!(
                !carries(&request, earlier),
                "{agent} still carries {earlier} after the reset: {:?}",
                request.user_texts()
            );
        }
        let row = team.wait_agent(agent, 60, |a| a["session_id"].is_string());
        assert_ne!(
            row["session_id"], sessions[agent],
            "{agent} has a new session"
        );
    }
    team.assert_no_egress();
}

#[test]
fn interrupt_ends_a_slow_streamed_turn_and_status_says_so() {
    let scenario = slow_stream_scenario();
    let Some(mut team) = RealTeam::new(
        "interrupt_ends_a_slow_streamed_turn_and_status_says_so",
        scenario,
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    for agent in ["cx", "cl"] {
        team.send(agent, &format!("TAKE-YOUR-TIME {agent}"), None);
        team.request_with(&format!("TAKE-YOUR-TIME {agent}"));
        // Mid-stream: the reply is being drawn.
        assert!(
            wait_until(30, || team.screen(agent).contains("All work and no play")),
            "{agent} never drew the streamed reply\n{}",
            team.screens()
        );
        team.wait_agent(agent, 30, |a| {
            a["activity"] == "working" || a["activity"] == "in_tool"
        });
        let (ok, interrupted) = team.json(&["interrupt", agent]);
        assert!(ok, "{interrupted}");
        // The turn is over long before the stream would have ended (60 × 42 characters at one
        // 16-character delta per 250 ms: about 40 s).
        let row = team.wait_agent(agent, 20, |a| {
            a["activity"] == "idle" && a["turn"]["state"] == "interrupted"
        });
        assert!(row["turn"]["rule"].is_string(), "{row}");
    }
    // The CLIs hung up on the stream.
    let hung_up = team
        .model
        .main_requests()
        .iter()
        .filter(|r| r.rule_id() == Some("slow"))
        .filter(|r| r.delivery == team_agent_fake_model::Delivery::ClientHungUp)
        .count();
    assert!(
        wait_until(10, || {
            team.model
                .main_requests()
                .iter()
                .filter(|r| {
                    r.rule_id() == Some("slow")
                        && r.delivery == team_agent_fake_model::Delivery::ClientHungUp
                })
                .count()
                == 2
        }),
        "both CLIs should have hung up on their streams ({hung_up} did)"
    );
    team.assert_no_egress();
}

/// Codex's retries off for the scripted endpoint (a user's `provider_options.config`), so an
/// error ends the turn at once.
const CODEX_NO_RETRIES: &str = "provider_options:\n  config:\n    model_providers.team_agent_gateway.request_max_retries: 0\n    model_providers.team_agent_gateway.stream_max_retries: 0\n";

/// How many notices the leader's inbox holds that `agent`'s turn ended on a `class` error.
fn api_error_notices(team: &RealTeam, agent: &str, class: &str) -> usize {
    std::fs::read_to_string(team.env.runtime().join("leader-inbox.log"))
        .unwrap_or_default()
        .matches(&format!(
            "{agent}'s turn ended on a provider API error ({class})"
        ))
        .count()
}

#[test]
fn api_errors_show_their_class_in_status_and_the_leader_is_told_once_per_episode() {
    // The newest marker wins: a CLI may send the text of a failed turn again with the next one.
    let scenario = Scenario::from_json(
        &json!({"rules": [
            {"when": {"user_contains": "ERR-OVERLOADED"}, "api": "anthropic",
             "reply": [{"error": {"status": 529, "type": "overloaded_error", "message": "Overloaded"}}]},
            {"when": {"user_contains": "ERR-OVERLOADED"}, "api": "responses",
             "reply": [{"error": {"status": 503, "type": "server_is_overloaded", "message": "Overloaded"}}]},
            {"when": {"user_contains": "ERR-RATE"},
             "reply": [{"error": {"status": 429, "type": "rate_limit_error", "message": "slow down"}}]},
            {"when": {"user_contains": "ERR-500"},
             "reply": [{"error": {"status": 500, "type": "api_error", "message": "scripted failure"}}]}
        ]})
        .to_string(),
    )
    .unwrap();
    let Some(mut team) = RealTeam::new(
        "api_errors_show_their_class_in_status_and_the_leader_is_told_once_per_episode",
        scenario,
        &[
            Worker::codex("cx").with(CODEX_NO_RETRIES),
            Worker::claude("cl"),
        ],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    // Claude's retries off, as a user of a gateway might set them.
    team.add_to_profile("anthropic", "CLAUDE_CODE_MAX_RETRIES=0\n");
    team.up();
    // What each CLI makes of each failure: Codex calls an HTTP 500 "high demand".
    let expected = [
        ("ERR-500", "other", "overloaded"),
        ("ERR-RATE", "rate_limit", "rate_limit"),
        ("ERR-OVERLOADED", "overloaded", "overloaded"),
    ];
    for (n, (marker, claude_class, codex_class)) in expected.into_iter().enumerate() {
        for (agent, class) in [("cl", claude_class), ("cx", codex_class)] {
            let before = api_error_notices(&team, agent, class);
            team.send(agent, &format!("{marker} please, step {n}"), None);
            let row = team.wait_agent(agent, 60, |a| {
                a["activity"] == "api_error"
                    && a["api_error"]["class"] == class
                    && a["api_error"]["ended"] == true
            });
            assert!(row["api_error"]["since"].is_string(), "{row}");
            assert!(
                wait_until(20, || api_error_notices(&team, agent, class) == before + 1),
                "the leader was not told of {agent}'s {class} error"
            );
        }
    }
    // Several ticks later, still one notice per episode.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(api_error_notices(&team, "cl", "other"), 1);
    assert_eq!(api_error_notices(&team, "cl", "rate_limit"), 1);
    assert_eq!(api_error_notices(&team, "cl", "overloaded"), 1);
    assert_eq!(api_error_notices(&team, "cx", "rate_limit"), 1);
    // Codex's 500 and 503 are both "overloaded", two episodes with a 429 between them.
    assert_eq!(api_error_notices(&team, "cx", "overloaded"), 2);
    let (_, status) = team.json(&["status"]);
    let text = String::from_utf8_lossy(&team.command().arg("status").output().unwrap().stdout)
        .into_owned();
    assert!(
        text.contains("api error: overloaded (the turn ended on it; send the task again)"),
        "{text}\n{status}"
    );
    team.assert_no_egress();
}

#[test]
fn a_silent_worker_is_reminded_once_then_its_task_is_recorded_unreported_with_its_last_words() {
    // The silent workers never report; the late one reports once it is reminded.
    let scenario = Scenario::from_json(
        &json!({"rules": [
            {"id": "late-report", "when": {"user_contains": "task t-late has no result yet"},
             "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                                     "input": {"status": "partial", "summary": "reported when reminded"}}}]},
            {"id": "reported", "when": {"after_tool": "report_result"}, "reply": [{"text": "Reported."}]},
            {"id": "reminded", "when": {"user_contains": "has no result yet"},
             "reply": [{"text": "Still thinking about the silent task."}]},
            {"id": "silent", "when": {"user_contains": "SILENT-TASK"},
             "reply": [{"text": "I looked at it and stopped there."}]}
        ]})
        .to_string(),
    )
    .unwrap();
    let Some(mut team) = RealTeam::new(
        "a_silent_worker_is_reminded_once_then_its_task_is_recorded_unreported_with_its_last_words",
        scenario,
        &[
            Worker::codex("cx"),
            Worker::claude("cl"),
            Worker::codex("late"),
        ],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.up();
    for agent in ["cx", "cl"] {
        team.send(
            agent,
            "SILENT-TASK: look at it.",
            Some(&format!("t-{agent}")),
        );
    }
    team.send("late", "SILENT-TASK: look at it, too.", Some("t-late"));
    for agent in ["cx", "cl"] {
        let (ok, waited) =
            team.json(&["wait", "--task", &format!("t-{agent}"), "--timeout", "120"]);
        assert!(
            ok,
            "{agent} never got a result: {waited}\n{}",
            team.screens()
        );
        let envelope = &waited["envelope"];
        assert_eq!(envelope["status"], "unreported", "{envelope}");
        assert_eq!(envelope["agent_id"], agent);
        // The worker's last words are the second turn's, after the reminder.
        assert_eq!(
            envelope["summary"],
            format!(
                "{agent} did not report; its last words: Still thinking about the silent task."
            )
        );
    }
    let (ok, waited) = team.json(&["wait", "--task", "t-late", "--timeout", "120"]);
    assert!(ok, "{waited}\n{}", team.screens());
    // Two Codex workers started together in one directory keep a session each (both once took
    // the first rollout written, in the same tick).
    assert_ne!(
        team.env.session_of("cx"),
        team.env.session_of("late"),
        "{}",
        team.screens()
    );
    assert_eq!(waited["envelope"]["status"], "partial");
    assert_eq!(waited["envelope"]["summary"], "reported when reminded");
    std::thread::sleep(std::time::Duration::from_secs(3)); // more ticks: nothing more happens
    for agent in ["cx", "cl", "late"] {
        let (_, inbox) = team.json(&["inbox", agent]);
        let reminders = inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["sender"] == "team-agent" && m["recipient"] == agent)
            .count();
        assert_eq!(reminders, 1, "{agent} was reminded once: {inbox}");
        let (_, results) = team.json(&["results", "--task", &format!("t-{agent}")]);
        assert_eq!(results["results"].as_array().unwrap().len(), 1, "{results}");
    }
    let told =
        std::fs::read_to_string(team.env.runtime().join("leader-inbox.log")).unwrap_or_default();
    for agent in ["cx", "cl"] {
        assert_eq!(
            told.matches(&format!("Task t-{agent} reported unreported from {agent}"))
                .count(),
            1,
            "{told}"
        );
    }
    team.assert_no_egress();
}

#[test]
fn on_a_fresh_home_a_codex_profile_key_logs_codex_in_and_up_works() {
    let Some(mut team) = RealTeam::new(
        "on_a_fresh_home_a_codex_profile_key_logs_codex_in_and_up_works",
        reporting_scenario(),
        // Codex's network switches in the agent's definition, not in a ~/.codex that a fresh
        // machine does not have.
        &[Worker::codex("cx").with(
            "provider_options:\n  config:\n    check_for_update_on_startup: false\n    analytics.enabled: false\n    features.plugins: false\n",
        )],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    let codex_home = team.env.home().join(".codex");
    std::fs::remove_dir_all(&codex_home).unwrap();
    team.up();
    assert!(
        codex_home.join("auth.json").is_file(),
        "the login pre-step logged Codex in under the fresh HOME"
    );
    let logins: Vec<_> = team
        .events()
        .into_iter()
        .filter(|e| e["event"] == "agent.pre_step")
        .collect();
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert_eq!(logins[0]["ok"], true);
    team.send("cx", "REPORT-BACK from a fresh machine", Some("t-fresh"));
    let (ok, waited) = team.json(&["wait", "--task", "t-fresh", "--timeout", "90"]);
    assert!(ok, "{waited}\n{}", team.screens());
    // A second start finds the login and does not log in again.
    let (ok, _) = team.json(&["shutdown"]);
    assert!(ok);
    let (ok, restarted) = team.json(&["restart"]);
    assert!(ok, "{restarted}");
    let logins = team
        .events()
        .into_iter()
        .filter(|e| e["event"] == "agent.pre_step")
        .count();
    assert_eq!(logins, 1, "the login ran once");
    team.assert_no_egress();
}

/// The leader's model starts the team, looks at it and gives each worker a task; the workers
/// report; the leader's model notes each result it is given (a result may reach it while its
/// turn still runs: Codex takes input typed then as part of the turn).
fn leading_scenario() -> Scenario {
    let send = |to: &str| {
        json!({"mcp_tool": {"server": "team", "name": "send_message",
               "input": {"to": to, "content": format!("REPORT-BACK for lt-{to}"), "task_id": format!("lt-{to}")}}})
    };
    Scenario::from_json(
        &json!({"rules": [
            {"id": "lead", "when": {"user_contains": "LEAD-THE-TEAM"},
             "reply": [{"text": "Starting the team."},
                       {"mcp_tool": {"server": "team", "name": "start_team",
                                     "input": {"definition": "team", "approved": true}}}]},
            {"id": "look", "when": {"after_tool": "start_team"},
             "reply": [{"mcp_tool": {"server": "team", "name": "get_team_status", "input": {}}}]},
            {"id": "send-cx", "when": {"after_tool": "get_team_status"}, "reply": [send("cx")]},
            {"id": "send-cl", "when": {"after_tool": "send_message"}, "times": 1, "reply": [send("cl")]},
            {"id": "at-work", "when": {"after_tool": "send_message"},
             "reply": [{"text": "The team is at work."}]},
            {"id": "noted", "when": {"user_contains": "reported success"},
             "reply": [{"text": "Noted the result."}]},
            {"id": "task", "when": {"user_contains": "REPORT-BACK"},
             "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                                     "input": {"status": "success", "summary": "the worker did it"}}}]},
            {"id": "reported", "when": {"after_tool": "report_result"}, "reply": [{"text": "Reported."}]}
        ]})
        .to_string(),
    )
    .unwrap()
}

/// The user messages of the leader's own transcript that carry `needle`.
fn leader_transcript_messages(team: &RealTeam, provider: &str, needle: &str) -> usize {
    let home = team.env.home();
    let dir = match provider {
        "claude" => home.join(".claude/projects"),
        _ => home.join(".codex/sessions"),
    };
    let mut files = Vec::new();
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    let user_texts = |path: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|r| {
                let user = match provider {
                    "claude" => r["type"] == "user" && r["message"]["role"] == "user",
                    _ => {
                        r["type"] == "response_item"
                            && r["payload"]["type"] == "message"
                            && r["payload"]["role"] == "user"
                    }
                };
                user.then(|| r.to_string())
            })
            .collect()
    };
    // The leader's session is the one its operator started with LEAD-THE-TEAM.
    files
        .iter()
        .map(|f| user_texts(f))
        .find(|texts| texts.iter().any(|t| t.contains("LEAD-THE-TEAM")))
        .map_or(0, |texts| {
            texts.iter().filter(|t| t.contains(needle)).count()
        })
}

fn a_real_leader_runs_the_team_through_its_mcp_tools(provider: &str, test: &str) {
    let Some(mut team) = RealTeam::new(
        test,
        leading_scenario(),
        &[Worker::codex("cx"), Worker::claude("cl")],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    team.trust_workspace();
    // The team is started from the leader's MCP server, whose environment the leader's CLI
    // chooses: the profiles carry the proxy trap, as a user behind a proxy would set them.
    let trap = team.model.url();
    for profile in ["openai", "anthropic"] {
        team.add_to_profile(
            profile,
            &format!("HTTPS_PROXY={trap}\nHTTP_PROXY={trap}\nNO_PROXY=127.0.0.1,localhost\n"),
        );
    }
    let leader = team.launch_leader(provider);
    assert!(
        wait_until(60, || leader.ready(&team, provider)),
        "the leader never came up:\n{}",
        leader.screen()
    );
    leader.say("LEAD-THE-TEAM: start the team in ./team and give each worker a task.");
    assert!(
        wait_until(120, || team.json(&["status"]).1["running"] == true),
        "the leader's start_team never started the team\n--- leader:\n{}",
        leader.screen()
    );
    for task in ["lt-cx", "lt-cl"] {
        let (ok, waited) = team.json(&["wait", "--task", task, "--timeout", "120"]);
        assert!(
            ok,
            "no result for {task}: {waited}\n{}\n--- leader:\n{}",
            team.screens(),
            leader.screen()
        );
    }
    // The leader's own tools ran: it looked at the team before sending the tasks.
    assert!(
        team.wait_request(60, |r| r.rule_id() == Some("send-cx")),
        "the leader never got the team's status back: {:?}\n--- leader:\n{}",
        team.model
            .main_requests()
            .iter()
            .map(|r| (
                r.rule_id().map(str::to_string),
                r.newest_user_text().chars().take(60).collect::<String>()
            ))
            .collect::<Vec<_>>(),
        leader.screen()
    );
    let status = team.status();
    assert_eq!(status["leader"]["provider"], provider, "{status}");
    // Each result reached the leader's own conversation once, as a user message.
    for task in ["lt-cx", "lt-cl"] {
        let needle = format!("Task {task} reported success");
        assert!(
            wait_until(60, || leader_transcript_messages(&team, provider, &needle)
                >= 1),
            "{task}'s result never reached the leader's transcript\n--- leader:\n{}\n--- leader events:\n{}",
            leader.screen(),
            team.events()
                .iter()
                .filter(|e| e.to_string().contains("leader"))
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    for task in ["lt-cx", "lt-cl"] {
        let needle = format!("Task {task} reported success");
        assert_eq!(
            leader_transcript_messages(&team, provider, &needle),
            1,
            "{task}: one user message\n--- leader:\n{}",
            leader.screen()
        );
    }
    team.assert_no_egress();
}

#[test]
fn a_real_claude_leader_runs_the_team_through_its_mcp_tools_and_gets_each_result_once() {
    a_real_leader_runs_the_team_through_its_mcp_tools(
        "claude",
        "a_real_claude_leader_runs_the_team_through_its_mcp_tools_and_gets_each_result_once",
    );
}

#[test]
fn a_real_codex_leader_runs_the_team_through_its_mcp_tools_and_gets_each_result_once() {
    a_real_leader_runs_the_team_through_its_mcp_tools(
        "codex",
        "a_real_codex_leader_runs_the_team_through_its_mcp_tools_and_gets_each_result_once",
    );
}

#[test]
fn a_real_leader_cli_in_api_errors_is_seen_in_status() {
    let scenario = Scenario::from_json(
        &json!({"rules": [{"when": {"user_contains": "LEADER-ERR"},
            "reply": [{"error": {"status": 529, "type": "overloaded_error", "message": "Overloaded"}}]}]})
        .to_string(),
    )
    .unwrap();
    let Some(team) = RealTeam::new(
        "a_real_leader_cli_in_api_errors_is_seen_in_status",
        scenario,
        &[Worker::claude("cl")],
    ) else {
        return;
    };
    team.trust_workspace();
    team.up();
    let leader = team.launch_leader("claude");
    assert!(
        wait_until(60, || leader.ready(&team, "claude")),
        "the leader never came up:\n{}",
        leader.screen()
    );
    let (ok, bound) = team.json(&[
        "attach-leader",
        "--pane",
        &leader.pane(),
        "--socket",
        leader.socket.to_str().unwrap(),
        "--provider",
        "claude",
    ]);
    assert!(ok, "{bound}");
    leader.say("LEADER-ERR: what now?");
    let mut status = serde_json::Value::Null;
    assert!(
        wait_until(30, || {
            status = team.status();
            status["leader"]["api_error"]["class"] == "overloaded"
        }),
        "the leader's API error never showed in status: {}\n--- leader:\n{}",
        status["leader"],
        leader.screen()
    );
    assert!(
        team.events()
            .iter()
            .any(|e| e["event"] == "leader.api_error" && e["class"] == "overloaded"),
        "no leader.api_error event"
    );
    team.assert_no_egress();
}
