/*! One persistent tmux control-mode client (`tmux -C`) per team server, for processes that talk to
tmux often (the coordinator). A command costs a line written and a block read instead of a new
tmux client process: about 0.05 ms instead of 3–4 ms on the reference machine.

Only the coordinator calls [`enable`] for good, so a team server has at most one such client
(`up` and `restart` hold one on the server they just started while they bring its workers up,
and [`disable`] it before the display or the coordinator comes): tmux 3.3a's
server crashed (SIGSEGV) within seconds when five control clients came and went at once, and a
`send` burst would make fifty. Commands hand their deliveries to the coordinator instead (see
`daemon::handoff`). Only a team's private server (a socket named `ta-…`) is used this way,
never a leader's or anyone else's. The client attaches to the team's session with `ignore-size` (it never changes a window's size) and `no-output` (no `%output`
stream); it ends with the process that opened it (its stdin closes).
It carries the commands that read panes and put input into them; everything else falls back to a
plain tmux process: commands that create or destroy sessions and windows (see [`CARRIED`]), a
payload too large for one line, and every command while the connection is broken (it is retried a
few seconds later).

Arguments travel as double-quoted strings with every special character escaped, so a message's
text can never become another tmux command.
*/

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The sessions displays create on a team server (`display-kit`'s view sessions).
const VIEW_PREFIX: &str = "ta-view-";
/// How long one command may take before the connection is dropped.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a broken connection rests before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Arguments longer than this go through a plain tmux process.
const MAX_LINE: usize = 256 * 1024;
/// The commands carried: those that read panes or put input into them. Commands that create or
/// destroy sessions and windows always go through a plain process: tmux 3.3a crashed (SIGSEGV in
/// the server) when a grouped session was created and its window selected over a control client
/// attached to the group, and those commands are rare next to a tick's reads.
const CARRIED: &[&str] = &[
    "list-panes",
    "list-windows",
    "list-sessions",
    "list-clients",
    "has-session",
    "capture-pane",
    "display-message",
    "send-keys",
    "set-buffer",
    "paste-buffer",
    "delete-buffer",
];

enum Slot {
    Connected(Connection),
    /// Broken or refused at this moment; tried again after [`RETRY_AFTER`].
    Resting(Instant),
}

struct Registry {
    slots: HashMap<PathBuf, Slot>,
    /// Whether commands go over control clients now ([`enable`], [`disable`]).
    on: bool,
}

fn registry() -> &'static OnceLock<Mutex<Registry>> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    &REGISTRY
}

/// Lets this process use control-mode clients for team servers from now on.
pub fn enable() {
    if let Some(registry) = registry().get() {
        registry.lock().unwrap_or_else(|e| e.into_inner()).on = true;
        return;
    }
    let _ = registry().set(Mutex::new(Registry {
        slots: HashMap::new(),
        on: true,
    }));
}

/// Ends every control client of this process (each waited for) and sends every later command
/// through plain tmux processes, until [`enable`] again.
pub fn disable() {
    if let Some(registry) = registry().get() {
        let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.on = false;
        registry.slots.clear();
    }
}

/// What a command run over the control client gave.
pub enum Answer {
    Output(String),
    /// tmux's error message.
    Error(String),
}

/// Runs `args` on the control client of `socket`; `None` when the command must go through a
/// plain tmux process instead (not enabled, not a team server, not carried, connection broken).
pub fn run<S: AsRef<OsStr>>(socket: &Path, args: &[S]) -> Option<Answer> {
    let registry = registry().get()?;
    if !is_team_server(socket) {
        return None;
    }
    let first = args.first()?.as_ref().to_str()?;
    if !CARRIED.contains(&first) {
        return None;
    }
    let line = command_line(args)?;
    let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
    if !registry.on {
        return None;
    }
    let slot = registry.slots.remove(socket);
    let mut connection = match slot {
        Some(Slot::Connected(c)) => c,
        Some(Slot::Resting(since)) if since.elapsed() < RETRY_AFTER => {
            registry
                .slots
                .insert(socket.to_path_buf(), Slot::Resting(since));
            return None;
        }
        _ => match Connection::open(socket) {
            Some(c) => c,
            None => {
                registry
                    .slots
                    .insert(socket.to_path_buf(), Slot::Resting(Instant::now()));
                return None;
            }
        },
    };
    match connection.run(&line) {
        Some(answer) => {
            registry
                .slots
                .insert(socket.to_path_buf(), Slot::Connected(connection));
            Some(answer)
        }
        None => {
            drop(connection);
            registry
                .slots
                .insert(socket.to_path_buf(), Slot::Resting(Instant::now()));
            None
        }
    }
}

/// Detaches every control-mode client from a team server (this process's and any other's: only
/// team-agent attaches them there) before a display creates its grouped view sessions. tmux 3.3a
/// crashed (SIGSEGV in the server, about one display test in twelve) when grouped sessions came and
/// went while a control-mode client was attached; with none attached it never did in hundreds of
/// runs. While view sessions exist no client attaches again (see `Connection::open`): commands go
/// through plain processes.
pub fn release_server(socket: &Path) {
    forget(socket);
    if !is_team_server(socket) {
        return;
    }
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
    };
    let Some(clients) = tmux(&["list-clients", "-F", "#{client_flags}\t#{client_name}"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&clients.stdout).lines() {
        if let Some((flags, name)) = line.split_once('\t')
            && flags.split(',').any(|f| f == "control-mode")
        {
            tmux(&["detach-client", "-t", name]);
        }
    }
}

/// Drops the client of `socket` (the server is about to end, or ended).
pub fn forget(socket: &Path) {
    if let Some(registry) = registry().get() {
        registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .slots
            .remove(socket);
    }
}

fn is_team_server(socket: &Path) -> bool {
    socket
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ta-"))
}

/// The command as one control-mode line, or `None` when it cannot be one.
pub fn command_line<S: AsRef<OsStr>>(args: &[S]) -> Option<String> {
    let mut line = String::new();
    for arg in args {
        let arg = arg.as_ref().to_str()?;
        if !line.is_empty() {
            line.push(' ');
        }
        quote_into(&mut line, arg);
        if line.len() > MAX_LINE {
            return None;
        }
    }
    Some(line)
}

/// `text` as a tmux double-quoted string: `\`, `"`, `$` escaped, control characters as octal
/// escapes, so nothing in it is read as syntax (`;`, `#`, `~` and braces are plain inside quotes).
fn quote_into(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A running `tmux -C attach-session`; its output is read in the calling thread (a reader
/// thread handing over one line at a time cost a thread switch per line: a 50-line capture took
/// ~0.3 ms instead of ~0.05 ms).
struct Connection {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// Bytes read but not yet returned as lines.
    pending: Vec<u8>,
}

impl Connection {
    fn open(socket: &Path) -> Option<Self> {
        // The team's own session, never a display's view session (those come and go).
        let sessions = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(["list-sessions", "-F", "#{session_name}"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let names = String::from_utf8_lossy(&sessions.stdout);
        // Never beside a display's grouped sessions (see [`release_server`]).
        if names.lines().any(|s| s.starts_with(VIEW_PREFIX)) {
            return None;
        }
        let session = names.lines().next()?.to_string();
        let mut child = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(["-C", "attach-session", "-f", "ignore-size,no-output", "-t"])
            .arg(format!("={session}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = child.stdout.take()?;
        let mut connection = Self {
            child,
            stdin,
            stdout,
            pending: Vec::with_capacity(64 * 1024),
        };
        // The attach itself answers with one (empty) block first.
        connection.read_block()?;
        Some(connection)
    }

    /// Writes one command line and reads its block; `None` when the connection is broken.
    fn run(&mut self, line: &str) -> Option<Answer> {
        self.stdin.write_all(line.as_bytes()).ok()?;
        self.stdin.write_all(b"\n").ok()?;
        self.stdin.flush().ok()?;
        self.read_block()
    }

    /// The next line, waiting until `deadline`; `None` at the deadline or when the client ended.
    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        use std::io::Read;
        use std::os::fd::AsFd;
        loop {
            if let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
                let line = String::from_utf8_lossy(&self.pending[..at]).into_owned();
                self.pending.drain(..=at);
                return Some(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let timeout = nix::poll::PollTimeout::try_from(left.as_millis().max(1) as i32)
                .unwrap_or(nix::poll::PollTimeout::MAX);
            let mut fds = [nix::poll::PollFd::new(
                self.stdout.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return None,
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stdout.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Skips notifications up to a `%begin`, then collects lines up to its `%end` or `%error`.
    fn read_block(&mut self) -> Option<Answer> {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let guard = loop {
            let line = self.next_line(deadline)?;
            if let Some(rest) = line.strip_prefix("%begin ") {
                break block_guard(rest);
            }
            if line.starts_with("%exit") {
                return None;
            }
        };
        let mut body: Vec<String> = Vec::new();
        loop {
            let line = self.next_line(deadline)?;
            if let Some(rest) = line.strip_prefix("%end ")
                && block_guard(rest) == guard
            {
                let mut out = body.join("\n");
                if !body.is_empty() {
                    out.push('\n');
                }
                return Some(Answer::Output(out));
            }
            if let Some(rest) = line.strip_prefix("%error ")
                && block_guard(rest) == guard
            {
                return Some(Answer::Error(body.join("\n")));
            }
            body.push(line);
        }
    }
}

/// The time and command number that pair a `%begin` with its `%end`/`%error`.
fn block_guard(rest: &str) -> (String, String) {
    let mut fields = rest.split(' ');
    (
        fields.next().unwrap_or_default().to_string(),
        fields.next().unwrap_or_default().to_string(),
    )
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_so_nothing_in_them_is_syntax() {
        let line =
            command_line(&["send-keys", "-t", "%1", "a;b $HOME \"q\" \\ ~x #{y}\n\x1b"]).unwrap();
        assert_eq!(
            line,
            r#""send-keys" "-t" "%1" "a;b \$HOME \"q\" \\ ~x #{y}\n\033""#
        );
    }

    #[test]
    fn only_team_servers_and_lines_that_fit_are_carried() {
        assert!(is_team_server(Path::new("/tmp/tmux-0/ta-0123456789ab")));
        assert!(!is_team_server(Path::new("/tmp/tmux-0/default")));
        assert!(command_line(&["set-buffer", &"x".repeat(MAX_LINE + 1)]).is_none());
    }
}
