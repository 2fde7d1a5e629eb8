use std::collections::BTreeMap;
use std::path::PathBuf;

use team_agent_plugin_api::{
    ErrorKind, LaunchMode, LaunchPlan, LaunchRequest, McpServer, PermissionMode, ProviderPlugin,
};

use super::claude;

const NEW_ID: &str = "5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b";
const OLD_ID: &str = "4a082e59-7203-40ec-bf8a-cd3ea1a33c7e";

pub(super) fn request(mode: LaunchMode) -> LaunchRequest {
    LaunchRequest {
        agent_id: "w1".into(),
        role: "reviewer".into(),
        model: None,
        cwd: "/w/proj".into(),
        system_prompt: "You are Team Agent worker `w1` (role: reviewer).\nSay \"done\".".into(),
        permission_mode: PermissionMode::Ask,
        mode,
        new_session_id: NEW_ID.into(),
        mcp_server: None,
        profile_env: BTreeMap::new(),
        host_bin_dir: "/opt/team-agent/bin".into(),
        home: "/h".into(),
        options: BTreeMap::new(),
        hooks: None,
    }
}

pub(super) fn plan(request: &LaunchRequest) -> LaunchPlan {
    claude().launch_plan(request).unwrap()
}

/// The value right after `flag` in `argv`.
pub(super) fn after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let at = argv.iter().position(|a| a == flag)?;
    argv.get(at + 1).map(String::as_str)
}

#[test]
fn a_fresh_start_uses_the_pre_assigned_session_id() {
    let plan = plan(&request(LaunchMode::Fresh));
    assert_eq!(plan.argv[0], "claude");
    assert_eq!(after(&plan.argv, "--session-id"), Some(NEW_ID));
    assert_eq!(plan.expected_session_id.as_deref(), Some(NEW_ID));
    assert!(!plan.argv.iter().any(|a| a == "--resume"));
    assert_eq!(
        plan.transcript_dir,
        Some(PathBuf::from("/h/.claude/projects/-w-proj"))
    );
}

#[test]
fn the_system_prompt_is_appended_as_one_argument() {
    let request = request(LaunchMode::Fresh);
    let plan = plan(&request);
    assert_eq!(
        after(&plan.argv, "--append-system-prompt"),
        Some(request.system_prompt.as_str())
    );
}

#[test]
fn a_resume_continues_the_same_session() {
    let plan = plan(&request(LaunchMode::Resume {
        session_id: OLD_ID.into(),
    }));
    assert_eq!(after(&plan.argv, "--resume"), Some(OLD_ID));
    assert!(!plan.argv.iter().any(|a| a == "--session-id"));
    assert_eq!(plan.expected_session_id.as_deref(), Some(OLD_ID));
}

#[test]
fn a_fork_branches_the_source_into_the_new_id_with_this_workers_prompt() {
    let plan = plan(&request(LaunchMode::Fork {
        source_session_id: OLD_ID.into(),
    }));
    assert_eq!(after(&plan.argv, "--resume"), Some(OLD_ID));
    assert!(plan.argv.iter().any(|a| a == "--fork-session"));
    assert_eq!(after(&plan.argv, "--session-id"), Some(NEW_ID));
    assert_eq!(after(&plan.argv, "--system-prompt-snapshot"), Some("off"));
    assert_eq!(plan.expected_session_id.as_deref(), Some(NEW_ID));
}

#[test]
fn ids_that_are_not_uuids_are_refused() {
    for mode in [
        LaunchMode::Resume {
            session_id: String::new(),
        },
        LaunchMode::Resume {
            session_id: "--dangerously-skip-permissions".into(),
        },
        LaunchMode::Fork {
            source_session_id: "my session".into(),
        },
    ] {
        let error = claude().launch_plan(&request(mode.clone())).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{mode:?}");
    }
    let mut fresh = request(LaunchMode::Fresh);
    fresh.new_session_id = String::new();
    let error = claude().launch_plan(&fresh).unwrap_err();
    assert!(
        error.message.contains("new_session_id"),
        "{}",
        error.message
    );
}

#[test]
fn each_permission_mode_has_its_flag() {
    let flags = |mode| {
        let mut r = request(LaunchMode::Fresh);
        r.permission_mode = mode;
        plan(&r)
    };
    let mode_of = |plan: &LaunchPlan| after(&plan.argv, "--permission-mode").map(str::to_string);
    assert_eq!(
        mode_of(&flags(PermissionMode::Restricted)).as_deref(),
        Some("manual")
    );
    assert_eq!(
        mode_of(&flags(PermissionMode::Ask)).as_deref(),
        Some("acceptEdits")
    );
    assert_eq!(
        mode_of(&flags(PermissionMode::Trusted)).as_deref(),
        Some("auto")
    );
    let bypass = flags(PermissionMode::DangerousBypass);
    assert!(
        bypass
            .argv
            .iter()
            .any(|a| a == "--dangerously-skip-permissions")
    );
    assert_eq!(mode_of(&bypass), None);
}

#[test]
fn only_the_bypass_tells_claude_it_runs_in_a_sandbox() {
    let mut r = request(LaunchMode::Fresh);
    assert_eq!(plan(&r).env.get("IS_SANDBOX"), None);
    r.permission_mode = PermissionMode::DangerousBypass;
    assert_eq!(
        plan(&r).env.get("IS_SANDBOX").map(String::as_str),
        Some("1")
    );
}

#[test]
fn the_teams_mcp_server_comes_from_the_hosts_file_and_nothing_else() {
    let mut r = request(LaunchMode::Fresh);
    r.mcp_server = Some(McpServer {
        name: "team".into(),
        command: "/opt/team-agent/bin/team-agent".into(),
        args: vec!["mcp-server".into()],
        env: BTreeMap::from([("TEAM_AGENT_ID".into(), "w1".into())]),
        config_file: Some("/w/.team/runtime/mcp/w1.json".into()),
    });
    let with_file = plan(&r);
    assert_eq!(
        after(&with_file.argv, "--mcp-config"),
        Some("/w/.team/runtime/mcp/w1.json")
    );
    assert!(with_file.argv.iter().any(|a| a == "--strict-mcp-config"));
    // The team's tools are allowed up front, as one `=` value the variadic flag cannot extend.
    assert!(
        with_file
            .argv
            .iter()
            .any(|a| a == "--allowedTools=mcp__team__*"),
        "{:?}",
        with_file.argv
    );
    r.mcp_server.as_mut().unwrap().config_file = None;
    let inline = plan(&r);
    let config: serde_json::Value =
        serde_json::from_str(after(&inline.argv, "--mcp-config").unwrap()).unwrap();
    assert_eq!(
        config["mcpServers"]["team"]["command"],
        "/opt/team-agent/bin/team-agent"
    );
    assert_eq!(config["mcpServers"]["team"]["env"]["TEAM_AGENT_ID"], "w1");
}

#[test]
fn no_mcp_server_means_no_mcp_flags() {
    let plan = plan(&request(LaunchMode::Fresh));
    assert!(!plan.argv.iter().any(|a| a.contains("mcp")));
}

#[test]
fn the_leaders_markers_are_stripped_and_the_updater_is_off() {
    let plan = plan(&request(LaunchMode::Fresh));
    for name in [
        "TMUX",
        "TMUX_PANE",
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CODEX_THREAD_ID",
        "CLAUDE_CONFIG_DIR",
    ] {
        assert!(plan.env_unset.iter().any(|v| v == name), "{name}");
    }
    assert_eq!(
        plan.env.get("DISABLE_AUTOUPDATER").map(String::as_str),
        Some("1")
    );
}

#[test]
fn an_inherited_api_key_is_stripped_unless_the_profile_gives_one() {
    let mut r = request(LaunchMode::Fresh);
    let inherited = plan(&r);
    assert!(inherited.env_unset.iter().any(|v| v == "ANTHROPIC_API_KEY"));
    r.profile_env
        .insert("ANTHROPIC_API_KEY".into(), "sk-ant-profile".into());
    let profiled = plan(&r);
    assert!(!profiled.env_unset.iter().any(|v| v == "ANTHROPIC_API_KEY"));
    assert_eq!(
        profiled.env.get("ANTHROPIC_API_KEY").map(String::as_str),
        Some("sk-ant-profile")
    );
    assert!(
        !profiled.argv.iter().any(|a| a.contains("sk-ant")),
        "the key never goes on the command line"
    );
}

#[test]
fn a_profile_that_moves_claudes_config_dir_is_refused() {
    let mut r = request(LaunchMode::Fresh);
    r.profile_env
        .insert("CLAUDE_CONFIG_DIR".into(), "/elsewhere".into());
    let error = claude().launch_plan(&r).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("CLAUDE_CONFIG_DIR"));
}

#[test]
fn a_model_is_passed_when_given() {
    let mut r = request(LaunchMode::Fresh);
    assert!(!plan(&r).argv.iter().any(|a| a == "--model"));
    r.model = Some("sonnet".into());
    assert_eq!(after(&plan(&r).argv, "--model"), Some("sonnet"));
}

#[test]
fn the_transcript_directory_encodes_every_non_alphanumeric_character() {
    let mut r = request(LaunchMode::Fresh);
    r.cwd = "/Users/foo bar.baz/v1.2/é".into();
    assert_eq!(
        plan(&r).transcript_dir,
        Some(PathBuf::from(
            "/h/.claude/projects/-Users-foo-bar-baz-v1-2--"
        ))
    );
}

pub(super) fn leader_request(args: &[&str]) -> team_agent_plugin_api::LeaderRequest {
    team_agent_plugin_api::LeaderRequest {
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: "/w/proj".into(),
        mcp_server: Some(McpServer {
            name: "team-agent".into(),
            command: "/opt/team-agent/bin/team-agent".into(),
            args: vec!["mcp".into()],
            env: BTreeMap::new(),
            config_file: Some("/w/proj/.team/runtime/mcp/leader.json".into()),
        }),
        instructions: "Lead a team with team-agent.".into(),
        home: "/h".into(),
    }
}

#[test]
fn leader_plan_passes_the_operators_arguments_first_and_adds_the_server_and_instructions() {
    let plan = claude()
        .leader_plan(&leader_request(&["--foo", "-c"]))
        .unwrap();
    assert_eq!(&plan.argv[..3], ["claude", "--foo", "-c"]);
    assert_eq!(
        after(&plan.argv, "--mcp-config"),
        Some("/w/proj/.team/runtime/mcp/leader.json")
    );
    // The leader keeps the operator's own MCP servers; the team's tools never ask.
    assert!(!plan.argv.iter().any(|a| a == "--strict-mcp-config"));
    assert!(
        plan.argv
            .iter()
            .any(|a| a == "--allowedTools=mcp__team-agent__*")
    );
    assert_eq!(
        after(&plan.argv, "--append-system-prompt"),
        Some("Lead a team with team-agent.")
    );
    assert_eq!(plan.expected_session_id, None);
    assert!(!plan.env_unset.iter().any(|v| v == "TMUX"));
}

#[test]
fn leader_flags_go_before_the_operators_double_dash() {
    let plan = claude()
        .leader_plan(&leader_request(&["--model", "opus", "--", "--literal"]))
        .unwrap();
    let dash = plan.argv.iter().position(|a| a == "--").unwrap();
    let mcp = plan.argv.iter().position(|a| a == "--mcp-config").unwrap();
    assert!(mcp < dash, "{:?}", plan.argv);
    assert_eq!(plan.argv.last().unwrap(), "--literal");
}
