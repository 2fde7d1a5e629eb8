/*! The state of a Claude Code turn from the tail of its transcript: the last record a `turn`
rule knows decides (an assistant `stop_reason` of `end_turn` → idle, `tool_use` → working,
`[Request interrupted by user]` → interrupted, an API error message → error, …). Records a
`turn_ignored` rule knows (local slash commands, meta records) never decide, and neither does
metadata. Nothing known in the tail is `unknown`, never `idle`.

The last turn that ended is the last `turn_duration` record (Claude writes one when a turn
finishes; a turn that ends on an API error has none), with the last text the model wrote since
the prompt that started it.
*/

use serde_json::Value;
use team_agent_plugin_api::{EndedTurn, TurnState, TurnSummary, Verdict};
use team_agent_provider_kit::{RuleBook, records, text_at, turn_state_of};

pub fn state(book: &RuleBook, tail: &str) -> Verdict<TurnState> {
    turn_state_of(book, tail, Some("turn_ignored"))
}

pub fn summary(book: &RuleBook, tail: &str) -> TurnSummary {
    let verdict = state(book, tail);
    let mut text: Option<String> = None;
    let mut last_ended = None;
    for record in records(tail) {
        match record.get("type").and_then(Value::as_str) {
            Some("user") if is_prompt(book, &record) => text = None,
            Some("assistant") if record.get("isApiErrorMessage") != Some(&Value::Bool(true)) => {
                if let Some(said) = assistant_text(&record) {
                    text = Some(said);
                }
            }
            Some("system") if text_at(&record, "/subtype") == Some("turn_duration") => {
                if let (Some(id), Some(at)) =
                    (text_at(&record, "/uuid"), text_at(&record, "/timestamp"))
                {
                    last_ended = Some(EndedTurn {
                        id: id.to_string(),
                        ended_at: at.to_string(),
                        assistant_text: text.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    TurnSummary {
        state: verdict.value,
        rule: verdict.rule,
        last_ended,
    }
}

/// A user record that starts a turn: not a tool result, not metadata or a local command.
fn is_prompt(book: &RuleBook, record: &Value) -> bool {
    book.record_rule("turn_ignored", record).is_none()
        && text_at(record, "/message/content/0/type") != Some("tool_result")
}

/// The text blocks of an assistant record, joined.
fn assistant_text(record: &Value) -> Option<String> {
    let blocks = record.pointer("/message/content")?.as_array()?;
    let text: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .filter(|t| !t.trim().is_empty())
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}
