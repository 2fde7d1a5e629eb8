/*! The command line that starts Claude Code for a worker: a fresh session under the session id
the host chose, a resume, or a fork into a new pre-assigned id; with the worker's permission
mode, model, system prompt, the team's MCP server and the host's hooks (a settings file of this
worker's own, see [`crate::hooks`]); and the environment to set and to strip. Only flags that
Claude Code 2.1.330's `--help` lists are used.
*/

use std::path::Path;

use serde_json::json;
use team_agent_plugin_api::{
    LaunchMode, LaunchPlan, LaunchRequest, LeaderRequest, McpServer, PermissionMode, PluginError,
};

use team_agent_provider_kit::{CliLaunch, is_uuid};

use crate::{ClaudeCode, hooks, transcript};

/// The executable this provider runs.
pub const EXECUTABLE: &str = "claude";

/// Inherited variables a worker must not see: the leader's tmux client (the worker has its own
/// pane); Claude Code's markers of "I am running inside Claude Code" (`CLAUDECODE`,
/// `CLAUDE_CODE_ENTRYPOINT`, the IDE port) and the modes a leader started with `--bare` or
/// `--safe-mode` hands its children (`CLAUDE_CODE_SIMPLE`, `CLAUDE_CODE_SAFE_MODE`), which would
/// change how the worker runs; a leader's effort level; Codex's thread and sandbox markers; and
/// `CLAUDE_CONFIG_DIR`, which would move the worker's transcripts away from `HOME/.claude` where
/// the plugin looks for them.
const ENV_UNSET: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SSE_PORT",
    "CLAUDE_CODE_SIMPLE",
    "CLAUDE_CODE_SAFE_MODE",
    "CLAUDE_EFFORT",
    "CLAUDE_CONFIG_DIR",
    "CODEX_THREAD_ID",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
];

/// The variable Claude Code asks about in its "Detected a custom API key" dialog.
pub const API_KEY_VAR: &str = "ANTHROPIC_API_KEY";

impl CliLaunch for ClaudeCode {
    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        if request.profile_env.contains_key("CLAUDE_CONFIG_DIR") {
            return Err(PluginError::invalid_request(
                "the agent's profile sets CLAUDE_CONFIG_DIR, which would hide the worker's transcripts from team-agent; remove it (each worker keeps its Claude state in its own HOME)",
            ));
        }
        let mut argv = vec![EXECUTABLE.to_string()];
        argv.extend(permission_flags(request.permission_mode).map(str::to_string));
        if let Some(model) = request.model.as_deref().filter(|m| !m.trim().is_empty()) {
            argv.extend(["--model".into(), model.to_string()]);
        }
        if !request.system_prompt.is_empty() {
            argv.extend([
                "--append-system-prompt".into(),
                request.system_prompt.clone(),
            ]);
        }
        if let Some(server) = &request.mcp_server {
            argv.extend(["--mcp-config".into(), mcp_config(server)?]);
            // Only the team's server: an MCP server from the user's or the project's settings could
            // stop the worker with an approval prompt of its own at startup.
            argv.push("--strict-mcp-config".into());
            // The team's own tools (report_result, send_message) never wait at Claude's "Do you want
            // to proceed?" prompt, whatever the permission mode: the team is what started the worker.
            // One value after `=`, so the variadic flag cannot swallow the arguments after it.
            argv.push(format!("--allowedTools={}", team_tools(server)));
        }
        let mut files = Vec::new();
        if let Some(setup) = &request.hooks {
            let settings = hooks::settings_file(setup)?;
            argv.extend([
                "--settings".into(),
                settings.path.to_string_lossy().into_owned(),
            ]);
            files.push(settings);
        }
        let session_id = match &request.mode {
            LaunchMode::Fresh => {
                let id = checked_uuid(&request.new_session_id, "new_session_id")?;
                argv.extend(["--session-id".into(), id.clone()]);
                id
            }
            LaunchMode::Resume { session_id } => {
                // A resumed Claude session keeps its id and goes on writing the same transcript.
                let id = checked_uuid(session_id, "mode.session_id")?;
                argv.extend(["--resume".into(), id.clone()]);
                id
            }
            LaunchMode::Fork { source_session_id } => {
                let source = checked_uuid(source_session_id, "mode.source_session_id")?;
                let id = checked_uuid(&request.new_session_id, "new_session_id")?;
                argv.extend([
                    "--resume".into(),
                    source,
                    "--fork-session".into(),
                    "--session-id".into(),
                    id.clone(),
                    // A fork inherits the source's recorded system prompt and would go on sending it,
                    // so the new worker would believe it is the source worker; without the snapshot
                    // the prompt of this launch is the one sent.
                    "--system-prompt-snapshot".into(),
                    "off".into(),
                ]);
                id
            }
        };
        Ok(LaunchPlan {
            argv,
            env: environment(request),
            env_unset: env_unset(request),
            expected_session_id: Some(session_id),
            transcript_dir: known(&request.home)
                .map(|home| transcript::project_dir(home, &request.cwd)),
            pre_steps: Vec::new(),
            files,
        })
    }

    /// The leader's Claude Code: the operator's arguments unchanged, then the team-agent MCP
    /// server (added to the user's own servers, not replacing them) and the instructions appended
    /// to Claude's system prompt. Injected flags go before a `--` the operator wrote, so they stay
    /// flags.
    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        let mut injected = Vec::new();
        if let Some(server) = &request.mcp_server {
            injected.extend(["--mcp-config".into(), mcp_config(server)?]);
            injected.push(format!("--allowedTools={}", team_tools(server)));
        }
        if !request.instructions.is_empty() {
            injected.extend([
                "--append-system-prompt".into(),
                request.instructions.clone(),
            ]);
        }
        let mut env = std::collections::BTreeMap::new();
        env.insert("DISABLE_AUTOUPDATER".into(), "1".into());
        Ok(LaunchPlan {
            argv: team_agent_provider_kit::leader_argv(EXECUTABLE, &request.args, injected),
            env,
            // The leader is the operator's own session: only the markers of an enclosing agent go.
            env_unset: vec![
                "CLAUDECODE".into(),
                "CLAUDE_CODE_ENTRYPOINT".into(),
                "CLAUDE_CODE_SSE_PORT".into(),
            ],
            expected_session_id: None,
            transcript_dir: None,
            pre_steps: Vec::new(),
            files: Vec::new(),
        })
    }
}

fn permission_flags(mode: PermissionMode) -> impl Iterator<Item = &'static str> {
    let flags: &[&str] = match mode {
        // Reads go ahead; every edit and command is asked about.
        PermissionMode::Restricted => &["--permission-mode", "manual"],
        // Edits inside the workspace go ahead; commands are asked about.
        PermissionMode::Ask => &["--permission-mode", "acceptEdits"],
        // Claude judges each action and runs the ones it finds safe without asking.
        PermissionMode::Trusted => &["--permission-mode", "auto"],
        PermissionMode::DangerousBypass => &["--dangerously-skip-permissions"],
    };
    flags.iter().copied()
}

/// The profile's variables, plus what every worker's Claude needs.
fn environment(request: &LaunchRequest) -> std::collections::BTreeMap<String, String> {
    let mut env = request.profile_env.clone();
    // Otherwise Claude tries to update itself through npm, globally, from inside the worker.
    env.insert("DISABLE_AUTOUPDATER".into(), "1".into());
    if request.permission_mode == PermissionMode::DangerousBypass {
        // Claude refuses --dangerously-skip-permissions when it runs as root (containers, CI)
        // unless told it is in a sandbox; the team's spec asked for the bypass explicitly, so
        // the refusal would only turn that choice into a dead worker.
        env.insert("IS_SANDBOX".into(), "1".into());
    }
    env
}

fn env_unset(request: &LaunchRequest) -> Vec<String> {
    let mut unset: Vec<String> = ENV_UNSET.iter().map(|v| v.to_string()).collect();
    // With no inherited key, the "Detected a custom API key" dialog can only be about the key the
    // agent's profile gave, which is what lets the startup handler answer it (see `screen`).
    if !request.profile_env.contains_key(API_KEY_VAR) {
        unset.push(API_KEY_VAR.into());
    }
    unset
}

/// Claude's permission rule for every tool of the team's MCP server.
pub fn team_tools(server: &McpServer) -> String {
    format!("mcp__{}__*", server.name)
}

/// `--mcp-config` takes a file or inline JSON; the host's file is preferred (it keeps the
/// server's environment out of the process list).
fn mcp_config(server: &McpServer) -> Result<String, PluginError> {
    if let Some(file) = &server.config_file {
        return Ok(file.to_string_lossy().into_owned());
    }
    if server.name.is_empty() || server.command.is_empty() {
        return Err(PluginError::invalid_request(
            "mcp_server needs a name and a command (or a config_file)",
        ));
    }
    let config = json!({"mcpServers": {&server.name: {
        "type": "stdio",
        "command": server.command,
        "args": server.args,
        "env": server.env,
    }}});
    Ok(config.to_string())
}

fn known(home: &Path) -> Option<&Path> {
    (!home.as_os_str().is_empty()).then_some(home)
}

/// Claude takes only UUIDs as session ids; anything else given to `--resume` would open its
/// session picker with a search term instead.
fn checked_uuid(id: &str, field: &str) -> Result<String, PluginError> {
    if is_uuid(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(PluginError::invalid_request(format!(
            "{field} must be a Claude Code session id (a UUID such as 4a082e59-7203-40ec-bf8a-cd3ea1a33c7e), got {id:?}"
        )))
    }
}
