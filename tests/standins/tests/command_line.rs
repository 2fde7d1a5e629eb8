//! What the stand-ins do before drawing anything: refusing command lines the real CLIs refuse,
//! and the Codex login the codex plugin's launch plan runs as a pre-step.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use team_agent_plugin_api::loader::{self, FaultPolicy, ProviderClient};
use team_agent_plugin_api::{LaunchMode, LaunchRequest, PermissionMode};

/// Runs the stand-in under `name` (through a link, as tests install it) with `args`.
fn run_as(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ta-standin"), &link).unwrap();
    }
    let mut child = Command::new(&link)
        .args(args)
        .envs(env.iter().copied())
        .env("HOME", dir)
        .env_remove("IS_SANDBOX")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_session_id_that_is_not_a_uuid_is_refused_by_claude() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_as(
        dir.path(),
        "claude",
        &["--session-id", "w1-session"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("Invalid session ID"), "{}", said(&out));
}

#[test]
fn an_unknown_permission_mode_is_refused_like_claude_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_as(
        dir.path(),
        "claude",
        &["--permission-mode", "yolo"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out)
            .starts_with("error: option '--permission-mode <mode>' argument 'yolo' is invalid")
    );
}

#[test]
fn the_bypass_is_refused_to_root_unless_claude_is_told_it_runs_in_a_sandbox() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run_as(
        dir.path(),
        "claude",
        &["--dangerously-skip-permissions"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("cannot be used with root/sudo privileges"));
}

#[test]
fn the_codex_plugins_login_pre_step_logs_the_stand_in_in() {
    let dir = tempfile::tempdir().unwrap();
    let library = team_agent_conformance::built_library("team_agent_codex");
    let plugin = loader::load(&library).unwrap();
    let codex = ProviderClient::new(&plugin, FaultPolicy::KeepCalling).unwrap();
    let request = LaunchRequest {
        agent_id: "w1".into(),
        role: String::new(),
        model: None,
        cwd: dir.path().into(),
        system_prompt: String::new(),
        permission_mode: PermissionMode::Ask,
        mode: LaunchMode::Fresh,
        new_session_id: String::new(),
        mcp_server: None,
        profile_env: [("OPENAI_API_KEY".to_string(), "sk-test-123".to_string())].into(),
        host_bin_dir: dir.path().into(),
        home: dir.path().into(),
        options: Default::default(),
        hooks: None,
    };
    let plan = codex.launch_plan(&request).unwrap();
    let step = &plan.pre_steps[0];
    let args: Vec<&str> = step.argv[1..].iter().map(String::as_str).collect();
    let out = run_as(
        dir.path(),
        &step.argv[0],
        &args,
        &[],
        step.stdin.as_deref().unwrap_or_default(),
    );
    assert!(out.status.success(), "{}", said(&out));
    let auth = step.unless_exists.as_ref().unwrap();
    let saved = std::fs::read_to_string(auth).unwrap();
    assert!(saved.contains("sk-test-123"));
}

#[test]
fn a_name_that_is_no_persona_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_as(dir.path(), "gemini", &[], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(said(&out).contains("`claude` or `codex`"));
}
