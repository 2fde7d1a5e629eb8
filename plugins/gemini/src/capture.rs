/*! Which Gemini CLI session is a worker's, and whether it can be resumed.

Gemini takes the session id the launch plan chose (`--session-id`), so a worker's session is
known before it exists. Gemini creates the session file at start, but `--resume` finds only a
session that holds a message (a prompt, or a reply): until the worker's file holds one, capture
answers "not yet", so a worker that was never given work restarts fresh instead of failing to
resume. Without an expected id nothing is attributed: Gemini records neither the system prompt
nor anything else that would say which worker a session is.

The session file lies in the worker's Gemini home, which the launch plan put in the worker's hook
directory (see [`crate::launch`]). A capture request names neither, so the home is looked for
where team-agent keeps hook directories, in the nearest `.team/runtime` at or above the worker's
directory (a worker's own worktree lies inside the workspace): `hooks/<agent>/gemini-home`, or
a team's `teams/<team>/hooks/<agent>/gemini-home`; the worker's `HOME` last (a Gemini started
without a home of its own). The session id, which is the worker's alone, picks the file.
*/

use std::path::{Path, PathBuf};

use team_agent_plugin_api::{
    CaptureContext, Confidence, EndedTurn, PluginError, Resumability, ResumeBlocker, ResumeCheck,
    SessionRecord,
};
use team_agent_provider_kit::{CliSessions, RuleBook, SpawnWindow, is_uuid};

use crate::GeminiCli;
use crate::launch::HOME_DIR;
use crate::transcript;

/// Teams of one workspace looked at, at most.
const MAX_TEAMS: usize = 64;

impl CliSessions for GeminiCli {
    fn capture(
        &self,
        context: &CaptureContext,
        _book: &RuleBook,
    ) -> Result<Option<SessionRecord>, PluginError> {
        // A request whose times are not RFC 3339 is refused like every provider refuses it, though
        // a session chosen by id needs no window.
        SpawnWindow::of(context)?;
        let Some(id) = context.expected_session_id.as_deref() else {
            return Ok(None);
        };
        if context.owned_by_others.iter().any(|o| o == id) {
            return Ok(None);
        }
        let homes = gemini_homes(&context.agent_id, &context.cwd, &context.home);
        let found = homes.iter().find_map(|home| transcript::find(home, id));
        let record = found.and_then(|path| {
            let head = transcript::read_head(&path)?;
            (head.resumable && head.ran_in(&context.cwd)).then(|| SessionRecord {
                session_id: id.to_string(),
                transcript_path: Some(path),
                attributed_by: "preassigned_session_id".into(),
                confidence: Confidence::High,
            })
        });
        Ok(record)
    }

    fn resumability(&self, check: &ResumeCheck, _book: &RuleBook) -> Resumability {
        let Some(record) = check
            .record
            .as_ref()
            .filter(|r| !r.session_id.trim().is_empty())
        else {
            return Resumability::no(
                ResumeBlocker::NoPersistedSessionId,
                format!(
                    "agent '{}' has no recorded Gemini CLI session (it never received a message, so there is nothing to resume)",
                    check.agent_id
                ),
            );
        };
        let id = &record.session_id;
        if !is_uuid(id) {
            return Resumability::no(
                ResumeBlocker::SessionIdentityMismatch,
                format!("{id:?} is not a Gemini CLI session id (a UUID)"),
            );
        }
        let homes = gemini_homes(&check.agent_id, &check.cwd, &check.home);
        let path = record
            .transcript_path
            .clone()
            .filter(|p| p.is_file())
            .or_else(|| homes.iter().find_map(|home| transcript::find(home, id)));
        let Some(path) = path else {
            return Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!(
                    "no session file for Gemini CLI session {id} in the worker's Gemini home ({})",
                    homes
                        .first()
                        .map_or_else(String::new, |h| transcript::project_root(h)
                            .display()
                            .to_string())
                ),
            );
        };
        resumable_file(check, id, &path)
    }

    fn last_ended_turn(&self, book: &RuleBook, tail: &str) -> Option<EndedTurn> {
        transcript::last_ended_turn(book, tail)
    }
}

/// Whether the session file at `path` is one `--resume` finds, for the worker's directory.
fn resumable_file(check: &ResumeCheck, id: &str, path: &Path) -> Resumability {
    let Some(head) = transcript::read_head(path).filter(|head| head.session_id == id) else {
        return Resumability::no(
            ResumeBlocker::SessionBackingStoreMissing,
            format!("{} is not the session file of {id}", path.display()),
        );
    };
    if !head.resumable {
        return Resumability::no(
            ResumeBlocker::SessionBackingStoreMissing,
            format!(
                "{} holds no conversation to resume (Gemini resumes only a session with a message)",
                path.display()
            ),
        );
    }
    if !head.ran_in(&check.cwd) {
        return Resumability::no(
            ResumeBlocker::SessionIdentityMismatch,
            format!(
                "Gemini CLI session {id} ran in another directory than agent '{}''s {}",
                check.agent_id,
                check.cwd.display()
            ),
        );
    }
    Resumability::yes()
}

/// Where the worker's Gemini home may be, most likely first: in the worker's hook directory in
/// the nearest workspace at or above `cwd` (`.team/runtime/hooks/<agent>`, or a team's own
/// `.team/runtime/teams/<team>/hooks/<agent>`), then `home` itself.
pub fn gemini_homes(agent_id: &str, cwd: &Path, home: &Path) -> Vec<PathBuf> {
    let agent = safe_name(agent_id);
    let runtime = cwd
        .ancestors()
        .map(|dir| dir.join(".team/runtime"))
        .find(|runtime| runtime.is_dir());
    let mut hook_dirs = Vec::new();
    if let Some(runtime) = runtime {
        hook_dirs.push(runtime.join("hooks").join(&agent));
        if let Ok(teams) = std::fs::read_dir(runtime.join("teams")) {
            let mut teams: Vec<PathBuf> = teams
                .filter_map(Result::ok)
                .take(MAX_TEAMS)
                .map(|team| team.path().join("hooks").join(&agent))
                .collect();
            teams.sort();
            hook_dirs.extend(teams);
        }
    }
    let mut homes: Vec<PathBuf> = hook_dirs
        .into_iter()
        .map(|dir| dir.join(HOME_DIR))
        .filter(|dir| dir.is_dir())
        .collect();
    if !home.as_os_str().is_empty() {
        homes.push(home.to_path_buf());
    }
    homes
}

/// An agent's id as team-agent names its files: ASCII letters, digits, `.`, `_` and `-` kept,
/// anything else `-`.
fn safe_name(agent_id: &str) -> String {
    let safe: String = agent_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    match safe.as_str() {
        "" | "." | ".." => format!("_{safe}"),
        _ => safe,
    }
}
