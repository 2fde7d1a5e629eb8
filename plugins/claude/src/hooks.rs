/*! Claude Code's hooks for one worker, both halves: the settings file that has Claude run the
host's hook command at its events ([`settings_file`], passed with `--settings`), and what one
call of it says ([`event`]).

The file is this worker's own: `--settings` adds it to whatever the worker's `~/.claude` holds,
which is left alone. Claude Code 2.1.330 runs hooks from it without asking (no dialog at start).
Each hook is a shell command (Claude runs it with bash), so the host's command is quoted word by
word and the event's name follows as one more word. Without a `matcher` a tool event's hook runs
for every tool, MCP tools included.

Claude writes one JSON object to the hook's stdin: `session_id`, `transcript_path`, `cwd` and
`hook_event_name` always, then the event's own fields (`prompt`, `tool_name`, `message` and
`notification_type`, `last_assistant_message`, …). `src/tests/hook-payloads/` holds real ones.
*/

use serde_json::{Map, Value, json};
use team_agent_plugin_api::{HookEvent, HookPayload, HookSetup, PlannedFile, PluginError};
use team_agent_provider_kit::{HookFields, command_line};

/// The settings file's name in [`HookSetup::dir`].
pub const SETTINGS_FILE: &str = "claude-settings.json";

/// Seconds Claude waits for one hook: the host's command returns within milliseconds, and a hook
/// that hung would hold the turn.
const TIMEOUT_SEC: u32 = 10;

const SESSION_START: &str = "SessionStart";
const USER_PROMPT_SUBMIT: &str = "UserPromptSubmit";
const PRE_TOOL_USE: &str = "PreToolUse";
const PERMISSION_REQUEST: &str = "PermissionRequest";
const POST_TOOL_USE: &str = "PostToolUse";
const POST_TOOL_USE_FAILURE: &str = "PostToolUseFailure";
const NOTIFICATION: &str = "Notification";
const STOP: &str = "Stop";
const STOP_FAILURE: &str = "StopFailure";

/// The Claude Code events the settings file hooks. A tool that fails ends in
/// `PostToolUseFailure`, not `PostToolUse`, and a turn that ends in an API error in
/// `StopFailure`, not `Stop`: without them a worker would stay in its tool, or its turn, forever.
const EVENTS: [&str; 9] = [
    SESSION_START,
    USER_PROMPT_SUBMIT,
    PRE_TOOL_USE,
    PERMISSION_REQUEST,
    POST_TOOL_USE,
    POST_TOOL_USE_FAILURE,
    NOTIFICATION,
    STOP,
    STOP_FAILURE,
];

/// The [`HookEvent`] kinds these hooks report.
pub const KINDS: [&str; 7] = [
    "session_started",
    "prompt_submitted",
    "tool_started",
    "tool_finished",
    "awaiting_approval",
    "awaiting_input",
    "turn_ended",
];

/// `notification_type`s of a notification that asks the user to approve something.
const APPROVAL_NOTIFICATIONS: [&str; 2] = ["permission_prompt", "worker_permission_prompt"];

/// `notification_type`s of a notification that says Claude waits for the user's words: idle at
/// its prompt (after 60 s) or asking a question of an MCP server's.
const INPUT_NOTIFICATIONS: [&str; 3] = ["idle_prompt", "agent_needs_input", "elicitation_dialog"];

/// The settings file of `setup`'s hooks, in `setup.dir`.
pub fn settings_file(setup: &HookSetup) -> Result<PlannedFile, PluginError> {
    let command = command_line(&setup.command)?;
    let hooks: Map<String, Value> = EVENTS
        .iter()
        .map(|event| {
            let hook = json!({
                "type": "command",
                "command": format!("{command} {event}"),
                "timeout": TIMEOUT_SEC,
            });
            (event.to_string(), json!([{ "hooks": [hook] }]))
        })
        .collect();
    Ok(PlannedFile {
        path: setup.dir.join(SETTINGS_FILE),
        // `{:#}`: pretty, for the operator who opens the file.
        contents: format!("{:#}", json!({ "hooks": hooks })),
    })
}

/// What one call of a hook says. The payload's `hook_event_name` names the event; the word the
/// settings file put after the command is the fallback.
pub fn event(call: &HookPayload) -> Result<HookEvent, PluginError> {
    let payload = HookFields::parse("Claude Code", call)?;
    let name = payload.event_name();
    let event = match name {
        SESSION_START => HookEvent::SessionStarted {
            session_id: payload.text("session_id").map(str::to_string),
        },
        USER_PROMPT_SUBMIT => HookEvent::PromptSubmitted {
            prompt: payload.required("prompt", name)?,
        },
        PRE_TOOL_USE => HookEvent::ToolStarted {
            tool: payload.required("tool_name", name)?,
        },
        POST_TOOL_USE | POST_TOOL_USE_FAILURE => HookEvent::ToolFinished {
            tool: payload.required("tool_name", name)?,
        },
        PERMISSION_REQUEST => HookEvent::AwaitingApproval {
            prompt: permission_prompt(&payload, name)?,
        },
        NOTIFICATION => notification(&payload)?,
        STOP | STOP_FAILURE => HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: payload.text("last_assistant_message").map(str::to_string),
        },
        _ => HookEvent::Ignored,
    };
    Ok(event)
}

/// A permission request in the words of Claude's own prompt: the tool, and for a shell command
/// the command.
fn permission_prompt(payload: &HookFields<'_>, event: &str) -> Result<String, PluginError> {
    let tool = payload.required("tool_name", event)?;
    let command = payload
        .get("tool_input")
        .and_then(|input| input.get("command"))
        .and_then(Value::as_str);
    Ok(match command {
        Some(command) => format!("Claude needs your permission to use {tool}: {command}"),
        None => format!("Claude needs your permission to use {tool}"),
    })
}

fn notification(payload: &HookFields<'_>) -> Result<HookEvent, PluginError> {
    let message = payload.required("message", NOTIFICATION)?;
    let kind = payload.text("notification_type");
    let asks_approval = match kind {
        Some(kind) => APPROVAL_NOTIFICATIONS.contains(&kind),
        // A Claude that names no type says it in words ("Claude needs your permission to use Bash").
        None => message.contains("needs your permission"),
    };
    Ok(if asks_approval {
        HookEvent::AwaitingApproval { prompt: message }
    } else if kind.is_none_or(|kind| INPUT_NOTIFICATIONS.contains(&kind)) {
        HookEvent::AwaitingInput { message }
    } else {
        // A login that worked, a finished background agent, …: nothing about who acts next.
        HookEvent::Ignored
    })
}
