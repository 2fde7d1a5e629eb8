/*! The state of a Codex turn from the tail of its rollout: the last record a `turn` rule knows
decides (`task_started` → working, `task_complete` → idle, `turn_aborted` → interrupted, …).
The tail may start in the middle of a line and may hold lines from a newer Codex that do not
parse; those are skipped. Nothing known in the tail is `unknown`, never `idle`.
*/

use serde_json::Value;
use team_agent_plugin_api::{TurnState, Verdict};
use team_agent_provider_kit::RuleBook;

pub fn state(book: &RuleBook, tail: &str) -> Verdict<TurnState> {
    for line in tail.lines().rev() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(rule) = book.record_rule("turn", &record) {
            let state = team_agent_provider_kit::turn_state(rule.state().unwrap_or_default())
                .unwrap_or(TurnState::Unknown);
            return Verdict::by_rule(state, book.label(&rule.label()));
        }
    }
    Verdict::by_rule(TurnState::Unknown, book.label("no_turn_record"))
}
