/*! Gemini CLI's session files: where they are, what their first line says about the session, and
the last turn that ended.

Gemini 0.61.0 keeps one JSON Lines file per session in its home,
`.gemini/tmp/<project>/chats/session-<start time>-<first 8 characters of the id>.jsonl`, where
`<project>` is a short name it gives the directory (its basename, made unique in
`.gemini/projects.json`). The file is created when the session starts: a first line of metadata
(`sessionId`, `projectHash` = SHA-256 of the directory, `startTime`, `kind`), then one record per
message (`type` `user` with `content` parts, text or a `functionResponse`; `gemini` with
`content` text and, for a call, `toolCalls`; `info`, `error`), and `{"$set": …}` updates between
them. A record of a message Gemini is still adding to (a reply that calls a tool) is written
again whole with the same `id`.
*/

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use team_agent_plugin_api::EndedTurn;
use team_agent_provider_kit::{RuleBook, records, text_at};

/// Bounds on one scan: project directories listed, bytes and lines read of a session file.
const MAX_PROJECT_DIRS: usize = 256;
const HEAD_BYTES: u64 = 4 * 1024 * 1024;
const HEAD_LINES: usize = 4096;

/// Where Gemini keeps its per-project directories in a Gemini home.
pub fn project_root(gemini_home: &Path) -> PathBuf {
    gemini_home.join(".gemini").join("tmp")
}

/// The `projectHash` Gemini writes for a session started in `cwd`.
pub fn project_hash(cwd: &Path) -> String {
    let digest = Sha256::digest(cwd.to_string_lossy().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The session file of `id` in a Gemini home, found by its name and confirmed by its first line.
pub fn find(gemini_home: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{}.jsonl", id.get(..8)?);
    std::fs::read_dir(project_root(gemini_home))
        .ok()?
        .filter_map(Result::ok)
        .take(MAX_PROJECT_DIRS)
        .filter_map(|project| std::fs::read_dir(project.path().join("chats")).ok())
        .flat_map(|chats| chats.filter_map(Result::ok))
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("session-") && name.ends_with(&suffix))
        })
        .find(|path| read_head(path).is_some_and(|head| head.session_id == id))
}

/// What a session file says about its session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub session_id: String,
    /// SHA-256 of the directory the session runs in.
    pub project_hash: String,
    /// Whether it holds a message Gemini would resume (a prompt of the user's, or a reply): a
    /// session that holds only Gemini's own context is one `--resume` does not find.
    pub resumable: bool,
}

impl Head {
    /// Whether the session ran in `cwd` (as written, or resolved).
    pub fn ran_in(&self, cwd: &Path) -> bool {
        self.project_hash == project_hash(cwd)
            || std::fs::canonicalize(cwd).is_ok_and(|real| self.project_hash == project_hash(&real))
    }
}

/// Reads the head of a session file; `None` when it cannot be read or is not one.
pub fn read_head(path: &Path) -> Option<Head> {
    let file = std::fs::File::open(path).ok()?;
    let mut lines = BufReader::new(file.take(HEAD_BYTES)).lines();
    let first: Value = serde_json::from_str(&lines.next()?.ok()?).ok()?;
    let mut head = Head {
        session_id: first["sessionId"].as_str()?.to_string(),
        project_hash: first["projectHash"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        resumable: false,
    };
    head.resumable = lines
        .take(HEAD_LINES)
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .any(|record| is_resumable(&record));
    Some(head)
}

/// A prompt of the user's (not Gemini's session context) or a reply of the model's.
fn is_resumable(record: &Value) -> bool {
    match record["type"].as_str() {
        Some("user") => {
            text_at(record, "/content/0/text").is_some_and(|t| !t.starts_with("<session_context>"))
        }
        Some("gemini") => {
            text_at(record, "/content").is_some() || text_at(record, "/toolCalls/0/name").is_some()
        }
        _ => false,
    }
}

/// The last turn known to have ended: a `gemini` record without tool calls that a later prompt
/// followed, with what the model said in it. The newest reply of the tail may still be making
/// tool calls (Gemini records them only once they completed, by writing the reply again with
/// the same `id`), so it is never taken for an ended turn on its own.
pub fn last_ended_turn(book: &RuleBook, tail: &str) -> Option<EndedTurn> {
    let mut last_ended = None;
    let mut reply: Option<EndedTurn> = None;
    for record in records(tail) {
        if book.record_rule("turn_ignored", &record).is_some() {
            continue;
        }
        let id = text_at(&record, "/id");
        match book.record_rule("turn", &record).map(|rule| rule.name()) {
            Some("reply") => {
                reply = id
                    .zip(text_at(&record, "/timestamp"))
                    .map(|(id, at)| EndedTurn {
                        id: id.to_string(),
                        ended_at: at.to_string(),
                        assistant_text: text_at(&record, "/content").map(str::to_string),
                    });
            }
            Some("tool_calls") | Some("tool_result") => reply = None,
            Some("prompt") => {
                if let Some(ended) = reply.take() {
                    last_ended = Some(ended);
                }
            }
            _ => {}
        }
    }
    last_ended
}
