//! The coordinator's detectors: a stuck worker, a team gone all idle, a worker stuck in API
//! errors, API errors in the leader's own pane. Each tells the leader once per episode, with a
//! neutral message; the episode memory lives in the state, so a restarted coordinator does not
//! repeat itself. Where a human is needed the operator hears it too, through the team's `notify`
//! sink ([`tell_operator`]). (Approvals and abnormal exits are seen where the screen is read, in
//! `tick`.)

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use team_agent_plugin_api::{ScreenState, TurnState};

use crate::events::{EventLog, now_rfc3339};
use crate::messaging::{self, LEADER, Messenger, NOTICE_SENDER};
use crate::notify::{Kind, Notice, Notifier, Told};
use crate::plugins::Registry;
use crate::state::{
    Activity, AgentState, AgentStatus, IdleMonitor, LeaderApiError, ReportWatch, StateStore,
    TeamState,
};

/// How long every worker must stay idle before the leader is reminded (60 s;
/// `TEAM_AGENT_IDLE_DEBOUNCE_SECS` overrides it, for tests and demos).
fn idle_debounce() -> Duration {
    std::env::var("TEAM_AGENT_IDLE_DEBOUNCE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60))
}
/// How long `acknowledge-idle` silences the all-idle reminder.
pub const IDLE_ACK: Duration = Duration::from_secs(30 * 60);
/// How long a worker may stay in API errors (its CLI retrying) before the leader is told (60 s;
/// `TEAM_AGENT_API_ERROR_GRACE_SECS` overrides it, for tests).
fn api_error_grace() -> Duration {
    std::env::var("TEAM_AGENT_API_ERROR_GRACE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60))
}

pub struct Detectors<'a> {
    pub messenger: &'a Messenger<'a>,
    pub registry: &'a Registry,
    pub events: &'a EventLog,
    pub store: &'a StateStore,
    pub stuck_timeout: Duration,
    pub long_tool_notice: Duration,
    pub notifier: &'a Notifier,
}

fn age(at: Option<&str>) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(at?).ok()?.with_timezone(&Utc);
    (Utc::now() - at).to_std().ok()
}

fn tell_leader(d: &Detectors<'_>, text: &str) {
    notify_leader(d.messenger, d.events, text);
}

/// Sends a notice from team-agent to the leader; a failure is an event, never an error.
pub fn notify_leader(messenger: &Messenger<'_>, events: &EventLog, text: &str) {
    if let Err(e) = messaging::send(
        messenger,
        NOTICE_SENDER,
        &[LEADER.to_string()],
        None,
        text,
        true,
    ) {
        events.emit("coordinator.notice_failed", json!({"error": e.to_string()}));
    }
}

/// Tells the operator, outside the team, that a human is needed (the team's `notify` sink):
/// `notify.sent` or `notify.failed` once the sink is done, `notify.rate_limited` when one of the
/// kind went out for the agent lately.
pub fn tell_operator(notifier: &Notifier, events: &EventLog, notice: Notice) {
    let sink = notifier.sink().name();
    let facts =
        json!({"kind": notice.kind, "agent_id": notice.agent, "team": notice.team, "sink": sink});
    let log = events.clone();
    let done = facts.clone();
    let told = notifier.tell(
        &notice,
        &now_rfc3339(),
        Box::new(move |result| {
            let mut facts = done;
            match result {
                Ok(()) => log.emit("notify.sent", facts),
                Err(error) => {
                    facts["error"] = json!(error);
                    log.emit("notify.failed", facts)
                }
            }
        }),
    );
    match told {
        Told::Sent(_) | Told::Off => {}
        Told::RateLimited => events.emit("notify.rate_limited", facts),
        Told::Failed(error) => {
            let mut facts = facts;
            facts["error"] = json!(error);
            events.emit("notify.failed", facts)
        }
    }
}

/// Changes one agent's record (under the state lock).
fn update_agent(store: &StateStore, id: &str, change: impl FnOnce(&mut AgentState)) {
    let _ = store.update(|state| {
        if let Some(agent) = state.team.as_mut().and_then(|t| t.agents.get_mut(id)) {
            change(agent);
        }
        Ok::<_, crate::state::StateError>(())
    });
}

/// Changes the team's record (under the state lock).
fn update_team(store: &StateStore, change: impl FnOnce(&mut TeamState)) {
    let _ = store.update(|state| {
        if let Some(team) = state.team.as_mut() {
            change(team);
        }
        Ok::<_, crate::state::StateError>(())
    });
}

/// Why `acknowledge-idle` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum IdleError {
    #[error("no team runs in this workspace")]
    NoTeam,
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// `acknowledge-idle`: no all-idle reminder for [`IDLE_ACK`]; when the silence ends (RFC 3339).
pub fn acknowledge_idle(workspace: &crate::workspace::Workspace) -> Result<String, IdleError> {
    let store = StateStore::new(workspace);
    let until = Utc::now() + chrono::Duration::from_std(IDLE_ACK).unwrap_or_default();
    let until = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let team = store.update(|state| {
        let Some(team) = state.team.as_mut() else {
            return Err(IdleError::NoTeam);
        };
        team.idle_acknowledged_until = Some(until.clone());
        Ok(team.name.clone())
    })?;
    let registry = crate::plugins::Registry::load_from(&[]);
    if let Ok(messenger) = Messenger::open(workspace, &registry) {
        let _ = messenger.store.schedule(
            &team,
            "idle_acknowledgement_expires",
            &until,
            &json!({"acknowledged_at": now_rfc3339()}),
        );
    }
    crate::events::EventLog::new(workspace).emit(
        "coordinator.idle_acknowledged",
        json!({"team": team, "until": until}),
    );
    Ok(until)
}

/// Runs every detector on the team as the tick left it.
pub fn run(d: &Detectors<'_>, team: &TeamState) {
    let work = d.messenger.store.open_work(&team.name).unwrap_or_default();
    plugin_faults(d, team);
    stuck(d, team, &work);
    api_errors(d, team);
    unreported(d, team);
    all_idle(d, team, work.values().sum());
}

/// A worker whose provider plugin panicked or hung is no longer read: its status says why, the
/// event log has `plugin.faulted`, and the leader is told once per fault.
fn plugin_faults(d: &Detectors<'_>, team: &TeamState) {
    for agent in team.agents.values().filter(|a| {
        matches!(
            a.status,
            AgentStatus::Starting | AgentStatus::Running | AgentStatus::Blocked
        )
    }) {
        let fault = d.registry.provider_fault(&agent.provider);
        if fault == agent.provider_fault {
            continue;
        }
        if let Some(fault) = &fault {
            d.events.emit(
                "plugin.faulted",
                json!({"agent_id": agent.id, "plugin": agent.provider, "fault": fault}),
            );
            tell_leader(
                d,
                &format!(
                    "{}'s provider plugin '{}' is faulted ({fault}): team-agent no longer reads its screen or answers its prompts. \
Look with `team-agent peek {}`; fix or remove the plugin (`team-agent plugins check {}` says more), then restart the coordinator (`team-agent coordinator stop`, then `team-agent coordinator start`).",
                    agent.id, agent.provider, agent.id, agent.provider
                ),
            );
        }
        update_agent(d.store, &agent.id, |a| a.provider_fault = fault.clone());
    }
}

/// Whether RFC 3339 time `a` is later than `b` (false when either does not parse).
fn later(a: &str, b: &str) -> bool {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

/// A worker whose turn ended while it holds a task it has not reported on is reminded once;
/// when its next turn ends without a result too, team-agent records the task's result as
/// `unreported` with the worker's last text, so the leader is never left waiting on a silent
/// worker. Only turns that ended after the task reached the worker count.
fn unreported(d: &Detectors<'_>, team: &TeamState) {
    for agent in team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
    {
        let Some(ended) = agent.turn.as_ref().and_then(|t| t.last_ended.as_ref()) else {
            continue;
        };
        let open = d
            .messenger
            .store
            .open_tasks(&team.name, &agent.id)
            .unwrap_or_default();
        let Some((task, given_at)) = open.first() else {
            if agent.report_watch.is_some() {
                set_report_watch(d.store, &agent.id, None);
            }
            continue;
        };
        if !later(&ended.ended_at, given_at) {
            continue;
        }
        match &agent.report_watch {
            Some(watch) if &watch.task_id == task => {
                if watch.turn_id == ended.id || !later(&ended.ended_at, &watch.reminded_at) {
                    continue;
                }
                match messaging::record_unreported(
                    d.messenger,
                    &agent.id,
                    task,
                    ended.assistant_text.as_deref(),
                ) {
                    Ok(outcome) => d.events.emit(
                        "result.unreported",
                        json!({"agent_id": agent.id, "task_id": task, "result_id": outcome.result_id, "turn_id": ended.id}),
                    ),
                    Err(e) => d.events.emit(
                        "result.unreported_failed",
                        json!({"agent_id": agent.id, "task_id": task, "error": e.to_string()}),
                    ),
                }
                set_report_watch(d.store, &agent.id, None);
            }
            _ => {
                let text = format!(
                    "Your turn ended, but task {task} has no result yet. If it is finished, or you cannot go on, \
call the team's report_result tool now (status success, blocked, failed or partial, with a summary). \
If you are still working on it, go on and report when it is done."
                );
                // Taken before the reminder goes out: a fast CLI ends the turn it starts before
                // the delivery returns.
                let reminded_at = now_rfc3339();
                if let Err(e) = messaging::send(
                    d.messenger,
                    NOTICE_SENDER,
                    std::slice::from_ref(&agent.id),
                    Some(task),
                    &text,
                    true,
                ) {
                    d.events.emit(
                        "coordinator.notice_failed",
                        json!({"agent_id": agent.id, "error": e.to_string()}),
                    );
                    continue;
                }
                d.events.emit(
                    "coordinator.report_reminder",
                    json!({"agent_id": agent.id, "task_id": task, "turn_id": ended.id}),
                );
                set_report_watch(
                    d.store,
                    &agent.id,
                    Some(ReportWatch {
                        task_id: task.clone(),
                        turn_id: ended.id.clone(),
                        reminded_at,
                    }),
                );
            }
        }
    }
}

fn set_report_watch(store: &StateStore, agent: &str, watch: Option<ReportWatch>) {
    let _ = store.update(|state| {
        if let Some(a) = state.team.as_mut().and_then(|t| t.agents.get_mut(agent)) {
            a.report_watch = watch.clone();
        }
        Ok::<_, crate::state::StateError>(())
    });
}

/// The processes a worker's current tool call started that still run (none unless it is in a
/// tool).
fn tool_processes(agent: &AgentState) -> Vec<crate::process::ProcessInfo> {
    if agent.activity != Some(Activity::InTool) {
        return Vec::new();
    }
    let since = tool_since(agent)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis() as f64 / 1000.0);
    match (agent.pane_pid, since) {
        (Some(pid), Some(since)) => crate::process::descendants_since(pid, since),
        _ => Vec::new(),
    }
}

/// When the worker's current tool call began: as its hook said, else since it shows `in_tool`.
fn tool_since(agent: &AgentState) -> Option<&str> {
    agent
        .activity_detail
        .since
        .as_deref()
        .or(agent.activity_since.as_deref())
}

/// The last lines of a worker's screen, for a notice.
fn screen_lines(team: &TeamState, agent: &AgentState, n: usize) -> Vec<String> {
    agent
        .pane_id
        .as_deref()
        .and_then(|pane| {
            crate::tmux::Server::at(&team.tmux_socket)
                .capture_tail(pane, 40)
                .ok()
        })
        .map(|screen| crate::session::last_lines(&screen, n))
        .unwrap_or_default()
}

/// Stuck, slow and dead told apart. A worker that claims to work (`working`, or `in_tool` with
/// no process of its tool alive) with no sign of progress (no hook event, transcript change, or
/// screen change other than a spinner or timer) for `stuck_timeout` is stuck: the leader is told
/// once, with its last screen lines. One in a tool whose process still runs is slow, not stuck:
/// past `long_tool_notice`, the leader is told once, as information. (A dead CLI is `exited`,
/// seen where the pane is read.)
fn stuck(d: &Detectors<'_>, team: &TeamState, work: &HashMap<String, u64>) {
    for agent in team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
    {
        let claims = matches!(agent.activity, Some(Activity::Working | Activity::InTool));
        let tools = tool_processes(agent);
        let last_progress = agent
            .last_progress_at
            .as_deref()
            .or(agent.last_output_at.as_deref());
        let quiet = age(last_progress).is_some_and(|a| a >= d.stuck_timeout);
        // A claim from the CLI's own hooks or transcript counts alone; the screen's only while
        // the worker has work.
        let sure = agent
            .activity_source
            .as_deref()
            .is_some_and(|s| s != "screen")
            || work.get(&agent.id).copied().unwrap_or(0) > 0;
        let is_stuck = claims && quiet && tools.is_empty() && sure;
        let notified = agent.stuck_notified_at.is_some();
        if is_stuck && !notified {
            let lines = screen_lines(team, agent, 8);
            let activity = agent.activity.map_or("working", Activity::as_str);
            let source = agent.activity_source.as_deref().unwrap_or("screen");
            d.events.emit(
                "coordinator.agent_stuck",
                json!({"agent_id": agent.id, "activity": activity, "source": source, "last_progress_at": last_progress, "last_lines": lines}),
            );
            tell_leader(
                d,
                &format!(
                    "{} looks stuck: {activity} (from its {source}) with no progress for {} s: no hook event, transcript change or new text on its screen. \
Its last lines:\n{}\nLook with `team-agent peek {}`; interrupt with `team-agent interrupt {}`, or restart it with `team-agent start-agent {} --force`.",
                    agent.id,
                    d.stuck_timeout.as_secs(),
                    lines.join("\n"),
                    agent.id,
                    agent.id,
                    agent.id
                ),
            );
            tell_operator(
                d.notifier,
                d.events,
                Notice {
                    kind: Kind::Stuck,
                    team: team.name.clone(),
                    agent: Some(agent.id.clone()),
                    summary: format!("{} looks stuck", agent.id),
                    body: format!(
                        "{activity} with no progress for {} s. Look with `team-agent peek {}`.",
                        d.stuck_timeout.as_secs(),
                        agent.id
                    ),
                    detail: json!({"activity": activity, "source": source, "last_progress_at": last_progress, "last_lines": lines}),
                },
            );
            update_agent(d.store, &agent.id, |a| {
                a.stuck_notified_at = Some(now_rfc3339())
            });
        } else if notified && !is_stuck {
            let why = if !claims {
                "activity"
            } else if !tools.is_empty() {
                "tool"
            } else if !sure {
                "screen_only"
            } else {
                "progress"
            };
            d.events.emit(
                "coordinator.agent_unstuck",
                json!({"agent_id": agent.id, "reason": why, "activity": agent.activity.map(Activity::as_str), "source": agent.activity_source, "last_progress_at": last_progress}),
            );
            update_agent(d.store, &agent.id, |a| a.stuck_notified_at = None);
        }
        long_tool(d, agent, &tools);
    }
}

/// A tool call whose process has run for `long_tool_notice`: the leader hears of it once per
/// call, as information (slow is not stuck).
fn long_tool(d: &Detectors<'_>, agent: &AgentState, tools: &[crate::process::ProcessInfo]) {
    let Some(since) = tool_since(agent) else {
        return;
    };
    let long = age(Some(since)).is_some_and(|a| a >= d.long_tool_notice);
    if tools.is_empty() || !long || agent.long_tool_notified.as_deref() == Some(since) {
        return;
    }
    let tool = agent.activity_detail.tool.as_deref().unwrap_or("a tool");
    let processes: Vec<String> = tools
        .iter()
        .take(3)
        .map(|p| format!("{} (pid {})", p.name, p.pid))
        .collect();
    d.events.emit(
        "coordinator.long_tool",
        json!({"agent_id": agent.id, "tool": tool, "since": since, "processes": processes}),
    );
    tell_leader(
        d,
        &format!(
            "For your information: {} has been in {tool} for {} min; its process {} still runs, so it is slow, not stuck. \
Nothing to do unless that is unexpected (`team-agent peek {}`).",
            agent.id,
            age(Some(since)).map_or(0, |a| a.as_secs() / 60),
            processes.join(", "),
            agent.id
        ),
    );
    let since = since.to_string();
    update_agent(d.store, &agent.id, |a| a.long_tool_notified = Some(since));
}

/// A worker in API errors is reported once per episode: at once when its turn ended on the
/// error (nothing will retry it), after a grace period while the CLI retries by itself.
fn api_errors(d: &Detectors<'_>, team: &TeamState) {
    for agent in team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
    {
        let error = agent.api_error.as_ref();
        let since = error.map(|e| e.since.as_str());
        let ended = error.is_some_and(|e| e.ended);
        // An episode is named by its start; a new class or kind of error starts a new one.
        let notified_of = agent.api_error_notified.as_deref();
        let notified = notified_of.is_some() && notified_of == since;
        let due = ended || age(since).is_some_and(|a| a >= api_error_grace());
        match (agent.activity == Some(Activity::ApiError), since) {
            (true, Some(_)) if !notified && due => {
                let class = error.map_or("other", |e| e.class.as_str());
                d.events.emit(
                    "coordinator.api_error_reported",
                    json!({"agent_id": agent.id, "class": class, "ended": ended}),
                );
                let text = if ended {
                    format!(
                        "{id}'s turn ended on a provider API error ({class}); its work is not done and nothing retries it. \
Check the provider's status or credentials (`team-agent peek {id}` shows the error), then send the task again.",
                        id = agent.id
                    )
                } else {
                    format!(
                        "{id} has been in provider API errors ({class}) for over {} s; it retries by itself. \
Check the provider's status or credentials; `team-agent peek {id}` shows its screen.",
                        api_error_grace().as_secs(),
                        id = agent.id
                    )
                };
                tell_leader(d, &text);
                tell_operator(
                    d.notifier,
                    d.events,
                    Notice {
                        kind: Kind::ApiError,
                        team: team.name.clone(),
                        agent: Some(agent.id.clone()),
                        summary: format!("{}: provider API errors ({class})", agent.id),
                        body: text,
                        detail: json!({"class": class, "ended": ended, "since": since, "reset": error.and_then(|e| e.reset.clone())}),
                    },
                );
                let since = since.map(str::to_string);
                update_agent(d.store, &agent.id, |a| a.api_error_notified = since);
            }
            (false, _) if notified_of.is_some() => {
                update_agent(d.store, &agent.id, |a| a.api_error_notified = None)
            }
            _ => {}
        }
    }
}

/// Whether a worker is idle: from its transcript when the coordinator reads its turns there,
/// else from its screen.
fn idle(agent: &crate::state::AgentState) -> Option<bool> {
    // The activity as its sources decided it (hooks first), when it knows.
    if let Some(activity) = agent.activity.filter(|a| *a != Activity::Unknown)
        && agent.activity_source.as_deref() == Some("hook")
    {
        return Some(activity.is_idle());
    }
    if let Some(turn) = &agent.turn {
        return match turn.state {
            TurnState::Idle | TurnState::Interrupted => Some(true),
            TurnState::Working | TurnState::BlockedOnHuman | TurnState::Error => Some(false),
            TurnState::Unknown => None,
        };
    }
    match agent.activity {
        Some(Activity::Idle) => Some(true),
        Some(Activity::Unknown) | None => None,
        Some(_) => Some(false),
    }
}

/// Every worker idle after having worked: after the debounce, one neutral reminder per episode,
/// unless acknowledged (`team-agent acknowledge-idle`).
fn all_idle(d: &Detectors<'_>, team: &TeamState, open_tasks: u64) {
    let workers: Vec<&crate::state::AgentState> = team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running && !a.paused)
        .collect();
    if workers.is_empty() {
        return;
    }
    let verdicts: Vec<Option<bool>> = workers.iter().map(|a| idle(a)).collect();
    let monitor = &team.idle_monitor;
    let all_idle = verdicts.iter().all(|v| *v == Some(true));
    if !all_idle {
        if verdicts.contains(&Some(false)) && (!monitor.armed || monitor.idle_since.is_some()) {
            update_team(d.store, |t| {
                t.idle_monitor = IdleMonitor {
                    armed: true,
                    idle_since: None,
                }
            });
        }
        return;
    }
    if !monitor.armed {
        return;
    }
    let Some(since) = monitor.idle_since.clone() else {
        update_team(d.store, |t| {
            t.idle_monitor = IdleMonitor {
                armed: true,
                idle_since: Some(now_rfc3339()),
            }
        });
        return;
    };
    if age(Some(&since)).is_none_or(|a| a < idle_debounce()) {
        return;
    }
    let acknowledged = team
        .idle_acknowledged_until
        .as_deref()
        .is_some_and(|until| {
            DateTime::parse_from_rfc3339(until).is_ok_and(|u| u.with_timezone(&Utc) > Utc::now())
        });
    if acknowledged {
        d.events
            .emit("idle_takeover.no_ping", json!({"reason": "acknowledged"}));
    } else {
        let minutes = age(Some(&since))
            .map(|a| a.as_secs() / 60)
            .unwrap_or(1)
            .max(1);
        d.events.emit(
            "idle_takeover.ping",
            json!({"workers": workers.len(), "idle_since": since}),
        );
        tell_leader(
            d,
            &format!(
                "All {} workers are idle (for about {minutes} min). The next step is yours: review the results \
(`team-agent results`) and send more work, or run `team-agent acknowledge-idle` to silence this reminder for 30 minutes.",
                workers.len()
            ),
        );
        let open = match open_tasks {
            0 => String::new(),
            n => format!(", {n} messages still open"),
        };
        tell_operator(
            d.notifier,
            d.events,
            Notice {
                kind: Kind::AllIdle,
                team: team.name.clone(),
                agent: None,
                summary: format!("All {} workers of {} are idle{open}", workers.len(), team.name),
                body: "The next step is yours: `team-agent results`, then send more work (or `team-agent acknowledge-idle`).".into(),
                detail: json!({"workers": workers.len(), "idle_since": since, "open_work": open_tasks}),
            },
        );
    }
    // The episode ends here: the next reminder needs a worker to work again first.
    update_team(d.store, |t| t.idle_monitor = IdleMonitor::default());
}

/// API errors on the leader's own pane (when its provider has a plugin): one event per
/// distinct error.
pub fn leader_api_errors(d: &Detectors<'_>, team: &TeamState, last: &mut Option<String>) {
    let Some(binding) = team.leader.as_ref() else {
        return;
    };
    let Some(provider) = binding
        .provider
        .as_deref()
        .and_then(|p| d.registry.provider(p).ok())
    else {
        return;
    };
    let server = crate::tmux::Server::at(&binding.socket);
    let Ok(screen) = server.capture(&binding.pane_id) else {
        return;
    };
    let class = match provider.classify_screen(&screen).map(|v| v.value) {
        Ok(ScreenState::ApiError { class, .. }) => serde_json::to_value(class)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string)),
        _ => None,
    };
    if class != *last {
        if let Some(class) = &class {
            d.events.emit(
                "leader.api_error",
                json!({"pane_id": binding.pane_id, "class": class}),
            );
        }
        // Kept in the state so `status` shows it.
        let seen = class.as_ref().map(|c| LeaderApiError {
            class: c.clone(),
            since: now_rfc3339(),
        });
        update_team(d.store, |t| t.leader_api_error = seen);
        *last = class;
    }
}
