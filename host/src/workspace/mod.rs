/*! Every path under a workspace's `.team/`, the locks that serialise writers, and the helper
files' permissions. Nothing else in the host spells a `.team/...` path.

A workspace is the directory teams work in. Its `.team/` holds the user's profiles, and for each
team `runtime/teams/<team>/` (state, database, coordinator files, locks), `logs/teams/<team>/`
and `worktrees/<team>/`. A [`Workspace`] scoped to a team ([`Workspace::for_team`]) spells that
team's paths; unscoped, the workspace-wide ones. A team of the single-team layout of earlier
versions (its files right in `runtime/` and `logs/`) is found, used in place while it runs, and
moved into its own directories when it is down (`teams`). Files that can hold secrets or message
content are created mode 0600 and directories 0700.
*/

mod lock;
mod teams;

pub use lock::{FileLock, LockError};
pub use teams::{TeamEntry, TeamsError};

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The directory of the running `team-agent` binary (where helper binaries ship).
pub fn exe_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let exe = fs::canonicalize(&exe).unwrap_or(exe);
    exe.parent().map(Path::to_path_buf)
}

/// A workspace on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
    /// Whether `.team/` may be created (false for the coordinator: a deleted workspace must stay
    /// deleted, never be brought back by a late write).
    create: bool,
    /// The team whose paths this spells; `None`: the workspace-wide ones.
    team: Option<String>,
    /// The team lives in the single-team layout of earlier versions (right in `runtime/`).
    legacy: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "workspace {path} does not exist or is not a directory; pass --workspace DIR or cd into it"
    )]
    NotADirectory { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "cannot write in {path} ({source}); nothing was changed: give yourself write access (chmod -R u+w '{path}') and try again"
    )]
    NotWritable { path: PathBuf, source: io::Error },
}

impl Workspace {
    /// The workspace at `dir` (default: the current directory), made absolute.
    pub fn resolve(dir: Option<&Path>) -> Result<Self, WorkspaceError> {
        let given = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_dir()
                .map_err(|_| WorkspaceError::NotADirectory { path: ".".into() })?,
        };
        let root = fs::canonicalize(&given).map_err(|_| WorkspaceError::NotADirectory {
            path: given.clone(),
        })?;
        if !root.is_dir() {
            return Err(WorkspaceError::NotADirectory { path: given });
        }
        Ok(Self {
            root,
            create: true,
            team: None,
            legacy: false,
        })
    }

    /// A workspace whose root is already absolute (tests, the coordinator).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            create: true,
            team: None,
            legacy: false,
        }
    }

    /// The same workspace, spelling the paths of `team`: where a team of the earlier single-team
    /// layout still lives in place, there.
    pub fn for_team(&self, team: &str) -> Self {
        let mut scoped = self.unscoped();
        scoped.legacy = teams::legacy_team(&scoped).as_deref() == Some(team);
        scoped.team = Some(team.to_string());
        scoped
    }

    /// The same workspace, spelling the workspace-wide paths.
    pub fn unscoped(&self) -> Self {
        Self {
            team: None,
            legacy: false,
            ..self.clone()
        }
    }

    /// The team this workspace is scoped to.
    pub fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }

    /// What names this scope among every workspace and team on the machine (the tmux and
    /// coordinator sockets are named by its hash): the root, or a team's runtime directory.
    pub fn identity(&self) -> PathBuf {
        match (&self.team, self.legacy) {
            (Some(_), false) => self.runtime_dir(),
            _ => self.root.clone(),
        }
    }

    /// Whether the team lives in the earlier single-team layout.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The team's own directory under `dir` (`dir/teams/<team>`), or `dir` itself unscoped or in
    /// the earlier layout.
    fn scoped(&self, dir: PathBuf) -> PathBuf {
        match (&self.team, self.legacy) {
            (Some(team), false) => dir.join("teams").join(safe_name(team)),
            _ => dir,
        }
    }

    /// The same workspace, but one whose `.team/` is never created again once it is gone.
    pub fn existing_only(mut self) -> Self {
        self.create = false;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn team_dir(&self) -> PathBuf {
        self.root.join(".team")
    }

    /// `.team/runtime`, whatever the scope: where the teams' directories are.
    pub fn runtime_root(&self) -> PathBuf {
        self.team_dir().join("runtime")
    }

    /// `.team/logs`, whatever the scope.
    pub fn logs_root(&self) -> PathBuf {
        self.team_dir().join("logs")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.scoped(self.runtime_root())
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.scoped(self.logs_root())
    }

    pub fn state_file(&self) -> PathBuf {
        self.runtime_dir().join("state.json")
    }

    pub fn database(&self) -> PathBuf {
        self.runtime_dir().join("team.db")
    }

    pub fn events_file(&self) -> PathBuf {
        self.logs_dir().join("events.jsonl")
    }

    pub fn scrollback_file(&self, agent: &str) -> PathBuf {
        self.logs_dir()
            .join(format!("{}.scrollback", safe_name(agent)))
    }

    pub fn coordinator_pid_file(&self) -> PathBuf {
        self.runtime_dir().join("coordinator.pid")
    }

    pub fn coordinator_meta_file(&self) -> PathBuf {
        self.runtime_dir().join("coordinator.json")
    }

    pub fn coordinator_log(&self) -> PathBuf {
        self.runtime_dir().join("coordinator.log")
    }

    pub fn mcp_config_file(&self, agent: &str) -> PathBuf {
        self.runtime_dir()
            .join("mcp")
            .join(format!("{}.json", safe_name(agent)))
    }

    pub fn leader_inbox(&self) -> PathBuf {
        self.runtime_dir().join("leader-inbox.log")
    }

    /// Where workers with `isolation: worktree` get their git worktrees.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.scoped(self.team_dir().join("worktrees"))
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.team_dir().join("profiles")
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.runtime_dir().join("locks")
    }

    /// Creates the scope's runtime directory, its locks directory and its logs directory (mode
    /// 0700, with `.team/runtime` and `.team/logs` above them) if missing.
    pub fn ensure_dirs(&self) -> Result<(), WorkspaceError> {
        if self.create {
            private_dir(&self.team_dir())?;
        } else if !self.team_dir().is_dir() {
            return Err(WorkspaceError::NotADirectory {
                path: self.team_dir(),
            });
        }
        // One level at a time: if `.team/` vanishes meanwhile, nothing brings it back.
        let mut dirs = vec![self.runtime_root()];
        if self.runtime_dir() != self.runtime_root() {
            dirs.extend([self.runtime_root().join("teams"), self.runtime_dir()]);
        }
        dirs.extend([self.locks_dir(), self.logs_root()]);
        if self.logs_dir() != self.logs_root() {
            dirs.extend([self.logs_root().join("teams"), self.logs_dir()]);
        }
        for dir in dirs {
            use std::os::unix::fs::DirBuilderExt;
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(WorkspaceError::Create {
                        path: dir,
                        source: e,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Takes the named lock (`.team/runtime/locks/<name>.lock`), waiting up to `timeout`.
    /// Whether what a team-changing command writes can be written: a file in `.team/runtime`
    /// and in its locks directory (a read-only `.team` once let `shutdown` stop everything and
    /// then fail to record it).
    pub fn check_writable(&self) -> Result<(), WorkspaceError> {
        // A `.team` holding only the user's own files (profiles) gets its runtime directories.
        self.ensure_dirs()?;
        for dir in [self.runtime_dir(), self.locks_dir()] {
            let probe = dir.join(format!(".write-check-{}", std::process::id()));
            fs::write(&probe, b"")
                .and_then(|()| fs::remove_file(&probe))
                .map_err(|source| WorkspaceError::NotWritable {
                    path: self.team_dir(),
                    source,
                })?;
        }
        Ok(())
    }

    pub fn lock(&self, name: &str, timeout: std::time::Duration) -> Result<FileLock, LockError> {
        let _ = self.ensure_dirs();
        FileLock::acquire(
            &self.locks_dir().join(format!("{}.lock", safe_name(name))),
            timeout,
        )
    }
}

/// Creates a directory (and its parents) with mode 0700.
pub fn private_dir(dir: &Path) -> Result<(), WorkspaceError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| WorkspaceError::Create {
            path: dir.to_path_buf(),
            source,
        })
}

/// Opens a file for appending, creating it mode 0600.
pub fn open_private_append(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// `name` with anything but `[A-Za-z0-9._-]` made `-` (a file name's or a git ref's part).
pub fn safe_chars(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A name made safe for a file name: anything but `[A-Za-z0-9._-]` becomes `-`.
pub fn safe_name(name: &str) -> String {
    let safe = safe_chars(name);
    match safe.as_str() {
        "" | "." | ".." => format!("_{safe}"),
        _ => safe,
    }
}

/// Serialises a path as text even when it is not UTF-8 (replacing what is not), so a JSON answer
/// never fails on an odd file name.
pub fn serialize_path_lossy<S: serde::Serializer>(
    path: &Path,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}
