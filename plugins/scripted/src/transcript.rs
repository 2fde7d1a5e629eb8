/*! The scripted agent's session transcript: one JSON object per line in
`$HOME/.scripted-agent/sessions/<session-id>.jsonl`. Shared by the agent (which writes it) and the
provider plugin (which reads it to attribute sessions and judge turns).
*/

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Always the first line.
    SessionMeta {
        session_id: String,
        cwd: String,
        started_at: String,
        #[serde(default)]
        agent_id: Option<String>,
        #[serde(default)]
        forked_from: Option<String>,
        version: String,
    },
    /// The agent was started again on this session.
    Resumed {
        ts: String,
    },
    /// A submitted message, exactly as received.
    UserMessage {
        ts: String,
        text: String,
    },
    TurnStarted {
        ts: String,
    },
    TurnComplete {
        ts: String,
        duration_ms: u64,
    },
    TurnInterrupted {
        ts: String,
    },
    /// An approval prompt is on screen, waiting for an answer.
    ApprovalRequested {
        ts: String,
        tool: String,
    },
    ApprovalAnswered {
        ts: String,
        tool: String,
        choice: String,
    },
    /// A `@scripted report` directive ran `team-agent report-result`.
    Reported {
        ts: String,
        task_id: String,
        status: String,
        ok: bool,
        detail: String,
    },
    /// Something the agent could not do (a bad directive, a failed report).
    Error {
        ts: String,
        message: String,
    },
    /// The agent is exiting on purpose (`@scripted exit CODE`).
    Exit {
        ts: String,
        code: i32,
    },
}

/// Where the transcripts of a `HOME` live.
pub fn sessions_dir(home: &Path) -> PathBuf {
    home.join(".scripted-agent").join("sessions")
}

pub fn transcript_path(home: &Path, session_id: &str) -> PathBuf {
    sessions_dir(home).join(format!("{session_id}.jsonl"))
}

/// The first line of a transcript, if it is a session header.
pub fn read_meta(path: &Path) -> Option<Record> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    match serde_json::from_str::<Record>(&line) {
        Ok(meta @ Record::SessionMeta { .. }) => Some(meta),
        _ => None,
    }
}

/// A session id is safe to use as a file name.
pub fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
