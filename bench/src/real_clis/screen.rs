/*! Reading a real CLI's pane every millisecond: one tmux control-mode client (`tmux -C`) attached
to the team's session for as long as the team runs. A `capture-pane` over it costs a line written
and a block read (about 0.1 ms) instead of a new tmux process (3–4 ms), so polling this often does
not load the 2-core machine the CLIs run on. Like the coordinator's own client it attaches with
`ignore-size` (no window changes size) and `no-output` (no `%output` stream), and it stays
attached: tmux 3.3a crashed when control clients came and went in numbers. */

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

/// The line that ends each message team-agent pastes: `[team-agent-token:<message id>]`.
const TOKEN_START: &str = "[team-agent-token:";

pub struct ScreenReader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ScreenReader {
    /// Attaches to `session` of the tmux server at `socket`.
    pub fn attach(tmux: &Path, socket: &Path, session: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(tmux)
            .arg("-S")
            .arg(socket)
            .args(["-C", "attach-session", "-f", "ignore-size,no-output", "-t"])
            .arg(format!("={session}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start a tmux control-mode client on the team's server")?;
        let stdin = child.stdin.take().context("tmux has no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("tmux has no stdout")?);
        let mut reader = Self {
            child,
            stdin,
            stdout,
        };
        // The attach itself answers with one (empty) block first.
        reader.read_block()?;
        Ok(reader)
    }

    /// The visible screen of `pane` (`%N`), wrapped lines joined.
    pub fn capture(&mut self, pane: &str) -> anyhow::Result<String> {
        writeln!(self.stdin, "capture-pane -p -J -t \"{pane}\"")
            .and_then(|_| self.stdin.flush())
            .context("the tmux control-mode client went away")?;
        self.read_block()
    }

    /// The output of the next command block; notifications between blocks are skipped.
    fn read_block(&mut self) -> anyhow::Result<String> {
        let mut line = Vec::new();
        let mut block: Option<String> = None;
        loop {
            line.clear();
            if self.stdout.read_until(b'\n', &mut line)? == 0 {
                bail!("the tmux control-mode client ended (the team's tmux server is gone?)");
            }
            let text = String::from_utf8_lossy(&line);
            match block.as_mut() {
                None if text.starts_with("%begin ") => block = Some(String::new()),
                None => {}
                Some(output) if text.starts_with("%end ") => return Ok(std::mem::take(output)),
                Some(output) if text.starts_with("%error ") => {
                    bail!("tmux refused a capture: {}", output.trim())
                }
                Some(output) => output.push_str(&text),
            }
        }
    }
}

impl Drop for ScreenReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When each message token was first seen on a screen.
#[derive(Default)]
pub struct TokensSeen(HashMap<String, Instant>);

impl TokensSeen {
    /// Notes every token on `screen`, captured `at`, that was not seen before.
    pub fn note(&mut self, screen: &str, at: Instant) {
        for token in tokens(screen) {
            self.0.entry(token.to_string()).or_insert(at);
        }
    }

    /// When the token of `message_id` was first seen.
    pub fn of(&self, message_id: &str) -> Option<Instant> {
        self.0.get(&format!("{TOKEN_START}{message_id}]")).copied()
    }
}

/// Every complete `[team-agent-token:…]` on a screen.
fn tokens(screen: &str) -> impl Iterator<Item = &str> {
    screen.match_indices(TOKEN_START).filter_map(|(at, _)| {
        let end = screen[at..].find(']')?;
        Some(&screen[at..=at + end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_tokens_are_noted_each_at_its_first_sighting() {
        let mut seen = TokensSeen::default();
        let first = Instant::now();
        seen.note(
            "› [team-agent-token:msg_1]\n  [team-agent-token:msg_",
            first,
        );
        let later = first + std::time::Duration::from_millis(5);
        seen.note("[team-agent-token:msg_1] [team-agent-token:msg_2]", later);
        assert_eq!(seen.of("msg_1"), Some(first));
        assert_eq!(seen.of("msg_2"), Some(later));
        assert_eq!(seen.of("msg_"), None);
    }
}
