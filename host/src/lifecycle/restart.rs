//! `team-agent restart`: resume every worker's provider session. Everything is decided before
//! tmux is touched: per worker `resume` (its session is resumable), `fresh_start` (it never got
//! work, or `--allow-fresh`) or `refuse`; one refusal and nothing is created.

use serde::Serialize;
use serde_json::{Value, json};
use team_agent_plugin_api::{LaunchMode, ResumeCheck};

use super::launch::{self, Planned};
use super::up::{
    StartedAgent, caller_pane, coordinator_json, start_all_with_modes, write_tmux_config,
};
use super::{Context, LifecycleError, server_of};
use crate::events::now_rfc3339;
use crate::spec::{self, LoadedSpec};
use crate::state::{AgentState, AgentStatus, LeaderBinding, TeamStatus};
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

/// `first_send_at` as recorded: never used (null), used at a time, or corrupt.
enum FirstSend {
    Never,
    At(String),
    Corrupt(Value),
}

fn first_send(agent: Option<&AgentState>) -> FirstSend {
    match agent.and_then(|a| a.first_send_at.clone()) {
        None | Some(Value::Null) => FirstSend::Never,
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => {
            FirstSend::At(s)
        }
        Some(other) => FirstSend::Corrupt(other),
    }
}

pub fn restart(
    ctx: &Context<'_>,
    options: &RestartOptions,
) -> Result<RestartReport, LifecycleError> {
    let (_, team) = ctx.team()?;
    let recorded = server_of(&team);
    if recorded.has_session(&team.session_name) {
        return Err(LifecycleError::refused(
            "team_running",
            format!(
                "team '{}' is running (tmux session {})",
                team.name, team.session_name
            ),
            "shut it down first: `team-agent shutdown`, then `team-agent restart`",
        ));
    }
    let spec = spec::load(
        &team.definition,
        ctx.workspace.root(),
        &ctx.registry.catalog(),
    )
    .map_err(|diagnostics| {
        let lines: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        LifecycleError::plan(format!(
            "the team definition {} no longer validates:\n{}",
            team.definition.display(),
            lines.join("\n")
        ))
    })?;

    // 1. Decide, touching nothing.
    let mut corrupt = Vec::new();
    let mut unresumable = Vec::new();
    let mut decisions: Vec<(String, Decision, Option<String>)> = Vec::new();
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
        let (resumable, blocker, session_id) = resumability(ctx, &provider, &spec, agent, previous);
        let first_send_at = match &first {
            FirstSend::At(at) => Some(at.clone()),
            _ => None,
        };
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
        decisions.push((agent.id.clone(), decision, session_id));
    }
    if !corrupt.is_empty() {
        let names: Vec<String> = corrupt
            .iter()
            .map(|c| c["agent_id"].as_str().unwrap_or("").to_string())
            .collect();
        return Err(LifecycleError::Refused {
            reason: "invalid_first_send_at",
            message: format!(
                "restart refused: the recorded first_send_at of {} is not a time, so whether it was given work is unknown",
                names.join(", ")
            ),
            action: "inspect .team/runtime/state.json (`team-agent doctor`); nothing was changed"
                .into(),
            details: json!({"invalid_first_send_at": corrupt, "allow_fresh": options.allow_fresh}),
        });
    }
    if !unresumable.is_empty() {
        ctx.events.emit(
            "restart.atomic_refusal",
            json!({"unresumable": unresumable, "allow_fresh": options.allow_fresh}),
        );
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
        return Err(LifecycleError::Refused {
            reason: "resume_atomicity",
            message: format!("restart refused, nothing was started: these workers were given work but their sessions cannot be resumed: {}", lines.join("; ")),
            action: "run `team-agent restart --allow-fresh` to start them fresh (they lose their context)".into(),
            details: json!({"status": "refused", "unresumable": unresumable, "allow_fresh": options.allow_fresh}),
        });
    }

    // 2. Plan every worker; still nothing created.
    let mut planned: Vec<Planned> = Vec::new();
    let mut modes = Vec::new();
    for (id, decision, session_id) in &decisions {
        let agent = spec.spec.agent(id).expect("decided from the spec");
        let provider = ctx
            .registry
            .provider(&agent.provider)
            .map_err(|e| LifecycleError::plan(e.to_string()))?;
        let mode = match (decision, session_id) {
            (Decision::Resume, Some(sid)) => LaunchMode::Resume {
                session_id: sid.clone(),
            },
            _ => LaunchMode::Fresh,
        };
        planned.push(launch::plan(
            &provider,
            ctx.workspace,
            &spec,
            agent,
            mode.clone(),
        )?);
        modes.push(mode);
    }
    for p in &planned {
        launch::run_pre_steps(p, &ctx.events)?;
    }

    // 3. Start; a resumed window that dies at once rolls the whole restart back.
    ctx.workspace.ensure_dirs()?;
    let server = Server::at(&team.tmux_socket).with_config(write_tmux_config(ctx)?);
    let session = spec.spec.runtime.session_name.clone();
    let mut started = match start_all_with_modes(ctx, &server, &session, &planned, &modes, &[]) {
        Ok(s) => s,
        Err(e) => {
            let _ = server.kill_server();
            return Err(e);
        }
    };
    if let Some(dead) = started
        .iter()
        .zip(&modes)
        .find(|(s, m)| s.status == AgentStatus::Exited && matches!(m, LaunchMode::Resume { .. }))
        .map(|(s, _)| s.clone())
    {
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
    // Keep what restart does not change (first use, pause) from the previous records.
    for (state, mode) in started.iter_mut().zip(&modes) {
        if let Some(previous) = team.agents.get(&state.id) {
            if matches!(mode, LaunchMode::Resume { .. }) {
                state.first_send_at = previous.first_send_at.clone();
                if state.session.is_none() {
                    state.session = previous.session.clone();
                    state.capture_state = previous.capture_state;
                }
            }
            state
                .extra
                .insert("restarted_at".into(), json!(now_rfc3339()));
        }
    }
    let leader = caller_pane()
        .map(|(pane_id, socket)| LeaderBinding {
            pane_id,
            socket,
            provider: Some(super::up::leader_provider(&spec)),
            bound_at: now_rfc3339(),
            extra: Default::default(),
        })
        .or(team.leader.clone());
    let name = team.name.clone();
    ctx.store.update(|state| {
        let team = state.team.as_mut().expect("restart loaded a team");
        team.status = TeamStatus::Running;
        team.started_at = Some(now_rfc3339());
        team.stopped_at = None;
        team.session_name = session.clone();
        team.timing = crate::state::Timing {
            tick_interval_sec: spec.spec.runtime.tick_interval_sec,
            stuck_timeout_sec: spec.spec.runtime.stuck_timeout_sec,
        };
        team.leader = leader.clone();
        for agent in &started {
            team.agents.insert(agent.id.clone(), agent.clone());
        }
        Ok::<_, LifecycleError>(())
    })?;
    let agents: Vec<RestartedAgent> = started
        .iter()
        .zip(&modes)
        .map(|(s, m)| RestartedAgent {
            agent: StartedAgent::of(s),
            restart_mode: if matches!(m, LaunchMode::Resume { .. }) {
                "resumed"
            } else {
                "fresh"
            },
        })
        .collect();
    // The display is rebuilt for the new windows (and a leader that may have moved).
    let backend = crate::display::choose(
        options.display.as_deref(),
        team.display.as_ref(),
        spec.spec.display_backend(),
        leader.is_some(),
    );
    let display = crate::display::open(&ctx.display(), &backend)
        .map(|d| crate::display::summary(Some(&d)))
        .unwrap_or_else(|e| json!({"backend": backend, "open": false, "error": e.to_string()}));
    // After the display, like `up`: its view sessions exist before the coordinator's first tick.
    let coordinator = crate::coordinator::ensure_running(ctx.workspace, &ctx.events);
    ctx.events
        .emit("restart.complete", json!({"team": name, "agents": agents}));
    Ok(RestartReport {
        ok: true,
        team: name,
        session_name: session,
        tmux_socket: team.tmux_socket.clone(),
        agents,
        coordinator: coordinator_json(&coordinator),
        display,
    })
}

/// Whether an agent's recorded session can be resumed now, why not, and its id. A session the
/// provider wrote after the last capture attempt is looked for once more first.
fn resumability(
    ctx: &Context<'_>,
    provider: &team_agent_plugin_api::loader::ProviderClient<'_>,
    spec: &LoadedSpec,
    agent: &crate::spec::Agent,
    previous: Option<&AgentState>,
) -> (bool, Option<&'static str>, Option<String>) {
    let Some(previous) = previous else {
        return (false, Some("no_persisted_session_id"), None);
    };
    let mut record = previous.session.clone();
    if record.is_none() && previous.spawned_at.is_some() {
        let others: Vec<String> = Vec::new();
        record = provider
            .capture_session_id(&crate::session::capture_context(previous, others))
            .ok()
            .flatten();
        if let Some(r) = &record {
            ctx.events.emit(
                "session.captured",
                json!({"agent_id": agent.id, "session_id": r.session_id, "during": "restart"}),
            );
        }
    }
    let session_id = record.as_ref().map(|r| r.session_id.clone());
    let check = ResumeCheck {
        agent_id: agent.id.clone(),
        cwd: previous
            .spawn_cwd
            .clone()
            .unwrap_or_else(|| spec.working_directory(agent)),
        home: std::env::var_os("HOME").map(Into::into).unwrap_or_default(),
        record,
    };
    match provider.session_is_resumable(&check) {
        Ok(r) if r.resumable => (true, None, session_id),
        Ok(r) => (
            false,
            Some(
                r.blocker
                    .map(|b| b.as_str())
                    .unwrap_or("session_unresumable"),
            ),
            session_id,
        ),
        Err(_) => (false, Some("session_unresumable"), session_id),
    }
}
