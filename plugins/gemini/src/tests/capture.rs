use std::path::{Path, PathBuf};

use serde_json::json;
use team_agent_plugin_api::{
    CaptureContext, ProviderPlugin, ResumeBlocker, ResumeCheck, SessionRecord,
};

use super::gemini;
use crate::transcript::project_hash;

const ID: &str = "11111111-2222-4333-8444-555555555555";

/// A workspace as team-agent lays it out, with the worker's Gemini home in its hook directory.
struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir_all(&root).unwrap();
        Self { _dir: dir, root }
    }

    fn chats(&self) -> PathBuf {
        self.root
            .join(".team/runtime/hooks/w1/gemini-home/.gemini/tmp/proj/chats")
    }

    /// A session file as Gemini 0.61.0 writes it (its real shapes, cut down): the head line,
    /// the session context, and `prompt` when given.
    fn session(&self, cwd: &Path, prompt: Option<&str>) -> PathBuf {
        let chats = self.chats();
        std::fs::create_dir_all(&chats).unwrap();
        let mut lines = vec![
            json!({"sessionId": ID, "projectHash": project_hash(cwd),
                   "startTime": "2026-12-04T18:12:25.193Z", "lastUpdated": "2026-12-04T18:12:25.193Z",
                   "kind": "main"}),
            json!({"$set": {"messages": [{"id": "d049", "type": "user",
                   "content": [{"text": "<session_context>\nThis is the Gemini CLI.</session_context>"}]}]}}),
        ];
        if let Some(prompt) = prompt {
            lines.push(
                json!({"id": "3a03", "timestamp": "2026-12-04T18:12:30.601Z",
                              "type": "user", "content": [{"text": prompt}]}),
            );
        }
        let path = chats.join("session-2026-12-04T18-12-11111111.jsonl");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn context(&self, cwd: &Path) -> CaptureContext {
        serde_json::from_value(json!({
            "agent_id": "w1", "cwd": cwd, "home": "/nonexistent-home",
            "spawned_at": "2026-12-04T18:12:20Z", "now": "2026-12-04T18:12:40Z",
            "expected_session_id": ID,
        }))
        .unwrap()
    }

    fn check(&self, record: Option<SessionRecord>) -> ResumeCheck {
        serde_json::from_value(json!({
            "agent_id": "w1", "cwd": self.root, "home": "/nonexistent-home", "record": record,
        }))
        .unwrap()
    }
}

#[test]
fn the_expected_session_is_captured_once_it_holds_a_prompt() {
    let ws = Workspace::new();
    ws.session(&ws.root, None);
    let context = ws.context(&ws.root);
    assert_eq!(gemini().capture_session_id(&context).unwrap(), None);
    let path = ws.session(&ws.root, Some("hello there"));
    let record = gemini().capture_session_id(&context).unwrap().unwrap();
    assert_eq!(record.session_id, ID);
    assert_eq!(record.transcript_path, Some(path));
    assert_eq!(record.attributed_by, "preassigned_session_id");
}

#[test]
fn a_worktree_inside_the_workspace_finds_the_workspaces_hook_directory() {
    let ws = Workspace::new();
    let worktree = ws.root.join(".team/worktrees/w1");
    std::fs::create_dir_all(&worktree).unwrap();
    ws.session(&worktree, Some("hello there"));
    let record = gemini().capture_session_id(&ws.context(&worktree)).unwrap();
    assert!(record.is_some());
}

#[test]
fn a_teams_own_hook_directory_is_found_too() {
    let ws = Workspace::new();
    let chats = ws
        .root
        .join(".team/runtime/teams/real/hooks/w1/gemini-home/.gemini/tmp/proj/chats");
    let written = ws.session(&ws.root, Some("hello there"));
    std::fs::create_dir_all(&chats).unwrap();
    let moved = chats.join(written.file_name().unwrap());
    std::fs::rename(&written, &moved).unwrap();
    let record = gemini().capture_session_id(&ws.context(&ws.root)).unwrap();
    assert_eq!(record.unwrap().transcript_path, Some(moved));
}

#[test]
fn a_session_of_another_directory_or_agent_is_never_captured() {
    let ws = Workspace::new();
    ws.session(Path::new("/somewhere/else"), Some("hello there"));
    assert_eq!(
        gemini().capture_session_id(&ws.context(&ws.root)).unwrap(),
        None
    );
    ws.session(&ws.root, Some("hello there"));
    let mut owned = ws.context(&ws.root);
    owned.owned_by_others = vec![ID.into()];
    assert_eq!(gemini().capture_session_id(&owned).unwrap(), None);
    let mut unexpected = ws.context(&ws.root);
    unexpected.expected_session_id = None;
    assert_eq!(gemini().capture_session_id(&unexpected).unwrap(), None);
}

#[test]
fn a_captured_session_with_a_prompt_is_resumable() {
    let ws = Workspace::new();
    ws.session(&ws.root, Some("hello there"));
    let record = gemini()
        .capture_session_id(&ws.context(&ws.root))
        .unwrap()
        .unwrap();
    assert!(
        gemini()
            .session_is_resumable(&ws.check(Some(record)))
            .resumable
    );
}

#[test]
fn no_record_an_empty_session_or_a_missing_file_is_not_resumable() {
    let ws = Workspace::new();
    let none = gemini().session_is_resumable(&ws.check(None));
    assert_eq!(none.blocker, Some(ResumeBlocker::NoPersistedSessionId));
    let path = ws.session(&ws.root, None);
    let record = SessionRecord {
        session_id: ID.into(),
        transcript_path: Some(path.clone()),
        attributed_by: "preassigned_session_id".into(),
        confidence: team_agent_plugin_api::Confidence::High,
    };
    let empty = gemini().session_is_resumable(&ws.check(Some(record.clone())));
    assert_eq!(
        empty.blocker,
        Some(ResumeBlocker::SessionBackingStoreMissing)
    );
    std::fs::remove_file(path).unwrap();
    let missing = gemini().session_is_resumable(&ws.check(Some(record)));
    assert_eq!(
        missing.blocker,
        Some(ResumeBlocker::SessionBackingStoreMissing)
    );
    assert!(
        missing.detail.contains("no session file"),
        "{}",
        missing.detail
    );
}
