//! What every operation that starts workers shares (`up`, `restart`, `start-agent`,
//! `fork-agent`): planning the workers before anything exists, the team server's config,
//! spawning and settling the windows, the leader the caller's pane becomes, and the tail that
//! opens the display and brings the coordinator up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};
use team_agent_plugin_api::LaunchMode;

use super::launch::{self, Planned};
use super::worktrees::{self, Created, NotReady};
use super::{Context, LifecycleError};
use crate::events::now_rfc3339;
use crate::spec::{Agent, LoadedSpec};
use crate::state::{AgentState, AgentStatus, DisplayRecord, LeaderBinding, WorktreeRecord};
use crate::tmux::Server;

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

/// The workers an operation plans: their checked plans, and those held back because their
/// worktree's setup failed (recorded stopped, with the failure).
#[derive(Default)]
pub(super) struct Workers {
    pub planned: Vec<Planned>,
    pub held: Vec<AgentState>,
}

/// Readies every worker's place (its worktree, if it has one), plans it with its launch mode,
/// and runs the plans' pre-steps (a login): every plan is built and checked before any window
/// exists. A failure removes the worktrees and branches this call created.
pub(super) fn plan_workers(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    workers: &[(&Agent, LaunchMode)],
    previous: &BTreeMap<String, AgentState>,
) -> Result<Workers, LifecycleError> {
    let mut out = Workers::default();
    let mut made = Vec::new();
    let planned = plan_each(ctx, spec, workers, previous, &mut out, &mut made).and_then(|()| {
        out.planned
            .iter()
            .try_for_each(|p| launch::run_pre_steps(p, &ctx.events))
    });
    if let Err(e) = planned {
        worktrees::undo(&made);
        return Err(e);
    }
    Ok(out)
}

fn plan_each(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    workers: &[(&Agent, LaunchMode)],
    previous: &BTreeMap<String, AgentState>,
    out: &mut Workers,
    made: &mut Vec<(WorktreeRecord, Created)>,
) -> Result<(), LifecycleError> {
    for (agent, mode) in workers {
        let provider = ctx
            .registry
            .provider(&agent.provider)
            .map_err(|e| LifecycleError::plan(e.to_string()))?;
        let workplace = match worktrees::prepare(ctx, spec, agent, previous.get(&agent.id), None) {
            Ok(w) => w,
            Err(NotReady::Setup(record, _)) => {
                (ctx.progress)(&format!(
                    "{}: not started: {}",
                    agent.id,
                    record
                        .setup_error
                        .as_deref()
                        .unwrap_or("its worktree setup failed")
                ));
                out.held
                    .push(worktrees::held(agent, *record, previous.get(&agent.id)));
                continue;
            }
            Err(NotReady::Failed(e)) => return Err(e),
        };
        if let Some(record) = &workplace.worktree {
            made.push((record.clone(), workplace.created));
        }
        out.planned.push(launch::plan(
            &provider,
            ctx.workspace,
            spec,
            agent,
            mode.clone(),
            workplace,
        )?);
    }
    Ok(())
}

/// Removes what planning created of these workers' worktrees (after a start that failed).
pub(super) fn undo_worktrees(planned: &[Planned]) {
    let made: Vec<_> = planned.iter().filter_map(|p| p.worktree.clone()).collect();
    worktrees::undo(&made);
}

/// The first started worker whose resumed session died at once (its resume failed).
pub(super) fn died_resuming<'a>(
    started: &'a [AgentState],
    planned: &[Planned],
) -> Option<&'a AgentState> {
    started
        .iter()
        .zip(planned)
        .find(|(s, p)| {
            s.status == AgentStatus::Exited && matches!(p.mode, LaunchMode::Resume { .. })
        })
        .map(|(s, _)| s)
}

/// The caller's pane as the team's leader, when the caller runs in tmux.
pub(super) fn leader_from_caller(spec: &LoadedSpec) -> Option<LeaderBinding> {
    caller_pane().map(|(pane_id, socket)| LeaderBinding {
        pane_id,
        socket,
        provider: Some(leader_provider(spec)),
        bound_at: now_rfc3339(),
        extra: Default::default(),
    })
}

/// The tail of `up` and `restart`, after the team is recorded: the display first (its view
/// sessions exist before the coordinator's first tick, so the coordinator never holds a
/// control-mode client beside them; see tmux::control), then the coordinator. Neither failing
/// stops the team; each outcome is reported.
pub(super) fn show_and_coordinate(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    requested_display: Option<&str>,
    previous_display: Option<&DisplayRecord>,
    leader_in_tmux: bool,
) -> (Value, Value) {
    let backend = crate::display::choose(
        requested_display,
        previous_display,
        spec.spec.display_backend(),
        leader_in_tmux,
    );
    let display = crate::display::open(&ctx.display(), &backend)
        .map(|d| crate::display::summary(Some(&d)))
        .unwrap_or_else(|e| json!({"backend": backend, "open": false, "error": e.to_string()}));
    let coordinator = coordinator_json(&crate::coordinator::ensure_running(
        ctx.workspace,
        &ctx.events,
    ));
    (display, coordinator)
}

/// The caller's tmux pane, when it runs inside tmux (and not inside a worker).
fn caller_pane() -> Option<(String, PathBuf)> {
    if std::env::var_os("TEAM_AGENT_ID").is_some() {
        return None;
    }
    let pane = std::env::var("TMUX_PANE")
        .ok()
        .filter(|p| p.starts_with('%'))?;
    let server = Server::from_tmux_env(&std::env::var("TMUX").ok()?)?;
    Some((pane, server.socket().to_path_buf()))
}

/// The coordinator's outcome as a report shows it.
pub(super) fn coordinator_json(outcome: &Result<u32, String>) -> Value {
    match outcome {
        Ok(pid) => json!({"pid": pid, "status": "running"}),
        Err(e) => json!({"pid": null, "status": "not_running", "error": e}),
    }
}

/// [`start_workers`] on a server this command has just started, before any coordinator or display
/// attaches to it: the reads of the settling (every worker's screen, many times) go over one
/// control-mode client instead of a tmux process each; the client is gone when this returns.
pub(super) fn start_workers_on_new_server(
    ctx: &Context<'_>,
    server: &Server,
    session: &str,
    planned: &[Planned],
) -> Result<Vec<AgentState>, LifecycleError> {
    crate::tmux::control::enable();
    let started = start_workers(ctx, server, session, planned, &[]);
    crate::tmux::control::disable();
    started
}

/// Spawns every planned window, then settles them all at once (startup dialogs, session
/// capture). The caller rolls back on error.
pub(super) fn start_workers(
    ctx: &Context<'_>,
    server: &Server,
    session: &str,
    planned: &[Planned],
    owned_by_others: &[String],
) -> Result<Vec<AgentState>, LifecycleError> {
    for p in planned {
        (ctx.progress)(&format!("{}: starting ({})", p.agent_id, p.provider));
    }
    let all: Vec<&Planned> = planned.iter().collect();
    let states = launch::spawn_all(ctx.workspace, server, session, &all)?;
    for (p, state) in planned.iter().zip(&states) {
        ctx.events.emit(
            "agent.spawned",
            json!({"agent_id": state.id, "provider": state.provider, "pane_id": state.pane_id, "cwd": p.cwd, "mode": p.mode}),
        );
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
pub(super) fn write_tmux_config(ctx: &Context<'_>) -> Result<PathBuf, LifecycleError> {
    let path = ctx.workspace.runtime_dir().join("tmux.conf");
    let config = "# Written by team-agent for the team's private tmux server.\n\
set -g remain-on-exit on\n\
set -g history-limit 50000\n\
set -g exit-empty on\n";
    crate::state::write_derived(&path, config.as_bytes(), 0o600)
        .map_err(|e| LifecycleError::spawn(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The provider of the pane that starts the team: a leader started by `team-agent PROVIDER`
/// knows its provider better than the spec does.
fn leader_provider(spec: &LoadedSpec) -> String {
    std::env::var("TEAM_AGENT_LEADER_PROVIDER")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| spec.spec.leader.provider.clone())
}
