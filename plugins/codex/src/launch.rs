/*! The command line that starts Codex for a worker: a fresh session, a resume or a fork, with
the worker's permission mode, model, system prompt, the team's MCP server and the host's hooks
(as `-c` config overrides, TOML-valued), the environment to set and to strip, and the login
pre-step when the agent's profile carries an API key. Only flags that Codex 0.169.0's `--help`
lists are used.
*/

use std::collections::BTreeMap;
use std::path::Path;

use team_agent_plugin_api::{
    LaunchMode, LaunchPlan, LaunchRequest, LeaderRequest, McpServer, PermissionMode, PluginError,
    PreStep,
};

use team_agent_provider_kit::CliLaunch;

use crate::{CodexCli, hooks, rollout};

/// The executable this provider runs.
pub const EXECUTABLE: &str = "codex";

/// Inherited variables a worker must not see: the leader's tmux client (the worker has its own
/// pane), Claude Code's and Codex's markers of "I am running inside an agent" (a worker that
/// inherits them believes it is a sub-process of the leader's session or sandbox), and
/// `CODEX_HOME`, which would move the worker's sessions away from `HOME/.codex` where the plugin
/// looks for them.
const ENV_UNSET: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CODEX_THREAD_ID",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
    "CODEX_HOME",
];

/// How long Codex waits for one call to the team's MCP server; some of its tools wait for
/// teammates, so Codex's default would cut them off.
const MCP_TOOL_TIMEOUT_SEC: &str = "600.0";

/// The profile variable that names an OpenAI-compatible endpoint (a gateway such as LiteLLM, or
/// a test's scripted model). Codex 0.169.0 no longer reads it itself, so the plan turns it into a
/// model provider of its own.
pub const BASE_URL_VAR: &str = "OPENAI_BASE_URL";

/// The profile variable holding the API key.
pub const API_KEY_VAR: &str = "OPENAI_API_KEY";

/// The id of the model provider a profile's endpoint becomes (a bare key, unlikely to collide
/// with one of the user's own providers).
pub const GATEWAY_PROVIDER: &str = "team_agent_gateway";

impl CliLaunch for CodexCli {
    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        if request.profile_env.contains_key("CODEX_HOME") {
            return Err(PluginError::invalid_request(
                "the agent's profile sets CODEX_HOME, which would hide the worker's sessions from team-agent; remove it (each worker keeps its Codex state in its own HOME)",
            ));
        }
        let mut argv = vec![EXECUTABLE.to_string()];
        let (session, expected_session_id) = match &request.mode {
            LaunchMode::Fresh => (None, None),
            LaunchMode::Resume { session_id } => {
                argv.push("resume".into());
                let id = checked_session_id(session_id, "mode.session_id")?;
                // A resumed Codex session keeps its id and its rollout file.
                (Some(id.clone()), Some(id))
            }
            LaunchMode::Fork { source_session_id } => {
                argv.push("fork".into());
                let id = checked_session_id(source_session_id, "mode.source_session_id")?;
                (Some(id), None)
            }
        };
        // Inline mode keeps what Codex draws in the pane's scrollback for capture; without
        // `--no-daemon` Codex hands its work to a background server that outlives the pane.
        argv.extend(["--no-alt-screen".into(), "--no-daemon".into()]);
        argv.extend(
            permission_flags(request.permission_mode)
                .iter()
                .map(|f| f.to_string()),
        );
        if let Some(model) = request.model.as_deref().filter(|m| !m.trim().is_empty()) {
            argv.extend(["--model".into(), model.to_string()]);
        }
        if !request.system_prompt.is_empty() {
            argv.extend(config_override(
                "developer_instructions",
                &toml_string(&request.system_prompt),
            ));
        }
        if let Some(server) = &request.mcp_server {
            argv.extend(mcp_overrides(server)?);
        }
        if let Some(url) = request.profile_env.get(BASE_URL_VAR) {
            argv.extend(gateway_overrides(url)?);
        }
        argv.extend(option_overrides(&request.options)?);
        // After the agent's own overrides, so none of them can change a hook and void its trust.
        if let Some(setup) = &request.hooks {
            argv.extend(hooks::overrides(setup)?);
        }
        argv.extend(session);
        let home = known_home(&request.home);
        Ok(LaunchPlan {
            argv,
            env: request.profile_env.clone(),
            env_unset: ENV_UNSET.iter().map(|v| v.to_string()).collect(),
            expected_session_id,
            transcript_dir: home.map(rollout::sessions_dir),
            pre_steps: login_step(request).into_iter().collect(),
            files: Vec::new(),
        })
    }

    /// The leader's Codex: the operator's arguments unchanged, then the team-agent MCP server and
    /// the instructions as `-c` overrides (developer instructions, which Codex adds to every
    /// turn). Injected flags go before a `--` the operator wrote, so they stay flags.
    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        let mut injected = Vec::new();
        if let Some(server) = &request.mcp_server {
            injected.extend(mcp_overrides(server)?);
        }
        if !request.instructions.is_empty() {
            injected.extend(config_override(
                "developer_instructions",
                &toml_string(&request.instructions),
            ));
        }
        let argv = team_agent_provider_kit::leader_argv(EXECUTABLE, &request.args, injected);
        Ok(LaunchPlan {
            argv,
            env: BTreeMap::new(),
            // The leader is the operator's own session: only the markers of an enclosing agent go.
            env_unset: vec![
                "CODEX_THREAD_ID".into(),
                "CODEX_SANDBOX".into(),
                "CODEX_SANDBOX_NETWORK_DISABLED".into(),
            ],
            expected_session_id: None,
            transcript_dir: None,
            pre_steps: Vec::new(),
            files: Vec::new(),
        })
    }
}

fn permission_flags(mode: PermissionMode) -> &'static [&'static str] {
    match mode {
        PermissionMode::Restricted => {
            &["--sandbox", "read-only", "--ask-for-approval", "on-request"]
        }
        PermissionMode::Ask => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "on-request",
        ],
        // `never` returns a failed command to the model instead of asking; Codex 0.169.0 has no
        // `untrusted` policy any more.
        PermissionMode::Trusted => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "never",
        ],
        PermissionMode::DangerousBypass => &["--dangerously-bypass-approvals-and-sandbox"],
    }
}

/// `-c mcp_servers.<name>.…` overrides that declare the team's MCP server as a stdio server.
fn mcp_overrides(server: &McpServer) -> Result<Vec<String>, PluginError> {
    // Codex splits the key of `-c` on dots and does not read quoted keys, so names must be bare.
    if !is_bare_key(&server.name) {
        return Err(PluginError::invalid_request(format!(
            "mcp_server.name {:?} must be letters, digits, '-' or '_' to be a Codex config key",
            server.name
        )));
    }
    let prefix = format!("mcp_servers.{}", server.name);
    let args: Vec<String> = server.args.iter().map(|a| toml_string(a)).collect();
    let mut argv = Vec::new();
    argv.extend(config_override(
        &format!("{prefix}.command"),
        &toml_string(&server.command),
    ));
    argv.extend(config_override(
        &format!("{prefix}.args"),
        &format!("[{}]", args.join(", ")),
    ));
    for (key, value) in &server.env {
        if !is_env_name(key) {
            return Err(PluginError::invalid_request(format!(
                "mcp_server.env has the variable name {key:?}; use letters, digits and '_'"
            )));
        }
        argv.extend(config_override(
            &format!("{prefix}.env.{key}"),
            &toml_string(value),
        ));
    }
    argv.extend(config_override(
        &format!("{prefix}.tool_timeout_sec"),
        MCP_TOOL_TIMEOUT_SEC,
    ));
    // The team's own tools (report_result, send_message) must never stop a worker at Codex's
    // "Allow the team MCP server to run tool" prompt: the team is what started the worker.
    argv.extend(config_override(
        &format!("{prefix}.default_tools_approval_mode"),
        &toml_string("approve"),
    ));
    Ok(argv)
}

/// `-c` overrides that make the profile's endpoint the worker's model provider: the Responses
/// API at `url`, the key from the profile's `OPENAI_API_KEY`.
fn gateway_overrides(url: &str) -> Result<Vec<String>, PluginError> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(PluginError::invalid_request(format!(
            "the agent's profile sets {BASE_URL_VAR}={url:?}; it must be an http:// or https:// URL such as https://gateway.example/v1"
        )));
    }
    let prefix = format!("model_providers.{GATEWAY_PROVIDER}");
    let mut argv = Vec::new();
    for (key, value) in [
        (
            "name",
            "OpenAI-compatible endpoint from the agent's profile",
        ),
        ("base_url", url),
        ("env_key", API_KEY_VAR),
        ("wire_api", "responses"),
    ] {
        argv.extend(config_override(
            &format!("{prefix}.{key}"),
            &toml_string(value),
        ));
    }
    argv.extend(config_override(
        "model_provider",
        &toml_string(GATEWAY_PROVIDER),
    ));
    Ok(argv)
}

/// The agent's `provider_options.config`: Codex settings as `-c KEY=VALUE` overrides, for what
/// the spec has no field for (`model_reasoning_effort`, a provider's retry counts, …).
fn option_overrides(
    options: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<String>, PluginError> {
    let mut argv = Vec::new();
    for (name, value) in options {
        if name != "config" {
            return Err(PluginError::invalid_request(format!(
                "provider_options.{name} is not a Codex option; the one option is `config`, a map of Codex settings (`-c` overrides) such as {{model_reasoning_effort: high}}"
            )));
        }
        let Some(table) = value.as_object() else {
            return Err(PluginError::invalid_request(
                "provider_options.config must be a map of Codex settings, e.g. {model_reasoning_effort: high}",
            ));
        };
        for (key, value) in table {
            if key.is_empty() || !key.split('.').all(is_bare_key) {
                return Err(PluginError::invalid_request(format!(
                    "provider_options.config has the key {key:?}; Codex reads only dotted bare keys (letters, digits, '-', '_')"
                )));
            }
            let value = toml_value(value).ok_or_else(|| {
                PluginError::invalid_request(format!(
                    "provider_options.config.{key} is null; give a string, number, boolean, list or map"
                ))
            })?;
            argv.extend(config_override(key, &value));
        }
    }
    Ok(argv)
}

/// A JSON value written as a TOML value (inline tables for maps); `None` for null.
fn toml_value(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_string(s),
        Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_value).collect();
            format!("[{}]", items?.join(", "))
        }
        Value::Object(map) => {
            let mut entries = Vec::new();
            for (k, v) in map {
                let key = if is_bare_key(k) {
                    k.clone()
                } else {
                    toml_string(k)
                };
                entries.push(format!("{key} = {}", toml_value(v)?));
            }
            format!("{{{}}}", entries.join(", "))
        }
    })
}

pub(crate) fn config_override(key: &str, toml_value: &str) -> [String; 2] {
    ["-c".into(), format!("{key}={toml_value}")]
}

/// `text` as a TOML basic string. Codex parses a `-c` value as TOML and falls back to the raw
/// text when that fails, so an unescaped quote or newline would silently change the value.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `codex login --with-api-key` with the profile's key on stdin, unless this HOME has a login.
fn login_step(request: &LaunchRequest) -> Option<PreStep> {
    let key = request
        .profile_env
        .get(API_KEY_VAR)
        .filter(|k| !k.trim().is_empty())?;
    let home = known_home(&request.home);
    let mut env = BTreeMap::new();
    if let Some(home) = home {
        // The login must land where the worker's Codex will look for it.
        env.insert("HOME".to_string(), home.to_string_lossy().into_owned());
    }
    Some(PreStep {
        description: "log Codex in with the API key from the agent's profile".into(),
        argv: vec![EXECUTABLE.into(), "login".into(), "--with-api-key".into()],
        stdin: Some(format!("{key}\n")),
        env,
        // Codex refuses a CODEX_HOME that does not exist yet (a fresh machine has no ~/.codex);
        // without the variable it uses HOME/.codex, creating it, as the worker will.
        env_unset: vec!["CODEX_HOME".into()],
        unless_exists: home.map(|h| h.join(".codex").join("auth.json")),
    })
}

fn known_home(home: &Path) -> Option<&Path> {
    (!home.as_os_str().is_empty()).then_some(home)
}

/// A session id safe to put last on Codex's command line (never mistaken for a flag).
fn checked_session_id(id: &str, field: &str) -> Result<String, PluginError> {
    let valid = id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(id.to_string())
    } else {
        Err(PluginError::invalid_request(format!(
            "{field} must be a Codex session id (a UUID such as 01a205da-c737-7cf1-bdf7-549c91c21505), got {id:?}"
        )))
    }
}

fn is_bare_key(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
