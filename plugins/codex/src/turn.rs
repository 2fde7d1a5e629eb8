/*! The state of a Codex turn from the tail of its rollout: the last record a `turn` rule knows
decides (`task_started` → working, `task_complete` → idle, or error when it carries one,
`turn_aborted` → interrupted, …). Nothing known in the tail is `unknown`, never `idle`.

The last turn that ended is the last `task_complete` without an error; Codex records the turn's
id and the model's last message in it.
*/

use team_agent_plugin_api::{EndedTurn, TurnState, TurnSummary, Verdict};
use team_agent_provider_kit::{RuleBook, records, text_at, turn_state_of};

pub fn state(book: &RuleBook, tail: &str) -> Verdict<TurnState> {
    turn_state_of(book, tail, None)
}

pub fn summary(book: &RuleBook, tail: &str) -> TurnSummary {
    let verdict = state(book, tail);
    let last_ended = records(tail)
        .filter(|r| {
            text_at(r, "/type") == Some("event_msg")
                && text_at(r, "/payload/type") == Some("task_complete")
                && r.pointer("/payload/error").is_none_or(|e| e.is_null())
        })
        .filter_map(|r| {
            Some(EndedTurn {
                id: text_at(&r, "/payload/turn_id")?.to_string(),
                ended_at: text_at(&r, "/timestamp")?.to_string(),
                assistant_text: text_at(&r, "/payload/last_agent_message").map(str::to_string),
            })
        })
        .next_back();
    TurnSummary {
        state: verdict.value,
        rule: verdict.rule,
        last_ended,
    }
}
