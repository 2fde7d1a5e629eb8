//! Messages their recipients never took go back to their senders. A message `submitted` and not
//! `consumed` within the consume timeout is typed again, once; still not taken after that, or
//! held that long in a queue because the recipient's input box is not its own (someone's text,
//! copy mode, a trust dialog), it is `bounced`: its sender (the leader or a worker) is told why,
//! with what the recipient's screen showed. Only for recipients whose taking a message can be
//! seen (their CLI's prompt hook, or a transcript the provider names): elsewhere silence proves
//! nothing. One typed into the CLI before the one running now, which is gone, goes back to the
//! queue at once instead.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{LEADER, MessagingError, Messenger, NOTICE_SENDER, receipts};
use crate::state::{AgentState, TeamState};
use crate::store::{Message, MessageStatus};

/// Queue reasons that mean the recipient's input is held by something that is not a turn: they
/// do not pass by themselves.
const HELD: [&str; 3] = ["input_not_empty", "copy_mode", "trust_prompt"];

/// The consume timeout when the team sets none.
pub const DEFAULT_CONSUME_TIMEOUT: Duration = Duration::from_secs(60);

/// How many of the recipient's screen lines a bounce shows.
const SCREEN_LINES: usize = 12;

fn older_than(at: Option<&str>, bound: Duration) -> bool {
    at.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| (Utc::now() - t.with_timezone(&Utc)).to_std().ok())
        .is_some_and(|age| age >= bound)
}

/// Whether `agent` taking a message would be seen.
fn takes_are_seen(agent: &AgentState) -> bool {
    agent.hook.is_some()
        || agent
            .session
            .as_ref()
            .is_some_and(|s| s.transcript_path.is_some())
}

/// Retries once, then bounces, what `team`'s workers did not take within `timeout`; how many
/// messages it bounced.
pub fn bounce_untaken(
    messenger: &Messenger<'_>,
    team: &TeamState,
    timeout: Duration,
) -> Result<usize, MessagingError> {
    let mut bounced = 0;
    for message in messenger.store.awaiting_consumption(&team.name)? {
        let Some(agent) = team.agents.get(&message.recipient) else {
            continue;
        };
        // Typed into the CLI before this one, which is gone: no timeout to wait for.
        if receipts::typed_before_start(agent, &message) {
            receipts::give_back(&messenger.store, &messenger.events, &message)?;
            continue;
        }
        if !takes_are_seen(agent) || !older_than(message.submitted_at.as_deref(), timeout) {
            continue;
        }
        if message.retried_at.is_none() {
            if messenger.store.retry_unconsumed(&message.message_id)? {
                messenger.events.emit(
                    "send.retried",
                    json!({"message_id": message.message_id, "recipient": agent.id, "after_sec": timeout.as_secs_f64()}),
                );
            }
            continue;
        }
        let reason = format!(
            "{}'s CLI did not take it within {} s, typed twice",
            agent.id,
            timeout.as_secs()
        );
        bounced += usize::from(bounce(messenger, team, agent, &message, &reason)?);
    }
    for message in messenger.store.pending_messages(&team.name)? {
        let MessageStatus::Queued(reason) = &message.status else {
            continue;
        };
        let Some(agent) = team.agents.get(&message.recipient) else {
            continue;
        };
        if !HELD.contains(&reason.as_str()) || !older_than(Some(&message.created_at), timeout) {
            continue;
        }
        let why = format!(
            "{}'s input stayed held for {} s ({}), so it was never typed",
            agent.id,
            timeout.as_secs(),
            reason.replace('_', " ")
        );
        bounced += usize::from(bounce(messenger, team, agent, &message, &why)?);
    }
    Ok(bounced)
}

/// Bounces one message and tells its sender; whether this call bounced it.
fn bounce(
    messenger: &Messenger<'_>,
    team: &TeamState,
    agent: &AgentState,
    message: &Message,
    reason: &str,
) -> Result<bool, MessagingError> {
    if !messenger.store.mark_bounced(&message.message_id, reason)? {
        return Ok(false);
    }
    let screen = agent
        .pane_id
        .as_deref()
        .and_then(|pane| {
            crate::tmux::Server::at(&team.tmux_socket)
                .capture_tail(pane, 40)
                .ok()
        })
        .map(|s| crate::session::last_lines(&s, SCREEN_LINES))
        .unwrap_or_default();
    messenger.events.emit(
        "send.bounced",
        json!({"message_id": message.message_id, "recipient": agent.id, "sender": message.sender, "reason": reason, "screen": screen}),
    );
    let excerpt: String = message.content.chars().take(200).collect();
    let notice = format!(
        "Your message {} to {} bounced: {reason}. Its screen showed:\n{}\nThe message began: {excerpt}\nSend it again when {} takes input (`team-agent peek {}` shows its screen).",
        message.message_id,
        agent.id,
        screen.join("\n"),
        agent.id,
        agent.id
    );
    let to_sender = message.sender == LEADER || team.agents.contains_key(&message.sender);
    if to_sender
        && let Err(e) = super::send(
            messenger,
            NOTICE_SENDER,
            std::slice::from_ref(&message.sender),
            None,
            &notice,
            true,
        )
    {
        messenger.events.emit(
            "coordinator.notice_failed",
            json!({"error": e.to_string(), "message_id": message.message_id}),
        );
    }
    Ok(true)
}
