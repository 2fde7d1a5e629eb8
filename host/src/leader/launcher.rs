//! `team-agent PROVIDER [ARGS…]`: the provider's CLI as the team's leader. Inside tmux it becomes
//! the current pane's program; outside, it runs in a tmux session of the operator's own server
//! named after the provider and the workspace (attached when it exists already). The leader gets
//! `TEAM_AGENT_WORKSPACE`, `TEAM_AGENT_LEADER_PROVIDER`, the team-agent MCP server in leader mode
//! and the instructions, both placed by the provider plugin's `leader_plan`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use team_agent_plugin_api::loader::CallError;
use team_agent_plugin_api::{ErrorKind, LaunchPlan, LeaderRequest, McpServer};

use super::LeaderError;
use crate::events::EventLog;
use crate::lifecycle::{WorkerEnv, resolvable, write_mcp_server};
use crate::plugins::Registry;
use crate::tmux::{self, Server};
use crate::workspace::{self, Workspace};

/// Variables that say "this process is a worker" or belong to another leader: never inherited.
const NOT_FOR_THE_LEADER: &[&str] = &["TEAM_AGENT_ID", "TEAM_AGENT_BIN"];

/// What a launch outside tmux did (inside tmux the launcher becomes the CLI and never returns).
#[derive(Debug, Clone, Serialize)]
pub struct LaunchOutcome {
    pub ok: bool,
    pub provider: String,
    /// The leader's tmux session on the operator's default tmux server.
    pub session: String,
    pub tmux_socket: PathBuf,
    /// `false` when the session existed already (nothing was started).
    pub started: bool,
    pub attach_command: String,
}

/// Starts (or finds) the leader for `provider_name` with the operator's `args`.
pub fn launch(
    workspace: &Workspace,
    registry: &Registry,
    provider_name: &str,
    args: &[String],
) -> anyhow::Result<LaunchOutcome> {
    let provider = registry
        .provider(provider_name)
        .map_err(|e| LeaderError::new(e.to_string()).action("see `team-agent plugins list`"))?;
    let manifest = provider
        .manifest()
        .map_err(|e| LeaderError::new(format!("provider '{provider_name}': {e}")))?;
    let name = manifest.name.clone();
    if !resolvable(&manifest.executable) {
        return Err(LeaderError::new(format!(
            "'{}' is not installed (not found on PATH)",
            manifest.executable
        ))
        .action(format!(
            "install the {name} CLI, or put it on PATH, then run `team-agent {name}` again"
        ))
        .reason("provider_cli_missing")
        .into());
    }
    if std::env::var_os("TMUX").is_some_and(|t| !t.is_empty()) {
        let error = exec_here(workspace, &provider, &name, &manifest.executable, args);
        return Err(error);
    }
    in_new_session(workspace, &name, args)
}

/// The leader's tmux session: `team-agent-leader-<provider>-<folder>-<hash>`.
pub fn session_name(workspace: &Workspace, provider: &str) -> String {
    let folder = workspace
        .root()
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let folder: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hash = tmux::workspace_hash(&workspace.identity());
    format!("team-agent-leader-{provider}-{folder}-{}", &hash[..8])
}

/// Outside tmux: a session on the operator's default server that runs this launcher again (now
/// inside tmux), with the caller's environment carried over through a private file.
fn in_new_session(
    workspace: &Workspace,
    provider: &str,
    args: &[String],
) -> anyhow::Result<LaunchOutcome> {
    let server = Server::at(tmux::socket_dir().join("default"));
    let session = session_name(workspace, provider);
    let attach_command = format!("tmux attach -t '={session}'");
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let outcome = |started| LaunchOutcome {
        ok: true,
        provider: provider.to_string(),
        session: session.clone(),
        tmux_socket: server.socket().to_path_buf(),
        started,
        attach_command: attach_command.clone(),
    };
    let started = if server.has_session(&session) {
        false
    } else {
        create_session(workspace, &server, &session, provider, args)?
    };
    let events = EventLog::new(workspace);
    events.emit(
        "leader.session",
        json!({"provider": provider, "session": session, "started": started}),
    );
    if interactive {
        let error = server.exec_attach(&session, false);
        return Err(
            LeaderError::new(format!("cannot attach to tmux session {session}: {error}"))
                .action(format!("attach by hand: {attach_command}"))
                .into(),
        );
    }
    Ok(outcome(started))
}

/// Creates the detached session; `false` when another launcher created it meanwhile.
fn create_session(
    workspace: &Workspace,
    server: &Server,
    session: &str,
    provider: &str,
    args: &[String],
) -> anyhow::Result<bool> {
    workspace.ensure_dirs()?;
    let env_file = carry_environment(workspace)?;
    let exe = std::env::current_exe()
        .map_err(|e| LeaderError::new(format!("cannot find the team-agent binary: {e}")))?;
    let exe = exe.to_string_lossy().into_owned();
    let root = workspace.root().to_string_lossy().into_owned();
    let mut command: Vec<String> = vec![
        "new-session".into(),
        "-d".into(),
        "-s".into(),
        session.into(),
        "-n".into(),
        provider.into(),
        "-c".into(),
        root.clone(),
        "--".into(),
        exe.clone(),
        "worker-exec".into(),
        "--env-file".into(),
        env_file.to_string_lossy().into_owned(),
        "--".into(),
        exe,
        "--workspace".into(),
        root,
        provider.into(),
    ];
    command.extend(args.iter().cloned());
    tmux::ensure_socket_dir(server.socket())?;
    match server.run(&command) {
        Ok(_) => Ok(true),
        Err(_) if server.has_session(session) => {
            let _ = std::fs::remove_file(&env_file);
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&env_file);
            Err(LeaderError::new(format!("cannot create tmux session {session}: {e}"))
                .action("check that tmux works: `tmux new-session -d -s probe && tmux kill-session -t probe`")
                .into())
        }
    }
}

/// The caller's whole environment, for the pane (a tmux server that already runs would otherwise
/// give the leader its own, older environment: another `PATH`, no API key).
fn carry_environment(workspace: &Workspace) -> anyhow::Result<PathBuf> {
    let set: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !NOT_FOR_THE_LEADER.contains(&k.as_str()) && k != "TMUX_PANE")
        .collect();
    let dir = workspace.runtime_dir().join("env");
    workspace::private_dir(&dir)?;
    let file = dir.join(format!("leader-{}.json", std::process::id()));
    let env = WorkerEnv {
        set,
        unset: NOT_FOR_THE_LEADER.iter().map(|s| s.to_string()).collect(),
    };
    crate::state::write_atomically(&file, &serde_json::to_vec(&env)?, 0o600)
        .map_err(|e| LeaderError::new(format!("cannot write {}: {e}", file.display())))?;
    Ok(file)
}

/// Inside tmux: becomes the provider's CLI in this pane. Returns only on failure.
fn exec_here(
    workspace: &Workspace,
    provider: &team_agent_plugin_api::loader::ProviderClient<'_>,
    name: &str,
    executable: &str,
    args: &[String],
) -> anyhow::Error {
    let plan = match leader_plan(workspace, provider, name, executable, args) {
        Ok(plan) => plan,
        Err(e) => return e,
    };
    let Some((program, rest)) = plan.argv.split_first() else {
        return LeaderError::new(format!("provider '{name}' planned an empty leader command"))
            .into();
    };
    if !resolvable(program) {
        return LeaderError::new(format!("'{program}' is not installed (not found on PATH)"))
            .action(format!(
                "install the {name} CLI, or put it on PATH, then run `team-agent {name}` again"
            ))
            .reason("provider_cli_missing")
            .into();
    }
    let root = workspace.root().to_string_lossy().into_owned();
    EventLog::new(workspace).emit(
        "leader.start",
        json!({"provider": name, "pane_id": std::env::var("TMUX_PANE").ok(), "argv_len": plan.argv.len()}),
    );
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).current_dir(workspace.root());
    for var in NOT_FOR_THE_LEADER
        .iter()
        .map(|s| s.to_string())
        .chain(plan.env_unset.clone())
    {
        cmd.env_remove(var);
    }
    cmd.env("TEAM_AGENT_WORKSPACE", &root)
        .env("TEAM_AGENT_LEADER_PROVIDER", name)
        .envs(&plan.env);
    if let Some(team) = workspace.team() {
        cmd.env("TEAM_AGENT_TEAM", team);
    }
    let error = cmd.exec();
    LeaderError::new(format!("cannot start {program}: {error}")).into()
}

/// The provider's leader plan, or its bare executable with the operator's arguments when the
/// plugin does not plan leaders.
fn leader_plan(
    workspace: &Workspace,
    provider: &team_agent_plugin_api::loader::ProviderClient<'_>,
    provider_name: &str,
    executable: &str,
    args: &[String],
) -> Result<LaunchPlan, anyhow::Error> {
    let request = LeaderRequest {
        args: args.to_vec(),
        cwd: workspace.root().to_path_buf(),
        mcp_server: Some(leader_mcp_server(workspace, provider_name)?),
        instructions: instructions(Some(workspace.root())),
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    match provider.leader_plan(&request) {
        Ok(plan) => Ok(plan),
        Err(CallError::Plugin { error, .. }) if error.kind == ErrorKind::Unsupported => {
            let mut argv = vec![executable.to_string()];
            argv.extend(args.iter().cloned());
            Ok(LaunchPlan {
                argv,
                env: BTreeMap::new(),
                env_unset: Vec::new(),
                expected_session_id: None,
                transcript_dir: None,
                pre_steps: Vec::new(),
                files: Vec::new(),
            })
        }
        Err(e) => Err(LeaderError::new(format!("cannot plan the leader: {e}"))
            .action("run `team-agent plugins list` and `team-agent doctor`")
            .into()),
    }
}

/// Writes `.team/runtime/mcp/leader.json`: the MCP server in leader mode (no `TEAM_AGENT_ID`),
/// told which pane leads so its lifecycle tools act as that pane.
fn leader_mcp_server(workspace: &Workspace, provider: &str) -> anyhow::Result<McpServer> {
    workspace.ensure_dirs()?;
    let root = workspace.root().to_string_lossy().into_owned();
    // Codex hands an MCP server only a few variables of its own environment: what the server
    // needs goes in its configuration.
    let mut env = BTreeMap::from([
        ("TEAM_AGENT_WORKSPACE".to_string(), root),
        (
            "TEAM_AGENT_TEAM".to_string(),
            workspace.team().unwrap_or_default().to_string(),
        ),
        (
            "TEAM_AGENT_LEADER_PROVIDER".to_string(),
            provider.to_string(),
        ),
    ]);
    for (var, from) in [
        ("TEAM_AGENT_LEADER_PANE", "TMUX_PANE"),
        ("TEAM_AGENT_LEADER_TMUX", "TMUX"),
    ] {
        if let Ok(value) = std::env::var(from) {
            env.insert(var.into(), value);
        }
    }
    // The commands the leader's tools run (a team's `up` among them) get the operator's
    // environment, not the few variables Codex hands its MCP servers: workers started from a
    // Codex leader would otherwise miss the operator's proxy, PATH entries and CLI switches.
    let file = leader_environment(workspace, &env)?;
    env.insert(
        super::LEADER_ENV_VAR.to_string(),
        file.to_string_lossy().into_owned(),
    );
    let file = workspace.runtime_dir().join("mcp").join("leader.json");
    Ok(write_mcp_server(workspace, file, env).map_err(LeaderError::new)?)
}

/// Writes the leader's environment (the operator's, as this process has it, with the leader's
/// own variables `own`) to a private file `.team/runtime/mcp/leader-env.json` for the leader's
/// MCP server.
fn leader_environment(
    workspace: &Workspace,
    own: &BTreeMap<String, String>,
) -> anyhow::Result<PathBuf> {
    let mut set: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !NOT_FOR_THE_LEADER.contains(&k.as_str()))
        .collect();
    set.extend(own.clone());
    let dir = workspace.runtime_dir().join("mcp");
    workspace::private_dir(&dir)?;
    let file = dir.join("leader-env.json");
    let env = WorkerEnv {
        set,
        unset: Vec::new(),
    };
    crate::state::write_atomically(&file, &serde_json::to_vec(&env)?, 0o600)
        .map_err(|e| LeaderError::new(format!("cannot write {}: {e}", file.display())))?;
    Ok(file)
}

/// How to lead a team with team-agent: the text the leader's CLI gets as instructions and
/// `install-skill` writes as a skill.
pub fn instructions(workspace: Option<&Path>) -> String {
    let place = workspace
        .map(|ws| format!(" in the workspace {}", ws.display()))
        .unwrap_or_default();
    format!(
        "You lead a team of AI coding agents with team-agent{place}. Each worker is a real coding-agent CLI (codex, claude, or the offline `scripted` agent) in its own tmux window; you talk to them only through team-agent, never by typing into their panes.\n\
Build a team: `team-agent init DIR` writes DIR/TEAM.md (team name, objective) and DIR/agents/<id>.md (one file per worker: front matter `name`, `role`, `provider` codex|claude|scripted, optional `model` and `permission_mode` restricted|ask|trusted; the body is the worker's instructions); check it with `team-agent validate DIR`.\n\
Run it: `team-agent up DIR` (MCP tool `start_team`); `team-agent status` (`get_team_status`) shows who runs and who is busy; `team-agent add-agent ID --role-file FILE` (`add_agent`) and `team-agent stop-agent ID` (`stop_agent`) change the team while it runs.\n\
Give work: `team-agent send ID \"task\" --task T1` (`send_message`). Workers answer with `report_result`; results come to you as messages; `team-agent wait --task T1` blocks until one arrives and `team-agent results` lists them.\n\
When a worker waits for an approval, `team-agent peek ID` shows its screen and `team-agent answer ID CHOICE` answers. `team-agent shutdown` (`shutdown_team`) stops the team and keeps every session; `team-agent restart` resumes the same sessions later.",
    )
}
