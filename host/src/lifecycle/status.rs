//! `team-agent status`: what runs, read from the state, one tmux snapshot and the message store;
//! never a capture of every pane (the coordinator keeps activity up to date).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::{Context, LifecycleError, server_of};
use crate::state::{AgentState, AgentStatus, CaptureState, LeaderBinding, TeamStatus};
use crate::tmux::Snapshot;

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    pub id: String,
    pub provider: String,
    pub status: &'static str,
    pub activity: Option<&'static str>,
    /// What told the activity (`screen`, `transcript`, `hook`), or `none` when nothing
    /// watches it (no coordinator, or the worker is not running).
    pub activity_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_since: Option<String>,
    /// What goes with the activity: `{"tool"}` in a tool, `{"prompt"}` awaiting approval or
    /// input, `{"class","reset"}` in an API error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_detail: Option<Value>,
    /// The last hook event of the worker's CLI: `{"event","at"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<Value>,
    /// Since when it looks stuck (it claims to work and shows no progress), told to the leader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_since: Option<String>,
    /// Why the coordinator no longer calls its provider plugin (it panicked or hung).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub pane_id: Option<String>,
    pub session_id: Option<String>,
    pub capture_state: CaptureState,
    pub transcript_path: Option<PathBuf>,
    pub first_send_at: crate::state::FirstSend,
    pub last_output_age_s: Option<u64>,
    pub pending_messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_error: Option<Value>,
    /// The current turn as the worker's transcript tells it: `{state, since, rule}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<Value>,
    /// Its own git worktree (`isolation: worktree`): `{path, branch, base, ahead, dirty, exists}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<super::worktrees::WorktreeRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub ok: bool,
    pub team: Option<String>,
    pub running: bool,
    pub session_name: Option<String>,
    pub tmux_socket: Option<PathBuf>,
    pub agents: Vec<AgentRow>,
    pub coordinator: crate::coordinator::Health,
    pub leader: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_inbox: Option<Value>,
    /// `{"backend","open","error","leader_socket","processes"}` or null.
    pub display: Value,
    pub message: String,
}

/// An agent's lifecycle as it really is: a recorded running agent whose window is gone is
/// `missing`; one whose process died is `exited`.
pub fn live_status(
    agent: &AgentState,
    snapshot: &Snapshot,
    team_running: bool,
) -> (AgentStatus, Option<i32>) {
    let live = matches!(
        agent.status,
        AgentStatus::Starting | AgentStatus::Running | AgentStatus::Blocked
    );
    if !team_running {
        // The team's tmux server or session is gone: nothing of it runs, whatever was recorded.
        let status = if live {
            AgentStatus::Missing
        } else {
            agent.status
        };
        return (status, agent.exit_code);
    }
    if matches!(agent.status, AgentStatus::Stopped) {
        return (agent.status, agent.exit_code);
    }
    match agent.pane_id.as_deref().and_then(|p| snapshot.pane(p)) {
        None => (AgentStatus::Missing, agent.exit_code),
        Some(pane) if pane.dead => (AgentStatus::Exited, pane.exit_code().or(agent.exit_code)),
        Some(_) => (agent.status, agent.exit_code),
    }
}

fn age_seconds(at: Option<&str>) -> Option<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(at?).ok()?;
    Some(
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .num_seconds()
            .max(0) as u64,
    )
}

pub fn status(
    ctx: &Context<'_>,
    only: Option<&str>,
    pending: &BTreeMap<String, u64>,
) -> Result<StatusReport, LifecycleError> {
    let state = ctx.store.load()?;
    let coordinator = crate::coordinator::health(ctx.workspace);
    let Some(team) = state.team else {
        return Ok(StatusReport {
            ok: true,
            team: None,
            running: false,
            session_name: None,
            tmux_socket: None,
            agents: vec![],
            coordinator,
            leader: None,
            leader_inbox: None,
            display: Value::Null,
            message: "no team runs in this workspace; start one with `team-agent up DIR`".into(),
        });
    };
    if let Some(id) = only
        && !team.agents.contains_key(id)
    {
        return Err(super::unknown_agent(&team, id));
    }
    let server = server_of(&team);
    // The running coordinator reads the panes over its control-mode connection, quicker than
    // starting a tmux process here.
    let snapshot = if team.status != TeamStatus::Running {
        Snapshot::default()
    } else if let Some(panes) = coordinator
        .is_running()
        .then(|| crate::coordinator::panes_from_coordinator(ctx.workspace, server.socket()))
        .flatten()
    {
        Snapshot::parse(&panes)
    } else {
        server.snapshot()?
    };
    let running = snapshot.has_session(&team.session_name);
    let watched = coordinator.is_running();
    let agents: Vec<AgentRow> = team
        .agents
        .values()
        .filter(|a| only.is_none_or(|id| a.id == id))
        .map(|a| {
            let (status, exit_code) = live_status(a, &snapshot, running);
            agent_row(a, status, exit_code, watched, pending)
        })
        .collect();
    let leader = team.leader.as_ref().map(|l: &LeaderBinding| {
        let alive = crate::tmux::Server::at(&l.socket).display(&l.pane_id, "#{pane_dead}").map(|d| d == "0").unwrap_or(false);
        serde_json::json!({"pane_id": l.pane_id, "socket": l.socket, "provider": l.provider, "alive": alive, "bound_at": l.bound_at,
                           "owner_epoch": team.owner.as_ref().map(|o| o.epoch), "api_error": team.leader_api_error})
    });
    let inbox = ctx.workspace.leader_inbox();
    let leader_inbox = std::fs::metadata(&inbox)
        .ok()
        .filter(|m| m.len() > 0)
        .map(|m| serde_json::json!({"path": inbox, "bytes": m.len()}));
    let message = if running && !watched {
        format!(
            "team '{}' is up ({} agents), but its coordinator is not running: activity is unknown and queued messages wait; start it with `team-agent coordinator start`",
            team.name,
            team.agents.len()
        )
    } else if running {
        format!("team '{}' is up ({} agents)", team.name, team.agents.len())
    } else if team.status == TeamStatus::Running {
        format!(
            "team '{}' is down: its tmux session is gone; `team-agent restart` resumes it",
            team.name
        )
    } else {
        format!(
            "team '{}' is shut down; `team-agent restart` resumes it",
            team.name
        )
    };
    Ok(StatusReport {
        ok: true,
        team: Some(team.name.clone()),
        running,
        session_name: Some(team.session_name.clone()),
        tmux_socket: Some(team.tmux_socket.clone()),
        agents,
        coordinator,
        leader,
        leader_inbox,
        display: crate::display::summary(team.display.as_ref()),
        message,
    })
}

/// One agent's row: what it is now (`status`, `exit_code` from the live snapshot) and what its
/// record says; activity only while a coordinator keeps it up to date (`watched`).
fn agent_row(
    a: &AgentState,
    status: AgentStatus,
    exit_code: Option<i32>,
    watched: bool,
    pending: &BTreeMap<String, u64>,
) -> AgentRow {
    AgentRow {
        id: a.id.clone(),
        provider: a.provider.clone(),
        status: status.as_str(),
        // Only the coordinator keeps activity up to date; without it, what was last seen
        // is not shown as what is.
        activity: match status {
            AgentStatus::Running if watched => {
                Some(a.activity.map(|x| x.as_str()).unwrap_or("unknown"))
            }
            AgentStatus::Running => Some("unknown"),
            // Its process is gone, which the live snapshot shows whoever watches.
            AgentStatus::Exited => Some("exited"),
            _ => None,
        },
        activity_source: match (&a.activity_source, watched && status == AgentStatus::Running) {
            _ if status == AgentStatus::Exited => "process".into(),
            (Some(source), true) => source.clone(),
            (None, true) if a.activity.is_some() => "screen".into(),
            _ => "none".into(),
        },
        activity_since: a
            .activity_since
            .clone()
            .filter(|_| watched && status == AgentStatus::Running),
        activity_detail: (watched && status == AgentStatus::Running && !a.activity_detail.is_empty())
            .then(|| serde_json::json!(a.activity_detail)),
        hook: a
            .hook
            .as_ref()
            .map(|h| serde_json::json!({"event": h.event, "at": h.at})),
        stuck_since: a.stuck_notified_at.clone().filter(|_| status == AgentStatus::Running),
        provider_fault: a.provider_fault.clone().filter(|_| watched),
        blocked_reason: a
            .blocked_reason
            .clone()
            .filter(|_| status == AgentStatus::Blocked),
        exit_code: exit_code.filter(|_| status == AgentStatus::Exited),
        pane_id: a.pane_id.clone(),
        session_id: a.session_id().map(str::to_string),
        capture_state: a.capture_state,
        transcript_path: a.session.as_ref().and_then(|s| s.transcript_path.clone()),
        first_send_at: a.first_send_at.clone(),
        last_output_age_s: age_seconds(a.last_output_at.as_deref()),
        pending_messages: pending.get(&a.id).copied().unwrap_or(0),
        api_error: a.api_error.as_ref().map(|e| serde_json::json!(e)),
        turn: a
            .turn
            .as_ref()
            .filter(|_| status == AgentStatus::Running)
            .map(|t| {
                serde_json::json!({"state": t.state, "since": t.since, "rule": t.rule, "source": "transcript"})
            }),
        worktree: a.worktree.as_ref().map(super::worktrees::row),
    }
}
