/*! Gemini CLI's hooks for one worker, both halves: the `hooks` section of the worker's settings
that has Gemini run the host's hook command at its events ([`settings`]), and what one call of it
says ([`event`]).

The settings are the worker's own (see [`crate::launch`]); Gemini 0.61.0 runs hooks from the
user settings of its home without asking. Each hook is a shell command, so the host's command is
quoted word by word and the event's name follows as one more word; a hook without a `matcher`
runs for every tool, MCP tools included. Gemini shows `Executing Hook: …` on its screen while
one runs.

Gemini writes one JSON object to the hook's stdin: `session_id`, `transcript_path`, `cwd`,
`hook_event_name` and `timestamp` always, then the event's own fields (`source`, `prompt`,
`prompt_response`, `tool_name` and `tool_input`, `notification_type` and `message`).
`src/tests/hook-payloads/` holds real ones.
*/

use serde_json::{Map, Value, json};
use team_agent_plugin_api::{HookEvent, HookPayload, HookSetup, PluginError};
use team_agent_provider_kit::{HookFields, command_line};

/// Milliseconds Gemini waits for one hook: the host's command returns within milliseconds, and a
/// hook that hung would hold the turn.
const TIMEOUT_MS: u32 = 10_000;

const SESSION_START: &str = "SessionStart";
const BEFORE_AGENT: &str = "BeforeAgent";
const BEFORE_TOOL: &str = "BeforeTool";
const AFTER_TOOL: &str = "AfterTool";
const NOTIFICATION: &str = "Notification";
const AFTER_AGENT: &str = "AfterAgent";

/// The Gemini events the settings hook.
const EVENTS: [&str; 6] = [
    SESSION_START,
    BEFORE_AGENT,
    BEFORE_TOOL,
    AFTER_TOOL,
    NOTIFICATION,
    AFTER_AGENT,
];

/// The [`HookEvent`] kinds these hooks report.
pub const KINDS: [&str; 6] = [
    "session_started",
    "prompt_submitted",
    "tool_started",
    "tool_finished",
    "awaiting_approval",
    "turn_ended",
];

/// The `notification_type` of a notification that asks the user to approve a tool call.
const APPROVAL_NOTIFICATION: &str = "ToolPermission";

/// The `hooks` section of the worker's settings: every event runs the host's command.
pub fn settings(setup: &HookSetup) -> Result<Value, PluginError> {
    let command = command_line(&setup.command)?;
    let hooks: Map<String, Value> = EVENTS
        .iter()
        .map(|event| {
            let hook = json!({
                "name": format!("team-agent-{event}"),
                "type": "command",
                "command": format!("{command} {event}"),
                "timeout": TIMEOUT_MS,
            });
            (event.to_string(), json!([{ "hooks": [hook] }]))
        })
        .collect();
    Ok(Value::Object(hooks))
}

/// What one call of a hook says. The payload's `hook_event_name` names the event; the word the
/// settings put after the command is the fallback.
pub fn event(call: &HookPayload) -> Result<HookEvent, PluginError> {
    let payload = HookFields::parse("Gemini CLI", call)?;
    let name = payload.event_name();
    let event = match name {
        SESSION_START => HookEvent::SessionStarted {
            session_id: payload.text("session_id").map(str::to_string),
        },
        BEFORE_AGENT => HookEvent::PromptSubmitted {
            prompt: payload.required("prompt", name)?,
        },
        BEFORE_TOOL => HookEvent::ToolStarted {
            tool: payload.required("tool_name", name)?,
        },
        AFTER_TOOL => HookEvent::ToolFinished {
            tool: payload.required("tool_name", name)?,
        },
        NOTIFICATION => notification(&payload)?,
        AFTER_AGENT => HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: payload
                .text("prompt_response")
                .filter(|t| !t.trim().is_empty())
                .map(str::to_string),
        },
        _ => HookEvent::Ignored,
    };
    Ok(event)
}

/// A tool permission request, in the words of Gemini's notification and, for a shell command,
/// with the command.
fn notification(payload: &HookFields<'_>) -> Result<HookEvent, PluginError> {
    let message = payload.required("message", NOTIFICATION)?;
    if payload.text("notification_type") != Some(APPROVAL_NOTIFICATION) {
        return Ok(HookEvent::Ignored);
    }
    let command = payload
        .get("details")
        .and_then(|details| details.get("command"))
        .and_then(Value::as_str);
    Ok(HookEvent::AwaitingApproval {
        prompt: match command {
            Some(command) => format!("{message}: {command}"),
            None => message,
        },
    })
}
