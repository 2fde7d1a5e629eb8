/*! The provider side of the plugin API: what a provider plugin is asked and what it answers.

Every type here is an ordinary Rust type. Between the host and a plugin they travel as JSON inside
the stable ABI (see [`crate::ffi`]), so a field can be added later (with `#[serde(default)]`)
without breaking plugins built today. Wire names are `snake_case`.
*/

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a provider plugin says about itself and the CLI it drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderManifest {
    /// The name a team spec uses in `provider:` (for example `claude`).
    pub name: String,
    /// Other names that select this provider (for example `claude_code`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The plugin's own version.
    pub version: String,
    /// One line for `team-agent plugins list`.
    #[serde(default)]
    pub description: String,
    /// The executable the provider runs (looked up on `PATH` by the host for diagnostics).
    #[serde(default)]
    pub executable: String,
    #[serde(default)]
    pub capabilities: ProviderCapabilities,
}

/// What the provider's CLI can do; the host degrades features a provider lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderCapabilities {
    /// `launch_plan` with [`LaunchMode::Resume`] works.
    pub resume: bool,
    /// `launch_plan` with [`LaunchMode::Fork`] works.
    pub fork: bool,
    /// The CLI accepts a session id chosen by the host at start.
    pub preassigned_session_id: bool,
    /// The launch plan wires the team's MCP server into the CLI.
    pub mcp_injection: bool,
    /// `turn_state` understands the provider's transcript.
    pub transcript_turn_state: bool,
    /// The [`HookEvent`] kinds the provider's CLI reports through the hooks its launch plan
    /// configures (`prompt_submitted`, `tool_started`, `turn_ended`, …): the host trusts these
    /// over the transcript and the screen. Empty: the CLI reports nothing (or the plugin predates
    /// hooks).
    pub hook_events: Vec<String>,
}

/// How much the worker may do without asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionMode {
    /// Read and propose; ask before anything else.
    #[default]
    Restricted,
    /// Ask before each action the CLI considers risky.
    Ask,
    /// Work inside the workspace without asking.
    Trusted,
    /// Skip every permission check (the CLI's explicit dangerous bypass).
    DangerousBypass,
}

/// Whether a launch starts a new session, continues one, or branches one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchMode {
    Fresh,
    Resume { session_id: String },
    Fork { source_session_id: String },
}

/// The team's MCP server, to be wired into the worker's CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    /// The server's name as the CLI will show it (tool names derive from it).
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the host wrote the `{"mcpServers": …}` JSON file for CLIs that read one.
    #[serde(default)]
    pub config_file: Option<PathBuf>,
}

/// Everything a provider needs to plan the start of one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRequest {
    pub agent_id: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub model: Option<String>,
    /// The directory the CLI starts in.
    pub cwd: PathBuf,
    /// The worker's system prompt (identity line, team contract, role text).
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub permission_mode: PermissionMode,
    pub mode: LaunchMode,
    /// A fresh UUID chosen by the host; a provider whose CLI accepts a pre-assigned session id
    /// uses it (so the plan stays a pure function of the request).
    #[serde(default)]
    pub new_session_id: String,
    #[serde(default)]
    pub mcp_server: Option<McpServer>,
    /// Variables from the agent's credential profile: they go into this worker's environment only.
    #[serde(default)]
    pub profile_env: BTreeMap<String, String>,
    /// The directory of the running `team-agent` binary: helper binaries shipped with team-agent
    /// live there and are preferred to those on `PATH`.
    #[serde(default)]
    pub host_bin_dir: PathBuf,
    /// The `HOME` the worker runs with (where the provider keeps its files).
    #[serde(default)]
    pub home: PathBuf,
    /// Provider-specific settings from the agent's definition (`provider_options:`).
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
    /// The host's hook command for this worker, when it takes hook events: a provider whose CLI
    /// runs programs at its own events configures them (for this worker only, never in the
    /// user's settings) to run it.
    #[serde(default)]
    pub hooks: Option<HookSetup>,
}

/// How a provider's hooks reach the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSetup {
    /// The command each hook runs, followed by the event's name (any word the provider chooses;
    /// it comes back as [`HookPayload::event`]) and, for a CLI that passes its payload as an
    /// argument rather than on stdin, that payload.
    pub command: Vec<String>,
    /// A directory of this worker's own where the plan may place configuration files
    /// ([`LaunchPlan::files`]).
    pub dir: PathBuf,
}

/// A file the host writes (mode 0600) before it starts the CLI: for example a settings file of
/// hooks. Its path must lie in [`HookSetup::dir`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// One hook's call as the host received it, for the provider to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookPayload {
    /// The event name the launch plan put after the hook command.
    pub event: String,
    /// What the CLI gave the hook: its stdin, or its last argument.
    #[serde(default)]
    pub payload: String,
    /// The worker's session as the host recorded it, when it has one (a CLI may report events
    /// of side sessions of its own through the same hook).
    #[serde(default)]
    pub session_id: Option<String>,
}

/// What a hook says the CLI is doing: the ground truth the host puts before transcript and screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HookEvent {
    /// The CLI (re)started its session.
    SessionStarted {
        #[serde(default)]
        session_id: Option<String>,
    },
    /// The CLI took a prompt from its input: the turn begins.
    PromptSubmitted {
        #[serde(default)]
        prompt: String,
    },
    /// A tool call begins.
    ToolStarted { tool: String },
    /// A tool call is over; the model works on.
    ToolFinished { tool: String },
    /// The CLI asks the user to approve something.
    AwaitingApproval {
        #[serde(default)]
        prompt: String,
    },
    /// The CLI waits for the user (its turn is over and it says so, or it asks a question).
    AwaitingInput {
        #[serde(default)]
        message: String,
    },
    /// The turn is over. `prompts` are the user inputs the turn took (for a CLI that reports
    /// them only here), `last_text` the model's last words.
    TurnEnded {
        #[serde(default)]
        prompts: Vec<String>,
        #[serde(default)]
        last_text: Option<String>,
    },
    /// Nothing the host needs.
    Ignored,
}

impl HookEvent {
    /// The wire name of its kind, as [`ProviderCapabilities::hook_events`] lists them.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionStarted { .. } => "session_started",
            Self::PromptSubmitted { .. } => "prompt_submitted",
            Self::ToolStarted { .. } => "tool_started",
            Self::ToolFinished { .. } => "tool_finished",
            Self::AwaitingApproval { .. } => "awaiting_approval",
            Self::AwaitingInput { .. } => "awaiting_input",
            Self::TurnEnded { .. } => "turn_ended",
            Self::Ignored => "ignored",
        }
    }
}

/// Everything a provider needs to plan the leader's own CLI (`team-agent claude|codex ARGS…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderRequest {
    /// The operator's arguments, passed to the CLI unchanged.
    #[serde(default)]
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The team-agent MCP server for the leader (team lifecycle and messaging tools).
    #[serde(default)]
    pub mcp_server: Option<McpServer>,
    /// How to lead a team with team-agent, for the CLI's own instruction mechanism.
    #[serde(default)]
    pub instructions: String,
    #[serde(default)]
    pub home: PathBuf,
}

/// A command the host runs before starting the CLI (for example a login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreStep {
    /// Shown in progress output and events (never the stdin).
    pub description: String,
    pub argv: Vec<String>,
    /// Fed to the command's stdin (secrets go here, never into argv).
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables removed from the inherited environment for this command.
    #[serde(default)]
    pub env_unset: Vec<String>,
    /// Run only when this path does not exist yet.
    #[serde(default)]
    pub unless_exists: Option<PathBuf>,
}

/// How to start the CLI: the host turns this into a tmux window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPlan {
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables removed from the inherited environment (for example the leader's `TMUX`).
    #[serde(default)]
    pub env_unset: Vec<String>,
    /// The session id the CLI will use, when the provider chose it up front.
    #[serde(default)]
    pub expected_session_id: Option<String>,
    /// Where the provider writes this session's transcripts.
    #[serde(default)]
    pub transcript_dir: Option<PathBuf>,
    #[serde(default)]
    pub pre_steps: Vec<PreStep>,
    /// Files to write before the CLI starts (its hook configuration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PlannedFile>,
}

/// What to do about the screen of a CLI that is starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum StartupDecision {
    /// The input prompt is the active element: the worker can take messages.
    Ready,
    /// A dialog the plugin knows how to answer: press `keys` (tmux `send-keys` names).
    Answer { prompt: String, keys: Vec<String> },
    /// Still drawing or loading: look again later.
    Waiting,
    /// A human must act (login, unknown key): never guess.
    Blocked { reason: String },
}

/// What a running worker's screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScreenState {
    Idle,
    Busy,
    AwaitingApproval {
        prompt: String,
    },
    TrustPrompt,
    /// A provider API failure: `ended` when the turn is over because of it (the CLI shows the
    /// error and takes input again, nothing retries), otherwise the CLI is retrying the request.
    ApiError {
        class: ApiErrorClass,
        #[serde(default)]
        ended: bool,
        /// When the limit resets, as the CLI words it (`5pm (UTC)`, `in 2 hours`), for
        /// [`ApiErrorClass::Quota`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reset: Option<String>,
    },
    Exited,
    Unknown,
}

/// Kinds of provider API failure a screen can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorClass {
    Overloaded,
    RateLimit,
    Network,
    Timeout,
    /// The account's usage limit: nothing to retry until it resets.
    Quota,
    Other,
}

/// What the host allows a runtime approval prompt to be answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Approve calls to these tools of the team's own MCP server, and shell commands matching
    /// one of `commands` (whole-command patterns, `*` for any run of characters on one line);
    /// anything else is deferred.
    AllowTools {
        server: String,
        tools: Vec<String>,
        #[serde(default)]
        commands: Vec<String>,
    },
    /// An operator chose an answer by hand (`team-agent answer AGENT CHOICE`): the option's number
    /// or a word from its label (`yes`, `no`, `always`).
    Choose { choice: String },
}

/// A runtime approval prompt to answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The captured screen showing the prompt.
    pub screen: String,
    pub policy: ApprovalPolicy,
}

/// The plugin's answer to a runtime approval prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ApprovalDecision {
    /// Press these keys; `choice` names the option they select.
    Answer { keys: Vec<String>, choice: String },
    /// Not for the plugin to decide: the leader is told.
    Defer { reason: String },
}

/// The state of the provider's current turn, judged from its own transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnState {
    Idle,
    Working,
    Interrupted,
    BlockedOnHuman,
    Error,
    Unknown,
}

/// How to submit a message that was just pasted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitKeys {
    /// Wait this long after the paste before pressing the keys (some CLIs need it).
    #[serde(default)]
    pub delay_ms: u32,
    pub keys: Vec<String>,
}

/// What the host knows when it asks a provider to find a worker's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureContext {
    pub agent_id: String,
    /// The directory the CLI was started in.
    pub cwd: PathBuf,
    /// When the worker's window was created (RFC 3339).
    pub spawned_at: String,
    /// The current time (RFC 3339), so the answer is a pure function of the context.
    pub now: String,
    /// The id the launch plan chose, if any.
    #[serde(default)]
    pub expected_session_id: Option<String>,
    /// Session ids other agents already own: never attribute one of these.
    #[serde(default)]
    pub owned_by_others: Vec<String>,
    /// The `HOME` the worker runs with.
    pub home: PathBuf,
    /// For a fork: the session it was forked from (its history, and its agent's identity marker,
    /// may appear in the new session's transcript).
    #[serde(default)]
    pub forked_from: Option<String>,
}

/// How sure a provider is that a session belongs to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// A provider session attributed to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    #[serde(default)]
    pub transcript_path: Option<PathBuf>,
    /// How it was attributed (for example `preassigned_id`, `identity_marker`, `cwd_and_time`).
    pub attributed_by: String,
    pub confidence: Confidence,
}

/// The question "can this agent's session be resumed now?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeCheck {
    pub agent_id: String,
    pub cwd: PathBuf,
    pub home: PathBuf,
    #[serde(default)]
    pub record: Option<SessionRecord>,
}

/// Why a session cannot be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeBlocker {
    NoPersistedSessionId,
    SessionBackingStoreMissing,
    SessionIdentityMismatch,
    Unsupported,
}

impl ResumeBlocker {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPersistedSessionId => "no_persisted_session_id",
            Self::SessionBackingStoreMissing => "session_backing_store_missing",
            Self::SessionIdentityMismatch => "session_identity_mismatch",
            Self::Unsupported => "unsupported",
        }
    }
}

/// The answer to a [`ResumeCheck`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumability {
    pub resumable: bool,
    #[serde(default)]
    pub blocker: Option<ResumeBlocker>,
    /// A sentence for the operator.
    #[serde(default)]
    pub detail: String,
}

impl Resumability {
    pub fn yes() -> Self {
        Self {
            resumable: true,
            blocker: None,
            detail: String::new(),
        }
    }

    pub fn no(blocker: ResumeBlocker, detail: impl Into<String>) -> Self {
        Self {
            resumable: false,
            blocker: Some(blocker),
            detail: detail.into(),
        }
    }
}

/// A decision together with the name of the detection rule that produced it, so an operator can
/// ask "why does team-agent think my worker is busy?" (`team-agent plugins probe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict<T> {
    pub value: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl<T> Verdict<T> {
    pub fn by_rule(value: T, rule: impl Into<String>) -> Self {
        Self {
            value,
            rule: Some(rule.into()),
        }
    }
}

impl<T> From<T> for Verdict<T> {
    fn from(value: T) -> Self {
        Self { value, rule: None }
    }
}

/// The CLI's input box as a screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputBox {
    /// What it holds, as drawn (a folded paste as its placeholder, `[Pasted text #1 +4 lines]`);
    /// empty when it shows only its placeholder.
    pub text: String,
    /// Keys that remove some of it (pressed again until it is empty).
    pub clear_keys: Vec<String>,
}

/// What a transcript tail says about turns: the current one's state and the last that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnSummary {
    pub state: TurnState,
    /// The rule that judged `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The last turn in the tail that has ended, if one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ended: Option<EndedTurn>,
}

/// A turn that has ended, as its transcript records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedTurn {
    /// Names the turn among the others of the session (a record's id), so a turn is counted once.
    pub id: String,
    /// When it ended (RFC 3339), as the transcript says.
    pub ended_at: String,
    /// The last text the model wrote in the turn, if it wrote any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_text: Option<String>,
}

/// A captured screen or transcript with the verdict a careful reader gives it. Plugins may ship
/// their own (see [`crate::ProviderPlugin::fixtures`]); the conformance suite checks each one.
///
/// On disk (`team-agent plugins check --fixtures DIR`): `NAME.screen.txt` or
/// `NAME.transcript.jsonl`, with `NAME.expect.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixture {
    pub name: String,
    #[serde(default)]
    pub screen: Option<String>,
    #[serde(default)]
    pub transcript: Option<String>,
    /// `{"startup": "ready|answer|waiting|blocked", "keys": [...], "screen": "idle|busy|…"}` for a
    /// screen, `{"turn_state": "…"}` for a transcript.
    pub expect: serde_json::Value,
}

/// A fixture compiled into a plugin: its build script writes the table
/// (`fixture_dir::embed`, feature `fixture-dir`), and [`embedded_fixtures!`](crate::embedded_fixtures)
/// reads it back in `ProviderPlugin::fixtures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFixture {
    pub name: &'static str,
    pub screen: Option<&'static str>,
    pub transcript: Option<&'static str>,
    /// The expectation as JSON text (checked to be JSON when it was embedded).
    pub expect: &'static str,
}

impl EmbeddedFixture {
    pub fn to_fixture(&self) -> Fixture {
        Fixture {
            name: self.name.to_string(),
            screen: self.screen.map(str::to_string),
            transcript: self.transcript.map(str::to_string),
            expect: serde_json::from_str(self.expect).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The fixtures the crate's build script embedded (see `fixture_dir::embed`), as the
/// `Vec<Fixture>` that `ProviderPlugin::fixtures` answers.
#[macro_export]
macro_rules! embedded_fixtures {
    () => {{
        use $crate::EmbeddedFixture;
        let table: &[EmbeddedFixture] =
            include!(concat!(env!("OUT_DIR"), "/team-agent-fixtures.rs"));
        table
            .iter()
            .map(EmbeddedFixture::to_fixture)
            .collect::<::std::vec::Vec<_>>()
    }};
}
