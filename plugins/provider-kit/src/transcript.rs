/*! Reading the tail of a CLI's JSON Lines transcript: the records in it, and the turn state the
last record a `turn` rule knows gives. A tail may start in the middle of a line and may hold
lines from a newer CLI that do not parse; those are skipped, never an error.
*/

use serde_json::Value;
use team_agent_plugin_api::{TurnState, Verdict};

use crate::checks::turn_state;
use crate::rules::RuleBook;

/// The records of a transcript tail, oldest first (iterate with `.rev()` for newest first).
pub fn records(tail: &str) -> impl DoubleEndedIterator<Item = Value> + '_ {
    tail.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
}

/// The state of the current turn: the newest record a `turn` rule knows decides; records a
/// `turn_ignored` rule knows (metadata, local commands) are passed over, in a book that has such
/// rules. Nothing known is `unknown`, never `idle`.
pub fn turn_state_of(book: &RuleBook, tail: &str) -> Verdict<TurnState> {
    for record in records(tail).rev() {
        if book.record_rule("turn_ignored", &record).is_some() {
            continue;
        }
        if let Some(rule) = book.record_rule("turn", &record) {
            let state = turn_state(rule.state().unwrap_or_default()).unwrap_or(TurnState::Unknown);
            return Verdict::by_rule(state, book.label(&rule.label()));
        }
    }
    Verdict::by_rule(TurnState::Unknown, book.label("no_turn_record"))
}

/// The string at `pointer` in `record`, if it is a non-empty string.
pub fn text_at<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
    record
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_first_line_and_foreign_lines_are_skipped() {
        let tail = "ype\":\"x\"}\n{\"a\":1}\nnot json\n{\"b\":\n{\"c\":3}\n";
        let found: Vec<Value> = records(tail).collect();
        assert_eq!(
            found,
            [serde_json::json!({"a": 1}), serde_json::json!({"c": 3})]
        );
    }

    #[test]
    fn text_at_wants_a_non_empty_string() {
        let record = serde_json::json!({"p": {"t": "hi", "e": " ", "n": 1}});
        assert_eq!(text_at(&record, "/p/t"), Some("hi"));
        assert_eq!(text_at(&record, "/p/e"), None);
        assert_eq!(text_at(&record, "/p/n"), None);
        assert_eq!(text_at(&record, "/q"), None);
    }
}
