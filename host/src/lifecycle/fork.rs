//! `team-agent fork-agent SOURCE --as NEW`: a new worker started from a copy of another's
//! provider session, with a role file of its own and, for a worktree worker, a branch of its own
//! that starts where the source's work is (its uncommitted changes included).

use std::path::{Path, PathBuf};

use serde_json::json;
use team_agent_plugin_api::LaunchMode;

use super::agents::{AgentOp, insert_agent, role_file, running_team, team_dir_of};
use super::bring_up::{StartedAgent, start_workers, write_tmux_config};
use super::worktrees::{self, Created, NotReady, Workplace};
use super::{Context, LifecycleError, launch, load_definition, server_of, unknown_agent};
use crate::state::{AgentState, AgentStatus, TeamState, WorktreeRecord};
use crate::tmux::Server;

/// `team-agent fork-agent SOURCE --as NEW`: a new worker that starts from a copy of SOURCE's
/// provider session (for providers that can fork). Rolled back whole on failure.
pub fn fork_agent(
    ctx: &Context<'_>,
    source: &str,
    new_id: &str,
    label: Option<&str>,
) -> Result<AgentOp, LifecycleError> {
    // 1. Decide: the source's session, a provider that can fork it, a free id.
    let team = running_team(ctx)?;
    let dir = team_dir_of(&team)?;
    let (origin, source_session) = fork_source(ctx, &team, source, new_id)?;
    // 2. Act: the new role file, its worktree, the plan, the window; a failure removes what it
    // made.
    let target = write_forked_role(&dir, source, new_id, label)?;
    let undo = |window: Option<&str>, made: &[(WorktreeRecord, Created)]| {
        let _ = std::fs::remove_file(&target);
        if let Some(w) = window {
            let _ = server_of(&team).kill_window(w);
        }
        worktrees::undo(made);
    };
    let spec = load_definition(ctx, &team).map_err(|e| {
        undo(None, &[]);
        LifecycleError::plan(format!("step validate failed (nothing was created): {e}"))
    })?;
    let agent = spec
        .spec
        .agent(new_id)
        .expect("the forked role file names the new agent");
    let mode = LaunchMode::Fork {
        source_session_id: source_session.clone(),
    };
    let workplace = fork_workplace(ctx, &spec, agent, &origin).inspect_err(|_| undo(None, &[]))?;
    let made: Vec<_> = workplace
        .worktree
        .clone()
        .map(|w| (w, workplace.created))
        .into_iter()
        .collect();
    let planned = plan_fork(ctx, &spec, agent, &origin, mode, workplace).map_err(|e| {
        undo(None, &made);
        LifecycleError::plan(format!("step plan failed (nothing was created): {e}"))
    })?;
    let server = Server::at(&team.tmux_socket).with_config(write_tmux_config(ctx)?);
    let others: Vec<String> = team
        .agents
        .values()
        .filter_map(|a| a.session_id().map(str::to_string))
        .collect();
    let mut started = start_workers(
        ctx,
        &server,
        &team.session_name,
        std::slice::from_ref(&planned),
        &others,
    )
    .map_err(|e| {
        undo(None, &made);
        LifecycleError::spawn(format!("step start failed (rolled back): {e}"))
    })?;
    let mut state = started.remove(0);
    if state.status == AgentStatus::Exited {
        undo(state.window_id.as_deref(), &made);
        return Err(LifecycleError::spawn(format!(
            "step start failed: the fork of {source} exited at once (code {:?}): {}; rolled back",
            state.exit_code,
            state.last_lines.join(" | ")
        )));
    }
    // 3. Record.
    state.forked_from_agent = Some(source.to_string());
    insert_agent(ctx, &state)?;
    ctx.events.emit("fork_agent.complete", json!({"source": source, "agent_id": new_id, "source_session_id": source_session, "session_id": state.session_id(),
                                                 "branch": state.worktree.as_ref().map(|w| &w.branch)}));
    Ok(AgentOp {
        ok: true,
        agent_id: new_id.into(),
        action: "forked",
        agent: Some(StartedAgent::of(&state)),
        message: format!(
            "{new_id} forked from {source} (session {source_session}); its role file is {}",
            target.display()
        ),
    })
}

/// Where a fork works: for a worktree worker, a worktree on its own branch, started from the
/// source's work as it is (its uncommitted changes included) when the source has a worktree.
fn fork_workplace(
    ctx: &Context<'_>,
    spec: &crate::spec::LoadedSpec,
    agent: &crate::spec::Agent,
    origin: &AgentState,
) -> Result<Workplace, LifecycleError> {
    let start = match (&origin.worktree, agent.isolation) {
        (Some(source), crate::spec::Isolation::Worktree) => Some(
            worktrees::fork_start(source, &origin.id, &agent.id).map_err(|e| {
                LifecycleError::plan(format!(
                    "step fork_branch failed (nothing was created): {e}"
                ))
            })?,
        ),
        _ => None,
    };
    match worktrees::prepare(ctx, spec, agent, None, start.as_deref()) {
        Ok(workplace) => Ok(workplace),
        Err(NotReady::Failed(e)) => Err(e),
        Err(NotReady::Setup(record, created)) => {
            let reason = record.setup_error.clone().unwrap_or_default();
            worktrees::undo(&[(*record, created)]);
            Err(LifecycleError::spawn(format!(
                "step worktree_setup failed: {reason}; the fork was rolled back"
            )))
        }
    }
}

fn plan_fork(
    ctx: &Context<'_>,
    spec: &crate::spec::LoadedSpec,
    agent: &crate::spec::Agent,
    origin: &AgentState,
    mode: LaunchMode,
    workplace: Workplace,
) -> Result<launch::Planned, LifecycleError> {
    let provider = ctx
        .registry
        .provider(&origin.provider)
        .map_err(|e| LifecycleError::plan(e.to_string()))?;
    launch::plan(&provider, ctx.workspace, spec, agent, mode, workplace)
}

/// The agent a fork starts from and its session; refused when the id is taken, the source has
/// no session yet, or its provider cannot fork.
fn fork_source(
    ctx: &Context<'_>,
    team: &TeamState,
    source: &str,
    new_id: &str,
) -> Result<(AgentState, String), LifecycleError> {
    let origin = team
        .agents
        .get(source)
        .cloned()
        .ok_or_else(|| unknown_agent(team, source))?;
    if team.agents.contains_key(new_id) {
        return Err(LifecycleError::refused(
            "agent_exists",
            format!("team '{}' already has an agent '{new_id}'", team.name),
            "pick another id",
        ));
    }
    let Some(source_session) = origin.session_id().map(str::to_string) else {
        return Err(LifecycleError::refused(
            "no_session_to_fork",
            format!("{source} has no captured session yet (Codex writes one at the first message)"),
            format!("give {source} a message first, then fork it"),
        ));
    };
    let provider = ctx
        .registry
        .provider(&origin.provider)
        .map_err(|e| LifecycleError::plan(e.to_string()))?;
    if !provider
        .manifest()
        .map(|m| m.capabilities.fork)
        .unwrap_or(false)
    {
        return Err(LifecycleError::refused(
            "fork_unsupported",
            format!("the {} provider cannot fork a session", origin.provider),
            format!("add a fresh worker instead: `team-agent add-agent {new_id} --role-file FILE`"),
        ));
    }
    Ok((origin, source_session))
}

/// Writes the fork's role file beside the source's: the source's, with the new name (and
/// role label); its path. Refused when the file exists.
fn write_forked_role(
    dir: &Path,
    source: &str,
    new_id: &str,
    label: Option<&str>,
) -> Result<PathBuf, LifecycleError> {
    let role = role_file(dir, source)?;
    let text = std::fs::read_to_string(&role)
        .map_err(|e| LifecycleError::plan(format!("step read_role_file failed: {e}")))?;
    let target = dir
        .join("agents")
        .join(format!("{}.md", crate::workspace::safe_name(new_id)));
    if target.exists() {
        return Err(LifecycleError::refused(
            "role_file_exists",
            format!("{} already exists", target.display()),
            "remove it or pick another id",
        ));
    }
    std::fs::write(&target, forked_role(&text, new_id, label) + "\n")
        .map_err(|e| LifecycleError::plan(format!("step write_role_file failed: {e}")))?;
    Ok(target)
}

/// A role file's text renamed for a fork: `name:` (and `role:`, given a label) in its front
/// matter replaced, everything else as it was.
fn forked_role(text: &str, new_id: &str, label: Option<&str>) -> String {
    let mut forked: Vec<String> = Vec::new();
    let mut in_front = false;
    for (n, line) in text.lines().enumerate() {
        if n == 0 && line.trim() == "---" {
            in_front = true;
        } else if in_front && line.trim() == "---" {
            in_front = false;
        } else if in_front && line.starts_with("name:") {
            forked.push(format!("name: {new_id}"));
            continue;
        } else if in_front
            && line.starts_with("role:")
            && let Some(label) = label
        {
            forked.push(format!("role: {label}"));
            continue;
        }
        forked.push(line.to_string());
    }
    forked.join("\n")
}
