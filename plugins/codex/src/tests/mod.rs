//! Unit tests of the Codex provider, called directly (the conformance test in `tests/` loads the
//! built library the way the host does).

mod approvals;
mod capture;
mod hooks;
mod launch;
mod screens;
mod turns;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::Codex;

/// The provider with the built-in rules only, whatever the developer's own config holds; one
/// for all tests, since compiling the rule book is the slow part.
fn codex() -> &'static Codex {
    static CODEX: OnceLock<Codex> = OnceLock::new();
    CODEX.get_or_init(|| Codex::with_rules(Codex::builtin_rules()))
}

/// A UUIDv7 session id minted at `at`, made distinct by `n`.
fn session_id(at: DateTime<Utc>, n: u64) -> String {
    let ms = at.timestamp_millis() as u64;
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        n & 0xfff,
        n & 0xfff,
        n
    )
}

/// A rollout as Codex 0.169.0 writes it (records cut down to the fields that matter, in the
/// real shapes): `session_meta`, `task_started`, the developer message carrying the worker's
/// instructions, the user's first message.
struct Rollout<'a> {
    id: String,
    cwd: &'a Path,
    started: DateTime<Utc>,
    instructions: Option<String>,
    first_message: &'a str,
}

impl<'a> Rollout<'a> {
    fn new(id: String, cwd: &'a Path, started: DateTime<Utc>) -> Self {
        Self {
            id,
            cwd,
            started,
            instructions: None,
            first_message: "say hello",
        }
    }

    fn for_worker(mut self, agent_id: &str) -> Self {
        self.instructions = Some(format!(
            "You are Team Agent worker `{agent_id}` (role: reviewer).\nUse the team tools."
        ));
        self
    }

    fn lines(&self) -> String {
        let ts = self
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut records = vec![
            json!({"timestamp": ts, "ordinal": 0, "type": "session_meta", "payload": {
                "session_id": self.id, "id": self.id, "timestamp": ts,
                "cwd": self.cwd, "originator": "codex-tui", "cli_version": "0.169.0",
                "base_instructions": {"text": "You are Codex, an agent based on GPT-6."}}}),
            json!({"timestamp": ts, "ordinal": 1, "type": "event_msg", "payload": {
                "type": "task_started", "turn_id": "t1"}}),
        ];
        if let Some(text) = &self.instructions {
            records.push(
                json!({"timestamp": ts, "ordinal": 2, "type": "response_item", "payload": {
                "type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": text}]}}),
            );
        }
        records.push(
            json!({"timestamp": ts, "ordinal": 3, "type": "response_item", "payload": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": self.first_message}]}}),
        );
        records.iter().map(|r| format!("{r}\n")).collect()
    }

    /// Writes it where Codex would, under `home`; returns the path.
    fn write(&self, home: &Path) -> PathBuf {
        let day = self.started.format("%Y/%m/%d").to_string();
        let dir = crate::rollout::sessions_dir(home).join(day);
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!(
            "rollout-{}-{}.jsonl",
            self.started.format("%Y-%m-%dT%H-%M-%S"),
            self.id
        );
        let path = dir.join(name);
        std::fs::write(&path, self.lines()).unwrap();
        path
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A fixture from `fixtures/` by file name.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
