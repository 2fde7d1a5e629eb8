//! The coordinator's detectors: a stuck worker, a team gone all idle, a worker stuck in API
//! errors, API errors in the leader's own pane. Each tells the leader once per episode, with a
//! neutral message; the episode memory lives in the state, so a restarted coordinator does not
//! repeat itself. (Approvals and abnormal exits are seen where the screen is read, in `tick`.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use team_agent_plugin_api::{ScreenState, TurnState};

use crate::events::{EventLog, now_rfc3339};
use crate::messaging::{self, LEADER, Messenger};
use crate::plugins::Registry;
use crate::state::{Activity, AgentStatus, StateStore, TeamState};

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
/// How long a worker may stay in API errors before the leader is told.
const API_ERROR_GRACE: Duration = Duration::from_secs(60);

/// The name messages from team-agent itself carry.
pub const SENDER: &str = "team-agent";

pub struct Detectors<'a> {
    pub messenger: &'a Messenger<'a>,
    pub registry: &'a Registry,
    pub events: &'a EventLog,
    pub store: &'a StateStore,
    pub stuck_timeout: Duration,
    pub turns: &'a RefCell<TurnCache>,
}

/// What the all-idle detector last read of each transcript, so an unchanged transcript is not
/// read and parsed again every tick (the tail is up to 128 KiB per worker), and which providers
/// read turns from transcripts (a manifest call each otherwise).
#[derive(Default)]
pub struct TurnCache {
    transcripts: HashMap<PathBuf, (u64, Option<SystemTime>, Option<bool>)>,
    reads_transcripts: HashMap<String, bool>,
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
    if let Err(e) = messaging::send(messenger, SENDER, &[LEADER.to_string()], None, text, true) {
        events.emit("coordinator.notice_failed", json!({"error": e.to_string()}));
    }
}

/// Sets one flag in an agent's or the team's `extra` (under the state lock).
fn set_flag(store: &StateStore, agent: Option<&str>, key: &str, value: Value) {
    let _ = store.update(|state| {
        if let Some(team) = state.team.as_mut() {
            let extra = match agent {
                Some(id) => team.agents.get_mut(id).map(|a| &mut a.extra),
                None => Some(&mut team.extra),
            };
            if let Some(extra) = extra {
                if value.is_null() {
                    extra.remove(key);
                } else {
                    extra.insert(key.into(), value.clone());
                }
            }
        }
        Ok::<_, crate::state::StateError>(())
    });
}

/// Runs every detector on the team as the tick left it.
pub fn run(d: &Detectors<'_>, team: &TeamState) {
    let work = d.messenger.store.open_work(&team.name).unwrap_or_default();
    stuck(d, team, &work);
    api_errors(d, team);
    all_idle(d, team);
}

/// A worker that shows `busy` but prints nothing for `stuck_timeout` while it has work.
fn stuck(d: &Detectors<'_>, team: &TeamState, work: &HashMap<String, u64>) {
    for agent in team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
    {
        let busy = agent.activity == Some(Activity::Busy);
        let quiet = age(agent.last_output_at.as_deref()).is_some_and(|a| a >= d.stuck_timeout);
        let has_work = work.get(&agent.id).copied().unwrap_or(0) > 0;
        let notified = agent.extra.contains_key("stuck_notified_at");
        if busy && quiet && has_work && !notified {
            d.events.emit(
                "coordinator.agent_stuck",
                json!({"agent_id": agent.id, "last_output_at": agent.last_output_at}),
            );
            tell_leader(
                d,
                &format!(
                    "{} looks stuck: busy with no new output for {} s while it has work. \
Look with `team-agent peek {}`; interrupt with `team-agent interrupt {}`, or restart it with `team-agent start-agent {} --force`.",
                    agent.id,
                    d.stuck_timeout.as_secs(),
                    agent.id,
                    agent.id,
                    agent.id
                ),
            );
            set_flag(
                d.store,
                Some(&agent.id),
                "stuck_notified_at",
                json!(now_rfc3339()),
            );
        } else if notified && !(busy && quiet) {
            set_flag(d.store, Some(&agent.id), "stuck_notified_at", Value::Null);
        }
    }
}

/// A worker in API errors is reported once per episode: at once when its turn ended on the
/// error (nothing will retry it), after a grace period while the CLI retries by itself.
fn api_errors(d: &Detectors<'_>, team: &TeamState) {
    for agent in team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running)
    {
        let error = agent.extra.get("api_error");
        let since = error.and_then(|e| e.get("since")).and_then(Value::as_str);
        let ended = error
            .and_then(|e| e.get("ended"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let notified = agent.extra.contains_key("api_error_notified");
        let due = ended || age(since).is_some_and(|a| a >= API_ERROR_GRACE);
        match (agent.activity == Some(Activity::ApiError), since) {
            (true, Some(_)) if !notified && due => {
                let class = error
                    .and_then(|e| e.get("class"))
                    .and_then(Value::as_str)
                    .unwrap_or("other");
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
                        API_ERROR_GRACE.as_secs(),
                        id = agent.id
                    )
                };
                tell_leader(d, &text);
                set_flag(
                    d.store,
                    Some(&agent.id),
                    "api_error_notified",
                    json!(now_rfc3339()),
                );
            }
            (false, _) if notified => {
                set_flag(d.store, Some(&agent.id), "api_error_notified", Value::Null)
            }
            _ => {}
        }
    }
}

/// Whether a worker is idle, from its transcript when its provider reads one, else its screen.
fn idle(d: &Detectors<'_>, agent: &crate::state::AgentState) -> Option<bool> {
    let provider = d.registry.provider(&agent.provider).ok()?;
    let mut cache = d.turns.borrow_mut();
    let reads_transcripts = *cache
        .reads_transcripts
        .entry(agent.provider.clone())
        .or_insert_with(|| {
            provider
                .manifest()
                .is_ok_and(|m| m.capabilities.transcript_turn_state)
        });
    if let Some(path) = agent
        .session
        .as_ref()
        .and_then(|s| s.transcript_path.as_ref())
        && reads_transcripts
        && let Ok(meta) = std::fs::metadata(path)
    {
        let stamp = (meta.len(), meta.modified().ok());
        if let Some((len, modified, idle)) = cache.transcripts.get(path)
            && (*len, *modified) == stamp
        {
            return *idle;
        }
        if let Some(tail) = read_tail(path, 128 * 1024)
            && let Ok(verdict) = provider.turn_state(&tail)
        {
            let idle = match verdict.value {
                TurnState::Idle | TurnState::Interrupted => Some(true),
                TurnState::Working | TurnState::BlockedOnHuman | TurnState::Error => Some(false),
                TurnState::Unknown => None,
            };
            cache
                .transcripts
                .insert(path.clone(), (stamp.0, stamp.1, idle));
            return idle;
        }
    }
    match agent.activity {
        Some(Activity::Idle) => Some(true),
        Some(Activity::Unknown) | None => None,
        Some(_) => Some(false),
    }
}

/// The last `max` bytes of a file (a transcript tail; never the whole file).
pub fn read_tail(path: &Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.seek(SeekFrom::End(0)).ok()?;
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Every worker idle after having worked: after the debounce, one neutral reminder per episode,
/// unless acknowledged (`team-agent acknowledge-idle`).
fn all_idle(d: &Detectors<'_>, team: &TeamState) {
    let workers: Vec<&crate::state::AgentState> = team
        .agents
        .values()
        .filter(|a| a.status == AgentStatus::Running && !a.paused)
        .collect();
    if workers.is_empty() {
        return;
    }
    let verdicts: Vec<Option<bool>> = workers.iter().map(|a| idle(d, a)).collect();
    let monitor = team
        .extra
        .get("idle_monitor")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let armed = monitor["armed"].as_bool().unwrap_or(false);
    let all_idle = verdicts.iter().all(|v| *v == Some(true));
    if !all_idle {
        if verdicts.contains(&Some(false)) && (!armed || monitor.get("idle_since").is_some()) {
            set_flag(d.store, None, "idle_monitor", json!({"armed": true}));
        }
        return;
    }
    if !armed {
        return;
    }
    let Some(since) = monitor["idle_since"].as_str().map(str::to_string) else {
        set_flag(
            d.store,
            None,
            "idle_monitor",
            json!({"armed": true, "idle_since": now_rfc3339()}),
        );
        return;
    };
    if age(Some(&since)).is_none_or(|a| a < idle_debounce()) {
        return;
    }
    let acknowledged = team
        .extra
        .get("idle_acknowledged_until")
        .and_then(Value::as_str)
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
    }
    // The episode ends here: the next reminder needs a worker to work again first.
    set_flag(d.store, None, "idle_monitor", json!({"armed": false}));
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
        let seen = class
            .as_ref()
            .map(|c| json!({"class": c, "since": now_rfc3339()}))
            .unwrap_or(Value::Null);
        set_flag(d.store, None, "leader_api_error", seen);
        *last = class;
    }
}
