//! One coordinator tick, in the order of docs/ARCHITECTURE.md §4. [`Runner::tick`] reads as its list of
//! steps; each step's failure is logged as an event and the tick goes on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use team_agent_plugin_api::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, HookEvent, HookPayload, ScreenState,
    StartupDecision, TurnSummary,
};

use super::activity;
use super::detectors::{self, Detectors};
use super::turns::TurnReader;

use team_agent_plugin_api::loader::ProviderClient;

use crate::events::{EventLog, now_rfc3339};
use crate::messaging::{self, Messenger};
use crate::notify::{Kind, Notice, Notifier, Sink};
use crate::plugins::Registry;
use crate::session::{capture_context, last_lines, record_session};
use crate::state::{
    Activity, ActivityDetail, ActivitySource, AgentState, AgentStatus, ApiErrorEpisode, HookRecord,
    StateStore, TeamState, TeamStatus, TurnRecord,
};
use crate::tmux::{PaneInfo, Server, Snapshot};
use crate::workspace::Workspace;

/// The team's own MCP tools: approving a worker's call to one of them is always safe.
const TEAM_TOOLS: [&str; 4] = [
    "send_message",
    "report_result",
    "get_team_status",
    "request_human",
];

/// How long a prompt's screen must hold still before the coordinator answers it.
const SETTLE: Duration = Duration::from_millis(200);

/// How long a screen the coordinator answered may stay the same before it is answered again.
const ANSWER_AGAIN_AFTER: Duration = Duration::from_secs(3);

/// The tick interval while messages wait for delivery.
pub const BUSY_INTERVAL: Duration = Duration::from_millis(200);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// How long a busy worker may print nothing while it has work before the leader is told.
const DEFAULT_STUCK_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a worker may be in one tool whose process runs before the leader is told.
const DEFAULT_LONG_TOOL_NOTICE: Duration = Duration::from_secs(20 * 60);
/// How long after a spawn the coordinator keeps answering startup dialogs.
const STARTUP_WINDOW: Duration = Duration::from_secs(120);

pub enum Outcome {
    /// Go on; `busy` asks for the short interval (work is waiting).
    Continue { busy: bool },
    /// Exit the loop, for this reason.
    Stop(&'static str),
}

/// What the coordinator last saw of a pane, to capture only panes whose content can have changed.
#[derive(Debug, Clone, Default)]
struct Seen {
    activity: u64,
    history: u64,
    hash: u64,
    /// The screen's fingerprint for progress ([`activity::progress_hash`]).
    progress: u64,
}

/// What a tick learned about one agent; applied to the state under its lock.
#[derive(Debug, Default)]
struct Observation {
    pane_id: String,
    status: Option<AgentStatus>,
    /// What the screen shows, when it was read.
    screen: Option<(Activity, ActivityDetail)>,
    /// What the CLI's hooks said since the last tick, oldest first (time, kind, meaning).
    hooks: Vec<(String, HookEvent)>,
    /// The screen changed other than by a spinner or a timer.
    progressed: bool,
    /// Its sources' disagreement begins, goes on unreported or ends: the activity is decided
    /// again even when nothing else changed.
    recheck: bool,
    blocked_reason: Option<Option<String>>,
    exit_code: Option<i32>,
    last_lines: Option<Vec<String>>,
    output_changed: Option<u64>,
    session: Option<team_agent_plugin_api::SessionRecord>,
    turn: Option<TurnSummary>,
    api_error: Option<ApiErrorEpisode>,
    /// When the pane was first seen dead without its exit code.
    dead_seen: Option<String>,
    /// The approval prompt the leader has now been asked about.
    approval_notified: Option<String>,
}

pub struct Runner<'a> {
    workspace: Workspace,
    registry: &'a Registry,
    events: EventLog,
    store: StateStore,
    interval: Option<Duration>,
    last_socket: Option<PathBuf>,
    seen: HashMap<String, Seen>,
    urgent: bool,
    stuck_timeout: Duration,
    /// How long after a spawn startup dialogs are answered.
    startup_window: Duration,
    leader_api_error: Option<String>,
    /// The message store, open across ticks (reopened after a tick that failed with it).
    db: Option<crate::store::Store>,
    turns: TurnReader,
    /// The screen last answered for each agent (a dialog or an approval), by hash.
    answered: std::cell::RefCell<HashMap<String, (u64, Instant)>>,
    /// What the workers' transcripts held when their submitted messages were last looked for.
    receipts: messaging::Receipts,
    /// The operator's notifications (the team's `notify` sink, followed at every tick).
    notifier: Notifier,
    /// The team's name, for the notices of this tick.
    team_name: String,
    /// The reason each blocked worker was last told to the operator for.
    blocked_told: std::cell::RefCell<HashMap<String, String>>,
}

impl<'a> Runner<'a> {
    pub fn new(workspace: Workspace, registry: &'a Registry, events: EventLog) -> Self {
        let store = StateStore::new(&workspace);
        Self {
            workspace,
            registry,
            events,
            store,
            interval: None,
            last_socket: None,
            seen: HashMap::new(),
            urgent: false,
            stuck_timeout: DEFAULT_STUCK_TIMEOUT,
            startup_window: STARTUP_WINDOW,
            leader_api_error: None,
            db: None,
            turns: Default::default(),
            receipts: Default::default(),
            answered: Default::default(),
            notifier: Notifier::new(Sink::Off),
            team_name: String::new(),
            blocked_told: Default::default(),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(DEFAULT_INTERVAL)
    }

    /// The team's tmux socket as last seen (for ending the server when the workspace is gone).
    pub fn last_socket(&self) -> Option<&PathBuf> {
        self.last_socket.as_ref()
    }

    /// Work that should not wait for the next tick.
    pub fn has_urgent_work(&self) -> bool {
        self.urgent
    }

    /// One tick.
    pub fn tick(&mut self) -> Result<Outcome, String> {
        let tick_started = Instant::now();
        if !self.workspace.team_dir().is_dir() {
            return Ok(Outcome::Stop("workspace_deleted"));
        }
        // 1. Session gate.
        let state = self.store.load().map_err(|e| e.to_string())?;
        let Some(team) = state.team else {
            return Ok(Outcome::Stop("no_team"));
        };
        if team.status != TeamStatus::Running {
            return Ok(Outcome::Stop("team_stopped"));
        }
        self.last_socket = Some(team.tmux_socket.clone());
        self.notifier.set_sink(Sink::of(team.notify.as_ref()));
        self.team_name.clone_from(&team.name);
        if self.interval.is_none() {
            let interval = self.interval_of(&team);
            self.interval = Some(interval);
        }
        if self.lacks_a_provider(&team) {
            return Ok(Outcome::Stop("providers_changed"));
        }
        let server = Server::at(&team.tmux_socket);
        // 2. One pane snapshot.
        let snapshot = server.snapshot().map_err(|e| e.to_string())?;
        if !snapshot.has_session(&team.session_name) {
            self.events.emit(
                "coordinator.session_missing",
                json!({"session_name": team.session_name}),
            );
            return Ok(Outcome::Stop("tmux_session_missing"));
        }
        let workspace = self.workspace.clone();
        let db = self.store_for_tick()?;
        let messenger = Messenger::with_store(&workspace, self.registry, db);
        // 3–5. Sessions, startup and runtime prompts, health and activity.
        let observations = self.observe_agents(&team, &server, &snapshot, &messenger);
        self.hook_receipts(&messenger, &team.name, &observations);
        let mut current = team.clone();
        for (id, o) in &observations {
            if let Some(agent) = current.agents.get_mut(id) {
                o.preview(agent);
            }
        }
        // 6. Deliver queued messages.
        let still_pending = match messaging::deliver_pending(&messenger, &current) {
            Ok(pending) => pending,
            Err(e) => {
                self.events.emit(
                    "coordinator.tick.deliver_failed",
                    json!({"error": e.to_string()}),
                );
                false
            }
        };
        self.receipts_and_bounces(&messenger, &current);
        // 7. Fire scheduled events.
        self.fire_scheduled(&messenger, &current);
        // Save what the tick learned.
        self.save(observations)?;
        // 8. Stuck and idle detection, leader reminders (on the state as saved).
        if let Ok(Some(saved)) = self.store.load().map(|s| s.team) {
            let detectors = Detectors {
                messenger: &messenger,
                registry: self.registry,
                events: &self.events,
                store: &self.store,
                stuck_timeout: self.stuck_timeout,
                long_tool_notice: current
                    .timing
                    .long_tool_notice_sec
                    .filter(|s| *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .unwrap_or(DEFAULT_LONG_TOOL_NOTICE),
                notifier: &self.notifier,
            };
            detectors::run(&detectors, &saved);
            detectors::leader_api_errors(&detectors, &saved, &mut self.leader_api_error);
        }
        // 9. Collect results and notify the leader, exactly once each.
        if let Err(e) = messaging::notify_pending_results(&messenger, &current) {
            self.events.emit(
                "coordinator.tick.notify_failed",
                json!({"error": e.to_string()}),
            );
        }
        self.db = Some(messenger.into_store());
        self.urgent = false;
        let busy = still_pending || tick_started.elapsed() > self.interval();
        Ok(Outcome::Continue { busy })
    }

    /// What the workers' CLIs said they took, by their own hooks.
    fn hook_receipts(
        &self,
        messenger: &Messenger<'_>,
        team: &str,
        observations: &[(String, Observation)],
    ) {
        for (id, o) in observations {
            if let Err(e) = messaging::note_prompts(messenger, team, id, &o.prompts()) {
                self.events.emit(
                    "coordinator.tick.receipts_failed",
                    json!({"agent_id": id, "error": e.to_string()}),
                );
            }
        }
    }

    /// Receipts from the transcripts (what the workers' CLIs took since the last tick), then the
    /// messages they did not take: typed again once, then given back to their senders.
    fn receipts_and_bounces(&mut self, messenger: &Messenger<'_>, team: &TeamState) {
        if let Err(e) = self.receipts.note(messenger, team) {
            self.events.emit(
                "coordinator.tick.receipts_failed",
                json!({"error": e.to_string()}),
            );
        }
        let consume_timeout = team
            .timing
            .consume_timeout_sec
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(messaging::DEFAULT_CONSUME_TIMEOUT);
        if let Err(e) = messaging::bounce_untaken(messenger, team, consume_timeout) {
            self.events.emit(
                "coordinator.tick.bounce_failed",
                json!({"error": e.to_string()}),
            );
        }
    }

    /// A worker whose provider this process did not load (added since it started): the daemon
    /// starts again with it (it re-executes itself).
    fn lacks_a_provider(&self, team: &TeamState) -> bool {
        let missing = |name: &str| self.registry.provider(name).is_err();
        self.registry.partial
            && (team.agents.values().any(|a| missing(&a.provider))
                || team
                    .leader
                    .as_ref()
                    .and_then(|l| l.provider.as_deref())
                    .is_some_and(missing))
    }

    /// The store the last tick used, or a newly opened one when there was none or the file was
    /// replaced meanwhile (moved aside, restored).
    fn store_for_tick(&mut self) -> Result<crate::store::Store, String> {
        match self.db.take() {
            Some(db) if !db.replaced() => Ok(db),
            Some(_) => {
                self.events.emit(
                    "coordinator.store_reopened",
                    json!({"path": self.workspace.database()}),
                );
                crate::store::Store::open(&self.workspace).map_err(|e| e.to_string())
            }
            None => crate::store::Store::open(&self.workspace).map_err(|e| e.to_string()),
        }
    }

    /// The tick interval and the stuck timeout, as `up`/`restart` recorded them (once).
    fn interval_of(&mut self, team: &TeamState) -> Duration {
        if let Some(stuck) = team.timing.stuck_timeout_sec.filter(|s| *s > 0.0) {
            self.stuck_timeout = Duration::from_secs_f64(stuck);
        }
        if let Some(window) = team.timing.startup_answer_window_sec.filter(|s| *s > 0.0) {
            self.startup_window = Duration::from_secs_f64(window);
        }
        team.timing
            .tick_interval_sec
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_INTERVAL)
    }

    /// Fires the scheduled events that are due.
    fn fire_scheduled(&self, messenger: &Messenger<'_>, team: &TeamState) {
        let Ok(due) = messenger.store.due_events(&team.name, &now_rfc3339()) else {
            return;
        };
        for (id, kind, payload, _) in due {
            self.events.emit(
                "scheduled.fired",
                json!({"id": id, "kind": kind, "payload": payload}),
            );
            let _ = messenger.store.finish_event(id, None);
        }
    }

    fn observe_agents(
        &mut self,
        team: &TeamState,
        server: &Server,
        snapshot: &Snapshot,
        messenger: &Messenger<'_>,
    ) -> Vec<(String, Observation)> {
        let mut owned: Vec<String> = team
            .agents
            .values()
            .filter_map(|a| a.session_id().map(str::to_string))
            .collect();
        let mut found = Vec::new();
        for agent in team.agents.values() {
            if matches!(agent.status, AgentStatus::Stopped) || agent.paused {
                continue;
            }
            let Some(pane_id) = agent.pane_id.clone() else {
                continue;
            };
            let hooks = self.hooks_of(agent);
            let mut observation = match snapshot.pane(&pane_id) {
                None => self.gone(agent, pane_id),
                Some(pane) if pane.dead => self.dead(agent, pane, server, messenger),
                Some(pane) => self.alive(&team.name, agent, pane, server, &owned, messenger),
            };
            observation.hooks = hooks;
            let disagreement = activity::disagreement(agent, &now_rfc3339());
            observation.recheck = disagreement != agent.disagreement
                || agent.disagreement.as_ref().is_some_and(|d| !d.reported);
            // A session one worker captured in this tick is owned for the next ones (two
            // Codex workers started together both took the first rollout otherwise).
            if let Some(record) = &observation.session {
                owned.push(record.session_id.clone());
            }
            found.push((agent.id.clone(), observation));
        }
        found
    }

    /// What the worker's hooks said since the last tick, as its provider reads them (the inbox
    /// is emptied; an event the provider cannot read is said once per tick as an event).
    fn hooks_of(&self, agent: &AgentState) -> Vec<(String, HookEvent)> {
        let raws = match crate::hooks::take(&self.workspace, &agent.id) {
            Ok(raws) if raws.is_empty() => return Vec::new(),
            Ok(raws) => raws,
            Err(e) => {
                self.events.emit(
                    "coordinator.hooks_unreadable",
                    json!({"agent_id": agent.id, "error": e.to_string()}),
                );
                return Vec::new();
            }
        };
        let Ok(provider) = self.registry.provider(&agent.provider) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut unreadable = None;
        for raw in raws {
            let payload = HookPayload {
                event: raw.event.clone(),
                payload: raw.payload,
                session_id: agent.session_id().map(str::to_string),
            };
            match provider.hook_event(&payload) {
                Ok(HookEvent::Ignored) => {}
                Ok(event) => events.push((raw.at, event)),
                Err(e) => unreadable = Some((raw.event, e.to_string())),
            }
        }
        if let Some((event, error)) = unreadable {
            self.events.emit(
                "agent.hook_unreadable",
                json!({"agent_id": agent.id, "hook_event": event, "error": error}),
            );
        }
        events
    }

    fn gone(&self, agent: &AgentState, pane_id: String) -> Observation {
        if agent.status != AgentStatus::Missing {
            self.events.emit(
                "agent.missing",
                json!({"agent_id": agent.id, "pane_id": pane_id}),
            );
        }
        Observation {
            pane_id,
            status: Some(AgentStatus::Missing),
            ..Default::default()
        }
    }

    fn dead(
        &self,
        agent: &AgentState,
        pane: &PaneInfo,
        server: &Server,
        messenger: &Messenger<'_>,
    ) -> Observation {
        // tmux can see the pane close a moment before it has the exit code: wait one tick for it.
        if pane.exit_code().is_none()
            && agent.status != AgentStatus::Exited
            && agent.dead_seen.is_none()
        {
            let mut wait = Observation {
                pane_id: pane.pane_id.clone(),
                ..Default::default()
            };
            wait.dead_seen = Some(now_rfc3339());
            return wait;
        }
        let mut observation = Observation {
            pane_id: pane.pane_id.clone(),
            status: Some(AgentStatus::Exited),
            screen: Some((Activity::Exited, ActivityDetail::default())),
            ..Default::default()
        };
        if agent.status != AgentStatus::Exited {
            let screen = server.capture_tail(&pane.pane_id, 40).unwrap_or_default();
            let lines = last_lines(&screen, 15);
            self.events.emit(
                "worker.abnormal_exit",
                json!({"agent_id": agent.id, "exit_code": pane.exit_code(), "last_lines": lines}),
            );
            let notice = format!(
                "{} exited (code {}). Its last lines:\n{}\nResume it with `team-agent start-agent {}`.",
                agent.id,
                pane.exit_code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                lines
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
                agent.id
            );
            detectors::notify_leader(messenger, &self.events, &notice);
            observation.exit_code = pane.exit_code();
            observation.last_lines = Some(lines);
        }
        observation
    }

    fn alive(
        &mut self,
        team: &str,
        agent: &AgentState,
        pane: &PaneInfo,
        server: &Server,
        owned: &[String],
        messenger: &Messenger<'_>,
    ) -> Observation {
        let mut observation = Observation {
            pane_id: pane.pane_id.clone(),
            ..Default::default()
        };
        let Ok(provider) = self.registry.provider(&agent.provider) else {
            return observation;
        };
        if agent.status == AgentStatus::Missing || agent.status == AgentStatus::Exited {
            observation.status = Some(AgentStatus::Running);
        }
        // Capture a missing session id (the provider may write its transcript only now).
        if agent.session.is_none() {
            // Sessions other workers own, so the provider never attributes one of theirs.
            let owned_by_others: Vec<String> = owned
                .iter()
                .filter(|s| Some(s.as_str()) != agent.session_id())
                .cloned()
                .collect();
            if let Ok(Some(record)) =
                provider.capture_session_id(&capture_context(agent, owned_by_others))
                && messaging::session_holds_own_messages(messenger, team, agent, &record)
            {
                observation.session = Some(record);
            }
        }
        observation.turn = self.turns.changed(agent, &provider);
        let seen = self.seen.entry(agent.id.clone()).or_default();
        let now_secs = chrono::Utc::now().timestamp() as u64;
        let starting = matches!(agent.status, AgentStatus::Starting | AgentStatus::Blocked);
        let may_have_changed = seen.activity != pane.activity
            || seen.history != pane.history_size
            || pane.activity + 3 >= now_secs;
        if !starting && !may_have_changed && agent.activity.is_some() {
            return observation;
        }
        let Ok(screen) = server.capture(&pane.pane_id) else {
            return observation;
        };
        seen.activity = pane.activity;
        seen.history = pane.history_size;
        let hash = fnv(&screen);
        if hash != seen.hash {
            seen.hash = hash;
            observation.output_changed = Some(hash);
            let progress = activity::progress_hash(&screen);
            observation.progressed = progress != seen.progress;
            seen.progress = progress;
        }
        if starting {
            // Past the startup window a dialog is no longer answered, but a worker a person
            // got past its dialog or login (after any time) is seen ready.
            let answer = within(agent, self.startup_window);
            self.answer_startup(
                &provider,
                agent,
                (&pane.pane_id, &screen, answer),
                server,
                &mut observation,
            );
            return observation;
        }
        self.classify(
            &provider,
            agent,
            &pane.pane_id,
            &screen,
            server,
            messenger,
            &mut observation,
        );
        observation
    }

    /// Whether to answer what `seen` names for `agent` (a screen, or a prompt): not when it is
    /// what was answered moments ago (a CLI may still show a dialog for a tick after it took the
    /// answer); again once it has stayed for [`ANSWER_AGAIN_AFTER`] (the key was lost).
    /// Remembers it.
    fn first_answer_on(&self, agent: &AgentState, seen: &str) -> bool {
        let hash = fnv(seen);
        let mut answered = self.answered.borrow_mut();
        if let Some((last, at)) = answered.get(&agent.id)
            && *last == hash
            && at.elapsed() < ANSWER_AGAIN_AFTER
        {
            return false;
        }
        answered.insert(agent.id.clone(), (hash, Instant::now()));
        true
    }

    /// A starting worker's screen (its pane, the screen, whether dialogs are still answered):
    /// its startup dialog answered (or its block recorded), or it is ready.
    fn answer_startup(
        &self,
        provider: &ProviderClient<'_>,
        agent: &AgentState,
        (pane_id, screen, answer): (&str, &str, bool),
        server: &Server,
        observation: &mut Observation,
    ) {
        match provider
            .handle_startup_prompts(screen)
            .map(|v| (v.value, v.rule))
        {
            Ok((StartupDecision::Ready, _)) => {
                self.blocked_told.borrow_mut().remove(&agent.id);
                observation.status = Some(AgentStatus::Running);
                observation.blocked_reason = Some(None);
            }
            Ok((StartupDecision::Answer { prompt, keys }, rule)) => {
                if !answer || !self.first_answer_on(agent, screen) {
                    return;
                }
                self.events.emit("agent.startup_prompt_answered", json!({"agent_id": agent.id, "prompt": prompt, "keys": keys, "rule": rule, "by": "coordinator"}));
                let _ = server.send_keys(pane_id, crate::tmux::first_step(&keys));
            }
            Ok((StartupDecision::Blocked { reason }, _)) => {
                if agent.blocked_reason.as_deref() != Some(reason.as_str()) {
                    self.events.emit(
                        "agent.blocked",
                        json!({"agent_id": agent.id, "reason": reason}),
                    );
                }
                self.tell_blocked(&agent.id, &reason);
                observation.status = Some(AgentStatus::Blocked);
                observation.blocked_reason = Some(Some(reason));
            }
            Ok((StartupDecision::Waiting, _)) | Err(_) => {}
        }
    }

    /// A running worker's screen as its provider judges it: its activity, an approval answered
    /// or passed to the leader, an API error episode.
    #[allow(clippy::too_many_arguments)]
    fn classify(
        &self,
        provider: &ProviderClient<'_>,
        agent: &AgentState,
        pane_id: &str,
        screen: &str,
        server: &Server,
        messenger: &Messenger<'_>,
        observation: &mut Observation,
    ) {
        if let Ok(verdict) = provider.classify_screen(screen) {
            let mut detail = ActivityDetail::default();
            let activity = match verdict.value {
                ScreenState::Idle => Activity::Idle,
                ScreenState::Busy => Activity::Working,
                ScreenState::AwaitingApproval { prompt } => {
                    detail.prompt = Some(prompt.clone());
                    self.answer_approval(
                        provider,
                        agent,
                        pane_id,
                        screen,
                        &prompt,
                        server,
                        messenger,
                        observation,
                    );
                    Activity::AwaitingApproval
                }
                ScreenState::ApiError {
                    class,
                    ended,
                    reset,
                } => {
                    let class = serde_json::to_value(class)
                        .ok()
                        .and_then(|c| c.as_str().map(str::to_string))
                        .unwrap_or_else(|| "other".into());
                    detail.class = Some(class.clone());
                    detail.reset = reset.clone();
                    let known = agent.api_error.as_ref();
                    if known.is_none_or(|e| e.class != class || e.ended != ended) {
                        self.events.emit(
                        "agent.api_error",
                        json!({"agent_id": agent.id, "class": class, "ended": ended, "reset": reset, "rule": verdict.rule}),
                    );
                    }
                    observation.api_error = Some(ApiErrorEpisode {
                        class,
                        ended,
                        since: now_rfc3339(),
                        reset,
                    });
                    Activity::ApiError
                }
                ScreenState::TrustPrompt | ScreenState::Exited | ScreenState::Unknown => {
                    Activity::Unknown
                }
            };
            if agent.screen_activity != Some(activity) {
                self.events.emit(
                    "agent.screen",
                    json!({"agent_id": agent.id, "activity": activity, "rule": verdict.rule}),
                );
            }
            observation.screen = Some((activity, detail));
        }
    }

    /// Answers a runtime approval prompt when the policy allows it (calls of the team's own MCP
    /// tools, the worker's `auto_approve` commands); otherwise tells the leader, once per prompt.
    #[allow(clippy::too_many_arguments)]
    fn answer_approval(
        &self,
        provider: &ProviderClient<'_>,
        agent: &AgentState,
        pane_id: &str,
        screen: &str,
        prompt: &str,
        server: &Server,
        messenger: &Messenger<'_>,
        observation: &mut Observation,
    ) {
        let policy = ApprovalPolicy::AllowTools {
            server: crate::session::MCP_SERVER_NAME.into(),
            tools: TEAM_TOOLS.iter().map(|t| t.to_string()).collect(),
            commands: agent.auto_approve.clone(),
        };
        let request = ApprovalRequest {
            screen: screen.to_string(),
            policy,
        };
        match provider.approval_keys(&request).map(|v| (v.value, v.rule)) {
            Ok((ApprovalDecision::Answer { keys, choice }, rule)) => {
                // A prompt just answered may stay on screen a tick or two (its frame still
                // changing) while the CLI takes the key: the same prompt is not answered again at
                // once. A menu's answer goes a key at a time, so only its last key counts.
                if keys.len() == 1 && !self.first_answer_on(agent, &format!("approval: {prompt}")) {
                    return;
                }
                // A prompt still being drawn may not listen yet (Claude Code dropped an Enter
                // pressed on a fresh one): answer a screen that held still.
                std::thread::sleep(SETTLE);
                if server.capture(pane_id).is_ok_and(|now| now != screen) {
                    self.answered.borrow_mut().remove(&agent.id);
                    return;
                }
                // A menu is answered a key at a time; the last key is the answer.
                if keys.len() == 1 {
                    self.events.emit("approval.auto_answered", json!({"agent_id": agent.id, "prompt": prompt, "choice": choice, "keys": keys, "rule": rule}));
                }
                let _ = server.send_keys(pane_id, crate::tmux::first_step(&keys));
            }
            Ok((ApprovalDecision::Defer { reason }, _)) => {
                if agent.approval_notified.as_deref() == Some(prompt) {
                    return;
                }
                self.events.emit(
                    "approval.needs_leader",
                    json!({"agent_id": agent.id, "prompt": prompt, "reason": reason}),
                );
                let notice = format!(
                    "{} is waiting for an approval: \"{prompt}\" ({reason}). Answer it with `team-agent answer {} yes` \
(or no, always), or look first with `team-agent peek {}`.",
                    agent.id, agent.id, agent.id
                );
                detectors::notify_leader(messenger, &self.events, &notice);
                self.tell_operator(
                    Kind::Approval,
                    &agent.id,
                    format!("{} is waiting for an approval", agent.id),
                    format!("\"{prompt}\" ({reason}). Answer it with `team-agent answer {} yes` (or no, always).", agent.id),
                    json!({"prompt": prompt, "reason": reason}),
                );
                observation.approval_notified = Some(prompt.to_string());
            }
            Err(e) => self.events.emit(
                "approval.plugin_failed",
                json!({"agent_id": agent.id, "error": e.to_string()}),
            ),
        }
    }

    /// A worker blocked at a screen only a person gets past (seen by `up` or by a tick): the
    /// operator hears of it once per reason while this coordinator runs.
    fn tell_blocked(&self, agent: &str, reason: &str) {
        if self
            .blocked_told
            .borrow()
            .get(agent)
            .is_some_and(|r| r == reason)
        {
            return;
        }
        self.blocked_told
            .borrow_mut()
            .insert(agent.to_string(), reason.to_string());
        self.tell_operator(
            Kind::Blocked,
            agent,
            format!("{agent} is blocked: {reason}"),
            format!("Only a person gets it past this screen: `team-agent attach {agent}`."),
            json!({"reason": reason}),
        );
    }

    /// A notice to the operator about one worker of this tick's team.
    fn tell_operator(
        &self,
        kind: Kind,
        agent: &str,
        summary: String,
        body: String,
        detail: serde_json::Value,
    ) {
        let notice = Notice {
            kind,
            team: self.team_name.clone(),
            agent: Some(agent.to_string()),
            summary,
            body,
            detail,
        };
        detectors::tell_operator(&self.notifier, &self.events, notice);
    }

    /// Applies the tick's observations under the state lock, to agents whose pane is still the
    /// one observed (a command may have replaced the window meanwhile).
    fn save(&self, observations: Vec<(String, Observation)>) -> Result<(), String> {
        if observations.iter().all(|(_, o)| o.is_empty()) {
            return Ok(());
        }
        self.store
            .update(|state| {
                let Some(team) = state.team.as_mut() else {
                    return Ok(());
                };
                for (id, o) in observations {
                    let Some(agent) = team.agents.get_mut(&id) else {
                        continue;
                    };
                    if agent.pane_id.as_deref() != Some(o.pane_id.as_str())
                        || agent.status == AgentStatus::Stopped
                    {
                        continue;
                    }
                    o.apply(agent, &self.events);
                }
                Ok::<_, crate::state::StateError>(())
            })
            .map_err(|e| e.to_string())
    }
}

impl Observation {
    /// What the agent looks like with this observation, for the rest of the tick.
    fn preview(&self, agent: &mut AgentState) {
        if let Some(status) = self.status {
            agent.status = status;
        }
        self.absorb(agent);
        if let Some(decided) = activity::decide(agent, &self.screen_detail(agent)) {
            agent.activity = Some(decided.activity);
        }
    }

    fn is_empty(&self) -> bool {
        !self.recheck
            && self.status.is_none()
            && self.screen.is_none()
            && self.hooks.is_empty()
            && self.blocked_reason.is_none()
            && self.session.is_none()
            && self.turn.is_none()
            && self.output_changed.is_none()
            && self.last_lines.is_none()
            && self.dead_seen.is_none()
            && self.approval_notified.is_none()
    }

    /// The prompts the CLI's hooks said it took.
    fn prompts(&self) -> Vec<&str> {
        let mut prompts = Vec::new();
        for (_, event) in &self.hooks {
            match event {
                HookEvent::PromptSubmitted { prompt } => prompts.push(prompt.as_str()),
                HookEvent::TurnEnded { prompts: taken, .. } => {
                    prompts.extend(taken.iter().map(String::as_str));
                }
                _ => {}
            }
        }
        prompts
    }

    /// Takes what the hooks and the screen said into the agent's record of its sources.
    fn absorb(&self, agent: &mut AgentState) {
        for (at, event) in &self.hooks {
            if let Some((activity, mut detail)) = activity::from_hook(event) {
                if activity == Activity::InTool {
                    detail.since = Some(at.clone());
                }
                let resumes = (activity == Activity::AwaitingApproval)
                    .then(|| {
                        agent
                            .hook
                            .as_ref()
                            .filter(|h| matches!(h.activity, Activity::InTool | Activity::Working))
                            .map(|h| (h.activity, h.detail.clone()))
                    })
                    .flatten();
                agent.hook = Some(HookRecord {
                    activity,
                    detail,
                    at: at.clone(),
                    event: event.kind().into(),
                    resumes,
                });
            }
        }
        if let Some((activity, _)) = &self.screen {
            if agent.screen_activity != Some(*activity) || agent.screen_since.is_none() {
                agent.screen_since = Some(now_rfc3339());
            }
            agent.screen_activity = Some(*activity);
        }
    }

    /// The screen's detail: this tick's, else the one kept while the screen decided.
    fn screen_detail(&self, agent: &AgentState) -> ActivityDetail {
        match &self.screen {
            Some((_, detail)) => detail.clone(),
            None if agent.activity_source.as_deref() == Some(ActivitySource::Screen.as_str()) => {
                agent.activity_detail.clone()
            }
            None => ActivityDetail::default(),
        }
    }

    fn apply(self, agent: &mut AgentState, events: &EventLog) {
        let now = now_rfc3339();
        let detail = self.screen_detail(agent);
        if let Some(status) = self.status {
            agent.status = status;
            if status != AgentStatus::Exited {
                agent.dead_seen = None;
            }
        }
        for (at, event) in &self.hooks {
            let tool = match event {
                HookEvent::ToolStarted { tool } | HookEvent::ToolFinished { tool } => Some(tool),
                _ => None,
            };
            events.emit(
                "agent.hook",
                json!({"agent_id": agent.id, "kind": event.kind(), "tool": tool, "at": at}),
            );
            agent.last_progress_at = Some(at.clone());
        }
        if self.progressed || self.turn.is_some() {
            agent.last_progress_at = Some(now.clone());
        }
        self.absorb(agent);
        if let Some(reason) = self.blocked_reason {
            agent.blocked_reason = reason;
        }
        if self.exit_code.is_some() {
            agent.exit_code = self.exit_code;
        }
        if let Some(lines) = self.last_lines {
            agent.last_lines = lines;
        }
        if let Some(hash) = self.output_changed {
            agent.last_output_hash = Some(hash);
            agent.last_output_at = Some(now.clone());
        }
        if let Some(error) = self.api_error {
            // The episode keeps its start while its class and kind stay the same.
            let same =
                |known: &ApiErrorEpisode| known.class == error.class && known.ended == error.ended;
            if !agent.api_error.as_ref().is_some_and(same) {
                agent.api_error = Some(error);
            }
        }
        if let Some(at) = self.dead_seen {
            agent.dead_seen = Some(at);
        }
        if let Some(prompt) = self.approval_notified {
            agent.approval_notified = Some(prompt);
        }
        if let Some(summary) = self.turn {
            let since = match &agent.turn {
                Some(known) if known.state == summary.state => known.since.clone(),
                _ => {
                    events.emit(
                        "agent.turn",
                        json!({"agent_id": agent.id, "state": summary.state, "rule": summary.rule}),
                    );
                    now.clone()
                }
            };
            agent.turn = Some(TurnRecord {
                state: summary.state,
                rule: summary.rule,
                since,
                last_ended: summary.last_ended,
            });
        }
        if let Some(record) = self.session
            && agent.session.is_none()
        {
            record_session(agent, record, events);
        }
        settle_activity(agent, &detail, &now, events);
    }
}

/// The agent's activity from its sources as its record now holds them; a change, and a
/// disagreement of its sources that lasted, are events.
fn settle_activity(
    agent: &mut AgentState,
    screen_detail: &ActivityDetail,
    now: &str,
    events: &EventLog,
) {
    let mut disagreement = activity::disagreement(agent, now);
    if let Some(d) = disagreement.as_mut()
        && !d.reported
        && activity::lasted(d)
    {
        events.emit(
            "agent.activity_disagreement",
            json!({"agent_id": agent.id, "hook": d.hook, "other": d.other, "other_source": d.other_source, "since": d.since}),
        );
        d.reported = true;
    }
    agent.disagreement = disagreement;
    let Some(decided) = activity::decide(agent, screen_detail) else {
        return;
    };
    let source = decided.source.as_str();
    if agent.activity != Some(decided.activity) || agent.activity_source.as_deref() != Some(source)
    {
        events.emit(
            "agent.activity",
            json!({"agent_id": agent.id, "activity": decided.activity, "source": source, "detail": decided.detail}),
        );
    }
    if agent.activity != Some(decided.activity) || agent.activity_since.is_none() {
        agent.activity_since = Some(now.to_string());
    }
    agent.activity = Some(decided.activity);
    agent.activity_source = Some(source.to_string());
    agent.activity_detail = decided.detail;
    if decided.activity != Activity::ApiError {
        agent.api_error = None;
    }
}

/// Whether `agent` was spawned less than `window` ago.
fn within(agent: &AgentState, window: Duration) -> bool {
    agent
        .spawned_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .map_or(true, |age| age < window)
        })
}

fn fnv(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
