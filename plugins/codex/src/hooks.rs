/*! Codex's hooks for one worker, both halves: the `-c` overrides that have Codex run the host's
hook command at its lifecycle events and at the end of each turn (`notify`), and what one call of
them says ([`event`]).

Codex 0.169.0 runs a hook from outside managed config only once it is trusted, and otherwise asks
at start ("Hooks need review"). The trust is the hook's content hash under a key naming where the
hook was defined, and it may come on the command line beside the hook: the plan passes both, so
Codex neither asks nor needs `--dangerously-bypass-hook-trust` (which would also run the
untrusted hooks of the repository the worker is in). It is all `-c` for this one process; the
worker's `~/.codex` is left alone.

A lifecycle hook gets one JSON object (snake_case fields) on stdin. `notify` gets its own
(kebab-case) as one more, last argument, and also fires when Codex's session-title side thread
ends, mid-turn; that one is told apart by its `thread-id`, which is not the worker's session.
*/

use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use team_agent_plugin_api::{HookEvent, HookPayload, HookSetup, PluginError};

use crate::launch::{config_override, toml_string};

pub const SESSION_START: &str = "SessionStart";
pub const USER_PROMPT_SUBMIT: &str = "UserPromptSubmit";
pub const PRE_TOOL_USE: &str = "PreToolUse";
pub const PERMISSION_REQUEST: &str = "PermissionRequest";
pub const POST_TOOL_USE: &str = "PostToolUse";
pub const STOP: &str = "Stop";
/// The word after the hook command for Codex's `notify` program (not one of its hook events).
pub const NOTIFY: &str = "notify";

/// The lifecycle events the plan hooks, each with the snake_case name Codex's trust keys and
/// hashes use.
const LIFECYCLE: [(&str, &str); 6] = [
    (SESSION_START, "session_start"),
    (USER_PROMPT_SUBMIT, "user_prompt_submit"),
    (PRE_TOOL_USE, "pre_tool_use"),
    (PERMISSION_REQUEST, "permission_request"),
    (POST_TOOL_USE, "post_tool_use"),
    (STOP, "stop"),
];

/// The [`HookEvent`] kinds these hooks report.
pub const EMITTED: [&str; 6] = [
    "session_started",
    "prompt_submitted",
    "tool_started",
    "tool_finished",
    "awaiting_approval",
    "turn_ended",
];

/// How long Codex lets one hook run. Codex waits for a lifecycle hook (Stop holds up the end of
/// the turn) and `team-agent hook` returns within milliseconds, so a hung one is cut off soon.
const TIMEOUT_SEC: u32 = 10;

/// Where Codex says a hook given with `-c` was defined, in its trust keys.
const SESSION_FLAGS_SOURCE: &str = "/<session-flags>/config.toml";

/// The one notification Codex 0.169.0 sends.
const TURN_COMPLETE: &str = "agent-turn-complete";

/// How much of a tool's input an approval's description carries.
const APPROVAL_CHARS: usize = 200;

/// The `-c` overrides for the hooks of one worker: each lifecycle event's command hook, their
/// trust, and `notify`.
pub fn overrides(setup: &HookSetup) -> Result<Vec<String>, PluginError> {
    if setup
        .command
        .first()
        .is_none_or(|program| program.is_empty())
    {
        return Err(PluginError::invalid_request(
            "hooks.command is empty; it must start with the program to run",
        ));
    }
    let mut argv = Vec::new();
    let mut trust = Vec::new();
    for (event, snake) in LIFECYCLE {
        let command = shell_command(&setup.command, event);
        argv.extend(config_override(
            &format!("hooks.{event}"),
            &format!(
                "[{{hooks = [{{type = \"command\", command = {}, timeout = {TIMEOUT_SEC}}}]}}]",
                toml_string(&command)
            ),
        ));
        trust.push(format!(
            "{} = {{trusted_hash = {}}}",
            toml_string(&trust_key(snake)),
            toml_string(&trusted_hash(snake, &command, TIMEOUT_SEC))
        ));
    }
    // One inline table: the keys hold dots (`config.toml`), which a dotted `-c` key would split.
    argv.extend(config_override(
        "hooks.state",
        &format!("{{{}}}", trust.join(", ")),
    ));
    let notify: Vec<String> = setup
        .command
        .iter()
        .map(String::as_str)
        .chain([NOTIFY])
        .map(toml_string)
        .collect();
    argv.extend(config_override(
        "notify",
        &format!("[{}]", notify.join(", ")),
    ));
    Ok(argv)
}

/// Codex runs a hook's `command` through a shell: each word quoted, the event's name last.
fn shell_command(command: &[String], event: &str) -> String {
    command
        .iter()
        .map(String::as_str)
        .chain([event])
        .map(shell_quoted)
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The key of the first (only) handler of the first (only) group of `event` defined with `-c`.
fn trust_key(event_snake: &str) -> String {
    format!("{SESSION_FLAGS_SOURCE}:{event_snake}:0:0")
}

/// What Codex records as trusted for a command hook: the SHA-256 of the normalized definition
/// as compact JSON with sorted keys (`timeout` always present, `matcher` and `statusMessage` only
/// when set, which they are not here).
pub(crate) fn trusted_hash(event_snake: &str, command: &str, timeout_sec: u32) -> String {
    let normalized = format!(
        r#"{{"event_name":{},"hooks":[{{"async":false,"command":{},"timeout":{timeout_sec},"type":"command"}}]}}"#,
        Value::from(event_snake),
        Value::from(command)
    );
    let mut hash = String::from("sha256:");
    for byte in Sha256::digest(normalized.as_bytes()) {
        let _ = write!(hash, "{byte:02x}");
    }
    hash
}

/// What one call of a hook the plan configured says.
pub fn event(call: &HookPayload) -> Result<HookEvent, PluginError> {
    let event = call.event.as_str();
    if event == NOTIFY {
        return notification(call);
    }
    if !LIFECYCLE.iter().any(|(name, _)| *name == event) {
        return Ok(HookEvent::Ignored);
    }
    let fields = object(&call.payload, &format!("Codex's {event} hook"))?;
    let named = optional_text(&fields, event, "hook_event_name")?;
    if named.as_deref().is_some_and(|name| name != event) {
        return Err(PluginError::invalid_request(format!(
            "a {event} hook's payload names the event {:?}",
            named.unwrap_or_default()
        )));
    }
    Ok(match event {
        SESSION_START => HookEvent::SessionStarted {
            session_id: optional_text(&fields, event, "session_id")?,
        },
        USER_PROMPT_SUBMIT => HookEvent::PromptSubmitted {
            prompt: text(&fields, event, "prompt")?,
        },
        PRE_TOOL_USE => HookEvent::ToolStarted {
            tool: text(&fields, event, "tool_name")?,
        },
        POST_TOOL_USE => HookEvent::ToolFinished {
            tool: text(&fields, event, "tool_name")?,
        },
        PERMISSION_REQUEST => HookEvent::AwaitingApproval {
            prompt: approval(&fields, event)?,
        },
        STOP => HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: optional_text(&fields, event, "last_assistant_message")?,
        },
        _ => HookEvent::Ignored,
    })
}

/// `notify`'s end of a turn, when it is the worker's own thread's: the title side thread's, and
/// any before the host knows the worker's session, are not.
fn notification(call: &HookPayload) -> Result<HookEvent, PluginError> {
    let fields = object(&call.payload, "Codex's notify")?;
    if optional_text(&fields, NOTIFY, "type")?.as_deref() != Some(TURN_COMPLETE) {
        return Ok(HookEvent::Ignored);
    }
    let thread = optional_text(&fields, NOTIFY, "thread-id")?;
    if thread.is_none() || thread != call.session_id {
        return Ok(HookEvent::Ignored);
    }
    let prompts = match fields.get("input-messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                PluginError::invalid_request(
                    "a notify payload's \"input-messages\" must be a list of strings",
                )
            })?,
        Some(other) => {
            return Err(PluginError::invalid_request(format!(
                "a notify payload's \"input-messages\" must be a list of strings, not {other}"
            )));
        }
    };
    Ok(HookEvent::TurnEnded {
        prompts,
        last_text: optional_text(&fields, NOTIFY, "last-assistant-message")?,
    })
}

/// What a PermissionRequest asks: the tool, and its command and the model's reason for it when
/// the input has them (a shell call does), else the input itself; shortened.
fn approval(fields: &Map<String, Value>, event: &str) -> Result<String, PluginError> {
    let tool = text(fields, event, "tool_name")?;
    let input = fields.get("tool_input").unwrap_or(&Value::Null);
    let command = input.get("command").and_then(Value::as_str);
    let description = input.get("description").and_then(Value::as_str);
    let asked = match (command, description) {
        (Some(command), Some(description)) => format!("{tool}: {command} ({description})"),
        (Some(what), None) | (None, Some(what)) => format!("{tool}: {what}"),
        (None, None) if input.is_null() => tool,
        (None, None) => format!("{tool}: {input}"),
    };
    Ok(shortened(&asked, APPROVAL_CHARS))
}

fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn object(payload: &str, what: &str) -> Result<Map<String, Value>, PluginError> {
    serde_json::from_str(payload).map_err(|e| {
        PluginError::invalid_request(format!("the payload of {what} is not a JSON object: {e}"))
    })
}

fn text(fields: &Map<String, Value>, event: &str, name: &str) -> Result<String, PluginError> {
    optional_text(fields, event, name)?.ok_or_else(|| {
        PluginError::invalid_request(format!("a {event} hook's payload has no \"{name}\""))
    })
}

/// A string field; absent or null is `None`, anything else an error naming the field.
fn optional_text(
    fields: &Map<String, Value>,
    event: &str,
    name: &str,
) -> Result<Option<String>, PluginError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(PluginError::invalid_request(format!(
            "a {event} hook's \"{name}\" must be a string, not {other}"
        ))),
    }
}
