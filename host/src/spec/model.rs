//! The full team spec as typed values, with the field names of `team.spec.yaml`
//! (`schemas/team.schema.json` is the structural truth; these types are what the runtime reads).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamSpec {
    pub version: u32,
    pub team: Team,
    pub leader: Leader,
    pub agents: Vec<Agent>,
    pub routing: Routing,
    pub communication: Communication,
    pub runtime: Runtime,
    pub context: Context,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub mode: String,
    pub objective: String,
    /// Relative to the spec file's directory, or absolute.
    pub workspace: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leader {
    pub id: String,
    pub role: String,
    pub provider: String,
    pub model: Option<String>,
    pub tools: Vec<String>,
    pub context_policy: ContextPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPolicy {
    pub keep_user_thread: bool,
    pub receive_worker_outputs: String,
    pub max_worker_result_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub role: String,
    pub provider: String,
    pub model: Option<String>,
    /// Relative to the team's workspace, or absolute.
    pub working_directory: String,
    pub system_prompt: SystemPrompt,
    pub tools: Vec<String>,
    pub permission_mode: String,
    pub preferred_for: Vec<String>,
    pub avoid_for: Vec<String>,
    pub output_contract: OutputContract,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dangerously_skip_permissions: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_options: BTreeMap<String, serde_json::Value>,
    /// Shell commands the coordinator approves at the CLI's runtime prompt (whole-command
    /// patterns, `*` for any run of characters on one line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auto_approve: Vec<String>,
    /// Whether the worker works in its own git worktree.
    #[serde(default, skip_serializing_if = "Isolation::is_none")]
    pub isolation: Isolation,
    /// The branch or commit its branch starts from (default: the workspace repository's
    /// current branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_base: Option<String>,
    /// Shell commands run once in a new worktree before the worker starts (`npm ci`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worktree_setup: Vec<String>,
}

/// Where a worker works: in the workspace as it is, or in a git worktree of its own on a
/// branch of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    #[default]
    None,
    Worktree,
}

impl Isolation {
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemPrompt {
    pub inline: Option<String>,
    /// Relative to the spec file's directory, or absolute.
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputContract {
    pub format: String,
    pub required_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub default_assignee: String,
    pub rules: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Communication {
    pub protocol: String,
    pub topology: String,
    pub worker_to_worker: bool,
    pub ack_timeout_sec: f64,
    pub result_format: String,
    pub message_store: MessageStore,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStore {
    pub sqlite: String,
    pub mirror_files: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub backend: String,
    pub session_name: String,
    pub auto_launch: bool,
    pub require_user_approval_before_launch: bool,
    pub max_active_agents: u32,
    pub startup_order: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dangerous_auto_approve: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_attach_leader: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_interval_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_min_interval_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_timeout_sec: Option<f64>,
    /// How long a worker may stay in one tool (its process alive) before the leader is told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_tool_notice_sec: Option<f64>,
    /// How long a submitted message may go untaken before it is retried, then bounced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_timeout_sec: Option<f64>,
    /// How long after a worker's start its startup dialogs are answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_answer_window_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_trust_own_workspace: Option<bool>,
    /// How the operator hears that a human is needed (absent: the desktop when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::notify::Setting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub state_file: String,
    pub artifact_dir: String,
    pub log_dir: String,
    pub summarization: Summarization,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summarization {
    pub worker_full_logs: String,
    pub state_update: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub assignee: Option<String>,
    pub deps: Vec<String>,
    pub acceptance: serde_json::Value,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_tools: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_confirmation: Option<bool>,
}

impl TeamSpec {
    /// The agents in the order they start: `runtime.startup_order` first, then the rest.
    pub fn startup_order(&self) -> Vec<&Agent> {
        let mut ordered: Vec<&Agent> = self
            .runtime
            .startup_order
            .iter()
            .filter_map(|id| self.agents.iter().find(|a| &a.id == id))
            .collect();
        for agent in &self.agents {
            if !ordered.iter().any(|a| a.id == agent.id) {
                ordered.push(agent);
            }
        }
        ordered
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// The branch of a worker with `isolation: worktree`: `team-agent/<team>/<agent>`, the
    /// team's name with anything but `[A-Za-z0-9._-]` turned into `-`.
    pub fn worktree_branch(&self, agent_id: &str) -> String {
        worktree_branch(&self.team.name, agent_id)
    }

    /// The display backend the team asks for, with the reference system's names mapped onto
    /// ours (`adaptive`/`tmux_attach` → `tmux-overview`, `ghostty*`/`iterm` → `terminal`).
    pub fn display_backend(&self) -> Option<String> {
        self.runtime
            .display_backend
            .as_deref()
            .map(map_display_backend)
    }
}

/// `team-agent/<team>/<agent>` (see [`TeamSpec::worktree_branch`]).
pub fn worktree_branch(team: &str, agent_id: &str) -> String {
    let team = crate::workspace::safe_chars(team);
    let team = team.trim_matches(|c| c == '-' || c == '.');
    let team = if team.is_empty() { "team" } else { team };
    format!("team-agent/{team}/{agent_id}")
}

/// The display backend used when neither `--display` nor the team definition names one.
pub const AUTO_DISPLAY: &str = "auto";

/// Maps the reference system's display backend names onto our plugins' names.
pub fn map_display_backend(name: &str) -> String {
    match name {
        "adaptive" | "tmux_attach" => "tmux-overview".into(),
        n if n.starts_with("ghostty") || n == "iterm" => "terminal".into(),
        other => other.to_string(),
    }
}
