//! Single-agent operations: start, stop, reset, add, remove. Each is transactional: a failure
//! undoes the steps already done and the error names the step that failed.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use team_agent_plugin_api::{LaunchMode, ResumeCheck};

use super::bring_up::{
    StartedAgent, Workers, died_resuming, plan_workers, start_workers, write_tmux_config,
};
use super::resume::{carry_over, requeue_untaken};
use super::worktrees;
use super::{Context, LifecycleError, load_definition, server_of, unknown_agent};
use crate::events::now_rfc3339;
use crate::spec::{self, LoadedSpec};
use crate::state::{AgentState, AgentStatus, CaptureState, TeamState};
use crate::tmux::Server;

/// What an operation did to one agent.
#[derive(Debug, Clone, Serialize)]
pub struct AgentOp {
    pub ok: bool,
    pub agent_id: String,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<StartedAgent>,
    pub message: String,
}

pub(super) fn running_team(ctx: &Context<'_>) -> Result<TeamState, LifecycleError> {
    let (_, team) = ctx.team()?;
    if !server_of(&team).has_session(&team.session_name) {
        return Err(LifecycleError::refused(
            "team_not_running",
            format!("team '{}' is not running", team.name),
            "start it with `team-agent restart` (or `team-agent up`)",
        ));
    }
    Ok(team)
}

fn pane_alive(server: &Server, agent: &AgentState) -> bool {
    agent
        .pane_id
        .as_deref()
        .is_some_and(|p| server.display(p, "#{pane_dead}").is_ok_and(|d| d == "0"))
}

/// `team-agent start-agent AGENT [--force] [--allow-fresh]`: (re)starts one worker, resuming
/// its session when it can.
pub fn start_agent(
    ctx: &Context<'_>,
    id: &str,
    force: bool,
    allow_fresh: bool,
) -> Result<AgentOp, LifecycleError> {
    // 1. Decide: the agent, its running window (kept unless --force), how it starts.
    let team = running_team(ctx)?;
    let spec = load_definition(ctx, &team)?;
    let agent = spec
        .spec
        .agent(id)
        .ok_or_else(|| unknown_agent(&team, id))?;
    let server = server_of(&team);
    let previous = team.agents.get(id).cloned();
    if let Some(prev) = &previous
        && pane_alive(&server, prev)
    {
        if !force {
            return Ok(AgentOp {
                ok: true,
                agent_id: id.into(),
                action: "noop",
                agent: Some(StartedAgent::of(prev)),
                message: format!("{id} is already running (pass --force to replace its window)"),
            });
        }
        if let Some(window) = &prev.window_id {
            server
                .kill_window(window)
                .map_err(|e| LifecycleError::spawn(format!("step kill_window failed: {e}")))?;
        }
    }
    let mode = start_mode(ctx, &spec, agent, previous.as_ref(), allow_fresh)?;
    // 2. Act: plan, then the window; a resume that dies at once leaves no window behind.
    let Workers { planned, held } =
        plan_workers(ctx, &spec, &[(agent, mode.clone())], &team.agents)?;
    if let Some(state) = held.into_iter().next() {
        return Err(hold(ctx, state));
    }
    let server = Server::at(&team.tmux_socket).with_config(write_tmux_config(ctx)?);
    let mut started = start_workers(
        ctx,
        &server,
        &team.session_name,
        &planned,
        &sessions_of_others(&team, id),
    )?;
    let mut state = started.remove(0);
    if died_resuming(std::slice::from_ref(&state), &planned).is_some() {
        if let Some(window) = &state.window_id {
            let _ = server.kill_window(window);
        }
        return Err(LifecycleError::spawn(format!(
            "step resume failed: {id} exited at once (code {:?}): {}; its window was removed. `team-agent start-agent {id} --allow-fresh` starts it fresh",
            state.exit_code,
            state.last_lines.join(" | ")
        )));
    }
    // 3. Record.
    if let Some(prev) = &previous {
        carry_over(&mut state, prev, &mode);
        requeue_untaken(ctx, &team.name, prev);
    }
    insert_agent(ctx, &state)?;
    crate::coordinator::ensure_running(ctx.workspace, &ctx.events).ok();
    let action = if matches!(mode, LaunchMode::Resume { .. }) {
        "resumed"
    } else {
        "fresh"
    };
    ctx.events.emit(
        "start_agent.complete",
        json!({"agent_id": id, "mode": action, "session_id": state.session_id()}),
    );
    Ok(AgentOp {
        ok: true,
        agent_id: id.into(),
        action,
        agent: Some(StartedAgent::of(&state)),
        message: format!("{id} started ({action})"),
    })
}

/// Records a worker whose worktree setup failed (stopped, with the failure) and says so.
fn hold(ctx: &Context<'_>, state: AgentState) -> LifecycleError {
    let id = state.id.clone();
    let reason = state.blocked_reason.clone().unwrap_or_default();
    if let Err(e) = insert_agent(ctx, &state) {
        return e;
    }
    LifecycleError::spawn(format!(
        "step worktree_setup failed: {reason}; {id} was not started. Fix the command (or its worktree), then `team-agent start-agent {id}` runs the setup again"
    ))
}

/// How `start-agent` starts a worker: resuming its recorded session when the provider says it
/// can; fresh when it has none, when it never got work, or with `--allow-fresh`; else refused.
fn start_mode(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    agent: &crate::spec::Agent,
    previous: Option<&AgentState>,
    allow_fresh: bool,
) -> Result<LaunchMode, LifecycleError> {
    let id = agent.id.as_str();
    let Some(record) = previous.and_then(|p| p.session.clone()) else {
        return Ok(LaunchMode::Fresh);
    };
    let provider = ctx
        .registry
        .provider(&agent.provider)
        .map_err(|e| LifecycleError::plan(e.to_string()))?;
    let check = ResumeCheck {
        agent_id: id.into(),
        cwd: previous
            .and_then(|p| p.spawn_cwd.clone())
            .unwrap_or_else(|| spec.working_directory(agent)),
        home: std::env::var_os("HOME").map(Into::into).unwrap_or_default(),
        record: Some(record.clone()),
    };
    match provider.session_is_resumable(&check) {
        Ok(r) if r.resumable => Ok(LaunchMode::Resume {
            session_id: record.session_id,
        }),
        Ok(r) if allow_fresh || previous.is_none_or(|p| p.first_send_at.is_never()) => {
            ctx.events.emit(
                "start_agent.fresh",
                json!({"agent_id": id, "blocker": r.blocker}),
            );
            Ok(LaunchMode::Fresh)
        }
        Ok(r) => Err(LifecycleError::refused(
            "resume_unavailable",
            format!(
                "{id}'s session {} cannot be resumed ({})",
                record.session_id, r.detail
            ),
            format!(
                "start it fresh, losing its context: `team-agent start-agent {id} --allow-fresh`"
            ),
        )),
        Err(e) => Err(LifecycleError::plan(e.to_string())),
    }
}

/// The sessions the team's other workers hold (a capture must never take one of them).
fn sessions_of_others(team: &TeamState, id: &str) -> Vec<String> {
    team.agents
        .values()
        .filter(|a| a.id != id)
        .filter_map(|a| a.session_id().map(str::to_string))
        .collect()
}

/// Records one agent in the team (replacing its previous record).
pub(super) fn insert_agent(ctx: &Context<'_>, state: &AgentState) -> Result<(), LifecycleError> {
    ctx.store.update(|s| {
        if let Some(team) = s.team.as_mut() {
            team.agents.insert(state.id.clone(), state.clone());
        }
        Ok::<_, LifecycleError>(())
    })
}

/// `team-agent stop-agent AGENT`: closes its window, keeps its session for a later start.
pub fn stop_agent(ctx: &Context<'_>, id: &str) -> Result<AgentOp, LifecycleError> {
    let (_, team) = ctx.team()?;
    let agent = team
        .agents
        .get(id)
        .ok_or_else(|| unknown_agent(&team, id))?;
    let server = server_of(&team);
    if let Some(window) = &agent.window_id {
        match server.kill_window(window) {
            Err(e) if !e.is_not_found() => {
                return Err(LifecycleError::spawn(format!(
                    "step kill_window failed: {e}"
                )));
            }
            _ => {}
        }
    }
    ctx.store.update(|s| {
        if let Some(a) = s.team.as_mut().and_then(|t| t.agents.get_mut(id)) {
            a.status = AgentStatus::Stopped;
            a.activity = None;
            a.pane_id = None;
            a.window_id = None;
        }
        Ok::<_, LifecycleError>(())
    })?;
    ctx.events.emit(
        "stop_agent.complete",
        json!({"agent_id": id, "session_id": agent.session_id()}),
    );
    Ok(AgentOp {
        ok: true,
        agent_id: id.into(),
        action: "stopped",
        agent: None,
        message: format!(
            "{id} stopped; its session is kept (`team-agent start-agent {id}` resumes it)"
        ),
    })
}

/// `team-agent reset-agent AGENT --discard-session [--discard-changes]`: forgets its session
/// and starts it fresh (in its worktree, whose branch is kept unless `--discard-changes` puts it
/// back at its base); if the fresh start fails, the forgotten session is remembered again.
pub fn reset_agent(
    ctx: &Context<'_>,
    id: &str,
    discard_session: bool,
    discard_changes: bool,
) -> Result<AgentOp, LifecycleError> {
    if !discard_session {
        return Err(LifecycleError::refused(
            "discard_session_required",
            format!("reset-agent throws away {id}'s provider session and its context"),
            format!("run `team-agent reset-agent {id} --discard-session` to confirm"),
        ));
    }
    let team = running_team(ctx)?;
    let before = team
        .agents
        .get(id)
        .cloned()
        .ok_or_else(|| unknown_agent(&team, id))?;
    if discard_changes && before.worktree.is_none() {
        return Err(LifecycleError::refused(
            "no_worktree",
            format!(
                "{id} has no worktree of its own (isolation: none): there are no changes of its to discard"
            ),
            format!(
                "run `team-agent reset-agent {id} --discard-session` without --discard-changes"
            ),
        ));
    }
    stop_agent(ctx, id)?;
    let discarded = match before.worktree.as_ref().filter(|_| discard_changes) {
        Some(record) => Some(discard_changes_of(ctx, id, record)?),
        None => None,
    };
    ctx.store.update(|s| {
        if let Some(a) = s.team.as_mut().and_then(|t| t.agents.get_mut(id)) {
            a.session = None;
            a.expected_session_id = None;
            a.capture_state = CaptureState::Pending;
            a.first_send_at = crate::state::FirstSend::Never;
        }
        Ok::<_, LifecycleError>(())
    })?;
    ctx.events.emit(
        "discard.session_tombstone",
        json!({"agent_id": id, "discarded_session_id": before.session_id()}),
    );
    match start_agent(ctx, id, true, true) {
        Ok(mut op) => {
            op.action = "reset";
            op.message = format!(
                "{id} reset: discarded session {}, started fresh{}",
                before.session_id().unwrap_or("-"),
                discarded.unwrap_or_default()
            );
            Ok(op)
        }
        Err(e) => {
            ctx.store.update(|s| {
                if let Some(team) = s.team.as_mut() {
                    let mut restored = before.clone();
                    restored.status = AgentStatus::Stopped;
                    restored.pane_id = None;
                    restored.window_id = None;
                    team.agents.insert(id.to_string(), restored);
                }
                Ok::<_, LifecycleError>(())
            })?;
            Err(LifecycleError::spawn(format!(
                "step start failed: {e}; {id}'s old session {} is recorded again (stopped)",
                before.session_id().unwrap_or("-")
            )))
        }
    }
}

/// `--discard-changes`: the stopped worker's worktree back at its base; what the reset's
/// message says of it.
fn discard_changes_of(
    ctx: &Context<'_>,
    id: &str,
    record: &crate::state::WorktreeRecord,
) -> Result<String, LifecycleError> {
    let old = worktrees::discard(record, id).map_err(|e| {
        LifecycleError::spawn(format!(
            "step discard_changes failed: {e}; {id} is stopped and keeps its session: `team-agent start-agent {id}` resumes it"
        ))
    })?;
    ctx.events.emit(
        "worktree.discarded",
        json!({"agent_id": id, "branch": record.branch, "base": record.base, "old_head": old}),
    );
    Ok(format!(
        "; its branch {} is back at its base {} (what it held, uncommitted changes included, is the commit {old}: `git branch rescued-{id} {old}` keeps it)",
        record.branch, record.base
    ))
}

pub(super) fn team_dir_of(team: &TeamState) -> Result<PathBuf, LifecycleError> {
    match team.definition.is_dir() {
        true => Ok(team.definition.clone()),
        false => Err(LifecycleError::refused(
            "not_a_team_directory",
            format!(
                "team '{}' is defined by the file {}, not a team directory",
                team.name,
                team.definition.display()
            ),
            "edit the spec file to add or remove the agent, then `team-agent start-agent ID` / `stop-agent ID`",
        )),
    }
}

/// `team-agent add-agent ID --role-file FILE`: adds a worker from a role file and starts it.
pub fn add_agent(ctx: &Context<'_>, id: &str, role_file: &Path) -> Result<AgentOp, LifecycleError> {
    let team = running_team(ctx)?;
    let dir = team_dir_of(&team)?;
    if team.agents.contains_key(id) {
        return Err(LifecycleError::refused(
            "agent_exists",
            format!("team '{}' already has an agent '{id}'", team.name),
            "pick another id",
        ));
    }
    let text = std::fs::read_to_string(role_file).map_err(|e| {
        LifecycleError::plan(format!(
            "step read_role_file failed: {}: {e}",
            role_file.display()
        ))
    })?;
    let target = dir
        .join("agents")
        .join(format!("{}.md", crate::workspace::safe_name(id)));
    if target.exists() {
        return Err(LifecycleError::refused(
            "role_file_exists",
            format!("{} already exists", target.display()),
            "remove it or pick another id",
        ));
    }
    std::fs::write(&target, &text)
        .map_err(|e| LifecycleError::plan(format!("step write_role_file failed: {e}")))?;
    let undo_file = || {
        let _ = std::fs::remove_file(&target);
    };
    let spec = match load_definition(ctx, &team) {
        Ok(s) => s,
        Err(e) => {
            undo_file();
            return Err(LifecycleError::plan(format!(
                "step validate failed (the role file was not added): {e}"
            )));
        }
    };
    if spec.spec.agent(id).is_none() {
        undo_file();
        return Err(LifecycleError::plan(format!(
            "step validate failed: {} names no agent '{id}' (its front matter `name:` must be {id}); the role file was not added",
            role_file.display()
        )));
    }
    ctx.events.emit(
        "lifecycle.add_step_completed",
        json!({"agent_id": id, "step": "role_file", "path": target}),
    );
    match start_agent(ctx, id, false, true) {
        Ok(mut op) => {
            op.action = "added";
            op.message = format!("{id} added ({}) and started", target.display());
            ctx.events
                .emit("add_agent.complete", json!({"agent_id": id}));
            Ok(op)
        }
        Err(e) => {
            undo_file();
            ctx.store.update(|s| {
                if let Some(t) = s.team.as_mut() {
                    t.agents.remove(id);
                }
                Ok::<_, LifecycleError>(())
            })?;
            ctx.events.emit(
                "lifecycle.add_failed",
                json!({"agent_id": id, "failed_step": "start_agent", "error": e.to_string()}),
            );
            Err(LifecycleError::spawn(format!(
                "step start_agent failed: {e}; the role file and state were rolled back"
            )))
        }
    }
}

/// `team-agent remove-agent AGENT [--force]`: stops (with `--force`) and removes a worker; its
/// role file is kept under `.team/runtime/removed/`. A worktree worker's worktree goes only when
/// nothing in it is unmerged (or with `--force`, its uncommitted changes first committed to its
/// branch); the branch always stays.
pub fn remove_agent(ctx: &Context<'_>, id: &str, force: bool) -> Result<AgentOp, LifecycleError> {
    let (_, team) = ctx.team()?;
    let agent = team
        .agents
        .get(id)
        .cloned()
        .ok_or_else(|| unknown_agent(&team, id))?;
    let dir = team_dir_of(&team)?;
    let server = server_of(&team);
    let running = pane_alive(&server, &agent);
    if running && !force {
        return Err(LifecycleError::refused(
            "force_required",
            format!("{id} is running"),
            format!("stop and remove it with `team-agent remove-agent {id} --force`"),
        ));
    }
    let worktree_note = match &agent.worktree {
        Some(record) => worktrees::ready_for_removal(record, id, force)?,
        None => String::new(),
    };
    let (role, kept) = set_role_file_aside(ctx, &dir, id)?;
    if let Err(e) = load_definition(ctx, &team) {
        let _ = std::fs::rename(&kept, &role);
        return Err(LifecycleError::plan(format!(
            "step validate failed (nothing was removed): {e}"
        )));
    }
    if running && let Some(window) = &agent.window_id {
        match server.kill_window(window) {
            Err(e) if !e.is_not_found() => {
                let _ = std::fs::rename(&kept, &role);
                return Err(LifecycleError::spawn(format!(
                    "step stop failed (nothing was removed): {e}"
                )));
            }
            _ => {}
        }
    }
    if let Some(record) = &agent.worktree
        && let Err(e) = worktrees::remove(record)
    {
        let _ = std::fs::rename(&kept, &role);
        return Err(LifecycleError::spawn(format!(
            "step remove_worktree failed: {e}; {id} is stopped and nothing else was removed"
        )));
    }
    ctx.store.update(|s| {
        if let Some(t) = s.team.as_mut() {
            t.agents.remove(id);
        }
        Ok::<_, LifecycleError>(())
    })?;
    // Its hooks' inbox and configuration go with it (a later agent of the same name starts clean).
    crate::hooks::forget(ctx.workspace, id);
    ctx.events.emit("remove_agent.complete", json!({"agent_id": id, "role_file_kept": kept, "session_id": agent.session_id(), "removed_at": now_rfc3339(),
                                                   "branch_kept": agent.worktree.as_ref().map(|w| &w.branch)}));
    Ok(AgentOp {
        ok: true,
        agent_id: id.into(),
        action: "removed",
        agent: None,
        message: format!(
            "{id} removed; its role file is kept as {}{worktree_note}",
            kept.display()
        ),
    })
}

/// The role file in `dir/agents` whose front matter names `id`.
pub(super) fn role_file(dir: &Path, id: &str) -> Result<PathBuf, LifecycleError> {
    std::fs::read_dir(dir.join("agents"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| spec::role_name(p).as_deref() == Some(id))
        .ok_or_else(|| {
            LifecycleError::plan(format!(
                "step find_role_file failed: no file in {}/agents names '{id}'",
                dir.display()
            ))
        })
}

/// Moves the agent's role file to `.team/runtime/removed/`: (where it was, where it is now).
fn set_role_file_aside(
    ctx: &Context<'_>,
    dir: &Path,
    id: &str,
) -> Result<(PathBuf, PathBuf), LifecycleError> {
    let role = role_file(dir, id)?;
    let kept_dir = ctx.workspace.runtime_dir().join("removed");
    crate::workspace::private_dir(&kept_dir)?;
    let kept = kept_dir.join(format!(
        "{}-{}.md",
        crate::workspace::safe_name(id),
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")
    ));
    std::fs::rename(&role, &kept)
        .map_err(|e| LifecycleError::plan(format!("step move_role_file failed: {e}")))?;
    Ok((role, kept))
}
