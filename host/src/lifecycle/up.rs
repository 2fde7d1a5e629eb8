//! `team-agent up`: validate, plan every worker, then start them in their windows on the
//! workspace's private tmux server, and start the coordinator.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;
use team_agent_plugin_api::LaunchMode;

use super::launch::{self, Planned};
use super::{Context, LifecycleError};
use crate::events::now_rfc3339;
use crate::spec::LoadedSpec;
use crate::state::{AgentState, AgentStatus, LeaderBinding, Owner, TeamState, TeamStatus};
use crate::tmux::Server;

pub struct UpOptions {
    pub definition: PathBuf,
    /// Consent given up front (`--yes`) where the spec asks for approval before launch.
    pub yes: bool,
    /// Start anew even though a stopped team's sessions could be resumed.
    pub fresh: bool,
    /// Make the caller's tmux pane the leader (when `up` runs inside tmux).
    pub bind_leader: bool,
    /// The display backend (`--display`); default: the definition's, else `auto`.
    pub display: Option<String>,
}

/// One started worker.
#[derive(Debug, Clone, Serialize)]
pub struct StartedAgent {
    pub id: String,
    pub provider: String,
    pub status: &'static str,
    pub pane_id: Option<String>,
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
}

impl StartedAgent {
    pub fn of(state: &AgentState) -> Self {
        Self {
            id: state.id.clone(),
            provider: state.provider.clone(),
            status: state.status.as_str(),
            pane_id: state.pane_id.clone(),
            session_id: state.session_id().map(str::to_string),
            blocked_reason: state.blocked_reason.clone(),
        }
    }
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

/// The caller's tmux pane, when `up` runs inside tmux (and not inside a worker).
pub fn caller_pane() -> Option<(String, PathBuf)> {
    if std::env::var_os("TEAM_AGENT_ID").is_some() {
        return None;
    }
    let pane = std::env::var("TMUX_PANE")
        .ok()
        .filter(|p| p.starts_with('%'))?;
    let server = Server::from_tmux_env(&std::env::var("TMUX").ok()?)?;
    Some((pane, server.socket().to_path_buf()))
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
    check_not_running(ctx, options.fresh)?;
    ask_approval(spec, options.yes)?;
    ctx.workspace.ensure_dirs()?;
    let server = Server::for_workspace(ctx.workspace.root()).with_config(write_tmux_config(ctx)?);
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
    // Decide everything first: every worker's plan is built and checked before any window exists.
    let mut planned: Vec<Planned> = Vec::new();
    for agent in spec.spec.startup_order().into_iter().filter(|a| !a.paused) {
        let provider = ctx
            .registry
            .provider(&agent.provider)
            .map_err(|e| LifecycleError::plan(e.to_string()))?;
        planned.push(launch::plan(
            &provider,
            ctx.workspace,
            spec,
            agent,
            LaunchMode::Fresh,
        )?);
    }
    for p in &planned {
        launch::run_pre_steps(p, &ctx.events)?;
    }
    ctx.events.emit(
        "team.up_started",
        json!({"team": spec.spec.team.name, "session_name": session, "agents": planned.len()}),
    );
    let agents = match start_all(ctx, &server, &session, &planned) {
        Ok(agents) => agents,
        Err(e) => {
            let _ = server.kill_server();
            ctx.events.emit(
                "team.up_rolled_back",
                json!({"team": spec.spec.team.name, "error": e.to_string()}),
            );
            return Err(e);
        }
    };
    let leader = caller_pane()
        .filter(|_| options.bind_leader)
        .map(|(pane_id, socket)| LeaderBinding {
            pane_id,
            socket,
            provider: Some(leader_provider(spec)),
            bound_at: now_rfc3339(),
            extra: Default::default(),
        });
    let mut team = TeamState {
        name: spec.spec.team.name.clone(),
        session_name: session.clone(),
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
        leader: leader.clone(),
        owner: leader.as_ref().map(|l| Owner {
            pane_id: l.pane_id.clone(),
            socket: l.socket.clone(),
            epoch: 0,
            claimed_at: l.bound_at.clone(),
            claimed_via: "up".into(),
            extra: Default::default(),
        }),
        display: None,
        timing: crate::state::Timing {
            tick_interval_sec: spec.spec.runtime.tick_interval_sec,
            stuck_timeout_sec: spec.spec.runtime.stuck_timeout_sec,
        },
        extra: Default::default(),
    };
    for agent in &agents {
        team.agents.insert(agent.id.clone(), agent.clone());
    }
    ctx.store.update(|state| {
        if let Some(old) = state.team.take() {
            state.extra.insert(
                "previous_team".into(),
                json!({"name": old.name, "stopped_at": old.stopped_at}),
            );
        }
        state.team = Some(team.clone());
        Ok::<_, LifecycleError>(())
    })?;
    // The display first: its view sessions exist before the coordinator's first tick, so the
    // coordinator never holds a control-mode client beside them (see tmux::control).
    let backend = crate::display::choose(
        options.display.as_deref(),
        None,
        spec.spec.display_backend(),
        leader.is_some(),
    );
    let display = crate::display::open(&ctx.display(), &backend)
        .map(|d| crate::display::summary(Some(&d)))
        .unwrap_or_else(|e| json!({"backend": backend, "open": false, "error": e.to_string()}));
    let coordinator = crate::coordinator::ensure_running(ctx.workspace, &ctx.events);
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
        coordinator: coordinator_json(&coordinator),
        leader,
        display,
    })
}

pub fn coordinator_json(outcome: &Result<u32, String>) -> serde_json::Value {
    match outcome {
        Ok(pid) => json!({"pid": pid, "status": "running"}),
        Err(e) => json!({"pid": null, "status": "not_running", "error": e}),
    }
}

/// Spawns every planned window, then settles them all at once (startup dialogs, session
/// capture). The caller rolls back on error.
pub fn start_all(
    ctx: &Context<'_>,
    server: &Server,
    session: &str,
    planned: &[Planned],
) -> Result<Vec<AgentState>, LifecycleError> {
    start_all_with_modes(
        ctx,
        server,
        session,
        planned,
        &vec![LaunchMode::Fresh; planned.len()],
        &[],
    )
}

pub fn start_all_with_modes(
    ctx: &Context<'_>,
    server: &Server,
    session: &str,
    planned: &[Planned],
    modes: &[LaunchMode],
    owned_by_others: &[String],
) -> Result<Vec<AgentState>, LifecycleError> {
    let mut states = Vec::new();
    for (p, mode) in planned.iter().zip(modes) {
        (ctx.progress)(&format!("{}: starting ({})", p.agent_id, p.provider));
        let state = launch::spawn(ctx.workspace, server, session, p, mode)?;
        ctx.events.emit(
            "agent.spawned",
            json!({"agent_id": state.id, "provider": state.provider, "pane_id": state.pane_id, "cwd": p.cwd, "mode": mode}),
        );
        states.push(state);
    }
    let settled: Vec<AgentState> = std::thread::scope(|scope| {
        let handles: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                scope.spawn(move || {
                    if let Ok(provider) = ctx.registry.provider(&state.provider) {
                        launch::settle_startup(server, &provider, &mut state, &ctx.events);
                        if state.status == AgentStatus::Running {
                            crate::session::capture_session(
                                &provider,
                                &mut state,
                                owned_by_others.to_vec(),
                                crate::session::CAPTURE_BOUND,
                                &ctx.events,
                            );
                        }
                    }
                    state
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a settle thread never panics"))
            .collect()
    });
    for state in &settled {
        let detail = match state.status {
            AgentStatus::Running => match state.session_id() {
                Some(id) => format!("ready (session {id})"),
                None => "ready (session not captured yet)".to_string(),
            },
            AgentStatus::Blocked => format!(
                "blocked: {}",
                state.blocked_reason.as_deref().unwrap_or("needs a human")
            ),
            AgentStatus::Exited => format!(
                "exited (code {:?}): {}",
                state.exit_code,
                state.last_lines.join(" | ")
            ),
            _ => "still starting; the coordinator keeps answering its startup dialogs".to_string(),
        };
        (ctx.progress)(&format!("{}: {detail}", state.id));
    }
    Ok(settled)
}

/// Writes the team server's config (read when `up` or `restart` starts the server).
pub fn write_tmux_config(ctx: &Context<'_>) -> Result<PathBuf, LifecycleError> {
    let path = ctx.workspace.runtime_dir().join("tmux.conf");
    let config = "# Written by team-agent for the team's private tmux server.\n\
set -g remain-on-exit on\n\
set -g history-limit 50000\n\
set -g exit-empty on\n";
    crate::state::write_atomically(&path, config.as_bytes(), 0o600)
        .map_err(|e| LifecycleError::spawn(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The provider of the pane that starts the team: a leader started by `team-agent PROVIDER`
/// knows its provider better than the spec does.
pub(super) fn leader_provider(spec: &LoadedSpec) -> String {
    std::env::var("TEAM_AGENT_LEADER_PROVIDER")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| spec.spec.leader.provider.clone())
}
