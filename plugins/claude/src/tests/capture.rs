use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use team_agent_plugin_api::{
    CaptureContext, Confidence, ErrorKind, ProviderPlugin, ResumeBlocker, ResumeCheck,
    SessionRecord,
};

use super::{Transcript, claude, fixture, time};

const SPAWNED: &str = "2026-11-23T00:45:10.000Z";
const IDS: [&str; 4] = [
    "0b7e3f5c-1d2a-4c6b-9e8f-a1b2c3d4e5f1",
    "0b7e3f5c-1d2a-4c6b-9e8f-a1b2c3d4e5f2",
    "0b7e3f5c-1d2a-4c6b-9e8f-a1b2c3d4e5f3",
    "0b7e3f5c-1d2a-4c6b-9e8f-a1b2c3d4e5f4",
];

fn at(offset_ms: i64) -> DateTime<Utc> {
    time(SPAWNED) + Duration::milliseconds(offset_ms)
}

fn context(home: &Path, cwd: &Path, agent: &str, expected: Option<&str>) -> CaptureContext {
    CaptureContext {
        agent_id: agent.into(),
        cwd: cwd.into(),
        spawned_at: SPAWNED.into(),
        now: at(3_000).to_rfc3339(),
        expected_session_id: expected.map(str::to_string),
        owned_by_others: Vec::new(),
        home: home.into(),
        forked_from: None,
    }
}

fn capture(context: &CaptureContext) -> Option<SessionRecord> {
    claude().capture_session_id(context).unwrap()
}

#[test]
fn four_workers_started_together_in_one_directory_each_get_their_own_session() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let workers = ["w1", "w2", "w3", "w4"];
    // Written in the reverse order, all in the same second, none with a marker: only the
    // pre-assigned id tells them apart.
    for id in IDS.iter().rev() {
        Transcript::new(id, cwd, at(400)).write(home.path());
    }
    for (worker, id) in workers.iter().zip(IDS) {
        let record = capture(&context(home.path(), cwd, worker, Some(id))).unwrap();
        assert_eq!(record.session_id, id, "{worker}");
        assert_eq!(record.confidence, Confidence::High);
        assert_eq!(record.attributed_by, "preassigned_session_id");
        let path = record.transcript_path.unwrap();
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            format!("{id}.jsonl")
        );
    }
}

#[test]
fn before_the_first_message_the_session_is_not_captured_yet() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    assert_eq!(
        capture(&context(home.path(), cwd, "w1", Some(IDS[0]))),
        None
    );
    Transcript::new(IDS[0], cwd, at(1_000)).write(home.path());
    assert!(capture(&context(home.path(), cwd, "w1", Some(IDS[0]))).is_some());
}

#[test]
fn a_transcript_holding_only_metadata_is_not_a_session_yet() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let dir = crate::transcript::project_dir(home.path(), cwd);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{}.jsonl", IDS[0])),
        fixture("claude-key-metadata-only.transcript.jsonl"),
    )
    .unwrap();
    assert_eq!(
        capture(&context(home.path(), cwd, "w1", Some(IDS[0]))),
        None
    );
}

#[test]
fn an_expected_id_another_agent_owns_is_never_attributed() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    Transcript::new(IDS[0], cwd, at(400)).write(home.path());
    let mut ctx = context(home.path(), cwd, "w1", Some(IDS[0]));
    ctx.owned_by_others = vec![IDS[0].into()];
    assert_eq!(capture(&ctx), None);
}

#[test]
fn a_transcript_of_another_directory_with_the_same_encoding_is_not_taken() {
    let home = tempfile::tempdir().unwrap();
    // `/w/proj-a` and `/w/proj/a` share the directory name `-w-proj-a`.
    Transcript::new(IDS[0], Path::new("/w/proj-a"), at(400)).write(home.path());
    let ctx = context(home.path(), Path::new("/w/proj/a"), "w1", Some(IDS[0]));
    assert_eq!(capture(&ctx), None);
}

/// The real transcript of Claude Code 2.1.330, in a HOME laid out as Claude laid it out.
fn real_transcript(home: &Path) -> PathBuf {
    let cwd = Path::new("/home/dev/projects/sandbox/proj-claude");
    let dir = crate::transcript::project_dir(home, cwd);
    assert!(dir.ends_with("-home-dev-projects-sandbox-proj-claude"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("09f3f8d5-82ff-4e20-971f-94648ae0771f.jsonl");
    std::fs::write(&path, fixture("claude-nokey-session.transcript.jsonl")).unwrap();
    path
}

#[test]
fn the_real_transcript_is_captured_by_its_pre_assigned_id() {
    let home = tempfile::tempdir().unwrap();
    let path = real_transcript(home.path());
    let cwd = Path::new("/home/dev/projects/sandbox/proj-claude");
    let ctx = context(
        home.path(),
        cwd,
        "w1",
        Some("09f3f8d5-82ff-4e20-971f-94648ae0771f"),
    );
    assert_eq!(capture(&ctx).unwrap().transcript_path, Some(path));
}

#[test]
fn without_an_expected_id_only_the_workers_own_marker_attributes_a_transcript() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    Transcript::new(IDS[0], cwd, at(200)).write(home.path());
    Transcript::new(IDS[1], cwd, at(300))
        .for_worker("w2")
        .write(home.path());
    assert_eq!(
        capture(&context(home.path(), cwd, "w1", None)),
        None,
        "an unmarked transcript and another worker's are not this worker's"
    );
    Transcript::new(IDS[2], cwd, at(500))
        .for_worker("w1")
        .write(home.path());
    let record = capture(&context(home.path(), cwd, "w1", None)).unwrap();
    assert_eq!(record.session_id, IDS[2]);
    assert_eq!(record.attributed_by, "identity_marker");
}

#[test]
fn a_teammates_message_quoting_a_marker_does_not_attribute_the_session() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let mut transcript = Transcript::new(IDS[0], cwd, at(200));
    transcript.first_message = "Team Agent message from leader: You are Team Agent worker `w1`";
    transcript.write(home.path());
    assert_eq!(capture(&context(home.path(), cwd, "w1", None)), None);
}

#[test]
fn without_an_expected_id_only_transcripts_started_in_the_spawn_window_count() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    Transcript::new(IDS[0], cwd, at(-2_500))
        .for_worker("w1")
        .write(home.path());
    Transcript::new(IDS[1], cwd, at(9_000))
        .for_worker("w1")
        .write(home.path());
    assert_eq!(capture(&context(home.path(), cwd, "w1", None)), None);
}

#[test]
fn a_time_that_is_not_rfc_3339_is_an_invalid_request() {
    let home = tempfile::tempdir().unwrap();
    let mut ctx = context(home.path(), Path::new("/w"), "w1", Some(IDS[0]));
    ctx.now = "now".into();
    let error = claude().capture_session_id(&ctx).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("now"));
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
        attributed_by: "preassigned_session_id".into(),
        confidence: Confidence::High,
    })
}

#[test]
fn a_session_with_its_transcript_in_its_cwd_is_resumable() {
    let home = tempfile::tempdir().unwrap();
    let path = real_transcript(home.path());
    let id = "09f3f8d5-82ff-4e20-971f-94648ae0771f";
    let cwd = "/home/dev/projects/sandbox/proj-claude";
    let answer = claude().session_is_resumable(&check(home.path(), cwd, record(id, Some(path))));
    assert!(answer.resumable, "{}", answer.detail);
    let moved = record(id, Some("/gone/x.jsonl".into()));
    let answer = claude().session_is_resumable(&check(home.path(), cwd, moved));
    assert!(answer.resumable, "found again by its id: {}", answer.detail);
}

#[test]
fn resumability_names_what_is_missing_or_wrong() {
    let home = tempfile::tempdir().unwrap();
    let cwd = "/home/dev/projects/sandbox/proj-claude";
    let blocker = |check: ResumeCheck| {
        let answer = claude().session_is_resumable(&check);
        assert!(!answer.resumable);
        assert!(!answer.detail.is_empty());
        answer.blocker.unwrap()
    };
    assert_eq!(
        blocker(check(home.path(), cwd, None)),
        ResumeBlocker::NoPersistedSessionId
    );
    assert_eq!(
        blocker(check(home.path(), cwd, record(" ", None))),
        ResumeBlocker::NoPersistedSessionId
    );
    // The id was pre-assigned, but the worker never got a message: no transcript was written.
    assert_eq!(
        blocker(check(home.path(), cwd, record(IDS[0], None))),
        ResumeBlocker::SessionBackingStoreMissing
    );
    let path = real_transcript(home.path());
    let id = "09f3f8d5-82ff-4e20-971f-94648ae0771f";
    assert_eq!(
        blocker(check(home.path(), "/w/elsewhere", record(id, Some(path)))),
        ResumeBlocker::SessionIdentityMismatch
    );
    assert_eq!(
        blocker(check(home.path(), cwd, record("latest", None))),
        ResumeBlocker::SessionIdentityMismatch
    );
}

#[test]
fn a_transcript_without_a_conversation_cannot_be_resumed() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let dir = crate::transcript::project_dir(home.path(), cwd);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.jsonl", IDS[0]));
    std::fs::write(&path, fixture("claude-key-metadata-only.transcript.jsonl")).unwrap();
    let answer =
        claude().session_is_resumable(&check(home.path(), "/w/proj", record(IDS[0], Some(path))));
    assert_eq!(
        answer.blocker,
        Some(ResumeBlocker::SessionBackingStoreMissing)
    );
}

#[test]
fn a_forked_session_is_resumable_though_it_carries_the_source_workers_marker() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/proj");
    let path = Transcript::new(IDS[1], cwd, at(0))
        .for_worker("w2")
        .write(home.path());
    let answer =
        claude().session_is_resumable(&check(home.path(), "/w/proj", record(IDS[1], Some(path))));
    assert!(answer.resumable, "{}", answer.detail);
}
