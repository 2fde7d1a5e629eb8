use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use team_agent_plugin_api::{
    ErrorKind, HookSetup, LaunchMode, LaunchPlan, LaunchRequest, McpServer, PermissionMode,
    ProviderPlugin,
};

use super::gemini;

const NEW_ID: &str = "5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b";
const OLD_ID: &str = "4a082e59-7203-40ec-bf8a-cd3ea1a33c7e";
const HOOK_DIR: &str = "/w/proj/.team/runtime/hooks/w1";

fn request(mode: LaunchMode) -> LaunchRequest {
    LaunchRequest {
        agent_id: "w1".into(),
        role: "reviewer".into(),
        model: Some("gemini-2.5-flash".into()),
        cwd: "/w/proj".into(),
        system_prompt: "You are Team Agent worker `w1` (role: reviewer).\nSay \"done\".".into(),
        permission_mode: PermissionMode::Ask,
        mode,
        new_session_id: NEW_ID.into(),
        mcp_server: Some(McpServer {
            name: "team".into(),
            command: "/opt/team-agent/bin/team-agent".into(),
            args: vec!["mcp-server".into(), "--workspace".into(), "/w/proj".into()],
            env: [("TEAM_AGENT_ID".to_string(), "w1".to_string())].into(),
            config_file: Some("/w/proj/.team/runtime/mcp/w1.json".into()),
        }),
        profile_env: [("GEMINI_API_KEY".to_string(), "k".to_string())].into(),
        host_bin_dir: "/opt/team-agent/bin".into(),
        home: "/h".into(),
        options: BTreeMap::new(),
        hooks: Some(HookSetup {
            command: vec![
                "/opt/team agent/team-agent".into(),
                "hook".into(),
                "--agent".into(),
                "w1".into(),
            ],
            dir: HOOK_DIR.into(),
        }),
    }
}

fn plan(request: &LaunchRequest) -> LaunchPlan {
    gemini().launch_plan(request).unwrap()
}

/// The value right after `flag` in `argv`.
fn after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let at = argv.iter().position(|a| a == flag)?;
    argv.get(at + 1).map(String::as_str)
}

fn file(plan: &LaunchPlan, path: &str) -> String {
    plan.files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("no file {path} in {:?}", plan.files))
        .contents
        .clone()
}

fn settings(plan: &LaunchPlan) -> Value {
    let path = format!("{HOOK_DIR}/gemini-home/.gemini/settings.json");
    serde_json::from_str(&file(plan, &path)).unwrap()
}

#[test]
fn a_fresh_worker_starts_under_the_hosts_session_id_trusting_its_directory() {
    let plan = plan(&request(LaunchMode::Fresh));
    assert_eq!(plan.argv[0], "gemini");
    assert_eq!(after(&plan.argv, "--session-id"), Some(NEW_ID));
    assert_eq!(after(&plan.argv, "--model"), Some("gemini-2.5-flash"));
    assert_eq!(after(&plan.argv, "--approval-mode"), Some("auto_edit"));
    assert!(plan.argv.contains(&"--skip-trust".to_string()));
    assert!(!plan.argv.contains(&"--resume".to_string()));
    assert_eq!(plan.expected_session_id.as_deref(), Some(NEW_ID));
}

#[test]
fn the_worker_gets_a_gemini_home_of_its_own_in_its_hook_directory() {
    let plan = plan(&request(LaunchMode::Fresh));
    let home = format!("{HOOK_DIR}/gemini-home");
    assert_eq!(plan.env.get("GEMINI_CLI_HOME"), Some(&home));
    assert_eq!(
        plan.env.get("GEMINI_API_KEY").map(String::as_str),
        Some("k")
    );
    assert_eq!(
        plan.transcript_dir,
        Some(PathBuf::from(format!("{home}/.gemini/tmp")))
    );
    assert!(plan.files.iter().all(|f| f.path.starts_with(HOOK_DIR)));
    for var in ["GEMINI_SYSTEM_MD", "CI", "GITHUB_ACTIONS"] {
        assert!(plan.env_unset.contains(&var.to_string()), "{var} is kept");
    }
}

#[test]
fn the_settings_log_in_with_the_key_stay_off_the_network_and_trust_the_team_server() {
    let settings = settings(&plan(&request(LaunchMode::Fresh)));
    assert_eq!(
        settings["security"]["auth"]["selectedType"],
        "gemini-api-key"
    );
    assert_eq!(settings["general"]["enableAutoUpdate"], false);
    assert_eq!(settings["general"]["enableAutoUpdateNotification"], false);
    assert_eq!(settings["privacy"]["usageStatisticsEnabled"], false);
    assert_eq!(settings["telemetry"]["enabled"], false);
    let team = &settings["mcpServers"]["team"];
    assert_eq!(team["command"], "/opt/team-agent/bin/team-agent");
    assert_eq!(team["args"][0], "mcp-server");
    assert_eq!(team["env"]["TEAM_AGENT_ID"], "w1");
    assert_eq!(team["trust"], true);
}

#[test]
fn every_hooked_event_runs_the_quoted_host_command_with_its_name() {
    let settings = settings(&plan(&request(LaunchMode::Fresh)));
    assert_eq!(settings["hooksConfig"]["enabled"], true);
    let hooks = settings["hooks"].as_object().unwrap();
    let events: Vec<&str> = hooks.keys().map(String::as_str).collect();
    for event in [
        "SessionStart",
        "BeforeAgent",
        "BeforeTool",
        "AfterTool",
        "Notification",
        "AfterAgent",
    ] {
        assert!(events.contains(&event), "{event} not hooked: {events:?}");
        let hook = &hooks[event][0]["hooks"][0];
        assert_eq!(hook["type"], "command");
        assert_eq!(
            hook["command"],
            format!("'/opt/team agent/team-agent' hook --agent w1 {event}")
        );
    }
}

#[test]
fn the_system_prompt_is_the_homes_gemini_md() {
    let plan = plan(&request(LaunchMode::Fresh));
    let path = format!("{HOOK_DIR}/gemini-home/.gemini/GEMINI.md");
    assert_eq!(
        file(&plan, &path),
        "You are Team Agent worker `w1` (role: reviewer).\nSay \"done\".\n"
    );
    let mut quiet = request(LaunchMode::Fresh);
    quiet.system_prompt.clear();
    assert_eq!(self::plan(&quiet).files.len(), 1, "only the settings");
}

#[test]
fn a_resume_names_the_old_session_and_a_fork_is_unsupported() {
    let resume = plan(&request(LaunchMode::Resume {
        session_id: OLD_ID.into(),
    }));
    assert_eq!(after(&resume.argv, "--resume"), Some(OLD_ID));
    assert!(!resume.argv.contains(&"--session-id".to_string()));
    assert_eq!(resume.expected_session_id.as_deref(), Some(OLD_ID));
    // No banner on a resume: the input box alone is not ready until the history is drawn.
    assert_eq!(settings(&resume)["ui"]["hideBanner"], true);
    assert_eq!(
        settings(&plan(&request(LaunchMode::Fresh)))["ui"],
        Value::Null
    );
    let fork = gemini()
        .launch_plan(&request(LaunchMode::Fork {
            source_session_id: OLD_ID.into(),
        }))
        .unwrap_err();
    assert_eq!(fork.kind, ErrorKind::Unsupported);
}

#[test]
fn permission_modes_map_to_approval_modes() {
    for (mode, want) in [
        (PermissionMode::Restricted, "default"),
        (PermissionMode::Ask, "auto_edit"),
        (PermissionMode::Trusted, "auto_edit"),
        (PermissionMode::DangerousBypass, "yolo"),
    ] {
        let mut request = request(LaunchMode::Fresh);
        request.permission_mode = mode;
        assert_eq!(after(&plan(&request).argv, "--approval-mode"), Some(want));
    }
}

#[test]
fn a_profile_that_moves_the_gemini_home_or_an_id_that_is_no_uuid_is_refused() {
    let mut moved = request(LaunchMode::Fresh);
    moved
        .profile_env
        .insert("GEMINI_CLI_HOME".into(), "/elsewhere".into());
    let error = gemini().launch_plan(&moved).unwrap_err();
    assert!(error.message.contains("GEMINI_CLI_HOME"), "{error}");
    let bogus = request(LaunchMode::Resume {
        session_id: "latest".into(),
    });
    let error = gemini().launch_plan(&bogus).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    let mut no_hooks = request(LaunchMode::Fresh);
    no_hooks.hooks = None;
    assert!(gemini().launch_plan(&no_hooks).is_err());
}
