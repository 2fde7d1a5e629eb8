//! The teams of a workspace, and the move of a team of the earlier single-team layout (its
//! files right in `.team/runtime/` and `.team/logs/`) into its own directories.
//!
//! A team is known by its state file: `runtime/teams/<team>/state.json`, or `runtime/state.json`
//! for a team of the earlier layout. The move renames each file into the team's directories,
//! the state file last: a move cut short by a crash leaves the team where the next move finds
//! it and finishes. The locks directory stays (a command of an earlier version may hold a lock
//! in it); git worktrees stay where they are (their records name their paths).

use std::fs;
use std::path::{Path, PathBuf};

use super::Workspace;

/// A team with a state file in the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamEntry {
    pub name: String,
    /// It lives in the earlier single-team layout.
    pub legacy: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    #[error(
        "cannot move team '{team}' of the earlier single-team layout into {to}: renaming {from} failed ({source}); nothing was lost (every file is in one of the two places): fix the permissions and run the command again"
    )]
    Move {
        team: String,
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}

/// The name of the team a state file holds, reading no more than that.
fn team_name(state_file: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        team: Option<Team>,
    }
    #[derive(serde::Deserialize)]
    struct Team {
        name: String,
    }
    let bytes = fs::read(state_file).ok()?;
    serde_json::from_slice::<Named>(&bytes)
        .ok()?
        .team
        .map(|t| t.name)
}

/// The team of the earlier single-team layout in `workspace`, if there is one.
pub(super) fn legacy_team(workspace: &Workspace) -> Option<String> {
    let file = workspace.runtime_root().join("state.json");
    if !file.is_file() {
        return None;
    }
    team_name(&file)
}

impl Workspace {
    /// Every team with a state file here, by name (a team of the earlier layout first).
    pub fn teams(&self) -> Vec<TeamEntry> {
        let mut found = Vec::new();
        let legacy = legacy_team(self);
        if let Some(name) = &legacy {
            found.push(TeamEntry {
                name: name.clone(),
                legacy: true,
            });
        }
        let mut scoped: Vec<String> = fs::read_dir(self.runtime_root().join("teams"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.path().join("state.json").is_file())
            // A state file that lost its team (or cannot be read) still names its team, through
            // its snapshot or its directory, so commands find it and refuse, saying how to
            // restore it.
            .map(|e| {
                team_name(&e.path().join("state.json"))
                    .or_else(|| team_name(&e.path().join("state.snapshot.json")))
                    .unwrap_or_else(|| e.file_name().to_string_lossy().into_owned())
            })
            // The earlier layout kept a copy of its state there.
            .filter(|name| legacy.as_ref() != Some(name))
            .collect();
        scoped.sort();
        scoped.dedup();
        found.extend(scoped.into_iter().map(|name| TeamEntry {
            name,
            legacy: false,
        }));
        found
    }

    /// Moves the team of the earlier single-team layout into its own directories; its name, or
    /// `None` when there is none. The caller makes sure nothing of that team runs.
    pub fn move_legacy_team(&self) -> Result<Option<String>, TeamsError> {
        let Some(team) = legacy_team(self) else {
            return Ok(None);
        };
        let target = self.unscoped().for_team_in_own_dirs(&team);
        let _ = target.ensure_dirs();
        let moves = [
            (
                self.runtime_root(),
                target.runtime_dir(),
                &["teams", "locks"][..],
            ),
            (self.logs_root(), target.logs_dir(), &["teams"][..]),
        ];
        for (from, to, keep) in moves {
            let mut entries: Vec<PathBuf> = fs::read_dir(&from)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    !keep.contains(&name) && name != "state.json"
                })
                .collect();
            entries.sort();
            if from == self.runtime_root() {
                // Last: until it moves, the team is found where it was.
                entries.push(from.join("state.json"));
            }
            for path in entries {
                let dest = to.join(path.file_name().unwrap_or_default());
                if dest.is_dir() && path.is_dir() {
                    let _ = fs::remove_dir_all(&dest);
                }
                fs::rename(&path, &dest).map_err(|source| TeamsError::Move {
                    team: team.clone(),
                    from: path.clone(),
                    to: dest.clone(),
                    source,
                })?;
            }
        }
        Ok(Some(team))
    }

    /// Scoped to `team` in its own directories, even while a team of that name lives in the
    /// earlier layout.
    fn for_team_in_own_dirs(&self, team: &str) -> Self {
        Self {
            team: Some(team.to_string()),
            legacy: false,
            ..self.unscoped()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(team: &str) -> String {
        format!("{{\"revision\": 3, \"team\": {{\"name\": \"{team}\", \"agents\": {{}}}}}}\n")
    }

    #[test]
    fn a_team_of_the_earlier_layout_moves_into_its_own_directories_with_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::at(dir.path());
        ws.ensure_dirs().unwrap();
        let runtime = ws.runtime_root();
        fs::write(runtime.join("state.json"), state("alpha")).unwrap();
        fs::write(runtime.join("team.db"), b"db").unwrap();
        fs::create_dir_all(runtime.join("mcp")).unwrap();
        fs::write(runtime.join("mcp/alice.json"), b"{}").unwrap();
        // The earlier layout's copy of its state, and another team in the new layout.
        fs::create_dir_all(runtime.join("teams/alpha")).unwrap();
        fs::write(runtime.join("teams/alpha/state.json"), state("alpha")).unwrap();
        fs::create_dir_all(runtime.join("teams/beta")).unwrap();
        fs::write(runtime.join("teams/beta/state.json"), state("beta")).unwrap();
        fs::write(ws.logs_root().join("events.jsonl"), b"{}\n").unwrap();

        let names = |ws: &Workspace| {
            ws.teams()
                .into_iter()
                .map(|t| (t.name, t.legacy))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&ws),
            [("alpha".to_string(), true), ("beta".to_string(), false)]
        );
        assert!(ws.for_team("alpha").is_legacy());
        assert_eq!(ws.for_team("alpha").runtime_dir(), runtime);
        assert_eq!(
            ws.for_team("beta").runtime_dir(),
            runtime.join("teams/beta")
        );

        assert_eq!(ws.move_legacy_team().unwrap().as_deref(), Some("alpha"));
        let alpha = ws.for_team("alpha");
        assert!(!alpha.is_legacy());
        assert_eq!(
            fs::read(alpha.runtime_dir().join("team.db")).unwrap(),
            b"db"
        );
        assert!(alpha.runtime_dir().join("mcp/alice.json").is_file());
        assert_eq!(
            fs::read_to_string(alpha.state_file()).unwrap(),
            state("alpha")
        );
        assert!(alpha.events_file().is_file());
        assert!(!runtime.join("state.json").exists() && !runtime.join("team.db").exists());
        assert!(runtime.join("locks").is_dir(), "the locks stay");
        assert_eq!(
            names(&ws),
            [("alpha".to_string(), false), ("beta".to_string(), false)]
        );
        assert_eq!(ws.move_legacy_team().unwrap(), None);
    }
}
