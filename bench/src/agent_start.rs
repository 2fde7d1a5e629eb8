/*! The scripted agent's own start time, without team-agent: from asking a tmux server for a new
window running `scripted-agent` to the agent drawing its input prompt. A control-mode client
(`tmux -C`) on a private socket creates the windows and receives every byte the panes print as
`%output` notifications, so the prompt is seen the moment tmux reads it (no polling of
`capture-pane`). This is the floor under `up` → ready: what team-agent adds is the rest. */

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::sandbox::Sandbox;
use crate::setup::Binaries;
use crate::stats::Samples;

/// What the scripted agent draws when it is ready for input (its `screen::PROMPT`).
const PROMPT: &[u8] = "› ".as_bytes();

/// Bytes one pane printed, as tmux reported them.
struct Output {
    at: Instant,
    pane: String,
    bytes: Vec<u8>,
}

struct ControlClient {
    child: Child,
    stdin: ChildStdin,
    output: Receiver<Output>,
    /// When each command's answer ended (`%end` or `%error`), in order.
    replies: Receiver<Instant>,
}

impl ControlClient {
    fn start(binaries: &Binaries, sandbox: &Sandbox) -> anyhow::Result<Self> {
        let mut child = Command::new(&binaries.tmux)
            .arg("-S")
            .arg(sandbox.tmux_dir.join("agent-start"))
            .args(["-f", "/dev/null", "-C", "new-session", "-s", "start"])
            .args(["-x", "200", "-y", "50", "sleep", "86400"])
            .env("HOME", &sandbox.home)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .current_dir(&sandbox.workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start a tmux control-mode client")?;
        let stdin = child.stdin.take().context("tmux has no stdin")?;
        let stdout = child.stdout.take().context("tmux has no stdout")?;
        let (send, output) = mpsc::channel();
        let (answered, replies) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let at = Instant::now();
                if line.starts_with(b"%end ") || line.starts_with(b"%error ") {
                    let _ = answered.send(at);
                } else if let Some((pane, bytes)) = parse_output(&line)
                    && send.send(Output { at, pane, bytes }).is_err()
                {
                    return;
                }
                line.clear();
            }
        });
        Ok(Self {
            child,
            stdin,
            output,
            replies,
        })
    }

    fn command(&mut self, line: &str) -> anyhow::Result<()> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| self.stdin.flush())
            .context("the tmux control-mode client went away")
    }
}

impl Drop for ControlClient {
    fn drop(&mut self) {
        let _ = self.command("kill-server");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `%output %N DATA` → the pane and its bytes (tmux escapes bytes below 32 and `\` as `\ooo`).
fn parse_output(line: &[u8]) -> Option<(String, Vec<u8>)> {
    let rest = line.strip_prefix(b"%output ")?;
    let space = rest.iter().position(|b| *b == b' ')?;
    let pane = String::from_utf8_lossy(&rest[..space]).into_owned();
    let data = rest[space + 1..]
        .strip_suffix(b"\n")
        .unwrap_or(&rest[space + 1..]);
    let mut bytes = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let octal = data
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (data[i], octal) {
            (b'\\', Some(d)) => {
                bytes.push(
                    d.iter()
                        .fold(0u8, |acc, b| acc.wrapping_mul(8) + (b - b'0')),
                );
                i += 4;
            }
            (b, _) => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    Some((pane, bytes))
}

fn tmux_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Start times (ms) of `count` scripted agents, one after the other.
pub fn measure(binaries: &Binaries, count: usize) -> anyhow::Result<Samples> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    let mut client = ControlClient::start(binaries, &sandbox)?;
    let mut samples = Samples::new();
    for i in 0..count {
        let session = format!("bench-start-{i:03}");
        let started = Instant::now();
        client.command(&format!(
            "new-window -d -- {} --session-id {session}",
            tmux_quote(&binaries.scripted_agent.to_string_lossy())
        ))?;
        let (pane, ready_at) = wait_for_prompt(&client.output, &session, started)?;
        samples.push_ms(ready_at - started);
        client.command(&format!("kill-pane -t {pane}"))?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(samples)
}

/// The floor under `up` of `count` workers and under a coordinator's sweep of their screens: the
/// time from asking one tmux server (over one control-mode connection) for `count` windows, each
/// running `scripted-agent`, until every one has drawn its prompt; then the time of `count`
/// `capture-pane` round trips over that connection (sent at once, until the last answer).
pub fn start_all(binaries: &Binaries, count: usize) -> anyhow::Result<(Duration, Duration)> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    let mut client = ControlClient::start(binaries, &sandbox)?;
    let agent = tmux_quote(&binaries.scripted_agent.to_string_lossy());
    let sessions: Vec<String> = (0..count).map(|i| format!("bench-floor-{i:03}")).collect();
    let started = Instant::now();
    for session in &sessions {
        client.command(&format!("new-window -d -- {agent} --session-id {session}"))?;
    }
    let (panes, last_prompt) = wait_for_prompts(&client.output, &sessions, started)?;
    let ready = last_prompt - started;
    // Settle, then forget the answers to the window commands.
    std::thread::sleep(Duration::from_millis(200));
    while client.replies.try_recv().is_ok() {}
    let asked = Instant::now();
    for pane in &panes {
        client.command(&format!("capture-pane -p -t {pane}"))?;
    }
    let mut last = asked;
    for _ in &panes {
        last = client
            .replies
            .recv_timeout(Duration::from_secs(15))
            .context("tmux did not answer every capture-pane within 15 s")?;
    }
    Ok((ready, last - asked))
}

/// Waits until every one of `sessions` has printed its banner and then the prompt; their panes,
/// and when tmux read the last prompt (so the matching here adds nothing to the figure).
fn wait_for_prompts(
    output: &Receiver<Output>,
    sessions: &[String],
    started: Instant,
) -> anyhow::Result<(Vec<String>, Instant)> {
    let mut last = started;
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    let mut ready: HashMap<String, String> = HashMap::new();
    let deadline = started + Duration::from_secs(60);
    while ready.len() < sessions.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(chunk) = output.recv_timeout(left) else {
            bail!(
                "{} of {} scripted agents drew no prompt within 60 s",
                sessions.len() - ready.len(),
                sessions.len()
            );
        };
        let buffer = seen.entry(chunk.pane.clone()).or_default();
        buffer.extend_from_slice(&chunk.bytes);
        for session in sessions {
            if !ready.contains_key(session)
                && let Some(at) = find(buffer, session.as_bytes())
                && find(&buffer[at..], PROMPT).is_some()
            {
                ready.insert(session.clone(), chunk.pane.clone());
                last = last.max(chunk.at);
            }
        }
    }
    Ok((sessions.iter().map(|s| ready[s].clone()).collect(), last))
}

/// Waits until a pane has printed `session` (its banner) and then the prompt.
fn wait_for_prompt(
    output: &Receiver<Output>,
    session: &str,
    started: Instant,
) -> anyhow::Result<(String, Instant)> {
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    let deadline = started + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(chunk) = output.recv_timeout(left) else {
            bail!("scripted-agent (session {session}) drew no prompt within 15 s of its spawn");
        };
        let buffer = seen.entry(chunk.pane.clone()).or_default();
        buffer.extend_from_slice(&chunk.bytes);
        if let Some(at) = find(buffer, session.as_bytes())
            && find(&buffer[at..], PROMPT).is_some()
        {
            return Ok((chunk.pane, chunk.at));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_mode_output_is_unescaped() {
        let (pane, bytes) = parse_output(b"%output %3 a\\015\\012\\134b \xe2\x80\xba \n").unwrap();
        assert_eq!(pane, "%3");
        assert_eq!(bytes, b"a\r\n\\b \xe2\x80\xba ");
        assert!(parse_output(b"%begin 1 2 0\n").is_none());
    }
}
