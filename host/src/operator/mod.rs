//! What an operator does to one worker by hand: look at its screen (`peek`), take its window
//! (`attach`), interrupt its turn, answer its approval prompt. Each finds the worker's live pane
//! first and refuses, saying what to do, when there is none.

use std::io::IsTerminal;

use serde_json::json;
use team_agent_plugin_api::{ApprovalDecision, ApprovalPolicy, ApprovalRequest};

use crate::error::Refusal;
use crate::events::EventLog;
use crate::plugins::Registry;
use crate::state::{AgentState, StateStore, TeamState};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// A running worker: its team, its record, the team's server and its live pane.
struct Target {
    team: TeamState,
    agent: AgentState,
    server: Server,
    pane: String,
}

fn target(workspace: &Workspace, id: &str) -> Result<Target, Refusal> {
    let team = StateStore::new(workspace).load()?.team.ok_or_else(|| {
        Refusal::new("no team runs in this workspace").action("start one with `team-agent up DIR`")
    })?;
    let agent = team.agents.get(id).cloned().ok_or_else(|| {
        Refusal::new(format!(
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
            Refusal::new(format!("{id} has no window"))
                .action(format!("start it with `team-agent start-agent {id}`"))
        })?;
    Ok(Target {
        team,
        agent,
        server,
        pane,
    })
}

/// The last `lines` non-blank lines of the worker's screen (escape sequences removed) and its
/// pane.
pub fn peek(workspace: &Workspace, id: &str, lines: usize) -> Result<(String, String), Refusal> {
    let t = target(workspace, id)?;
    let lines = lines.clamp(1, 5000);
    // The screen is 50 lines tall and usually ends in blank ones: read past them.
    let text = t
        .server
        .capture_tail(&t.pane, lines + crate::tmux::WINDOW_SIZE.1 as usize)
        .map_err(|e| Refusal::new(e.to_string()))?;
    let clean = crate::messaging::sanitize(&text);
    let mut all: Vec<&str> = clean.lines().map(str::trim_end).collect();
    while all.last().is_some_and(|l| l.is_empty()) {
        all.pop();
    }
    Ok((t.pane, all[all.len().saturating_sub(lines)..].join("\n")))
}

/// Where attaching to a worker goes: its team's server, session and window, and the command a
/// person would type for it.
pub struct AttachTarget {
    pub server: Server,
    pub session: String,
    pub window: String,
    pub command: String,
}

/// The worker's window to attach to, or why there is none.
pub fn attach_target(workspace: &Workspace, id: &str) -> Result<AttachTarget, Refusal> {
    let t = target(workspace, id)?;
    let window = t
        .agent
        .window_id
        .clone()
        .unwrap_or_else(|| format!("{}:{id}", t.team.session_name));
    let command = format!(
        "tmux -S {} attach -t {} \\; select-window -t {window}",
        t.server.socket().display(),
        t.team.session_name
    );
    Ok(AttachTarget {
        server: t.server,
        session: t.team.session_name,
        window,
        command,
    })
}

/// Replaces this process with a tmux client on the worker's window; returns only the reason it
/// could not.
pub fn attach(workspace: &Workspace, id: &str) -> Refusal {
    let t = match attach_target(workspace, id) {
        Ok(t) => t,
        Err(refusal) => return refusal,
    };
    if !std::io::stdin().is_terminal() {
        return Refusal::new("attach needs a terminal")
            .action(format!("run it from a terminal, or: {}", t.command));
    }
    if let Err(e) = t.server.run(&["select-window", "-t", &t.window]) {
        return Refusal::new(e.to_string()).action(t.command);
    }
    let error = t.server.exec_attach(&t.session, true);
    Refusal::new(format!("cannot run tmux attach: {error}")).action(t.command)
}

/// Presses the worker's provider's interrupt keys; the keys.
pub fn interrupt(workspace: &Workspace, id: &str) -> Result<Vec<String>, Refusal> {
    let t = target(workspace, id)?;
    let registry = Registry::load(Some(workspace.root()));
    let provider = registry
        .provider(&t.agent.provider)
        .map_err(|e| Refusal::new(e.to_string()))?;
    let keys = provider
        .interrupt_keys()
        .map_err(|e| Refusal::new(e.to_string()))?;
    t.server
        .send_keys(&t.pane, &keys)
        .map_err(|e| Refusal::new(e.to_string()))?;
    EventLog::new(workspace).emit("agent.interrupted", json!({"agent_id": id, "keys": keys}));
    Ok(keys)
}

/// How long `answer` waits for a prompt the worker's status announces but its screen does not
/// show yet.
const PROMPT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a prompt that appeared while `answer` waited settles before it is answered.
const PROMPT_SETTLE: std::time::Duration = std::time::Duration::from_millis(400);

/// Answers the approval prompt on the worker's screen with `choice`, by its provider's keys;
/// the choice it made and the keys.
pub fn answer(
    workspace: &Workspace,
    id: &str,
    choice: &str,
) -> Result<(String, Vec<String>), Refusal> {
    let t = target(workspace, id)?;
    let registry = Registry::load(Some(workspace.root()));
    let provider = registry
        .provider(&t.agent.provider)
        .map_err(|e| Refusal::new(e.to_string()))?;
    // A CLI's approval hook can tell of a prompt a moment before the CLI draws it: an
    // operator answering what `status` shows gets a few seconds for the prompt to appear.
    let until = std::time::Instant::now() + PROMPT_GRACE;
    let mut waited = false;
    let verdict = loop {
        let screen = t
            .server
            .capture(&t.pane)
            .map_err(|e| Refusal::new(e.to_string()))?;
        let request = ApprovalRequest {
            screen,
            policy: ApprovalPolicy::Choose {
                choice: choice.to_string(),
            },
        };
        let verdict = provider
            .approval_keys(&request)
            .map_err(|e| Refusal::new(e.to_string()))?;
        let waiting = t.agent.activity == Some(crate::state::Activity::AwaitingApproval);
        let shown = matches!(verdict.value, ApprovalDecision::Answer { .. });
        if shown && waited {
            // A prompt that just appeared may not listen yet (Claude Code drops a key pressed on
            // a fresh one): look again once it had a moment to settle.
            std::thread::sleep(PROMPT_SETTLE);
            waited = false;
            continue;
        }
        if shown || !waiting || std::time::Instant::now() >= until {
            break verdict;
        }
        waited = true;
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    match verdict.value {
        ApprovalDecision::Answer {
            keys,
            choice: picked,
        } => {
            let repeated = t
                .server
                .answer_keys(&t.pane, &keys)
                .map_err(|e| Refusal::new(e.to_string()))?;
            EventLog::new(workspace).emit(
                "approval.answered_by_operator",
                json!({"agent_id": id, "choice": picked, "keys": keys, "pressed_again": repeated}),
            );
            Ok((picked, keys))
        }
        ApprovalDecision::Defer { reason } => Err(Refusal::new(format!("{id}: {reason}"))
            .action(format!("look at its screen with `team-agent peek {id}`"))
            .reason("no_approval_prompt")),
    }
}
