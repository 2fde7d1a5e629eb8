//! The sender's side of the hand-off to the running coordinator (its server side is
//! `daemon::handoff`). The coordinator has the plugins loaded and the team server's control-mode
//! connection open (the only one: tmux 3.3a crashed with several control clients at once), so it
//! delivers in about a millisecond where a `send` process of its own would spend several tmux
//! processes. `send` stores the message first, then asks over a Unix socket and waits for the
//! outcome; with no coordinator answering it delivers by itself. Either way the store's claim
//! makes the delivery happen once.
//!
//! The socket lives beside the team's tmux socket (`tad-<hash>` in tmux's private per-user
//! directory: short, and only the user can reach it). One JSON line each way:
//! `{"message_id": …}` → `{"status": "submitted" | "queued_…" | "failed"}`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::store::MessageStatus;
use crate::workspace::Workspace;

/// Set in the coordinator's own process: it never hands messages to itself.
static IN_COORDINATOR: AtomicBool = AtomicBool::new(false);

/// How long a sender waits for the coordinator (a 1 MiB paste may take seconds to show).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

pub use crate::coordinator::socket_path;

/// Marks this process as the coordinator that serves hand-offs.
pub fn serving_here() {
    IN_COORDINATOR.store(true, Ordering::Relaxed);
}

/// Asks the coordinator to deliver `message_id` now; its status, or `None` when no coordinator
/// answered (the caller delivers by itself).
pub fn request(workspace: &Workspace, message_id: &str) -> Option<MessageStatus> {
    if IN_COORDINATOR.load(Ordering::Relaxed) {
        return None;
    }
    let mut stream = UnixStream::connect(socket_path(workspace)).ok()?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).ok()?;
    let line = json!({ "message_id": message_id }).to_string();
    stream.write_all(line.as_bytes()).ok()?;
    stream.write_all(b"\n").ok()?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).ok()?;
    let answer: serde_json::Value = serde_json::from_str(answer.trim()).ok()?;
    MessageStatus::parse(answer["status"].as_str()?).ok()
}
