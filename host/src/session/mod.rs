//! A worker's provider session, and what the session is given: finding the session a CLI writes
//! (the capture context a provider judges it from), recording it on the agent, and the team's
//! MCP server as the worker sees it. Both starting a worker (`lifecycle`) and the coordinator's
//! later captures (`daemon`) use it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use team_agent_plugin_api::loader::ProviderClient;
use team_agent_plugin_api::{CaptureContext, SessionRecord};

use crate::events::{EventLog, now_rfc3339};
use crate::state::{AgentState, CaptureState};

/// The name of the team's MCP server as workers see it (tool names derive from it).
pub const MCP_SERVER_NAME: &str = "team";

/// The last `n` non-empty lines of a screen.
pub fn last_lines(screen: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = screen
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// How long after spawning `capture_session_id` is polled (the coordinator keeps trying later).
pub const CAPTURE_BOUND: Duration = Duration::from_millis(1500);
const CAPTURE_POLL: Duration = Duration::from_millis(50);

/// The capture context for an agent.
pub fn capture_context(state: &AgentState, owned_by_others: Vec<String>) -> CaptureContext {
    CaptureContext {
        agent_id: state.id.clone(),
        cwd: state.spawn_cwd.clone().unwrap_or_default(),
        spawned_at: state.spawned_at.clone().unwrap_or_default(),
        now: now_rfc3339(),
        expected_session_id: state.expected_session_id.clone(),
        owned_by_others,
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
        forked_from: state.forked_from.clone(),
    }
}

/// Records a captured session on an agent (and says so in the event log).
pub fn record_session(state: &mut AgentState, record: SessionRecord, events: &EventLog) {
    events.emit(
        "session.captured",
        json!({"agent_id": state.id, "session_id": record.session_id, "transcript_path": record.transcript_path,
               "attributed_by": record.attributed_by, "confidence": record.confidence}),
    );
    state.session = Some(record);
    state.captured_at = Some(now_rfc3339());
    state.capture_state = CaptureState::Captured;
}

/// Polls the provider for the worker's session for up to `bound`.
pub fn capture_session(
    provider: &ProviderClient<'_>,
    state: &mut AgentState,
    owned_by_others: Vec<String>,
    bound: Duration,
    events: &EventLog,
) {
    if state.session.is_some() {
        return;
    }
    let started = Instant::now();
    loop {
        if let Ok(Some(record)) =
            provider.capture_session_id(&capture_context(state, owned_by_others.clone()))
        {
            record_session(state, record, events);
            return;
        }
        if started.elapsed() >= bound {
            break;
        }
        std::thread::sleep(CAPTURE_POLL);
    }
    let preassigned = provider
        .manifest()
        .map(|m| m.capabilities.preassigned_session_id)
        .unwrap_or(false);
    state.capture_state = if preassigned {
        CaptureState::Pending
    } else {
        CaptureState::PendingFirstTurn
    };
}

/// The last `max` bytes of a file (a transcript tail; never the whole file), as text.
pub fn read_tail(path: &Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.seek(SeekFrom::End(0)).ok()?;
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
