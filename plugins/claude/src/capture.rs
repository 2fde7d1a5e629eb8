/*! Which Claude Code session is a worker's, and whether it can be resumed.

Claude takes the session id the launch plan chose (`--session-id`), so a worker's session is
known before it exists: capture only waits for its transcript, which Claude writes at the first
message. Until then capture answers "not yet" — the host keeps the agent's capture pending, with
the expected id in its state — rather than a record whose transcript may never be written (a
worker that was never given work has no session to resume, and a restart starts it fresh).

Without an expected id (a host that did not keep it), a transcript is attributed only on a
positive sign: started in the worker's cwd within the spawn window, not owned by another agent,
and carrying the worker's own identity marker. Several workers share a directory, so "the newest
transcript there" is never taken on its own.
*/

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use team_agent_plugin_api::{
    CaptureContext, Confidence, EndedTurn, PluginError, Resumability, ResumeBlocker, ResumeCheck,
    SessionRecord,
};
use team_agent_provider_kit::{CliSessions, RuleBook, SpawnWindow, is_uuid, same_dir};

use crate::ClaudeCode;
use crate::transcript::{self, Head};

/// Bounds on one scan without an expected id: files listed, files opened.
const MAX_LISTED: usize = 512;
const MAX_OPENED: usize = 64;

impl CliSessions for ClaudeCode {
    fn capture(
        &self,
        context: &CaptureContext,
        book: &RuleBook,
    ) -> Result<Option<SessionRecord>, PluginError> {
        let window = SpawnWindow::of(context)?;
        match context.expected_session_id.as_deref() {
            Some(id) => Ok(by_expected_id(context, id, book)),
            None => Ok(by_identity_marker(context, window, book)),
        }
    }

    fn resumability(&self, check: &ResumeCheck, book: &RuleBook) -> Resumability {
        let Some(record) = check
            .record
            .as_ref()
            .filter(|r| !r.session_id.trim().is_empty())
        else {
            return Resumability::no(
                ResumeBlocker::NoPersistedSessionId,
                format!(
                    "agent '{}' has no recorded Claude Code session (it never received a message, so Claude wrote none)",
                    check.agent_id
                ),
            );
        };
        let id = &record.session_id;
        if !is_uuid(id) {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!("{id:?} is not a Claude Code session id (a UUID)"),
            );
        }
        let path = record
            .transcript_path
            .clone()
            .filter(|p| p.is_file())
            .or_else(|| transcript::find(&check.home, &check.cwd, id));
        let Some(path) = path else {
            return Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!(
                    "no transcript for Claude Code session {id} under {} (Claude writes it at the first message)",
                    transcript::projects_dir(&check.home).display()
                ),
            );
        };
        let cwd = transcript::read_head(&path, book).and_then(|head| head.cwd);
        let Some(cwd) = cwd else {
            return Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!("{} holds no conversation to resume", path.display()),
            );
        };
        if !same_dir(&cwd, &check.cwd) {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!(
                    "Claude Code session {id} ran in {}, not in agent '{}''s directory {}",
                    cwd.display(),
                    check.agent_id,
                    check.cwd.display()
                ),
            );
        }
        Resumability::yes()
    }

    fn last_ended_turn(&self, book: &RuleBook, tail: &str) -> Option<EndedTurn> {
        transcript::last_ended_turn(book, tail)
    }
}

fn by_expected_id(context: &CaptureContext, id: &str, book: &RuleBook) -> Option<SessionRecord> {
    if context.owned_by_others.iter().any(|o| o == id) {
        return None;
    }
    let path = transcript::find(&context.home, &context.cwd, id)?;
    let head = transcript::read_head(&path, book)?;
    let cwd = head.cwd?;
    same_dir(&cwd, &context.cwd).then(|| SessionRecord {
        session_id: id.to_string(),
        transcript_path: Some(path),
        attributed_by: "preassigned_session_id".into(),
        confidence: Confidence::High,
    })
}

fn by_identity_marker(
    context: &CaptureContext,
    window: SpawnWindow,
    book: &RuleBook,
) -> Option<SessionRecord> {
    let earliest = window.earliest();
    let excluded = |id: &str| {
        context.owned_by_others.iter().any(|o| o == id)
            || context.forked_from.as_deref() == Some(id)
    };
    let recent = |modified: SystemTime| DateTime::<Utc>::from(modified) >= earliest;
    let mut own: Vec<(DateTime<Utc>, String, PathBuf)> = Vec::new();
    for (id, path) in transcripts_in(&context.home, &context.cwd, recent)
        .into_iter()
        .filter(|(id, _)| !excluded(id))
        .take(MAX_OPENED)
    {
        let Some(Head {
            cwd: Some(cwd),
            started: Some(started),
            markers,
        }) = transcript::read_head(&path, book)
        else {
            continue;
        };
        if window.contains(started)
            && same_dir(&cwd, &context.cwd)
            && markers.contains(&context.agent_id)
        {
            own.push((started, id, path));
        }
    }
    // Of several, the one that started first after the spawn is the one the spawn created.
    own.into_iter().min().map(|(_, id, path)| SessionRecord {
        session_id: id,
        transcript_path: Some(path),
        attributed_by: "identity_marker".into(),
        confidence: Confidence::High,
    })
}

/// `(id, path)` of the transcripts in the project directories of `cwd` whose modification time
/// passes `recent`, newest first.
fn transcripts_in(
    home: &Path,
    cwd: &Path,
    recent: impl Fn(SystemTime) -> bool,
) -> Vec<(String, PathBuf)> {
    let mut dirs = vec![transcript::project_dir(home, cwd)];
    if let Ok(resolved) = std::fs::canonicalize(cwd) {
        dirs.push(transcript::project_dir(home, &resolved));
    }
    dirs.dedup();
    let mut found: Vec<(SystemTime, String, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok).take(MAX_LISTED) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".jsonl").filter(|s| is_uuid(s)) else {
                continue;
            };
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            if recent(modified) {
                found.push((modified, id.to_string(), entry.path()));
            }
        }
    }
    found.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    found.into_iter().map(|(_, id, path)| (id, path)).collect()
}
