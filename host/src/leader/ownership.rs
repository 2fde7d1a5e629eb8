//! Who owns a team: the leader pane that started it, with an epoch that grows with every change
//! of owner. Commands that change a team refuse when called from another live pane and say the
//! command to run instead; `claim-leader` adopts a team whose owner pane is gone, `takeover`
//! replaces a live owner. Workers (`TEAM_AGENT_ID` set) are never owners.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use crate::events::{EventLog, now_rfc3339};
use crate::lifecycle::LifecycleError;
use crate::state::{LeaderBinding, Owner, StateStore, TeamState};
use crate::tmux::Server;

/// The process asking: its tmux pane (if any) and whether it is a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub pane_id: Option<String>,
    pub socket: Option<PathBuf>,
    pub worker: Option<String>,
}

impl Caller {
    /// From `$TMUX_PANE`, `$TMUX` and `$TEAM_AGENT_ID`.
    pub fn from_env() -> Self {
        let pane_id = std::env::var("TMUX_PANE")
            .ok()
            .filter(|p| p.starts_with('%'));
        let socket = std::env::var("TMUX")
            .ok()
            .and_then(|t| Server::from_tmux_env(&t))
            .map(|s| s.socket().to_path_buf());
        let worker = std::env::var("TEAM_AGENT_ID")
            .ok()
            .filter(|w| !w.is_empty());
        Self {
            pane_id,
            socket,
            worker,
        }
    }

    fn pane(&self) -> Option<(&str, &PathBuf)> {
        Some((self.pane_id.as_deref()?, self.socket.as_ref()?))
    }

    fn is(&self, owner: &Owner) -> bool {
        self.pane().is_some_and(|(pane, socket)| {
            pane == owner.pane_id && same_socket(socket, &owner.socket)
        })
    }
}

fn same_socket(a: &PathBuf, b: &PathBuf) -> bool {
    a == b
        || std::fs::canonicalize(a)
            .ok()
            .zip(std::fs::canonicalize(b).ok())
            .is_some_and(|(x, y)| x == y)
}

/// Whether the owner's pane still exists.
pub fn owner_alive(owner: &Owner) -> bool {
    Server::at(&owner.socket)
        .display(&owner.pane_id, "#{pane_dead}")
        .is_ok_and(|d| d == "0")
}

/// Refuses a command that changes the team when the caller is another live pane than the owner.
pub fn check(team: &TeamState, caller: &Caller) -> Result<(), LifecycleError> {
    let Some(owner) = &team.owner else {
        return Ok(());
    };
    if caller.worker.is_some() || caller.pane().is_none() || caller.is(owner) {
        return Ok(());
    }
    let mut refusal = if owner_alive(owner) {
        LifecycleError::refused(
            "team_owner_mismatch",
            format!(
                "team '{}' is led from pane {} (alive), not from this pane {}",
                team.name,
                owner.pane_id,
                caller.pane_id.as_deref().unwrap_or("?")
            ),
            "run the command from the owner's pane, or make this pane the leader with `team-agent takeover --confirm`",
        )
    } else {
        LifecycleError::refused(
            "team_owner_gone",
            format!(
                "team '{}' was led from pane {}, which is gone",
                team.name, owner.pane_id
            ),
            "adopt the team from this pane with `team-agent claim-leader --confirm`",
        )
    };
    if let LifecycleError::Refused { details, .. } = &mut refusal {
        *details = json!({"status": "refused", "team_owner": owner, "caller": caller});
    }
    Err(refusal)
}

/// What a change of owner did.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerChange {
    pub ok: bool,
    pub applied: bool,
    pub team: String,
    pub owner: Option<Owner>,
    pub previous: Option<Owner>,
    pub message: String,
}

fn caller_pane(caller: &Caller) -> Result<(String, PathBuf), LifecycleError> {
    if caller.worker.is_some() {
        return Err(LifecycleError::refused(
            "worker_cannot_lead",
            "a worker cannot own a team",
            "run it from the leader's pane",
        ));
    }
    caller
        .pane()
        .map(|(p, s)| (p.to_string(), s.clone()))
        .ok_or_else(|| {
            LifecycleError::refused(
                "caller_pane_missing",
                "this command must run inside the tmux pane that is to lead",
                "run it from that pane",
            )
        })
}

/// Makes the caller's pane the owner (and the leader binding) at the next epoch.
fn bind(
    store: &StateStore,
    caller: &Caller,
    via: &str,
    expect_epoch: Option<u64>,
) -> Result<(TeamState, Option<Owner>), LifecycleError> {
    let (pane_id, socket) = caller_pane(caller)?;
    store.update(|state| {
        let Some(team) = state.team.as_mut() else {
            return Err(LifecycleError::refused(
                "no_team",
                "no team in this workspace",
                "start one with `team-agent up DIR`",
            ));
        };
        let previous = team.owner.clone();
        let epoch = previous.as_ref().map(|o| o.epoch).unwrap_or(0);
        if expect_epoch.is_some_and(|e| e != epoch) {
            return Err(LifecycleError::refused(
                "owner_epoch_advanced",
                "the team changed owner meanwhile; nothing was changed",
                "check `team-agent status` and run the command again",
            ));
        }
        let now = now_rfc3339();
        team.owner = Some(Owner {
            pane_id: pane_id.clone(),
            socket: socket.clone(),
            epoch: epoch + 1,
            claimed_at: now.clone(),
            claimed_via: via.into(),
            extra: Default::default(),
        });
        let provider = team.leader.as_ref().and_then(|l| l.provider.clone());
        team.leader = Some(LeaderBinding {
            pane_id: pane_id.clone(),
            socket: socket.clone(),
            provider,
            bound_at: now,
            extra: Default::default(),
        });
        Ok((team.clone(), previous))
    })
}

/// `team-agent claim-leader [--confirm]`: adopts a team whose owner pane is gone.
pub fn claim(
    store: &StateStore,
    events: &EventLog,
    caller: &Caller,
    confirm: bool,
) -> Result<OwnerChange, LifecycleError> {
    caller_pane(caller)?;
    let team = store.load()?.team.ok_or_else(|| {
        LifecycleError::refused(
            "no_team",
            "no team in this workspace",
            "start one with `team-agent up DIR`",
        )
    })?;
    if let Some(owner) = &team.owner {
        if caller.is(owner) {
            return Ok(OwnerChange {
                ok: true,
                applied: false,
                team: team.name,
                owner: Some(owner.clone()),
                previous: None,
                message: "this pane already leads the team".into(),
            });
        }
        if owner_alive(owner) {
            return Err(LifecycleError::refused(
                "previous_owner_alive",
                format!("the owner pane {} is alive", owner.pane_id),
                "replace it with `team-agent takeover --confirm`",
            ));
        }
    }
    if !confirm {
        return Ok(OwnerChange {
            ok: true,
            applied: false,
            team: team.name.clone(),
            owner: team.owner.clone(),
            previous: None,
            message: format!(
                "would make this pane {} the leader of team '{}' (epoch {}); run again with --confirm",
                caller.pane_id.as_deref().unwrap_or("?"),
                team.name,
                team.owner.as_ref().map(|o| o.epoch + 1).unwrap_or(1)
            ),
        });
    }
    let (team, previous) = bind(
        store,
        caller,
        "claim-leader",
        Some(team.owner.as_ref().map(|o| o.epoch).unwrap_or(0)),
    )?;
    events.emit(
        "owner.claimed",
        json!({"team": team.name, "owner": team.owner, "previous": previous}),
    );
    Ok(OwnerChange {
        ok: true,
        applied: true,
        message: format!(
            "this pane now leads team '{}' (epoch {})",
            team.name,
            team.owner.as_ref().map(|o| o.epoch).unwrap_or(0)
        ),
        team: team.name,
        owner: team.owner,
        previous,
    })
}

/// `team-agent takeover --confirm`: replaces a live owner with the caller's pane.
pub fn takeover(
    store: &StateStore,
    events: &EventLog,
    caller: &Caller,
    confirm: bool,
) -> Result<OwnerChange, LifecycleError> {
    caller_pane(caller)?;
    if !confirm {
        return Err(LifecycleError::refused(
            "confirm_required",
            "takeover replaces the team's current leader pane",
            "run `team-agent takeover --confirm` to do it",
        ));
    }
    let (team, previous) = bind(store, caller, "takeover", None)?;
    events.emit(
        "owner.takeover",
        json!({"team": team.name, "owner": team.owner, "previous": previous}),
    );
    Ok(OwnerChange {
        ok: true,
        applied: true,
        message: format!(
            "this pane now leads team '{}' (epoch {}); leader messages come here",
            team.name,
            team.owner.as_ref().map(|o| o.epoch).unwrap_or(0)
        ),
        team: team.name,
        owner: team.owner,
        previous,
    })
}
