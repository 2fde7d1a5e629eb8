//! `team-agent up`: validate, plan every worker, then start them in their windows on the
//! workspace's private tmux server, and start the coordinator.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;
use team_agent_plugin_api::LaunchMode;

use super::bring_up::{
    StartedAgent, Workers, leader_from_caller, plan_workers, show_and_coordinate,
    start_workers_on_new_server, undo_worktrees, write_tmux_config,
};
use super::{Context, LifecycleError};
use crate::events::now_rfc3339;
use crate::spec::LoadedSpec;
use crate::state::{AgentState, AgentStatus, LeaderBinding, Owner, TeamState, TeamStatus};
use crate::tmux::Server;

pub struct UpOptions {
    /// Consent given up front (`--yes`) where the spec asks for approval before launch.
    pub yes: bool,
    /// Start anew even though a stopped team's sessions could be resumed.
    pub fresh: bool,
    /// Make the caller's tmux pane the leader (when `up` runs inside tmux).
    pub bind_leader: bool,
    /// The display backend (`--display`); default: the definition's, else `auto`.
    pub display: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub ok: bool,
    pub team: String,
    pub session_name: String,
    pub tmux_socket: PathBuf,
    pub agents: Vec<StartedAgent>,
    pub coordinator: serde_json::Value,
    pub leader: Option<LeaderBinding>,
    /// The display opened for the operator (a failed one is reported here, never fatal).
    pub display: serde_json::Value,
}

fn ask_approval(spec: &LoadedSpec, yes: bool) -> Result<(), LifecycleError> {
    if yes || !spec.spec.runtime.require_user_approval_before_launch {
        return Ok(());
    }
    let agents: Vec<String> = spec
        .spec
        .agents
        .iter()
        .map(|a| format!("{} ({})", a.id, a.provider))
        .collect();
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        eprint!(
            "Start team '{}' with {}? [y/N] ",
            spec.spec.team.name,
            agents.join(", ")
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
        return Err(LifecycleError::refused(
            "approval_declined",
            "not started: approval declined",
            "run again and answer y, or pass --yes",
        ));
    }
    Err(LifecycleError::refused(
        "approval_required",
        format!(
            "the spec asks for approval before launch (runtime.require_user_approval_before_launch) and there is no terminal to ask: {}",
            agents.join(", ")
        ),
        "pass --yes to approve",
    ))
}

/// Refuses when the workspace's team is running, or was shut down and could be restarted.
fn check_not_running(ctx: &Context<'_>, fresh: bool) -> Result<(), LifecycleError> {
    let state = ctx.store.load()?;
    let Some(team) = state.team else {
        return Ok(());
    };
    let server = Server::at(&team.tmux_socket);
    if server.has_session(&team.session_name) {
        return Err(LifecycleError::refused(
            "team_running",
            format!(
                "team '{}' is already running (tmux session {})",
                team.name, team.session_name
            ),
            "see it with `team-agent status`; stop it with `team-agent shutdown`, or start it again with `team-agent shutdown && team-agent restart`",
        ));
    }
    if !fresh {
        let how = match team.status {
            TeamStatus::Running => "its tmux session is gone (a reboot or a crash)",
            TeamStatus::Stopped => "it was shut down",
        };
        return Err(LifecycleError::refused(
            "existing_runtime_state",
            format!(
                "team '{}' already ran in this workspace and {how}; its workers' sessions can be resumed",
                team.name
            ),
            "resume them with `team-agent restart`, or start over (losing their context) with `team-agent up --fresh`",
        ));
    }
    Ok(())
}

pub fn up(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    options: &UpOptions,
) -> Result<UpReport, LifecycleError> {
    // 1. Decide: refusals, consent, and every worker's plan before any window exists.
    check_not_running(ctx, options.fresh)?;
    ask_approval(spec, options.yes)?;
    ctx.workspace.ensure_dirs()?;
    let server =
        Server::for_workspace(&ctx.workspace.identity()).with_config(write_tmux_config(ctx)?);
    let session = spec.spec.runtime.session_name.clone();
    if server.has_session(&session) {
        return Err(LifecycleError::refused(
            "tmux_session_exists",
            format!(
                "the tmux session {session} already exists on the team's server {}",
                server.socket().display()
            ),
            "shut it down with `team-agent shutdown` (or pick another session_name)",
        ));
    }
    let workers: Vec<_> = spec
        .spec
        .startup_order()
        .into_iter()
        .filter(|a| !a.paused)
        .map(|a| (a, LaunchMode::Fresh))
        .collect();
    let Workers { planned, held } = plan_workers(ctx, spec, &workers, &Default::default())?;
    // 2. Act: the windows; a failure kills the server this `up` started and removes the
    // worktrees it made.
    ctx.events.emit(
        "team.up_started",
        json!({"team": spec.spec.team.name, "session_name": session, "agents": planned.len()}),
    );
    let mut agents = match start_workers_on_new_server(ctx, &server, &session, &planned) {
        Ok(agents) => agents,
        Err(e) => {
            let _ = server.kill_server();
            undo_worktrees(&planned);
            ctx.events.emit(
                "team.up_rolled_back",
                json!({"team": spec.spec.team.name, "error": e.to_string()}),
            );
            return Err(e);
        }
    };
    agents.extend(held);
    // 3. Record, then show the team and bring the coordinator up.
    let leader = leader_from_caller(spec).filter(|_| options.bind_leader);
    let team = team_record(spec, &server, &session, leader.clone(), &agents);
    ctx.store.update(|state| {
        if let Some(old) = state.team.take() {
            state.previous_team = Some(crate::state::PreviousTeam {
                name: old.name,
                stopped_at: old.stopped_at,
            });
        }
        state.team = Some(team.clone());
        Ok::<_, LifecycleError>(())
    })?;
    let (display, coordinator) = show_and_coordinate(
        ctx,
        spec,
        options.display.as_deref(),
        None,
        leader.is_some(),
    );
    ctx.events.emit(
        "team.up",
        json!({"team": team.name, "session_name": session, "agents": agents.iter().map(|a| &a.id).collect::<Vec<_>>(),
               "leader_pane": leader.as_ref().map(|l| &l.pane_id)}),
    );
    Ok(UpReport {
        ok: true,
        team: team.name,
        session_name: session,
        tmux_socket: server.socket().to_path_buf(),
        agents: agents.iter().map(StartedAgent::of).collect(),
        coordinator,
        leader,
        display,
    })
}

/// The record of a team `up` started: its started workers, its paused ones stopped, the
/// caller's pane (if bound) as leader and owner.
fn team_record(
    spec: &LoadedSpec,
    server: &Server,
    session: &str,
    leader: Option<LeaderBinding>,
    agents: &[AgentState],
) -> TeamState {
    let mut team = TeamState {
        name: spec.spec.team.name.clone(),
        session_name: session.to_string(),
        tmux_socket: server.socket().to_path_buf(),
        definition: spec.origin.path().to_path_buf(),
        status: TeamStatus::Running,
        started_at: Some(now_rfc3339()),
        stopped_at: None,
        agents: spec
            .spec
            .agents
            .iter()
            .filter(|a| a.paused)
            .map(|a| {
                let mut s = AgentState::new(&a.id, &a.provider);
                s.status = AgentStatus::Stopped;
                s.paused = true;
                (a.id.clone(), s)
            })
            .collect(),
        owner: leader.as_ref().map(|l| Owner {
            pane_id: l.pane_id.clone(),
            socket: l.socket.clone(),
            epoch: 0,
            claimed_at: l.bound_at.clone(),
            claimed_via: "up".into(),
            extra: Default::default(),
        }),
        leader,
        display: None,
        timing: crate::state::Timing {
            tick_interval_sec: spec.spec.runtime.tick_interval_sec,
            stuck_timeout_sec: spec.spec.runtime.stuck_timeout_sec,
            long_tool_notice_sec: spec.spec.runtime.long_tool_notice_sec,
            consume_timeout_sec: spec.spec.runtime.consume_timeout_sec,
            startup_answer_window_sec: spec.spec.runtime.startup_answer_window_sec,
        },
        idle_monitor: Default::default(),
        idle_acknowledged_until: None,
        leader_api_error: None,
        notify: spec.spec.runtime.notify.clone(),
        extra: Default::default(),
    };
    for agent in agents {
        team.agents.insert(agent.id.clone(), agent.clone());
    }
    team
}
