//! A worker's turns as its own transcript tells them: the provider reads the transcript's tail
//! (its current turn, the last turn that ended) each time the file changed, never otherwise, so
//! an unchanged transcript costs one `stat` per tick.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use team_agent_plugin_api::TurnSummary;
use team_agent_plugin_api::loader::ProviderClient;

use crate::state::AgentState;

/// How much of a transcript's end is read (a turn's records are far smaller).
const TAIL_BYTES: u64 = 128 * 1024;

/// What was last read of each transcript, and which providers judge turns from transcripts.
#[derive(Default)]
pub struct TurnReader {
    stamps: HashMap<PathBuf, (u64, Option<SystemTime>)>,
    reads_transcripts: HashMap<String, bool>,
}

impl TurnReader {
    /// The worker's turns, when its transcript changed since the last read (`None`: unchanged,
    /// not there yet, or a provider that does not read turns from transcripts).
    pub fn changed(
        &mut self,
        agent: &AgentState,
        provider: &ProviderClient<'_>,
    ) -> Option<TurnSummary> {
        let reads = *self
            .reads_transcripts
            .entry(agent.provider.clone())
            .or_insert_with(|| {
                provider
                    .manifest()
                    .is_ok_and(|m| m.capabilities.transcript_turn_state)
            });
        let path = agent.session.as_ref()?.transcript_path.as_ref()?;
        if !reads {
            return None;
        }
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.len(), meta.modified().ok());
        if self.stamps.get(path) == Some(&stamp) {
            return None;
        }
        let tail = crate::session::read_tail(path, TAIL_BYTES)?;
        // A plugin that predates `turn_summary` still knows the state.
        let summary = provider.turn_summary(&tail).or_else(|_| {
            provider.turn_state(&tail).map(|v| TurnSummary {
                state: v.value,
                rule: v.rule,
                last_ended: None,
            })
        });
        let summary = summary.ok()?;
        self.stamps.insert(path.clone(), stamp);
        Some(summary)
    }
}
