//! Delivery receipts past `submitted`: a message is `consumed` once the recipient's CLI took it,
//! which its transcript shows (the message's token in a user turn: a CLI records what it was
//! given before it answers). Checked by the coordinator at every tick for what was submitted and
//! not yet taken, and by `send --wait consumed` while it waits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::json;

use super::deliver::file_contains;
use super::render::token_line;
use super::{MessagingError, Messenger};
use crate::events::{EventLog, now_rfc3339};
use crate::state::{AgentState, TeamState};
use crate::store::{Message, Store};
use crate::workspace::Workspace;

/// What each transcript looked like when it was last searched: a transcript that has not
/// changed holds no new message.
#[derive(Default)]
pub struct Receipts {
    stamps: HashMap<PathBuf, (u64, Option<SystemTime>)>,
}

/// How much of a changed transcript's end the tick reads for receipts: a message just taken is
/// recorded near the end.
const RECENT_BYTES: u64 = 4 * 1024 * 1024;

impl Receipts {
    /// Marks `consumed` every submitted message of `team` whose recipient's transcript now holds
    /// it; how many it marked. Each transcript that changed since the last look is read once.
    pub fn note(
        &mut self,
        messenger: &Messenger<'_>,
        team: &TeamState,
    ) -> Result<usize, MessagingError> {
        let mut waiting: HashMap<PathBuf, Vec<Message>> = HashMap::new();
        for message in messenger.store.awaiting_consumption(&team.name)? {
            if let Some(path) = transcript_of(team, &message) {
                waiting.entry(path).or_default().push(message);
            }
        }
        // Only transcripts something still waits in are remembered.
        self.stamps.retain(|path, _| waiting.contains_key(path));
        let mut marked = 0;
        for (path, messages) in waiting {
            let stamp = std::fs::metadata(&path)
                .map(|m| (m.len(), m.modified().ok()))
                .unwrap_or((0, None));
            if self.stamps.get(&path) == Some(&stamp) {
                continue;
            }
            self.stamps.insert(path.clone(), stamp);
            let Some(recent) = crate::session::read_tail(&path, RECENT_BYTES) else {
                continue;
            };
            for message in messages {
                if recent.contains(&token_line(&message.message_id))
                    && mark(messenger, &message, "transcript")?
                {
                    marked += 1;
                }
            }
        }
        Ok(marked)
    }
}

/// Marks `consumed` the messages of `recipient` that its CLI said it took: each whose token is in
/// one of `prompts` (what its prompt hook, or its turn-end notice, reported). How many it marked.
pub fn note_prompts(
    messenger: &Messenger<'_>,
    team: &str,
    recipient: &str,
    prompts: &[&str],
) -> Result<usize, MessagingError> {
    if prompts.is_empty() {
        return Ok(0);
    }
    let mut marked = 0;
    for message in messenger.store.untaken_for(team, recipient)? {
        let token = token_line(&message.message_id);
        if prompts.iter().any(|p| p.contains(&token)) && mark(messenger, &message, "hook")? {
            marked += 1;
        }
    }
    Ok(marked)
}

/// The transcript of a worker message's recipient, when its provider told where it is.
fn transcript_of(team: &TeamState, message: &Message) -> Option<PathBuf> {
    team.agents
        .get(&message.recipient)?
        .session
        .as_ref()?
        .transcript_path
        .clone()
}

/// Looks once whether the recipient took `message` (submitted); marks it `consumed` if so.
/// Whether it is consumed now.
pub fn check_consumed(
    messenger: &Messenger<'_>,
    team: &TeamState,
    message: &Message,
) -> Result<bool, MessagingError> {
    match transcript_of(team, message) {
        Some(path) => consume_if_taken(messenger, message, &path),
        None => Ok(false),
    }
}

fn consume_if_taken(
    messenger: &Messenger<'_>,
    message: &Message,
    transcript: &std::path::Path,
) -> Result<bool, MessagingError> {
    if !file_contains(transcript, token_line(&message.message_id).as_bytes()) {
        return Ok(false);
    }
    mark(messenger, message, "transcript")?;
    Ok(true)
}

/// Records that the recipient took `message`, as `source` (`hook`, `transcript`) showed;
/// whether this call did.
fn mark(
    messenger: &Messenger<'_>,
    message: &Message,
    source: &str,
) -> Result<bool, MessagingError> {
    let marked = messenger
        .store
        .mark_consumed(&message.message_id, &now_rfc3339())?;
    if marked {
        messenger.events.emit(
            "send.consumed",
            json!({"message_id": message.message_id, "recipient": message.recipient, "source": source}),
        );
    }
    Ok(marked)
}

/// How many of a worker's latest delivered messages a capture is checked against.
const CHECKED_MESSAGES: usize = 20;

/// Whether a session a provider attributed to `agent` from circumstance (cwd and time, not an
/// id it was given) is the agent's by the messages in its transcript: none delivered to another
/// worker, and one delivered to this agent. Before the agent was given a message nothing says
/// whose a session is (two Codex workers started in one directory at once: the one not yet
/// messaged would take the other's rollout, written first), so it waits for one. A transcript may
/// lag its CLI: a session refused now is offered again at the next tick.
pub fn session_holds_own_messages(
    messenger: &Messenger<'_>,
    team: &str,
    agent: &crate::state::AgentState,
    record: &team_agent_plugin_api::SessionRecord,
) -> bool {
    if record.confidence == team_agent_plugin_api::Confidence::High {
        return true;
    }
    let Some(transcript) = record.transcript_path.as_deref() else {
        return true;
    };
    let Ok(delivered) = messenger.store.latest_delivered(team, CHECKED_MESSAGES) else {
        return true;
    };
    let holds = |id: &str| file_contains(transcript, token_line(id).as_bytes());
    let (own, others): (Vec<_>, Vec<_>) = delivered
        .iter()
        .partition(|(_, recipient)| *recipient == agent.id);
    if others.iter().any(|(id, _)| holds(id)) {
        return false;
    }
    own.iter().any(|(id, _)| holds(id))
}

/// Gives back to the queue what a worker's previous CLI was typed and never took: each message
/// submitted to it whose token the transcript of `previous` (its record before this start) does
/// not hold. Called as the worker starts again, before its new CLI is recorded, so they reach the
/// new CLI in their order. Only once that process is gone (it cannot take them any more) and when
/// its transcript is known (elsewhere nothing tells a taken message from one that was not); how
/// many went back.
pub fn requeue_untaken(
    workspace: &Workspace,
    events: &EventLog,
    team: &str,
    previous: &AgentState,
) -> Result<usize, MessagingError> {
    let Some(transcript) = previous
        .session
        .as_ref()
        .and_then(|s| s.transcript_path.as_deref())
    else {
        return Ok(0);
    };
    if previous.pane_pid.is_some_and(crate::process::alive) {
        return Ok(0);
    }
    let store = Store::open(workspace)?;
    let mut requeued = 0;
    for message in store.awaiting_consumption(team)? {
        if message.recipient == previous.id && give_back(&store, events, &message, transcript)? {
            requeued += 1;
        }
    }
    Ok(requeued)
}

/// The tick's side of [`requeue_untaken`], for a deliverer that recorded its message only after
/// the recipient had started again (it pressed the submit keys as the old CLI was being
/// stopped): submitted before the recipient's CLI was spawned, so into the one before, which is
/// gone. Only for a resumed worker, whose transcript is the one the message was typed into; how
/// many went back.
pub fn requeue_typed_before_start(
    messenger: &Messenger<'_>,
    team: &TeamState,
) -> Result<usize, MessagingError> {
    let moment = |at: Option<&str>| at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let mut requeued = 0;
    for message in messenger.store.awaiting_consumption(&team.name)? {
        let Some(agent) = team.agents.get(&message.recipient) else {
            continue;
        };
        let resumed = matches!(
            agent.launch_mode,
            Some(team_agent_plugin_api::LaunchMode::Resume { .. })
        );
        let before = match (
            moment(message.submitted_at.as_deref()),
            moment(agent.spawned_at.as_deref()),
        ) {
            (Some(submitted), Some(spawned)) => submitted < spawned,
            _ => false,
        };
        let Some(transcript) = agent
            .session
            .as_ref()
            .and_then(|s| s.transcript_path.as_deref())
        else {
            continue;
        };
        if resumed
            && before
            && give_back(&messenger.store, &messenger.events, &message, transcript)?
        {
            requeued += 1;
        }
    }
    Ok(requeued)
}

/// Puts `message` back in the queue unless `transcript` holds it; whether this call did.
fn give_back(
    store: &Store,
    events: &EventLog,
    message: &Message,
    transcript: &std::path::Path,
) -> Result<bool, MessagingError> {
    if file_contains(transcript, token_line(&message.message_id).as_bytes())
        || !store.requeue_untaken(&message.message_id)?
    {
        return Ok(false);
    }
    events.emit(
        "send.requeued",
        json!({"message_id": message.message_id, "recipient": message.recipient, "reason": "its CLI ended before it took the message"}),
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Registry;
    use crate::state::AgentState;
    use crate::store::{MessageStatus, NewMessage};
    use crate::workspace::Workspace;
    use team_agent_plugin_api::{Confidence, SessionRecord};

    fn record(path: &std::path::Path, confidence: Confidence) -> SessionRecord {
        SessionRecord {
            session_id: "s1".into(),
            transcript_path: Some(path.to_path_buf()),
            attributed_by: "cwd_and_time".into(),
            confidence,
        }
    }

    fn submitted(messenger: &Messenger<'_>, recipient: &str) -> String {
        let message = messenger
            .store
            .insert_message(&NewMessage {
                team: "t",
                task_id: None,
                sender: "leader",
                recipient,
                content: "hello",
                result_id: None,
            })
            .unwrap();
        messenger
            .store
            .mark_submitted(&message.message_id, true, &now_rfc3339())
            .unwrap();
        message.message_id
    }

    #[test]
    fn a_circumstantial_session_is_an_agents_only_once_it_holds_a_message_sent_to_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let workspace = Workspace::resolve(Some(dir.path())).unwrap();
        let registry = Registry::load_from(&[]);
        let messenger = Messenger::open(&workspace, &registry).unwrap();
        let late = AgentState::new("late", "codex");
        // The other worker's rollout, its first record written, its message not yet.
        let rollout = dir.path().join("rollout.jsonl");
        std::fs::write(&rollout, "{\"type\":\"session_meta\"}\n").unwrap();
        let medium = record(&rollout, Confidence::Medium);
        assert!(
            !session_holds_own_messages(&messenger, "t", &late, &medium),
            "taken before the agent was given anything"
        );
        assert!(session_holds_own_messages(
            &messenger,
            "t",
            &late,
            &record(&rollout, Confidence::High)
        ));
        // The other worker's message lands in it: never this agent's.
        let theirs = submitted(&messenger, "cx");
        std::fs::write(&rollout, format!("{}\n", token_line(&theirs))).unwrap();
        let own = submitted(&messenger, "late");
        assert!(!session_holds_own_messages(&messenger, "t", &late, &medium));
        // Its own rollout, once its message is in it.
        let own_rollout = dir.path().join("own.jsonl");
        std::fs::write(&own_rollout, "{\"type\":\"session_meta\"}\n").unwrap();
        let own_medium = record(&own_rollout, Confidence::Medium);
        assert!(!session_holds_own_messages(
            &messenger,
            "t",
            &late,
            &own_medium
        ));
        std::fs::write(&own_rollout, format!("{}\n", token_line(&own))).unwrap();
        assert!(session_holds_own_messages(
            &messenger,
            "t",
            &late,
            &own_medium
        ));
    }

    #[test]
    fn what_an_ended_cli_never_took_goes_back_to_the_queue_and_what_it_took_stays() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let workspace = Workspace::resolve(Some(dir.path())).unwrap();
        let registry = Registry::load_from(&[]);
        let messenger = Messenger::open(&workspace, &registry).unwrap();
        let events = EventLog::new(&workspace);
        let taken = submitted(&messenger, "w1");
        let lost = submitted(&messenger, "w1");
        let elsewhere = submitted(&messenger, "w2");
        let transcript = dir.path().join("w1.jsonl");
        std::fs::write(&transcript, format!("{}\n", token_line(&taken))).unwrap();
        let mut previous = AgentState::new("w1", "scripted");
        previous.session = Some(record(&transcript, Confidence::High));
        // Its CLI still runs (this very process stands in for it): it may take them yet.
        previous.pane_pid = Some(std::process::id());
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            0
        );
        // Gone: the one it never took goes back, and only once.
        previous.pane_pid = None;
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            1
        );
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            0
        );
        let status = |id: &str| messenger.store.message(id).unwrap().unwrap().status;
        assert_eq!(status(&lost), MessageStatus::Accepted);
        assert_eq!(status(&taken), MessageStatus::Submitted);
        assert_eq!(status(&elsewhere), MessageStatus::Submitted);
        // Without a transcript nothing tells: nothing moves.
        let _ = submitted(&messenger, "w3");
        let blind = AgentState::new("w3", "scripted");
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &blind).unwrap(),
            0
        );
    }

    #[test]
    fn a_message_recorded_after_its_recipient_resumed_but_typed_before_goes_back_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let workspace = Workspace::resolve(Some(dir.path())).unwrap();
        let registry = Registry::load_from(&[]);
        let messenger = Messenger::open(&workspace, &registry).unwrap();
        let before = submitted(&messenger, "w1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let transcript = dir.path().join("w1.jsonl");
        std::fs::write(&transcript, "{}\n").unwrap();
        let mut agent = AgentState::new("w1", "scripted");
        agent.session = Some(record(&transcript, Confidence::High));
        agent.spawned_at = Some(now_rfc3339());
        std::thread::sleep(std::time::Duration::from_millis(5));
        let after = submitted(&messenger, "w1");
        let mut team: TeamState = serde_json::from_value(json!({
            "name": "t", "session_name": "t", "tmux_socket": "/nonexistent", "definition": "/nonexistent",
            "status": "running", "agents": {}
        }))
        .unwrap();
        // A fresh start's transcript is not the one the message went into: nothing moves.
        agent.launch_mode = Some(team_agent_plugin_api::LaunchMode::Fresh);
        team.agents.insert("w1".into(), agent.clone());
        assert_eq!(requeue_typed_before_start(&messenger, &team).unwrap(), 0);
        agent.launch_mode = Some(team_agent_plugin_api::LaunchMode::Resume {
            session_id: "s1".into(),
        });
        team.agents.insert("w1".into(), agent);
        assert_eq!(requeue_typed_before_start(&messenger, &team).unwrap(), 1);
        assert_eq!(requeue_typed_before_start(&messenger, &team).unwrap(), 0);
        let status = |id: &str| messenger.store.message(id).unwrap().unwrap().status;
        assert_eq!(status(&before), MessageStatus::Accepted);
        assert_eq!(
            status(&after),
            MessageStatus::Submitted,
            "typed into this CLI"
        );
    }
}
