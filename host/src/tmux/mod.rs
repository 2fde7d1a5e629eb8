/*! The only code that runs tmux. Every call names its server by socket path (`-S`): a team's
private server (`ta-<hash of the workspace path>`, one per workspace) or the server a leader pane
lives on. The user's default server is never touched. Panes are addressed by id (`%N`).

Worker windows are created at a fixed 200×50 (`resize-window` makes the size manual per window,
so an attached viewer never changes what plugins see) and keep their pane after the process exits
(`remain-on-exit`, from the server's config file) so its exit code and last lines can be read.
*/

pub mod control;
mod snapshot;

pub use snapshot::{PaneInfo, Snapshot};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The size of every worker window.
pub const WINDOW_SIZE: (u16, u16) = (200, 50);

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error(
        "tmux is not installed or not on PATH: install it (apt-get install -y tmux, or brew install tmux)"
    )]
    Missing,
    #[error("tmux {command} failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("cannot run tmux: {0}")]
    Io(#[from] std::io::Error),
}

impl TmuxError {
    /// tmux said the target (session, window, pane) or the server does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Failed { stderr, .. } => [
                "can't find",
                "no server running",
                "no such",
                "error connecting",
                "not found",
                "server exited",
            ]
            .iter()
            .any(|s| stderr.contains(s)),
            _ => false,
        }
    }
}

/// A tmux server, by socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    socket: PathBuf,
    config: Option<PathBuf>,
}

/// A freshly created window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPane {
    pub pane_id: String,
    pub window_id: String,
    pub pane_pid: u32,
}

/// What to run in a new window.
/// How many bytes of arguments one tmux process carries in a sequence of commands (tmux refuses a
/// command line whose message exceeds 16 KiB).
const SEQUENCE_BYTES: usize = 12 * 1024;

/// An argument as tmux reads it back inside a sequence: one that ends in `;` would end its
/// command there, so its last `;` is escaped (`\;`, which tmux turns back into `;`).
fn sequence_safe(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_string(),
    }
}

pub struct Spawn<'a> {
    pub session: &'a str,
    pub window_name: &'a str,
    pub cwd: &'a Path,
    /// The program and its arguments, run directly (no shell).
    pub argv: &'a [String],
}

impl Server {
    /// The server at `socket`. `config` is read when this call starts the server.
    pub fn at(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            config: None,
        }
    }

    pub fn with_config(mut self, config: impl Into<PathBuf>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// The private server of a workspace: `ta-<12 hex>` in tmux's socket directory, a short path
    /// that stays far under the 107-byte limit of a socket path.
    pub fn for_workspace(workspace: &Path) -> Self {
        Self::at(socket_dir().join(format!("ta-{}", workspace_hash(workspace))))
    }

    /// The server a pane of the caller's `$TMUX` lives on.
    pub fn from_tmux_env(value: &str) -> Option<Self> {
        let socket = value.split(',').next().filter(|s| !s.is_empty())?;
        Some(Self::at(socket))
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        if let Some(config) = &self.config {
            cmd.arg("-f").arg(config);
        }
        cmd
    }

    /// Runs one tmux command; its stdout on success.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String, TmuxError> {
        self.run_with_input(args, None)
    }

    fn run_with_input<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        input: Option<&[u8]>,
    ) -> Result<String, TmuxError> {
        if input.is_none()
            && let Some(answer) = control::run(&self.socket, args)
        {
            return match answer {
                control::Answer::Output(out) => Ok(out),
                control::Answer::Error(stderr) => Err(TmuxError::Failed {
                    command: command_name(args),
                    stderr,
                }),
            };
        }
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TmuxError::Missing,
            _ => TmuxError::Io(e),
        })?;
        if let Some(bytes) = input {
            // A failed write shows up as tmux's own error below.
            let _ = child.stdin.take().expect("stdin is piped").write_all(bytes);
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let command = command_name(args);
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(TmuxError::Failed { command, stderr })
        }
    }

    /// Whether the server runs and has this session.
    pub fn has_session(&self, session: &str) -> bool {
        self.run(&["has-session", "-t", &format!("={session}")])
            .is_ok()
    }

    /// Creates a window running `spawn.argv`: the session's first (creating the session) or
    /// another one. Fixed 200×50.
    pub fn spawn_window(&self, spawn: &Spawn<'_>) -> Result<NewPane, TmuxError> {
        let (w, h) = WINDOW_SIZE;
        let format = "#{pane_id}\t#{window_id}\t#{pane_pid}";
        let mut args: Vec<String> = if self.has_session(spawn.session) {
            vec![
                "new-window".into(),
                "-d".into(),
                "-t".into(),
                format!("={}:", spawn.session),
            ]
        } else {
            vec![
                "new-session".into(),
                "-d".into(),
                "-s".into(),
                spawn.session.into(),
                "-x".into(),
                w.to_string(),
                "-y".into(),
                h.to_string(),
            ]
        };
        args.extend([
            "-n".into(),
            spawn.window_name.into(),
            "-P".into(),
            "-F".into(),
            format.into(),
        ]);
        args.extend([
            "-c".into(),
            spawn.cwd.to_string_lossy().into_owned(),
            "--".into(),
        ]);
        args.extend(spawn.argv.iter().map(|a| sequence_safe(a)));
        let created_server = args[0] == "new-session";
        let out = self.run(&args)?;
        if created_server {
            // A control-mode client could not attach before there was a session: try again now.
            control::forget(&self.socket);
        }
        let mut fields = out.trim().split('\t');
        let pane = NewPane {
            pane_id: fields.next().unwrap_or_default().to_string(),
            window_id: fields.next().unwrap_or_default().to_string(),
            pane_pid: fields.next().and_then(|p| p.parse().ok()).unwrap_or(0),
        };
        // Makes the size manual for this window: viewers never resize it.
        self.run(&[
            "resize-window",
            "-t",
            &pane.window_id,
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ])?;
        Ok(pane)
    }

    /// Creates every window of `spawns` (in order; all in one session). In a session this call
    /// creates, with as few tmux processes as the length limit of one tmux command line allows:
    /// each carries a sequence `new-window … ; resize-window … ; new-window …`. The panes, in
    /// order. On an error the windows created so far stay (the caller kills the server it
    /// started).
    pub fn spawn_windows(&self, spawns: &[Spawn<'_>]) -> Result<Vec<NewPane>, TmuxError> {
        let Some(first) = spawns.first() else {
            return Ok(Vec::new());
        };
        let mut panes = Vec::with_capacity(spawns.len());
        if self.has_session(first.session) {
            // A session that was there already may hold windows of the same names (a dead
            // worker's, kept for its last screen): one window at a time, each resized by its id.
            for spawn in spawns {
                panes.push(self.spawn_window(spawn)?);
            }
            return Ok(panes);
        }
        // The session comes first, alone (a control client can attach only once it exists);
        // the others join it in batches, each resized by its name, unique in a new session.
        panes.push(self.spawn_window(first)?);
        let rest = &spawns[1..];
        let (w, h) = WINDOW_SIZE;
        let mut batch: Vec<String> = Vec::new();
        let mut count = 0;
        let mut flush = |batch: &mut Vec<String>, count: &mut usize| -> Result<(), TmuxError> {
            if *count == 0 {
                return Ok(());
            }
            let out = self.run(batch.as_slice())?;
            let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() != *count {
                return Err(TmuxError::Failed {
                    command: "new-window".into(),
                    stderr: format!("{} windows asked for, {} created", count, lines.len()),
                });
            }
            for line in lines {
                let mut fields = line.trim().split('\t');
                panes.push(NewPane {
                    pane_id: fields.next().unwrap_or_default().to_string(),
                    window_id: fields.next().unwrap_or_default().to_string(),
                    pane_pid: fields.next().and_then(|p| p.parse().ok()).unwrap_or(0),
                });
            }
            batch.clear();
            *count = 0;
            Ok(())
        };
        for spawn in rest {
            let mut one: Vec<String> = vec![
                "new-window".into(),
                "-d".into(),
                "-t".into(),
                format!("={}:", spawn.session),
                "-n".into(),
                spawn.window_name.into(),
                "-P".into(),
                "-F".into(),
                "#{pane_id}\t#{window_id}\t#{pane_pid}".into(),
                "-c".into(),
                spawn.cwd.to_string_lossy().into_owned(),
                "--".into(),
            ];
            one.extend(spawn.argv.iter().map(|a| sequence_safe(a)));
            one.extend([
                ";".into(),
                "resize-window".into(),
                "-t".into(),
                format!("={}:={}", spawn.session, spawn.window_name),
                "-x".into(),
                w.to_string(),
                "-y".into(),
                h.to_string(),
                ";".into(),
            ]);
            let bytes = |args: &[String]| args.iter().map(|a| a.len() + 1).sum::<usize>();
            if count > 0 && bytes(&batch) + bytes(&one) > SEQUENCE_BYTES {
                flush(&mut batch, &mut count)?;
            }
            batch.extend(one);
            count += 1;
        }
        flush(&mut batch, &mut count)?;
        Ok(panes)
    }

    /// One snapshot of every pane of the server (one tmux call).
    pub fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        self.snapshot_text().map(|text| Snapshot::parse(&text))
    }

    /// What [`Server::snapshot`] parses (empty when no server runs): the coordinator hands it to
    /// a command that asks, read over its control-mode connection.
    pub fn snapshot_text(&self) -> Result<String, TmuxError> {
        match self.run(&["list-panes", "-a", "-F", snapshot::FORMAT]) {
            Ok(out) => Ok(out),
            Err(e) if e.is_not_found() => Ok(String::new()),
            Err(e) => Err(e),
        }
    }

    /// The visible screen of a pane, as plain text.
    pub fn capture(&self, pane: &str) -> Result<String, TmuxError> {
        self.run(&["capture-pane", "-p", "-t", pane])
    }

    /// The last `lines` lines of a pane (screen and scrollback).
    pub fn capture_tail(&self, pane: &str, lines: usize) -> Result<String, TmuxError> {
        self.run(&[
            "capture-pane",
            "-p",
            "-J",
            "-S",
            &format!("-{lines}"),
            "-t",
            pane,
        ])
    }

    /// Everything a pane holds: its whole scrollback and screen.
    pub fn capture_history(&self, pane: &str) -> Result<String, TmuxError> {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", pane])
    }

    /// Presses keys (tmux key names such as `Enter`, `Down`, `Escape`, `1`).
    pub fn send_keys(&self, pane: &str, keys: &[String]) -> Result<(), TmuxError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut args = vec!["send-keys".to_string(), "-t".into(), pane.into()];
        args.extend(keys.iter().cloned());
        self.run(&args).map(drop)
    }

    /// Presses the keys that answer a dialog one at a time, each after the screen showed the
    /// one before it: a TUI that gets two keys in one read may act on the second with the state
    /// before the first (Claude Code took `Down Enter` on its trust dialog as Enter on "No,
    /// exit"), and one that has drawn a dialog before it listens drops a key pressed too early
    /// (Claude Code does, for longer on a loaded machine): a key the screen never shows, the last
    /// one included, is pressed again. How many presses were repeated.
    pub fn answer_keys(&self, pane: &str, keys: &[String]) -> Result<usize, TmuxError> {
        let mut repeated = 0;
        for (i, key) in keys.iter().enumerate() {
            let before = self.capture(pane).unwrap_or_default();
            self.send_keys(pane, std::slice::from_ref(key))?;
            for _ in 0..KEY_TRIES {
                if self.screen_changes(pane, &before, KEY_SHOWS_WITHIN) {
                    break;
                }
                self.send_keys(pane, std::slice::from_ref(key))?;
                repeated += 1;
            }
            if i + 1 < keys.len() {
                std::thread::sleep(KEY_SETTLE);
            }
        }
        Ok(repeated)
    }

    /// Whether the pane's screen differs from `before` within `within`.
    fn screen_changes(&self, pane: &str, before: &str, within: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + within;
        loop {
            if self.capture(pane).is_ok_and(|now| now != before) {
                return true;
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Loads `bytes` into a named buffer through stdin (never argv: messages can be 1 MiB).
    pub fn load_buffer(&self, name: &str, bytes: &[u8]) -> Result<(), TmuxError> {
        // Over a control-mode connection the text travels in the command line, never in argv.
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Some(answer) =
                control::run(&self.socket, &["set-buffer", "-b", name, "--", text])
        {
            return match answer {
                control::Answer::Output(_) => Ok(()),
                control::Answer::Error(stderr) => Err(TmuxError::Failed {
                    command: "set-buffer".into(),
                    stderr,
                }),
            };
        }
        self.run_with_input(&["load-buffer", "-b", name, "-"], Some(bytes))
            .map(drop)
    }

    /// Pastes a buffer into a pane with bracketed paste, and deletes the buffer.
    pub fn paste_buffer(&self, name: &str, pane: &str) -> Result<(), TmuxError> {
        self.run(&["paste-buffer", "-d", "-p", "-b", name, "-t", pane])
            .map(drop)
    }

    pub fn delete_buffer(&self, name: &str) -> Result<(), TmuxError> {
        self.run(&["delete-buffer", "-b", name]).map(drop)
    }

    /// One tmux format evaluated for a target (`display-message -p`).
    pub fn display(&self, target: &str, format: &str) -> Result<String, TmuxError> {
        self.run(&["display-message", "-p", "-t", target, format])
            .map(|s| s.trim_end_matches('\n').to_string())
    }

    pub fn kill_window(&self, target: &str) -> Result<(), TmuxError> {
        self.run(&["kill-window", "-t", target]).map(drop)
    }

    /// Ends the server. Only ever called on a team's private server.
    /// A server that survives `kill-server` (it works by a SIGTERM to itself, which a server
    /// started with SIGTERM blocked never sees) gets a SIGKILL: shutdown must mean gone.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        control::forget(&self.socket);
        let pid: Option<i32> = self
            .run(&["display-message", "-p", "#{pid}"])
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let outcome = match self.run(&["kill-server"]) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        };
        if let Some(pid) = pid.filter(|p| *p > 1) {
            let pid = nix::unistd::Pid::from_raw(pid);
            let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
            let running = || nix::sys::signal::kill(pid, None).is_ok() && !is_zombie(pid.as_raw());
            while running() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            if running() {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                self.remove_socket_file();
                return Ok(());
            }
        }
        if outcome.is_ok() {
            self.remove_socket_file();
        }
        outcome
    }

    /// Replaces this process with a tmux client attached to `session` (the operator's terminal
    /// shows it); returns only the error when that client could not start. `nested` drops
    /// `$TMUX`, so an operator inside another tmux gets a client of its own there.
    pub fn exec_attach(&self, session: &str, nested: bool) -> std::io::Error {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&self.socket)
            .args(["attach-session", "-t", &format!("={session}")]);
        if nested {
            cmd.env_remove("TMUX");
        }
        cmd.exec()
    }

    /// Attaches this terminal to `session` at `window` and waits until the client detaches (or
    /// the session ends); the dashboard's way back after Enter.
    pub fn attach_and_wait(
        &self,
        session: &str,
        window: &str,
    ) -> std::io::Result<std::process::ExitStatus> {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["attach-session", "-t", &format!("={session}")])
            .args([";", "select-window", "-t", window])
            .env_remove("TMUX")
            .status()
    }

    /// A dead server leaves its socket file behind, and a team's would pile up in the socket
    /// directory: removed once nothing answers on it (never a socket a live server still uses).
    fn remove_socket_file(&self) {
        use std::os::unix::fs::FileTypeExt;
        let is_socket =
            std::fs::symlink_metadata(&self.socket).is_ok_and(|m| m.file_type().is_socket());
        if is_socket && std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// How long a dialog's key may take to show on screen before it is pressed again, how many
/// times it is pressed again, and the pause after it showed before the next key.
const KEY_SHOWS_WITHIN: std::time::Duration = std::time::Duration::from_millis(2000);
const KEY_TRIES: usize = 2;
const KEY_SETTLE: std::time::Duration = std::time::Duration::from_millis(60);

/// The first key of a dialog's answer: a menu is answered a key at a time, asking the provider
/// again after each (it reads where the highlight is now). A TUI given `Down Enter` in one read
/// may take Enter with the highlight where it was (Claude Code's trust dialog then exits on
/// "No, exit"), and one that drops a key pressed too early is simply asked again.
pub fn first_step(keys: &[String]) -> &[String] {
    &keys[..keys.len().min(1)]
}

/// The installed tmux's version line (`tmux 3.4`), or `None` when tmux cannot be run.
pub fn version() -> Option<String> {
    Command::new("tmux")
        .arg("-V")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The directory tmux keeps its sockets in: `$TMUX_TMPDIR` (or `/tmp`) + `tmux-<uid>`.
pub fn socket_dir() -> PathBuf {
    let base = std::env::var_os("TMUX_TMPDIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    base.unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(format!("tmux-{}", nix::unistd::getuid()))
}

/// FNV-1a of the workspace path, as 12 hex digits.
pub fn workspace_hash(workspace: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in workspace.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

/// Makes sure the tmux socket directory exists with tmux's own permissions (0700).
pub fn ensure_socket_dir(socket: &Path) -> std::io::Result<()> {
    if let Some(dir) = socket.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(())
}

fn command_name<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    args.first()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether a process has exited and waits to be reaped (it is gone for every purpose here).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argument_ending_in_a_semicolon_is_escaped_and_no_other_is_touched() {
        assert_eq!(sequence_safe("do it;"), "do it\\;");
        assert_eq!(sequence_safe("a\\;"), "a\\\\;");
        assert_eq!(sequence_safe("a; b"), "a; b");
        assert_eq!(sequence_safe(";"), "\\;");
        assert_eq!(sequence_safe(""), "");
    }
}
