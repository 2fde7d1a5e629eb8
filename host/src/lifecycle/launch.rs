//! Starting one worker, in the steps every start shares (up, restart, start-agent, add-agent):
//! plan (the provider's launch plan, checked before anything is created), spawn (the tmux window,
//! with the worker's environment), settle (the startup-prompt loop and session capture).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use team_agent_plugin_api::loader::ProviderClient;
use team_agent_plugin_api::{
    LaunchMode, LaunchPlan, LaunchRequest, McpServer, PermissionMode, StartupDecision,
};

use crate::events::{EventLog, now_rfc3339};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::worktrees::{Created, Workplace};
use crate::session::{MCP_SERVER_NAME, last_lines};
use crate::spec::{Agent, LoadedSpec};
use crate::state::{AgentState, AgentStatus, WorktreeRecord};
use crate::tmux::{self, Server, Spawn};
use crate::workspace::{self, Workspace};

/// Variables that identify the leader or its terminal: never passed to a worker.
const LEADER_ONLY_ENV: [&str; 8] = [
    "TMUX",
    "TMUX_PANE",
    "TEAM_AGENT_LEADER_PANE_ID",
    "TEAM_AGENT_LEADER_PROVIDER",
    "TEAM_AGENT_LEADER_SESSION_UUID",
    "TEAM_AGENT_MACHINE_FINGERPRINT",
    "TEAM_AGENT_TEAM_ID",
    "CLAUDECODE",
];

/// A checked plan for one worker: nothing has been created yet.
#[derive(Debug, Clone)]
pub struct Planned {
    pub agent_id: String,
    pub provider: String,
    pub cwd: PathBuf,
    pub plan: LaunchPlan,
    pub env: WorkerEnv,
    /// The commands the coordinator may approve for it.
    pub auto_approve: Vec<String>,
    pub mode: LaunchMode,
    /// Its own worktree (the `cwd` is in it), and what this operation created of it.
    pub worktree: Option<(WorktreeRecord, Created)>,
}

/// A fresh session id (UUID v4) for providers that take one up front.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The worker's system prompt: the identity line (which also attributes transcripts), the team
/// contract, then the role's own text.
pub fn system_prompt(spec: &LoadedSpec, agent: &Agent) -> String {
    format!(
        "You are Team Agent worker `{id}` with role {role} in team {team}.\n\n\
Messages from the leader (and teammates) arrive in your terminal: each starts with \
\"Team Agent message from <sender>\" and ends with a [team-agent-token:…] line; the text \
\"for <task>\" in the header names the task. Use the team's MCP tools: send_message (to \"leader\", \
a teammate's id, or \"*\") for questions, progress and blockers, and report_result exactly once \
when a task is finished (status success, blocked, failed or partial, with a summary). Without \
MCP, run `\"$TEAM_AGENT_BIN\" report-result -` with a result_envelope_v1 JSON on stdin.\n\n{prompt}\n",
        id = agent.id,
        role = agent.role,
        team = spec.spec.team.name,
        prompt = spec.role_prompt(agent).trim(),
    )
}

fn permission_mode(spec: &LoadedSpec, agent: &Agent) -> PermissionMode {
    if agent.dangerously_skip_permissions || spec.spec.runtime.dangerous_auto_approve == Some(true)
    {
        return PermissionMode::DangerousBypass;
    }
    match agent.permission_mode.as_str() {
        "ask" => PermissionMode::Ask,
        "trusted" => PermissionMode::Trusted,
        _ => PermissionMode::Restricted,
    }
}

/// Reads `.team/profiles/<name>.env` (KEY=VALUE lines); it must be private (mode 0600).
pub fn read_profile(
    workspace: &Workspace,
    name: &str,
) -> Result<BTreeMap<String, String>, LifecycleError> {
    use std::os::unix::fs::PermissionsExt;
    let path = workspace
        .profiles_dir()
        .join(format!("{}.env", workspace::safe_name(name)));
    let meta = std::fs::metadata(&path).map_err(|_| {
        LifecycleError::plan(format!("profile '{name}': no file {}", path.display()))
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(LifecycleError::plan(format!(
            "profile '{name}': {} holds credentials but others can read it; run chmod 600 '{}'",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        LifecycleError::plan(format!(
            "profile '{name}': cannot read {}: {e}",
            path.display()
        ))
    })?;
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(LifecycleError::plan(format!(
                "profile '{name}': {}:{}: expected KEY=VALUE",
                path.display(),
                n + 1
            )));
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        vars.insert(key.trim().to_string(), value.to_string());
    }
    Ok(vars)
}

/// Writes `.team/runtime/mcp/<agent>.json` and describes the team's MCP server for the plan.
fn mcp_server(workspace: &Workspace, agent_id: &str) -> Result<McpServer, LifecycleError> {
    let env: BTreeMap<String, String> = [
        ("TEAM_AGENT_ID".to_string(), agent_id.to_string()),
        (
            "TEAM_AGENT_WORKSPACE".to_string(),
            workspace.root().to_string_lossy().into_owned(),
        ),
        (
            "TEAM_AGENT_TEAM".to_string(),
            workspace.team().unwrap_or_default().to_string(),
        ),
    ]
    .into_iter()
    .collect();
    write_mcp_server(workspace, workspace.mcp_config_file(agent_id), env)
        .map_err(LifecycleError::plan)
}

/// Writes the `{"mcpServers": …}` file of the team's MCP server (`team-agent mcp-server` with
/// `env`) to `file`, private, and describes the server for a launch plan.
pub fn write_mcp_server(
    workspace: &Workspace,
    file: PathBuf,
    env: BTreeMap<String, String>,
) -> Result<McpServer, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the team-agent binary: {e}"))?;
    let command = exe.to_string_lossy().into_owned();
    let args = vec![
        "mcp-server".to_string(),
        "--workspace".into(),
        workspace.root().to_string_lossy().into_owned(),
    ];
    if let Some(dir) = file.parent() {
        workspace::private_dir(dir).map_err(|e| e.to_string())?;
    }
    let config = json!({ "mcpServers": { MCP_SERVER_NAME: { "type": "stdio", "command": command, "args": args, "env": env } } });
    crate::state::write_derived(
        &file,
        serde_json::to_string_pretty(&config)
            .unwrap_or_default()
            .as_bytes(),
        0o600,
    )
    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(McpServer {
        name: MCP_SERVER_NAME.into(),
        command,
        args,
        env,
        config_file: Some(file),
    })
}

/// The hook command and directory of a worker, run by the worker-side binary
/// ([`crate::worker_side::worker_binary`]).
fn hook_setup(
    workspace: &Workspace,
    agent_id: &str,
) -> Result<team_agent_plugin_api::HookSetup, LifecycleError> {
    let exe = crate::worker_side::worker_binary()
        .map_err(|e| LifecycleError::plan(format!("cannot find the team-agent binary: {e}")))?;
    crate::hooks::setup(workspace, agent_id, &exe)
        .map_err(|e| LifecycleError::plan(format!("agent '{agent_id}': {e}")))
}

/// Finds a program the way `env` will: an absolute or relative path as is, else on `PATH`.
pub fn resolvable(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Asks the provider for a plan to start `agent` in its `workplace` and checks it, creating
/// nothing but the MCP config file.
pub fn plan(
    provider: &ProviderClient<'_>,
    workspace: &Workspace,
    spec: &LoadedSpec,
    agent: &Agent,
    mode: LaunchMode,
    workplace: Workplace,
) -> Result<Planned, LifecycleError> {
    let cwd = workplace.cwd.clone();
    if !cwd.is_dir() {
        return Err(LifecycleError::plan(format!(
            "agent '{}': working_directory {} does not exist",
            agent.id,
            cwd.display()
        )));
    }
    let profile_env = match &agent.profile {
        Some(name) => read_profile(workspace, name)?,
        None => BTreeMap::new(),
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let request = LaunchRequest {
        agent_id: agent.id.clone(),
        role: agent.role.clone(),
        model: agent.model.clone(),
        cwd: cwd.clone(),
        system_prompt: system_prompt(spec, agent),
        permission_mode: permission_mode(spec, agent),
        mode: mode.clone(),
        new_session_id: new_session_id(),
        mcp_server: Some(mcp_server(workspace, &agent.id)?),
        profile_env,
        host_bin_dir: workspace::exe_dir().unwrap_or_default(),
        home: home.clone(),
        options: agent.provider_options.clone(),
        hooks: Some(hook_setup(workspace, &agent.id)?),
    };
    let plan = provider
        .launch_plan(&request)
        .map_err(|e| LifecycleError::plan(format!("agent '{}': {e}", agent.id)))?;
    if let Some(hooks) = &request.hooks {
        crate::hooks::write_planned(hooks, &plan.files).map_err(|e| {
            LifecycleError::plan(format!(
                "agent '{}': the {} plugin's hook configuration: {e}",
                agent.id, agent.provider
            ))
        })?;
    }
    let Some(program) = plan.argv.first() else {
        return Err(LifecycleError::plan(format!(
            "agent '{}': the {} plugin planned no program",
            agent.id, agent.provider
        )));
    };
    if !resolvable(program) {
        return Err(LifecycleError::plan(format!(
            "agent '{}': `{program}` ({} provider) is not installed or not on PATH",
            agent.id, agent.provider
        )));
    }
    let env = worker_env(workspace, &agent.id, &home, &plan);
    Ok(Planned {
        agent_id: agent.id.clone(),
        provider: agent.provider.clone(),
        cwd,
        plan,
        env,
        auto_approve: agent.auto_approve.clone(),
        mode,
        worktree: workplace.worktree.map(|w| (w, workplace.created)),
    })
}

/// The worker's environment on top of what the tmux server inherited: what to set (team-agent's
/// own variables, the plan's, the profile's) and what to remove (the leader's identity).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerEnv {
    pub set: BTreeMap<String, String>,
    pub unset: Vec<String>,
}

fn worker_env(workspace: &Workspace, agent_id: &str, home: &Path, plan: &LaunchPlan) -> WorkerEnv {
    let mut unset: Vec<String> = LEADER_ONLY_ENV.iter().map(|s| s.to_string()).collect();
    unset.extend(plan.env_unset.iter().cloned());
    unset.sort_unstable();
    unset.dedup();
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    set.insert("TEAM_AGENT_ID".into(), agent_id.into());
    set.insert(
        "TEAM_AGENT_WORKSPACE".into(),
        workspace.root().to_string_lossy().into_owned(),
    );
    set.insert("TEAM_AGENT_BIN".into(), exe);
    if let Some(team) = workspace.team() {
        set.insert("TEAM_AGENT_TEAM".into(), team.into());
    }
    set.insert("HOME".into(), home.to_string_lossy().into_owned());
    if let Some(path) = std::env::var_os("PATH") {
        set.insert("PATH".into(), path.to_string_lossy().into_owned());
    }
    for (k, v) in &plan.env {
        set.insert(k.clone(), v.clone());
    }
    WorkerEnv { set, unset }
}

/// Writes the worker's environment to a private file (never argv, where `ps` would show a
/// profile's API key) and returns the command that applies it and runs the CLI:
/// `team-agent-worker worker-exec --env-file FILE -- argv…` (or `team-agent …` when the lean
/// binary is not installed). The file is deleted as it is read.
fn env_wrapper(
    workspace: &Workspace,
    planned: &Planned,
) -> Result<(Vec<String>, PathBuf), LifecycleError> {
    let dir = workspace.runtime_dir().join("env");
    workspace::private_dir(&dir).map_err(|e| LifecycleError::spawn(e.to_string()))?;
    let file = dir.join(format!(
        "{}-{}.json",
        workspace::safe_name(&planned.agent_id),
        new_session_id()
    ));
    let text = serde_json::to_vec(&planned.env).unwrap_or_default();
    crate::state::write_derived(&file, &text, 0o600)
        .map_err(|e| LifecycleError::spawn(format!("cannot write {}: {e}", file.display())))?;
    let exe =
        crate::worker_side::worker_binary().map_err(|e| LifecycleError::spawn(e.to_string()))?;
    let mut argv = vec![
        exe.to_string_lossy().into_owned(),
        "worker-exec".into(),
        "--env-file".into(),
        file.to_string_lossy().into_owned(),
        "--".into(),
    ];
    argv.extend(planned.plan.argv.iter().cloned());
    Ok((argv, file))
}

/// `team-agent worker-exec`: applies the environment file (deleting it) and becomes the CLI.
pub fn worker_exec(env_file: &Path, argv: &[String]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let env: WorkerEnv = match std::fs::read(env_file) {
        Ok(bytes) => {
            let _ = std::fs::remove_file(env_file);
            serde_json::from_slice(&bytes).unwrap_or_default()
        }
        Err(e) => {
            return std::io::Error::other(format!(
                "cannot read the worker environment {}: {e}",
                env_file.display()
            ));
        }
    };
    let Some((program, args)) = argv.split_first() else {
        return std::io::Error::other("no program to run");
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    for name in &env.unset {
        cmd.env_remove(name);
    }
    cmd.envs(&env.set);
    cmd.exec()
}

/// Runs the plan's pre-steps (a login, …): each once, secrets on stdin.
pub fn run_pre_steps(planned: &Planned, events: &EventLog) -> Result<(), LifecycleError> {
    for step in &planned.plan.pre_steps {
        if step.unless_exists.as_ref().is_some_and(|p| p.exists()) {
            continue;
        }
        let Some((program, args)) = step.argv.split_first() else {
            return Err(LifecycleError::plan(format!(
                "agent '{}': the {} plugin planned a pre-step without a command ({})",
                planned.agent_id, planned.provider, step.description
            )));
        };
        let mut cmd = std::process::Command::new(program);
        cmd.args(args);
        for name in &step.env_unset {
            cmd.env_remove(name);
        }
        cmd.envs(&step.env).current_dir(&planned.cwd);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            LifecycleError::spawn(format!(
                "agent '{}': {} failed to start: {e}",
                planned.agent_id, step.description
            ))
        })?;
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), step.stdin.as_ref()) {
            use std::io::Write;
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| LifecycleError::spawn(e.to_string()))?;
        events.emit("agent.pre_step", json!({"agent_id": planned.agent_id, "description": step.description, "ok": out.status.success()}));
        if !out.status.success() {
            return Err(LifecycleError::spawn(format!(
                "agent '{}': {} failed ({}): {}",
                planned.agent_id,
                step.description,
                out.status,
                failure_text(&String::from_utf8_lossy(&out.stderr))
            )));
        }
    }
    Ok(())
}

/// What a failed command said: its error lines, not the warnings CLIs print first (Codex warns
/// about helper binaries before every command), at most three, else its last line.
fn failure_text(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.to_ascii_lowercase().starts_with("warning"))
        .collect();
    match (errors.as_slice(), lines.last()) {
        ([], Some(last)) => last.to_string(),
        ([], None) => "it printed nothing".into(),
        (errors, _) => errors[errors.len().saturating_sub(3)..].join(" / "),
    }
}

/// Creates the workers' windows (with as few tmux processes as it can) and returns their fresh
/// state records, in order.
pub fn spawn_all(
    workspace: &Workspace,
    server: &Server,
    session: &str,
    planned: &[&Planned],
) -> Result<Vec<AgentState>, LifecycleError> {
    tmux::ensure_socket_dir(server.socket()).map_err(|e| LifecycleError::spawn(e.to_string()))?;
    let mut wrapped = Vec::with_capacity(planned.len());
    for p in planned {
        wrapped.push(env_wrapper(workspace, p)?);
    }
    let spawns: Vec<Spawn<'_>> = planned
        .iter()
        .zip(&wrapped)
        .map(|(p, (argv, _))| Spawn {
            session,
            window_name: &p.agent_id,
            cwd: &p.cwd,
            argv,
        })
        .collect();
    let panes = server.spawn_windows(&spawns).map_err(|e| {
        for (_, env_file) in &wrapped {
            let _ = std::fs::remove_file(env_file);
        }
        let ids: Vec<&str> = planned.iter().map(|p| p.agent_id.as_str()).collect();
        LifecycleError::spawn(format!("agents {}: {e}", ids.join(", ")))
    })?;
    Ok(planned
        .iter()
        .zip(panes)
        .map(|(p, pane)| new_state(p, pane))
        .collect())
}

/// The fresh state record of a worker whose window is `pane`.
fn new_state(planned: &Planned, pane: tmux::NewPane) -> AgentState {
    let mode = &planned.mode;
    let mut state = AgentState::new(&planned.agent_id, &planned.provider);
    state.pane_id = Some(pane.pane_id);
    state.window_id = Some(pane.window_id);
    state.spawned_at = Some(now_rfc3339());
    state.spawn_cwd = Some(planned.cwd.clone());
    state.expected_session_id = planned.plan.expected_session_id.clone();
    state.auto_approve = planned.auto_approve.clone();
    state.worktree = planned.worktree.as_ref().map(|(w, _)| w.clone());
    state.pane_pid = Some(pane.pane_pid);
    if let LaunchMode::Fork { source_session_id } = mode {
        state.forked_from = Some(source_session_id.clone());
    }
    state.launch_mode = Some(mode.clone());
    state
}

/// How long a starting worker may take to reach its input prompt (the 20 × 0.5 s bound), and
/// how often its screen is read meanwhile (often, so a ready worker is seen at once).
pub const STARTUP_BOUND: Duration = Duration::from_secs(10);
const STARTUP_POLL: Duration = Duration::from_millis(40);
/// After pressing keys, the screen needs a moment before it is read again.
const AFTER_KEYS: Duration = Duration::from_millis(250);
/// How long a dialog's screen must hold still before it is answered.
const SETTLE: Duration = Duration::from_millis(150);

/// Answers the worker's startup dialogs until it is ready, blocked, dead, or the bound passes.
pub fn settle_startup(
    server: &Server,
    provider: &ProviderClient<'_>,
    state: &mut AgentState,
    events: &EventLog,
) {
    let Some(pane) = state.pane_id.clone() else {
        return;
    };
    let started = Instant::now();
    while started.elapsed() < STARTUP_BOUND {
        let dead = server
            .display(&pane, "#{pane_dead}")
            .map(|d| d == "1")
            .unwrap_or(true);
        let screen = server.capture(&pane).unwrap_or_default();
        if dead {
            state.status = AgentStatus::Exited;
            state.exit_code = server
                .display(&pane, "#{pane_dead_status}")
                .ok()
                .and_then(|s| s.parse().ok());
            state.last_lines = last_lines(&screen, 10);
            events.emit(
                "agent.exited",
                json!({"agent_id": state.id, "exit_code": state.exit_code, "during": "startup"}),
            );
            return;
        }
        let verdict = match provider.handle_startup_prompts(&screen) {
            Ok(v) => v,
            Err(e) => {
                state.status = AgentStatus::Blocked;
                state.blocked_reason = Some(e.to_string());
                return;
            }
        };
        match verdict.value {
            StartupDecision::Ready => {
                state.status = AgentStatus::Running;
                state.blocked_reason = None;
                return;
            }
            StartupDecision::Answer { prompt, keys } => {
                // A dialog still being drawn may not listen yet: act on a screen that held still.
                std::thread::sleep(SETTLE);
                if server.capture(&pane).unwrap_or_default() != screen {
                    continue;
                }
                events.emit(
                    "agent.startup_prompt_answered",
                    json!({"agent_id": state.id, "prompt": prompt, "keys": keys, "rule": verdict.rule}),
                );
                let _ = server.send_keys(&pane, tmux::first_step(&keys));
                std::thread::sleep(AFTER_KEYS);
            }
            StartupDecision::Blocked { reason } => {
                events.emit(
                    "agent.blocked",
                    json!({"agent_id": state.id, "reason": reason, "rule": verdict.rule}),
                );
                state.status = AgentStatus::Blocked;
                state.blocked_reason = Some(reason);
                return;
            }
            StartupDecision::Waiting => std::thread::sleep(STARTUP_POLL),
        }
    }
}
