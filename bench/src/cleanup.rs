/*! Leaving nothing running. Every temporary workspace and tmux socket directory the harness
creates is registered here; [`release`] (called by a sandbox's `Drop`, so also on a panic) and the
signal thread (Ctrl-C, SIGTERM, SIGHUP) shut down the team in it, end its coordinator if it is
still alive, and kill every tmux server whose socket lies in that sandbox's own socket directory
(SIGKILL for one that outlives `kill-server`).
Nothing outside those directories is ever touched. */

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::unistd::Pid;

/// What must be ended and removed for one sandbox.
#[derive(Debug, Clone)]
pub struct Held {
    pub team_agent: PathBuf,
    pub tmux: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// The team's workspace, when the sandbox runs one.
    pub workspace: Option<PathBuf>,
    /// The sandbox's `TMUX_TMPDIR`: every server below it is the harness's own.
    pub tmux_dir: PathBuf,
    /// The sandbox's root directory (removed by the signal path; a `TempDir` otherwise).
    pub root: PathBuf,
}

static HELD: Mutex<BTreeMap<u64, Held>> = Mutex::new(BTreeMap::new());
static NEXT: Mutex<u64> = Mutex::new(0);

pub fn hold(held: Held) -> u64 {
    let id = {
        let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
        *next += 1;
        *next
    };
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, held);
    id
}

/// Ends everything `id` holds.
pub fn release(id: u64) {
    let held = HELD.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    if let Some(held) = held {
        end(&held);
    }
}

/// The socket the signal handler writes to (-1 until installed).
static SIGNALLED: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: i32) {
    let fd = SIGNALLED.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; the buffer is one live byte.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
    }
}

/// Makes Ctrl-C, SIGTERM and SIGHUP end every held sandbox, then the process (exit 130).
///
/// A handler (not a blocked signal mask, which every child would inherit: a tmux server with
/// SIGTERM blocked survives its own `kill-server`) writes the signal to a socket; a thread reads
/// it and cleans up outside the handler. Handlers are reset in exec'd children.
pub fn install_signal_thread() -> anyhow::Result<()> {
    let (mut receiver, sender) = UnixStream::pair()?;
    SIGNALLED.store(sender.as_raw_fd(), Ordering::Relaxed);
    // The handler writes to it for the life of the process.
    std::mem::forget(sender);
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only loads an atomic and calls write(2).
        unsafe { sigaction(signal, &action)? };
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            let signal = match receiver.read_exact(&mut byte) {
                Ok(()) => Signal::try_from(i32::from(byte[0])).unwrap_or(Signal::SIGTERM),
                Err(_) => return,
            };
            eprintln!(
                "\nteam-agent-bench: {signal}: shutting down every team the harness started…"
            );
            // Held for good: nothing new is registered while the process ends.
            let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
            for (_, h) in std::mem::take(&mut *held) {
                end(&h);
                let _ = std::fs::remove_dir_all(&h.root);
            }
            std::process::exit(130);
        })?;
    Ok(())
}

fn end(held: &Held) {
    if let Some(workspace) = &held.workspace {
        shut_down(held, workspace);
        end_coordinator(workspace);
    }
    for socket in sockets_under(&held.tmux_dir) {
        kill_server(&held.tmux, &socket);
    }
}

/// `kill-server`, then SIGKILL for a server that is still alive a second later.
fn kill_server(tmux: &Path, socket: &Path) {
    let tmux = |args: &[&str]| {
        Command::new(tmux)
            .arg("-S")
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
    };
    let pid = tmux(&["display-message", "-p", "#{pid}"])
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<i32>()
                .ok()
        });
    let _ = tmux(&["kill-server"]);
    let Some(pid) = pid.map(Pid::from_raw) else {
        return;
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        if kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = kill(pid, Signal::SIGKILL);
}

/// `team-agent shutdown`, bounded in time.
fn shut_down(held: &Held, workspace: &Path) {
    if !workspace.join(".team").is_dir() {
        return;
    }
    let child = Command::new(&held.team_agent)
        .args(["shutdown", "--json", "--workspace"])
        .arg(workspace)
        .current_dir(workspace)
        .env_clear()
        .envs(held.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A coordinator still running for `workspace` (its pid file, checked against its command line
/// so a reused pid is never signalled) gets SIGTERM, then SIGKILL.
fn end_coordinator(workspace: &Path) {
    let pid_file = workspace
        .join(".team/runtime/teams")
        .join(crate::sandbox::TEAM)
        .join("coordinator.pid");
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    if !is_coordinator_of(pid, workspace) {
        return;
    }
    let pid = Pid::from_raw(pid);
    let _ = kill(pid, Signal::SIGTERM);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        if kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill(pid, Signal::SIGKILL);
}

pub fn is_coordinator_of(pid: i32, workspace: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let has = |word: &[u8]| args.contains(&word);
    has(b"coordinator") && has(workspace.as_os_str().as_encoded_bytes())
}

/// Every socket file below `dir` (tmux puts them in `tmux-<uid>/`).
fn sockets_under(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut sockets = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_socket() => sockets.push(entry.path()),
                _ => {}
            }
        }
    }
    sockets
}
