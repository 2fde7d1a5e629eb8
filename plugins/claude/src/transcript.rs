/*! Claude Code's session transcripts, read-only: where they are and what their first records say.

A session's transcript is `HOME/.claude/projects/<encoded cwd>/<session id>.jsonl`, one JSON
record per line, created when the first message arrives (not when Claude starts). The encoded
cwd is the directory with every character that is not an ASCII letter or digit replaced by `-`.
The first records are metadata (`mode`, `permission-mode`, `file-history-snapshot`), then the
first `user` record, which carries `sessionId`, `cwd` and `timestamp`; the system prompt the session started
with (the worker's identity line among it) is recorded in a `prompt_snapshot` attachment a few
records later. Every read here is bounded: a few directories, the first lines of one file.

The turn state is the rule book's (`turn` rules over the tail's records: an assistant
`stop_reason` of `end_turn` → idle, `tool_use` → working, `[Request interrupted by user]` →
interrupted, an API error message → error, …; records a `turn_ignored` rule knows — local slash
commands, meta records — never decide). The last turn that ended is read here: the last
`turn_duration` record (Claude writes one when a turn finishes; a turn that ends on an API error
has none), with the last text the model wrote since the prompt that started it.
*/

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use team_agent_plugin_api::EndedTurn;
use team_agent_provider_kit::{RuleBook, identity_markers, is_uuid, records, text_at};

/// The prompt snapshot comes within the first few dozen records.
const HEAD_LINES: usize = 64;
/// The head holds a request-shape record of about 100 KiB; this bounds a corrupt file.
const HEAD_BYTES: u64 = 4 << 20;
/// How many project directories a search by id looks through.
const MAX_PROJECT_DIRS: usize = 2000;

/// Where Claude keeps the projects of a `HOME`.
pub fn projects_dir(home: &Path) -> PathBuf {
    home.join(".claude").join("projects")
}

/// Where Claude writes the transcripts of sessions started in `cwd`.
pub fn project_dir(home: &Path, cwd: &Path) -> PathBuf {
    projects_dir(home).join(encode_cwd(cwd))
}

/// `cwd` as Claude names its project directory: every character that is not an ASCII letter or
/// digit becomes `-` (`/home/dev/proj.v2` → `-home-dev-proj-v2`).
pub fn encode_cwd(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The transcript of session `id` started in `cwd`: in the project directory of `cwd` as given
/// or as resolved, else in any project directory (Claude shortens very long directory names).
pub fn find(home: &Path, cwd: &Path, id: &str) -> Option<PathBuf> {
    if !is_uuid(id) {
        return None;
    }
    let file = format!("{id}.jsonl");
    let mut dirs = vec![project_dir(home, cwd)];
    if let Ok(resolved) = std::fs::canonicalize(cwd) {
        dirs.push(project_dir(home, &resolved));
    }
    if let Some(found) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) {
        return Some(found);
    }
    std::fs::read_dir(projects_dir(home))
        .ok()?
        .filter_map(Result::ok)
        .take(MAX_PROJECT_DIRS)
        .map(|entry| entry.path().join(&file))
        .find(|p| p.is_file())
}

/// What the first records of a transcript say about its session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// The `cwd` of its first conversation record; `None` while the file holds only metadata.
    pub cwd: Option<PathBuf>,
    /// When its first conversation record was written.
    pub started: Option<DateTime<Utc>>,
    /// The agents named by identity markers in what Claude recorded (never in what a user typed).
    pub markers: Vec<String>,
}

/// Reads the head of a transcript; `None` when the file cannot be read.
pub fn read_head(path: &Path, book: &RuleBook) -> Option<Head> {
    let file = std::fs::File::open(path).ok()?;
    let mut head = Head::default();
    for line in BufReader::new(file.take(HEAD_BYTES))
        .lines()
        .take(HEAD_LINES)
    {
        let Ok(line) = line else { break };
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if head.cwd.is_none()
            && let Some(cwd) = record["cwd"].as_str()
        {
            head.cwd = Some(PathBuf::from(cwd));
            head.started = record["timestamp"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
        }
        if !written_by_user(&record) {
            for agent in identity_markers(&record, book) {
                if !head.markers.contains(&agent) {
                    head.markers.push(agent);
                }
            }
        }
    }
    Some(head)
}

/// A record holding what a user (or a teammate, through team-agent) typed: it may quote another
/// worker's identity line.
fn written_by_user(record: &Value) -> bool {
    record["type"] == "user" || record["message"]["role"] == "user"
}

/// The last turn that ended normally, and what the model last said in it.
pub fn last_ended_turn(book: &RuleBook, tail: &str) -> Option<EndedTurn> {
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
    last_ended
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
