//! The CLIs' own signals, end to end with scripted workers (whose agent runs hooks the way Claude
//! Code does): hooks drive the status through a turn with a tool and an approval, a prompt hook
//! marks the message consumed, a worker without hooks falls back to transcript and screen, a
//! message whose worker's input stays held is bounced to its sender with the reason, a slow tool
//! is `in_tool` and not stuck, a frozen turn is stuck; workers start and hook through the lean
//! `team-agent-worker`.

mod support;

use support::*;

fn events(env: &TeamEnv, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.logs().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == name)
        .collect()
}

fn inbox(env: &TeamEnv) -> String {
    std::fs::read_to_string(env.runtime().join("leader-inbox.log")).unwrap_or_default()
}

/// A starter team with quick ticks and the given extra TEAM.md settings; bob without hooks.
fn team(env: &TeamEnv, settings: &str) {
    assert!(env.run(&["init", "team"]).status.success());
    let dir = env.workspace().join("team");
    let text = std::fs::read_to_string(dir.join("TEAM.md"))
        .unwrap()
        .replace(
            "tick_interval_sec: 2",
            &format!("tick_interval_sec: 0.5\n{settings}"),
        );
    std::fs::write(dir.join("TEAM.md"), text).unwrap();
    let bob = std::fs::read_to_string(dir.join("agents/bob.md"))
        .unwrap()
        .replace(
            "provider: scripted\n",
            "provider: scripted\nprovider_options:\n  hooks: false\n",
        );
    std::fs::write(dir.join("agents/bob.md"), bob).unwrap();
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "{up}");
}

/// Waits until `id`'s status row satisfies `done`; the last row seen.
fn wait_row(
    env: &TeamEnv,
    id: &str,
    seconds: u64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let reached = wait_until(seconds, || {
        last = env.agent(id);
        done(&last)
    });
    assert!(reached, "{id} never got there; last status row: {last}");
    last
}

#[test]
fn hooks_drive_the_status_through_a_turn_with_a_tool_and_an_approval() {
    let env = TeamEnv::new();
    team(&env, "");
    wait_row(&env, "alice", 20, |a| a["activity"] == "idle");
    // A plain send: the coordinator takes the receipt (`send --wait consumed` may read the
    // transcript itself first).
    let (ok, sent) = env.json(&["send", "alice", "@scripted tool Slowtool 3"]);
    assert!(ok, "{sent}");
    let id = sent["message_id"].as_str().unwrap().to_string();
    // Each time, the hook's word (its process may start after the transcript or the screen has
    // said the same on a loaded machine; the hook then wins).
    let by_hook = |activity: &'static str| {
        move |a: &serde_json::Value| a["activity"] == activity && a["activity_source"] == "hook"
    };
    let row = wait_row(&env, "alice", 10, by_hook("in_tool"));
    assert_eq!(row["activity_detail"]["tool"], "Slowtool", "{row}");
    assert!(row["hook"]["at"].is_string(), "{row}");
    let row = wait_row(&env, "alice", 15, by_hook("idle"));
    assert_eq!(row["activity_source"], "hook", "{row}");
    // The prompt hook told the coordinator the CLI took the message.
    let consumed = events(&env, "send.consumed");
    let receipt = consumed
        .iter()
        .find(|e| e["message_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no receipt for {id}: {consumed:?}"));
    assert_eq!(receipt["source"], "hook", "{receipt}");
    let kinds: Vec<String> = events(&env, "agent.hook")
        .iter()
        .filter(|e| e["agent_id"] == "alice")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    let turn: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .skip_while(|k| *k != "prompt_submitted")
        .collect();
    assert_eq!(
        &turn[..4],
        [
            "prompt_submitted",
            "tool_started",
            "tool_finished",
            "turn_ended"
        ],
        "{kinds:?}"
    );
    // An approval prompt: the hook says so, and the leader is asked once.
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.rm"])
            .0
    );
    // The screen may show the prompt a moment before the hook's process has told the
    // coordinator (a loaded machine starts processes slowly); then the hook's word wins.
    let row = wait_row(&env, "alice", 15, |a| {
        a["activity"] == "awaiting_approval" && a["activity_source"] == "hook"
    });
    assert_eq!(row["activity_source"], "hook", "{row}");
    assert!(wait_until(10, || inbox(&env)
        .contains("alice is waiting for an approval")));
    assert!(env.json(&["answer", "alice", "no"]).0);
    wait_row(&env, "alice", 15, |a| a["activity"] == "idle");
}

#[test]
fn a_worker_without_hooks_is_read_from_its_transcript_and_screen() {
    let env = TeamEnv::new();
    team(&env, "");
    let (ok, sent) = env.json(&["send", "bob", "hello", "--wait", "consumed"]);
    assert!(ok, "{sent}");
    let row = wait_row(&env, "bob", 15, |a| a["activity"] == "idle");
    assert!(
        matches!(
            row["activity_source"].as_str(),
            Some("transcript" | "screen")
        ),
        "{row}"
    );
    assert!(row["hook"].is_null(), "{row}");
    assert!(!std::fs::exists(env.runtime().join("hooks/bob.jsonl")).unwrap());
    let id = sent["message_id"].as_str().unwrap();
    let receipt = events(&env, "send.consumed")
        .into_iter()
        .find(|e| e["message_id"] == id)
        .unwrap();
    assert_eq!(receipt["source"], "transcript", "{receipt}");
}

#[test]
fn a_message_whose_worker_input_stays_held_is_bounced_to_its_sender_with_the_reason() {
    let env = TeamEnv::new();
    team(&env, "consume_timeout_sec: 2");
    wait_row(&env, "alice", 20, |a| a["activity"] == "idle");
    let pane = env.agent("alice")["pane_id"].as_str().unwrap().to_string();
    // Someone's draft in alice's input box: nothing may be pasted into it.
    assert!(
        env.tmux(&["send-keys", "-t", &pane, "-l", "half-typed draft"])
            .status
            .success()
    );
    let out = env.run(&[
        "send",
        "alice",
        "BOUNCE-ME",
        "--wait",
        "consumed",
        "--timeout",
        "30",
        "--json",
    ]);
    let answer = json(&out);
    assert!(!out.status.success(), "{answer}");
    assert_eq!(answer["status"], "bounced", "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .is_some_and(|d| d.contains("input stayed held")),
        "{answer}"
    );
    // The leader (its sender) is told why, with what alice's screen showed.
    assert!(
        wait_until(10, || inbox(&env).contains("bounced")),
        "{}",
        inbox(&env)
    );
    let told = inbox(&env);
    assert!(told.contains("half-typed draft"), "{told}");
    let bounced = events(&env, "send.bounced");
    assert_eq!(bounced.len(), 1, "{bounced:?}");
    // It was never typed into the draft.
    let session = env.session_of("alice");
    assert_eq!(
        times_arrived(
            &env.received(&session),
            answer["message_id"].as_str().unwrap()
        ),
        0
    );
}

#[test]
fn a_slow_tool_is_in_tool_not_stuck_and_a_frozen_turn_is_stuck() {
    let env = TeamEnv::new();
    team(&env, "stuck_timeout_sec: 2\nlong_tool_notice_sec: 3");
    wait_row(&env, "alice", 20, |a| a["activity"] == "idle");
    assert!(env.json(&["send", "alice", "@scripted tool Build 8"]).0);
    wait_row(&env, "alice", 10, |a| a["activity"] == "in_tool");
    // Well past the stuck timeout, with the tool's process alive: slow, told once as information.
    assert!(wait_until(15, || !events(&env, "coordinator.long_tool").is_empty()));
    let long = &events(&env, "coordinator.long_tool")[0];
    assert_eq!(long["tool"], "Build", "{long}");
    assert!(
        long["processes"][0].as_str().unwrap().contains("sleep"),
        "{long}"
    );
    assert!(inbox(&env).contains("slow, not stuck"), "{}", inbox(&env));
    assert!(
        events(&env, "coordinator.agent_stuck").is_empty(),
        "a live tool is not stuck"
    );
    wait_row(&env, "alice", 15, |a| a["activity"] == "idle");
    assert_eq!(events(&env, "coordinator.long_tool").len(), 1);
    // A frozen turn: working, no hook, no transcript change, nothing new on screen.
    assert!(env.json(&["send", "alice", "@scripted freeze 15"]).0);
    assert!(
        wait_until(15, || !events(&env, "coordinator.agent_stuck").is_empty()),
        "never stuck: {}",
        env.agent("alice")
    );
    let stuck = &events(&env, "coordinator.agent_stuck")[0];
    assert_eq!(stuck["agent_id"], "alice", "{stuck}");
    assert_eq!(stuck["activity"], "working", "{stuck}");
    assert!(inbox(&env).contains("alice looks stuck"), "{}", inbox(&env));
    // The notice and the status row come from the same tick; a loaded machine may read the
    // row before that tick's state is saved.
    assert!(
        wait_until(10, || env.agent("alice")["stuck_since"].is_string()),
        "{}\n{:?}",
        env.agent("alice"),
        events(&env, "coordinator.agent_unstuck")
    );
}

#[test]
fn a_message_typed_but_never_taken_is_typed_once_more_then_bounced() {
    let env = TeamEnv::new();
    team(&env, "consume_timeout_sec: 2");
    wait_row(&env, "alice", 20, |a| a["activity"] == "idle");
    // From now on alice's CLI swallows what is submitted: the input clears, nothing takes it.
    let (ok, sent) = env.json(&["send", "alice", "@scripted deaf 60", "--wait", "consumed"]);
    assert!(ok, "{sent}");
    wait_row(&env, "alice", 15, |a| a["activity"] == "idle");
    let out = env.run(&[
        "send",
        "alice",
        "NEVER-TAKEN",
        "--wait",
        "consumed",
        "--timeout",
        "40",
        "--json",
    ]);
    let answer = json(&out);
    assert!(!out.status.success(), "{answer}");
    assert_eq!(answer["status"], "bounced", "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .is_some_and(|d| d.contains("typed twice")),
        "{answer}"
    );
    let id = answer["message_id"].as_str().unwrap();
    let retried = events(&env, "send.retried");
    assert_eq!(
        retried.iter().filter(|e| e["message_id"] == id).count(),
        1,
        "{retried:?}"
    );
    assert!(wait_until(10, || inbox(&env)
        .contains(&format!("Your message {id} to alice bounced"))));
}

/// A message typed into a CLI that ended before it took it (stopped, or the whole team shut down,
/// right after its submit keys) reaches the CLI that resumes the session as soon as it starts:
/// back in the queue, not left to the consume timeout (ten minutes here).
#[test]
fn a_message_a_cli_never_took_before_it_ended_reaches_the_cli_that_resumes_it() {
    let env = TeamEnv::new();
    team(&env, "consume_timeout_sec: 600");
    wait_row(&env, "alice", 20, |a| a["activity"] == "idle");
    let session = env.session_of("alice");
    let mut lost = Vec::new();
    for (i, stop) in [["stop-agent", "alice"], ["shutdown", ""]]
        .iter()
        .enumerate()
    {
        let (ok, sent) = env.json(&["send", "alice", "@scripted deaf 60", "--wait", "consumed"]);
        assert!(ok, "{sent}");
        wait_row(&env, "alice", 15, |a| a["activity"] == "idle");
        let text = format!("TYPED-BEFORE-THE-END-{i}");
        let (ok, sent) = env.json(&["send", "alice", &text]);
        assert!(ok, "{sent}");
        let id = sent["message_id"].as_str().unwrap().to_string();
        let stored = |id: &str| env.stored_message("alice", id).unwrap();
        // Typed into the CLI (on a loaded machine the screen may still read busy for a moment:
        // then the coordinator types it at a tick), and never taken.
        assert!(
            wait_until(15, || stored(&id)["status"] == "submitted"),
            "{sent} {}",
            stored(&id)
        );
        let args: Vec<&str> = stop.iter().copied().filter(|a| !a.is_empty()).collect();
        assert!(env.run(&args).status.success());
        let again = if stop[0] == "shutdown" {
            env.json(&["restart"])
        } else {
            env.json(&["start-agent", "alice"])
        };
        assert!(again.0, "{}", again.1);
        assert_eq!(env.session_of("alice"), session, "the same session resumed");
        assert!(
            wait_until(30, || stored(&id)["status"] == "consumed"),
            "{id} after {}: {}",
            stop[0],
            stored(&id)
        );
        let requeued = events(&env, "send.requeued");
        assert_eq!(
            requeued.iter().filter(|e| e["message_id"] == id).count(),
            1,
            "{requeued:?}"
        );
        lost.push((id, text));
    }
    assert!(
        events(&env, "send.retried").is_empty(),
        "not the consume timeout's retry"
    );
    let received = env.received(&session);
    for (id, text) in lost {
        let token = format!("[team-agent-token:{id}]");
        let at: Vec<_> = received.iter().filter(|t| t.contains(&token)).collect();
        assert_eq!(at.len(), 1, "{id} taken once: {received:?}");
        assert!(at[0].contains(&text), "{at:?}");
    }
}

/// A hook that says "working" while transcript and screen say idle (a lost Stop, or a hook run
/// by hand): after the bound the disagreement is an event and the lower sources win, until the
/// hooks speak again.
#[test]
fn sources_that_disagree_for_long_are_an_event_and_the_lower_source_wins() {
    let env = TeamEnv::new();
    team(&env, "");
    let (ok, sent) = env.json(&["send", "alice", "hello", "--wait", "consumed"]);
    assert!(ok, "{sent}");
    wait_row(&env, "alice", 20, |a| {
        a["activity"] == "idle" && a["activity_source"] == "hook"
    });
    let mut hook = env.command();
    hook.args(["hook", "--agent", "alice", "UserPromptSubmit"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = hook.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"hook_event_name":"UserPromptSubmit","session_id":"x","prompt":"typed by hand"}"#,
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "a hook prints nothing on stdout");
    let row = wait_row(&env, "alice", 10, |a| a["activity"] == "working");
    assert_eq!(row["activity_source"], "hook", "{row}");
    let row = wait_row(&env, "alice", 40, |a| a["activity"] == "idle");
    assert_ne!(row["activity_source"], "hook", "{row}");
    let said = events(&env, "agent.activity_disagreement");
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["hook"], "working", "{said:?}");
    assert_eq!(said[0]["other"], "idle", "{said:?}");
}

/// Every worker starts, and every hook of its CLI runs, through the lean `team-agent-worker`
/// installed beside `team-agent`; a line it does not know goes to `team-agent` beside it.
#[test]
fn workers_start_and_hook_through_the_lean_worker_binary_which_hands_the_rest_to_team_agent() {
    let env = TeamEnv::new();
    team(&env, "");
    let lean = team_agent_bin().with_file_name("team-agent-worker");
    let started = env.tmux(&["list-panes", "-a", "-F", "#{pane_start_command}"]);
    let started = String::from_utf8_lossy(&started.stdout).into_owned();
    let lean_text = lean.to_string_lossy();
    for line in started.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.contains(&format!("{lean_text} worker-exec --env-file")),
            "a worker started otherwise: {line}"
        );
    }
    assert!(
        started.contains(&format!("[\"{lean_text}\",\"--workspace\"")),
        "alice's hooks do not run the lean binary: {started}"
    );
    // Its hooks reached the coordinator: alice's status came from one.
    let (ok, sent) = env.json(&["send", "alice", "hello", "--wait", "consumed"]);
    assert!(ok, "{sent}");
    wait_row(&env, "alice", 20, |a| {
        a["activity"] == "idle" && a["activity_source"] == "hook"
    });
    // Anything but its two lines is team-agent's, answered by team-agent itself.
    let out = std::process::Command::new(&lean)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("team-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let out = std::process::Command::new(&lean)
        .args(["no-such-command"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown command 'no-such-command'"),
        "{}",
        stderr(&out)
    );
}
