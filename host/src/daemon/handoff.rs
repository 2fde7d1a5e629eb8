//! The coordinator's side of the hand-off (the sender's side, and the protocol, are in
//! `messaging::handoff`): a thread that accepts one request per connection and delivers the
//! message with the coordinator's loaded plugins and open control-mode connection.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::messaging::handoff::{ANSWER_TIMEOUT, serving_here, socket_path};
use crate::messaging::{self, Messenger};
use crate::plugins::Registry;
use crate::store::{MessageStatus, Store};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// Serves deliveries until the process ends (a thread of the coordinator).
pub fn serve(workspace: &Workspace, registry: &Registry) {
    serving_here();
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
    // A hook's doorbell: its event waits in the worker's inbox; the loop reads it now.
    if request.get("hook").is_some() {
        super::ring();
        return Ok(());
    }
    let reply = match request.get("snapshot") {
        Some(socket) => snapshot(messenger.workspace, socket),
        None => delivery(messenger, &request),
    };
    let mut stream = reader.into_inner();
    stream.write_all(reply.to_string().as_bytes())?;
    stream.write_all(b"\n")
}

/// Every pane of the team's server, as `tmux list-panes` gives it, read over this process's
/// control-mode connection (a command asking saves starting a tmux process); only for this
/// team's own server.
fn snapshot(workspace: &Workspace, socket: &serde_json::Value) -> serde_json::Value {
    let server = Server::for_workspace(&workspace.identity());
    if socket.as_str().map(std::path::Path::new) != Some(server.socket()) {
        return json!({ "error": "not this team's tmux server" });
    }
    match server.snapshot_text() {
        Ok(panes) => json!({ "panes": panes }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn delivery(messenger: &Messenger<'_>, request: &serde_json::Value) -> serde_json::Value {
    let status = match request["message_id"].as_str() {
        Some(id) => deliver(messenger, id),
        None => Err("the request names no message_id".to_string()),
    };
    match status {
        Ok(status) => json!({ "status": status.as_str() }),
        Err(error) => json!({ "status": null, "error": error }),
    }
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
