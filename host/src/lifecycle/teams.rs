//! Which team a command acts on: `--team NAME` (or `TEAM_AGENT_TEAM`, set for every worker and
//! leader), else the one team that runs, else the only team there is; with several and none
//! named, the command is refused with the list.

use super::LifecycleError;
use crate::state::AgentStatus;
use crate::workspace::{TeamsError, Workspace};

/// A team's name and whether its coordinator runs.
pub struct Known {
    pub name: String,
    pub running: bool,
}

/// Every team of the workspace, and whether each runs.
pub fn known(base: &Workspace) -> Vec<Known> {
    base.teams()
        .into_iter()
        .map(|t| Known {
            running: crate::coordinator::running_pid(&base.for_team(&t.name)).is_some(),
            name: t.name,
        })
        .collect()
}

fn listing(teams: &[Known]) -> String {
    teams
        .iter()
        .map(|t| {
            format!(
                "{} ({})",
                t.name,
                if t.running { "running" } else { "stopped" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The team `named`, or the one the workspace leaves no doubt about: `None` when it has none.
pub fn choose(base: &Workspace, named: Option<&str>) -> Result<Option<String>, LifecycleError> {
    if let Some(name) = named {
        // The team's own state file says it is here, without reading every team's.
        if base.for_team(name).state_file().is_file() {
            return Ok(Some(name.to_string()));
        }
        let known = known(base);
        let there = match known.is_empty() {
            true => "there is no team in this workspace yet (`team-agent up DIR` starts one)"
                .to_string(),
            false => format!("its teams: {}", listing(&known)),
        };
        return Err(LifecycleError::refused(
            "unknown_team",
            format!(
                "no team '{name}' in workspace {}: {there}",
                base.root().display()
            ),
            "name one of its teams with --team NAME, or start it with `team-agent up DIR`",
        ));
    }
    let teams = known(base);
    let running: Vec<&Known> = teams.iter().filter(|t| t.running).collect();
    match (running.as_slice(), teams.as_slice()) {
        ([one], _) => Ok(Some(one.name.clone())),
        ([], [one]) => Ok(Some(one.name.clone())),
        ([], []) => Ok(None),
        _ => Err(LifecycleError::refused(
            "several_teams",
            format!(
                "{} teams in workspace {}: {}",
                teams.len(),
                base.root().display(),
                listing(&teams)
            ),
            "say which with --team NAME (or TEAM_AGENT_TEAM)",
        )),
    }
}

/// The workspace at `dir`, scoped to the team a command acts on (unscoped when the workspace has
/// no team yet: the command then says there is none, as before).
pub fn team_workspace(base: &Workspace, named: Option<&str>) -> Result<Workspace, LifecycleError> {
    Ok(match choose(base, named)? {
        Some(team) => base.for_team(&team),
        None => base.clone(),
    })
}

/// The workspace scoped to `team` for a command that starts it (`up`, `restart`): a team of the
/// earlier single-team layout that does not run is moved into its own directories first.
pub fn starting_team(base: &Workspace, team: &str) -> Result<Workspace, TeamsError> {
    let scoped = base.for_team(team);
    if scoped.is_legacy() && crate::coordinator::running_pid(&scoped).is_none() {
        let held = crate::state::StateStore::new(&scoped)
            .load()
            .ok()
            .and_then(|s| s.team)
            .is_some_and(|t| {
                t.agents.values().any(|a| {
                    matches!(
                        a.status,
                        AgentStatus::Starting | AgentStatus::Running | AgentStatus::Blocked
                    )
                })
            });
        if !held {
            base.move_legacy_team()?;
            return Ok(base.for_team(team));
        }
    }
    Ok(scoped)
}
