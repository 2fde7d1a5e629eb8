use super::*;

const IDLE: &str =
    "scripted-agent 0.1.0 · session abc · agent a\nType a message and press Enter.\n\n› \n\n\n";
const BUSY: &str = "› hello\n• Working (0s • esc to interrupt)\n";
const TRUST: &str = "Do you trust the files in this folder?\n/w\n\n❯ 1. Yes, I trust this folder\n  2. No, exit\n\nEnter to confirm · Esc to exit\n";

#[test]
fn the_input_prompt_is_ready_and_idle() {
    assert_eq!(
        Scripted.handle_startup_prompts(IDLE).value,
        StartupDecision::Ready
    );
    assert_eq!(Scripted.classify_screen(IDLE).value, ScreenState::Idle);
}

#[test]
fn the_busy_line_is_busy() {
    assert_eq!(Scripted.classify_screen(BUSY).value, ScreenState::Busy);
}

#[test]
fn the_trust_dialog_is_answered_with_enter_or_up_enter() {
    assert_eq!(
        Scripted.handle_startup_prompts(TRUST).value,
        StartupDecision::Answer {
            prompt: "trust_folder".into(),
            keys: vec!["Enter".into()]
        }
    );
    let no_selected = TRUST.replace("❯ 1.", "  1.").replace("  2. No", "❯ 2. No");
    assert_eq!(
        Scripted.handle_startup_prompts(&no_selected).value,
        StartupDecision::Answer {
            prompt: "trust_folder".into(),
            keys: vec!["Up".into(), "Enter".into()]
        }
    );
}

#[test]
fn approvals_of_team_tools_pick_the_session_option_and_others_are_deferred() {
    let screen = "› go\nAllow tool call: team.report_result?\n❯ 1. Yes\n  2. Yes, and don't ask again for this session\n  3. No\n↑/↓ to move · Enter to select · digit to choose\n";
    let allow = ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into()],
        commands: Vec::new(),
    };
    let verdict = Scripted.approval_keys(&ApprovalRequest {
        screen: screen.into(),
        policy: allow.clone(),
    });
    assert_eq!(
        verdict.value,
        ApprovalDecision::Answer {
            keys: vec!["Down".into(), "Enter".into()],
            choice: "Yes, and don't ask again for this session".into()
        }
    );
    let other = screen.replace("team.report_result", "shell.rm");
    let verdict = Scripted.approval_keys(&ApprovalRequest {
        screen: other,
        policy: allow,
    });
    assert!(matches!(verdict.value, ApprovalDecision::Defer { .. }));
    let no = Scripted.approval_keys(&ApprovalRequest {
        screen: screen.into(),
        policy: ApprovalPolicy::Choose {
            choice: "no".into(),
        },
    });
    assert_eq!(
        no.value,
        ApprovalDecision::Answer {
            keys: vec!["Down".into(), "Down".into(), "Enter".into()],
            choice: "No".into()
        }
    );
}

#[test]
fn turn_state_follows_the_last_turn_record() {
    let open = "{\"type\":\"user_message\",\"ts\":\"t\",\"text\":\"x\"}\n{\"type\":\"turn_started\",\"ts\":\"t\"}\n";
    assert_eq!(Scripted.turn_state(open).value, TurnState::Working);
    let done = format!("{open}{{\"type\":\"turn_complete\",\"ts\":\"t\",\"duration_ms\":3}}\n");
    assert_eq!(Scripted.turn_state(&done).value, TurnState::Idle);
    let asked = format!("{open}{{\"type\":\"approval_requested\",\"ts\":\"t\",\"tool\":\"x\"}}\n");
    assert_eq!(Scripted.turn_state(&asked).value, TurnState::BlockedOnHuman);
    assert_eq!(Scripted.turn_state("not json").value, TurnState::Unknown);
}

fn request(mode: LaunchMode) -> LaunchRequest {
    LaunchRequest {
        agent_id: "a".into(),
        role: String::new(),
        model: None,
        cwd: "/w".into(),
        system_prompt: String::new(),
        permission_mode: Default::default(),
        mode,
        new_session_id: "n".into(),
        mcp_server: None,
        profile_env: Default::default(),
        host_bin_dir: "/nonexistent".into(),
        home: "/h".into(),
        options: Default::default(),
        hooks: None,
    }
}

fn with_hooks(mut request: LaunchRequest) -> LaunchRequest {
    request.hooks = Some(team_agent_plugin_api::HookSetup {
        command: vec![
            "/bin/team-agent".into(),
            "hook".into(),
            "--agent".into(),
            "it's a".into(),
        ],
        dir: "/ws/.team/runtime/hooks/a".into(),
    });
    request
}

#[test]
fn resume_without_a_session_id_is_refused() {
    let request = request(LaunchMode::Resume {
        session_id: String::new(),
    });
    assert!(Scripted.launch_plan(&request).is_err());
}

#[test]
fn the_plan_passes_the_hook_command_to_the_agent_as_one_json_argument() {
    let plan = Scripted
        .launch_plan(&with_hooks(request(LaunchMode::Fresh)))
        .unwrap();
    let at = plan
        .argv
        .iter()
        .position(|a| a == "--hook-command-json")
        .expect("the hook flag");
    let command: Vec<String> = serde_json::from_str(&plan.argv[at + 1]).unwrap();
    assert_eq!(command, ["/bin/team-agent", "hook", "--agent", "it's a"]);
    assert!(plan.files.is_empty(), "the command travels in argv");
}

#[test]
fn no_hooks_are_planned_without_a_hook_setup_or_with_hooks_false() {
    let plain = Scripted.launch_plan(&request(LaunchMode::Fresh)).unwrap();
    assert!(!plain.argv.iter().any(|a| a == "--hook-command-json"));
    let mut off = with_hooks(request(LaunchMode::Fresh));
    off.options.insert("hooks".into(), serde_json::json!(false));
    let plan = Scripted.launch_plan(&off).unwrap();
    assert!(!plan.argv.iter().any(|a| a == "--hook-command-json"));
    off.options.insert("hooks".into(), serde_json::json!("no"));
    let error = Scripted.launch_plan(&off).unwrap_err();
    assert!(error.message.contains("provider_options.hooks"), "{error}");
}

#[test]
fn the_capabilities_name_every_event_kind_the_hooks_report() {
    let kinds = Scripted.capabilities().hook_events;
    assert_eq!(kinds, hooks::EMITTED);
}
