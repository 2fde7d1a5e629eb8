//! What the dashboard shows, read in-process from what each team's coordinator writes: the
//! status of `team-agent status` (the state file and one tmux snapshot), the message store
//! (pending messages, open tasks, last results) and the tail of the event log. [`Source::changed`] looks
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
    pub team: String,
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
    /// What names the row among every team's: `team/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.team, self.id)
    }

    pub fn awaiting_approval(&self) -> bool {
        self.activity.as_deref() == Some("awaiting_approval")
    }
}

/// The teams as the dashboard shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Team {
    /// The teams' names, comma-separated (none when the workspace has no team).
    pub name: Option<String>,
    /// `status`'s sentence about each team.
    pub message: String,
    /// Whether every team's coordinator runs.
    pub coordinator_running: bool,
    pub rows: Vec<Row>,
}

/// One team's files, and how far its event log was read.
struct TeamFiles {
    workspace: Workspace,
    events_at: u64,
    /// Nothing read of its event log yet.
    fresh: bool,
}

/// Reads the teams' files; remembers what it read to tell when to read again.
pub struct Source {
    teams: Vec<TeamFiles>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    /// The last event lines, oldest first.
    pub events: VecDeque<String>,
}

/// How many event lines are kept.
const EVENT_LINES: usize = 200;
/// How much of the event log is read at the start.
const EVENT_TAIL_BYTES: u64 = 32 * 1024;

impl Source {
    /// The teams of these workspaces (each scoped to its team).
    pub fn new(workspaces: &[Workspace]) -> Self {
        Self {
            teams: workspaces
                .iter()
                .map(|w| TeamFiles {
                    workspace: w.clone(),
                    events_at: 0,
                    fresh: true,
                })
                .collect(),
            stamps: Vec::new(),
            events: VecDeque::new(),
        }
    }

    fn watched(&self) -> Vec<PathBuf> {
        self.teams
            .iter()
            .flat_map(|t| {
                let db = t.workspace.database();
                let mut wal = db.clone().into_os_string();
                wal.push("-wal");
                [
                    t.workspace.state_file(),
                    db,
                    PathBuf::from(wal),
                    t.workspace.events_file(),
                ]
            })
            .collect()
    }

    /// The workspace of the team named `team`.
    fn workspace_of(&self, team: &str) -> Option<&Workspace> {
        self.teams
            .iter()
            .find(|t| t.workspace.team() == Some(team))
            .or(self.teams.first().filter(|_| self.teams.len() == 1))
            .map(|t| &t.workspace)
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

    /// The teams now.
    pub fn team(&self) -> Team {
        let read: Vec<Team> = self.teams.iter().map(|t| read_team(&t.workspace)).collect();
        let names: Vec<String> = read.iter().filter_map(|t| t.name.clone()).collect();
        Team {
            name: (!names.is_empty()).then(|| names.join(", ")),
            message: read
                .iter()
                .map(|t| t.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            coordinator_running: !read.is_empty() && read.iter().all(|t| t.coordinator_running),
            rows: read.into_iter().flat_map(|t| t.rows).collect(),
        }
    }

    /// Reads what each team's event log gained since the last call into [`Source::events`]
    /// (each line after its team's name when there are several).
    pub fn read_events(&mut self) {
        let several = self.teams.len() > 1;
        for files in &mut self.teams {
            let team = files.workspace.team().unwrap_or_default().to_string();
            for line in files.read_new_lines() {
                if let Some(shown) = event_line(&line) {
                    self.events.push_back(match several {
                        true => format!("[{team}] {shown}"),
                        false => shown,
                    });
                }
            }
        }
        while self.events.len() > EVENT_LINES {
            self.events.pop_front();
        }
    }

    /// The last `lines` lines of a worker's screen, control sequences removed.
    pub fn screen(&self, team: &str, agent: &str, lines: usize) -> Result<Vec<String>, String> {
        let workspace = self
            .workspace_of(team)
            .ok_or_else(|| format!("no team '{team}' here"))?;
        crate::operator::peek(workspace, agent, lines)
            .map(|(_, text)| text.lines().map(str::to_string).collect())
            .map_err(|r| r.message)
    }
}

impl TeamFiles {
    /// The whole lines its event log gained since the last call (at first, those of its last
    /// [`EVENT_TAIL_BYTES`]).
    fn read_new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(self.workspace.events_file()) else {
            return Vec::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.events_at {
            // Rotated: the new file from its start.
            self.events_at = 0;
        }
        let first = std::mem::take(&mut self.fresh);
        if first {
            self.events_at = len.saturating_sub(EVENT_TAIL_BYTES);
        }
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.events_at)).is_err()
            || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        // Only whole lines; a line still being written is read next time.
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let started_mid_line = first && self.events_at > 0;
        self.events_at += end as u64 + 1;
        let text = String::from_utf8_lossy(&bytes[..end]);
        text.lines()
            .skip(usize::from(started_mid_line))
            .map(str::to_string)
            .collect()
    }
}

/// One team's status, rows and all.
fn read_team(workspace: &Workspace) -> Team {
    let registry = Registry::load_from(&[]);
    let quiet = |_: &str| {};
    let ctx = lifecycle::Context::new(workspace, &registry, &quiet);
    let name = ctx.store.load().ok().and_then(|s| s.team).map(|t| t.name);
    let pending = name
        .as_deref()
        .and_then(|t| crate::messaging::pending_counts(workspace, t).ok())
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
    let store = Store::open(workspace).ok();
    let team = report.team.clone().unwrap_or_default();
    let rows = report
        .agents
        .iter()
        .map(|a| row(a, store.as_ref(), &team))
        .collect();
    Team {
        name: report.team,
        message: report.message,
        coordinator_running: report.coordinator.is_running(),
        rows,
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
        team: team.to_string(),
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
