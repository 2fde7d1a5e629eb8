//! Binding a pane as the team's leader (`team-agent attach-leader`): messages to the leader go
//! there, and a team without an owner gets this pane as its owner.

use serde_json::json;

use super::LeaderError;
use crate::state::{LeaderBinding, Owner, StateStore};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// Binds pane `pane` of `server` as the leader (keeping the recorded provider unless one is
/// given); the binding. The pane must be a live pane id.
pub fn attach(
    workspace: &Workspace,
    server: &Server,
    pane: &str,
    provider: Option<&str>,
) -> Result<LeaderBinding, LeaderError> {
    if !pane.starts_with('%') {
        return Err(
            LeaderError::new(format!("--pane {pane:?} is not a pane id"))
                .action("pane ids look like %3: `tmux display -p '#{pane_id}'`"),
        );
    }
    let alive = server.display(pane, "#{pane_dead}").map_err(|e| {
        LeaderError::new(format!("pane {pane} on {}: {e}", server.socket().display()))
            .action("check the pane id and the socket")
    })?;
    if alive != "0" {
        return Err(LeaderError::new(format!("pane {pane} is dead")));
    }
    let socket =
        std::path::absolute(server.socket()).unwrap_or_else(|_| server.socket().to_path_buf());
    let binding = StateStore::new(workspace).update(|state| {
        let Some(team) = state.team.as_mut() else {
            return Err(LeaderError::new("no team runs in this workspace")
                .action("start one with `team-agent up DIR`"));
        };
        let binding = LeaderBinding {
            pane_id: pane.to_string(),
            socket: socket.clone(),
            provider: provider
                .map(str::to_string)
                .or_else(|| team.leader.as_ref().and_then(|l| l.provider.clone())),
            bound_at: crate::events::now_rfc3339(),
            extra: Default::default(),
        };
        team.leader = Some(binding.clone());
        if team.owner.is_none() {
            team.owner = Some(Owner {
                pane_id: pane.to_string(),
                socket: socket.clone(),
                epoch: 0,
                claimed_at: binding.bound_at.clone(),
                claimed_via: "attach-leader".into(),
                extra: Default::default(),
            });
        }
        Ok(binding)
    })?;
    let events = crate::events::EventLog::new(workspace);
    events.emit(
        "leader.attached",
        json!({"pane_id": pane, "socket": socket, "provider": binding.provider}),
    );
    // Leader messages that waited in the inbox file go to the pane now.
    let _ = crate::coordinator::ensure_running(workspace, &events);
    Ok(binding)
}
