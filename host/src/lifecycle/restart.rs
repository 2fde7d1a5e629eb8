//! `team-agent restart`: resume every worker's provider session. Everything is decided before
//! tmux is touched: per worker `resume` (its session is resumable), `fresh_start` (it never got
//! work, or `--allow-fresh`) or `refuse`; one refusal and nothing is created.

use serde::Serialize;
use serde_json::{Value, json};
use team_agent_plugin_api::LaunchMode;

use super::bring_up::{
    StartedAgent, Workers, died_resuming, leader_from_caller, plan_workers, show_and_coordinate,
    start_workers_on_new_server, write_tmux_config,
};
use super::resume::{FirstSend, carry_over, first_send, requeue_untaken, resumability};
use super::{Context, LifecycleError, load_definition, server_of};
use crate::events::now_rfc3339;
use crate::spec::LoadedSpec;
use crate::state::{AgentState, LeaderBinding, TeamState, TeamStatus};
use crate::tmux::Server;

pub struct RestartOptions {
    /// Start workers whose session cannot be resumed fresh, losing their context.
    pub allow_fresh: bool,
    /// The display backend (`--display`); default: the one the team had, else the definition's.
    pub display: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Resume,
    FreshStart,
    Refuse,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartedAgent {
    #[serde(flatten)]
    pub agent: StartedAgent,
    pub restart_mode: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartReport {
    pub ok: bool,
    pub team: String,
    pub session_name: String,
    pub tmux_socket: std::path::PathBuf,
    pub agents: Vec<RestartedAgent>,
    pub coordinator: Value,
    pub display: Value,
}

/// One worker's restart, decided before anything is touched.
struct Decided<'a> {
    agent: &'a crate::spec::Agent,
    decision: Decision,
    session_id: Option<String>,
}

impl Decided<'_> {
    fn mode(&self) -> LaunchMode {
        match (self.decision, &self.session_id) {
            (Decision::Resume, Some(sid)) => LaunchMode::Resume {
                session_id: sid.clone(),
            },
            _ => LaunchMode::Fresh,
        }
    }
}

pub fn restart(
    ctx: &Context<'_>,
    options: &RestartOptions,
) -> Result<RestartReport, LifecycleError> {
    let (_, team) = ctx.team()?;
    refuse_if_running(&team)?;
    let spec = load_definition(ctx, &team)?;
    // 1. Decide, touching nothing; 2. plan every worker, still creating nothing.
    let decided = decide(ctx, &team, &spec, options)?;
    let workers: Vec<_> = decided.iter().map(|d| (d.agent, d.mode())).collect();
    let Workers { planned, held } = plan_workers(ctx, &spec, &workers, &team.agents)?;
    // 3. Start; a resumed window that dies at once rolls the whole restart back.
    ctx.workspace.ensure_dirs()?;
    let server = Server::at(&team.tmux_socket).with_config(write_tmux_config(ctx)?);
    let session = spec.spec.runtime.session_name.clone();
    let mut started = start_workers_on_new_server(ctx, &server, &session, &planned)
        .inspect_err(|_| drop(server.kill_server()))?;
    if let Some(dead) = died_resuming(&started, &planned) {
        let _ = server.kill_server();
        ctx.events.emit("restart.rolled_back", json!({"agent_id": dead.id, "exit_code": dead.exit_code, "last_lines": dead.last_lines}));
        return Err(LifecycleError::spawn(format!(
            "restart rolled back: the resumed worker '{}' exited at once (code {:?}): {}; nothing is left running. \
`team-agent restart --allow-fresh` starts workers that cannot resume fresh",
            dead.id,
            dead.exit_code,
            dead.last_lines.join(" | ")
        )));
    }
    // 4. Record (keeping what restart does not change), show the team, bring the coordinator up.
    for (state, planned) in started.iter_mut().zip(&planned) {
        if let Some(previous) = team.agents.get(&state.id) {
            carry_over(state, previous, &planned.mode);
            requeue_untaken(ctx, &team.name, previous);
            state.restarted_at = Some(now_rfc3339());
        }
    }
    let mut agents: Vec<RestartedAgent> = started
        .iter()
        .zip(&planned)
        .map(|(s, p)| RestartedAgent {
            agent: StartedAgent::of(s),
            restart_mode: if matches!(p.mode, LaunchMode::Resume { .. }) {
                "resumed"
            } else {
                "fresh"
            },
        })
        .collect();
    for state in held {
        agents.push(RestartedAgent {
            agent: StartedAgent::of(&state),
            restart_mode: "not_started",
        });
        started.push(state);
    }
    let leader = leader_from_caller(&spec).or(team.leader.clone());
    record(ctx, &spec, &session, leader.clone(), &started)?;
    // The display is rebuilt for the new windows (and a leader that may have moved).
    let (display, coordinator) = show_and_coordinate(
        ctx,
        &spec,
        options.display.as_deref(),
        team.display.as_ref(),
        leader.is_some(),
    );
    ctx.events.emit(
        "restart.complete",
        json!({"team": team.name, "agents": agents}),
    );
    Ok(RestartReport {
        ok: true,
        team: team.name.clone(),
        session_name: session,
        tmux_socket: team.tmux_socket.clone(),
        agents,
        coordinator,
        display,
    })
}

/// A team whose tmux session still exists is running: restart refuses.
fn refuse_if_running(team: &TeamState) -> Result<(), LifecycleError> {
    if server_of(team).has_session(&team.session_name) {
        return Err(LifecycleError::refused(
            "team_running",
            format!(
                "team '{}' is running (tmux session {})",
                team.name, team.session_name
            ),
            "shut it down first: `team-agent shutdown`, then `team-agent restart`",
        ));
    }
    Ok(())
}

/// Per worker (not paused): resume when its session can be resumed, fresh when it never got
/// work (or `--allow-fresh`), else refuse. One corrupt record or one refusal refuses it all.
fn decide<'s>(
    ctx: &Context<'_>,
    team: &TeamState,
    spec: &'s LoadedSpec,
    options: &RestartOptions,
) -> Result<Vec<Decided<'s>>, LifecycleError> {
    let mut corrupt = Vec::new();
    let mut unresumable = Vec::new();
    let mut decided = Vec::new();
    for agent in spec.spec.startup_order().into_iter().filter(|a| !a.paused) {
        let previous = team.agents.get(&agent.id);
        if previous.is_some_and(|p| p.paused) {
            continue;
        }
        let first = first_send(previous);
        if let FirstSend::Corrupt(raw) = &first {
            ctx.events.emit(
                "restart.first_send_at_invalid",
                json!({"agent_id": agent.id, "raw_first_send_at": raw}),
            );
            corrupt.push(json!({"agent_id": agent.id, "raw_first_send_at": raw}));
            continue;
        }
        let provider = ctx
            .registry
            .provider(&agent.provider)
            .map_err(|e| LifecycleError::plan(e.to_string()))?;
        let (resumable, blocker, session_id) = resumability(ctx, &provider, spec, agent, previous);
        let first_send_at = first.at().map(str::to_string);
        let decision = if resumable {
            Decision::Resume
        } else if first_send_at.is_none() || options.allow_fresh {
            Decision::FreshStart
        } else {
            Decision::Refuse
        };
        ctx.events.emit(
            "restart.resume_decision",
            json!({"worker_id": agent.id, "decision": decision, "has_first_send_at": first_send_at.is_some(),
                   "has_session_id": session_id.is_some(), "allow_fresh": options.allow_fresh,
                   "first_send_at": first_send_at, "session_id": session_id, "blocker": blocker}),
        );
        if decision == Decision::Refuse {
            unresumable.push(json!({"agent_id": agent.id, "reason": blocker, "session_id": session_id, "first_send_at": first_send_at}));
        }
        decided.push(Decided {
            agent,
            decision,
            session_id,
        });
    }
    if !corrupt.is_empty() {
        return Err(corrupt_refusal(&corrupt, options));
    }
    if !unresumable.is_empty() {
        ctx.events.emit(
            "restart.atomic_refusal",
            json!({"unresumable": unresumable, "allow_fresh": options.allow_fresh}),
        );
        return Err(unresumable_refusal(&unresumable, options));
    }
    Ok(decided)
}

fn corrupt_refusal(corrupt: &[Value], options: &RestartOptions) -> LifecycleError {
    let names: Vec<String> = corrupt
        .iter()
        .map(|c| c["agent_id"].as_str().unwrap_or("").to_string())
        .collect();
    LifecycleError::Refused {
        reason: "invalid_first_send_at",
        message: format!(
            "restart refused: the recorded first_send_at of {} is not a time, so whether it was given work is unknown",
            names.join(", ")
        ),
        action: "inspect the team's state.json under .team/runtime/teams/ (`team-agent doctor`); nothing was changed"
            .into(),
        details: json!({"invalid_first_send_at": corrupt, "allow_fresh": options.allow_fresh}),
    }
}

fn unresumable_refusal(unresumable: &[Value], options: &RestartOptions) -> LifecycleError {
    let lines: Vec<String> = unresumable
        .iter()
        .map(|u| {
            format!(
                "{} (first given work at {}; {})",
                u["agent_id"].as_str().unwrap_or(""),
                u["first_send_at"].as_str().unwrap_or("?"),
                u["reason"].as_str().unwrap_or("not resumable")
            )
        })
        .collect();
    LifecycleError::Refused {
        reason: "resume_atomicity",
        message: format!(
            "restart refused, nothing was started: these workers were given work but their sessions cannot be resumed: {}",
            lines.join("; ")
        ),
        action:
            "run `team-agent restart --allow-fresh` to start them fresh (they lose their context)"
                .into(),
        details: json!({"status": "refused", "unresumable": unresumable, "allow_fresh": options.allow_fresh}),
    }
}

/// The restarted team in the state: running again, on the definition's session and timing,
/// with its new windows and its leader.
fn record(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    session: &str,
    leader: Option<LeaderBinding>,
    started: &[AgentState],
) -> Result<(), LifecycleError> {
    ctx.store.update(|state| {
        let team = state.team.as_mut().expect("restart loaded a team");
        team.status = TeamStatus::Running;
        team.started_at = Some(now_rfc3339());
        team.stopped_at = None;
        team.session_name = session.to_string();
        team.timing = crate::state::Timing {
            tick_interval_sec: spec.spec.runtime.tick_interval_sec,
            stuck_timeout_sec: spec.spec.runtime.stuck_timeout_sec,
            long_tool_notice_sec: spec.spec.runtime.long_tool_notice_sec,
            consume_timeout_sec: spec.spec.runtime.consume_timeout_sec,
            startup_answer_window_sec: spec.spec.runtime.startup_answer_window_sec,
        };
        team.notify = spec.spec.runtime.notify.clone();
        team.leader = leader;
        for agent in started {
            team.agents.insert(agent.id.clone(), agent.clone());
        }
        Ok::<_, LifecycleError>(())
    })
}
