/*! The scripted agent's hooks, shared by the agent (which runs them) and the plugin (which reads
them): the event names, whether an agent wants them, and what one call means to the host.

The agent's payloads are shaped like Claude Code's: one JSON object with `hook_event_name`,
`session_id`, `cwd`, `transcript_path` and the event's own fields (`prompt`, `tool_name`,
`notification_type` and `message`, `last_assistant_message`).
*/

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use team_agent_plugin_api::{HookEvent, HookPayload, PluginError};

pub const SESSION_START: &str = "SessionStart";
pub const USER_PROMPT_SUBMIT: &str = "UserPromptSubmit";
pub const PRE_TOOL_USE: &str = "PreToolUse";
pub const POST_TOOL_USE: &str = "PostToolUse";
pub const NOTIFICATION: &str = "Notification";
pub const STOP: &str = "Stop";

/// Every event the agent runs its hook for.
pub const EVENTS: [&str; 6] = [
    SESSION_START,
    USER_PROMPT_SUBMIT,
    PRE_TOOL_USE,
    POST_TOOL_USE,
    NOTIFICATION,
    STOP,
];

/// The `notification_type` of the notification an approval dialog sends.
pub const PERMISSION_PROMPT: &str = "permission_prompt";

/// The [`HookEvent`] kinds the agent's hooks report.
pub const EMITTED: [&str; 6] = [
    "session_started",
    "prompt_submitted",
    "tool_started",
    "tool_finished",
    "awaiting_approval",
    "turn_ended",
];

/// Whether the agent's `provider_options` leave its hooks on (`hooks: false` turns them off).
pub fn wanted(options: &BTreeMap<String, Value>) -> Result<bool, PluginError> {
    match options.get("hooks") {
        None => Ok(true),
        Some(Value::Bool(on)) => Ok(*on),
        Some(other) => Err(PluginError::invalid_request(format!(
            "provider_options.hooks must be true or false, not {other}"
        ))),
    }
}

/// What one call of the agent's hook says.
pub fn event(call: &HookPayload) -> Result<HookEvent, PluginError> {
    let event = call.event.as_str();
    if !EVENTS.contains(&event) {
        return Ok(HookEvent::Ignored);
    }
    let fields: Map<String, Value> = serde_json::from_str(&call.payload).map_err(|e| {
        PluginError::invalid_request(format!(
            "the payload of the scripted agent's {event} hook is not a JSON object: {e}"
        ))
    })?;
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
        NOTIFICATION => match optional_text(&fields, event, "notification_type")?.as_deref() {
            Some(PERMISSION_PROMPT) => HookEvent::AwaitingApproval {
                prompt: optional_text(&fields, event, "message")?.unwrap_or_default(),
            },
            _ => HookEvent::Ignored,
        },
        STOP => HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: optional_text(&fields, event, "last_assistant_message")?,
        },
        _ => HookEvent::Ignored,
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

#[cfg(test)]
mod tests {
    use super::*;
    use team_agent_plugin_api::ErrorKind;

    fn call(event: &str, payload: &str) -> Result<HookEvent, PluginError> {
        super::event(&HookPayload {
            event: event.into(),
            payload: payload.into(),
            session_id: None,
        })
    }

    #[test]
    fn each_agent_event_maps_to_its_hook_event() {
        let prompt = "Team Agent message from leader:\n\nhi\n\n[team-agent-token:msg_1]";
        let submit = serde_json::json!({"hook_event_name": "UserPromptSubmit", "prompt": prompt});
        assert_eq!(
            call(USER_PROMPT_SUBMIT, &submit.to_string()).unwrap(),
            HookEvent::PromptSubmitted {
                prompt: prompt.into()
            }
        );
        assert_eq!(
            call(SESSION_START, r#"{"session_id":"s1","source":"startup"}"#).unwrap(),
            HookEvent::SessionStarted {
                session_id: Some("s1".into())
            }
        );
        assert_eq!(
            call(PRE_TOOL_USE, r#"{"tool_name":"cargo","tool_input":{}}"#).unwrap(),
            HookEvent::ToolStarted {
                tool: "cargo".into()
            }
        );
        assert_eq!(
            call(POST_TOOL_USE, r#"{"tool_name":"cargo"}"#).unwrap(),
            HookEvent::ToolFinished {
                tool: "cargo".into()
            }
        );
        assert_eq!(
            call(
                NOTIFICATION,
                r#"{"notification_type":"permission_prompt","message":"Allow tool call: x?"}"#
            )
            .unwrap(),
            HookEvent::AwaitingApproval {
                prompt: "Allow tool call: x?".into()
            }
        );
        assert_eq!(
            call(STOP, r#"{"last_assistant_message":"Worked for 0.3s"}"#).unwrap(),
            HookEvent::TurnEnded {
                prompts: Vec::new(),
                last_text: Some("Worked for 0.3s".into())
            }
        );
        assert_eq!(
            call(STOP, r#"{"last_assistant_message":null}"#).unwrap(),
            HookEvent::TurnEnded {
                prompts: Vec::new(),
                last_text: None
            }
        );
    }

    #[test]
    fn unknown_events_and_other_notifications_are_ignored() {
        assert_eq!(call("SessionEnd", "garbage").unwrap(), HookEvent::Ignored);
        assert_eq!(
            call(NOTIFICATION, r#"{"notification_type":"idle_prompt"}"#).unwrap(),
            HookEvent::Ignored
        );
    }

    #[test]
    fn garbled_payloads_are_invalid_requests_that_say_what_is_wrong() {
        for (event, payload, says) in [
            (STOP, "", "not a JSON object"),
            (STOP, "{", "not a JSON object"),
            (STOP, "[1]", "not a JSON object"),
            (STOP, "\u{0}\u{1b}[2J", "not a JSON object"),
            (
                STOP,
                r#"{"hook_event_name": 7}"#,
                "\"hook_event_name\" must be a string",
            ),
            (
                STOP,
                r#"{"hook_event_name": "PreToolUse"}"#,
                "names the event",
            ),
            (USER_PROMPT_SUBMIT, "{}", "no \"prompt\""),
            (
                PRE_TOOL_USE,
                r#"{"tool_name": ["x"]}"#,
                "\"tool_name\" must be a string",
            ),
        ] {
            let error = call(event, payload).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidRequest, "{payload:?}");
            assert!(error.message.contains(says), "{payload:?}: {error}");
        }
    }

    #[test]
    fn hooks_are_on_unless_the_options_say_false() {
        let mut options = BTreeMap::new();
        assert!(wanted(&options).unwrap());
        options.insert("hooks".to_string(), Value::Bool(false));
        assert!(!wanted(&options).unwrap());
        options.insert("hooks".to_string(), Value::Bool(true));
        assert!(wanted(&options).unwrap());
    }
}
