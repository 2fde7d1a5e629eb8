/*! Codex's session files ("rollouts"), read-only: where they are, what their first line says,
and whose identity marker their first records carry.

A rollout is `HOME/.codex/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<uuid>.jsonl`, one JSON
record per line. The first line is the `session_meta` (id, cwd, the session's start time); the
next ones hold the instructions the session started with, among them the worker's system prompt
(passed as `developer_instructions`), whose first line names the worker. Codex writes the file
when the first message arrives, not when it starts. Every read here is bounded: a few day
directories, a few dozen files, the first lines of each.

The turn state is the rule book's (`turn` rules over the tail's records: `task_started` →
working, `task_complete` → idle, or error when it carries one, `turn_aborted` → interrupted, …).
The last turn that ended is read here: the last `task_complete` without an error; Codex records
the turn's id and the model's last message in it.
*/

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::Value;
use team_agent_plugin_api::EndedTurn;
use team_agent_provider_kit::{RuleBook, identity_markers, is_uuid, records, text_at};

/// The first line holds the base instructions (tens of KiB); this bounds a corrupt one.
const META_LINE_LIMIT: u64 = 4 << 20;
/// The worker's instructions come within the first dozen records.
const HEAD_LINES: usize = 32;
const HEAD_BYTES: u64 = 4 << 20;
/// How many day directories a search by id looks through (about ten years of daily use).
const MAX_DAY_DIRS: usize = 4000;

/// Where Codex keeps the rollouts of a `HOME`.
pub fn sessions_dir(home: &Path) -> PathBuf {
    home.join(".codex").join("sessions")
}

/// What the first line of a rollout says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMeta {
    pub id: String,
    pub cwd: PathBuf,
    /// When the session started (`payload.timestamp`, else the time in its UUIDv7 id).
    pub started: Option<DateTime<Utc>>,
}

/// Whose worker marker the first records of a rollout carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The marker of the agent asked about.
    Own,
    /// Only markers of other agents (their names).
    Others(Vec<String>),
    /// No marker at all (a session not started by team-agent, or a prompt without one).
    Unmarked,
}

/// Rollout files in the day directories of `dates`, newest first, at most `limit` of them.
pub fn rollouts_on(root: &Path, dates: &[NaiveDate], limit: usize) -> Vec<PathBuf> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for date in dates {
        let Ok(entries) = std::fs::read_dir(day_dir(root, *date)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("rollout-") && name.ends_with(".jsonl") {
                found.push((name, entry.path()));
            }
        }
    }
    // The name starts with the session's start time, so it sorts chronologically.
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.dedup_by(|a, b| a.1 == b.1);
    found.into_iter().take(limit).map(|(_, p)| p).collect()
}

/// The rollout of session `id`: first around the day its UUIDv7 id was minted, then every day
/// directory, newest first.
pub fn find_rollout(root: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{id}.jsonl");
    let in_dir = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))
            .map(|e| e.path())
    };
    if let Some(minted) = uuid_v7_time(id) {
        let day = minted.date_naive();
        let around = [day, day - Duration::days(1), day + Duration::days(1)];
        if let Some(found) = around.iter().find_map(|d| in_dir(&day_dir(root, *d))) {
            return Some(found);
        }
    }
    let mut visited = 0;
    for year in numbered_subdirs(root) {
        for month in numbered_subdirs(&year) {
            for day in numbered_subdirs(&month) {
                visited += 1;
                if visited > MAX_DAY_DIRS {
                    return None;
                }
                if let Some(found) = in_dir(&day) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// The `session_meta` on the first line of a rollout.
pub fn read_meta(path: &Path) -> Option<SessionMeta> {
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    BufReader::new(file.take(META_LINE_LIMIT))
        .read_line(&mut line)
        .ok()?;
    let record: Value = serde_json::from_str(&line).ok()?;
    // Older Codex builds wrapped the header as `{"session_meta": {"payload": …}}`.
    let payload = if record["type"] == "session_meta" {
        &record["payload"]
    } else {
        &record["session_meta"]["payload"]
    };
    let id = payload["id"]
        .as_str()
        .or_else(|| payload["session_id"].as_str())?
        .to_string();
    let cwd = PathBuf::from(payload["cwd"].as_str()?);
    let started = payload["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| uuid_v7_time(&id));
    Some(SessionMeta { id, cwd, started })
}

/// Which worker markers (the book's `identity_marker` rules) the first records of a rollout
/// carry. Messages a user typed are skipped: a teammate may quote another worker's prompt.
pub fn read_identity(path: &Path, agent_id: &str, book: &RuleBook) -> Identity {
    let Ok(file) = std::fs::File::open(path) else {
        return Identity::Unmarked;
    };
    let mut others: Vec<String> = Vec::new();
    let reader = BufReader::new(file.take(HEAD_BYTES));
    for line in reader.lines().take(HEAD_LINES) {
        let Ok(line) = line else { break };
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if written_by_user(&record) {
            continue;
        }
        for agent in identity_markers(&record, book) {
            if agent == agent_id {
                return Identity::Own;
            }
            if !others.contains(&agent) {
                others.push(agent);
            }
        }
    }
    if others.is_empty() {
        Identity::Unmarked
    } else {
        Identity::Others(others)
    }
}

/// The creation time inside a UUIDv7 (its first 48 bits are Unix milliseconds), from an id or
/// from a rollout file name ending in one.
pub fn uuid_v7_time(id_or_name: &str) -> Option<DateTime<Utc>> {
    let stem = id_or_name.strip_suffix(".jsonl").unwrap_or(id_or_name);
    let uuid = stem.get(stem.len().checked_sub(36)?..)?;
    if !is_uuid(uuid) || uuid.as_bytes()[14] != b'7' {
        return None;
    }
    let millis = i64::from_str_radix(&format!("{}{}", &uuid[..8], &uuid[9..13]), 16).ok()?;
    DateTime::from_timestamp_millis(millis)
}

fn day_dir(root: &Path, date: NaiveDate) -> PathBuf {
    root.join(format!("{:04}", date.year()))
        .join(format!("{:02}", date.month()))
        .join(format!("{:02}", date.day()))
}

/// Subdirectories named by digits only (`2026`, `11`, `23`), highest first.
fn numbered_subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let numbered = !name.is_empty() && name.chars().all(|c| c.is_ascii_digit());
                    (numbered && e.path().is_dir()).then(|| (name, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    dirs.into_iter().map(|(_, p)| p).collect()
}

fn written_by_user(record: &Value) -> bool {
    let payload = &record["payload"];
    payload["role"] == "user"
        || payload["type"] == "user_message"
        || payload["item"]["type"] == "UserMessage"
}

/// The last turn that ended normally: the last `task_complete` without an error.
pub fn last_ended_turn(tail: &str) -> Option<EndedTurn> {
    records(tail)
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
        .next_back()
}
