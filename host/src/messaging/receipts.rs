//! Delivery receipts past `submitted`: a message is `consumed` once the recipient's CLI took it,
//! which its transcript shows (the message's token in a user turn: a CLI records what it was
//! given before it answers). Checked by the coordinator at every tick for what was submitted and
//! not yet taken, and by `send --wait consumed` while it waits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::json;

use super::deliver::file_contains;
use super::render::{TOKEN_PREFIX, token_line};
use super::{MessagingError, Messenger};
use crate::events::{EventLog, now_rfc3339};
use crate::state::{AgentState, TeamState};
use crate::store::{Message, MessageStatus, Store};
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

/// Gives back to the queue what a worker's previous CLI was typed and its session did not keep:
/// each message submitted to it, or taken by it (a prompt hook can run just before the CLI is
/// killed, its transcript line never written), whose token the transcript of `previous` (the
/// worker's record before this start) does not hold. Called as the worker starts again, before
/// its new CLI is recorded, so they reach the new CLI in their order. Only once that process is
/// gone (its transcript is final), when its transcript is known, and, for one taken, when that
/// transcript records tokens at all (it holds one: else a taken message would look lost); how
/// many went back.
pub fn requeue_untaken(
    workspace: &Workspace,
    events: &EventLog,
    team: &str,
    previous: &AgentState,
) -> Result<usize, MessagingError> {
    let (Some(transcript), Some(spawned_at)) = (
        previous
            .session
            .as_ref()
            .and_then(|s| s.transcript_path.as_deref()),
        previous.spawned_at.as_deref(),
    ) else {
        return Ok(0);
    };
    if previous.pane_pid.is_some_and(crate::process::alive) {
        return Ok(0);
    }
    let store = Store::open(workspace)?;
    let typed = store.typed_since(team, &previous.id, spawned_at)?;
    if typed.is_empty() {
        return Ok(0);
    }
    let kept = crate::session::read_tail(transcript, TRANSCRIPT_TAIL).unwrap_or_default();
    let records_tokens = kept.contains(TOKEN_PREFIX);
    let mut requeued = 0;
    for message in typed {
        let taken = message.status == MessageStatus::Consumed;
        if (taken && !records_tokens) || kept.contains(&token_line(&message.message_id)) {
            continue;
        }
        if give_back(&store, events, &message)? {
            requeued += 1;
        }
    }
    Ok(requeued)
}

/// How much of an ended CLI's transcript is searched for what it kept.
const TRANSCRIPT_TAIL: u64 = 32 * 1024 * 1024;

/// The tick's side of [`requeue_untaken`], for a deliverer that recorded its message only after
/// the recipient had started again (it pressed the submit keys as the old CLI was being
/// stopped): whether `message`, submitted to `agent`, went into the CLI before the one running
/// now, which is gone, and its session does not hold it. Only for a resumed worker, whose
/// transcript is the one the message was typed into.
pub(super) fn typed_before_start(agent: &AgentState, message: &Message) -> bool {
    let moment = |at: Option<&str>| at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
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
    let transcript = agent
        .session
        .as_ref()
        .and_then(|s| s.transcript_path.as_deref());
    resumed
        && before
        && transcript.is_some_and(|t| !file_contains(t, token_line(&message.message_id).as_bytes()))
}

/// Puts `message` back in the queue; whether this call did.
pub(super) fn give_back(
    store: &Store,
    events: &EventLog,
    message: &Message,
) -> Result<bool, MessagingError> {
    if !store.requeue(&message.message_id)? {
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

    /// A workspace in a fresh temporary directory (which lives as long as the first value).
    fn scratch() -> (tempfile::TempDir, Workspace, Registry) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let workspace = Workspace::resolve(Some(dir.path())).unwrap();
        (dir, workspace, Registry::load_from(&[]))
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
        // Claimed, its submit keys pressed, recorded: as a deliverer does it.
        let pid = std::process::id();
        assert!(
            messenger
                .store
                .claim(&message.message_id, pid, None)
                .unwrap()
                .is_some()
        );
        let at = now_rfc3339();
        messenger
            .store
            .mark_submit_sent(&message.message_id, pid, &at)
            .unwrap();
        messenger
            .store
            .mark_submitted(&message.message_id, true, &at)
            .unwrap();
        message.message_id
    }

    #[test]
    fn a_circumstantial_session_is_an_agents_only_once_it_holds_a_message_sent_to_it() {
        let (dir, workspace, registry) = scratch();
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
    fn what_an_ended_cli_never_kept_goes_back_to_the_queue_and_what_it_kept_stays() {
        let (dir, workspace, registry) = scratch();
        let messenger = Messenger::open(&workspace, &registry).unwrap();
        let events = EventLog::new(&workspace);
        // Taken by the CLI before this one: not this CLI's to keep.
        let long_ago = submitted(&messenger, "w1");
        messenger
            .store
            .mark_consumed(&long_ago, &now_rfc3339())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut previous = AgentState::new("w1", "scripted");
        previous.spawned_at = Some(now_rfc3339());
        let kept = submitted(&messenger, "w1");
        let lost = submitted(&messenger, "w1");
        // Its prompt hook ran, then the CLI was killed before it wrote the prompt down.
        let hooked = submitted(&messenger, "w1");
        messenger
            .store
            .mark_consumed(&hooked, &now_rfc3339())
            .unwrap();
        let elsewhere = submitted(&messenger, "w2");
        let transcript = dir.path().join("w1.jsonl");
        std::fs::write(&transcript, format!("{}\n", token_line(&kept))).unwrap();
        previous.session = Some(record(&transcript, Confidence::High));
        // Its CLI still runs (this very process stands in for it): it may take them yet.
        previous.pane_pid = Some(std::process::id());
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            0
        );
        // Gone: what its session lacks goes back, once.
        previous.pane_pid = None;
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            2
        );
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &previous).unwrap(),
            0
        );
        let status = |id: &str| messenger.store.message(id).unwrap().unwrap().status;
        assert_eq!(status(&lost), MessageStatus::Accepted);
        assert_eq!(status(&hooked), MessageStatus::Accepted);
        assert_eq!(status(&kept), MessageStatus::Submitted);
        assert_eq!(status(&long_ago), MessageStatus::Consumed);
        assert_eq!(status(&elsewhere), MessageStatus::Submitted);
        // The ended CLI's late prompt hook does not take what went back to the queue.
        let prompt = format!("hello\n{}", token_line(&lost));
        assert_eq!(note_prompts(&messenger, "t", "w1", &[&prompt]).unwrap(), 0);
        assert_eq!(status(&lost), MessageStatus::Accepted);
        // A transcript that records no token at all proves nothing about what was taken.
        let silent = dir.path().join("silent.jsonl");
        std::fs::write(&silent, "{}\n").unwrap();
        let taken = submitted(&messenger, "w3");
        messenger
            .store
            .mark_consumed(&taken, &now_rfc3339())
            .unwrap();
        let mut other = previous.clone();
        other.id = "w3".into();
        other.session = Some(record(&silent, Confidence::High));
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &other).unwrap(),
            0
        );
        // Without a transcript nothing tells: nothing moves.
        let _ = submitted(&messenger, "w4");
        let mut blind = AgentState::new("w4", "scripted");
        blind.spawned_at = previous.spawned_at.clone();
        assert_eq!(
            requeue_untaken(&workspace, &events, "t", &blind).unwrap(),
            0
        );
    }

    #[test]
    fn a_message_recorded_after_its_recipient_resumed_but_typed_before_goes_back_once() {
        let (dir, workspace, registry) = scratch();
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
        // The tick's pass over what waits to be taken (the consume timeout far away).
        let tick = |team: &TeamState| {
            super::super::bounce_untaken(&messenger, team, std::time::Duration::from_secs(600))
                .unwrap()
        };
        let requeued = || {
            let log = std::fs::read_to_string(workspace.logs_dir().join("events.jsonl"))
                .unwrap_or_default();
            log.matches("\"send.requeued\"").count()
        };
        let status = |id: &str| messenger.store.message(id).unwrap().unwrap().status;
        // A fresh start's transcript is not the one the message went into: nothing moves.
        agent.launch_mode = Some(team_agent_plugin_api::LaunchMode::Fresh);
        team.agents.insert("w1".into(), agent.clone());
        tick(&team);
        assert_eq!(requeued(), 0);
        assert_eq!(status(&before), MessageStatus::Submitted);
        agent.launch_mode = Some(team_agent_plugin_api::LaunchMode::Resume {
            session_id: "s1".into(),
        });
        team.agents.insert("w1".into(), agent);
        tick(&team);
        assert_eq!(requeued(), 1);
        tick(&team);
        assert_eq!(requeued(), 1, "once");
        assert_eq!(status(&before), MessageStatus::Accepted);
        assert_eq!(
            status(&after),
            MessageStatus::Submitted,
            "typed into this CLI"
        );
    }
}
