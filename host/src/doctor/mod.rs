/*! `team-agent doctor`: environment and workspace checks that each say what is wrong and what to
run, and the repairs that need a human's go-ahead (restoring state from a team snapshot).
*/

use std::process::Command;

use serde::Serialize;
use team_agent_plugin_api::loader::PluginStatus;

use crate::plugins::Registry;
use crate::state::{StateError, StateStore};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

fn check(
    name: &'static str,
    level: Level,
    detail: impl Into<String>,
    action: Option<String>,
) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
        action,
    }
}

/// Runs every check on `workspace`.
pub fn run_checks(workspace: &Workspace) -> Vec<Check> {
    vec![tmux(), plugins(workspace), state(workspace)]
}

fn tmux() -> Check {
    match Command::new("tmux").arg("-V").output() {
        Ok(out) if out.status.success() => check(
            "tmux",
            Level::Ok,
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            None,
        ),
        _ => check(
            "tmux",
            Level::Fail,
            "tmux is not installed or not on PATH",
            Some("install it: apt-get install -y tmux (or brew install tmux)".into()),
        ),
    }
}

fn plugins(workspace: &Workspace) -> Check {
    let registry = Registry::load(Some(workspace.root()));
    let rows = registry.rows();
    let ok = rows
        .iter()
        .filter(|r| r.status == PluginStatus::Ok.as_str())
        .count();
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| r.status != PluginStatus::Ok.as_str())
        .map(|r| {
            r.error
                .clone()
                .unwrap_or_else(|| format!("{}: {}", r.path.display(), r.status))
        })
        .collect();
    if ok == 0 {
        return check(
            "plugins",
            Level::Fail,
            "no usable plugin found",
            Some(
                "install team-agent with scripts/install.sh, or set TEAM_AGENT_PLUGIN_PATH".into(),
            ),
        );
    }
    if bad.is_empty() {
        check("plugins", Level::Ok, format!("{ok} plugins ok"), None)
    } else {
        check(
            "plugins",
            Level::Warn,
            format!(
                "{ok} plugins ok; {} not usable: {}",
                bad.len(),
                bad.join("; ")
            ),
            Some("see `team-agent plugins list`".into()),
        )
    }
}

fn state(workspace: &Workspace) -> Check {
    let store = StateStore::new(workspace);
    match store.load() {
        Ok(state) => match state.team {
            Some(team) => check(
                "state",
                Level::Ok,
                format!(
                    "revision {}: team '{}' ({:?}, {} agents)",
                    state.revision,
                    team.name,
                    team.status,
                    team.agents.len()
                ),
                None,
            ),
            None => check(
                "state",
                Level::Ok,
                "no team has run in this workspace",
                None,
            ),
        },
        Err(StateError::Corrupt {
            path,
            preserved,
            detail,
        }) => {
            let action = match store.snapshots().first() {
                Some(snapshot) => format!(
                    "restore the last good copy: `team-agent doctor --restore-state --confirm` (copies {} over {}; the corrupt file stays as {})",
                    snapshot.display(),
                    path.display(),
                    preserved.display()
                ),
                None => format!(
                    "no team snapshot to restore from: move {} aside and start the team again with `team-agent up` (the corrupt copy stays as {})",
                    path.display(),
                    preserved.display()
                ),
            };
            check(
                "state",
                Level::Fail,
                format!("{} is corrupt: {detail}", path.display()),
                Some(action),
            )
        }
        Err(e) => check("state", Level::Fail, e.to_string(), None),
    }
}

/// Restores `state.json` from the newest team snapshot; without `confirm`, says what it would do.
pub fn restore_state(workspace: &Workspace, confirm: bool) -> Result<String, String> {
    let store = StateStore::new(workspace);
    let snapshot =
        store.snapshots().into_iter().next().ok_or_else(|| {
            "no team snapshot under .team/runtime/teams/ to restore from".to_string()
        })?;
    if !confirm {
        return Ok(format!(
            "would copy {} over {}; run again with --confirm",
            snapshot.display(),
            store.path().display()
        ));
    }
    store.restore_from(&snapshot).map_err(|e| e.to_string())?;
    Ok(format!(
        "restored {} from {}",
        store.path().display(),
        snapshot.display()
    ))
}
