use team_agent_plugin_api::{HookEvent, HookPayload, ProviderPlugin};

use super::gemini;

/// A real payload from `src/tests/hook-payloads/`, as the host passes it on.
fn call(event: &str, file: &str) -> HookEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/tests/hook-payloads")
        .join(file);
    let payload = std::fs::read_to_string(path).unwrap();
    gemini()
        .hook_event(&HookPayload {
            event: event.into(),
            payload,
            session_id: None,
        })
        .unwrap()
}

#[test]
fn the_real_payloads_read_as_the_events_they_are() {
    assert_eq!(
        call("SessionStart", "session-start-startup.json"),
        HookEvent::SessionStarted {
            session_id: Some("11111111-2222-4333-8444-555555555555".into())
        }
    );
    assert_eq!(
        call("SessionStart", "session-start-resume.json").kind(),
        "session_started"
    );
    assert_eq!(
        call("BeforeAgent", "before-agent.json"),
        HookEvent::PromptSubmitted {
            prompt: "hello there".into()
        }
    );
    assert_eq!(
        call("BeforeTool", "before-tool-shell.json"),
        HookEvent::ToolStarted {
            tool: "run_shell_command".into()
        }
    );
    assert_eq!(
        call("AfterTool", "after-tool-shell.json"),
        HookEvent::ToolFinished {
            tool: "run_shell_command".into()
        }
    );
    assert_eq!(
        call("SessionEnd", "session-end-exit.json"),
        HookEvent::Ignored
    );
}

#[test]
fn a_tool_permission_notification_awaits_approval_of_its_command() {
    assert_eq!(
        call("Notification", "notification-tool-permission.json"),
        HookEvent::AwaitingApproval {
            prompt: "Tool Confirm Shell Command requires execution: echo hi > out.txt".into()
        }
    );
}

#[test]
fn after_agent_ends_the_turn_with_the_models_words() {
    let HookEvent::TurnEnded { prompts, last_text } = call("AfterAgent", "after-agent.json") else {
        panic!("not a turn end");
    };
    assert!(prompts.is_empty());
    assert!(last_text.unwrap().starts_with("Hello from the fake model."));
}

#[test]
fn an_unreadable_payload_is_an_error_naming_the_event() {
    let error = gemini()
        .hook_event(&HookPayload {
            event: "AfterTool".into(),
            payload: "{".into(),
            session_id: None,
        })
        .unwrap_err();
    assert!(error.message.contains("AfterTool"), "{error}");
    let missing = gemini()
        .hook_event(&HookPayload {
            event: "BeforeTool".into(),
            payload: r#"{"hook_event_name": "BeforeTool"}"#.into(),
            session_id: None,
        })
        .unwrap_err();
    assert!(missing.message.contains("tool_name"), "{missing}");
}
