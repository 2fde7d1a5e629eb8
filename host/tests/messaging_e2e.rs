//! Messages and results end to end, on real tmux with scripted workers: delivery, results back to
//! a leader pane, concurrency, hostile payloads, 1 MiB, and a coordinator crash with a queue.

mod support;

use std::process::Stdio;

use support::*;

#[test]
fn a_message_is_submitted_the_worker_reports_and_the_leader_pane_gets_exactly_one_notification() {
    let env = TeamEnv::new();
    env.up_starter();
    let leader = LeaderPane::start(&env);
    let (ok, bound) = env.json(&[
        "attach-leader",
        "--pane",
        &leader.pane,
        "--socket",
        leader.socket.to_str().unwrap(),
    ]);
    assert!(ok, "{bound}");
    let (ok, sent) = env.json(&[
        "send",
        "alice",
        "Please finish task t1.\n@scripted report success all done",
        "--task",
        "t1",
    ]);
    assert!(ok && sent["status"] == "submitted", "{sent}");
    let (ok, waited) = env.json(&["wait", "--task", "t1", "--timeout", "30"]);
    assert!(ok, "{waited}");
    assert_eq!(waited["envelope"]["status"], "success");
    assert_eq!(waited["envelope"]["agent_id"], "alice");
    let (_, results) = env.json(&["results", "--task", "t1"]);
    assert_eq!(results["results"].as_array().unwrap().len(), 1);
    assert!(
        wait_until(15, || leader.notifications() >= 1),
        "the leader pane never got the notification"
    );
    std::thread::sleep(std::time::Duration::from_secs(3)); // several coordinator ticks
    assert_eq!(leader.notifications(), 1, "exactly one notification");
    let text = std::fs::read_to_string(&leader.file).unwrap();
    assert!(
        text.contains("Task t1 reported success from alice: all done"),
        "{text}"
    );
    let (_, inbox) = env.json(&["inbox", "alice"]);
    let first = &inbox["messages"][0];
    assert_eq!(
        first["status"], "acknowledged",
        "the result acknowledged the task's message: {inbox}"
    );
    assert!(env.agent("alice")["first_send_at"].is_string());
}

#[test]
fn without_a_leader_pane_notifications_wait_in_the_leader_inbox_and_status_says_so() {
    let env = TeamEnv::new();
    env.up_starter();
    assert!(
        env.json(&[
            "send",
            "bob",
            "@scripted report blocked need the API key",
            "--task",
            "t2"
        ])
        .0
    );
    assert!(env.json(&["wait", "--task", "t2", "--timeout", "30"]).0);
    let inbox = env.runtime().join("leader-inbox.log");
    assert!(wait_until(10, || std::fs::read_to_string(&inbox)
        .is_ok_and(|t| t.contains("Task t2 reported blocked from bob"))));
    assert!(env.status()["leader_inbox"]["bytes"].as_u64().unwrap() > 0);
    let leader = LeaderPane::start(&env);
    assert!(
        env.json(&[
            "attach-leader",
            "--pane",
            &leader.pane,
            "--socket",
            leader.socket.to_str().unwrap()
        ])
        .0
    );
    assert!(
        wait_until(15, || leader.notifications() == 1),
        "the waiting notification reached the new leader pane"
    );
}

#[test]
fn fifty_concurrent_sends_to_one_worker_arrive_whole_once_each() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let children: Vec<_> = (1..=50)
        .map(|i| {
            let body = format!("BEGIN-{i} {} line two of {i} END-{i}", "x".repeat(300));
            env.command()
                .args(["send", "alice", &body, "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    }
    assert!(
        wait_until(90, || env.received(&session).len() >= 50),
        "only {} arrived",
        env.received(&session).len()
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let texts = env.received(&session);
    assert_eq!(texts.len(), 50, "one message per send");
    let mut seen = std::collections::BTreeSet::new();
    for text in &texts {
        assert_eq!(
            text.matches("BEGIN-").count(),
            1,
            "interleaved: {text:.120}"
        );
        let i: usize = text
            .split("BEGIN-")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            text.contains(&format!(
                "BEGIN-{i} {} line two of {i} END-{i}",
                "x".repeat(300)
            )),
            "torn: {text:.120}"
        );
        assert!(seen.insert(i), "duplicated {i}");
    }
}

#[test]
fn hostile_payloads_arrive_sanitised_one_message_per_send() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("bob");
    let pwned = env.scratch.path().join("PWNED");
    let payloads = [
        format!("H1 hi\x1b[201~\rtouch {}\r", pwned.display()),
        "H2 \x1b]52;c;ZWNobyBwd25lZA==\x07 clipboard".to_string(),
        "H3 \x03\x04\x1a ctrl keys".to_string(),
        "H4 \x1bP+q544e\x1b\\ dcs".to_string(),
        "H5 \x1b[2J\x1b[H clear screen".to_string(),
        "H6 \x1b[200~nested\x1b[201~ after the marker\r\n".to_string(),
        "H7 \x7f\x08\x08 backspaces".to_string(),
        "H8 \u{202e} rtl override and \u{9b}8m C1 CSI".to_string(),
    ];
    for p in &payloads {
        assert!(env.json(&["send", "bob", p]).0, "send of {p:?}");
    }
    assert!(wait_until(60, || env.received(&session).len() >= 8));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let texts = env.received(&session);
    assert_eq!(texts.len(), 8, "{texts:?}");
    for (i, text) in texts.iter().enumerate() {
        assert!(text.contains(&format!("H{}", i + 1)), "{text:?}");
        let bad = text
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t');
        assert!(
            bad.is_none(),
            "a control character arrived: {bad:?} in {text:?}"
        );
    }
    assert!(!pwned.exists(), "a payload typed a command");
    assert_eq!(env.agent("bob")["status"], "running");
}

#[test]
fn a_one_mebibyte_message_is_delivered_whole() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let line = "0123456789abcdef".repeat(4) + "\n";
    let body = line.repeat((1024 * 1024 - 200) / line.len());
    let path = env.scratch.path().join("big.txt");
    std::fs::write(&path, &body).unwrap();
    let (ok, sent) = env.json(&["send", "alice", "--file", path.to_str().unwrap()]);
    assert!(ok && sent["status"] == "submitted", "{sent}");
    assert!(wait_until(60, || !env.received(&session).is_empty()));
    let got = &env.received(&session)[0];
    assert!(
        got.contains(body.trim_end()),
        "the 1 MiB body arrived whole ({} bytes received)",
        got.len()
    );
    std::fs::write(&path, "y".repeat(1024 * 1024 + 1)).unwrap();
    let (ok, refused) = env.json(&["send", "alice", "--file", path.to_str().unwrap()]);
    assert!(
        !ok && refused["error"].as_str().unwrap().contains("1 MiB"),
        "{refused}"
    );
}

#[test]
fn twenty_queued_messages_survive_a_killed_coordinator_and_are_delivered_exactly_once() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let (ok, first) = env.json(&["send", "alice", "@scripted sleep 3"]);
    assert!(ok, "{first}");
    for i in 1..=20 {
        let (ok, sent) = env.json(&["send", "alice", &format!("queued message number {i}")]);
        assert!(
            ok && sent["status"].as_str().unwrap().starts_with("queued"),
            "{sent}"
        );
    }
    let pid = env.status()["coordinator"]["pid"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_until(5, || !alive(pid)));
    assert!(env.json(&["coordinator", "start"]).0);
    assert!(
        wait_until(90, || env.received(&session).len() >= 21),
        "{} arrived",
        env.received(&session).len()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let texts = env.received(&session);
    for i in 1..=20 {
        let n = texts
            .iter()
            .filter(|t| t.contains(&format!("queued message number {i}\n")))
            .count();
        assert_eq!(n, 1, "message {i} arrived {n} times");
    }
    assert_eq!(texts.len(), 21);
}

#[test]
fn watch_prints_one_line_per_event_and_ctrl_c_exits_zero() {
    let env = TeamEnv::new();
    env.up_starter();
    let watch = env
        .command()
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(env.json(&["send", "alice", "watched message"]).0);
    std::thread::sleep(std::time::Duration::from_millis(800));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watch.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = watch.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("send.submitted") && l.contains("recipient=alice")),
        "{text}"
    );
}

/// `send` hands the message to the running coordinator, which delivers it; with no coordinator
/// answering, `send` delivers by itself. Either way the message arrives once.
#[test]
fn send_hands_off_to_the_coordinator_and_delivers_by_itself_without_one() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let coordinator = env.status()["coordinator"]["pid"].as_u64().unwrap();
    let deliverer = |id: &str| -> Option<u64> {
        std::fs::read_to_string(env.logs().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "send.submitted" && e["message_id"] == id)
            .and_then(|e| e["deliverer_pid"].as_u64())
    };
    let (ok, sent) = env.json(&["send", "alice", "via the coordinator"]);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "submitted");
    // (A tick may have claimed it first: it stores the outcome, then logs it.)
    let id = sent["message_id"].as_str().unwrap().to_string();
    assert!(wait_until(5, || deliverer(&id).is_some()));
    assert_eq!(deliverer(&id), Some(coordinator));

    // alice "works" 300 ms on each message: let her finish before the next.
    assert!(wait_until(10, || env
        .received(&session)
        .iter()
        .any(|t| t.contains("via the coordinator"))));
    std::thread::sleep(std::time::Duration::from_millis(800));
    let (ok, _) = env.json(&["coordinator", "stop"]);
    assert!(ok);
    let (ok, sent) = env.json(&["send", "alice", "without a coordinator"]);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "submitted");
    let id = sent["message_id"].as_str().unwrap().to_string();
    assert!(wait_until(5, || deliverer(&id).is_some()));
    let by = deliverer(&id).unwrap();
    assert_ne!(by, coordinator);
    assert!(wait_until(10, || {
        let got = env.received(&session);
        got.iter()
            .filter(|t| t.contains("via the coordinator"))
            .count()
            == 1
            && got
                .iter()
                .filter(|t| t.contains("without a coordinator"))
                .count()
                == 1
    }));
}

#[test]
fn a_store_moved_aside_is_reopened_by_the_running_coordinator() {
    let env = TeamEnv::new();
    env.up_starter();
    let (ok, first) = env.json(&[
        "send",
        "alice",
        "@scripted report success before",
        "--task",
        "t-before",
    ]);
    assert!(ok, "{first}");
    assert!(
        env.json(&["wait", "--task", "t-before", "--timeout", "30"])
            .0
    );
    // What doctor advises for a corrupt store: move it aside.
    let runtime = env.runtime();
    for name in ["team.db", "team.db-wal", "team.db-shm"] {
        let _ = std::fs::rename(runtime.join(name), runtime.join(format!("{name}.aside")));
    }
    let (ok, sent) = env.json(&[
        "send",
        "alice",
        "@scripted report success after",
        "--task",
        "t-after",
    ]);
    assert!(ok, "{sent}");
    let (ok, waited) = env.json(&["wait", "--task", "t-after", "--timeout", "30"]);
    assert!(
        ok,
        "the message in the new store was never delivered: {waited}"
    );
    assert_eq!(waited["envelope"]["summary"], "after");
}

#[test]
fn a_worker_gets_its_messages_in_the_order_they_were_sent() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    assert!(env.json(&["send", "alice", "ORDER-1 @scripted sleep 2"]).0);
    // The coordinator, which would deliver the queue as soon as she is idle, is held still, then
    // killed: the moment a direct send and the queue race is made to last.
    let coordinator = env.status()["coordinator"]["pid"].as_u64().unwrap() as i32;
    let signal = |sig: &str| {
        assert!(
            std::process::Command::new("kill")
                .args([sig, &coordinator.to_string()])
                .status()
                .unwrap()
                .success()
        )
    };
    signal("-STOP");
    for n in 2..=4 {
        let (ok, sent) = env.json(&["send", "alice", &format!("ORDER-{n}"), "--no-wait"]);
        assert!(ok, "{sent}");
    }
    std::thread::sleep(std::time::Duration::from_secs(3)); // she is idle again
    signal("-KILL");
    // Sent with delivery: it must not overtake the three queued before it.
    let (ok, sent) = env.json(&["send", "alice", "ORDER-5"]);
    assert!(ok, "{sent}");
    assert!(
        wait_until(60, || env.received(&session).len() >= 5),
        "{:?}",
        env.received(&session)
    );
    let order: Vec<usize> = env
        .received(&session)
        .iter()
        .filter_map(|t| {
            t.split("ORDER-")
                .nth(1)?
                .chars()
                .next()?
                .to_digit(10)
                .map(|d| d as usize)
        })
        .collect();
    assert_eq!(order, [1, 2, 3, 4, 5], "{:?}", env.received(&session));
}

#[test]
fn a_corrupt_store_is_an_error_in_status_not_zero_pending() {
    let env = TeamEnv::new();
    env.up_starter();
    // The running coordinator holds the store open: its next checkpoint would write the pages
    // back over the damage. Stopped, nothing repairs the file behind the test's back.
    assert!(env.json(&["coordinator", "stop"]).0);
    let runtime = env.runtime();
    for name in ["team.db-wal", "team.db-shm"] {
        let _ = std::fs::remove_file(runtime.join(name));
    }
    std::fs::write(runtime.join("team.db"), vec![0x5a; 8192]).unwrap();
    let (ok, status) = env.json(&["status"]);
    assert!(!ok, "{status}");
    assert!(status["message_store_error"].is_string(), "{status}");
    assert_eq!(
        status["running"], true,
        "the team itself is still shown: {status}"
    );
    let text = stdout(&env.run(&["status"]));
    assert!(text.contains("message store: cannot be read"), "{text}");
}

#[test]
fn sends_killed_half_way_never_merge_into_the_next_message_nor_arrive_twice() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    assert!(env.json(&["coordinator", "stop"]).0);
    // Ten sends at once; every other one killed 0–30 ms after it started (a fixed sequence).
    let mut children = Vec::new();
    for i in 0..10u64 {
        let child = env
            .command()
            .args([
                "send",
                "alice",
                &format!("KILLED-SEND-{i}\nline two of {i}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        children.push((i, child));
    }
    for (i, child) in &mut children {
        if *i % 2 == 1 {
            std::thread::sleep(std::time::Duration::from_millis(*i * 3 % 31));
            let _ = child.kill();
        }
    }
    for (_, mut child) in children {
        let _ = child.wait();
    }
    // Whatever was stored is delivered by the coordinator the next command brings back.
    assert!(env.json(&["coordinator", "start"]).0);
    let stored = || -> Vec<String> {
        env.stored_for("alice")
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_string())
            .collect()
    };
    let delivered_all = wait_until(60, || {
        let texts = env.received(&session);
        stored().iter().all(|id| times_arrived(&texts, id) > 0)
    });
    std::thread::sleep(std::time::Duration::from_secs(2)); // more ticks: nothing more arrives
    let texts = env.received(&session);
    assert!(delivered_all, "stored {:?}, received {texts:?}", stored());
    for text in &texts {
        assert_eq!(
            text.matches("[team-agent-token:").count(),
            1,
            "one message per turn, never two merged: {text:?}"
        );
    }
    for id in stored() {
        assert_eq!(
            times_arrived(&texts, &id),
            1,
            "{id} arrived once: {texts:?}"
        );
    }
}

#[test]
fn a_message_is_never_pasted_into_text_the_host_did_not_put_there() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let pane = env.agent("alice")["pane_id"].as_str().unwrap().to_string();
    // Someone typing in alice's pane: the message waits instead of joining the text.
    assert!(
        env.tmux(&["send-keys", "-t", &pane, "-l", "half a thought"])
            .status
            .success()
    );
    let (ok, sent) = env.json(&["send", "alice", "FIRST-AFTER-TYPING"]);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "queued_input_not_empty", "{sent}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        env.received(&session).is_empty(),
        "{:?}",
        env.received(&session)
    );
    // Once the input is empty again, the message goes through on its own.
    assert!(
        env.tmux(&["send-keys", "-t", &pane, "C-u"])
            .status
            .success()
    );
    assert!(wait_until(20, || env
        .received(&session)
        .iter()
        .any(|t| t.contains("FIRST-AFTER-TYPING"))));
    std::thread::sleep(std::time::Duration::from_secs(1)); // her turn (300 ms of work) ends
    // What an interrupted delivery of ours left (a folded paste, its token hidden) is cleared
    // first, never merged.
    let paste = "Team Agent message from leader:\n\n[Pasted text #1 +4 lines]";
    let buffer = env.tmux(&["set-buffer", "-b", "leftover", paste]);
    assert!(buffer.status.success());
    assert!(
        env.tmux(&["paste-buffer", "-p", "-b", "leftover", "-t", &pane])
            .status
            .success()
    );
    let (ok, sent) = env.json(&["send", "alice", "SECOND-AFTER-LEFTOVER"]);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "submitted", "{sent}");
    assert!(wait_until(20, || env
        .received(&session)
        .iter()
        .any(|t| t.contains("SECOND-AFTER-LEFTOVER"))));
    let texts = env.received(&session);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts
            .iter()
            .all(|t| !t.contains("half a thought") && !t.contains("[Pasted text")),
        "nothing foreign merged in: {texts:?}"
    );
}

/// A deliverer that died after pressing a message's submit keys (or just before) left it
/// `delivering`: the next one looks in the worker's transcript before it pastes. One the worker
/// took is recorded as submitted and never sent again; one it never got is delivered, once.
#[test]
fn a_message_whose_deliverer_died_at_the_submit_keys_arrives_once() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let (ok, sent) = env.json(&["send", "alice", "TAKEN-BEFORE-THE-CRASH"]);
    assert!(ok, "{sent}");
    let taken = sent["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a message id in {sent}"))
        .to_string();
    assert!(wait_until(30, || env.received(&session).len() == 1));
    // The team goes down; a message is stored meanwhile and never delivered.
    assert!(env.json(&["shutdown"]).0);
    let (ok, sent) = env.json(&["send", "alice", "NEVER-PASTED", "--no-wait"]);
    assert!(ok, "{sent}");
    let lost = sent["message_id"].as_str().unwrap().to_string();
    // Both as a deliverer killed at the submit keys leaves them (its pid long gone).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let db = rusqlite::Connection::open(env.runtime().join("team.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE messages SET status = 'delivering', delivering_pid = ?1, submitted_at = NULL,
             submit_sent_at = '2026-01-01T00:00:00.000Z' WHERE message_id IN (?2, ?3)",
            rusqlite::params![dead, taken, lost],
        )
        .unwrap();
    assert_eq!(changed, 2);
    drop(db);
    // A new pane (nothing of the first delivery on screen); the coordinator takes both over.
    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
    let status_of = |id: &str| -> String {
        env.stored_message("alice", id)
            .map(|m| m["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let delivered = |id: &str| matches!(status_of(id).as_str(), "submitted" | "consumed");
    assert!(
        wait_until(30, || delivered(&taken) && delivered(&lost)),
        "{} {}",
        status_of(&taken),
        status_of(&lost)
    );
    std::thread::sleep(std::time::Duration::from_secs(2)); // more ticks: nothing more arrives
    let texts = env.received(&session);
    for id in [&taken, &lost] {
        assert_eq!(times_arrived(&texts, id), 1, "{id} arrived once: {texts:?}");
    }
}

/// `send --wait consumed` returns once the worker's CLI took the message (its transcript shows
/// it), and the coordinator records the receipt for a plain send too; a message that cannot be
/// taken (the worker is stopped) ends the wait with exit 1 and says why.
#[test]
fn a_message_is_consumed_when_the_worker_takes_it_and_send_can_wait_for_that() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("alice");
    let (ok, sent) = env.json(&["send", "alice", "TAKE-THIS", "--wait", "consumed"]);
    assert!(ok, "{sent}");
    assert_eq!(sent["status"], "consumed", "{sent}");
    let id = sent["message_id"].as_str().unwrap().to_string();
    assert_eq!(times_arrived(&env.received(&session), &id), 1);
    // A plain send: the coordinator moves it on from submitted at its next ticks.
    let (ok, sent) = env.json(&["send", "alice", "AND-THIS"]);
    assert!(ok, "{sent}");
    let plain = sent["message_id"].as_str().unwrap().to_string();
    let status_of = |id: &str| {
        env.stored_message("alice", id)
            .map(|m| m["status"].as_str().unwrap().to_string())
    };
    assert!(
        wait_until(20, || status_of(&plain).as_deref() == Some("consumed")),
        "{:?}",
        status_of(&plain)
    );
    // The activity shown says where it came from.
    let alice = env.agent("alice");
    assert_eq!(alice["activity_source"], "hook", "{alice}");
    assert!(alice["activity_since"].is_string(), "{alice}");
    // A stopped worker takes nothing: the wait ends, saying so.
    assert!(env.json(&["stop-agent", "bob"]).0);
    let out = env.run(&[
        "send",
        "bob",
        "NOT-TAKEN",
        "--wait",
        "consumed",
        "--timeout",
        "1",
        "--json",
    ]);
    assert!(!out.status.success());
    let answer = json(&out);
    assert!(
        answer["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("queued_")),
        "{answer}"
    );
    assert!(
        answer["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not taken by bob")),
        "{answer}"
    );
}
