//! The hooks a worker's plan gives Codex, and how their payloads read. The payloads are what
//! Codex 0.169.0 really sent in a two-turn session with one approved shell call (paths replaced).

use std::collections::BTreeSet;
use std::process::Command;

use team_agent_plugin_api::{
    ErrorKind, HookEvent, HookPayload, HookSetup, LaunchMode, LaunchPlan, LaunchRequest,
    PluginError, ProviderPlugin,
};

use super::codex;
use super::launch::{config_value, parsed, plan, request};
use crate::hooks::trusted_hash;

const EVENTS: [(&str, &str); 6] = [
    ("SessionStart", "session_start"),
    ("UserPromptSubmit", "user_prompt_submit"),
    ("PreToolUse", "pre_tool_use"),
    ("PermissionRequest", "permission_request"),
    ("PostToolUse", "post_tool_use"),
    ("Stop", "stop"),
];

const SESSION: &str = "01a23f5f-51a2-7792-8955-e75e047ccd2f";

const SESSION_START: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"SessionStart","model":"fake-model","permission_mode":"default","source":"startup"}"#;
const USER_PROMPT_SUBMIT: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn_id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"UserPromptSubmit","model":"fake-model","permission_mode":"default","prompt":"RUNSHELL please run the command"}"#;
const PRE_TOOL_USE: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn_id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"PreToolUse","model":"fake-model","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"echo hello-from-shell"},"tool_use_id":"call_fake1_1"}"#;
const PERMISSION_REQUEST: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn_id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"PermissionRequest","model":"fake-model","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"echo hello-from-shell","description":"test hooks"}}"#;
const POST_TOOL_USE: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn_id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"PostToolUse","model":"fake-model","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"echo hello-from-shell"},"tool_response":"hello-from-shell\n","tool_use_id":"call_fake1_1"}"#;
const STOP: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn_id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"Stop","model":"fake-model","permission_mode":"default","stop_hook_active":false,"last_assistant_message":"Done: Chunk ID: 05091b\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 5\nOutput:\nhello-from-shell\n"}"#;
const SESSION_END: &str = r#"{"session_id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","transcript_path":"/h/alice/.codex/sessions/2026/12/04/rollout-2026-12-04T04-45-41-01a23f5f-51a2-7792-8955-e75e047ccd2f.jsonl","cwd":"/w/proj","hook_event_name":"SessionEnd","reason":"other"}"#;
/// The title side thread's end, mid-turn 1 (between PreToolUse and PermissionRequest).
const NOTIFY_TITLE: &str = r#"{"type":"agent-turn-complete","thread-id":"01a23f5f-5a17-7c82-ab6f-2b7c32f772e4","turn-id":"01a23f5f-5a32-7aa0-9e07-5ec111e6fc89","cwd":"/w/proj","client":"codex-tui","input-messages":["Generate a concise, single-line task title of at most 36 characters and under five words where possible. Start with an imperative verb. Capitalize only the first word unless the user's language, proper nouns, acronyms, or code terms require otherwise. Preserve ticket references exactly. Write in the user's language. Do not use quotes, markdown, or trailing punctuation. Do not answer the request.\n\nUser prompt:\nRUNSHELL please run the command"],"last-assistant-message":"{\"title\":\"Hook research\"}"}"#;
const NOTIFY_TURN_1: &str = r#"{"type":"agent-turn-complete","thread-id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn-id":"01a23f5f-5982-79a1-b65b-90bed04fc7a5","cwd":"/w/proj","client":"codex-tui","input-messages":["RUNSHELL please run the command"],"last-assistant-message":"Done: Chunk ID: 05091b\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 5\nOutput:\nhello-from-shell\n"}"#;
const NOTIFY_TURN_2: &str = r#"{"type":"agent-turn-complete","thread-id":"01a23f5f-51a2-7792-8955-e75e047ccd2f","turn-id":"01a23f5f-7854-7443-9575-b59092b78b5d","cwd":"/w/proj","client":"codex-tui","input-messages":["RUNSHELL please run the command","hello again"],"last-assistant-message":"OK."}"#;

fn setup(command: &[&str]) -> HookSetup {
    HookSetup {
        command: command.iter().map(|w| w.to_string()).collect(),
        dir: "/ws/.team/runtime/hooks/alice".into(),
    }
}

fn hooked(mode: LaunchMode) -> LaunchRequest {
    LaunchRequest {
        hooks: Some(setup(&[
            "/abs/team-agent",
            "--workspace",
            "/ws",
            "hook",
            "--agent",
            "alice",
        ])),
        ..request(mode)
    }
}

/// The one command hook a plan gives `event`, checked to be alone in its group and its list.
fn hook_of(plan: &LaunchPlan, event: &str) -> toml::Table {
    let key = format!("hooks.{event}");
    let value = config_value(plan, &key).unwrap_or_else(|| panic!("no -c {key}"));
    let groups = parsed(value);
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 1, "{key}");
    assert_eq!(groups[0].as_table().unwrap().len(), 1, "{key}: no matcher");
    let handlers = groups[0]["hooks"].as_array().unwrap();
    assert_eq!(handlers.len(), 1, "{key}");
    handlers[0].as_table().unwrap().clone()
}

fn call(event: &str, payload: &str, session: Option<&str>) -> Result<HookEvent, PluginError> {
    codex().hook_event(&HookPayload {
        event: event.into(),
        payload: payload.into(),
        session_id: session.map(str::to_string),
    })
}

#[test]
fn a_hooked_worker_gets_one_command_hook_per_lifecycle_event_running_the_host_command() {
    let plan = plan(&hooked(LaunchMode::Fresh));
    for (event, _) in EVENTS {
        let hook = hook_of(&plan, event);
        assert_eq!(hook["type"].as_str(), Some("command"), "{event}");
        assert_eq!(
            hook["command"].as_str().unwrap(),
            format!("'/abs/team-agent' '--workspace' '/ws' 'hook' '--agent' 'alice' '{event}'")
        );
        assert_eq!(hook["timeout"].as_integer(), Some(10), "{event}");
        assert_eq!(hook.len(), 3, "{event}: {hook:?}");
    }
    assert!(
        !plan
            .argv
            .iter()
            .any(|a| a == "--dangerously-bypass-hook-trust"),
        "{:?}",
        plan.argv
    );
    assert!(plan.files.is_empty(), "the hooks are all flags");
}

#[test]
fn each_hook_comes_with_the_trust_codex_would_record_for_it() {
    let plan = plan(&hooked(LaunchMode::Fresh));
    let state = parsed(config_value(&plan, "hooks.state").expect("no -c hooks.state"));
    let state = state.as_table().unwrap();
    let expected: BTreeSet<String> = EVENTS
        .iter()
        .map(|(_, snake)| format!("/<session-flags>/config.toml:{snake}:0:0"))
        .collect();
    assert_eq!(state.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (event, snake) in EVENTS {
        let hook = hook_of(&plan, event);
        let entry = state[&format!("/<session-flags>/config.toml:{snake}:0:0")]
            .as_table()
            .unwrap();
        assert_eq!(entry.len(), 1, "{event}: only the hash");
        assert_eq!(
            entry["trusted_hash"].as_str().unwrap(),
            trusted_hash(snake, hook["command"].as_str().unwrap(), 10),
            "{event}"
        );
    }
}

#[test]
fn the_trust_hash_is_the_one_codex_wrote_when_told_to_trust_the_same_hook() {
    // What Codex 0.169.0's "Trust all and continue" wrote for two `-c` hooks with timeout 30.
    let command = "HOOKLOG=/tmp/codex-hooks-research/fixedlog.jsonl /tmp/codex-hooks-research/bin/hooklog.py hook";
    assert_eq!(
        trusted_hash("stop", &format!("{command} Stop"), 30),
        "sha256:0cb3a446cd02d74299fd14f5cb0893f2e513a4828ca4d3fdde322858e88fa08c"
    );
    assert_eq!(
        trusted_hash(
            "user_prompt_submit",
            &format!("{command} UserPromptSubmit"),
            30
        ),
        "sha256:44ee75c4d0623692c589be51330e1c834927972ae9da27e6cebda15fa7c067be"
    );
}

#[test]
fn notify_runs_the_host_command_with_the_word_notify() {
    let plan = plan(&hooked(LaunchMode::Fresh));
    let notify = parsed(config_value(&plan, "notify").expect("no -c notify"));
    let words: Vec<&str> = notify
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        words,
        [
            "/abs/team-agent",
            "--workspace",
            "/ws",
            "hook",
            "--agent",
            "alice",
            "notify"
        ]
    );
}

#[test]
fn the_shell_gives_the_hook_command_back_word_for_word() {
    let words = [
        "/opt/team agent/bin/team-agent",
        "--workspace",
        "/w/it's \"here\" $HOME `x` \\n",
        "hook",
        "--agent",
        "a\nb",
    ];
    let request = LaunchRequest {
        hooks: Some(setup(&words)),
        ..request(LaunchMode::Fresh)
    };
    let plan = plan(&request);
    let hook = hook_of(&plan, "Stop");
    let command = hook["command"].as_str().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {command}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let echoed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_string)
        .collect();
    let mut expected: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    expected.push("Stop".into());
    assert_eq!(echoed, expected);
}

#[test]
fn hooks_go_before_the_session_of_a_resume_and_into_no_plan_without_a_hook_command() {
    let id = "01a205da-c737-7cf1-bdf7-549c91c21505";
    let resume = plan(&hooked(LaunchMode::Resume {
        session_id: id.into(),
    }));
    assert_eq!(resume.argv.last().unwrap(), id);
    assert!(config_value(&resume, "hooks.Stop").is_some());
    let bare = plan(&request(LaunchMode::Fresh));
    assert!(
        !bare
            .argv
            .iter()
            .any(|a| a.starts_with("hooks.") || a.starts_with("notify=")),
        "{:?}",
        bare.argv
    );
}

#[test]
fn an_empty_hook_command_is_refused() {
    for command in [&[][..], &[""][..]] {
        let request = LaunchRequest {
            hooks: Some(setup(command)),
            ..request(LaunchMode::Fresh)
        };
        let error = codex().launch_plan(&request).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        assert!(error.message.contains("hooks.command"), "{error}");
    }
}

#[test]
fn each_lifecycle_payload_maps_to_its_hook_event() {
    let ours = Some(SESSION);
    assert_eq!(
        call("SessionStart", SESSION_START, None).unwrap(),
        HookEvent::SessionStarted {
            session_id: Some(SESSION.into())
        }
    );
    assert_eq!(
        call("UserPromptSubmit", USER_PROMPT_SUBMIT, ours).unwrap(),
        HookEvent::PromptSubmitted {
            prompt: "RUNSHELL please run the command".into()
        }
    );
    assert_eq!(
        call("PreToolUse", PRE_TOOL_USE, ours).unwrap(),
        HookEvent::ToolStarted {
            tool: "Bash".into()
        }
    );
    assert_eq!(
        call("PermissionRequest", PERMISSION_REQUEST, ours).unwrap(),
        HookEvent::AwaitingApproval {
            prompt: "Bash: echo hello-from-shell (test hooks)".into()
        }
    );
    assert_eq!(
        call("PostToolUse", POST_TOOL_USE, ours).unwrap(),
        HookEvent::ToolFinished {
            tool: "Bash".into()
        }
    );
    assert_eq!(
        call("Stop", STOP, ours).unwrap(),
        HookEvent::TurnEnded {
            prompts: Vec::new(),
            last_text: Some(
                "Done: Chunk ID: 05091b\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 5\nOutput:\nhello-from-shell\n".into()
            )
        }
    );
}

#[test]
fn a_prompt_reaches_the_host_verbatim() {
    let prompt =
        "Team Agent message from leader:\n\n\"quoted\" \\ tab\there\n\n[team-agent-token:msg_1]";
    let payload = serde_json::json!({"hook_event_name": "UserPromptSubmit", "prompt": prompt});
    assert_eq!(
        call("UserPromptSubmit", &payload.to_string(), None).unwrap(),
        HookEvent::PromptSubmitted {
            prompt: prompt.into()
        }
    );
}

#[test]
fn notify_ends_the_turn_of_the_workers_own_thread_with_every_prompt_so_far() {
    assert_eq!(
        call("notify", NOTIFY_TURN_1, Some(SESSION)).unwrap(),
        HookEvent::TurnEnded {
            prompts: vec!["RUNSHELL please run the command".into()],
            last_text: Some(
                "Done: Chunk ID: 05091b\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 5\nOutput:\nhello-from-shell\n".into()
            )
        }
    );
    assert_eq!(
        call("notify", NOTIFY_TURN_2, Some(SESSION)).unwrap(),
        HookEvent::TurnEnded {
            prompts: vec![
                "RUNSHELL please run the command".into(),
                "hello again".into()
            ],
            last_text: Some("OK.".into())
        }
    );
}

#[test]
fn notify_of_the_title_thread_or_of_an_unknown_session_is_ignored() {
    assert_eq!(
        call("notify", NOTIFY_TITLE, Some(SESSION)).unwrap(),
        HookEvent::Ignored
    );
    for payload in [NOTIFY_TITLE, NOTIFY_TURN_1] {
        assert_eq!(call("notify", payload, None).unwrap(), HookEvent::Ignored);
    }
    let other_kind = NOTIFY_TURN_1.replace("agent-turn-complete", "something-else");
    assert_eq!(
        call("notify", &other_kind, Some(SESSION)).unwrap(),
        HookEvent::Ignored
    );
}

#[test]
fn an_approval_without_a_command_names_the_tool_and_its_input_shortened() {
    let mcp = serde_json::json!({
        "hook_event_name": "PermissionRequest",
        "tool_name": "mcp__team__send_message",
        "tool_input": {"to": "bob", "text": "x".repeat(500)},
    });
    let HookEvent::AwaitingApproval { prompt } =
        call("PermissionRequest", &mcp.to_string(), None).unwrap()
    else {
        panic!("not an approval");
    };
    assert!(prompt.starts_with("mcp__team__send_message: {"), "{prompt}");
    assert!(prompt.ends_with('…'), "{prompt}");
    assert_eq!(prompt.chars().count(), 201);
    let bare = r#"{"hook_event_name":"PermissionRequest","tool_name":"apply_patch"}"#;
    assert_eq!(
        call("PermissionRequest", bare, None).unwrap(),
        HookEvent::AwaitingApproval {
            prompt: "apply_patch".into()
        }
    );
}

#[test]
fn events_the_plan_does_not_hook_are_ignored_whatever_they_carry() {
    for (event, payload) in [
        ("SessionEnd", SESSION_END),
        ("SessionEnd", "garbage"),
        ("Interrupt", ""),
    ] {
        assert_eq!(
            call(event, payload, Some(SESSION)).unwrap(),
            HookEvent::Ignored
        );
    }
}

#[test]
fn garbled_payloads_are_invalid_requests_that_say_what_is_wrong() {
    for (event, payload, says) in [
        ("Stop", "", "not a JSON object"),
        ("Stop", "{", "not a JSON object"),
        ("Stop", "[1]", "not a JSON object"),
        ("Stop", "\u{0}\u{1b}[2J", "not a JSON object"),
        (
            "Stop",
            r#"{"hook_event_name": 7}"#,
            "\"hook_event_name\" must be a string",
        ),
        (
            "Stop",
            r#"{"hook_event_name": "PreToolUse"}"#,
            "names the event",
        ),
        ("UserPromptSubmit", "{}", "no \"prompt\""),
        (
            "PreToolUse",
            r#"{"tool_name": ["x"]}"#,
            "\"tool_name\" must be a string",
        ),
        ("PermissionRequest", "{}", "no \"tool_name\""),
        ("notify", "", "not a JSON object"),
        ("notify", r#"{"type": 1}"#, "\"type\" must be a string"),
        (
            "notify",
            r#"{"type":"agent-turn-complete","thread-id":"s","input-messages":"hi"}"#,
            "\"input-messages\" must be a list of strings",
        ),
        (
            "notify",
            r#"{"type":"agent-turn-complete","thread-id":"s","input-messages":[1]}"#,
            "\"input-messages\" must be a list of strings",
        ),
    ] {
        let error = call(event, payload, Some("s")).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{event} {payload:?}");
        assert!(error.message.contains(says), "{event} {payload:?}: {error}");
    }
}

#[test]
fn the_capabilities_declare_every_kind_the_hooks_report() {
    let declared: BTreeSet<String> = codex().capabilities().hook_events.into_iter().collect();
    let reported: BTreeSet<String> = [
        ("SessionStart", SESSION_START),
        ("UserPromptSubmit", USER_PROMPT_SUBMIT),
        ("PreToolUse", PRE_TOOL_USE),
        ("PermissionRequest", PERMISSION_REQUEST),
        ("PostToolUse", POST_TOOL_USE),
        ("Stop", STOP),
        ("notify", NOTIFY_TURN_1),
    ]
    .into_iter()
    .map(|(event, payload)| {
        call(event, payload, Some(SESSION))
            .unwrap()
            .kind()
            .to_string()
    })
    .collect();
    assert_eq!(declared, reported);
}
