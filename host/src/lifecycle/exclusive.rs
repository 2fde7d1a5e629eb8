//! One team-changing command at a time per workspace. `up`, `restart`, `shutdown`, the agent
//! operations and the ownership changes hold the team's lock from start to end, so two operators
//! acting at the same moment run one after the other instead of both planning from the same state
//! (two `restart`s once gave two workers one pane; two `up`s once left no team). The holder
//! writes who it is beside the lock, so a waiting command can say whom it waits for.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LifecycleError;
use crate::events::now_rfc3339;
use crate::workspace::{FileLock, LockError, Workspace};

/// How long a command waits for another one to finish (a team of real CLIs takes seconds to
/// start; a stuck holder is said by name long before this).
const WAIT: Duration = Duration::from_secs(300);

const NAME: &str = "team";

/// The team's lock, held.
pub struct TeamLock {
    holder_file: PathBuf,
    _lock: FileLock,
}

/// Who holds the lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    since: String,
}

impl TeamLock {
    /// Takes the lock for `command`; while another command holds it, says so through `progress`
    /// once and waits.
    pub fn take(
        workspace: &Workspace,
        command: &str,
        progress: &dyn Fn(&str),
    ) -> Result<Self, LifecycleError> {
        // A `.team` that cannot be written refuses here, with the repair, before anything runs.
        if workspace.team_dir().is_dir() {
            workspace.check_writable()?;
        }
        let holder_file = workspace.locks_dir().join(format!("{NAME}.holder"));
        let lock = match workspace.lock(NAME, Duration::ZERO) {
            Ok(lock) => lock,
            Err(LockError::Busy { .. }) => {
                progress(&format!(
                    "waiting for another team-agent command to finish ({})…",
                    describe(&holder_file)
                ));
                workspace.lock(NAME, WAIT).map_err(|_| {
                    LifecycleError::refused(
                        "team_busy",
                        format!(
                            "another team-agent command has held the team for over {} s ({})",
                            WAIT.as_secs(),
                            describe(&holder_file)
                        ),
                        "wait for it to finish, or see whether it is stuck with `team-agent doctor`",
                    )
                })?
            }
            Err(e) => return Err(LifecycleError::plan(e.to_string())),
        };
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            since: now_rfc3339(),
        };
        let _ = crate::state::write_atomically(
            &holder_file,
            &serde_json::to_vec(&holder).unwrap_or_default(),
            0o600,
        );
        Ok(Self {
            holder_file,
            _lock: lock,
        })
    }
}

impl Drop for TeamLock {
    fn drop(&mut self) {
        // Before the lock itself is released (the field drops after this), so the next holder's
        // note is never removed.
        let _ = std::fs::remove_file(&self.holder_file);
    }
}

/// "pid 123: `restart`, since …", or what is known.
fn describe(holder_file: &std::path::Path) -> String {
    std::fs::read(holder_file)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Holder>(&bytes).ok())
        .map_or_else(
            || "its holder did not say who it is".into(),
            |h| format!("pid {}: `{}`, since {}", h.pid, h.command, h.since),
        )
}
