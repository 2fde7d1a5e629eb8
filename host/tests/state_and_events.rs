//! Crash and concurrency proofs for `state.json` and the event log, with real processes: the
//! test binary re-runs itself as the writer (an environment variable selects the role).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use team_agent::events::EventLog;
use team_agent::state::{StateError, StateStore};
use team_agent::workspace::Workspace;

const STATE_CHILD: &str = "TA_TEST_STATE_WRITER";
const EVENTS_CHILD: &str = "TA_TEST_EVENTS_WRITER";

/// What revision `n` holds, so a reader can tell a whole revision from a torn one.
fn payload(revision: u64) -> String {
    format!("r{revision}-").repeat((revision % 97) as usize + 1)
}

fn spawn_self(test: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// The writer: saves revision after revision until it is killed.
#[test]
fn state_writer_process() {
    let Ok(dir) = std::env::var(STATE_CHILD) else {
        return;
    };
    let store = StateStore::new(&Workspace::at(PathBuf::from(dir)));
    loop {
        store
            .update(|state| {
                let next = state.revision + 1;
                state.extra.insert("check".into(), json!(next));
                state.extra.insert("payload".into(), json!(payload(next)));
                Ok::<_, StateError>(())
            })
            .unwrap();
    }
}

#[test]
fn state_json_survives_200_sigkills_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let store = StateStore::new(&Workspace::at(dir.path()));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut last_revision = 0;
    for round in 0..200 {
        let mut child = spawn_self("state_writer_process", &[(STATE_CHILD, &path)]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(2_000 + seed % 25_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let state = store
            .load()
            .unwrap_or_else(|e| panic!("round {round}: state.json unreadable: {e}"));
        if state.revision == 0 {
            continue; // killed before its first save
        }
        assert_eq!(
            state.extra["check"],
            json!(state.revision),
            "round {round}: a torn revision"
        );
        assert_eq!(
            state.extra["payload"],
            json!(payload(state.revision)),
            "round {round}: a torn payload"
        );
        assert!(
            state.revision >= last_revision,
            "round {round}: the revision went backwards"
        );
        last_revision = state.revision;
    }
    assert!(last_revision > 0, "the writer never saved");
}

#[test]
fn a_stale_writer_gets_a_conflict_instead_of_overwriting() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(&Workspace::at(dir.path()));
    store
        .update(|s| Ok::<_, StateError>(s.extra.insert("v".into(), json!(1))))
        .unwrap();
    let mut stale = store.load().unwrap();
    store
        .update(|s| Ok::<_, StateError>(s.extra.insert("v".into(), json!(2))))
        .unwrap();
    stale.extra.insert("v".into(), json!(3));
    match store.save(&mut stale) {
        Err(StateError::Conflict {
            held: 1,
            on_disk: 2,
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.load().unwrap().extra["v"], json!(2));
}

#[test]
fn a_corrupt_state_file_is_preserved_never_overwritten_and_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path());
    let store = StateStore::new(&ws);
    store
        .update(|s| {
            s.team = Some(team_agent::state::TeamState {
                name: "t".into(),
                session_name: "team-t".into(),
                tmux_socket: "/tmp/sock".into(),
                definition: "/tmp/t".into(),
                status: team_agent::state::TeamStatus::Running,
                started_at: None,
                stopped_at: None,
                agents: Default::default(),
                leader: None,
                owner: None,
                display: None,
                timing: Default::default(),
                idle_monitor: Default::default(),
                idle_acknowledged_until: None,
                leader_api_error: None,
                notify: None,
                extra: Default::default(),
            });
            Ok::<_, StateError>(())
        })
        .unwrap();
    std::fs::write(store.path(), b"{\"revision\": 7, \"team\": {trunc").unwrap();
    let err = store.update(|_| Ok::<_, StateError>(())).unwrap_err();
    let StateError::Corrupt { preserved, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(err.to_string().contains("team-agent doctor"), "{err}");
    assert_eq!(
        std::fs::read(preserved).unwrap(),
        b"{\"revision\": 7, \"team\": {trunc"
    );
    assert_eq!(
        std::fs::read(store.path()).unwrap(),
        b"{\"revision\": 7, \"team\": {trunc",
        "not overwritten"
    );
    let snapshot = store
        .snapshots()
        .into_iter()
        .next()
        .expect("a team snapshot");
    store.restore_from(&snapshot).unwrap();
    assert_eq!(store.load().unwrap().team.unwrap().name, "t");
    assert!(preserved.exists(), "the corrupt copy stays");
}

#[test]
fn fields_from_a_newer_version_survive_a_save() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(&Workspace::at(dir.path()));
    std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
    std::fs::write(
        store.path(),
        r#"{"schema_version": 9, "revision": 4, "future_top": {"a": 1}, "team": null}"#,
    )
    .unwrap();
    store
        .update(|s| Ok::<_, StateError>(s.extra.insert("mine".into(), json!(true))))
        .unwrap();
    let text = std::fs::read_to_string(store.path()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["future_top"], json!({"a": 1}));
    assert_eq!(value["schema_version"], 9, "never downgraded");
    assert_eq!(value["revision"], 5);
}

/// A state written before these fields were typed (they lived in `extra` under the same keys)
/// loads into the typed fields, and a key no version knows still survives a save.
#[test]
fn a_state_from_before_the_typed_fields_loads_into_them_and_keeps_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(&Workspace::at(dir.path()));
    std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
    let old = json!({
        "revision": 3,
        "team": {
            "name": "t", "session_name": "team-t", "tmux_socket": "/tmp/s", "definition": "/tmp/t",
            "status": "running",
            "idle_monitor": {"armed": true, "idle_since": "2026-12-01T00:00:00.000Z"},
            "idle_acknowledged_until": "2026-12-01T01:00:00.000Z",
            "leader_api_error": {"class": "overloaded", "since": "2026-12-01T00:00:00.000Z"},
            "a_future_team_key": [1, 2],
            "agents": {"alice": {
                "id": "alice", "provider": "scripted", "status": "running",
                "pane_pid": 4242,
                "launch_mode": {"kind": "fork", "source_session_id": "s-1"},
                "forked_from": "s-1",
                "api_error": {"class": "rate_limit", "ended": true, "since": "2026-12-01T00:00:00.000Z"},
                "api_error_notified": "2026-12-01T00:00:00.000Z",
                "stuck_notified_at": "2026-12-01T00:00:00.000Z",
                "approval_notified": "Allow?",
                "a_future_agent_key": {"x": true}
            }}
        }
    });
    std::fs::write(store.path(), old.to_string()).unwrap();
    let team = store.load().unwrap().team.unwrap();
    assert!(team.idle_monitor.armed);
    assert_eq!(team.leader_api_error.as_ref().unwrap().class, "overloaded");
    let alice = &team.agents["alice"];
    assert_eq!(alice.pane_pid, Some(4242));
    assert_eq!(alice.forked_from.as_deref(), Some("s-1"));
    let episode = alice.api_error.as_ref().unwrap();
    assert_eq!(
        (episode.class.as_str(), episode.ended),
        ("rate_limit", true)
    );
    assert_eq!(alice.approval_notified.as_deref(), Some("Allow?"));
    assert!(alice.extra.contains_key("a_future_agent_key"));
    assert!(
        !alice.extra.contains_key("pane_pid"),
        "typed, not left in extra"
    );
    store.update(|_| Ok::<_, StateError>(())).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.path()).unwrap()).unwrap();
    assert_eq!(saved["team"]["a_future_team_key"], json!([1, 2]));
    assert_eq!(
        saved["team"]["agents"]["alice"]["a_future_agent_key"],
        json!({"x": true})
    );
    assert_eq!(saved["team"]["agents"]["alice"]["pane_pid"], 4242);
    assert_eq!(saved["team"]["idle_monitor"]["armed"], true);
}

/// An event writer: 10,000 events, then exit.
#[test]
fn events_writer_process() {
    let Ok(spec) = std::env::var(EVENTS_CHILD) else {
        return;
    };
    let (path, writer) = spec.split_once('|').unwrap();
    let log = EventLog::at(path);
    let pad = "p".repeat(150);
    for seq in 0..10_000 {
        log.append(
            "test.concurrent",
            &json!({"writer": writer, "seq": seq, "pad": pad}),
        )
        .unwrap();
    }
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn four_processes_append_40000_events_without_interleaving_or_tearing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let children: Vec<Child> = (0..4)
        .map(|w| {
            spawn_self(
                "events_writer_process",
                &[(EVENTS_CHILD, &format!("{}|w{w}", path.display()))],
            )
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    // Oldest archive first, the live file last.
    let mut files: Vec<PathBuf> = (1..=5)
        .rev()
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .collect();
    files.push(path.clone());
    let mut next = std::collections::HashMap::new();
    let mut total = 0;
    for file in files {
        for line in lines_of(&file) {
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("torn line ({e}): {line:.80}"));
            let writer = event["writer"].as_str().unwrap().to_string();
            let seq = event["seq"].as_u64().unwrap();
            let expected = next.entry(writer.clone()).or_insert(0u64);
            assert_eq!(
                seq, *expected,
                "writer {writer}: events out of order or lost"
            );
            *expected += 1;
            total += 1;
        }
    }
    assert_eq!(total, 40_000);
    assert!(
        PathBuf::from(format!("{}.1", path.display())).exists(),
        "the log rotated under load"
    );
}

#[test]
fn the_state_writer_refuses_two_live_agents_in_one_pane_and_a_revision_that_would_wrap() {
    use team_agent::state::{AgentState, AgentStatus, TeamState};
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(&Workspace::at(dir.path()));
    let team_with = |panes: [(&str, AgentStatus); 2]| {
        let mut team: TeamState = serde_json::from_value(json!({
            "name": "t", "status": "running", "session_name": "team-t",
            "tmux_socket": "/tmp/x", "definition": "team", "agents": {}
        }))
        .unwrap();
        for (id, (pane, status)) in ["alice", "bob"].into_iter().zip(panes) {
            let mut agent = AgentState::new(id, "scripted");
            agent.pane_id = Some(pane.into());
            agent.status = status;
            team.agents.insert(id.into(), agent);
        }
        team
    };
    let shared = store.update(|s| {
        s.team = Some(team_with([
            ("%0", AgentStatus::Running),
            ("%0", AgentStatus::Starting),
        ]));
        Ok::<_, StateError>(())
    });
    match shared {
        Err(StateError::SharedPane { pane, .. }) => assert_eq!(pane, "%0"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A stopped agent keeps the id of a pane of a server long gone: no conflict.
    store
        .update(|s| {
            s.team = Some(team_with([
                ("%0", AgentStatus::Running),
                ("%0", AgentStatus::Stopped),
            ]));
            Ok::<_, StateError>(())
        })
        .unwrap();
    let mut at_end = store.load().unwrap();
    at_end.revision = u64::MAX;
    std::fs::write(
        dir.path().join(".team/runtime/state.json"),
        serde_json::to_vec(&at_end).unwrap(),
    )
    .unwrap();
    let wrapped = store.update(|s| Ok::<_, StateError>(s.extra.insert("v".into(), json!(1))));
    assert!(matches!(wrapped, Err(StateError::Revision)), "{wrapped:?}");
    assert_eq!(store.load().unwrap().revision, u64::MAX, "nothing written");
}
