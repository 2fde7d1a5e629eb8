//! The Codex persona's session file ("rollout"), in Codex 0.169.0's format and place:
//! `HOME/.codex/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<uuid v7>.jsonl` (local time of
//! the session's start), created at the first message. Every line is `{timestamp, ordinal, type,
//! payload}`; the first is the `session_meta` (id, cwd, start time), then each turn is an
//! `event_msg` `task_started`, the developer instructions (first turn only), the user's message,
//! the answer, and `task_complete` (or `turn_aborted` when interrupted).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde_json::{Value, json};

use crate::ids;
use crate::session_file::{self, Exchange};

const CLI_VERSION: &str = "0.169.0";

/// Where Codex keeps the rollouts of a `HOME`.
fn sessions_dir(home: &Path) -> PathBuf {
    home.join(".codex").join("sessions")
}

/// The rollout of session `id`, in any day directory.
pub fn find(home: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{id}.jsonl");
    let subdirs = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    for year in subdirs(&sessions_dir(home)) {
        for month in subdirs(&year) {
            for day in subdirs(&month) {
                let found = subdirs(&day).into_iter().find(|file| {
                    file.file_name()
                        .is_some_and(|n| n.to_string_lossy().ends_with(&suffix))
                });
                if found.is_some() {
                    return found;
                }
            }
        }
    }
    None
}

pub struct Rollout {
    path: PathBuf,
    session_id: String,
    cwd: String,
    started: DateTime<Utc>,
    instructions: Option<String>,
    /// The source's records of a fork, written after this session's header when it is made.
    inherited: Vec<Value>,
    ordinal: u64,
    turn_id: String,
}

impl Rollout {
    pub fn fresh(
        home: &Path,
        cwd: &str,
        started: DateTime<Utc>,
        instructions: Option<String>,
    ) -> Self {
        let session_id = ids::uuid_v7(started.timestamp_millis());
        let local = started.with_timezone(&Local);
        let path = sessions_dir(home)
            .join(local.format("%Y/%m/%d").to_string())
            .join(format!(
                "rollout-{}-{session_id}.jsonl",
                local.format("%Y-%m-%dT%H-%M-%S")
            ));
        Self {
            path,
            session_id,
            cwd: cwd.to_string(),
            started,
            instructions,
            inherited: Vec::new(),
            ordinal: 0,
            turn_id: String::new(),
        }
    }

    /// Goes on writing the rollout at `path` (a resume keeps the session's id and file).
    pub fn resumed(path: PathBuf, id: &str, cwd: &str) -> Self {
        let records = session_file::read(&path);
        Self {
            ordinal: records.len() as u64,
            path,
            session_id: id.to_string(),
            cwd: cwd.to_string(),
            started: Utc::now(),
            instructions: None,
            inherited: Vec::new(),
            turn_id: String::new(),
        }
    }

    /// A new session that carries the conversation of the rollout at `source`.
    pub fn forked(
        source: &Path,
        home: &Path,
        cwd: &str,
        started: DateTime<Utc>,
        instructions: Option<String>,
    ) -> Self {
        let inherited = session_file::read(source)
            .into_iter()
            .filter(|r| r["type"] != "session_meta")
            .collect();
        Self {
            inherited,
            ..Self::fresh(home, cwd, started, instructions)
        }
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn exists(&self) -> bool {
        self.path.is_file()
    }

    /// The exchanges already in the session (a resume or a fork shows them).
    pub fn history(&self) -> Vec<Exchange> {
        let records = if self.exists() {
            session_file::read(&self.path)
        } else {
            self.inherited.clone()
        };
        let mut history: Vec<Exchange> = Vec::new();
        for record in records {
            let payload = &record["payload"];
            if record["type"] != "response_item" || payload["type"] != "message" {
                continue;
            }
            let text = payload["content"][0]["text"].as_str().unwrap_or_default();
            match payload["role"].as_str() {
                Some("user") => history.push(Exchange {
                    prompt: text.to_string(),
                    reply: Vec::new(),
                }),
                Some("assistant") => {
                    if let Some(last) = history.last_mut() {
                        last.reply.extend(text.lines().map(str::to_string));
                    }
                }
                _ => {}
            }
        }
        history
    }

    /// Starts a turn for `message`, creating the file at the first one.
    pub fn task_started(&mut self, message: &str) {
        let first = !self.exists();
        self.turn_id = ids::uuid_v7(Utc::now().timestamp_millis());
        let mut records = Vec::new();
        if first {
            let started = self
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            records.push(self.record(
                "session_meta",
                json!({
                    "session_id": self.session_id, "id": self.session_id, "timestamp": started,
                    "cwd": self.cwd, "originator": "codex-tui", "cli_version": CLI_VERSION,
                    "base_instructions": {"text": "You are Codex, an agent based on GPT-6."},
                }),
            ));
            for inherited in std::mem::take(&mut self.inherited) {
                records.push(self.record(
                    inherited["type"].as_str().unwrap_or("event_msg"),
                    inherited["payload"].clone(),
                ));
            }
        }
        records.push(self.record(
            "event_msg",
            json!({"type": "task_started", "turn_id": self.turn_id}),
        ));
        if first && let Some(text) = self.instructions.clone() {
            records.push(self.message("developer", "input_text", &text));
        }
        records.push(self.message("user", "input_text", message));
        self.write(&records);
    }

    /// Ends the turn with an answer.
    pub fn task_complete(&mut self, reply: &[String]) {
        let text = reply.join("\n");
        let records = [
            self.message("assistant", "output_text", &text),
            self.record(
                "event_msg",
                json!({"type": "task_complete", "turn_id": self.turn_id, "last_agent_message": text}),
            ),
        ];
        self.write(&records);
    }

    /// Ends the turn because the user pressed Escape.
    pub fn turn_aborted(&mut self) {
        let record = self.record(
            "event_msg",
            json!({"type": "turn_aborted", "turn_id": self.turn_id, "reason": "interrupted"}),
        );
        self.write(&[record]);
    }

    fn message(&mut self, role: &str, kind: &str, text: &str) -> Value {
        self.record(
            "response_item",
            json!({"type": "message", "role": role, "content": [{"type": kind, "text": text}]}),
        )
    }

    fn record(&mut self, kind: &str, payload: Value) -> Value {
        let record = json!({
            "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "ordinal": self.ordinal,
            "type": kind,
            "payload": payload,
        });
        self.ordinal += 1;
        record
    }

    fn write(&self, records: &[Value]) {
        session_file::append(&self.path, records);
    }
}
