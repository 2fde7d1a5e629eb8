use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use team_agent_plugin_api::{
    CaptureContext, Confidence, ErrorKind, ProviderPlugin, ResumeBlocker, ResumeCheck,
    SessionRecord,
};

use super::{Rollout, codex, fixture, session_id, time};

const SPAWNED: &str = "2026-11-23T00:42:38.000Z";

fn context(home: &Path, cwd: &Path, agent: &str, now: DateTime<Utc>) -> CaptureContext {
    CaptureContext {
        agent_id: agent.into(),
        cwd: cwd.into(),
        spawned_at: SPAWNED.into(),
        now: now.to_rfc3339(),
        expected_session_id: None,
        owned_by_others: Vec::new(),
        home: home.into(),
        forked_from: None,
    }
}

fn capture(context: &CaptureContext) -> Option<SessionRecord> {
    codex().capture_session_id(context).unwrap()
}

fn at(offset_ms: i64) -> DateTime<Utc> {
    time(SPAWNED) + Duration::milliseconds(offset_ms)
}

#[test]
fn four_workers_started_together_in_one_directory_each_get_their_own_session() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let workers = ["w1", "w2", "w3", "w4"];
    let mut ids = Vec::new();
    for (n, worker) in workers.iter().enumerate() {
        // Same second, in the reverse order of the workers, so "earliest" alone would mislead.
        let id = session_id(at(400 - n as i64), n as u64 + 1);
        Rollout::new(id.clone(), cwd, at(400 - n as i64))
            .for_worker(worker)
            .write(home.path());
        ids.push(id);
    }
    for (worker, id) in workers.iter().zip(&ids) {
        let record = capture(&context(home.path(), cwd, worker, at(3_000))).unwrap();
        assert_eq!(&record.session_id, id, "{worker}");
        assert_eq!(record.confidence, Confidence::High);
        assert_eq!(record.attributed_by, "identity_marker");
        assert!(record.transcript_path.unwrap().is_file());
    }
}

#[test]
fn without_markers_owned_ids_share_the_sessions_out_one_each() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    for n in 0..4 {
        Rollout::new(session_id(at(100 * n), n as u64 + 1), cwd, at(100 * n)).write(home.path());
    }
    let mut owned: Vec<String> = Vec::new();
    for worker in ["w1", "w2", "w3", "w4"] {
        let mut ctx = context(home.path(), cwd, worker, at(3_000));
        ctx.owned_by_others = owned.clone();
        let record = capture(&ctx).unwrap();
        assert_eq!(record.confidence, Confidence::Medium);
        assert_eq!(record.attributed_by, "cwd_and_time");
        assert!(!owned.contains(&record.session_id));
        owned.push(record.session_id);
    }
    let ctx = CaptureContext {
        owned_by_others: owned,
        ..context(home.path(), cwd, "w5", at(3_000))
    };
    assert_eq!(capture(&ctx), None, "every session is owned");
}

#[test]
fn a_session_marked_for_another_worker_is_never_taken() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    Rollout::new(session_id(at(300), 1), cwd, at(300))
        .for_worker("w2")
        .write(home.path());
    assert_eq!(capture(&context(home.path(), cwd, "w1", at(3_000))), None);
}

#[test]
fn the_workers_own_marker_beats_an_earlier_unmarked_session() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    Rollout::new(session_id(at(100), 1), cwd, at(100)).write(home.path());
    let own = session_id(at(900), 2);
    Rollout::new(own.clone(), cwd, at(900))
        .for_worker("w1")
        .write(home.path());
    let record = capture(&context(home.path(), cwd, "w1", at(3_000))).unwrap();
    assert_eq!(record.session_id, own);
    assert_eq!(record.confidence, Confidence::High);
}

#[test]
fn only_sessions_started_in_the_spawn_window_and_the_cwd_count() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let now = at(10_000);
    let write = |offset_ms: i64, n: u64, dir: &Path| {
        let id = session_id(at(offset_ms), n);
        Rollout::new(id.clone(), dir, at(offset_ms))
            .for_worker("w1")
            .write(home.path());
        id
    };
    write(-2_500, 1, cwd);
    write(15_500, 2, cwd);
    write(500, 3, Path::new("/w/other"));
    assert_eq!(capture(&context(home.path(), cwd, "w1", now)), None);
    let just_before = write(-1_500, 4, cwd);
    let record = capture(&context(home.path(), cwd, "w1", now)).unwrap();
    assert_eq!(record.session_id, just_before, "2 s of clock slack");
}

#[test]
fn a_session_written_later_than_now_by_a_few_seconds_still_counts() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let id = session_id(at(4_000), 1);
    Rollout::new(id.clone(), cwd, at(4_000))
        .for_worker("w1")
        .write(home.path());
    let record = capture(&context(home.path(), cwd, "w1", at(0))).unwrap();
    assert_eq!(record.session_id, id);
}

#[test]
fn no_rollout_yet_is_none_until_the_first_message() {
    let home = tempfile::tempdir().unwrap();
    let ctx = context(home.path(), Path::new("/w/proj"), "w1", at(1_000));
    assert_eq!(capture(&ctx), None);
}

#[test]
fn a_time_that_is_not_rfc_3339_is_an_invalid_request() {
    let home = tempfile::tempdir().unwrap();
    let mut ctx = context(home.path(), Path::new("/w"), "w1", at(0));
    ctx.spawned_at = "yesterday".into();
    let error = codex().capture_session_id(&ctx).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("spawned_at"));
}

#[test]
fn a_resumed_session_is_found_by_its_id_in_an_older_day_directory() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let long_ago = time("2026-10-01T09:00:00Z");
    let id = session_id(long_ago, 7);
    Rollout::new(id.clone(), cwd, long_ago)
        .for_worker("w1")
        .write(home.path());
    let mut ctx = context(home.path(), cwd, "w1", at(1_000));
    ctx.expected_session_id = Some(id.clone());
    let record = capture(&ctx).unwrap();
    assert_eq!(record.session_id, id);
    assert_eq!(record.attributed_by, "expected_session_id");
    ctx.owned_by_others = vec![id];
    assert_eq!(capture(&ctx), None);
}

/// The captured rollout of Codex 0.169.0, in a HOME laid out as Codex laid it out.
fn real_rollout(home: &Path) -> PathBuf {
    let dir = crate::rollout::sessions_dir(home).join("2026/11/23");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rollout-2026-11-23T00-42-39-01a205da-c737-7cf1-bdf7-549c91c21505.jsonl");
    std::fs::write(&path, fixture("codex-rollout-interrupted.transcript.jsonl")).unwrap();
    path
}

#[test]
fn the_real_rollout_is_attributed_by_cwd_and_time() {
    let home = tempfile::tempdir().unwrap();
    let path = real_rollout(home.path());
    let cwd = Path::new("/home/dev/projects/sandbox/proj");
    let record = capture(&context(
        home.path(),
        cwd,
        "w1",
        time("2026-11-23T00:42:52Z"),
    ))
    .unwrap();
    assert_eq!(record.session_id, "01a205da-c737-7cf1-bdf7-549c91c21505");
    assert_eq!(record.confidence, Confidence::Medium, "it has no marker");
    assert_eq!(record.transcript_path, Some(path));
}

fn check(home: &Path, cwd: &str, record: Option<SessionRecord>) -> ResumeCheck {
    ResumeCheck {
        agent_id: "w1".into(),
        cwd: cwd.into(),
        home: home.into(),
        record,
    }
}

fn record(id: &str, path: Option<PathBuf>) -> Option<SessionRecord> {
    Some(SessionRecord {
        session_id: id.into(),
        transcript_path: path,
        attributed_by: "identity_marker".into(),
        confidence: Confidence::High,
    })
}

#[test]
fn a_session_with_its_rollout_in_its_cwd_is_resumable() {
    let home = tempfile::tempdir().unwrap();
    let path = real_rollout(home.path());
    let id = "01a205da-c737-7cf1-bdf7-549c91c21505";
    let cwd = "/home/dev/projects/sandbox/proj";
    let answer = codex().session_is_resumable(&check(home.path(), cwd, record(id, Some(path))));
    assert!(answer.resumable, "{}", answer.detail);
    let moved = record(id, Some("/gone/rollout.jsonl".into()));
    let answer = codex().session_is_resumable(&check(home.path(), cwd, moved));
    assert!(answer.resumable, "found again by its id: {}", answer.detail);
}

#[test]
fn resumability_names_what_is_missing_or_wrong() {
    let home = tempfile::tempdir().unwrap();
    let cwd = "/home/dev/projects/sandbox/proj";
    let blocker = |check: ResumeCheck| {
        let answer = codex().session_is_resumable(&check);
        assert!(!answer.resumable);
        assert!(!answer.detail.is_empty());
        answer.blocker.unwrap()
    };
    assert_eq!(
        blocker(check(home.path(), cwd, None)),
        ResumeBlocker::NoPersistedSessionId
    );
    assert_eq!(
        blocker(check(home.path(), cwd, record("", None))),
        ResumeBlocker::NoPersistedSessionId
    );
    let missing = record("01a205da-0000-7000-8000-000000000000", None);
    assert_eq!(
        blocker(check(home.path(), cwd, missing)),
        ResumeBlocker::SessionBackingStoreMissing
    );
    let path = real_rollout(home.path());
    let id = "01a205da-c737-7cf1-bdf7-549c91c21505";
    assert_eq!(
        blocker(check(
            home.path(),
            "/w/elsewhere",
            record(id, Some(path.clone()))
        )),
        ResumeBlocker::SessionIdentityMismatch
    );
    let other_id = record("01a205da-c737-7cf1-bdf7-549c91c21506", Some(path));
    assert_eq!(
        blocker(check(home.path(), cwd, other_id)),
        ResumeBlocker::SessionIdentityMismatch
    );
}

#[test]
fn a_session_started_for_another_worker_is_not_resumable_as_this_one() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let id = session_id(at(0), 1);
    let path = Rollout::new(id.clone(), cwd, at(0))
        .for_worker("w2")
        .write(home.path());
    let answer =
        codex().session_is_resumable(&check(home.path(), "/w/proj", record(&id, Some(path))));
    assert_eq!(answer.blocker, Some(ResumeBlocker::SessionIdentityMismatch));
    assert!(answer.detail.contains("`w2`"), "{}", answer.detail);
}

#[test]
fn a_teammates_message_quoting_a_marker_does_not_attribute_the_session() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let mut rollout = Rollout::new(session_id(at(200), 1), cwd, at(200));
    rollout.first_message = "Team Agent message from leader: You are Team Agent worker `w9`";
    rollout.write(home.path());
    let record = capture(&context(home.path(), cwd, "w1", at(3_000))).unwrap();
    assert_eq!(record.confidence, Confidence::Medium);
}
