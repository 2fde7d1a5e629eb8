/*! The command line that starts Gemini CLI for a worker: a fresh session under the session id
the host chose, or a resume of one (Gemini cannot fork a session); with the worker's approval
mode and model, in a Gemini home of the worker's own whose settings and `GEMINI.md` the plan
writes; and the environment to set and to strip. Only flags that Gemini CLI 0.61.0's `--help`
lists are used.

Why a home of its own (`GEMINI_CLI_HOME`, which moves everything Gemini keeps under `~/.gemini`):
the team's MCP server, the hooks and the login must be this worker's and never touch the user's
`~/.gemini/settings.json`, and Gemini has no flag for any of them. Its other way in, a system
settings file (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`), is skipped with a warning when any directory
above it is writable by others (as `/tmp` is), so a workspace there would silently lose them.
The home lies in the worker's hook directory, so the host writes the files there; its sessions
live there too (see [`crate::capture`]).
*/

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use team_agent_plugin_api::{
    HookSetup, LaunchMode, LaunchPlan, LaunchRequest, LeaderRequest, McpServer, PermissionMode,
    PlannedFile, PluginError,
};
use team_agent_provider_kit::{CliLaunch, is_uuid};

use crate::{GeminiCli, hooks, transcript};

/// The executable this provider runs.
pub const EXECUTABLE: &str = "gemini";

/// The directory in the worker's hook directory that is its Gemini home.
pub const HOME_DIR: &str = "gemini-home";

/// The variable that moves Gemini's `~/.gemini`.
pub const HOME_VAR: &str = "GEMINI_CLI_HOME";

/// Inherited variables a worker must not see: the leader's tmux client (the worker has its own
/// pane); `GEMINI_SYSTEM_MD` and `GEMINI_WRITE_SYSTEM_MD`, which would replace Gemini's system
/// prompt (and the worker's instructions in it) with a file of the operator's; the marker Gemini
/// sets for the programs it runs (`GEMINI_CLI`); the markers of the other agent CLIs; and the
/// CI markers: with `CI=true` or `GITHUB_ACTIONS=true` Gemini CLI 0.61.0 runs headless even on a
/// terminal, and in a pane with no prompt it exits at once with status 42 ("No input provided
/// via stdin"), which is what a team started from a CI job's shell would see.
const ENV_UNSET: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "GEMINI_SYSTEM_MD",
    "GEMINI_WRITE_SYSTEM_MD",
    "GEMINI_CLI",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SSE_PORT",
    "CODEX_THREAD_ID",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
    "CI",
    "GITHUB_ACTIONS",
];

/// Milliseconds Gemini waits for the team's MCP server to answer a call.
const MCP_TIMEOUT_MS: u64 = 600_000;

impl CliLaunch for GeminiCli {
    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        if request.profile_env.contains_key(HOME_VAR) {
            return Err(PluginError::invalid_request(format!(
                "the agent's profile sets {HOME_VAR}, which would move the worker's Gemini home away from the one team-agent configures; remove it (each worker gets a Gemini home of its own)"
            )));
        }
        let setup = request.hooks.as_ref().ok_or_else(|| {
            PluginError::invalid_request(
                "the gemini plugin needs the worker's hook directory (`hooks`): the worker's Gemini home and settings live there",
            )
        })?;
        let home = gemini_home(setup);
        let mut argv = vec![EXECUTABLE.to_string()];
        argv.extend([
            "--approval-mode".into(),
            approval_mode(request.permission_mode).into(),
        ]);
        if let Some(model) = request.model.as_deref().filter(|m| !m.trim().is_empty()) {
            argv.extend(["--model".into(), model.to_string()]);
        }
        // The host started the worker in the team's own directory; Gemini's trust dialog would
        // only stop it there.
        argv.push("--skip-trust".into());
        let session_id = match &request.mode {
            LaunchMode::Fresh => {
                let id = checked_uuid(&request.new_session_id, "new_session_id")?;
                argv.extend(["--session-id".into(), id.clone()]);
                id
            }
            LaunchMode::Resume { session_id } => {
                // A resumed Gemini session keeps its id and goes on writing the same file.
                let id = checked_uuid(session_id, "mode.session_id")?;
                argv.extend(["--resume".into(), id.clone()]);
                id
            }
            LaunchMode::Fork { .. } => {
                return Err(PluginError::unsupported(
                    "Gemini CLI cannot fork a session: it has no way to copy one under a new id it is given",
                ));
            }
        };
        let mut env = request.profile_env.clone();
        env.insert(HOME_VAR.into(), home.to_string_lossy().into_owned());
        Ok(LaunchPlan {
            argv,
            env,
            env_unset: ENV_UNSET.iter().map(|v| v.to_string()).collect(),
            expected_session_id: Some(session_id),
            transcript_dir: Some(transcript::project_root(&home)),
            pre_steps: Vec::new(),
            files: files(request, setup, &home)?,
        })
    }

    /// Gemini CLI does not lead a team here: the leader is Claude Code or Codex.
    fn leader_plan(&self, _request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        Err(PluginError::unsupported(
            "Gemini CLI cannot be the leader yet: start the leader with `team-agent claude` or `team-agent codex`",
        ))
    }
}

/// The worker's Gemini home: `HOOK_DIR/gemini-home` (Gemini keeps its files in `.gemini` there).
pub fn gemini_home(setup: &HookSetup) -> PathBuf {
    setup.dir.join(HOME_DIR)
}

/// The settings file, and the system prompt as the home's `GEMINI.md` (Gemini sends it with its
/// own system instruction, as the user's memory).
fn files(
    request: &LaunchRequest,
    setup: &HookSetup,
    home: &Path,
) -> Result<Vec<PlannedFile>, PluginError> {
    let dot = home.join(".gemini");
    let mut files = vec![PlannedFile {
        path: dot.join("settings.json"),
        // `{:#}`: pretty, for the operator who opens the file.
        contents: format!("{:#}", settings(request, setup)?),
    }];
    if !request.system_prompt.trim().is_empty() {
        files.push(PlannedFile {
            path: dot.join("GEMINI.md"),
            contents: format!("{}\n", request.system_prompt.trim_end()),
        });
    }
    Ok(files)
}

/// The worker's settings: the login the profile's key gives, nothing that reaches the network
/// on its own (update checks, usage statistics, telemetry), the team's MCP server and the hooks.
fn settings(request: &LaunchRequest, setup: &HookSetup) -> Result<Value, PluginError> {
    let vertex = request
        .profile_env
        .get("GOOGLE_GENAI_USE_VERTEXAI")
        .is_some_and(|v| v == "true" || v == "1");
    let mut settings = json!({
        "security": {"auth": {"selectedType": if vertex { "vertex-ai" } else { "gemini-api-key" }}},
        "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
        "privacy": {"usageStatisticsEnabled": false},
        "telemetry": {"enabled": false},
        "hooksConfig": {"enabled": true},
        "hooks": hooks::settings(setup)?,
    });
    if let Some(server) = &request.mcp_server {
        settings["mcpServers"] = mcp_servers(server)?;
    }
    if matches!(request.mode, LaunchMode::Resume { .. }) {
        // Gemini 0.61.0 draws its banner and an input box that takes a prompt before it loads
        // the resumed conversation, and a prompt taken then goes out without it. Without the
        // banner and tips that first screen is an input box alone, which the screen rules do not
        // take for ready (see `screen`); the resumed history drawn above it is the sign.
        settings["ui"] = json!({"hideBanner": true, "hideTips": true});
    }
    Ok(settings)
}

/// The team's server, trusted: its tools (report_result, send_message) never wait at Gemini's
/// approval prompt, whatever the approval mode, since the team is what started the worker.
fn mcp_servers(server: &McpServer) -> Result<Value, PluginError> {
    if server.name.is_empty() || server.command.is_empty() {
        return Err(PluginError::invalid_request(
            "mcp_server needs a name and a command",
        ));
    }
    let env: Map<String, Value> = server
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Ok(json!({ &server.name: {
        "command": server.command,
        "args": server.args,
        "env": env,
        "trust": true,
        "timeout": MCP_TIMEOUT_MS,
    }}))
}

/// Gemini's approval modes for the team's permission modes.
fn approval_mode(mode: PermissionMode) -> &'static str {
    match mode {
        // Reads go ahead; every edit and command is asked about.
        PermissionMode::Restricted => "default",
        // Edits go ahead; commands are asked about. Gemini has no mode that judges each action,
        // so `trusted` is the same.
        PermissionMode::Ask | PermissionMode::Trusted => "auto_edit",
        PermissionMode::DangerousBypass => "yolo",
    }
}

/// Gemini takes a UUID for `--session-id`, and `--resume` reads anything else as a list index.
fn checked_uuid(id: &str, field: &str) -> Result<String, PluginError> {
    if is_uuid(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(PluginError::invalid_request(format!(
            "{field} must be a Gemini CLI session id (a UUID such as 4a082e59-7203-40ec-bf8a-cd3ea1a33c7e), got {id:?}"
        )))
    }
}
