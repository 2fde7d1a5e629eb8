//! `team-agent shutdown`: keep every worker's scrollback, stop the coordinator, end the team's
//! tmux server, and keep the session records for `restart`. Idempotent, and leaves no process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::json;

use super::{Context, LifecycleError, server_of};
use crate::events::now_rfc3339;
use crate::state::{AgentStatus, TeamStatus};

#[derive(Debug, Clone, Serialize)]
pub struct ShutdownReport {
    pub ok: bool,
    pub team: Option<String>,
    /// False when nothing was running (a second shutdown).
    pub was_running: bool,
    pub scrollbacks: Vec<PathBuf>,
    pub coordinator: String,
    /// Worker processes that had to be killed because they outlived their window.
    pub killed: Vec<u32>,
    pub message: String,
}

pub fn shutdown(ctx: &Context<'_>) -> Result<ShutdownReport, LifecycleError> {
    // Refuse before stopping anything that could not be recorded as stopped.
    if ctx.workspace.team_dir().is_dir() {
        ctx.workspace.check_writable()?;
    }
    let coordinator = crate::coordinator::stop(ctx.workspace, &ctx.events);
    let state = ctx.store.load()?;
    let Some(team) = state.team else {
        return Ok(ShutdownReport {
            ok: true,
            team: None,
            was_running: false,
            scrollbacks: vec![],
            coordinator,
            killed: vec![],
            message: "nothing was running: no team has run in this workspace".into(),
        });
    };
    let server = server_of(&team);
    let snapshot = server.snapshot()?;
    let running = snapshot.has_session(&team.session_name);
    let mut scrollbacks = Vec::new();
    let mut pids = Vec::new();
    if running {
        for agent in team.agents.values() {
            let Some(pane) = agent.pane_id.as_deref().and_then(|p| snapshot.pane(p)) else {
                continue;
            };
            pids.push(pane.pid);
            if let Ok(text) = server.capture_history(&pane.pane_id) {
                let path = ctx.workspace.scrollback_file(&agent.id);
                if crate::state::write_atomically(&path, text.as_bytes(), 0o600).is_ok() {
                    scrollbacks.push(path);
                }
            }
        }
    }
    // Before the server goes: the display's view sessions and windows are closed by its plan.
    let display = crate::display::close(&ctx.display(), &team).or(team.display.clone());
    // The team's server is private: ending it ends every window (and nothing of anyone else's).
    server.kill_server()?;
    let killed = reap(&pids);
    ctx.store.update(|state| {
        if let Some(team) = state.team.as_mut() {
            for agent in team.agents.values_mut() {
                agent.status = AgentStatus::Stopped;
                agent.activity = None;
                agent.pane_id = None;
                agent.window_id = None;
            }
            team.status = TeamStatus::Stopped;
            team.stopped_at = Some(now_rfc3339());
            team.display = display.clone();
        }
        Ok::<_, LifecycleError>(())
    })?;
    let message = if running {
        format!(
            "team '{}' shut down: {} scrollback(s) kept in {}; `team-agent restart` resumes the same sessions",
            team.name,
            scrollbacks.len(),
            ctx.workspace.logs_dir().display()
        )
    } else {
        format!(
            "nothing was running: team '{}' is already shut down",
            team.name
        )
    };
    ctx.events.emit(
        "team.shutdown",
        json!({"team": team.name, "was_running": running, "scrollbacks": scrollbacks.len(), "killed": killed}),
    );
    Ok(ShutdownReport {
        ok: true,
        team: Some(team.name),
        was_running: running,
        scrollbacks,
        coordinator,
        killed,
        message,
    })
}

fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return nix::sys::signal::kill(Pid::from_raw(pid as i32), None).is_ok();
    };
    // A zombie is dead, waiting for its parent.
    !stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

/// Waits for the panes' processes to end (their window is gone); kills the process group of any
/// that does not within 2 s.
fn reap(pids: &[u32]) -> Vec<u32> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) && pids.iter().any(|p| alive(*p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    for pid in &survivors {
        // Each pane's process leads its own process group.
        let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    survivors
}
