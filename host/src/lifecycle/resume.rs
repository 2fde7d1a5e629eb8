//! Whether a worker's session can be resumed, and what a resumed worker keeps of its previous
//! record: the judgement `restart` and `start-agent` share.

use serde_json::json;
use team_agent_plugin_api::{LaunchMode, ResumeCheck};

use super::Context;
use crate::spec::LoadedSpec;
use crate::state::AgentState;
pub(super) use crate::state::FirstSend;

/// `first_send_at` as recorded (never, when no record).
pub(super) fn first_send(agent: Option<&AgentState>) -> FirstSend {
    agent.map(|a| a.first_send_at.clone()).unwrap_or_default()
}

/// Whether an agent's recorded session can be resumed now, why not, and its id. A session the
/// provider wrote after the last capture attempt is looked for once more first.
pub(super) fn resumability(
    ctx: &Context<'_>,
    provider: &team_agent_plugin_api::loader::ProviderClient<'_>,
    spec: &LoadedSpec,
    agent: &crate::spec::Agent,
    previous: Option<&AgentState>,
) -> (bool, Option<&'static str>, Option<String>) {
    let Some(previous) = previous else {
        return (false, Some("no_persisted_session_id"), None);
    };
    let mut record = previous.session.clone();
    if record.is_none() && previous.spawned_at.is_some() {
        let others: Vec<String> = Vec::new();
        record = provider
            .capture_session_id(&crate::session::capture_context(previous, others))
            .ok()
            .flatten();
        if let Some(r) = &record {
            ctx.events.emit(
                "session.captured",
                json!({"agent_id": agent.id, "session_id": r.session_id, "during": "restart"}),
            );
        }
    }
    let session_id = record.as_ref().map(|r| r.session_id.clone());
    let check = ResumeCheck {
        agent_id: agent.id.clone(),
        cwd: previous
            .spawn_cwd
            .clone()
            .unwrap_or_else(|| spec.working_directory(agent)),
        home: std::env::var_os("HOME").map(Into::into).unwrap_or_default(),
        record,
    };
    match provider.session_is_resumable(&check) {
        Ok(r) if r.resumable => (true, None, session_id),
        Ok(r) => (
            false,
            Some(
                r.blocker
                    .map(|b| b.as_str())
                    .unwrap_or("session_unresumable"),
            ),
            session_id,
        ),
        Err(_) => (false, Some("session_unresumable"), session_id),
    }
}

/// What a resumed worker keeps of its previous record: when it was first given work, and its
/// session when the resumed CLI has not been captured yet. A fresh start keeps neither.
pub(super) fn carry_over(state: &mut AgentState, previous: &AgentState, mode: &LaunchMode) {
    if matches!(mode, LaunchMode::Resume { .. }) {
        state.first_send_at = previous.first_send_at.clone();
        if state.session.is_none() {
            state.session = previous.session.clone();
            state.capture_state = previous.capture_state;
        }
    }
}

/// What the worker's previous CLI was typed and never took goes back to the queue, for the CLI
/// starting now (a failure to look is said in the event log: those messages then wait for the
/// consume timeout's retry).
pub(super) fn requeue_untaken(ctx: &Context<'_>, team: &str, previous: &AgentState) {
    if let Err(e) = crate::messaging::requeue_untaken(ctx.workspace, &ctx.events, team, previous) {
        ctx.events.emit(
            "send.requeue_failed",
            json!({"agent_id": previous.id, "error": e.to_string()}),
        );
    }
}
