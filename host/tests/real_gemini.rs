//! The real Gemini CLI (0.61.0) as a worker doing real turns against the scripted model
//! (`tests/fake-model`, its Gemini API dialect): getting a task, calling the team's
//! `report_result` through the team's MCP server, going idle, and after a shutdown and a restart
//! resuming the very same session. Never the network (see `real/mod.rs`). The CLI comes from
//! `scripts/install-real-clis.sh`; without it each test says loudly that it did not run
//! (`TEAM_AGENT_REQUIRE_REAL_CLIS=1` makes that a failure, as in CI).
//!
//! ```sh
//! scripts/install-real-clis.sh
//! cargo build -p team-agent -p team-agent-gemini && cargo test -p team-agent --test real_gemini
//! ```

mod real;
mod support;

use serde_json::json;
use team_agent_fake_model::{RecordedRequest, Scenario};

use real::{RealTeam, Worker, reporting_scenario, slow_stream_scenario};

/// The names of the functions a Gemini request offers the model.
fn offered_functions(request: &RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool["functionDeclarations"].as_array())
        .flatten()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_gemini_worker_reports_through_the_teams_mcp_server_goes_idle_and_resumes_after_a_restart() {
    let Some(team) = RealTeam::new(
        "a_gemini_worker_reports_through_the_teams_mcp_server_goes_idle_and_resumes_after_a_restart",
        reporting_scenario(),
        // A second worker keeps the team's tmux session while `reset-agent` replaces gm's window
        // (with gm alone the reset fails: "team 'real' is not running").
        &[Worker::gemini("gm"), Worker::gemini("spare")],
    ) else {
        return;
    };
    team.up_allowing_slow_start(60);
    team.send("gm", "Please do t1-gm and REPORT-BACK.", Some("t1-gm"));
    let (ok, waited) = team.json(&["wait", "--task", "t1-gm", "--timeout", "120"]);
    assert!(ok, "no result for t1-gm: {waited}\n{}", team.screens());
    assert_eq!(waited["envelope"]["agent_id"], "gm", "{waited}");
    assert_eq!(waited["envelope"]["status"], "success");
    assert_eq!(
        waited["envelope"]["summary"],
        "the scripted model did the task"
    );
    // The model saw the team's tools under Gemini's names, and the worker's identity.
    let task = team.request_with("REPORT-BACK");
    let functions = offered_functions(&task);
    assert!(
        functions.iter().any(|f| f == "mcp_team_report_result"),
        "{functions:?}"
    );
    let instruction = task.body["systemInstruction"].to_string();
    assert!(
        instruction.contains("You are Team Agent worker `gm`"),
        "the system prompt did not reach the model: {instruction}"
    );
    assert!(
        team.wait_request(30, |r| r.rule_id() == Some("reported")),
        "the tool's result never went back to the model"
    );
    // The turn's end comes from Gemini's AfterAgent hook: its session file cannot tell a last
    // reply from one whose tool calls still run.
    let row = team.wait_agent("gm", 60, |a| {
        a["activity"] == "idle" && a["hook"]["event"] == "turn_ended" && a["session_id"].is_string()
    });
    let session = row["session_id"].as_str().unwrap().to_string();
    let transcript = row["transcript_path"].as_str().unwrap().to_string();
    assert!(
        transcript.contains("/gemini-home/.gemini/tmp/") && transcript.ends_with(".jsonl"),
        "{transcript}"
    );

    let (ok, down) = team.json(&["shutdown"]);
    assert!(ok, "{down}");
    let (ok, up) = team.json(&["restart"]);
    assert!(ok, "{up}");
    let row = team.wait_agent("gm", 90, |a| a["status"] == "running");
    assert_eq!(row["session_id"], session, "gm resumed its session");
    // Sent at once: the plugin must not call the resumed Gemini ready before it loaded the
    // conversation (0.61.0 takes a prompt earlier, and sends it without).
    team.send("gm", "SECOND-TURN-gm: which task was it?", None);
    let second = team.request_with("SECOND-TURN-gm");
    let texts = second.user_texts();
    assert!(
        texts[..texts.len().saturating_sub(1)]
            .iter()
            .any(|t| t.contains("t1-gm")),
        "the resumed turn does not carry the first one: {texts:?}"
    );
    let row = team.wait_agent("gm", 60, |a| {
        a["activity"] == "idle" && a["hook"]["event"] == "turn_ended"
    });
    assert_eq!(row["session_id"], session);
    assert_eq!(row["transcript_path"], transcript.as_str());

    // A reset starts over: a new session, and the next turn knows nothing of the earlier ones.
    let (ok, reset) = team.json(&["reset-agent", "gm", "--discard-session"]);
    assert!(ok, "{reset}");
    team.wait_agent("gm", 90, |a| a["status"] == "running");
    team.send("gm", "AFTER-RESET-gm: anything?", None);
    let after = team.request_with("AFTER-RESET-gm");
    assert!(
        !after.user_texts().iter().any(|t| t.contains("t1-gm")),
        "the reset worker still carries the first turn: {:?}",
        after.user_texts()
    );
    let row = team.wait_agent("gm", 60, |a| a["session_id"].is_string());
    assert_ne!(row["session_id"], session, "a new session");
    // Gemini cannot fork a session: refused, saying so.
    let (ok, fork) = team.json(&["fork-agent", "gm", "--as", "gm2"]);
    assert!(!ok, "{fork}");
    assert!(fork.to_string().contains("cannot fork"), "{fork}");
    team.assert_no_egress();
}

/// A shell command per purpose: `echo <purpose>-gm > <purpose>-gm.txt`.
fn command(purpose: &str) -> String {
    format!("echo {purpose}-gm > {purpose}-gm.txt")
}

#[test]
fn a_gemini_shell_approval_is_answered_by_policy_waits_for_a_human_otherwise_and_a_no_holds() {
    let mut rules = Vec::new();
    for purpose in ["allowed", "by-hand", "denied"] {
        rules.push(json!({"id": purpose,
            "when": {"user_contains": format!("RUN-{purpose}")},
            "reply": [{"text": "Running it."}, {"shell": {"command": command(purpose)}}]}));
    }
    rules.push(json!({"id": "after", "when": {"after_tool": ""},
                      "reply": [{"text": "The command is over: {{tool_output}}"}]}));
    let scenario = Scenario::from_json(&json!({"rules": rules}).to_string()).unwrap();
    let Some(team) = RealTeam::new(
        "a_gemini_shell_approval_is_answered_by_policy_waits_for_a_human_otherwise_and_a_no_holds",
        scenario,
        &[Worker::gemini("gm").with("auto_approve: [\"echo allowed-gm > allowed-gm.txt\"]\n")],
    ) else {
        return;
    };
    team.up_allowing_slow_start(60);
    let ws = team.env.workspace();
    let ran = |purpose: &str| {
        std::fs::read_to_string(ws.join(format!("{purpose}-gm.txt")))
            .is_ok_and(|t| t.trim() == format!("{purpose}-gm"))
    };
    // The policy allows it: the coordinator answers Gemini's prompt, the command runs.
    team.send("gm", "RUN-allowed", None);
    assert!(
        support::wait_until(60, || ran("allowed")),
        "the allowed command never ran\n{}",
        team.screens()
    );
    assert_eq!(team.events_of("approval.auto_answered", "gm").len(), 1);
    team.wait_agent("gm", 30, |a| a["activity"] == "idle");

    // Not in the policy: it waits, the leader is told, a human answers yes.
    team.send("gm", "RUN-by-hand", None);
    team.wait_agent("gm", 60, |a| a["activity"] == "awaiting_approval");
    let inbox = team.env.runtime().join("leader-inbox.log");
    assert!(
        support::wait_until(20, || std::fs::read_to_string(&inbox)
            .is_ok_and(|t| t.contains("gm is waiting for an approval"))),
        "the leader was not told about the prompt"
    );
    assert!(!ran("by-hand"), "it ran before anyone answered");
    let (ok, answered) = team.json(&["answer", "gm", "yes"]);
    assert!(ok, "{answered}");
    assert!(
        support::wait_until(60, || ran("by-hand")),
        "the approved command never ran\n{}",
        team.screens()
    );
    team.wait_agent("gm", 30, |a| a["activity"] == "idle");

    // Answered no: it does not run.
    team.send("gm", "RUN-denied", None);
    team.wait_agent("gm", 60, |a| a["activity"] == "awaiting_approval");
    let (ok, answered) = team.json(&["answer", "gm", "no"]);
    assert!(ok, "{answered}");
    team.wait_agent("gm", 60, |a| a["activity"] == "idle");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(!ran("denied"), "gm ran the command it was denied");
    assert_eq!(
        team.events_of("approval.auto_answered", "gm").len(),
        1,
        "only the allowed command was answered by the policy"
    );
    team.assert_no_egress();
}

#[test]
fn a_gemini_turn_that_ends_on_an_api_error_shows_it_in_status_and_the_leader_is_told_once() {
    // Gemini retries a 429 and a 5xx with backoff for minutes (the screen shows only its
    // spinner); a 400 ends the turn at once.
    let scenario = Scenario::from_json(
        &json!({"rules": [
            {"when": {"user_contains": "ERR-400"},
             "reply": [{"error": {"status": 400, "message": "Request contains an invalid argument."}}]}
        ]})
        .to_string(),
    )
    .unwrap();
    let Some(team) = RealTeam::new(
        "a_gemini_turn_that_ends_on_an_api_error_shows_it_in_status_and_the_leader_is_told_once",
        scenario,
        &[Worker::gemini("gm")],
    ) else {
        return;
    };
    team.up_allowing_slow_start(60);
    team.send("gm", "ERR-400 please", None);
    let row = team.wait_agent("gm", 60, |a| {
        a["activity"] == "api_error"
            && a["api_error"]["class"] == "other"
            && a["api_error"]["ended"] == true
    });
    assert!(row["api_error"]["since"].is_string(), "{row}");
    let notices = || {
        std::fs::read_to_string(team.env.runtime().join("leader-inbox.log"))
            .unwrap_or_default()
            .matches("gm's turn ended on a provider API error (other)")
            .count()
    };
    assert!(
        support::wait_until(20, || notices() == 1),
        "the leader was not told"
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(notices(), 1, "told once for the episode");
    // The next turn answers normally and the error is over.
    team.send("gm", "and now?", None);
    team.wait_agent("gm", 60, |a| {
        a["activity"] == "idle" && a["hook"]["event"] == "turn_ended"
    });
    team.assert_no_egress();
}

#[test]
fn interrupt_ends_a_slow_streamed_gemini_turn_and_status_says_so() {
    let scenario = slow_stream_scenario();
    let Some(team) = RealTeam::new(
        "interrupt_ends_a_slow_streamed_gemini_turn_and_status_says_so",
        scenario,
        &[Worker::gemini("gm")],
    ) else {
        return;
    };
    team.up_allowing_slow_start(60);
    team.send("gm", "TAKE-YOUR-TIME gm", None);
    team.request_with("TAKE-YOUR-TIME gm");
    assert!(
        support::wait_until(30, || team.screen("gm").contains("All work and no play")),
        "gm never drew the streamed reply\n{}",
        team.screens()
    );
    team.wait_agent("gm", 30, |a| a["activity"] == "working");
    let (ok, interrupted) = team.json(&["interrupt", "gm"]);
    assert!(ok, "{interrupted}");
    // Long before the stream would have ended (about 40 s): Gemini's Esc cancels the request,
    // which its session file records.
    let row = team.wait_agent("gm", 20, |a| {
        a["activity"] == "idle" && a["turn"]["state"] == "interrupted"
    });
    assert_eq!(row["turn"]["rule"], "request_cancelled", "{row}");
    assert!(
        support::wait_until(10, || team.model.main_requests().iter().any(|r| {
            r.rule_id() == Some("slow")
                && r.delivery == team_agent_fake_model::Delivery::ClientHungUp
        })),
        "Gemini should have hung up on the stream"
    );
    team.assert_no_egress();
}

#[test]
fn a_gemini_worker_in_its_own_worktree_writes_there_reports_and_resumes_in_place() {
    let scenario = Scenario::from_json(
        &json!({"rules": [
            {"id": "write", "when": {"user_contains": "WRITE-gm"},
             "reply": [{"text": "Writing it."},
                       {"shell": {"command": "echo gm was here > shared.txt"}}]},
            {"id": "wrote", "when": {"after_tool": "run_shell_command"},
             "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                        "input": {"status": "success", "summary": "wrote shared.txt"}}}]},
            {"id": "reported", "when": {"after_tool": "report_result"},
             "reply": [{"text": "Reported."}]}
        ], "default": [{"text": "OK."}]})
        .to_string(),
    )
    .unwrap();
    let Some(team) = RealTeam::new(
        "a_gemini_worker_in_its_own_worktree_writes_there_reports_and_resumes_in_place",
        scenario,
        &[Worker::gemini("gm").with("auto_approve: [\"echo gm was here > shared.txt\"]\n")],
    ) else {
        return;
    };
    let ws = team.env.workspace();
    std::fs::write(ws.join("README.txt"), "the project\n").unwrap();
    for args in [
        &["add", "README.txt"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-qm",
            "base",
        ],
    ] {
        real::git(&ws, args);
    }
    team.team_settings("isolation: worktree\n");
    team.up_allowing_slow_start(60);
    let row = team.agent("gm");
    let dir = std::path::PathBuf::from(row["worktree"]["path"].as_str().unwrap());
    assert!(dir.starts_with(ws.join(".team/worktrees")), "{row}");

    team.send("gm", "Please WRITE-gm now.", Some("t-gm"));
    let (ok, waited) = team.json(&["wait", "--task", "t-gm", "--timeout", "120"]);
    assert!(ok, "no result: {waited}\n{}", team.screens());
    assert_eq!(
        std::fs::read_to_string(dir.join("shared.txt")).unwrap_or_default(),
        "gm was here\n"
    );
    assert!(
        !ws.join("shared.txt").exists(),
        "the workspace is untouched"
    );
    // The session was found from the worktree, and Gemini says it runs there.
    let row = team.wait_agent("gm", 60, |a| {
        a["activity"] == "idle" && a["session_id"].is_string()
    });
    let session = row["session_id"].as_str().unwrap().to_string();
    let file = std::fs::read_to_string(row["transcript_path"].as_str().unwrap()).unwrap();
    let head: serde_json::Value = serde_json::from_str(file.lines().next().unwrap()).unwrap();
    assert_eq!(head["sessionId"], session.as_str());
    let directories = team.request_with("WRITE-gm").user_texts()[0].clone();
    assert!(
        directories.contains(&dir.display().to_string()),
        "Gemini's workspace is not the worktree: {directories}"
    );

    let (ok, down) = team.json(&["shutdown"]);
    assert!(ok, "{down}");
    let (ok, up) = team.json(&["restart"]);
    assert!(ok, "{up}");
    let row = team.wait_agent("gm", 90, |a| a["status"] == "running");
    assert_eq!(row["session_id"], session, "resumed in its worktree");
    team.send("gm", "SECOND-TURN-gm: done?", None);
    let second = team.request_with("SECOND-TURN-gm");
    let texts = second.user_texts();
    assert!(
        texts[..texts.len().saturating_sub(1)]
            .iter()
            .any(|t| t.contains("WRITE-gm")),
        "the resumed turn does not carry the first one: {texts:?}"
    );
    team.assert_no_egress();
}
