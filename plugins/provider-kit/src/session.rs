/*! What finding a worker's session takes for every CLI that writes its sessions to files: the
window of time the session must have started in, comparing directories, session ids, and the
worker's identity marker in the session's first records.

Where a CLI keeps its sessions and how its records are shaped is the provider's own code; a
session is attributed only on positive signs (started in the worker's cwd within the window, not
another agent's, carrying the worker's own marker), never as "the newest file there".
*/

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use team_agent_plugin_api::{CaptureContext, PluginError};

use crate::rules::RuleBook;

/// When a session started by the spawn may have started: from a little before the host noted the
/// spawn (clocks, rounding) to a little after "now" (the host's clock was read before the CLI
/// wrote its file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnWindow {
    /// When the host noted the spawn.
    pub spawned: DateTime<Utc>,
    /// When the host asked.
    pub now: DateTime<Utc>,
}

impl SpawnWindow {
    const BEFORE_SPAWN: Duration = Duration::seconds(2);
    const AFTER_NOW: Duration = Duration::seconds(5);

    /// The window of a capture request; its times must be RFC 3339.
    pub fn of(context: &CaptureContext) -> Result<Self, PluginError> {
        Ok(Self {
            spawned: parse_time(&context.spawned_at, "spawned_at")?,
            now: parse_time(&context.now, "now")?,
        })
    }

    pub fn earliest(&self) -> DateTime<Utc> {
        self.spawned - Self::BEFORE_SPAWN
    }

    pub fn latest(&self) -> DateTime<Utc> {
        self.now + Self::AFTER_NOW
    }

    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        time >= self.earliest() && time <= self.latest()
    }
}

fn parse_time(text: &str, field: &str) -> Result<DateTime<Utc>, PluginError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            PluginError::invalid_request(format!("{field} {text:?} is not an RFC 3339 time: {e}"))
        })
}

/// The same directory, written the same way or resolving to the same place.
pub fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// A UUID as CLIs write session ids: `8-4-4-4-12` hex digits.
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The agents a record names by the book's `identity_marker` rules (their `agent` capture), in
/// the order they appear, each once. Whether a record counts (a user's message may quote another
/// worker's prompt) is for the caller to say.
pub fn identity_markers(record: &Value, book: &RuleBook) -> Vec<String> {
    let mut strings = Vec::new();
    collect_strings(record, &mut strings);
    let mut agents: Vec<String> = Vec::new();
    for text in strings {
        for rule in book.group("identity_marker") {
            if let Some(agent) = rule.captures(text).and_then(|c| c.get("agent").cloned())
                && !agents.contains(&agent)
            {
                agents.push(agent);
            }
        }
    }
    agents
}

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(spawned_at: &str, now: &str) -> CaptureContext {
        serde_json::from_value(json!({
            "agent_id": "w1", "cwd": "/w", "home": "/h",
            "spawned_at": spawned_at, "now": now,
        }))
        .unwrap()
    }

    #[test]
    fn the_window_has_slack_on_both_sides_and_wants_rfc3339_times() {
        let window =
            SpawnWindow::of(&context("2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z")).unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert!(window.contains(at("2026-01-01T09:59:58Z")));
        assert!(!window.contains(at("2026-01-01T09:59:57Z")));
        assert!(window.contains(at("2026-01-01T10:01:05Z")));
        assert!(!window.contains(at("2026-01-01T10:01:06Z")));
        let error = SpawnWindow::of(&context("yesterday", "2026-01-01T10:01:00Z")).unwrap_err();
        assert!(
            error
                .message
                .starts_with("spawned_at \"yesterday\" is not an RFC 3339 time"),
            "{error}"
        );
    }

    #[test]
    fn markers_are_found_anywhere_in_a_record_once_each() {
        let book = RuleBook::parse(
            "[[rules.identity_marker]]\nname = \"w\"\nregex = ['worker `(?P<agent>[^`]+)`']\n",
        )
        .unwrap();
        let record = json!({"a": ["worker `b`", {"c": "worker `a` and worker `b`"}], "n": 1});
        let mut found = identity_markers(&record, &book);
        found.sort();
        assert_eq!(found, ["a", "b"]);
        assert!(identity_markers(&json!({"x": "nobody"}), &book).is_empty());
    }

    #[test]
    fn session_ids_are_uuids() {
        assert!(is_uuid("4a082e59-7203-40ec-bf8a-cd3ea1a33c7e"));
        assert!(!is_uuid("4a082e59-7203-40ec-bf8a-cd3ea1a33c7"));
        assert!(!is_uuid("4a082e59x7203-40ec-bf8a-cd3ea1a33c7e"));
    }
}
