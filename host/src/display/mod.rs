/*! Showing the team to the operator through a display plugin (docs/ARCHITECTURE.md §3). The plugin only
plans; this module runs its steps (tmux commands on the team's or the leader's server, terminal
emulators started in their own process group, and stopped again), records the backend, the
plugin's handle, the leader server the windows live on and the pids it started, and closes or
rebuilds from that record. A display that fails never stops the team: the failure is recorded
(status shows it) and whatever the failed plan had created is undone.
*/

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use team_agent_plugin_api::{
    DisplayEnvironment, DisplayPlan, LeaderPane, PlanStep, StepEffect, TeamView, TmuxServer,
    WorkerView,
};

use crate::events::EventLog;
use crate::plugins::Registry;
use crate::spec::AUTO_DISPLAY as AUTO;
use crate::state::{AgentStatus, DisplayRecord, Spawned, StateError, StateStore, TeamState};
use crate::tmux::Server;

/// What showing the team works with.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub events: &'a EventLog,
    pub store: &'a StateStore,
}

impl Context<'_> {
    fn team(&self) -> Result<TeamState, DisplayError> {
        self.store.load()?.team.ok_or(DisplayError::NoTeam)
    }
}

/// Why a display's record could not be read or stored.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("no team has run in this workspace: start one with `team-agent up DIR`")]
    NoTeam,
    #[error(transparent)]
    State(#[from] StateError),
}

/// Which display to open: `--display`, else the one the team had before a shutdown, else the
/// team definition's `display_backend`, else `auto`; `auto` is `tmux-overview` when the leader
/// runs in tmux and `none` otherwise.
pub fn choose(
    requested: Option<&str>,
    previous: Option<&DisplayRecord>,
    from_spec: Option<String>,
    leader_in_tmux: bool,
) -> String {
    let named = requested
        .map(crate::spec::map_display_backend)
        .or_else(|| previous.map(|p| p.backend.clone()))
        .or(from_spec)
        .unwrap_or_else(|| AUTO.into());
    match named.as_str() {
        AUTO if leader_in_tmux => "tmux-overview".into(),
        AUTO => "none".into(),
        _ => named,
    }
}

/// Opens `backend` for the team recorded in the workspace and stores the outcome.
pub fn open(ctx: &Context<'_>, backend: &str) -> Result<DisplayRecord, DisplayError> {
    let team = ctx.team()?;
    let record = open_record(ctx, &team, backend);
    store(ctx, Some(record.clone()))?;
    Ok(record)
}

/// Closes the team's display (if one is open) and keeps the backend for the next start.
pub fn close(ctx: &Context<'_>, team: &TeamState) -> Option<DisplayRecord> {
    let record = team.display.as_ref().filter(|d| d.open)?;
    let mut closed = record.clone();
    let outcome = match ctx.registry.display(&record.backend) {
        Ok(client) => client
            .close(&record.handle)
            .map_err(|e| e.to_string())
            .map(|plan| run_undo(ctx, team, &plan, &mut closed)),
        Err(e) => Err(e.to_string()),
    };
    // Whatever the plugin says, nothing this display started is left running.
    for spawned in std::mem::take(&mut closed.processes).into_values() {
        terminate(&spawned);
    }
    closed.open = false;
    closed.handle = Value::Null;
    closed.error = outcome.err();
    ctx.events.emit(
        "display.closed",
        json!({"backend": closed.backend, "error": closed.error}),
    );
    Some(closed)
}

/// Re-plans an open display for the team as it is now (workers added or stopped, a new leader
/// pane); opens the chosen backend when none is open but one was asked for.
pub fn rebuild(ctx: &Context<'_>) -> Result<Option<DisplayRecord>, DisplayError> {
    let team = ctx.team()?;
    let Some(record) = team.display.clone() else {
        return Ok(None);
    };
    if !record.open {
        return Ok(None);
    }
    let closed = close(ctx, &team).unwrap_or(record);
    let mut team = team;
    team.display = Some(closed.clone());
    let reopened = open_record(ctx, &team, &closed.backend);
    store(ctx, Some(reopened.clone()))?;
    Ok(Some(reopened))
}

fn store(ctx: &Context<'_>, record: Option<DisplayRecord>) -> Result<(), DisplayError> {
    ctx.store.update(|state| {
        if let Some(team) = state.team.as_mut() {
            team.display = record.clone();
        }
        Ok::<_, DisplayError>(())
    })
}

fn open_record(ctx: &Context<'_>, team: &TeamState, backend: &str) -> DisplayRecord {
    let mut record = DisplayRecord {
        backend: backend.to_string(),
        handle: Value::Null,
        error: None,
        open: false,
        leader_socket: None,
        processes: BTreeMap::new(),
        extra: Default::default(),
    };
    let client = match ctx.registry.display(backend) {
        Ok(client) => client,
        Err(e) => {
            record.error = Some(format!("{e}; the team runs without a display"));
            ctx.events.emit(
                "display.failed",
                json!({"backend": backend, "error": record.error}),
            );
            return record;
        }
    };
    let view = team_view(team);
    record.leader_socket = view.leader.as_ref().map(|l| l.socket.clone());
    let result = client
        .probe(&view.environment)
        .map_err(|e| e.to_string())
        .and_then(|probe| {
            if probe.available {
                Ok(())
            } else {
                Err(format!("not available here: {}", probe.detail))
            }
        })
        .and_then(|()| client.open(&view).map_err(|e| e.to_string()))
        .and_then(|plan| run_plan(ctx, team, &plan, &mut record).map(|()| plan));
    match result {
        Ok(plan) => {
            record.handle = plan.handle;
            record.open = true;
            ctx.events.emit(
                "display.opened",
                json!({"backend": backend, "workers": view.workers.len(), "processes": record.processes}),
            );
        }
        Err(error) => {
            record.error = Some(error);
            ctx.events.emit(
                "display.failed",
                json!({"backend": backend, "error": record.error}),
            );
        }
    }
    record
}

/// What a display sees of the team: its running workers' windows, the leader's pane and the
/// operator's environment.
pub fn team_view(team: &TeamState) -> TeamView {
    let workers = team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
        .filter_map(|a| {
            Some(WorkerView {
                agent_id: a.id.clone(),
                window_id: a.window_id.clone()?,
                pane_id: a.pane_id.clone()?,
            })
        })
        .collect();
    let leader = team.leader.as_ref().and_then(|l| {
        let session_name = Server::at(&l.socket)
            .display(&l.pane_id, "#{session_name}")
            .ok()
            .filter(|s| !s.is_empty())?;
        Some(LeaderPane {
            socket: l.socket.clone(),
            pane_id: l.pane_id.clone(),
            session_name,
        })
    });
    TeamView {
        team: team.name.clone(),
        session_name: team.session_name.clone(),
        tmux_socket: team.tmux_socket.clone(),
        workers,
        leader,
        environment: environment(),
    }
}

/// The operator's environment as displays need it.
pub fn environment() -> DisplayEnvironment {
    let os = std::env::consts::OS;
    let env = ["TERMINAL", "DISPLAY", "WAYLAND_DISPLAY", "TMUX", "HOME"]
        .into_iter()
        .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
        .collect();
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    DisplayEnvironment {
        os: os.into(),
        env,
        path_dirs,
    }
}

/// Runs an `open` or `rebuild` plan; on a failed step, undoes what the plan had created so far
/// (newest first) and reports the step.
fn run_plan(
    ctx: &Context<'_>,
    team: &TeamState,
    plan: &DisplayPlan,
    record: &mut DisplayRecord,
) -> Result<(), String> {
    // No control-mode client may stay attached while grouped view sessions are made.
    if plan.steps.iter().any(|step| {
        matches!(
            step,
            PlanStep::Tmux {
                server: TmuxServer::Team,
                ..
            }
        )
    }) {
        crate::tmux::control::release_server(&team.tmux_socket);
    }
    let mut created: Vec<&PlanStep> = Vec::new();
    for step in &plan.steps {
        match run_step(team, step, record) {
            Ok(()) => {
                if matches!(step.effect(), StepEffect::Creates { .. }) {
                    created.push(step);
                }
            }
            Err(error) => {
                for done in created.iter().rev() {
                    undo_creation(team, done, record);
                }
                ctx.events.emit(
                    "display.step_failed",
                    json!({"backend": record.backend, "step": step, "error": error}),
                );
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Runs a `close` plan. A step that finds its resource gone already (a window the operator
/// closed, a terminal that exited) is done, not an error; other failures are reported after every
/// step had its chance.
fn run_undo(
    ctx: &Context<'_>,
    team: &TeamState,
    plan: &DisplayPlan,
    record: &mut DisplayRecord,
) -> Result<(), String> {
    let mut first_error = None;
    for step in &plan.steps {
        if let Err(error) = run_step(team, step, record)
            && !is_gone(&error)
        {
            ctx.events.emit(
                "display.step_failed",
                json!({"backend": record.backend, "step": step, "error": error}),
            );
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn is_gone(error: &str) -> bool {
    [
        "can't find",
        "no server running",
        "no such",
        "not found",
        "error connecting",
        "session not found",
        "window not found",
    ]
    .iter()
    .any(|needle| error.contains(needle))
}

/// Destroys what a `Creates` step made: the tmux object it names or the process it started.
fn undo_creation(team: &TeamState, step: &PlanStep, record: &mut DisplayRecord) {
    let StepEffect::Creates { resource } = step.effect() else {
        return;
    };
    match step {
        PlanStep::Spawn { .. } => {
            if let Some(spawned) = record.processes.remove(resource) {
                terminate(&spawned);
            }
        }
        PlanStep::Tmux { server, .. } => {
            let kill = match resource.split_once(':') {
                Some(("view" | "session", name)) => {
                    vec!["kill-session".into(), "-t".into(), format!("={name}")]
                }
                Some(("window", _)) => match step {
                    PlanStep::Tmux { args, .. } => window_target(args)
                        .map(|t| vec!["kill-window".to_string(), "-t".into(), t])
                        .unwrap_or_default(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            if !kill.is_empty()
                && let Some(server) = server_for(team, *server, record)
            {
                let _ = server.run(&kill);
            }
        }
        PlanStep::Terminate { .. } => {}
    }
}

/// The `SESSION:=WINDOW` target a `new-window -t SESSION -n WINDOW` step created.
fn window_target(args: &[String]) -> Option<String> {
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let session = after("-t")?.trim_end_matches(':');
    let name = after("-n")?;
    Some(format!("{session}:={name}"))
}

fn server_for(team: &TeamState, which: TmuxServer, record: &DisplayRecord) -> Option<Server> {
    match which {
        TmuxServer::Team => Some(Server::at(&team.tmux_socket)),
        // The server the display's windows were made on, even if the leader moved since.
        TmuxServer::Leader => record
            .leader_socket
            .clone()
            .or_else(|| team.leader.as_ref().map(|l| l.socket.clone()))
            .map(Server::at),
    }
}

fn run_step(team: &TeamState, step: &PlanStep, record: &mut DisplayRecord) -> Result<(), String> {
    match step {
        PlanStep::Tmux { server, args, .. } => {
            let server = server_for(team, *server, record)
                .ok_or("the plan needs the leader's tmux server, and the leader is not in tmux")?;
            server.run(args).map(drop).map_err(|e| e.to_string())
        }
        PlanStep::Spawn { argv, env, effect } => {
            let StepEffect::Creates { resource } = effect else {
                return Err("a spawn step must create a resource".into());
            };
            let spawned = spawn(argv, env)?;
            record.processes.insert(resource.clone(), spawned);
            Ok(())
        }
        PlanStep::Terminate { effect } => {
            let StepEffect::Destroys { resource } = effect else {
                return Err("a terminate step must destroy a resource".into());
            };
            match record.processes.remove(resource) {
                Some(spawned) => {
                    terminate(&spawned);
                    Ok(())
                }
                None => Err(format!("no process recorded for {resource}: not found")),
            }
        }
    }
}

/// Starts a program detached: its own process group, no terminal, nothing inherited on stdio.
fn spawn(argv: &[String], env: &BTreeMap<String, String>) -> Result<Spawned, String> {
    use std::os::unix::process::CommandExt;
    let (program, args) = argv
        .split_first()
        .ok_or("a spawn step with an empty argv")?;
    let child = Command::new(program)
        .args(args)
        .envs(env)
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let pid = child.id();
    // Reaped here for as long as this process lives; adopted by init after.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(Spawned {
        pid,
        start_time: start_time(pid).unwrap_or(0),
    })
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether `spawned` still runs as the process we started (not a recycled pid, not a zombie).
fn still_ours(spawned: &Spawned) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", spawned.pid)) else {
        return !cfg!(target_os = "linux")
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(spawned.pid as i32), None)
                .is_ok();
    };
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let zombie = rest.trim_start().starts_with('Z');
    let started = rest
        .split_whitespace()
        .nth(19)
        .and_then(|s| s.parse::<u64>().ok());
    !zombie && (spawned.start_time == 0 || started == Some(spawned.start_time))
}

/// SIGTERM to the program's process group, SIGKILL after three seconds.
fn terminate(spawned: &Spawned) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    if !still_ours(spawned) {
        return;
    }
    let pid = Pid::from_raw(spawned.pid as i32);
    let _ = killpg(pid, Signal::SIGTERM).or_else(|_| kill(pid, Signal::SIGTERM));
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if !still_ours(spawned) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = killpg(pid, Signal::SIGKILL).or_else(|_| kill(pid, Signal::SIGKILL));
}

/// The display as `status` shows it.
pub fn summary(record: Option<&DisplayRecord>) -> Value {
    match record {
        None => Value::Null,
        Some(d) => json!({
            "backend": d.backend,
            "open": d.open,
            "error": d.error,
            "leader_socket": d.leader_socket,
            "processes": d.processes.len(),
        }),
    }
}
