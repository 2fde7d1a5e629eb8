//! The hooks: the settings file the plan writes for them, and what real Claude Code 2.1.330
//! payloads (`hook-payloads/`) become.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use team_agent_plugin_api::{
    ErrorKind, HookEvent, HookPayload, HookSetup, LaunchMode, LaunchRequest, ProviderPlugin,
};

use super::claude;
use super::launch::{after, leader_request, plan, request};

const EVENTS: [&str; 9] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Stop",
    "StopFailure",
];

fn hooked(command: &[&str]) -> LaunchRequest {
    let mut r = request(LaunchMode::Fresh);
    r.hooks = Some(HookSetup {
        command: command.iter().map(|word| word.to_string()).collect(),
        dir: "/w/proj/.team/runtime/hooks/w1".into(),
    });
    r
}

fn team_agent_hook() -> LaunchRequest {
    hooked(&[
        "/opt/team agent/bin/team-agent's",
        "hook",
        "--workspace",
        "/w/proj",
        "--agent",
        "w1",
    ])
}

/// The settings file of a plan, parsed.
fn settings(request: &LaunchRequest) -> Value {
    let plan = plan(request);
    assert_eq!(plan.files.len(), 1, "{:?}", plan.files);
    serde_json::from_str(&plan.files[0].contents).unwrap()
}

/// The command of `event`'s one hook in `settings`.
fn hook_command(settings: &Value, event: &str) -> String {
    let groups = settings["hooks"][event].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{event}: {groups:?}");
    let hooks = groups[0]["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1, "{event}: {hooks:?}");
    hooks[0]["command"].as_str().unwrap().to_string()
}

#[test]
fn hooks_are_a_settings_file_in_the_workers_hook_dir_passed_with_settings() {
    let plan = plan(&team_agent_hook());
    let dir = Path::new("/w/proj/.team/runtime/hooks/w1");
    assert_eq!(plan.files.len(), 1);
    let file = &plan.files[0].path;
    assert_eq!(file, &dir.join("claude-settings.json"));
    assert!(file.starts_with(dir));
    assert_eq!(
        after(&plan.argv, "--settings").map(PathBuf::from).as_ref(),
        Some(file)
    );
    // Still a fresh start under the host's id: the flag adds to the command line, nothing else.
    assert!(plan.argv.iter().any(|a| a == "--session-id"));
}

#[test]
fn every_hooked_event_runs_the_hook_command_then_its_name() {
    let settings = settings(&team_agent_hook());
    let events = settings["hooks"].as_object().unwrap();
    assert_eq!(events.len(), EVENTS.len(), "{events:?}");
    for event in EVENTS {
        let group = &settings["hooks"][event][0];
        // No matcher: a tool event's hook runs for every tool, MCP tools included.
        assert_eq!(group.get("matcher"), None, "{event}");
        let hook = &group["hooks"][0];
        assert_eq!(hook["type"], "command", "{event}");
        assert_eq!(hook["timeout"], 10, "{event}");
        assert_eq!(
            hook_command(&settings, event),
            format!(
                r"'/opt/team agent/bin/team-agent'\''s' hook --workspace /w/proj --agent w1 {event}"
            )
        );
    }
}

#[test]
fn the_hook_command_reaches_the_program_word_for_word_through_a_shell() {
    // `printf` stands in for the host's program: a shell prints each word it was given.
    let words = [
        "%s\n",
        "/ws dir/it's",
        "--agent",
        "a\"b",
        "$HOME",
        "`x`",
        "",
    ];
    let mut command = vec!["printf"];
    command.extend(words);
    let settings = settings(&hooked(&command));
    let output = Command::new("sh")
        .args(["-c", &hook_command(&settings, "Stop")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            "/ws dir/it's",
            "--agent",
            "a\"b",
            "$HOME",
            "`x`",
            "",
            "Stop"
        ]
    );
}

#[test]
fn without_hooks_there_is_no_settings_file() {
    let plan = plan(&request(LaunchMode::Fresh));
    assert!(plan.files.is_empty());
    assert!(!plan.argv.iter().any(|a| a == "--settings"));
}

#[test]
fn the_leader_gets_no_hooks() {
    let plan = claude().leader_plan(&leader_request(&[])).unwrap();
    assert!(plan.files.is_empty());
    assert!(!plan.argv.iter().any(|a| a == "--settings"));
}

#[test]
fn a_hook_setup_without_a_command_is_refused() {
    let error = claude().launch_plan(&hooked(&[])).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("hooks.command"), "{}", error.message);
}

#[test]
fn the_capabilities_list_every_kind_the_hooks_report() {
    assert_eq!(
        claude().capabilities().hook_events,
        [
            "session_started",
            "prompt_submitted",
            "tool_started",
            "tool_finished",
            "awaiting_approval",
            "awaiting_input",
            "turn_ended",
        ]
    );
}

/// A real payload from `hook-payloads/`, as the host hands it over: the event word the settings
/// file put after the command, and the stdin.
fn real(name: &str) -> HookPayload {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/tests/hook-payloads")
        .join(format!("{name}.json"));
    let payload =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fields: Value = serde_json::from_str(&payload).unwrap();
    HookPayload {
        event: fields["hook_event_name"].as_str().unwrap().to_string(),
        payload,
        session_id: Some("5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b".into()),
    }
}

fn event(payload: &HookPayload) -> HookEvent {
    claude().hook_event(payload).unwrap()
}

fn call(event: &str, payload: &str) -> HookPayload {
    HookPayload {
        event: event.into(),
        payload: payload.into(),
        session_id: None,
    }
}

#[test]
fn a_start_and_a_resume_report_the_session() {
    for name in ["session-start-startup", "session-start-resume"] {
        assert_eq!(
            event(&real(name)),
            HookEvent::SessionStarted {
                session_id: Some("5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b".into())
            },
            "{name}"
        );
    }
}

#[test]
fn a_submitted_prompt_comes_verbatim_with_its_message_token() {
    assert_eq!(
        event(&real("prompt-submit-with-token")),
        HookEvent::PromptSubmitted {
            prompt: "Please RUN_BASH now.\n[team-agent-token:m-42] it's \"quoted\" $HOME `x`"
                .into()
        }
    );
}

#[test]
fn a_tool_call_starts_and_finishes_even_when_it_fails() {
    let bash = || "Bash".to_string();
    assert_eq!(
        event(&real("pre-tool-use-bash")),
        HookEvent::ToolStarted { tool: bash() }
    );
    assert_eq!(
        event(&real("post-tool-use-bash")),
        HookEvent::ToolFinished { tool: bash() }
    );
    assert_eq!(
        event(&real("post-tool-use-failure-bash")),
        HookEvent::ToolFinished { tool: bash() }
    );
}

#[test]
fn a_permission_prompt_awaits_approval_from_both_of_its_hooks() {
    assert_eq!(
        event(&real("permission-request-bash")),
        HookEvent::AwaitingApproval {
            prompt: "Claude needs your permission to use Bash: touch approved.txt && echo touched"
                .into()
        }
    );
    assert_eq!(
        event(&real("notification-permission-prompt")),
        HookEvent::AwaitingApproval {
            prompt: "Claude needs your permission".into()
        }
    );
}

#[test]
fn an_idle_notification_awaits_input() {
    assert_eq!(
        event(&real("notification-idle-prompt")),
        HookEvent::AwaitingInput {
            message: "Claude is waiting for your input".into()
        }
    );
}

#[test]
fn a_turn_ends_with_the_models_last_words_also_after_an_api_error() {
    assert_eq!(
        event(&real("stop")),
        HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: Some("Done: hooked-output".into())
        }
    );
    assert_eq!(
        event(&real("stop-after-failed-tool")),
        HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: Some(
                "Done: Exit code 2\nls: cannot access '/nonexistent-dir': No such file or directory"
                    .into()
            )
        }
    );
    let HookEvent::TurnEnded { last_text, .. } = event(&real("stop-failure-api-error")) else {
        panic!("StopFailure ends the turn");
    };
    assert!(
        last_text
            .unwrap()
            .starts_with("API Error: 500 scripted failure.")
    );
}

#[test]
fn a_stop_without_the_last_message_still_ends_the_turn() {
    assert_eq!(
        event(&call(
            "Stop",
            r#"{"session_id":"s","hook_event_name":"Stop","stop_hook_active":false}"#
        )),
        HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: None
        }
    );
}

#[test]
fn the_payloads_event_name_wins_over_the_word_after_the_command() {
    let mut payload = real("pre-tool-use-bash");
    payload.event = "Stop".into();
    assert_eq!(
        event(&payload),
        HookEvent::ToolStarted {
            tool: "Bash".into()
        }
    );
    let unnamed = call(
        "PreToolUse",
        r#"{"session_id":"s","tool_name":"mcp__team__report_result"}"#,
    );
    assert_eq!(
        event(&unnamed),
        HookEvent::ToolStarted {
            tool: "mcp__team__report_result".into()
        }
    );
}

#[test]
fn a_notification_is_read_from_its_type_or_else_its_words() {
    let notification = |fields: &str| {
        event(&call(
            "Notification",
            &format!(r#"{{"hook_event_name":"Notification",{fields}}}"#),
        ))
    };
    assert_eq!(
        notification(r#""message":"Claude needs your permission to use Bash""#),
        HookEvent::AwaitingApproval {
            prompt: "Claude needs your permission to use Bash".into()
        }
    );
    assert_eq!(
        notification(r#""message":"Claude is waiting for your input""#),
        HookEvent::AwaitingInput {
            message: "Claude is waiting for your input".into()
        }
    );
    assert_eq!(
        notification(r#""message":"Login successful","notification_type":"auth_success""#),
        HookEvent::Ignored
    );
}

#[test]
fn an_event_the_plan_does_not_hook_is_ignored() {
    assert_eq!(
        event(&call(
            "SessionEnd",
            r#"{"session_id":"s","hook_event_name":"SessionEnd","reason":"exit"}"#
        )),
        HookEvent::Ignored
    );
}

#[test]
fn a_garbled_payload_is_an_invalid_request_naming_what_is_wrong() {
    for (event, payload, says) in [
        ("Stop", "", "not JSON"),
        ("Stop", "Stop", "not JSON"),
        ("Stop", "[1, 2]", "not a JSON object"),
        (
            "PreToolUse",
            r#"{"hook_event_name":"PreToolUse"}"#,
            "`tool_name`",
        ),
        (
            "UserPromptSubmit",
            r#"{"hook_event_name":"UserPromptSubmit","prompt":7}"#,
            "`prompt`",
        ),
        (
            "Notification",
            r#"{"hook_event_name":"Notification"}"#,
            "`message`",
        ),
    ] {
        let error = claude().hook_event(&call(event, payload)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{payload}");
        assert!(error.message.contains(says), "{payload}: {}", error.message);
    }
}
