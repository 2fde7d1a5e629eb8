//! Handing a stored message to the running coordinator for delivery. The coordinator has the
//! plugins loaded and the team server's control-mode connection open (the only one: tmux 3.3a
//! crashed with several control clients at once), so it delivers in about a millisecond where a
//! `send` process of its own would spend several tmux processes. `send` stores the message first,
//! then asks over a Unix socket and waits for the outcome; with no coordinator answering it
//! delivers by itself, as before. Either way the store's claim makes the delivery happen once.
//!
//! The socket lives beside the team's tmux socket (`tad-<hash>` in tmux's private per-user
//! directory: short, and only the user can reach it). One JSON line each way:
//! `{"message_id": …}` → `{"status": "submitted" | "queued_…" | "failed"}`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::messaging::{self, Messenger};
use crate::plugins::Registry;
use crate::store::{MessageStatus, Store};
use crate::workspace::Workspace;

/// Set in the coordinator's own process: it never hands messages to itself.
static IN_COORDINATOR: AtomicBool = AtomicBool::new(false);

/// How long a sender waits for the coordinator (a 1 MiB paste may take seconds to show).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The socket of a workspace's coordinator.
pub fn socket_path(workspace: &Workspace) -> PathBuf {
    crate::tmux::socket_dir().join(format!(
        "tad-{}",
        crate::tmux::workspace_hash(workspace.root())
    ))
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
    Some(MessageStatus::parse(answer["status"].as_str()?))
}

/// Serves deliveries until the process ends (a thread of the coordinator).
pub fn serve(workspace: &Workspace, registry: &Registry) {
    IN_COORDINATOR.store(true, Ordering::Relaxed);
    let path = socket_path(workspace);
    if UnixStream::connect(&path).is_ok() {
        // Another coordinator of this workspace answers already (it holds the lock; we exit).
        return;
    }
    let _ = std::fs::remove_file(&path);
    if crate::tmux::ensure_socket_dir(&path).is_err() {
        return;
    }
    let Ok(listener) = UnixListener::bind(&path) else {
        return;
    };
    let mut store: Option<Store> = None;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // A store moved aside or replaced since the last delivery is opened again.
        let db = match store.take().filter(|db| !db.replaced()) {
            Some(db) => db,
            None => match Store::open(workspace) {
                Ok(db) => db,
                Err(_) => continue,
            },
        };
        let messenger = Messenger::with_store(workspace, registry, db);
        if answer(&messenger, stream).is_ok() {
            store = Some(messenger.into_store());
        }
    }
}

/// Removes the socket (the coordinator is exiting).
pub fn remove(workspace: &Workspace) {
    let _ = std::fs::remove_file(socket_path(workspace));
}

fn answer(messenger: &Messenger<'_>, stream: UnixStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
    let status = match request["message_id"].as_str() {
        Some(id) => deliver(messenger, id),
        None => Err("the request names no message_id".to_string()),
    };
    let reply = match status {
        Ok(status) => json!({ "status": status.as_str() }),
        Err(error) => json!({ "status": null, "error": error }),
    };
    let mut stream = reader.into_inner();
    stream.write_all(reply.to_string().as_bytes())?;
    stream.write_all(b"\n")
}

/// Delivers one stored message; when someone else holds its claim (a tick got there first), waits
/// for their outcome.
fn deliver(messenger: &Messenger<'_>, message_id: &str) -> Result<MessageStatus, String> {
    let team = messenger.team().map_err(|e| e.to_string())?;
    let message = messenger
        .store
        .message(message_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no message {message_id}"))?;
    // A worker of a provider this coordinator has not loaded yet (it reloads at its next tick):
    // the sender delivers by itself rather than have the message failed here.
    if let Some(agent) = team.agents.get(&message.recipient)
        && messenger.registry.provider(&agent.provider).is_err()
    {
        return Err(format!(
            "provider '{}' is not loaded here yet",
            agent.provider
        ));
    }
    let mut status = messaging::deliver(messenger, &team, &message).map_err(|e| e.to_string())?;
    let until = Instant::now() + ANSWER_TIMEOUT;
    while status == MessageStatus::Delivering && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
        status = messenger
            .store
            .message(message_id)
            .map_err(|e| e.to_string())?
            .map(|m| m.status)
            .unwrap_or(MessageStatus::Failed);
    }
    Ok(status)
}
