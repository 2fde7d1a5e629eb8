//! `team-agent peek | attach | interrupt | answer | acknowledge-idle`: what an operator does to
//! one worker by hand (the `operator` module does it; this renders it).

use serde_json::json;

use crate::cli::{Reply, UserError};
use crate::workspace::Workspace;

pub fn peek(workspace: &Workspace, id: &str, lines: usize) -> anyhow::Result<Reply> {
    let (pane, tail) = crate::operator::peek(workspace, id, lines)?;
    Ok(Reply::ok(
        json!({"ok": true, "agent": id, "pane_id": pane, "lines": tail.lines().collect::<Vec<_>>()}),
        format!("{tail}\n"),
    ))
}

pub fn attach(workspace: &Workspace, id: &str) -> anyhow::Result<Reply> {
    Err(crate::operator::attach(workspace, id).into())
}

pub fn interrupt(workspace: &Workspace, id: &str) -> anyhow::Result<Reply> {
    let keys = crate::operator::interrupt(workspace, id)?;
    Ok(Reply::ok(
        json!({"ok": true, "agent": id, "keys": keys}),
        format!("sent {} to {id}\n", keys.join(" ")),
    ))
}

pub fn answer(workspace: &Workspace, id: &str, choice: &str) -> anyhow::Result<Reply> {
    let (picked, keys) = crate::operator::answer(workspace, id, choice)?;
    Ok(Reply::ok(
        json!({"ok": true, "agent": id, "choice": picked, "keys": keys}),
        format!("answered {id}: {picked}\n"),
    ))
}

pub fn acknowledge_idle(workspace: &Workspace) -> anyhow::Result<Reply> {
    let until =
        crate::daemon::acknowledge_idle(workspace).map_err(|e| UserError::new(e.to_string()))?;
    Ok(Reply::ok(
        json!({"ok": true, "silenced_until": until}),
        format!("all-idle reminders silenced until {until}\n"),
    ))
}
