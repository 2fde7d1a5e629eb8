/*! The coordinator daemon: one per workspace (`team-agent coordinator run`) that keeps a running
team healthy between commands. It starts detached (its own session and process group, stdin
closed, output to `.team/runtime/coordinator.log`; see `crate::coordinator` for starting and
stopping it), holds a lock so a second copy exits at once, and writes pid and metadata files.
Each tick runs the steps of [`tick`] in order; a failing tick backs off exponentially to 60 s.
SIGTERM finishes the current tick and exits; so does the loss of the team's tmux session or of
the workspace itself (then it also ends the team's tmux server). Sleeps are sliced, so every
exit condition is seen within a tick interval even while backing off.
*/

mod activity;
mod detectors;
mod handoff;
mod tick;
mod turns;

pub(crate) use detectors::acknowledge_idle;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use serde_json::json;

use crate::coordinator::{LOCK, Metadata, PROTOCOL};
use crate::events::{EventLog, now_rfc3339};
use crate::plugins::Registry;
use crate::tmux::Server;
use crate::workspace::{FileLock, Workspace};
use tick::Outcome;

static STOP: AtomicBool = AtomicBool::new(false);
/// A hook rang: the loop ticks now instead of at the end of its sleep.
static RUNG: AtomicBool = AtomicBool::new(false);
/// The loop's thread, which [`ring`] wakes from its nap.
static LOOP_THREAD: std::sync::OnceLock<libc::pthread_t> = std::sync::OnceLock::new();

extern "C" fn on_signal(_: i32) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_ring(_: i32) {}

/// A hook left an event: tick at once (from the hand-off thread). SIGUSR1 ends the loop's
/// nanosleep early; the flag makes the loop tick rather than sleep again.
pub(super) fn ring() {
    RUNG.store(true, Ordering::SeqCst);
    if let Some(thread) = LOOP_THREAD.get() {
        // SAFETY: the loop thread lives as long as the process (it is the main thread).
        unsafe {
            libc::pthread_kill(*thread, libc::SIGUSR1);
        }
    }
}

/// Whether a hook rang since the last call.
pub(super) fn take_ring() -> bool {
    RUNG.swap(false, Ordering::SeqCst)
}

pub(crate) struct RunOptions {
    /// Run one tick and exit (tests, debugging).
    pub once: bool,
    /// Keep running when the workspace is deleted (only for testing orphan cleanup).
    pub no_orphan_exit: bool,
}

/// How often the loop wakes to check that the workspace still exists while it sleeps. A stop
/// signal ends the sleep at once (see [`nap`]).
const SLICE: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs the coordinator for `workspace` until told to stop; the process exit code.
pub(crate) fn run(workspace: &Workspace, options: &RunOptions) -> i32 {
    if let Err(e) = workspace.ensure_dirs() {
        eprintln!("coordinator: {e}");
        return 1;
    }
    let lock = match FileLock::try_acquire(&workspace.locks_dir().join(LOCK)) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            eprintln!(
                "coordinator: another coordinator runs for {}; exiting",
                workspace.root().display()
            );
            return 0;
        }
        Err(e) => {
            eprintln!("coordinator: {e}");
            return 1;
        }
    };
    let pid = std::process::id();
    write_pid_files(workspace, pid);
    catch_stop_signals();
    let events = EventLog::new(workspace);
    events.emit(
        "coordinator.boot",
        json!({"pid": pid, "once": options.once}),
    );
    let registry = team_registry(workspace);
    if !options.once {
        let handoff_workspace = workspace.clone();
        let _ = std::thread::Builder::new()
            .name("handoff".into())
            .spawn(move || {
                block_stop_signals();
                handoff::serve(&handoff_workspace, registry)
            });
    }
    let mut runner = tick::Runner::new(workspace.clone(), registry, events.clone());
    let reason = tick_until_exit(workspace, options, &mut runner, &events);
    // However the loop ended, a workspace (or a state) that is gone leaves nothing that could use
    // the team's server: a team this coordinator ran vanished from under it.
    let vanished = !workspace_exists(workspace.root().to_path_buf())
        || (reason == "no_team" && runner.last_socket().is_some());
    if reason == "providers_changed" {
        events.emit("coordinator.reload", json!({"pid": pid}));
        handoff::remove(workspace);
        drop(lock);
        // The same process again (same pid, which the pid file names), reading the team anew.
        use std::os::unix::process::CommandExt;
        let error = match std::env::current_exe() {
            Ok(exe) => std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .exec(),
            Err(e) => e,
        };
        eprintln!("coordinator {pid}: cannot restart itself: {error}");
        return 1;
    }
    let reason = if !options.no_orphan_exit && vanished {
        "workspace_deleted"
    } else {
        reason
    };
    if reason == "workspace_deleted" {
        // Nothing can use the team's tmux server any more: end it, so no worker outlives it.
        if let Some(socket) = runner.last_socket() {
            let _ = Server::at(socket).kill_server();
        }
    } else {
        events.emit("coordinator.exit", json!({"pid": pid, "reason": reason}));
        let ours = std::fs::read_to_string(workspace.coordinator_pid_file())
            .is_ok_and(|p| p.trim() == pid.to_string());
        if ours {
            let _ = std::fs::remove_file(workspace.coordinator_pid_file());
            let _ = std::fs::remove_file(workspace.coordinator_meta_file());
        }
    }
    handoff::remove(workspace);
    drop(lock);
    eprintln!("coordinator {pid}: exit ({reason})");
    0
}

/// The pid and metadata files `coordinator::running_pid` and `status` read.
fn write_pid_files(workspace: &Workspace, pid: u32) {
    let meta = Metadata {
        pid,
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL,
        started_at: now_rfc3339(),
        workspace: workspace.root().to_path_buf(),
    };
    let _ = crate::state::write_atomically(
        &workspace.coordinator_pid_file(),
        format!("{pid}\n").as_bytes(),
        0o600,
    );
    let _ = crate::state::write_atomically(
        &workspace.coordinator_meta_file(),
        serde_json::to_string_pretty(&meta)
            .unwrap_or_default()
            .as_bytes(),
        0o600,
    );
}

/// SIGTERM, SIGINT and SIGHUP end the loop after the current tick.
fn catch_stop_signals() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let wake = SigAction::new(
        SigHandler::Handler(on_ring),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handlers only store to an atomic, or do nothing.
    unsafe {
        let _ = sigaction(Signal::SIGTERM, &action);
        let _ = sigaction(Signal::SIGINT, &action);
        let _ = sigaction(Signal::SIGHUP, &action);
        let _ = sigaction(Signal::SIGUSR1, &wake);
    }
    // SAFETY: pthread_self has no preconditions.
    let _ = LOOP_THREAD.set(unsafe { libc::pthread_self() });
}

/// The plugins this coordinator loads: only the providers the team uses (and the leader's),
/// since every plugin mapped in would stay in this long-lived process's memory for nothing.
/// Lives as long as the process: the hand-off thread delivers with it until the process ends.
fn team_registry(workspace: &Workspace) -> &'static Registry {
    let providers: Vec<String> = crate::state::StateStore::new(workspace)
        .load()
        .ok()
        .and_then(|s| s.team)
        .map(|team| {
            let mut names: Vec<String> = team.agents.values().map(|a| a.provider.clone()).collect();
            names.extend(team.leader.and_then(|l| l.provider));
            names.sort();
            names.dedup();
            names
        })
        .unwrap_or_default();
    Box::leak(Box::new(if providers.is_empty() {
        Registry::load(Some(workspace.root()))
    } else {
        Registry::load_named(Some(workspace.root()), &providers)
    }))
}

/// Ticks until a stop signal, an exit condition or `--once`; why it stopped.
fn tick_until_exit(
    workspace: &Workspace,
    options: &RunOptions,
    runner: &mut tick::Runner<'_>,
    events: &EventLog,
) -> &'static str {
    let mut failures: u32 = 0;
    loop {
        if STOP.load(Ordering::SeqCst) {
            return "signal";
        }
        if options.no_orphan_exit && !workspace_exists(workspace.root().to_path_buf()) {
            // Told to outlive its workspace (testing orphan cleanup): nothing to tick.
            std::thread::sleep(SLICE);
            continue;
        }
        let started = Instant::now();
        take_ring();
        let pause = match runner.tick() {
            Ok(Outcome::Continue { busy }) => {
                if failures > 0 {
                    events.emit(
                        "coordinator.tick_recovered",
                        json!({"after_failures": failures}),
                    );
                }
                failures = 0;
                if busy {
                    tick::BUSY_INTERVAL
                } else {
                    runner.interval()
                }
            }
            // Told to outlive its workspace: a workspace (or state) vanishing mid-tick is no exit.
            Ok(Outcome::Stop("workspace_deleted" | "no_team")) if options.no_orphan_exit => SLICE,
            Ok(Outcome::Stop(why)) => return why,
            Err(error) => {
                failures += 1;
                let pause = backoff(runner.interval(), failures);
                if failures == 1 || failures.is_multiple_of(12) {
                    events.emit(
                        "coordinator.tick_error",
                        json!({"error": error, "consecutive_failures": failures, "next_sleep_sec": pause.as_secs_f64()}),
                    );
                }
                pause
            }
        };
        if options.once {
            return "once";
        }
        if let Some(why) = sleep_until(started + pause, workspace, options, runner) {
            return why;
        }
    }
}

fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(6));
    (interval * factor).min(MAX_BACKOFF)
}

/// Sleeps until `until` in slices; returns why the loop must end, if it must.
fn sleep_until(
    until: Instant,
    workspace: &Workspace,
    options: &RunOptions,
    runner: &tick::Runner<'_>,
) -> Option<&'static str> {
    loop {
        if STOP.load(Ordering::SeqCst) {
            return Some("signal");
        }
        if !options.no_orphan_exit && !workspace_exists(workspace.root().to_path_buf()) {
            return Some("workspace_deleted");
        }
        let now = Instant::now();
        if now >= until || runner.has_urgent_work() || RUNG.load(Ordering::SeqCst) {
            return None;
        }
        nap((until - now).min(SLICE));
    }
}

/// Sleeps for `duration` or until a signal arrives, whichever comes first. Only this thread
/// takes the stop signals (the others block them, see [`block_stop_signals`]), so SIGTERM
/// interrupts the nap and the coordinator exits within milliseconds.
fn nap(duration: Duration) {
    let request = libc::timespec {
        tv_sec: duration.as_secs() as libc::time_t,
        tv_nsec: duration.subsec_nanos() as libc::c_long,
    };
    // SAFETY: a plain nanosleep on a valid timespec; an early return (EINTR) is what we want.
    unsafe {
        libc::nanosleep(&request, std::ptr::null_mut());
    }
}

/// Keeps SIGTERM, SIGINT, SIGHUP and the hooks' SIGUSR1 away from the calling thread (helper
/// threads call it first).
pub(super) fn block_stop_signals() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set.add(Signal::SIGUSR1);
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&set),
        None,
    );
}

fn workspace_exists(root: PathBuf) -> bool {
    root.join(".team").is_dir()
}

/// `team-agent-coordinator coordinator run --workspace DIR [--team NAME] [--once] [--no-orphan-exit]`: the
/// coordinator as its own small binary (no command-line parser, MCP server or schema validator
/// linked in), with the same arguments as `team-agent coordinator run`.
pub fn standalone_main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: team-agent-coordinator coordinator run --workspace DIR [--team NAME] [--once] [--no-orphan-exit]\n(started for you by team-agent; see `team-agent coordinator --help`)"
        );
        std::process::ExitCode::from(2)
    };
    if args.len() < 2 || args[0] != "coordinator" || args[1] != "run" {
        return usage();
    }
    let mut workspace = None;
    let mut team = None;
    let mut options = RunOptions {
        once: false,
        no_orphan_exit: false,
    };
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--workspace" => workspace = rest.next().map(PathBuf::from),
            "--team" => team = rest.next().cloned(),
            "--once" => options.once = true,
            "--no-orphan-exit" => options.no_orphan_exit = true,
            _ => return usage(),
        }
    }
    let Some(dir) = workspace else {
        return usage();
    };
    let workspace = match Workspace::resolve(Some(&dir)) {
        Ok(ws) => match &team {
            Some(team) => ws.for_team(team).existing_only(),
            None => ws.existing_only(),
        },
        Err(e) => {
            eprintln!("coordinator: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if std::env::var_os("TEAM_AGENT_TMUX_CONTROL").is_none_or(|v| v != "0") {
        crate::tmux::control::enable();
    }
    std::process::ExitCode::from(run(&workspace, &options).clamp(0, 255) as u8)
}
