//! The typed contents of `state.json`. Every struct keeps the fields it does not know in `extra`,
//! so a state written by a newer team-agent survives a save by this one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use team_agent_plugin_api::{EndedTurn, LaunchMode, SessionRecord, TurnState};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeState {
    #[serde(default)]
    pub schema_version: u32,
    /// Increases by one with every save.
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The workspace's team (one per workspace for now).
    #[serde(default)]
    pub team: Option<TeamState>,
    /// The team an `up` replaced (its name and when it stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_team: Option<PreviousTeam>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A team a new `up` took the place of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousTeam {
    pub name: String,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

/// Whether a team is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamStatus {
    Running,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamState {
    pub name: String,
    pub session_name: String,
    /// The socket path of the team's private tmux server.
    pub tmux_socket: PathBuf,
    /// The team directory or spec file the team was started from.
    pub definition: PathBuf,
    pub status: TeamStatus,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentState>,
    #[serde(default)]
    pub leader: Option<LeaderBinding>,
    #[serde(default)]
    pub owner: Option<Owner>,
    #[serde(default)]
    pub display: Option<DisplayRecord>,
    /// The coordinator's timing, copied from the definition at `up`/`restart` so the coordinator
    /// never needs to load (and validate) the definition itself.
    #[serde(default)]
    pub timing: Timing,
    /// The all-idle reminder's episode (kept by the coordinator).
    #[serde(default, skip_serializing_if = "IdleMonitor::is_unset")]
    pub idle_monitor: IdleMonitor,
    /// `acknowledge-idle`: no all-idle reminder until then (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_acknowledged_until: Option<String>,
    /// The API error the leader's own pane shows, if it shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_api_error: Option<LeaderApiError>,
    /// The definition's `notify` setting, as `up`/`restart` recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::notify::Setting>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether the all-idle reminder may fire: armed once a worker works, and since when all are
/// idle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleMonitor {
    #[serde(default)]
    pub armed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_since: Option<String>,
}

impl IdleMonitor {
    fn is_unset(&self) -> bool {
        *self == Self::default()
    }
}

/// An API error on the leader's pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderApiError {
    pub class: String,
    pub since: String,
}

/// A worker's episode of provider API errors: its kind and when it began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorEpisode {
    /// The plugin API's `ApiErrorClass` as its name (a class a newer plugin adds is kept).
    pub class: String,
    /// The turn ended on it (nothing retries); else the CLI retries by itself.
    pub ended: bool,
    pub since: String,
    /// When the limit resets, as the CLI said it (a `quota` error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<String>,
}

/// An agent's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Starting,
    Running,
    /// Its startup needs a human (see `blocked_reason`).
    Blocked,
    /// Its CLI process died.
    Exited,
    Stopped,
    /// Its window is gone.
    Missing,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Blocked => "blocked",
            Self::Exited => "exited",
            Self::Stopped => "stopped",
            Self::Missing => "missing",
        }
    }
}

/// What a running agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Idle,
    /// In a turn (`busy` in states written before hooks).
    #[serde(alias = "busy")]
    Working,
    /// In a tool call ([`ActivityDetail::tool`] names it).
    InTool,
    AwaitingApproval,
    /// Waiting for the user: a question, or the CLI's "waiting for your input".
    AwaitingInput,
    ApiError,
    /// The CLI's process is gone.
    Exited,
    Unknown,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Working => "working",
            Self::InTool => "in_tool",
            Self::AwaitingApproval => "awaiting_approval",
            Self::AwaitingInput => "awaiting_input",
            Self::ApiError => "api_error",
            Self::Exited => "exited",
            Self::Unknown => "unknown",
        }
    }

    /// The activity's broad kind, for telling whether two sources disagree: `in_tool` is a way of
    /// working, `awaiting_input` a way of being idle.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Idle | Self::AwaitingInput => "idle",
            Self::Working | Self::InTool => "working",
            other => other.as_str(),
        }
    }

    /// Whether the worker's turn is over (it takes a new prompt).
    pub fn is_idle(self) -> bool {
        self.kind() == "idle"
    }
}

/// What goes with an activity: the tool of `in_tool`, the prompt of `awaiting_approval` or the
/// question of `awaiting_input`, the class (and reset time) of `api_error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<String>,
    /// When the tool call began (RFC 3339), as its hook said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

impl ActivityDetail {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Where an activity came from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivitySource {
    /// The CLI's own hooks.
    Hook,
    /// The CLI's transcript.
    Transcript,
    /// The worker's screen.
    Screen,
    /// The worker's process (gone).
    Process,
}

impl ActivitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hook => "hook",
            Self::Transcript => "transcript",
            Self::Screen => "screen",
            Self::Process => "process",
        }
    }
}

/// What the worker's hooks last said it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    pub activity: Activity,
    #[serde(default, skip_serializing_if = "ActivityDetail::is_empty")]
    pub detail: ActivityDetail,
    /// When the hook ran (RFC 3339).
    pub at: String,
    /// The event's kind (`prompt_submitted`, `tool_started`, …).
    pub event: String,
    /// For an approval: what the worker did before it was asked (its tool goes on once the
    /// approval is answered, and no hook says so until the tool is over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<(Activity, ActivityDetail)>,
}

/// Sources of one worker that say different things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    pub since: String,
    /// The hook's activity against the other source's.
    pub hook: Activity,
    pub other: Activity,
    pub other_source: ActivitySource,
    #[serde(default)]
    pub reported: bool,
}

/// Where an agent's session id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureState {
    /// Not found yet; the coordinator keeps looking.
    Pending,
    /// The provider writes its transcript at the first message (Codex): nothing to find yet.
    PendingFirstTurn,
    Captured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub id: String,
    pub provider: String,
    pub status: AgentStatus,
    #[serde(default)]
    pub activity: Option<Activity>,
    #[serde(default)]
    pub blocked_reason: Option<String>,
    #[serde(default)]
    pub pane_id: Option<String>,
    #[serde(default)]
    pub window_id: Option<String>,
    #[serde(default)]
    pub spawned_at: Option<String>,
    #[serde(default)]
    pub spawn_cwd: Option<PathBuf>,
    /// The session id the launch plan chose, when the provider takes one.
    #[serde(default)]
    pub expected_session_id: Option<String>,
    #[serde(default)]
    pub session: Option<SessionRecord>,
    #[serde(default)]
    pub captured_at: Option<String>,
    #[serde(default = "pending")]
    pub capture_state: CaptureState,
    /// When the leader first delivered a message to it.
    #[serde(default)]
    pub first_send_at: FirstSend,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub last_lines: Vec<String>,
    #[serde(default)]
    pub last_output_at: Option<String>,
    #[serde(default)]
    pub last_output_hash: Option<u64>,
    /// The worker's turn as its own transcript tells it (kept by the coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnRecord>,
    /// Shell commands the coordinator approves for it (from the spec, at start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_approve: Vec<String>,
    /// A task whose turn ended without a result, after the worker was reminded to report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_watch: Option<ReportWatch>,
    /// Where `activity` came from (`hook`, `transcript`, `screen`, `process`) and since when it
    /// holds (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_since: Option<String>,
    #[serde(default, skip_serializing_if = "ActivityDetail::is_empty")]
    pub activity_detail: ActivityDetail,
    /// What its CLI's hooks last said (kept by the coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookRecord>,
    /// What its screen last said, and since when (the activity falls back to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_activity: Option<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_since: Option<String>,
    /// The last sign of progress: a hook event, a transcript change, or a screen change other
    /// than a spinner or a timer (RFC 3339). A worker that claims to work without one for the
    /// stuck timeout is stuck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress_at: Option<String>,
    /// Since when its sources disagree (the hook against the transcript or the screen), and
    /// whether that was said as an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<Disagreement>,
    /// The tool call the leader was told runs long (its start, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_tool_notified: Option<String>,
    /// The pid of the pane's first process, at spawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane_pid: Option<u32>,
    /// How it was started: a fresh session, a resume or a fork.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_mode: Option<LaunchMode>,
    /// The session it was forked from (a fork's capture must not take that one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<String>,
    /// The agent it was forked from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from_agent: Option<String>,
    /// When a restart last started it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    /// When its pane was first seen dead without an exit code (tmux sees the close a moment
    /// before the code): the coordinator waits one tick for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_seen: Option<String>,
    /// The API error episode it is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_error: Option<ApiErrorEpisode>,
    /// The start of the API error episode the leader was told of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_error_notified: Option<String>,
    /// When the leader was told it looks stuck (cleared once it moves again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_notified_at: Option<String>,
    /// Why its provider plugin is no longer called (it panicked or hung in the coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_fault: Option<String>,
    /// The approval prompt the leader was last asked to answer for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_notified: Option<String>,
    /// Its own git worktree (`isolation: worktree`), kept across stops and restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeRecord>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A worker's own git worktree: where it is, its branch, and what the branch is compared with
/// and merged into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeRecord {
    /// The worktree's top directory (`.team/worktrees/<agent>`).
    pub path: PathBuf,
    /// The top directory of the workspace's own worktree (where `merge` merges).
    pub repo: PathBuf,
    /// `team-agent/<team>/<agent>`.
    pub branch: String,
    /// The branch (or commit) the worker's branch started from.
    pub base: String,
    /// Its `worktree_setup` commands all succeeded.
    #[serde(default)]
    pub setup_done: bool,
    /// Why the worker was not started: a `worktree_setup` command failed (its command and exit
    /// code); cleared by the next setup that succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// When a worker was first given work, as recorded: never (null), at a time (RFC 3339), or a
/// value that is neither, kept as found so `restart` sees it and refuses rather than guess.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FirstSend {
    #[default]
    Never,
    At(String),
    Corrupt(Value),
}

impl FirstSend {
    pub fn is_never(&self) -> bool {
        *self == Self::Never
    }

    /// The time, when it is one.
    pub fn at(&self) -> Option<&str> {
        match self {
            Self::At(at) => Some(at),
            _ => None,
        }
    }
}

impl Serialize for FirstSend {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Never => serializer.serialize_none(),
            Self::At(at) => serializer.serialize_str(at),
            Self::Corrupt(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FirstSend {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Self::Never,
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => Self::At(s),
            other => Self::Corrupt(other),
        })
    }
}

/// What a worker's transcript says of its turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub state: TurnState,
    /// The provider's rule that judged the state.
    #[serde(default)]
    pub rule: Option<String>,
    /// Since when the state holds (RFC 3339).
    pub since: String,
    /// The last turn that ended normally.
    #[serde(default)]
    pub last_ended: Option<EndedTurn>,
}

/// The worker was reminded that a turn ended while `task_id` had no result; if its next turn
/// ends without one too, team-agent records the result as `unreported`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportWatch {
    pub task_id: String,
    /// The ended turn the reminder was about.
    pub turn_id: String,
    /// When the reminder was sent (RFC 3339): a later ended turn is the next one.
    pub reminded_at: String,
}

fn pending() -> CaptureState {
    CaptureState::Pending
}

impl AgentState {
    pub fn new(id: &str, provider: &str) -> Self {
        Self {
            id: id.to_string(),
            provider: provider.to_string(),
            status: AgentStatus::Starting,
            activity: None,
            blocked_reason: None,
            pane_id: None,
            window_id: None,
            spawned_at: None,
            spawn_cwd: None,
            expected_session_id: None,
            session: None,
            captured_at: None,
            capture_state: CaptureState::Pending,
            first_send_at: FirstSend::Never,
            paused: false,
            exit_code: None,
            last_lines: Vec::new(),
            last_output_at: None,
            last_output_hash: None,
            turn: None,
            auto_approve: Vec::new(),
            report_watch: None,
            activity_source: None,
            activity_since: None,
            activity_detail: Default::default(),
            hook: None,
            screen_activity: None,
            screen_since: None,
            last_progress_at: None,
            disagreement: None,
            long_tool_notified: None,
            pane_pid: None,
            launch_mode: None,
            forked_from: None,
            forked_from_agent: None,
            restarted_at: None,
            dead_seen: None,
            api_error: None,
            api_error_notified: None,
            stuck_notified_at: None,
            provider_fault: None,
            approval_notified: None,
            worktree: None,
            extra: Map::new(),
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.session_id.as_str())
    }
}

/// Where messages to the leader go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderBinding {
    pub pane_id: String,
    /// The socket of the tmux server the leader's pane is on.
    pub socket: PathBuf,
    #[serde(default)]
    pub provider: Option<String>,
    pub bound_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The leader pane that owns the team, with the lease's epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub pane_id: String,
    pub socket: PathBuf,
    pub epoch: u64,
    pub claimed_at: String,
    pub claimed_via: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The display a team was opened with and the handle its plugin gave back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisplayRecord {
    pub backend: String,
    #[serde(default)]
    pub handle: Value,
    #[serde(default)]
    pub error: Option<String>,
    /// Whether it is showing now; a closed record keeps the backend for the next start.
    #[serde(default)]
    pub open: bool,
    /// The tmux server the display's leader-side windows were made on.
    #[serde(default)]
    pub leader_socket: Option<PathBuf>,
    /// The programs its plan started, by resource name.
    #[serde(default)]
    pub processes: BTreeMap<String, Spawned>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A program a display started, identified well enough to never signal a recycled pid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawned {
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat` when it was started (0 where there is no `/proc`).
    pub start_time: u64,
}

/// `runtime.tick_interval_sec` and `runtime.stuck_timeout_sec` of the team's definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_interval_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_timeout_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_tool_notice_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_timeout_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_answer_window_sec: Option<f64>,
}
