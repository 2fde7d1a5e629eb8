//! Raw terminal input for `scripted-agent` (and the test stand-ins that reuse it): keys,
//! bracketed pastes and the escape sequences that frame them.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{self, InputFlags, LocalFlags, SetArg, Termios};

/// One thing the user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A printable character typed outside a paste.
    Char(char),
    /// A whole bracketed paste; line breaks (which tmux sends as CR) are `\n`.
    Paste(String),
    Enter,
    Backspace,
    Escape,
    Up,
    Down,
    CtrlC,
    CtrlD,
    /// Ctrl-U: empty the input.
    CtrlU,
    /// End of input (the terminal went away).
    Eof,
}

/// The terminal in raw mode, restored on drop.
pub struct Terminal {
    saved: Option<Termios>,
    pending: Vec<u8>,
    /// Inputs that arrived while the agent was busy, handled after the turn.
    deferred: VecDeque<Input>,
}

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

impl Terminal {
    pub fn open() -> Self {
        let saved = termios::tcgetattr(stdin_fd()).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            raw.local_flags &=
                !(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
            raw.input_flags &= !(InputFlags::ICRNL | InputFlags::IXON | InputFlags::INLCR);
            let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw);
        }
        // Bracketed paste: the terminal frames pasted text, so a paste never submits by itself.
        print_flush("\x1b[?2004h");
        Self {
            saved,
            pending: Vec::new(),
            deferred: VecDeque::new(),
        }
    }

    /// Waits up to `timeout` for input; `None` when nothing came.
    /// (Inputs kept with [`Terminal::defer`] are not returned here, only by `read_input`.)
    pub fn poll_input(&mut self, timeout: Duration) -> Option<Input> {
        if self.pending.is_empty() && !wait_readable(timeout) {
            return None;
        }
        Some(self.read_input())
    }

    /// Blocks until the next input.
    pub fn read_input(&mut self) -> Input {
        if let Some(input) = self.deferred.pop_front() {
            return input;
        }
        loop {
            if let Some(input) = self.parse() {
                return input;
            }
            if !self.fill(None) {
                return Input::Eof;
            }
        }
    }

    /// Keeps an input for later (it arrived while the agent was busy).
    pub fn defer(&mut self, input: Input) {
        self.deferred.push_back(input);
    }

    /// Reads more bytes; false at end of input.
    fn fill(&mut self, timeout: Option<Duration>) -> bool {
        if let Some(t) = timeout
            && !wait_readable(t)
        {
            return true;
        }
        let mut buf = [0u8; 65536];
        match io::stdin().lock().read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(_) => false,
        }
    }

    /// Takes one input off the front of the pending bytes, reading more when a sequence is cut.
    fn parse(&mut self) -> Option<Input> {
        let first = *self.pending.first()?;
        if first == 0x1b {
            if self.pending.len() == 1 {
                // A lone Escape, or the start of a sequence still arriving.
                self.fill(Some(Duration::from_millis(30)));
                if self.pending.len() == 1 {
                    self.pending.clear();
                    return Some(Input::Escape);
                }
            }
            if self.pending[1] != b'[' {
                self.pending.remove(0);
                return Some(Input::Escape);
            }
            let Some(end) = self.pending[2..]
                .iter()
                .position(|b| (0x40..=0x7e).contains(b))
            else {
                self.fill(None);
                return None;
            };
            let end = end + 3;
            if self.pending[..end] == *PASTE_START {
                return self.take_paste();
            }
            let key = match &self.pending[..end] {
                b"\x1b[A" => Some(Input::Up),
                b"\x1b[B" => Some(Input::Down),
                _ => None,
            };
            self.pending.drain(..end);
            return key.or_else(|| self.parse_or_none());
        }
        let len = utf8_len(first);
        if self.pending.len() < len {
            self.fill(None);
            return None;
        }
        let bytes: Vec<u8> = self.pending.drain(..len).collect();
        Some(match bytes[0] {
            b'\r' | b'\n' => Input::Enter,
            0x7f | 0x08 => Input::Backspace,
            0x03 => Input::CtrlC,
            0x04 => Input::CtrlD,
            0x15 => Input::CtrlU,
            _ => match std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.chars().next())
            {
                Some(c) => Input::Char(c),
                None => return self.parse_or_none(),
            },
        })
    }

    fn parse_or_none(&mut self) -> Option<Input> {
        if self.pending.is_empty() {
            None
        } else {
            self.parse()
        }
    }

    fn take_paste(&mut self) -> Option<Input> {
        loop {
            let body = &self.pending[PASTE_START.len()..];
            if let Some(end) = find(body, PASTE_END) {
                let raw = body[..end].to_vec();
                self.pending
                    .drain(..PASTE_START.len() + end + PASTE_END.len());
                let text = String::from_utf8_lossy(&raw)
                    .replace("\r\n", "\n")
                    .replace('\r', "\n");
                return Some(Input::Paste(text));
            }
            if !self.fill(None) {
                let raw = self.pending[PASTE_START.len()..].to_vec();
                self.pending.clear();
                return Some(Input::Paste(
                    String::from_utf8_lossy(&raw).replace('\r', "\n"),
                ));
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        print_flush("\x1b[?2004l");
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, saved);
        }
    }
}

fn wait_readable(timeout: Duration) -> bool {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    matches!(poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)), Ok(n) if n > 0)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xf7 => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn print_flush(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
