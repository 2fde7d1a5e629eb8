/*! Which Codex session is a worker's, and whether it can be resumed.

Codex cannot be given a session id at start and writes its rollout only when the first message
arrives, so a new session is attributed from the files: a rollout started in the worker's cwd
within the spawn window, not owned by another agent, and preferably carrying the worker's own
identity marker. A rollout marked for another worker is never taken, which is what keeps several
workers started in one directory at one moment apart. A resumed session keeps its id, so when the
host knows the id it is looked up directly.
*/

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use team_agent_plugin_api::{
    CaptureContext, Confidence, EndedTurn, PluginError, Resumability, ResumeBlocker, ResumeCheck,
    SessionRecord,
};
use team_agent_provider_kit::{CliSessions, RuleBook, SpawnWindow, same_dir};

use crate::CodexCli;
use crate::rollout::{self, Identity, SessionMeta};

/// A session's UUIDv7 id is minted a little before its start time (6 s in the captured rollout):
/// with this slack, a file whose name alone puts it outside the window is not even opened.
const ID_MINT_SLACK: Duration = Duration::minutes(10);
/// Bounds on one scan: file names listed, files opened.
const MAX_LISTED: usize = 512;
const MAX_OPENED: usize = 64;

impl CliSessions for CodexCli {
    fn capture(
        &self,
        context: &CaptureContext,
        book: &RuleBook,
    ) -> Result<Option<SessionRecord>, PluginError> {
        let window = SpawnWindow::of(context)?;
        let root = rollout::sessions_dir(&context.home);
        if let Some(id) = context.expected_session_id.as_deref() {
            return Ok(by_expected_id(context, &root, id));
        }
        let (earliest, latest) = (window.earliest(), window.latest());
        let mut own: Vec<(DateTime<Utc>, SessionMeta, std::path::PathBuf)> = Vec::new();
        let mut unmarked = Vec::new();
        let candidates =
            rollout::rollouts_on(&root, &day_dirs(window.spawned, window.now), MAX_LISTED);
        let plausible = candidates.into_iter().filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            rollout::uuid_v7_time(&name)
                .is_none_or(|minted| minted >= earliest - ID_MINT_SLACK && minted <= latest)
        });
        for path in plausible.take(MAX_OPENED) {
            let Some(meta) = rollout::read_meta(&path) else {
                continue;
            };
            let Some(started) = meta.started else {
                continue;
            };
            if !window.contains(started)
                || !same_dir(&meta.cwd, &context.cwd)
                || context.owned_by_others.contains(&meta.id)
            {
                continue;
            }
            match rollout::read_identity(&path, &context.agent_id, book) {
                Identity::Own => own.push((started, meta, path)),
                Identity::Unmarked => unmarked.push((started, meta, path)),
                Identity::Others(_) => {}
            }
        }
        let (pool, attributed_by, confidence) = if own.is_empty() {
            (unmarked, "cwd_and_time", Confidence::Medium)
        } else {
            (own, "identity_marker", Confidence::High)
        };
        // Of several, the one that started first after the spawn is the one the spawn created.
        Ok(pool
            .into_iter()
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)))
            .map(|(_, meta, path)| SessionRecord {
                session_id: meta.id,
                transcript_path: Some(path),
                attributed_by: attributed_by.into(),
                confidence,
            }))
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
                    "agent '{}' has no recorded Codex session (it never received a message, so Codex wrote none)",
                    check.agent_id
                ),
            );
        };
        let id = &record.session_id;
        let root = rollout::sessions_dir(&check.home);
        let path = record
            .transcript_path
            .clone()
            .filter(|p| p.is_file())
            .or_else(|| rollout::find_rollout(&root, id));
        let Some(path) = path else {
            return Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!(
                    "no rollout file for Codex session {id} (looked for {} and under {})",
                    record
                        .transcript_path
                        .as_deref()
                        .map_or_else(|| "a recorded path".into(), |p| p.display().to_string()),
                    root.display()
                ),
            );
        };
        let Some(meta) = rollout::read_meta(&path) else {
            return Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!("{} has no readable session_meta first line", path.display()),
            );
        };
        if meta.id != *id {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!(
                    "{} holds Codex session {}, not {id}",
                    path.display(),
                    meta.id
                ),
            );
        }
        if !same_dir(&meta.cwd, &check.cwd) {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!(
                    "Codex session {id} ran in {}, not in agent '{}''s directory {}",
                    meta.cwd.display(),
                    check.agent_id,
                    check.cwd.display()
                ),
            );
        }
        if let Identity::Others(agents) = rollout::read_identity(&path, &check.agent_id, book) {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!(
                    "Codex session {id} was started for worker `{}`, not for '{}'",
                    agents.join("`, `"),
                    check.agent_id
                ),
            );
        }
        Resumability::yes()
    }

    fn last_ended_turn(&self, _book: &RuleBook, tail: &str) -> Option<EndedTurn> {
        rollout::last_ended_turn(tail)
    }
}

fn by_expected_id(context: &CaptureContext, root: &Path, id: &str) -> Option<SessionRecord> {
    if context.owned_by_others.iter().any(|o| o == id) {
        return None;
    }
    let path = rollout::find_rollout(root, id)?;
    let meta = rollout::read_meta(&path)?;
    (meta.id == id && same_dir(&meta.cwd, &context.cwd)).then(|| SessionRecord {
        session_id: meta.id,
        transcript_path: Some(path),
        attributed_by: "expected_session_id".into(),
        confidence: Confidence::High,
    })
}

/// The day directories a session started in the window can be in. Codex names them by local
/// time, which is within a day of UTC either way.
fn day_dirs(spawned: DateTime<Utc>, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = [spawned.date_naive(), now.date_naive()]
        .into_iter()
        .flat_map(|d| [d - Duration::days(1), d, d + Duration::days(1)])
        .collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    dates
}
