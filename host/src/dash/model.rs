//! What the dashboard shows, read in-process from what the coordinator writes: the status of
//! `team-agent status` (the state file and one tmux snapshot), the message store (pending
//! messages, open tasks, last results) and the tail of the event log. [`Source::changed`] looks
//! only at file sizes and times, so an idle team costs the dashboard no process at all; a
//! worker's screen is captured only when its pane may have changed.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::lifecycle::{self, AgentRow};
use crate::plugins::Registry;
use crate::store::Store;
use crate::workspace::Workspace;

/// One worker's row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub id: String,
    pub provider: String,
    /// Its lifecycle: starting, running, blocked, exited, stopped, missing.
    pub status: String,
    /// Idle, working, in_tool, awaiting_approval, … (none when nothing watches it).
    pub activity: Option<String>,
    /// Since when (RFC 3339).
    pub activity_since: Option<String>,
    /// The approval prompt it waits at, the tool it is in, the API error class, or why it is
    /// blocked.
    pub detail: Option<String>,
    pub pending: u64,
    /// The oldest task it was given and has not reported on, and since when.
    pub task: Option<(String, String)>,
    /// Its last result: `STATUS: summary`.
    pub last_result: Option<String>,
}

impl Row {
    pub fn awaiting_approval(&self) -> bool {
        self.activity.as_deref() == Some("awaiting_approval")
    }
}

/// The team as the dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Team {
    pub name: Option<String>,
    /// `status`'s sentence about the team.
    pub message: String,
    pub coordinator_running: bool,
    pub rows: Vec<Row>,
}

/// Reads the team's files; remembers what it read to tell when to read again.
pub struct Source {
    workspace: Workspace,
    stamps: Vec<Option<(SystemTime, u64)>>,
    events_at: u64,
    /// The last event lines, oldest first.
    pub events: VecDeque<String>,
}

/// How many event lines are kept.
const EVENT_LINES: usize = 200;
/// How much of the event log is read at the start.
const EVENT_TAIL_BYTES: u64 = 32 * 1024;

impl Source {
    pub fn new(workspace: &Workspace) -> Self {
        Self {
            workspace: workspace.clone(),
            stamps: Vec::new(),
            events_at: 0,
            events: VecDeque::new(),
        }
    }

    fn watched(&self) -> [PathBuf; 4] {
        let db = self.workspace.database();
        let mut wal = db.clone().into_os_string();
        wal.push("-wal");
        [
            self.workspace.runtime_dir().join("state.json"),
            db,
            PathBuf::from(wal),
            self.workspace.events_file(),
        ]
    }

    /// Whether a file the team is read from changed since the last call (the first call says
    /// yes).
    pub fn changed(&mut self) -> bool {
        let stamps: Vec<Option<(SystemTime, u64)>> = self
            .watched()
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .ok()
                    .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
            })
            .collect();
        let changed = stamps != self.stamps;
        self.stamps = stamps;
        changed
    }

    /// The team now.
    pub fn team(&self) -> Team {
        let registry = Registry::load_from(&[]);
        let quiet = |_: &str| {};
        let ctx = lifecycle::Context::new(&self.workspace, &registry, &quiet);
        let name = ctx.store.load().ok().and_then(|s| s.team).map(|t| t.name);
        let pending = name
            .as_deref()
            .and_then(|t| crate::messaging::pending_counts(&self.workspace, t).ok())
            .unwrap_or_default();
        let report = match lifecycle::status(&ctx, None, &pending) {
            Ok(report) => report,
            Err(e) => {
                return Team {
                    name,
                    message: e.to_string(),
                    ..Team::default()
                };
            }
        };
        let store = Store::open(&self.workspace).ok();
        let rows = report
            .agents
            .iter()
            .map(|a| row(a, store.as_ref(), name.as_deref().unwrap_or_default()))
            .collect();
        Team {
            name: report.team,
            message: report.message,
            coordinator_running: report.coordinator.is_running(),
            rows,
        }
    }

    /// Reads what the event log gained since the last call into [`Source::events`].
    pub fn read_events(&mut self) {
        let path = self.workspace.events_file();
        let Ok(mut file) = std::fs::File::open(&path) else {
            return;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.events_at {
            // Rotated: the new file from its start.
            self.events_at = 0;
        }
        if self.events_at == 0 && self.events.is_empty() {
            self.events_at = len.saturating_sub(EVENT_TAIL_BYTES);
        }
        if file.seek(SeekFrom::Start(self.events_at)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return;
        }
        // Only whole lines; a line still being written is read next time.
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let skip_partial_first = self.events_at > 0 && self.events.is_empty();
        self.events_at += end as u64 + 1;
        let text = String::from_utf8_lossy(&bytes[..end]);
        let mut lines = text.lines();
        if skip_partial_first {
            lines.next();
        }
        for line in lines {
            if let Some(shown) = event_line(line) {
                self.events.push_back(shown);
            }
        }
        while self.events.len() > EVENT_LINES {
            self.events.pop_front();
        }
    }

    /// The last `lines` lines of a worker's screen, control sequences removed.
    pub fn screen(&self, agent: &str, lines: usize) -> Result<Vec<String>, String> {
        crate::operator::peek(&self.workspace, agent, lines)
            .map(|(_, text)| text.lines().map(str::to_string).collect())
            .map_err(|r| r.message)
    }
}

fn row(a: &AgentRow, store: Option<&Store>, team: &str) -> Row {
    let detail = a
        .activity_detail
        .as_ref()
        .and_then(|d| {
            ["prompt", "tool", "class"]
                .iter()
                .find_map(|k| d[k].as_str().map(str::to_string))
        })
        .or_else(|| a.blocked_reason.clone());
    let task = store
        .and_then(|s| s.open_tasks(team, &a.id).ok())
        .and_then(|tasks| tasks.into_iter().next());
    let last_result = store
        .and_then(|s| s.results(team, None, Some(&a.id), 1).ok())
        .and_then(|rows| rows.into_iter().last())
        .map(|r| {
            let summary = r.envelope["summary"].as_str().unwrap_or_default();
            format!(
                "{}: {}",
                r.status,
                summary.lines().next().unwrap_or_default()
            )
        });
    Row {
        id: a.id.clone(),
        provider: a.provider.clone(),
        status: a.status.to_string(),
        activity: a.activity.map(str::to_string),
        activity_since: a.activity_since.clone(),
        detail,
        pending: a.pending_messages,
        task,
        last_result,
    }
}

/// One event as a line: `HH:MM:SS event agent key=value …` (the common fields first).
pub fn event_line(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let at = value["ts"]
        .as_str()
        .or(value["at"].as_str())
        .and_then(|t| t.get(11..19))
        .unwrap_or("        ");
    let name = value["event"].as_str()?;
    let mut out = format!("{at} {name}");
    if let Some(agent) = value["agent_id"].as_str() {
        out.push(' ');
        out.push_str(agent);
    }
    if let Some(fields) = value.as_object() {
        for (key, v) in fields {
            if matches!(key.as_str(), "ts" | "at" | "event" | "agent_id" | "pid") {
                continue;
            }
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!(" {key}={}", shown.replace('\n', " ")));
        }
    }
    Some(crate::messaging::sanitize(&out))
}
