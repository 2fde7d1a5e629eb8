//! Results: a worker's report is validated, stored, acknowledges its task's messages, and is
//! announced to the leader exactly once per (result, team, owner epoch): in the leader's pane, or
//! in `.team/runtime/leader-inbox.log` when no leader pane can take it.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::deliver::{Delivery, Pane};
use super::{LEADER, MessagingError, Messenger, render};
use crate::events::now_rfc3339;
use crate::spec::Diagnostic;
use crate::state::{TeamState, WorktreeRecord};
use crate::store::{Message, MessageStatus, NewMessage, ResultRow, new_id};
use crate::tmux::Server;

#[derive(Debug, Clone, Serialize)]
pub struct ReportOutcome {
    pub ok: bool,
    pub result_id: String,
    pub task_id: String,
    pub agent_id: String,
    pub acknowledged_messages: usize,
    /// `submitted` (in the leader's pane), `queued_no_leader` (in the inbox file), or
    /// `already_notified`.
    pub leader_notification: String,
}

/// Why a report was refused.
#[derive(Debug)]
pub enum ReportError {
    Invalid(Vec<Diagnostic>),
    Other(MessagingError),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(problems) => {
                let text: Vec<String> = problems
                    .iter()
                    .map(|d| format!("{}: {}", d.path, d.message))
                    .collect();
                write!(f, "invalid result: {}", text.join("; "))
            }
            Self::Other(e) => write!(f, "{e}"),
        }
    }
}

impl From<MessagingError> for ReportError {
    fn from(e: MessagingError) -> Self {
        Self::Other(e)
    }
}

impl From<crate::store::StoreError> for ReportError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Other(e.into())
    }
}

/// Stores a worker's result. `caller` is the reporting agent (`TEAM_AGENT_ID`), never taken from
/// the envelope alone.
/// The status of a result team-agent records for a worker that ended its turns without one.
pub const UNREPORTED: &str = "unreported";

/// Records `task`'s result for `agent` as `unreported`, carrying what the worker last said: it
/// ended a turn on the task, was reminded, and ended the next one without reporting either.
pub fn record_unreported(
    messenger: &Messenger<'_>,
    agent: &str,
    task: &str,
    last_text: Option<&str>,
) -> Result<ReportOutcome, ReportError> {
    let summary = match last_text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => format!("{agent} did not report; its last words: {text}"),
        None => format!("{agent} did not report and wrote no text in its last turn"),
    };
    let envelope = json!({
        "schema_version": "result_envelope_v1",
        "task_id": task,
        "agent_id": agent,
        "status": UNREPORTED,
        "summary": summary,
        "changes": [], "tests": [], "risks": [], "artifacts": [],
        "next_actions": [{"description": format!("ask {agent} what became of the task, or look with `team-agent peek {agent}`")}],
    });
    report_result(messenger, envelope, None, Path::new("team-agent"))
}

pub fn report_result(
    messenger: &Messenger<'_>,
    mut envelope: Value,
    caller: Option<&str>,
    source: &Path,
) -> Result<ReportOutcome, ReportError> {
    let team = messenger.team()?;
    if caller.is_some() && envelope.get("status").and_then(Value::as_str) == Some(UNREPORTED) {
        return Err(ReportError::Invalid(vec![Diagnostic::error(
            source,
            "/status",
            "`unreported` is what team-agent records when a worker does not report; report success, blocked, failed or partial",
        )]));
    }
    if let (Some(caller), Some(object)) = (caller, envelope.as_object_mut()) {
        match object.get("agent_id").and_then(Value::as_str) {
            Some(given) if given != caller && !given.is_empty() => {
                return Err(ReportError::Invalid(vec![Diagnostic::error(
                    source,
                    "/agent_id",
                    format!(
                        "the envelope says agent_id \"{given}\" but you are \"{caller}\" (TEAM_AGENT_ID)"
                    ),
                )]));
            }
            _ => {
                object.insert("agent_id".into(), Value::String(caller.into()));
            }
        }
    }
    let problems = crate::spec::check_result(&envelope, source, None);
    if !problems.is_empty() {
        return Err(ReportError::Invalid(problems));
    }
    let agent_id = envelope["agent_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let task_id = envelope["task_id"].as_str().unwrap_or_default().to_string();
    if !team.agents.contains_key(&agent_id) {
        return Err(ReportError::Invalid(vec![Diagnostic::error(
            source,
            "/agent_id",
            format!("no agent \"{agent_id}\" in team '{}'", team.name),
        )]));
    }
    let code = team.agents[&agent_id].worktree.as_ref().map(code_of);
    let row =
        messenger
            .store
            .insert_result(&team.name, &task_id, &agent_id, &envelope, code.as_ref())?;
    let acknowledged = messenger
        .store
        .acknowledge_task(&team.name, &agent_id, &task_id)?;
    messenger.events.emit(
        "result.reported",
        json!({"result_id": row.result_id, "task_id": task_id, "agent_id": agent_id, "status": row.status, "acknowledged_messages": acknowledged}),
    );
    let notification = notify_leader(messenger, &team, &row)?;
    if !matches!(notification, MessageStatus::Submitted) {
        let _ = crate::coordinator::ensure_running(messenger.workspace, &messenger.events);
    }
    Ok(ReportOutcome {
        ok: true,
        result_id: row.result_id,
        task_id,
        agent_id,
        acknowledged_messages: acknowledged,
        leader_notification: notification.as_str(),
    })
}

/// What the host adds to a worktree worker's result: its branch, the commit its worktree is
/// at, and whether uncommitted changes remain (what git could not tell is null).
fn code_of(worktree: &WorktreeRecord) -> Value {
    let exists = worktree.path.is_dir();
    let head = match exists {
        true => crate::git::head(&worktree.path).ok(),
        false => crate::git::commit_of(&worktree.repo, &worktree.branch)
            .ok()
            .flatten(),
    };
    let dirty = match exists {
        true => crate::git::uncommitted(&worktree.path)
            .ok()
            .map(|c| !c.is_empty()),
        false => Some(false),
    };
    json!({"branch": worktree.branch, "head": head, "dirty": dirty, "path": worktree.path})
}

/// The line a result's notice and `results` give of its code.
pub fn code_line(row: &ResultRow) -> Option<String> {
    let code = row.worktree.as_ref()?;
    let head = code["head"].as_str().unwrap_or("?");
    Some(format!(
        "Code: branch {} at {}{}; review with `team-agent diff {}`, merge with `team-agent merge {}`",
        code["branch"].as_str().unwrap_or("?"),
        &head[..12.min(head.len())],
        match code["dirty"].as_bool() {
            Some(true) => ", uncommitted changes remain",
            Some(false) => ", everything committed",
            None => "",
        },
        row.agent_id,
        row.agent_id
    ))
}

fn epoch_of(team: &TeamState) -> i64 {
    team.owner.as_ref().map(|o| o.epoch as i64).unwrap_or(0)
}

/// What the leader reads about a result.
fn notification_text(row: &ResultRow) -> String {
    let summary = row.envelope["summary"].as_str().unwrap_or("");
    let mut text = format!(
        "Task {} reported {} from {}: {summary}",
        row.task_id, row.status, row.agent_id
    );
    let tests: Vec<String> = row.envelope["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(format!(
                "{}={}",
                t["command"].as_str()?,
                t["status"].as_str()?
            ))
        })
        .collect();
    if !tests.is_empty() {
        text.push_str(&format!("\nTests: {}", tests.join("; ")));
    }
    if let Some(line) = code_line(row) {
        text.push_str(&format!("\n{line}"));
    }
    text.push_str(&format!(
        "\nResult id: {}\nThe result is stored; no need to poll: `team-agent results --task {}` shows it whole.",
        row.result_id, row.task_id
    ));
    text
}

/// Announces a result to the leader, once per (result, team, owner epoch); the message's status.
pub fn notify_leader(
    messenger: &Messenger<'_>,
    team: &TeamState,
    row: &ResultRow,
) -> Result<MessageStatus, MessagingError> {
    let epoch = epoch_of(team);
    let message_id = new_id("msg");
    if !messenger
        .store
        .claim_notification(&row.result_id, &team.name, epoch, &message_id)?
    {
        messenger.events.emit(
            "leader_notification.dedupe_skip",
            json!({"result_id": row.result_id, "owner_epoch": epoch}),
        );
        return Ok(MessageStatus::Acknowledged);
    }
    let content = notification_text(row);
    let message = messenger.store.insert_message_with_id(
        &message_id,
        &NewMessage {
            team: &team.name,
            task_id: Some(&row.task_id),
            sender: &row.agent_id,
            recipient: LEADER,
            content: &content,
            result_id: Some(&row.result_id),
        },
    )?;
    let status = deliver_to_leader(messenger, team, &message)?;
    if !status.is_pending() {
        messenger
            .store
            .finish_notification(&row.result_id, &team.name, epoch, "delivered")?;
    }
    Ok(status)
}

/// The coordinator's step: finish notifications whose claimer died, and announce results that
/// never got one (their reporter died between storing and notifying).
pub fn notify_pending_results(
    messenger: &Messenger<'_>,
    team: &TeamState,
) -> Result<(), MessagingError> {
    let epoch = epoch_of(team);
    let me = std::process::id() as i64;
    for open in messenger.store.open_notifications(&team.name)? {
        if open.owner_epoch != epoch {
            continue;
        }
        if open.claimed_by != me {
            // Someone alive is on it; a dead claimer's claim is taken over.
            if crate::process::alive(open.claimed_by as u32)
                || !messenger.store.reclaim_notification(
                    &open.result_id,
                    &team.name,
                    epoch,
                    open.claimed_by,
                )?
            {
                continue;
            }
        }
        match messenger.store.message(&open.message_id)? {
            Some(m) if m.status.is_pending() => {
                if !deliver_to_leader(messenger, team, &m)?.is_pending() {
                    messenger.store.finish_notification(
                        &open.result_id,
                        &team.name,
                        epoch,
                        "delivered",
                    )?;
                }
            }
            Some(_) => messenger.store.finish_notification(
                &open.result_id,
                &team.name,
                epoch,
                "delivered",
            )?,
            None => {
                // The claim was made but its message never stored: notify now.
                if let Some(row) = messenger.store.result(&open.result_id)? {
                    let message = messenger.store.insert_message_with_id(
                        &open.message_id,
                        &NewMessage {
                            team: &team.name,
                            task_id: Some(&row.task_id),
                            sender: &row.agent_id,
                            recipient: LEADER,
                            content: &notification_text(&row),
                            result_id: Some(&row.result_id),
                        },
                    )?;
                    if !deliver_to_leader(messenger, team, &message)?.is_pending() {
                        messenger.store.finish_notification(
                            &open.result_id,
                            &team.name,
                            epoch,
                            "delivered",
                        )?;
                    }
                }
            }
        }
    }
    let since = team
        .owner
        .as_ref()
        .map(|o| o.claimed_at.clone())
        .or_else(|| team.started_at.clone())
        .unwrap_or_default();
    for row in messenger.store.unnotified_results(&team.name, epoch)? {
        if row.created_at >= since {
            notify_leader(messenger, team, &row)?;
        }
    }
    Ok(())
}

/// Puts a message into the leader's pane, or into the leader inbox file when no leader pane can
/// take it (then it stays queued until a leader is attached).
pub fn deliver_to_leader(
    messenger: &Messenger<'_>,
    team: &TeamState,
    message: &Message,
) -> Result<MessageStatus, MessagingError> {
    let pid = std::process::id();
    let Some(binding) = team.leader.as_ref() else {
        return to_inbox(messenger, message, "no leader pane is bound");
    };
    let server = Server::at(&binding.socket);
    let alive = server
        .display(&binding.pane_id, "#{pane_dead}")
        .is_ok_and(|d| d == "0");
    if !alive {
        return to_inbox(
            messenger,
            message,
            &format!("the leader pane {} is gone", binding.pane_id),
        );
    }
    let provider = binding
        .provider
        .as_deref()
        .and_then(|p| messenger.registry.provider(p).ok());
    let pane = Pane {
        server: &server,
        pane_id: &binding.pane_id,
        provider: provider.as_ref(),
        // A leader CLI mid-turn loses what is pasted into it (Claude Code dropped a result pasted
        // while it ran a tool): with its provider known, the message waits for it to take input.
        check_ready: provider.is_some(),
        transcript: None,
        settle: Duration::ZERO,
    };
    let (claimed, outcome) = match super::claim_and_paste(messenger, &pane, message)? {
        super::Pasted::Taken(status) => return Ok(status),
        super::Pasted::Tried { claimed, outcome } => (claimed, outcome),
    };
    match outcome {
        Ok(Delivery::Submitted { verified, at }) => {
            messenger
                .store
                .mark_submitted(&claimed.message_id, verified, &at)?;
            messenger.events.emit("leader.notified", json!({"message_id": claimed.message_id, "pane_id": binding.pane_id, "result_id": claimed.result_id}));
            Ok(MessageStatus::Submitted)
        }
        Ok(Delivery::Queued(reason)) => {
            messenger
                .store
                .mark_queued(&claimed.message_id, pid, reason)?;
            Ok(MessageStatus::Queued(reason.into()))
        }
        Err(error) => {
            messenger
                .store
                .mark_queued(&claimed.message_id, pid, "tmux_error")?;
            to_inbox(messenger, &claimed, &error)
        }
    }
}

/// Appends a message to `.team/runtime/leader-inbox.log` (once) and leaves it queued for a
/// leader to be attached.
fn to_inbox(
    messenger: &Messenger<'_>,
    message: &Message,
    why: &str,
) -> Result<MessageStatus, MessagingError> {
    let pid = std::process::id();
    let first_time = !matches!(&message.status, MessageStatus::Queued(r) if r == "no_leader");
    if let Some(claimed) = messenger.store.claim(
        &message.message_id,
        pid,
        message
            .delivering_pid
            .filter(|p| !crate::process::alive(*p as u32)),
    )? {
        messenger
            .store
            .mark_queued(&claimed.message_id, pid, "no_leader")?;
    }
    if first_time {
        let entry = format!(
            "\n[{}] fallback reason={why}\n{}\n",
            now_rfc3339(),
            render(
                &message.sender,
                message.task_id.as_deref(),
                &message.content,
                &message.message_id
            )
        );
        let path = messenger.workspace.leader_inbox();
        crate::workspace::open_private_append(&path)
            .and_then(|mut f| f.write_all(entry.as_bytes()))
            .map_err(|e| {
                MessagingError::Refused(format!("cannot write {}: {e}", path.display()))
            })?;
        messenger.events.emit(
            "leader.inbox_fallback",
            json!({"message_id": message.message_id, "reason": why}),
        );
    }
    Ok(MessageStatus::Queued("no_leader".into()))
}
