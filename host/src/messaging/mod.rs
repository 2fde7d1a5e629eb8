/*! How the leader and the workers talk: `send` stores a message first (durable before anyone
tries to deliver it), then delivers it in the sending process; what cannot be delivered now is
queued and the coordinator delivers it as soon as the recipient can take input. Results come back
with `report_result`: stored, acknowledging the messages of their task, and announced to the
leader exactly once per (result, team, owner epoch), in its pane or, when that pane is
unreachable, in `.team/runtime/leader-inbox.log`.

Statuses only move forward: `accepted` → `delivering` → `submitted` → `consumed` (the
recipient's CLI took it, by its transcript) → `acknowledged` (a result for its task), or
`queued_<reason>` (retried) / `failed`.
*/

mod bounce;
mod deliver;
pub mod handoff;
mod receipts;
mod render;
mod results;

pub use bounce::{DEFAULT_CONSUME_TIMEOUT, bounce_untaken};
pub use deliver::{Delivery, Pane};
pub use receipts::{
    Receipts, check_consumed, note_prompts, requeue_untaken, session_holds_own_messages,
};
pub use render::{render, sanitize};
pub use results::{
    ReportError, ReportOutcome, code_line, notify_pending_results, record_unreported, report_result,
};

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::events::{EventLog, now_rfc3339};
use crate::plugins::Registry;
use crate::state::{AgentStatus, StateStore, TeamState};
use crate::store::{Message, MessageStatus, NewMessage, Store, StoreError};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// Messages bigger than this are refused (a pane is not a file transfer).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The leader's address.
pub const LEADER: &str = "leader";

/// The sender of the coordinator's own notices to the leader (a worker idle, stuck, …).
pub const NOTICE_SENDER: &str = "team-agent";

#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Refused(String),
}

/// What a send did for one recipient.
#[derive(Debug, Clone, Serialize)]
pub struct SendOutcome {
    pub message_id: String,
    pub to: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Everything messaging works with.
pub struct Messenger<'a> {
    pub workspace: &'a Workspace,
    pub registry: &'a Registry,
    pub store: Store,
    pub events: EventLog,
    pub state: StateStore,
}

impl<'a> Messenger<'a> {
    pub fn open(workspace: &'a Workspace, registry: &'a Registry) -> Result<Self, MessagingError> {
        Ok(Self {
            workspace,
            registry,
            store: Store::open(workspace)?,
            events: EventLog::new(workspace),
            state: StateStore::new(workspace),
        })
    }

    /// A messenger over an already open store (the coordinator keeps one across ticks).
    pub fn with_store(workspace: &'a Workspace, registry: &'a Registry, store: Store) -> Self {
        Self {
            workspace,
            registry,
            store,
            events: EventLog::new(workspace),
            state: StateStore::new(workspace),
        }
    }

    /// Gives the store back for the next use.
    pub fn into_store(self) -> Store {
        self.store
    }

    /// The workspace's team, or a refusal.
    pub fn team(&self) -> Result<TeamState, MessagingError> {
        self.state.load()?.team.ok_or_else(|| {
            MessagingError::Refused(format!(
                "no team has run in {}: start one with `team-agent up DIR`",
                self.workspace.root().display()
            ))
        })
    }
}

/// Who a message goes to: `leader`, agent ids (a comma list), or `*` (everyone but the sender).
pub fn resolve_recipients(
    team: &TeamState,
    targets: &[String],
    sender: &str,
) -> Result<Vec<String>, MessagingError> {
    let mut out: Vec<String> = Vec::new();
    for target in targets
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if target == "*" {
            if sender != LEADER {
                out.push(LEADER.into());
            }
            out.extend(
                team.agents
                    .values()
                    .filter(|a| a.id != sender && !a.paused)
                    .map(|a| a.id.clone()),
            );
        } else if target == LEADER || team.agents.contains_key(target) {
            out.push(target.to_string());
        } else {
            return Err(MessagingError::Refused(format!(
                "no recipient '{target}' in team '{}' (agents: {}; or `leader`, or `*` for everyone)",
                team.name,
                team.agents.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    // Nobody messages themselves; each recipient once, in the order given.
    out.retain(|r| r != sender && seen.insert(r.clone()));
    if out.is_empty() {
        return Err(MessagingError::Refused(
            "no recipient: name an agent, `leader`, or `*`".into(),
        ));
    }
    Ok(out)
}

/// Stores one message per recipient, then delivers each now (unless `deliver_now` is false: the
/// coordinator does it).
pub fn send(
    messenger: &Messenger<'_>,
    sender: &str,
    recipients: &[String],
    task_id: Option<&str>,
    content: &str,
    deliver_now: bool,
) -> Result<Vec<SendOutcome>, MessagingError> {
    if content.len() > MAX_MESSAGE_BYTES {
        return Err(MessagingError::Refused(format!(
            "the message is {} bytes; the limit is 1 MiB: put big content in a file and send its path",
            content.len()
        )));
    }
    let team = messenger.team()?;
    let mut outcomes = Vec::new();
    for recipient in recipients {
        let message = messenger.store.insert_message(&NewMessage {
            team: &team.name,
            task_id,
            sender,
            recipient,
            content,
            result_id: None,
        })?;
        messenger.events.emit(
            "send.accepted",
            json!({"message_id": message.message_id, "sender": sender, "recipient": recipient, "task_id": task_id, "bytes": content.len()}),
        );
        let status = if deliver_now {
            // The running coordinator delivers fastest (plugins loaded, tmux connection open);
            // without one answering, this process delivers by itself.
            let handed = (recipient != LEADER)
                .then(|| handoff::request(messenger.workspace, &message.message_id))
                .flatten();
            match handed {
                Some(status) => status,
                None if messenger.registry.entries.is_empty() => {
                    // A caller that hoped to hand off loaded no plugins: load them now.
                    let registry = Registry::load(Some(messenger.workspace.root()));
                    let own = Messenger::open(messenger.workspace, &registry)?;
                    deliver(&own, &team, &message)?
                }
                None => deliver(messenger, &team, &message)?,
            }
        } else {
            message.status.clone()
        };
        outcomes.push(SendOutcome {
            message_id: message.message_id,
            to: recipient.clone(),
            status: status.as_str(),
            detail: None,
        });
    }
    // A mutating command brings a missing coordinator back (it delivers what waits).
    if team.status == crate::state::TeamStatus::Running && sender != NOTICE_SENDER {
        let _ = crate::coordinator::ensure_running(messenger.workspace, &messenger.events);
    }
    Ok(outcomes)
}

/// Delivers one stored message now, if its recipient can take it; its new status.
pub fn deliver(
    messenger: &Messenger<'_>,
    team: &TeamState,
    message: &Message,
) -> Result<MessageStatus, MessagingError> {
    if message.recipient == LEADER {
        return results::deliver_to_leader(messenger, team, message);
    }
    let Some(agent) = team.agents.get(&message.recipient) else {
        messenger.store.mark_failed(
            &message.message_id,
            "the recipient is no longer in the team",
        )?;
        return Ok(MessageStatus::Failed);
    };
    let waiting = |reason: &'static str| -> Result<MessageStatus, MessagingError> {
        if let Some(claimed) =
            messenger
                .store
                .claim(&message.message_id, std::process::id(), None)?
        {
            messenger
                .store
                .mark_queued(&claimed.message_id, std::process::id(), reason)?;
        }
        Ok(MessageStatus::Queued(reason.into()))
    };
    // Per worker, messages arrive in the order they were sent: one that an older message still
    // waits before goes after it (the coordinator delivers the queue oldest first).
    if messenger.store.waits_behind(message)? {
        return waiting("behind_older");
    }
    let server = Server::at(&team.tmux_socket);
    let Some(pane_id) = agent.pane_id.clone() else {
        return waiting("pane_missing");
    };
    match agent.status {
        AgentStatus::Running => {}
        AgentStatus::Starting => return waiting("not_ready"),
        AgentStatus::Blocked => return waiting("blocked"),
        AgentStatus::Stopped => return waiting("stopped"),
        AgentStatus::Exited | AgentStatus::Missing => return waiting("pane_missing"),
    }
    let provider = match messenger.registry.provider(&agent.provider) {
        Ok(p) => p,
        Err(e) => {
            messenger
                .store
                .mark_failed(&message.message_id, &e.to_string())?;
            return Ok(MessageStatus::Failed);
        }
    };
    let pane = Pane {
        server: &server,
        pane_id: &pane_id,
        provider: Some(&provider),
        check_ready: true,
        transcript: agent
            .session
            .as_ref()
            .and_then(|s| s.transcript_path.as_deref()),
        settle: settle_after_hook(agent),
    };
    let (claimed, outcome) = match claim_and_paste(messenger, &pane, message)? {
        Pasted::Taken(status) => return Ok(status),
        Pasted::Tried { claimed, outcome } => (claimed, outcome),
    };
    record_outcome(messenger, agent, &claimed, outcome)
}

/// How long a busy screen gets to catch up with `agent`'s hook that said its turn is over.
fn settle_after_hook(agent: &crate::state::AgentState) -> Duration {
    let turn_over = agent.hook.as_ref().is_some_and(|h| h.event == "turn_ended")
        && agent.activity == Some(crate::state::Activity::Idle);
    if turn_over {
        HOOK_SETTLE
    } else {
        Duration::ZERO
    }
}

/// A CLI draws its spinner until its turn-end hook returns, a few hundred milliseconds.
const HOOK_SETTLE: Duration = Duration::from_secs(3);

/// Stores how a worker's delivery went, and says so in the event log; the message's status.
fn record_outcome(
    messenger: &Messenger<'_>,
    agent: &crate::state::AgentState,
    claimed: &Message,
    outcome: Result<Delivery, String>,
) -> Result<MessageStatus, MessagingError> {
    match outcome {
        Ok(Delivery::Submitted { verified, at }) => {
            messenger
                .store
                .mark_submitted(&claimed.message_id, verified, &at)?;
            // Known from the team this delivery started from: no state read once it is stamped.
            if agent.first_send_at.is_never() {
                stamp_first_send(messenger, &claimed.recipient)?;
            }
            messenger.events.emit(
                "send.submitted",
                json!({"message_id": claimed.message_id, "recipient": claimed.recipient, "verified": verified, "attempt": claimed.delivery_attempts, "deliverer_pid": std::process::id()}),
            );
            Ok(MessageStatus::Submitted)
        }
        Ok(Delivery::Queued(reason)) => {
            messenger
                .store
                .mark_queued(&claimed.message_id, std::process::id(), reason)?;
            messenger.events.emit("send.queued", json!({"message_id": claimed.message_id, "recipient": claimed.recipient, "reason": reason}));
            Ok(MessageStatus::Queued(reason.into()))
        }
        Err(error) => {
            messenger
                .store
                .mark_queued(&claimed.message_id, std::process::id(), "tmux_error")?;
            messenger.events.emit(
                "send.deliver_failed",
                json!({"message_id": claimed.message_id, "error": error}),
            );
            Ok(MessageStatus::Queued("tmux_error".into()))
        }
    }
}

/// What became of one delivery into a pane.
pub(super) enum Pasted {
    /// Someone else holds the message's claim: its status now.
    Taken(MessageStatus),
    /// This process claimed it and pasted; the message as claimed, and how the paste went.
    Tried {
        claimed: Box<Message>,
        outcome: Result<Delivery, String>,
    },
}

/// Under the pane's lock: claims the message (taking over the claim of a deliverer that died
/// mid-way: its paste is found by token), renders it and pastes it into `pane`.
pub(super) fn claim_and_paste(
    messenger: &Messenger<'_>,
    pane: &Pane<'_>,
    message: &Message,
) -> Result<Pasted, MessagingError> {
    let lock = deliver::pane_lock(messenger.workspace, pane.server, pane.pane_id)
        .map_err(|e| MessagingError::Refused(e.to_string()))?;
    let stale = message
        .delivering_pid
        .filter(|pid| !crate::process::alive(*pid as u32));
    let Some(claimed) = messenger
        .store
        .claim(&message.message_id, std::process::id(), stale)?
    else {
        drop(lock);
        return Ok(Pasted::Taken(
            messenger
                .store
                .message(&message.message_id)?
                .map(|m| m.status)
                .unwrap_or(MessageStatus::Failed),
        ));
    };
    // A deliverer before this one pressed (or was about to press) the submit keys and died or
    // failed before it recorded how that went: the message may be in the session already.
    if let Some(sent_at) = claimed.submit_sent_at.clone() {
        let outcome = match deliver::arrival(pane, &claimed.message_id, &sent_at) {
            deliver::Arrival::InSession => Some(Ok(Delivery::Submitted {
                verified: true,
                at: sent_at,
            })),
            deliver::Arrival::NotYet => Some(Ok(Delivery::Queued("confirming_arrival"))),
            deliver::Arrival::Unknown => None,
        };
        if let Some(outcome) = outcome {
            drop(lock);
            return Ok(Pasted::Tried {
                claimed: Box::new(claimed),
                outcome,
            });
        }
    }
    let text = render(
        &claimed.sender,
        claimed.task_id.as_deref(),
        &claimed.content,
        &claimed.message_id,
    );
    let pid = std::process::id();
    let outcome = deliver::paste_and_submit(pane, &text, &claimed.message_id, |at| {
        messenger
            .store
            .mark_submit_sent(&claimed.message_id, pid, at)
            .map_err(|e| e.to_string())
    });
    drop(lock);
    Ok(Pasted::Tried {
        claimed: Box::new(claimed),
        outcome,
    })
}

/// The first successful delivery to a worker marks it as given work (restart then refuses to
/// lose its session silently).
fn stamp_first_send(messenger: &Messenger<'_>, agent_id: &str) -> Result<(), MessagingError> {
    let needs = messenger
        .state
        .load()?
        .team
        .and_then(|t| t.agents.get(agent_id).map(|a| a.first_send_at.is_never()))
        .unwrap_or(false);
    if !needs {
        return Ok(());
    }
    messenger.state.update(|state| {
        if let Some(agent) = state.team.as_mut().and_then(|t| t.agents.get_mut(agent_id))
            && agent.first_send_at.is_never()
        {
            agent.first_send_at = crate::state::FirstSend::At(now_rfc3339());
        }
        Ok::<_, crate::state::StateError>(())
    })?;
    messenger
        .events
        .emit("worker.first_interaction", json!({"agent_id": agent_id}));
    Ok(())
}

/// Delivers every pending message whose recipient can take it (the coordinator's step);
/// whether any is still pending afterwards.
pub fn deliver_pending(
    messenger: &Messenger<'_>,
    team: &TeamState,
) -> Result<bool, MessagingError> {
    let pending = messenger.store.pending_messages(&team.name)?;
    let mut still_pending = false;
    let mut blocked_recipients: Vec<String> = Vec::new();
    // Asked once, and only when a message for the leader waits (a tmux call on the leader's
    // server, which has no control-mode client).
    let mut leader_reachable: Option<bool> = None;
    for message in pending {
        // Leader messages wait in the inbox file until a leader pane is attached.
        if message.recipient == LEADER
            && !*leader_reachable.get_or_insert_with(|| {
                team.leader.as_ref().is_some_and(|l| {
                    Server::at(&l.socket)
                        .display(&l.pane_id, "#{pane_dead}")
                        .is_ok_and(|d| d == "0")
                })
            })
        {
            continue;
        }
        // Keep each recipient's messages in order: once one waits, the later ones wait too.
        if blocked_recipients.contains(&message.recipient) {
            still_pending = true;
            continue;
        }
        if message.status == MessageStatus::Delivering
            && message
                .delivering_pid
                .is_some_and(|pid| crate::process::alive(pid as u32))
        {
            still_pending = true;
            continue;
        }
        let status = deliver(messenger, team, &message)?;
        if status.is_pending() {
            still_pending = true;
            blocked_recipients.push(message.recipient.clone());
        }
    }
    Ok(still_pending)
}

/// How many messages wait for each recipient (for `status`); why not, when the store cannot be
/// read (a corrupt store is an error to show, never "nothing waits").
pub fn pending_counts(workspace: &Workspace, team: &str) -> Result<BTreeMap<String, u64>, String> {
    if !workspace.database().exists() {
        return Ok(BTreeMap::new());
    }
    Store::open(workspace)
        .and_then(|s| s.pending_counts(team))
        .map(|rows| rows.into_iter().collect())
        .map_err(|e| e.to_string())
}

/// The task a worker's work is for, to name in a commit: the oldest it was given and has not
/// reported on, else the one it reported last; `None` when the store knows of neither.
pub fn task_of_work(workspace: &Workspace, team: &str, agent: &str) -> Option<String> {
    if !workspace.database().exists() {
        return None;
    }
    let store = Store::open(workspace).ok()?;
    if let Some((task, _)) = store.open_tasks(team, agent).ok()?.into_iter().next() {
        return Some(task);
    }
    store
        .results(team, None, Some(agent), 1)
        .ok()?
        .pop()
        .map(|r| r.task_id)
}
