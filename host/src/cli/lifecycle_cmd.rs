//! `team-agent up | status | shutdown | restart | start-agent | stop-agent | reset-agent |
//! add-agent | remove-agent | coordinator`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use crate::cli::{Reply, UserError};
use crate::lifecycle::{self, Context, LifecycleError};
use crate::plugins::Registry;
use crate::workspace::Workspace;

/// Progress lines for people, on stderr (stdout stays for the answer).
pub fn progress(line: &str) {
    err_out!("  {line}");
}

/// Turns a lifecycle error into an answer a user can act on.
pub fn user_error(error: LifecycleError) -> anyhow::Error {
    match error {
        LifecycleError::Refused {
            reason,
            message,
            action,
            details,
        } => {
            let mut details = details;
            if details.is_null() {
                details = json!({"status": "refused"});
            } else if details.get("status").is_none() {
                details["status"] = json!("refused");
            }
            UserError::new(message)
                .action(action)
                .reason(reason)
                .details(details)
                .into()
        }
        LifecycleError::Plan(message) => UserError::new(message)
            .action("fix it and run the command again; nothing was started")
            .reason("plan_failed")
            .into(),
        LifecycleError::Spawn(message) => UserError::new(message)
            .reason("start_failed")
            .action("see `team-agent doctor` and .team/logs/events.jsonl")
            .into(),
        other => UserError::new(other.to_string())
            .action("see `team-agent doctor`")
            .into(),
    }
}

pub fn up(
    base: &Workspace,
    named: Option<&str>,
    definition: &Path,
    yes: bool,
    fresh: bool,
    display: Option<String>,
) -> anyhow::Result<Reply> {
    let registry = Registry::load(Some(base.root()));
    let spec = match crate::cli::spec_cmd::load_or_reply(definition, base, &registry) {
        Ok(s) => s,
        Err(reply) => return Ok(reply),
    };
    let team = spec.spec.team.name.as_str();
    if let Some(named) = named.filter(|n| *n != team) {
        return Err(UserError::new(format!(
            "--team {named} (or TEAM_AGENT_TEAM) names another team than {} defines ('{team}'): nothing was started",
            definition.display()
        ))
        .into());
    }
    let scoped = crate::lifecycle::teams::starting_team(base, team)?;
    let workspace = &scoped;
    let _lock = crate::cli::team_lock(workspace, "up")?;
    for warning in &spec.warnings {
        err_out!("{warning}");
    }
    let ctx = Context::new(workspace, &registry, &progress);
    err_out!(
        "starting team '{}' ({} workers) in tmux session {}",
        spec.spec.team.name,
        spec.spec.agents.len(),
        spec.spec.runtime.session_name
    );
    let options = lifecycle::UpOptions {
        yes,
        fresh,
        bind_leader: true,
        display,
    };
    let report = lifecycle::up(&ctx, &spec, &options).map_err(user_error)?;
    let mut text = format!(
        "team '{}' is up in tmux session {}\n",
        report.team, report.session_name
    );
    for a in &report.agents {
        text.push_str(&format!(
            "  {:<16} {:<10} {:<9} session {}\n",
            a.id,
            a.provider,
            a.status,
            a.session_id.as_deref().unwrap_or("-")
        ));
    }
    text.push_str(&match &report.leader {
        Some(l) => format!("leader: pane {} (messages and results for the leader go there)\n", l.pane_id),
        None => format!("leader: none bound (not run from tmux): leader messages wait in {}; bind one with `team-agent attach-leader --pane %N`\n", workspace.leader_inbox().display()),
    });
    if let Some(line) = display_line(&report.display) {
        text.push_str(&line);
    }
    text.push_str(&format!(
        "look at a worker: tmux -S {} attach -t {}\n",
        report.tmux_socket.display(),
        report.session_name
    ));
    Ok(Reply::ok(&report, text))
}

/// The lines under an agent's row in `status`: why it is blocked, its API error, what its
/// activity is about, whether it looks stuck, its turn.
fn agent_details(a: &crate::lifecycle::AgentRow) -> String {
    let mut out = String::new();
    if let Some(reason) = &a.blocked_reason {
        out.push_str(&format!("      blocked: {reason}\n"));
    }
    if let Some(error) = a
        .api_error
        .as_ref()
        .filter(|_| a.activity == Some("api_error"))
    {
        let reset = error["reset"]
            .as_str()
            .map(|r| format!(", resets {r}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "      api error: {} ({}{reset})\n",
            error["class"].as_str().unwrap_or("other"),
            if error["ended"] == true {
                "the turn ended on it; send the task again"
            } else {
                "retrying"
            }
        ));
    }
    if let Some(detail) = a
        .activity_detail
        .as_ref()
        .filter(|_| a.activity != Some("api_error"))
    {
        let what = detail["tool"]
            .as_str()
            .or(detail["prompt"].as_str())
            .unwrap_or("");
        out.push_str(&format!(
            "      {}: {what} (from its {}, since {})\n",
            a.activity.unwrap_or("-"),
            a.activity_source,
            a.activity_since.as_deref().unwrap_or("?")
        ));
    }
    if let Some(since) = &a.stuck_since {
        out.push_str(&format!(
            "      looks stuck since {since}: `team-agent peek {}` shows its screen\n",
            a.id
        ));
    }
    if let Some(turn) = &a.turn {
        out.push_str(&format!(
            "      turn: {} since {} (from its transcript)\n",
            turn["state"].as_str().unwrap_or("unknown"),
            turn["since"].as_str().unwrap_or("?")
        ));
    }
    if let Some(w) = &a.worktree {
        out.push_str(&worktree_line(&a.id, w));
    }
    out
}

/// A worktree worker's branch, how far it is ahead of its base, whether it has uncommitted
/// changes; a worktree deleted by hand, or whose setup failed, says what to run.
fn worktree_line(id: &str, w: &crate::lifecycle::WorktreeRow) -> String {
    if !w.exists {
        return format!(
            "      worktree {} is gone (deleted by hand?): `team-agent start-agent {id}` recreates it from its branch {}\n",
            w.path.display(),
            w.branch
        );
    }
    let mut line = format!(
        "      worktree: {} on {} ({} ahead of {}{})\n",
        w.path.display(),
        w.branch,
        w.ahead.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        w.base,
        match w.dirty {
            Some(true) => ", uncommitted changes",
            Some(false) => "",
            None => ", changes unknown",
        }
    );
    if let Some(error) = w.setup_error.as_ref().or(w.error.as_ref()) {
        line.push_str(&format!("      worktree problem: {error}\n"));
    }
    line
}

/// `status` without `--team`: the one team as `status --team` shows it, or every team of the
/// workspace (`{"teams": [...]}`), each as `status --team` shows it.
pub fn status_all(base: &Workspace, agent: Option<&str>) -> anyhow::Result<Reply> {
    let teams = base.teams();
    if teams.len() <= 1 {
        let scoped = match teams.first() {
            Some(t) => base.for_team(&t.name),
            None => base.clone(),
        };
        return status(&scoped, agent);
    }
    let mut ok = true;
    let mut text = String::new();
    let mut all = Vec::new();
    let holds = |ws: &Workspace, id: &str| {
        crate::state::StateStore::new(ws)
            .load()
            .ok()
            .and_then(|s| s.team)
            .is_some_and(|t| t.agents.contains_key(id))
    };
    let scoped: Vec<Workspace> = teams.iter().map(|t| base.for_team(&t.name)).collect();
    let names = || {
        teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(id) = agent {
        let having: Vec<&Workspace> = scoped.iter().filter(|ws| holds(ws, id)).collect();
        return match having.as_slice() {
            [one] => status(one, agent),
            [] => Err(UserError::new(format!(
                "no agent '{id}' in any team of this workspace (teams: {}); `team-agent status` lists them",
                names()
            ))
            .into()),
            _ => Err(UserError::new(format!(
                "agent '{id}' is in several teams ({}): say which with --team NAME",
                names()
            ))
            .into()),
        };
    }
    for ws in &scoped {
        let t = ws.team().unwrap_or_default();
        let reply = status(ws, agent)?;
        ok &= reply.ok;
        text.push_str(&format!("=== team {t} ===\n{}\n", reply.text));
        all.push(reply.json);
    }
    Ok(Reply::new(
        ok,
        serde_json::json!({"ok": ok, "teams": all}),
        text,
    ))
}

pub fn status(workspace: &Workspace, agent: Option<&str>) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let ctx = Context::new(workspace, &registry, &progress);
    let team = crate::state::StateStore::new(workspace)
        .load()
        .ok()
        .and_then(|s| s.team)
        .map(|t| t.name);
    let counted = team
        .map(|t| crate::messaging::pending_counts(workspace, &t))
        .transpose();
    let store_error = counted.as_ref().err().cloned();
    let pending: BTreeMap<String, u64> = counted.ok().flatten().unwrap_or_default();
    let report = lifecycle::status(&ctx, agent, &pending).map_err(user_error)?;
    let mut text = format!("{}\n", report.message);
    if !report.agents.is_empty() {
        text.push_str(&format!(
            "  {:<16} {:<10} {:<8} {:<17} {:<38} {:>7} {:>7}\n",
            "AGENT", "PROVIDER", "STATUS", "ACTIVITY", "SESSION", "OUTPUT", "PENDING"
        ));
    }
    for a in &report.agents {
        let session = match (&a.session_id, a.capture_state) {
            (Some(id), _) => id.clone(),
            (None, crate::state::CaptureState::PendingFirstTurn) => "(at first message)".into(),
            (None, _) => "(not captured yet)".into(),
        };
        text.push_str(&format!(
            "  {:<16} {:<10} {:<8} {:<17} {:<38} {:>7} {:>7}\n",
            a.id,
            a.provider,
            a.status,
            a.activity.unwrap_or("-"),
            session,
            a.last_output_age_s
                .map(|s| format!("{s}s"))
                .unwrap_or_else(|| "-".into()),
            a.pending_messages
        ));
        text.push_str(&agent_details(a));
    }
    text.push_str(&format!("coordinator: {}\n", report.coordinator));
    if let Some(leader) = &report.leader {
        text.push_str(&format!(
            "leader: pane {} ({})\n",
            leader["pane_id"].as_str().unwrap_or("?"),
            if leader["alive"] == true {
                "alive"
            } else {
                "gone: run `team-agent attach-leader --pane %N`"
            }
        ));
    }
    if let Some(line) = display_line(&report.display) {
        text.push_str(&line);
    }
    if let Some(inbox) = &report.leader_inbox {
        text.push_str(&format!(
            "leader inbox: {} bytes waiting in {}\n",
            inbox["bytes"],
            inbox["path"].as_str().unwrap_or("")
        ));
    }
    let Some(error) = store_error else {
        return Ok(Reply::ok(&report, text));
    };
    // The team may well run; what waits for whom is unknown, and that is said, not hidden.
    text.push_str(&format!(
        "message store: cannot be read ({error}); the pending counts above are unknown. See `team-agent doctor`.\n"
    ));
    let mut json = serde_json::to_value(&report)?;
    json["ok"] = serde_json::Value::Bool(false);
    json["message_store_error"] = serde_json::Value::String(error);
    Ok(Reply::new(false, json, text))
}

/// `display: tmux-overview (open)`, or why it failed; nothing for `none` without an error.
fn display_line(display: &serde_json::Value) -> Option<String> {
    let backend = display["backend"].as_str()?;
    match display["error"].as_str() {
        Some(error) => Some(format!("display: {backend} failed: {error}\n")),
        None if backend == "none" => None,
        None if display["open"] == true => Some(format!("display: {backend} (open)\n")),
        None => Some(format!("display: {backend} (closed)\n")),
    }
}

pub fn shutdown(workspace: &Workspace) -> anyhow::Result<Reply> {
    // The display's plugin plans its own close.
    let registry = Registry::load(Some(workspace.root()));
    let ctx = Context::new(workspace, &registry, &progress);
    let report = lifecycle::shutdown(&ctx).map_err(user_error)?;
    Ok(Reply::ok(&report, format!("{}\n", report.message)))
}

pub fn restart(
    workspace: &Workspace,
    allow_fresh: bool,
    display: Option<String>,
) -> anyhow::Result<Reply> {
    let registry = Registry::load(Some(workspace.root()));
    let ctx = Context::new(workspace, &registry, &progress);
    let report = lifecycle::restart(
        &ctx,
        &lifecycle::RestartOptions {
            allow_fresh,
            display,
        },
    )
    .map_err(user_error)?;
    let mut text = format!(
        "team '{}' restarted in tmux session {}\n",
        report.team, report.session_name
    );
    for a in &report.agents {
        text.push_str(&format!(
            "  {:<16} {:<8} {:<9} session {}\n",
            a.agent.id,
            a.restart_mode,
            a.agent.status,
            a.agent.session_id.as_deref().unwrap_or("-")
        ));
    }
    if let Some(line) = display_line(&report.display) {
        text.push_str(&line);
    }
    Ok(Reply::ok(&report, text))
}

#[derive(Debug, Subcommand)]
pub enum CoordinatorCommand {
    /// Run the coordinator in the foreground (normally started for you, detached).
    Run {
        /// One tick, then exit.
        #[arg(long)]
        once: bool,
        /// Keep running when the workspace is deleted (only for testing orphan cleanup).
        #[arg(long, hide = true)]
        no_orphan_exit: bool,
    },
    /// Whether the coordinator runs, and its pid.
    Status,
    /// Stop the coordinator (it finishes its current tick).
    Stop,
    /// Start the coordinator if it does not run.
    Start,
}

pub fn coordinator(workspace: &Workspace, command: &CoordinatorCommand) -> anyhow::Result<Reply> {
    let events = crate::events::EventLog::new(workspace);
    match command {
        CoordinatorCommand::Run {
            once,
            no_orphan_exit,
        } => {
            // The coordinator never recreates a workspace that was deleted under it.
            let code = crate::daemon::run(
                &workspace.clone().existing_only(),
                &crate::daemon::RunOptions {
                    once: *once,
                    no_orphan_exit: *no_orphan_exit,
                },
            );
            Ok(Reply::new(code == 0, json!({"ok": code == 0}), ""))
        }
        CoordinatorCommand::Status => {
            let health = crate::coordinator::health(workspace);
            let text = format!("coordinator: {}\n", health);
            Ok(Reply::ok(health, text))
        }
        CoordinatorCommand::Stop => {
            let how = crate::coordinator::stop(workspace, &events);
            Ok(Reply::ok(
                json!({"ok": true, "coordinator": how}),
                format!("coordinator: {how}\n"),
            ))
        }
        CoordinatorCommand::Start => match crate::coordinator::ensure_running(workspace, &events) {
            Ok(pid) => Ok(Reply::ok(
                json!({"ok": true, "pid": pid}),
                format!("coordinator running (pid {pid})\n"),
            )),
            Err(e) => Err(UserError::new(e)
                .action(format!("see {}", workspace.coordinator_log().display()))
                .into()),
        },
    }
}

pub fn agent_op(op: anyhow::Result<lifecycle::AgentOp, LifecycleError>) -> anyhow::Result<Reply> {
    let op = op.map_err(user_error)?;
    let text = format!("{}\n", op.message);
    Ok(Reply::ok(&op, text))
}

/// Runs one agent operation; after a change, the open display is rebuilt to show the team as
/// it is now.
pub fn with_context(
    workspace: &Workspace,
    run: impl FnOnce(&Context<'_>) -> Result<lifecycle::AgentOp, LifecycleError>,
) -> Result<lifecycle::AgentOp, LifecycleError> {
    let registry = Registry::load(Some(workspace.root()));
    let ctx = Context::new(workspace, &registry, &progress);
    let outcome = run(&ctx)?;
    let _ = crate::display::rebuild(&ctx.display());
    Ok(outcome)
}

pub fn resolve_role_file(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
