use std::collections::BTreeMap;
use std::path::PathBuf;

use team_agent_plugin_api::{
    ErrorKind, LaunchMode, LaunchPlan, LaunchRequest, McpServer, PermissionMode, ProviderPlugin,
};

use super::codex;
use crate::launch::toml_string;

pub(super) fn request(mode: LaunchMode) -> LaunchRequest {
    LaunchRequest {
        agent_id: "reviewer".into(),
        role: "reviews".into(),
        model: None,
        cwd: "/w/proj".into(),
        system_prompt: String::new(),
        permission_mode: PermissionMode::Restricted,
        mode,
        new_session_id: "5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b".into(),
        mcp_server: None,
        profile_env: BTreeMap::new(),
        host_bin_dir: "/opt/team-agent/bin".into(),
        home: "/h/reviewer".into(),
        options: BTreeMap::new(),
        hooks: None,
    }
}

pub(super) fn plan(request: &LaunchRequest) -> LaunchPlan {
    codex().launch_plan(request).unwrap()
}

/// The value of the `-c KEY=…` override, if the plan has one.
pub(super) fn config_value<'a>(plan: &'a LaunchPlan, key: &str) -> Option<&'a str> {
    plan.argv
        .windows(2)
        .filter(|w| w[0] == "-c")
        .find_map(|w| w[1].strip_prefix(&format!("{key}=")))
}

/// What Codex reads from a `-c` value: it is parsed as TOML.
pub(super) fn parsed(value: &str) -> toml::Value {
    let table: toml::Table = toml::from_str(&format!("v = {value}")).unwrap();
    table["v"].clone()
}

#[test]
fn a_fresh_start_is_inline_without_daemon_and_read_only_by_default() {
    let plan = plan(&request(LaunchMode::Fresh));
    assert_eq!(
        plan.argv,
        [
            "codex",
            "--no-alt-screen",
            "--no-daemon",
            "--sandbox",
            "read-only",
            "--ask-for-approval",
            "on-request"
        ]
    );
    assert_eq!(plan.expected_session_id, None);
    assert_eq!(
        plan.transcript_dir,
        Some(PathBuf::from("/h/reviewer/.codex/sessions"))
    );
}

#[test]
fn resume_and_fork_put_the_subcommand_first_and_the_session_last() {
    let id = "01a205da-c737-7cf1-bdf7-549c91c21505";
    let resume = plan(&request(LaunchMode::Resume {
        session_id: id.into(),
    }));
    assert_eq!(resume.argv[1], "resume");
    assert_eq!(resume.argv.last().unwrap(), id);
    assert_eq!(resume.expected_session_id.as_deref(), Some(id));
    let fork = plan(&request(LaunchMode::Fork {
        source_session_id: id.into(),
    }));
    assert_eq!(fork.argv[1], "fork");
    assert_eq!(fork.argv.last().unwrap(), id);
    assert_eq!(
        fork.expected_session_id, None,
        "a fork gets a new id Codex picks"
    );
}

#[test]
fn a_resume_or_fork_without_a_usable_id_is_refused() {
    for mode in [
        LaunchMode::Resume {
            session_id: String::new(),
        },
        LaunchMode::Resume {
            session_id: "--last".into(),
        },
        LaunchMode::Fork {
            source_session_id: "a b".into(),
        },
    ] {
        let error = codex().launch_plan(&request(mode.clone())).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{mode:?}");
    }
}

#[test]
fn each_permission_mode_maps_to_real_codex_flags() {
    let flags = |mode| {
        let mut r = request(LaunchMode::Fresh);
        r.permission_mode = mode;
        plan(&r).argv[3..].join(" ")
    };
    assert_eq!(
        flags(PermissionMode::Restricted),
        "--sandbox read-only --ask-for-approval on-request"
    );
    assert_eq!(
        flags(PermissionMode::Ask),
        "--sandbox workspace-write --ask-for-approval on-request"
    );
    assert_eq!(
        flags(PermissionMode::Trusted),
        "--sandbox workspace-write --ask-for-approval never"
    );
    assert_eq!(
        flags(PermissionMode::DangerousBypass),
        "--dangerously-bypass-approvals-and-sandbox"
    );
}

#[test]
fn the_model_and_system_prompt_are_passed_and_the_prompt_survives_toml() {
    let mut r = request(LaunchMode::Fresh);
    r.model = Some("gpt-6.1-sol".into());
    r.system_prompt =
        "You are Team Agent worker `reviewer`.\nSay \"done\" in C:\\tmp\tnow\u{7}.".into();
    let plan = plan(&r);
    let at = plan.argv.iter().position(|a| a == "--model").unwrap();
    assert_eq!(plan.argv[at + 1], "gpt-6.1-sol");
    let value = config_value(&plan, "developer_instructions").unwrap();
    assert!(!value.contains('\n'), "one argv element, one line: {value}");
    assert_eq!(parsed(value).as_str(), Some(r.system_prompt.as_str()));
}

#[test]
fn toml_strings_escape_quotes_backslashes_and_controls() {
    assert_eq!(toml_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    assert_eq!(toml_string("\u{1b}[0m"), r#""\u001B[0m""#);
    assert_eq!(parsed(&toml_string("é ✓ `x`")).as_str(), Some("é ✓ `x`"));
}

#[test]
fn the_team_mcp_server_becomes_config_overrides() {
    let mut r = request(LaunchMode::Fresh);
    r.mcp_server = Some(McpServer {
        name: "team".into(),
        command: "/opt/team-agent/bin/team-agent".into(),
        args: vec![
            "mcp-server".into(),
            "--workspace".into(),
            "/w/my \"ws\"".into(),
        ],
        env: BTreeMap::from([("TEAM_AGENT_ID".to_string(), "reviewer".to_string())]),
        config_file: None,
    });
    let plan = plan(&r);
    let command = config_value(&plan, "mcp_servers.team.command").unwrap();
    assert_eq!(
        parsed(command).as_str(),
        Some("/opt/team-agent/bin/team-agent")
    );
    let args = parsed(config_value(&plan, "mcp_servers.team.args").unwrap());
    let args: Vec<&str> = args
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["mcp-server", "--workspace", "/w/my \"ws\""]);
    let env = config_value(&plan, "mcp_servers.team.env.TEAM_AGENT_ID").unwrap();
    assert_eq!(parsed(env).as_str(), Some("reviewer"));
    let timeout = config_value(&plan, "mcp_servers.team.tool_timeout_sec").unwrap();
    assert_eq!(parsed(timeout).as_float(), Some(600.0));
    // The team's tools run without Codex's "Allow the team MCP server to run tool" prompt.
    let approval = config_value(&plan, "mcp_servers.team.default_tools_approval_mode").unwrap();
    assert_eq!(parsed(approval).as_str(), Some("approve"));
}

#[test]
fn a_profile_endpoint_becomes_the_workers_model_provider() {
    let mut r = request(LaunchMode::Fresh);
    r.profile_env = BTreeMap::from([
        (
            "OPENAI_BASE_URL".to_string(),
            "http://127.0.0.1:9/v1".to_string(),
        ),
        ("OPENAI_API_KEY".to_string(), "sk-x".to_string()),
    ]);
    let plan = plan(&r);
    let value = |key: &str| {
        parsed(config_value(&plan, key).unwrap())
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        value("model_provider").as_deref(),
        Some("team_agent_gateway")
    );
    let provider = "model_providers.team_agent_gateway";
    assert_eq!(
        value(&format!("{provider}.base_url")).as_deref(),
        Some("http://127.0.0.1:9/v1")
    );
    assert_eq!(
        value(&format!("{provider}.env_key")).as_deref(),
        Some("OPENAI_API_KEY")
    );
    assert_eq!(
        value(&format!("{provider}.wire_api")).as_deref(),
        Some("responses")
    );
    assert!(
        !plan.argv.iter().any(|a| a.contains("sk-x")),
        "the key stays in the environment"
    );

    r.profile_env
        .insert("OPENAI_BASE_URL".into(), "gateway:8080".into());
    let error = codex().launch_plan(&r).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(
        error.message.contains("OPENAI_BASE_URL"),
        "{}",
        error.message
    );
}

#[test]
fn provider_options_config_become_overrides_and_other_options_are_refused() {
    let mut r = request(LaunchMode::Fresh);
    r.options = BTreeMap::from([(
        "config".to_string(),
        serde_json::json!({
            "model_reasoning_effort": "high",
            "model_providers.team_agent_gateway.request_max_retries": 0,
            "tui.notifications": ["agent-turn-complete"],
            "shell_environment_policy": {"inherit": "core", "set": {"A B": "1"}},
        }),
    )]);
    let plan = plan(&r);
    assert_eq!(
        parsed(config_value(&plan, "model_reasoning_effort").unwrap()).as_str(),
        Some("high")
    );
    let retries = config_value(
        &plan,
        "model_providers.team_agent_gateway.request_max_retries",
    );
    assert_eq!(parsed(retries.unwrap()).as_integer(), Some(0));
    let list = parsed(config_value(&plan, "tui.notifications").unwrap());
    assert_eq!(
        list.as_array().unwrap()[0].as_str(),
        Some("agent-turn-complete")
    );
    let table = parsed(config_value(&plan, "shell_environment_policy").unwrap());
    assert_eq!(table["set"]["A B"].as_str(), Some("1"));

    for (options, needle) in [
        (
            serde_json::json!({"work_ms": 1}),
            "provider_options.work_ms",
        ),
        (serde_json::json!({"config": "x"}), "must be a map"),
        (serde_json::json!({"config": {"a b": 1}}), "\"a b\""),
        (serde_json::json!({"config": {"k": null}}), "is null"),
    ] {
        let mut r = request(LaunchMode::Fresh);
        r.options = options.as_object().unwrap().clone().into_iter().collect();
        let error = codex().launch_plan(&r).unwrap_err();
        assert!(
            error.message.contains(needle),
            "{needle}: {}",
            error.message
        );
    }
}

#[test]
fn mcp_names_codex_cannot_read_as_keys_are_refused() {
    for (name, env_key) in [("team agent", "K"), ("team.x", "K"), ("team", "A-B")] {
        let mut r = request(LaunchMode::Fresh);
        r.mcp_server = Some(McpServer {
            name: name.into(),
            command: "x".into(),
            args: vec![],
            env: BTreeMap::from([(env_key.to_string(), "v".to_string())]),
            config_file: None,
        });
        let error = codex().launch_plan(&r).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{name} {env_key}");
    }
}

#[test]
fn the_leaders_identity_is_stripped_and_the_profile_is_set() {
    let mut r = request(LaunchMode::Fresh);
    r.profile_env = BTreeMap::from([("OPENAI_BASE_URL".to_string(), "https://x".to_string())]);
    let plan = plan(&r);
    for var in [
        "TMUX",
        "TMUX_PANE",
        "CLAUDECODE",
        "CODEX_THREAD_ID",
        "CODEX_HOME",
    ] {
        assert!(plan.env_unset.iter().any(|v| v == var), "{var}");
    }
    assert_eq!(plan.env, r.profile_env);
    assert!(plan.pre_steps.is_empty(), "no key, no login");
}

#[test]
fn a_profile_api_key_logs_in_first_with_the_key_on_stdin_only() {
    let mut r = request(LaunchMode::Fresh);
    r.profile_env = BTreeMap::from([("OPENAI_API_KEY".to_string(), "sk-test-123".to_string())]);
    let plan = plan(&r);
    let [login] = plan.pre_steps.as_slice() else {
        panic!("one pre-step expected: {:?}", plan.pre_steps)
    };
    assert_eq!(login.argv, ["codex", "login", "--with-api-key"]);
    assert_eq!(login.stdin.as_deref(), Some("sk-test-123\n"));
    assert!(!login.argv.iter().any(|a| a.contains("sk-test")));
    assert!(!login.description.contains("sk-test"));
    assert_eq!(
        login.unless_exists,
        Some(PathBuf::from("/h/reviewer/.codex/auth.json"))
    );
    assert_eq!(login.env["HOME"], "/h/reviewer");
    // A fresh machine has no ~/.codex, and Codex refuses a CODEX_HOME that does not exist.
    assert!(!login.env.contains_key("CODEX_HOME"));
    assert!(login.env_unset.iter().any(|v| v == "CODEX_HOME"));
    assert!(!plan.argv.iter().any(|a| a.contains("sk-test")));
}

#[test]
fn a_profile_that_moves_codex_home_is_refused() {
    let mut r = request(LaunchMode::Fresh);
    r.profile_env = BTreeMap::from([("CODEX_HOME".to_string(), "/elsewhere".to_string())]);
    let error = codex().launch_plan(&r).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("CODEX_HOME"));
}

#[test]
fn leader_plan_passes_the_operators_arguments_first_and_adds_the_server_and_instructions() {
    let request = team_agent_plugin_api::LeaderRequest {
        args: vec!["resume".into(), "--last".into(), "--".into(), "-x".into()],
        cwd: "/w/proj".into(),
        mcp_server: Some(McpServer {
            name: "team-agent".into(),
            command: "/opt/bin/team-agent".into(),
            args: vec!["mcp".into()],
            env: BTreeMap::new(),
            config_file: None,
        }),
        instructions: "Lead \"well\".\nThen stop.".into(),
        home: "/h".into(),
    };
    let plan = codex().leader_plan(&request).unwrap();
    assert_eq!(&plan.argv[..3], ["codex", "resume", "--last"]);
    assert_eq!(&plan.argv[plan.argv.len() - 2..], ["--", "-x"]);
    assert!(
        plan.argv
            .contains(&"mcp_servers.team-agent.command=\"/opt/bin/team-agent\"".to_string())
    );
    let instructions = format!(
        "developer_instructions={}",
        toml_string("Lead \"well\".\nThen stop.")
    );
    assert!(plan.argv.contains(&instructions), "{:?}", plan.argv);
    assert_eq!(plan.expected_session_id, None);
    assert!(!plan.env_unset.iter().any(|v| v == "TMUX"));
}
