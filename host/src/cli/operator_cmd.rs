//! `team-agent peek | attach | interrupt | answer | acknowledge-idle`: what an operator does to
//! one worker by hand.

use std::io::IsTerminal;

use serde_json::json;
use team_agent_plugin_api::{ApprovalDecision, ApprovalPolicy, ApprovalRequest};

use crate::cli::{Reply, UserError};
use crate::events::{EventLog, now_rfc3339};
use crate::plugins::Registry;
use crate::state::{AgentState, StateStore, TeamState};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// The running agent `id` and the team's tmux server.
fn running_agent(
    workspace: &Workspace,
    id: &str,
) -> anyhow::Result<(TeamState, AgentState, Server, String)> {
    let team = StateStore::new(workspace).load()?.team.ok_or_else(|| {
        UserError::new("no team runs in this workspace")
            .action("start one with `team-agent up DIR`")
    })?;
    let agent = team.agents.get(id).cloned().ok_or_else(|| {
        UserError::new(format!(
            "no agent '{id}' in team '{}' (agents: {})",
            team.name,
            team.agents.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let server = Server::at(&team.tmux_socket);
    let pane = agent
        .pane_id
        .clone()
        .filter(|p| server.display(p, "#{pane_id}").is_ok())
        .ok_or_else(|| {
            UserError::new(format!("{id} has no window"))
                .action(format!("start it with `team-agent start-agent {id}`"))
        })?;
    Ok((team, agent, server, pane))
}

pub fn peek(workspace: &Workspace, id: &str, lines: usize) -> anyhow::Result<Reply> {
    let (_, _, server, pane) = running_agent(workspace, id)?;
    let lines = lines.clamp(1, 5000);
    // The screen is 50 lines tall and usually ends in blank ones: read past them.
    let text = server.capture_tail(&pane, lines + crate::tmux::WINDOW_SIZE.1 as usize)?;
    let clean = crate::messaging::sanitize(&text);
    let mut all: Vec<&str> = clean.lines().map(str::trim_end).collect();
    while all.last().is_some_and(|l| l.is_empty()) {
        all.pop();
    }
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    Ok(Reply::ok(
        json!({"ok": true, "agent": id, "pane_id": pane, "lines": tail.lines().collect::<Vec<_>>()}),
        format!("{tail}\n"),
    ))
}

pub fn attach(workspace: &Workspace, id: &str) -> anyhow::Result<Reply> {
    let (team, agent, server, _) = running_agent(workspace, id)?;
    let window = agent
        .window_id
        .clone()
        .unwrap_or_else(|| format!("{}:{id}", team.session_name));
    let command = format!(
        "tmux -S {} attach -t {} \\; select-window -t {window}",
        server.socket().display(),
        team.session_name
    );
    if !std::io::stdin().is_terminal() {
        return Err(UserError::new("attach needs a terminal")
            .action(format!("run it from a terminal, or: {command}"))
            .into());
    }
    server.run(&["select-window", "-t", &window])?;
    let error = server.exec_attach(&team.session_name, true);
    Err(UserError::new(format!("cannot run tmux attach: {error}"))
        .action(command)
        .into())
}

pub fn interrupt(workspace: &Workspace, id: &str) -> anyhow::Result<Reply> {
    let (_, agent, server, pane) = running_agent(workspace, id)?;
    let registry = Registry::load(Some(workspace.root()));
    let provider = registry
        .provider(&agent.provider)
        .map_err(|e| UserError::new(e.to_string()))?;
    let keys = provider
        .interrupt_keys()
        .map_err(|e| UserError::new(e.to_string()))?;
    server.send_keys(&pane, &keys)?;
    EventLog::new(workspace).emit("agent.interrupted", json!({"agent_id": id, "keys": keys}));
    Ok(Reply::ok(
        json!({"ok": true, "agent": id, "keys": keys}),
        format!("sent {} to {id}\n", keys.join(" ")),
    ))
}

pub fn answer(workspace: &Workspace, id: &str, choice: &str) -> anyhow::Result<Reply> {
    let (_, agent, server, pane) = running_agent(workspace, id)?;
    let registry = Registry::load(Some(workspace.root()));
    let provider = registry
        .provider(&agent.provider)
        .map_err(|e| UserError::new(e.to_string()))?;
    let screen = server.capture(&pane)?;
    let request = ApprovalRequest {
        screen,
        policy: ApprovalPolicy::Choose {
            choice: choice.to_string(),
        },
    };
    let verdict = provider
        .approval_keys(&request)
        .map_err(|e| UserError::new(e.to_string()))?;
    match verdict.value {
        ApprovalDecision::Answer {
            keys,
            choice: picked,
        } => {
            server.send_keys(&pane, &keys)?;
            EventLog::new(workspace).emit(
                "approval.answered_by_operator",
                json!({"agent_id": id, "choice": picked, "keys": keys}),
            );
            Ok(Reply::ok(
                json!({"ok": true, "agent": id, "choice": picked, "keys": keys}),
                format!("answered {id}: {picked}\n"),
            ))
        }
        ApprovalDecision::Defer { reason } => Err(UserError::new(format!("{id}: {reason}"))
            .action(format!("look at its screen with `team-agent peek {id}`"))
            .reason("no_approval_prompt")
            .into()),
    }
}

pub fn acknowledge_idle(workspace: &Workspace) -> anyhow::Result<Reply> {
    let store = StateStore::new(workspace);
    let until = chrono::Utc::now()
        + chrono::Duration::from_std(crate::daemon::IDLE_ACK).unwrap_or_default();
    let until = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let team = store.update(|state| {
        let Some(team) = state.team.as_mut() else {
            return Err(UserError::new("no team runs in this workspace"));
        };
        team.idle_acknowledged_until = Some(until.clone());
        Ok(team.name.clone())
    })?;
    let registry = Registry::load_from(&[]);
    if let Ok(messenger) = crate::messaging::Messenger::open(workspace, &registry) {
        let _ = messenger.store.schedule(
            &team,
            "idle_acknowledgement_expires",
            &until,
            &json!({"acknowledged_at": now_rfc3339()}),
        );
    }
    EventLog::new(workspace).emit(
        "coordinator.idle_acknowledged",
        json!({"team": team, "until": until}),
    );
    Ok(Reply::ok(
        json!({"ok": true, "silenced_until": until}),
        format!("all-idle reminders silenced until {until}\n"),
    ))
}
