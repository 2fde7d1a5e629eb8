/*! Runtime state (`.team/runtime/teams/<team>/state.json`): what team-agent runs, as typed
structs.

Every save is atomic (a temporary file in the same directory, fsync, rename, fsync the
directory) and serialised by a lock; a load-modify-save happens inside one lock hold
([`StateStore::update`]); a writer holding a stale revision gets [`StateError::Conflict`] instead of
overwriting newer data. A corrupt file is never overwritten: the command stops, the file is
preserved as `state.json.corrupt-<timestamp>`, and `team-agent doctor` explains the recovery from
the team's snapshot (`state.snapshot.json` beside it, written with every save).
Fields written by a newer team-agent are kept (`extra`), never dropped.
*/

mod atomic;
mod model;

pub use atomic::{write_atomically, write_derived};
pub use model::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::workspace::{LockError, Workspace};

/// The version of the state format this team-agent writes.
pub const STATE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "{path} is corrupt ({detail}); it was preserved as {preserved} and nothing was changed; run `team-agent doctor` to recover from the team snapshot"
    )]
    Corrupt {
        path: PathBuf,
        preserved: PathBuf,
        detail: String,
    },
    #[error(
        "{path} holds no team, but the team snapshot {snapshot} records team '{team}' ({status}): the state file was damaged, and nothing was changed; restore it with `team-agent doctor --restore-state --confirm`"
    )]
    Lost {
        path: PathBuf,
        snapshot: PathBuf,
        team: String,
        status: String,
    },
    #[error(
        "refused to record agents {} and {} in the same tmux pane {pane}: a message for one would reach the other; nothing was written",
        agents[0], agents[1]
    )]
    SharedPane { pane: String, agents: [String; 2] },
    #[error(
        "state.json is at the last revision a state can have ({}); nothing was written: restore it with `team-agent doctor --restore-state --confirm`",
        u64::MAX
    )]
    Revision,
    #[error(
        "state.json changed under this command (it holds revision {held}, the file is at {on_disk}); nothing was written: run the command again"
    )]
    Conflict { held: u64, on_disk: u64 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
}

/// The state of one workspace.
#[derive(Debug, Clone)]
pub struct StateStore {
    workspace: Workspace,
}

const LOCK: &str = "state";
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl StateStore {
    pub fn new(workspace: &Workspace) -> Self {
        Self {
            workspace: workspace.clone(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.workspace.state_file()
    }

    /// The current state (empty when the workspace never ran a team).
    pub fn load(&self) -> Result<RuntimeState, StateError> {
        self.read_checked()
    }

    /// The state file, refused when it lost its team: a state without one where a team snapshot
    /// records one was damaged (`{}` or `{"team": null}` written over it), and taking it for "no
    /// team" would forget a team whose workers still run.
    fn read_checked(&self) -> Result<RuntimeState, StateError> {
        let path = self.path();
        let state = read(&path)?;
        if state.team.is_none()
            && path.exists()
            && let Some(snapshot) = self.snapshots().into_iter().next()
            && let Ok(RuntimeState {
                team: Some(team), ..
            }) = read(&snapshot)
        {
            return Err(StateError::Lost {
                path,
                snapshot,
                team: team.name,
                status: serde_json::to_value(team.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            });
        }
        Ok(state)
    }

    /// Load, change and save inside one lock hold: concurrent updates never lose each other.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut RuntimeState) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StateError>,
    {
        self.workspace.ensure_dirs().map_err(StateError::from)?;
        let _lock = self
            .workspace
            .lock(LOCK, LOCK_WAIT)
            .map_err(StateError::from)?;
        let mut state = self.read_checked()?;
        let before = state.clone();
        let out = change(&mut state)?;
        // Nothing changed, nothing written (and no new revision).
        if state != before {
            self.write_locked(&mut state)?;
        }
        Ok(out)
    }

    /// Saves a state loaded earlier; refuses if someone saved a newer revision meanwhile.
    pub fn save(&self, state: &mut RuntimeState) -> Result<(), StateError> {
        self.workspace.ensure_dirs()?;
        let _lock = self.workspace.lock(LOCK, LOCK_WAIT)?;
        let on_disk = self.read_checked()?.revision;
        if on_disk != state.revision {
            return Err(StateError::Conflict {
                held: state.revision,
                on_disk,
            });
        }
        self.write_locked(state)
    }

    fn write_locked(&self, state: &mut RuntimeState) -> Result<(), StateError> {
        if let Some(team) = &state.team {
            let mut panes: std::collections::BTreeMap<&str, &str> = Default::default();
            // Only live agents: a stopped agent keeps the id of a pane of a server long gone,
            // and a new server numbers its panes from %0 again.
            let live = team.agents.values().filter(|a| {
                matches!(
                    a.status,
                    AgentStatus::Starting | AgentStatus::Running | AgentStatus::Blocked
                )
            });
            for agent in live {
                if let Some(pane) = agent.pane_id.as_deref()
                    && let Some(other) = panes.insert(pane, &agent.id)
                {
                    return Err(StateError::SharedPane {
                        pane: pane.to_string(),
                        agents: [other.to_string(), agent.id.clone()],
                    });
                }
            }
        }
        state.revision = state.revision.checked_add(1).ok_or(StateError::Revision)?;
        state.schema_version = state.schema_version.max(STATE_SCHEMA_VERSION);
        state.updated_at = Some(crate::events::now_rfc3339());
        let mut bytes = serde_json::to_vec_pretty(state).expect("state always encodes");
        bytes.push(b'\n');
        let path = self.path();
        write_atomically(&path, &bytes, 0o600)
            .map_err(|source| StateError::Write { path, source })?;
        if state.team.is_some() {
            let snapshot = self.snapshot_path();
            write_atomically(&snapshot, &bytes, 0o600).map_err(|source| StateError::Write {
                path: snapshot,
                source,
            })?;
        }
        Ok(())
    }

    /// The copy of the state file written with every save of a team.
    fn snapshot_path(&self) -> PathBuf {
        self.workspace.runtime_dir().join("state.snapshot.json")
    }

    /// The snapshots that could replace a corrupt state file (the team's own, when it can be
    /// read).
    pub fn snapshots(&self) -> Vec<PathBuf> {
        let snapshot = self.snapshot_path();
        match snapshot.is_file() && read(&snapshot).is_ok_and(|s| s.team.is_some()) {
            true => vec![snapshot],
            false => Vec::new(),
        }
    }

    /// Replaces `state.json` with a snapshot (the recovery `doctor` proposes). The corrupt file
    /// stays preserved beside it.
    pub fn restore_from(&self, snapshot: &Path) -> Result<(), StateError> {
        self.workspace.ensure_dirs()?;
        let _lock = self.workspace.lock(LOCK, LOCK_WAIT)?;
        let bytes = std::fs::read(snapshot).map_err(|source| StateError::Read {
            path: snapshot.to_path_buf(),
            source,
        })?;
        // Reading first preserves a corrupt file (if it is one) before it is replaced.
        let _ = read(&self.path());
        let path = self.path();
        write_atomically(&path, &bytes, 0o600).map_err(|source| StateError::Write { path, source })
    }
}

/// What this process last parsed of each state file, by the file's bytes: a command reads its
/// team's state several times (which team, the owner, the recipients, the send) and the
/// coordinator at every hand-off, mostly unchanged. The file is read each time; only bytes that
/// differ from the last parse are parsed again (a clone costs a fraction of a parse of the
/// 150 KB a hundred workers take).
static PARSED: std::sync::Mutex<Vec<(PathBuf, Vec<u8>, RuntimeState)>> =
    std::sync::Mutex::new(Vec::new());

/// Reads a state file; a missing file is an empty state; a corrupt one is preserved and refused.
fn read(path: &Path) -> Result<RuntimeState, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RuntimeState::default()),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut parsed = PARSED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = parsed.iter().position(|(p, _, _)| p == path);
    if let Some(at) = known
        && parsed[at].1 == bytes
    {
        return Ok(parsed[at].2.clone());
    }
    let state = serde_json::from_slice::<RuntimeState>(&bytes).map_err(|e| {
        let preserved = preserve_corrupt(path, &bytes);
        StateError::Corrupt {
            path: path.to_path_buf(),
            preserved,
            detail: e.to_string(),
        }
    })?;
    let entry = (path.to_path_buf(), bytes, state.clone());
    match known {
        Some(at) => parsed[at] = entry,
        None => parsed.push(entry),
    }
    Ok(state)
}

/// Copies a corrupt file to `<name>.corrupt-<timestamp>` (once per distinct content).
fn preserve_corrupt(path: &Path, bytes: &[u8]) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = format!("{name}.corrupt-");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let is_copy = entry.file_name().to_string_lossy().starts_with(&prefix);
            if is_copy && std::fs::read(entry.path()).is_ok_and(|b| b == bytes) {
                return entry.path();
            }
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let copy = dir.join(format!("{prefix}{stamp}"));
    let _ = write_atomically(&copy, bytes, 0o600);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team_named(name: &str) -> TeamState {
        serde_json::from_value(serde_json::json!({
            "name": name, "session_name": name, "tmux_socket": "/nonexistent", "definition": "/nonexistent",
            "status": "running", "agents": {}
        }))
        .unwrap()
    }

    /// A load never serves what this process parsed earlier once the file changed, however it
    /// changed: rewritten by another process to the same size, written in place, removed, or
    /// damaged after a good parse.
    #[test]
    fn a_load_sees_every_change_of_the_file_since_the_last_parse() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let workspace = Workspace::resolve(Some(dir.path())).unwrap();
        let store = StateStore::new(&workspace);
        store
            .update(|s| {
                s.team = Some(team_named("aaaa"));
                Ok::<_, StateError>(())
            })
            .unwrap();
        let name = |s: RuntimeState| s.team.map(|t| t.name);
        assert_eq!(name(store.load().unwrap()).as_deref(), Some("aaaa"));
        assert_eq!(name(store.load().unwrap()).as_deref(), Some("aaaa"));
        // Another process's rewrite of the same length, within the same clock tick.
        let path = store.path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"aaaa\"", "\"bbbb\"")).unwrap();
        assert_eq!(name(store.load().unwrap()).as_deref(), Some("bbbb"));
        // The state's own update, then a load.
        store
            .update(|s| {
                s.team.as_mut().unwrap().name = "cccc".into();
                Ok::<_, StateError>(())
            })
            .unwrap();
        assert_eq!(name(store.load().unwrap()).as_deref(), Some("cccc"));
        // Damaged after a good parse: refused, not the copy parsed before.
        std::fs::write(&path, b"{\"team\": ").unwrap();
        assert!(matches!(store.load(), Err(StateError::Corrupt { .. })));
        // Gone: an empty state, as in a workspace that never ran a team.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(store.load(), Ok(RuntimeState { team: None, .. })));
    }
}
