//! `team-agent send | report-result | results | wait | inbox | watch | attach-leader`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{Reply, UserError};
use crate::messaging::{self, LEADER, MessagingError, Messenger, ReportOutcome};
use crate::plugins::Registry;
use crate::workspace::Workspace;

fn user(e: MessagingError) -> anyhow::Error {
    match e {
        MessagingError::Refused(message) => UserError::new(message).reason("refused").into(),
        other => UserError::new(other.to_string())
            .action("see `team-agent doctor`")
            .into(),
    }
}

/// Who is speaking: the worker named by `TEAM_AGENT_ID`, else the leader.
pub fn caller() -> String {
    std::env::var("TEAM_AGENT_ID")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| LEADER.into())
}

pub struct SendArgs<'a> {
    pub targets: Vec<String>,
    pub message: Option<&'a str>,
    pub file: Option<&'a Path>,
    pub task: Option<&'a str>,
    pub no_wait: bool,
    pub wait: Receipt,
    /// Seconds `--wait consumed` waits.
    pub timeout: f64,
}

/// How far `send` follows a message before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Receipt {
    Submitted,
    Consumed,
}

fn read_content(args: &SendArgs<'_>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    match (args.message, args.file) {
        (Some("-"), None) | (None, Some(_)) if args.file.is_none_or(|f| f == Path::new("-")) => {
            std::io::stdin()
                .take(messaging::MAX_MESSAGE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)?;
        }
        (None, Some(file)) => {
            bytes = std::fs::read(file)
                .map_err(|e| UserError::new(format!("cannot read {}: {e}", file.display())))?;
        }
        (Some(text), None) => return Ok(text.to_string()),
        (Some(_), Some(_)) => {
            return Err(
                UserError::new("give the message as an argument or with --file, not both").into(),
            );
        }
        (None, None) => {
            return Err(UserError::new(
                "no message: give it as an argument, with --file PATH, or `-` for stdin",
            )
            .action("example: team-agent send alice \"review src/lib.rs\"")
            .into());
        }
    }
    String::from_utf8(bytes).map_err(|_| UserError::new("the message is not UTF-8 text").into())
}

pub fn send(workspace: &Workspace, args: SendArgs<'_>) -> anyhow::Result<Reply> {
    let content = read_content(&args)?;
    if content.trim().is_empty() {
        return Err(UserError::new("the message is empty").into());
    }
    // No plugin is loaded unless this process ends up delivering by itself (the coordinator
    // usually does: see `messaging::send`).
    let registry = Registry::load_from(&[]);
    let messenger = Messenger::open(workspace, &registry).map_err(user)?;
    let team = messenger.team().map_err(user)?;
    let sender = caller();
    let recipients = messaging::resolve_recipients(&team, &args.targets, &sender).map_err(user)?;
    let outcomes = messaging::send(
        &messenger,
        &sender,
        &recipients,
        args.task,
        &content,
        !args.no_wait,
    )
    .map_err(user)?;
    let outcomes = if args.wait == Receipt::Consumed {
        await_consumed(&messenger, outcomes, args.timeout)?
    } else {
        outcomes
    };
    // Waiting for `consumed`, a message that did not get there is a failure (exit 1).
    let ok = outcomes.iter().all(|o| {
        o.status != "failed"
            && o.status != "bounced"
            && (args.wait == Receipt::Submitted || o.detail.is_none())
    });
    let text: String = outcomes
        .iter()
        .map(|o| {
            let hint = o
                .detail
                .as_deref()
                .or(queued_hint(&o.status))
                .map(|h| format!("  ({h})"))
                .unwrap_or_default();
            format!("{} → {}: {}{hint}\n", o.message_id, o.to, o.status)
        })
        .collect();
    let answer = if outcomes.len() == 1 {
        let o = &outcomes[0];
        json!({"ok": ok, "message_id": o.message_id, "to": o.to, "status": o.status, "hint": queued_hint(&o.status), "detail": o.detail})
    } else {
        json!({"ok": ok, "messages": outcomes, "to": recipients})
    };
    Ok(Reply::new(ok, answer, text))
}

/// Follows each sent message until its worker's CLI took it (`consumed`, or `acknowledged` by
/// a result already), it failed, or `timeout` seconds passed; the outcomes as they are then.
/// A message to the leader is followed to `submitted` only (no transcript tells more).
fn await_consumed(
    messenger: &Messenger<'_>,
    mut outcomes: Vec<messaging::SendOutcome>,
    timeout: f64,
) -> anyhow::Result<Vec<messaging::SendOutcome>> {
    let until = std::time::Instant::now()
        + std::time::Duration::from_secs_f64(timeout.clamp(0.0, 86_400.0));
    let settled = |o: &messaging::SendOutcome| {
        matches!(
            o.status.as_str(),
            "consumed" | "acknowledged" | "failed" | "bounced"
        ) || (o.to == messaging::LEADER && o.status == "submitted")
    };
    loop {
        // The team as it is now: the coordinator records a session it captures meanwhile.
        let team = messenger.team().map_err(user)?;
        for outcome in outcomes.iter_mut().filter(|o| !settled(o)) {
            let Some(message) = messenger.store.message(&outcome.message_id)? else {
                continue;
            };
            if message.status == crate::store::MessageStatus::Submitted
                && messaging::check_consumed(messenger, &team, &message).map_err(user)?
            {
                outcome.status = "consumed".into();
            } else {
                outcome.status = message.status.as_str();
                if message.status == crate::store::MessageStatus::Bounced {
                    outcome.detail = message.error.clone();
                }
            }
        }
        if outcomes.iter().all(settled) || std::time::Instant::now() >= until {
            for outcome in outcomes.iter_mut().filter(|o| !settled(o)) {
                outcome.detail = Some(format!(
                    "not taken by {} within {timeout} s; `team-agent peek {}` shows its screen",
                    outcome.to, outcome.to
                ));
            }
            return Ok(outcomes);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn report_result(workspace: &Workspace, file: &Path) -> anyhow::Result<Reply> {
    let label = if file == Path::new("-") {
        PathBuf::from("<stdin>")
    } else {
        file.to_path_buf()
    };
    let text = crate::cli::spec_cmd::read_input(file).map_err(|d| UserError::new(d.to_string()))?;
    let envelope =
        crate::spec::parse_result(&text, &label).map_err(|d| UserError::new(d.to_string()))?;
    let registry = Registry::load(Some(workspace.root()));
    let messenger = Messenger::open(workspace, &registry).map_err(user)?;
    let caller = std::env::var("TEAM_AGENT_ID")
        .ok()
        .filter(|s| !s.is_empty());
    match messaging::report_result(&messenger, envelope, caller.as_deref(), &label) {
        Ok(outcome) => Ok(report_reply(&outcome)),
        Err(messaging::ReportError::Invalid(diagnostics)) => {
            let lines: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
            Ok(Reply::new(
                false,
                json!({"ok": false, "errors": diagnostics}),
                format!("{lines}not a valid result_envelope_v1: nothing was stored\n"),
            ))
        }
        Err(messaging::ReportError::Other(e)) => Err(user(e)),
    }
}

fn report_reply(outcome: &ReportOutcome) -> Reply {
    let text = format!(
        "stored {} for task {} ({} message(s) acknowledged); leader notification: {}\n",
        outcome.result_id,
        outcome.task_id,
        outcome.acknowledged_messages,
        outcome.leader_notification
    );
    Reply::ok(outcome, text)
}

pub fn results(
    workspace: &Workspace,
    task: Option<&str>,
    agent: Option<&str>,
) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let messenger = Messenger::open(workspace, &registry).map_err(user)?;
    let team = messenger.team().map_err(user)?;
    let rows = messenger
        .store
        .results(&team.name, task, agent, 500)
        .map_err(|e| user(e.into()))?;
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str("no results yet\n");
    }
    for r in &rows {
        text.push_str(&format!(
            "{}  {:<12} {:<14} {:<8} {}\n",
            r.created_at,
            r.task_id,
            r.agent_id,
            r.status,
            r.envelope["summary"].as_str().unwrap_or("")
        ));
        if let Some(line) = crate::messaging::code_line(r) {
            text.push_str(&format!("    {line}\n"));
        }
    }
    Ok(Reply::ok(json!({"ok": true, "results": rows}), text))
}

pub fn wait(workspace: &Workspace, task: &str, timeout: f64) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let messenger = Messenger::open(workspace, &registry).map_err(user)?;
    let team = messenger.team().map_err(user)?;
    let watcher = messenger
        .store
        .add_watcher(&team.name, task)
        .map_err(|e| user(e.into()))?;
    let started = Instant::now();
    let mut announced = false;
    let found = loop {
        if let Some(row) = messenger
            .store
            .latest_result(&team.name, task)
            .map_err(|e| user(e.into()))?
        {
            break Some(row);
        }
        if started.elapsed().as_secs_f64() >= timeout {
            break None;
        }
        if !announced && started.elapsed() > Duration::from_secs(2) {
            err_out!("waiting for a result on task {task} (up to {timeout:.0} s)…");
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = messenger.store.remove_watcher(&watcher.watcher_id);
    match found {
        Some(row) => {
            let text = format!(
                "{}\n",
                serde_json::to_string_pretty(&row.envelope).unwrap_or_default()
            );
            Ok(Reply::ok(
                json!({"ok": true, "result_id": row.result_id, "envelope": row.envelope}),
                text,
            ))
        }
        None => Ok(Reply::new(
            false,
            json!({"ok": false, "reason": "timeout", "task_id": task, "waited_s": timeout}),
            format!("no result for task {task} after {timeout:.0} s\n"),
        )),
    }
}

pub fn inbox(
    workspace: &Workspace,
    agent: &str,
    since: Option<&str>,
    limit: usize,
) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let messenger = Messenger::open(workspace, &registry).map_err(user)?;
    let team = messenger.team().map_err(user)?;
    if let Some(s) = since
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        return Err(
            UserError::new(format!("--since {s:?} is not an RFC 3339 time"))
                .action("example: --since 2026-11-23T10:00:00Z")
                .into(),
        );
    }
    let since_utc = since
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        });
    let messages = messenger
        .store
        .inbox(&team.name, agent, since_utc.as_deref(), limit)
        .map_err(|e| user(e.into()))?;
    let mut text = String::new();
    for m in &messages {
        let first = m.content.lines().next().unwrap_or("");
        text.push_str(&format!(
            "{} {} {} → {} [{}] {}\n",
            m.created_at,
            m.message_id,
            m.sender,
            m.recipient,
            m.status.as_str(),
            first
        ));
    }
    if messages.is_empty() {
        text.push_str("no messages\n");
    }
    text.push_str("(results are not listed here: see `team-agent results`)\n");
    Ok(Reply::ok(
        json!({"ok": true, "agent": agent, "messages": messages}),
        text,
    ))
}

pub fn attach_leader(
    workspace: &Workspace,
    pane: &str,
    socket: Option<&Path>,
    provider: Option<&str>,
) -> anyhow::Result<Reply> {
    let server = match socket {
        Some(s) => crate::tmux::Server::at(s),
        None => std::env::var("TMUX")
            .ok()
            .and_then(|t| crate::tmux::Server::from_tmux_env(&t))
            .ok_or_else(|| {
                UserError::new("no --socket and not inside tmux ($TMUX is unset)")
                    .action("pass --socket PATH (see `tmux display -p '#{socket_path}'`)")
            })?,
    };
    let binding = crate::leader::attach(workspace, &server, pane, provider)?;
    Ok(Reply::ok(
        json!({"ok": true, "leader": binding}),
        format!(
            "leader bound to pane {pane} on {}\n",
            binding.socket.display()
        ),
    ))
}

/// `team-agent watch`: one line per new event until Ctrl-C (exit 0).
pub fn watch(workspace: &Workspace, json_lines: bool) -> anyhow::Result<Reply> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STOP: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_interrupt(_: i32) {
        STOP.store(true, Ordering::SeqCst);
    }
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_interrupt),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGINT, &action);
        let _ = nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGTERM, &action);
    }
    let path = workspace.events_file();
    err_out!("watching {} (Ctrl-C to stop)", path.display());
    let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut partial = String::new();
    while !STOP.load(Ordering::SeqCst) {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            offset = 0; // rotated
        }
        if len > offset
            && let Ok(mut file) = std::fs::File::open(&path)
        {
            use std::io::{Seek, SeekFrom};
            let _ = file.seek(SeekFrom::Start(offset));
            let mut chunk = String::new();
            let _ = file.take(len - offset).read_to_string(&mut chunk);
            offset = len;
            partial.push_str(&chunk);
            while let Some(end) = partial.find('\n') {
                let line: String = partial.drain(..=end).collect();
                print_event(line.trim_end(), json_lines);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(Reply::ok(json!({"ok": true}), ""))
}

fn print_event(line: &str, json_lines: bool) {
    if json_lines {
        out!("{line}");
        return;
    }
    let Ok(serde_json::Value::Object(mut event)) = serde_json::from_str::<serde_json::Value>(line)
    else {
        return;
    };
    let ts = event
        .remove("ts")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let name = event
        .remove("event")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let fields: Vec<String> = event
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            format!("{k}={}", v.chars().take(80).collect::<String>())
        })
        .collect();
    out!(
        "{} {name} {}",
        ts.get(11..23).unwrap_or(&ts),
        fields.join(" ")
    );
}

/// What a queued status means for the sender, and what brings the message through.
fn queued_hint(status: &str) -> Option<&'static str> {
    Some(match status.strip_prefix("queued_")? {
        "busy" => "the worker is busy; the coordinator delivers it when the worker takes input",
        "behind_older" => "older messages for this worker still wait; it follows them",
        "not_ready" => "the worker is still starting; it is delivered once it is ready",
        "blocked" => {
            "the worker is blocked (see `team-agent status`); it is delivered once that is resolved"
        }
        "stopped" => {
            "the worker is stopped; `team-agent start-agent NAME` starts it and the message follows"
        }
        "pane_missing" | "pane_dead" | "tmux_error" => {
            "the worker's window or the team's tmux server is gone: `team-agent status` shows which; \
`team-agent restart` (or `start-agent NAME`) brings it back and the message waits until then"
        }
        "awaiting_approval" => {
            "the worker waits at an approval prompt: `team-agent answer NAME yes|no`"
        }
        "trust_prompt" => "the worker waits at a trust dialog the coordinator is answering",
        "api_error" => "the worker's CLI is retrying after provider API errors",
        "no_leader" => {
            "no leader pane is bound; it waits in the team's leader inbox (.team/runtime/teams/<team>/leader-inbox.log)"
        }
        "confirming_arrival" => {
            "a delivery was cut off at its submit keys; the message is sent again only if the \
worker's transcript shows it never arrived"
        }
        "input_not_empty" => {
            "someone is typing in the worker's input box; the message waits until it is empty"
        }
        "input_not_cleared" => {
            "the worker's input box holds the rest of an interrupted delivery that would not clear; `team-agent peek NAME` shows it"
        }
        _ => return None,
    })
}
