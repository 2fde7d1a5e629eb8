/*! The coordinator: one daemon per workspace (`team-agent coordinator run`) that keeps a running
team healthy between commands. It starts detached (its own session and process group, stdin
closed, output to `.team/runtime/coordinator.log`), holds a lock so a second copy exits at once,
and writes pid and metadata files. Each tick runs the steps of [`tick`] in order; a failing tick
backs off exponentially to 60 s. SIGTERM finishes the current tick and exits; so does the loss of
the team's tmux session or of the workspace itself (then it also ends the team's tmux server).
Sleeps are sliced, so every exit condition is seen within a tick interval even while backing off.
*/

mod daemon;
mod detectors;
pub mod handoff;
mod tick;
mod turns;

pub use daemon::{RunOptions, run};
pub use detectors::{IDLE_ACK, SENDER as NOTICE_SENDER};
pub use turns::read_tail;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::events::EventLog;
use crate::workspace::{FileLock, Workspace};

/// The protocol of the pid/metadata files.
pub const PROTOCOL: u32 = 1;
const LOCK: &str = "coordinator.lock";

/// `.team/runtime/coordinator.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub started_at: String,
    pub workspace: PathBuf,
}

fn lock_path(workspace: &Workspace) -> PathBuf {
    workspace.locks_dir().join(LOCK)
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => kill(Pid::from_raw(pid as i32), None).is_ok(),
    }
}

fn read_pid(workspace: &Workspace) -> Option<u32> {
    std::fs::read_to_string(workspace.coordinator_pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The pid of the coordinator that runs for this workspace, if one does (its process is alive
/// and the coordinator lock is held).
pub fn running_pid(workspace: &Workspace) -> Option<u32> {
    let pid = read_pid(workspace)?;
    if !alive(pid) {
        return None;
    }
    let lock_free = FileLock::try_acquire(&lock_path(workspace))
        .ok()
        .flatten()
        .is_some();
    (!lock_free).then_some(pid)
}

/// `{"status": "running"|"not_running", "pid"}` for status and doctor.
pub fn health(workspace: &Workspace) -> Value {
    match running_pid(workspace) {
        Some(pid) => json!({"status": "running", "pid": pid}),
        None => match read_pid(workspace) {
            Some(pid) => json!({"status": "stale", "pid": null, "stale_pid": pid}),
            None => json!({"status": "not_running", "pid": null}),
        },
    }
}

/// `team-agent-coordinator coordinator run --workspace DIR [--once] [--no-orphan-exit]`: the
/// coordinator as its own small binary (no command-line parser, MCP server or schema validator
/// linked in), with the same arguments as `team-agent coordinator run`.
pub fn standalone_main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: team-agent-coordinator coordinator run --workspace DIR [--once] [--no-orphan-exit]\n(started for you by team-agent; see `team-agent coordinator --help`)"
        );
        std::process::ExitCode::from(2)
    };
    if args.len() < 2 || args[0] != "coordinator" || args[1] != "run" {
        return usage();
    }
    let mut workspace = None;
    let mut options = RunOptions {
        once: false,
        no_orphan_exit: false,
    };
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--workspace" => workspace = rest.next().map(PathBuf::from),
            "--once" => options.once = true,
            "--no-orphan-exit" => options.no_orphan_exit = true,
            _ => return usage(),
        }
    }
    let Some(dir) = workspace else {
        return usage();
    };
    let workspace = match Workspace::resolve(Some(&dir)) {
        Ok(ws) => ws.existing_only(),
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

/// Starts the coordinator unless one runs; its pid.
pub fn ensure_running(workspace: &Workspace, events: &EventLog) -> Result<u32, String> {
    if let Some(pid) = running_pid(workspace) {
        return Ok(pid);
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the team-agent binary: {e}"))?;
    // The lean `team-agent-coordinator` beside this binary when it is installed (a long-lived
    // process maps in only the code it runs); else this binary's `coordinator run`.
    let lean = exe.with_file_name("team-agent-coordinator");
    let exe = if lean.is_file() { lean } else { exe };
    workspace.ensure_dirs().map_err(|e| e.to_string())?;
    let log = crate::workspace::open_private_append(&workspace.coordinator_log())
        .map_err(|e| format!("cannot open {}: {e}", workspace.coordinator_log().display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["coordinator", "run", "--workspace"])
        .arg(workspace.root())
        .current_dir(workspace.root())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the coordinator: {e}"))?;
    let pid = child.id();
    // Reap it if it ends while this process still runs (no zombie in long-lived callers).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if running_pid(workspace) == Some(pid) {
            events.emit("coordinator.started", json!({"pid": pid}));
            return Ok(pid);
        }
        if !alive(pid) {
            // Another coordinator won the lock, or it could not start: say which.
            return running_pid(workspace).ok_or_else(|| {
                format!(
                    "the coordinator exited at once; see {}",
                    workspace.coordinator_log().display()
                )
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "the coordinator (pid {pid}) did not come up within 3 s; see {}",
        workspace.coordinator_log().display()
    ))
}

/// Stops the coordinator: SIGTERM (it finishes its tick), SIGKILL after 3 s.
pub fn stop(workspace: &Workspace, events: &EventLog) -> String {
    let Some(pid) = running_pid(workspace) else {
        let _ = std::fs::remove_file(workspace.coordinator_pid_file());
        return "not running".into();
    };
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    let started = Instant::now();
    while alive(pid) && started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let how = if alive(pid) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        "killed"
    } else {
        "stopped"
    };
    let _ = std::fs::remove_file(workspace.coordinator_pid_file());
    let _ = std::fs::remove_file(workspace.coordinator_meta_file());
    events.emit("coordinator.stopped", json!({"pid": pid, "how": how}));
    format!("{how} (pid {pid})")
}
