//! The Claude persona's session transcript, in Claude Code 2.1.330's format and place:
//! `HOME/.claude/projects/<cwd with every non-alphanumeric character as '-'>/<id>.jsonl`,
//! created at the first message. A fresh session starts with `mode` and `permission-mode`
//! records, then each prompt is a `user` record (the first followed by the `prompt_snapshot`
//! attachment holding the system prompt), each answer an `assistant` record with `stop_reason`
//! `end_turn` and a `last-prompt` record. A forked session starts with the source's records,
//! rewritten to the new session id, as Claude does.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::ids;
use crate::session_file::{self, Exchange};

const VERSION: &str = "2.1.330";
/// The start of Claude's own system prompt, before what `--append-system-prompt` adds.
const DEFAULT_SYSTEM_PROMPT: &str = "\nYou are an agent working with the user toward their goals, using your own judgment along the way.";

/// Where Claude keeps the transcript of session `id` started in `cwd`.
pub fn path_for(home: &Path, cwd: &str, id: &str) -> PathBuf {
    let encoded: String = cwd
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    home.join(".claude")
        .join("projects")
        .join(encoded)
        .join(format!("{id}.jsonl"))
}

pub struct Transcript {
    path: PathBuf,
    session_id: String,
    cwd: String,
    permission_mode: String,
    system_prompt: Option<String>,
    /// The source's records of a fork, written with this session's id when the file is made.
    inherited: Vec<Value>,
    last_uuid: Option<String>,
}

impl Transcript {
    pub fn fresh(
        home: &Path,
        cwd: &str,
        id: &str,
        permission_mode: &str,
        system_prompt: Option<String>,
    ) -> Self {
        Self {
            path: path_for(home, cwd, id),
            session_id: id.to_string(),
            cwd: cwd.to_string(),
            permission_mode: permission_mode.to_string(),
            system_prompt,
            inherited: Vec::new(),
            last_uuid: None,
        }
    }

    /// Goes on writing an existing transcript.
    pub fn resumed(path: PathBuf, cwd: &str, id: &str, permission_mode: &str) -> Self {
        let last_uuid = last_uuid(&session_file::read(&path));
        Self {
            path,
            session_id: id.to_string(),
            cwd: cwd.to_string(),
            permission_mode: permission_mode.to_string(),
            system_prompt: None,
            inherited: Vec::new(),
            last_uuid,
        }
    }

    /// A new session `id` that starts with the records of the transcript at `source`.
    pub fn forked(source: &Path, home: &Path, cwd: &str, id: &str, permission_mode: &str) -> Self {
        let inherited: Vec<Value> = session_file::read(source)
            .into_iter()
            .map(|mut record| {
                if record.get("sessionId").is_some() {
                    record["sessionId"] = json!(id);
                }
                record
            })
            .collect();
        Self {
            last_uuid: last_uuid(&inherited),
            inherited,
            ..Self::fresh(home, cwd, id, permission_mode, None)
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
            match (record["type"].as_str(), &record["message"]["content"]) {
                (Some("user"), Value::String(prompt)) if record["isMeta"] != true => {
                    history.push(Exchange {
                        prompt: prompt.clone(),
                        reply: Vec::new(),
                    });
                }
                (Some("assistant"), Value::Array(blocks)) => {
                    if let Some(last) = history.last_mut() {
                        last.reply.extend(
                            blocks
                                .iter()
                                .filter_map(|b| b["text"].as_str().map(str::to_string)),
                        );
                    }
                }
                _ => {}
            }
        }
        history
    }

    /// Records a prompt, creating the file at the first one.
    pub fn prompt(&mut self, text: &str) {
        let first = !self.exists();
        // A fresh session records its system prompt with the first prompt; a fork inherits the
        // source's record of it.
        let records_prompt = first && self.inherited.is_empty();
        if first {
            let opening: Vec<Value> = if self.inherited.is_empty() {
                vec![
                    json!({"type": "mode", "mode": "normal", "sessionId": self.session_id}),
                    json!({"type": "permission-mode", "permissionMode": self.permission_mode, "sessionId": self.session_id}),
                ]
            } else {
                std::mem::take(&mut self.inherited)
            };
            self.write(&opening);
        }
        let prompt = self.conversation_record(json!({
            "promptId": ids::uuid_v4(),
            "type": "user",
            "message": {"role": "user", "content": text},
            "permissionMode": self.permission_mode,
            "origin": {"kind": "human"},
        }));
        let mut written = vec![prompt];
        if records_prompt {
            let mut snapshot = vec![DEFAULT_SYSTEM_PROMPT.to_string()];
            snapshot.extend(self.system_prompt.clone());
            written.push(self.conversation_record(json!({
                "type": "attachment",
                "attachment": {"type": "prompt_snapshot", "systemPrompt": snapshot, "contextRendering": "announced"},
            })));
        }
        self.write(&written);
    }

    /// Records the answer to the last prompt.
    pub fn reply(&mut self, lines: &[String], prompt: &str) {
        let answer = self.conversation_record(json!({
            "type": "assistant",
            "message": {
                "id": format!("msg_{}", ids::uuid_v4().replace('-', "")),
                "model": "claude-opus-5-5",
                "role": "assistant",
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "type": "message",
                "usage": {"input_tokens": prompt.len() / 4 + 1, "output_tokens": lines.len() * 8},
                "content": [{"type": "text", "text": lines.join("\n")}],
            },
            "requestId": format!("req_{}", ids::uuid_v4().replace('-', "")),
        }));
        let leaf = answer["uuid"].clone();
        self.write(&[
            answer,
            json!({"type": "last-prompt", "lastPrompt": prompt, "leafUuid": leaf, "sessionId": self.session_id}),
        ]);
    }

    /// Records that the user stopped the turn with Escape.
    pub fn interrupted(&mut self) {
        let record = self.conversation_record(json!({
            "type": "user",
            "message": {"role": "user", "content": [{"type": "text", "text": "[Request interrupted by user]"}]},
        }));
        self.write(&[record]);
    }

    /// `fields` with the envelope every conversation record carries, chained to the last one.
    fn conversation_record(&mut self, fields: Value) -> Value {
        let uuid = ids::uuid_v4();
        let mut record = json!({
            "parentUuid": self.last_uuid,
            "isSidechain": false,
            "uuid": uuid,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "userType": "external",
            "entrypoint": "cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
        });
        if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), fields) {
            record.extend(fields);
        }
        self.last_uuid = Some(uuid);
        record
    }

    fn write(&self, records: &[Value]) {
        session_file::append(&self.path, records);
    }
}

/// The uuid of the last conversation record, which the next one chains to.
fn last_uuid(records: &[Value]) -> Option<String> {
    records
        .iter()
        .rev()
        .find_map(|r| r["uuid"].as_str().map(str::to_string))
}
