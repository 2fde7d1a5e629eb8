/*! The coordinator from the outside: whether one runs for a workspace (its pid and lock), its
health for `status` and `doctor`, starting it detached and stopping it. The daemon itself (its
loop, tick, detectors and hand-off server) is the `daemon` module; this module never reaches into
it, so every command can bring a coordinator up without linking its insides.
*/

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::events::EventLog;
use crate::process::alive;
use crate::workspace::{FileLock, Workspace};

/// The protocol of the pid/metadata files.
pub const PROTOCOL: u32 = 1;
pub(crate) const LOCK: &str = "coordinator.lock";

/// `.team/runtime/coordinator.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub started_at: String,
    pub workspace: PathBuf,
}

/// The coordinator's Unix socket: hand-offs of messages to deliver, and the hooks' doorbell. It
/// lives beside the team's tmux socket (`tad-<hash>` in tmux's private per-user directory: short,
/// and only the user can reach it).
pub fn socket_path(workspace: &Workspace) -> PathBuf {
    crate::tmux::socket_dir().join(format!(
        "tad-{}",
        crate::tmux::workspace_hash(&workspace.identity())
    ))
}

fn lock_path(workspace: &Workspace) -> PathBuf {
    workspace.locks_dir().join(LOCK)
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

/// Whether a workspace's coordinator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Running {
        pid: u32,
    },
    /// Not running, but its pid file is left (it was killed, or the machine rebooted).
    Stale {
        stale_pid: u32,
    },
    NotRunning,
}

impl Health {
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running { .. })
    }
}

/// As `status --json` shows it: `{"status": "running"|"stale"|"not_running", "pid", "stale_pid"}`.
impl Serialize for Health {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Running { pid } => json!({"status": "running", "pid": pid}),
            Self::Stale { stale_pid } => {
                json!({"status": "stale", "pid": null, "stale_pid": stale_pid})
            }
            Self::NotRunning => json!({"status": "not_running", "pid": null}),
        }
        .serialize(serializer)
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Running { pid } => write!(f, "running (pid {pid})"),
            Self::Stale { stale_pid } => write!(
                f,
                "not running (its pid file names {stale_pid}, which is gone; `team-agent coordinator start` starts it)"
            ),
            Self::NotRunning => f.write_str("not running"),
        }
    }
}

/// The coordinator's health, for status and doctor.
pub fn health(workspace: &Workspace) -> Health {
    match running_pid(workspace) {
        Some(pid) => Health::Running { pid },
        None => match read_pid(workspace) {
            Some(stale_pid) => Health::Stale { stale_pid },
            None => Health::NotRunning,
        },
    }
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
        .arg(workspace.root());
    if let Some(team) = workspace.team() {
        cmd.args(["--team", team]);
    }
    cmd.current_dir(workspace.root())
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

/// How long a command waits for the coordinator to hand it the panes of its server (it answers
/// one request at a time: behind a long delivery, asking tmux directly is quicker).
const SNAPSHOT_WAIT: Duration = Duration::from_millis(50);

/// Every pane of the team's tmux server `server`, from the running coordinator, which reads it
/// over its control-mode connection (`None`: no coordinator answered in time; ask tmux).
pub fn panes_from_coordinator(workspace: &Workspace, server: &Path) -> Option<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket_path(workspace)).ok()?;
    stream.set_read_timeout(Some(SNAPSHOT_WAIT)).ok()?;
    stream.set_write_timeout(Some(SNAPSHOT_WAIT)).ok()?;
    let request = json!({ "snapshot": server });
    stream.write_all(format!("{request}\n").as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let reply: serde_json::Value = serde_json::from_str(&line).ok()?;
    reply["panes"].as_str().map(str::to_string)
}
