/*! The real CLIs as workers (issue 11): `up` of a team of one Codex and one Claude Code until both
are ready; `send` → the message visible in each CLI's pane; the model's last event → `status`
says `idle`; a reported result → the leader notified. The CLIs do real turns against the
scripted model (`team-agent-fake-model`) on 127.0.0.1, never the network: the harness's thread
moves into a loopback-only network namespace first (when root; every child started from then on
lives in it), every proxy variable points at the scripted model, which refuses and records what
tries to leave, and the CLIs' own switches for non-essential traffic are set, as in the host's
real-CLI tests. Without the CLIs (`scripts/install-real-clis.sh`) nothing is measured and the
report says so. */

mod finished;
mod screen;
mod setup;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde_json::Value;
use team_agent_fake_model::FakeModel;
use team_agent_fake_model::isolation::{Isolation, isolate_network};

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Run, Sandbox, TEAM, TICK_INTERVAL_SEC, agent, timed};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};
use finished::Finished;
use screen::{ScreenReader, TokensSeen};
use setup::{Clis, LeaderPane, REPORT_WORD, SLOW_WORD, WORKERS, Worker, real_sandbox, scenario};

pub struct Plan {
    /// `up` runs, each in a fresh sandbox (the turns are measured in the first).
    pub ups: usize,
    /// Messages per CLI for send → visible (after one unrecorded message).
    pub sends: usize,
    /// Slow plain-text turns per CLI for last event → idle.
    pub idles: usize,
    /// Reported results per CLI for result → leader notified.
    pub reports: usize,
}

/// How often the pane is read while a message is on its way.
pub const SCREEN_POLL: Duration = Duration::from_millis(1);
/// How often `status --json` is asked once the model has finished (each call also takes a few ms).
pub const STATUS_POLL: Duration = Duration::from_millis(15);
/// How often the leader's file is read while a result is on its way.
pub const LEADER_POLL: Duration = Duration::from_millis(1);
/// The pace of the slow turns' events: the turn outlasts a coordinator tick, so `status` has seen
/// it busy before it can see it idle again.
pub const SLOW_EVENT_MS: u64 = 400;
/// Codex's TUI fetches `announcement_tip.toml` from GitHub at every start and no switch of 0.169.0
/// stops it: the one egress attempt expected (refused by the trap, with no route in the namespace).
const CODEX_ANNOUNCEMENT: &str = "raw.githubusercontent.com:443";
/// How long one turn of the scripted model may take before the harness gives up.
const TURN_TIMEOUT: Duration = Duration::from_secs(90);

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let dir = Clis::dir();
    let Some(clis) = dir.as_deref().and_then(Clis::locate) else {
        let place = dir
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "the cache (no HOME)".into());
        report.note(format!(
            "the real-CLI figures were not measured: the Codex and Claude Code CLIs are not \
             installed in {place}; install them with `scripts/install-real-clis.sh` (npm), or \
             point TEAM_AGENT_REAL_CLI_DIR at an npm prefix holding them"
        ));
        return Ok(());
    };
    if isolate_network() == Isolation::ProxyTrapOnly {
        report.note(
            "not root: the real CLIs ran without a loopback-only network namespace; only the \
             proxy trap and the CLIs' own switches kept them off the network",
        );
    }
    let model = FakeModel::start(scenario()?).context("the scripted model does not start")?;
    let mut finished = Finished::start(&model);
    let mut up = Samples::new();
    let mut turns = None;
    for run in 0..plan.ups {
        let sandbox = real_sandbox(binaries, &clis, &model)?;
        up.push_ms(up_until_ready(&sandbox)?);
        if run == 0 {
            let mut team = Team::attach(binaries, sandbox)?;
            turns = Some(team.measure(plan, &mut finished, report)?);
            team.sandbox.run_ok(&["shutdown", "--json"])?;
        } else {
            sandbox.run_ok(&["shutdown", "--json"])?;
        }
    }
    let section = clis.section();
    report.add(
        Figure::new("up → both ready, 1 Codex + 1 Claude", Unit::Ms, up, "runs")
            .in_section(&section),
    );
    for (worker, turns) in WORKERS.iter().zip(turns.unwrap_or_default()) {
        let cli = worker.cli;
        // Issue 14: the hooks a worker's CLI runs tell the coordinator of a turn's end at once.
        let hooked_idle = Target::at_most(
            Stat::Median,
            300.0,
            "≤ 300 ms",
            "before hooks: Codex 72 ms, Claude 1126 ms (screen)",
        );
        for (name, samples, counts, target) in [
            (
                format!("send → visible, real {cli} pane"),
                turns.visible,
                "messages",
                None,
            ),
            (
                format!(
                    "model's last event → status idle, {cli} (status polled every {} ms)",
                    STATUS_POLL.as_millis()
                ),
                turns.idle,
                "turns",
                Some(hooked_idle),
            ),
            (
                format!(
                    "result reported → leader notified, {cli} (stored time → text in the leader's pane)"
                ),
                turns.notified,
                "results",
                None,
            ),
        ] {
            let mut figure = Figure::new(name, Unit::Ms, samples, counts).in_section(&section);
            figure.target = target;
            report.add(figure);
        }
    }
    let egress: Vec<String> = model
        .egress()
        .into_iter()
        .filter(|e| e.target != CODEX_ANNOUNCEMENT)
        .map(|e| format!("{} {}", e.method, e.target))
        .collect();
    if !egress.is_empty() {
        report.note(format!(
            "the real CLIs tried to reach the network (refused by the proxy trap): {}",
            egress.join(", ")
        ));
    }
    Ok(())
}

/// `up`'s wall time; should it return before both workers run, until `status` says they do.
fn up_until_ready(sandbox: &Sandbox) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let run = sandbox.run_ok(&["up", TEAM, "--json"])?;
    let mut answer = run
        .json()
        .context("`team-agent up --json` did not print JSON")?;
    let all_running = |answer: &Value| {
        let agents = answer["agents"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        agents.len() == WORKERS.len() && agents.iter().all(|a| a["status"] == "running")
    };
    while !all_running(&answer) {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the real CLIs were not both running 120 s after `up`: {answer}");
        }
        std::thread::sleep(Duration::from_millis(5));
        answer = sandbox.status()?;
    }
    Ok(started.elapsed())
}

/// What one CLI's turns gave.
#[derive(Default)]
struct Turns {
    visible: Samples,
    idle: Samples,
    notified: Samples,
}

/// A running real team and the harness's reader of its panes.
struct Team {
    sandbox: Sandbox,
    screens: ScreenReader,
    /// Each worker's pane, by id.
    panes: BTreeMap<&'static str, String>,
    tmux: PathBuf,
}

impl Team {
    fn attach(binaries: &Binaries, sandbox: Sandbox) -> anyhow::Result<Self> {
        let status = sandbox.status()?;
        let socket = status["tmux_socket"]
            .as_str()
            .context("`status --json` names no tmux socket")?;
        let session = status["session_name"]
            .as_str()
            .context("`status --json` names no session")?;
        let screens = ScreenReader::attach(&binaries.tmux, Path::new(socket), session)?;
        let mut panes = BTreeMap::new();
        for worker in &WORKERS {
            let pane = agent(&status, worker.id)?["pane_id"]
                .as_str()
                .with_context(|| format!("`status --json` names no pane for {}", worker.id))?;
            panes.insert(worker.id, pane.to_string());
        }
        Ok(Self {
            sandbox,
            screens,
            panes,
            tmux: binaries.tmux.clone(),
        })
    }

    /// Every figure's turns, for each CLI in [`WORKERS`]' order; the leader pane is bound before
    /// the results.
    fn measure(
        &mut self,
        plan: &Plan,
        finished: &mut Finished,
        report: &mut Report,
    ) -> anyhow::Result<Vec<Turns>> {
        let mut all = Vec::new();
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for worker in &WORKERS {
            let mut turns = Turns::default();
            // Unrecorded: a CLI's first turn also names its session (a side request).
            self.visible(worker, "warm", finished, &mut statuses)?;
            for i in 0..plan.sends {
                let label = format!("{i:03}");
                if let Some(visible) = self.visible(worker, &label, finished, &mut statuses)? {
                    turns.visible.push_ms(visible);
                }
            }
            if turns.visible.len() < plan.sends {
                report.note(format!(
                    "{} of {} messages to the real {} never showed their token in its pane",
                    plan.sends - turns.visible.len(),
                    plan.sends,
                    worker.cli
                ));
            }
            for i in 0..plan.idles {
                if let Some(idle) = self.idle_after(worker, i, finished)? {
                    turns.idle.push_ms(idle);
                }
            }
            if turns.idle.len() < plan.idles {
                report.note(format!(
                    "{} of {} slow turns of the real {} were never seen leaving `idle` in \
                     `status`: left out",
                    plan.idles - turns.idle.len(),
                    plan.idles,
                    worker.cli
                ));
            }
            all.push(turns);
        }
        let leader = LeaderPane::start(&self.tmux, &self.sandbox)?;
        self.sandbox.run_ok(&[
            OsStr::new("attach-leader"),
            OsStr::new("--pane"),
            OsStr::new(&leader.pane),
            OsStr::new("--socket"),
            leader.socket.as_os_str(),
            OsStr::new("--json"),
        ])?;
        for (worker, turns) in WORKERS.iter().zip(&mut all) {
            for i in 0..plan.reports {
                if let Some(notified) = self.notified(worker, i, &leader, finished)? {
                    turns.notified.push(notified);
                }
            }
            if turns.notified.len() < plan.reports {
                report.note(format!(
                    "{} of {} results of the real {} never reached the leader's pane",
                    plan.reports - turns.notified.len(),
                    plan.reports,
                    worker.cli
                ));
            }
        }
        let other: Vec<String> = statuses
            .iter()
            .filter(|(status, _)| status.as_str() != "submitted")
            .map(|(status, n)| format!("{n} × `{status}`"))
            .collect();
        if !other.is_empty() {
            report.note(format!(
                "not every `send` to a real CLI returned `submitted`: {}",
                other.join(", ")
            ));
        }
        Ok(all)
    }

    /// One message to `worker`: from just before `send` until its token is on the pane (`None`
    /// if it never is). Waits for the turn it starts to end.
    fn visible(
        &mut self,
        worker: &Worker,
        label: &str,
        finished: &mut Finished,
        statuses: &mut BTreeMap<String, usize>,
    ) -> anyhow::Result<Option<Duration>> {
        self.wait_takes_input(worker)?;
        let marker = format!("bench-v-{}-{label}", worker.id);
        let text = format!("{marker}: answer OK.");
        let mut send = self
            .sandbox
            .command(&["send", worker.id, text.as_str(), "--json"]);
        let pane = self.panes[worker.id].clone();
        let mut seen = TokensSeen::default();
        let started = Instant::now();
        let sending = std::thread::spawn(move || timed(&mut send, None, TURN_TIMEOUT));
        while !sending.is_finished() {
            self.look(&pane, &mut seen)?;
        }
        let run = sending
            .join()
            .map_err(|_| anyhow::anyhow!("the sending thread panicked"))??;
        let id = sent(&run, statuses)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.of(&id).is_none() && Instant::now() < deadline {
            self.look(&pane, &mut seen)?;
        }
        self.turn_ended(worker, finished, |r| r.newest_user_text().contains(&marker))?;
        Ok(seen.of(&id).map(|at| at.saturating_duration_since(started)))
    }

    /// Reads `pane` once, noting the tokens on it, then rests [`SCREEN_POLL`].
    fn look(&mut self, pane: &str, seen: &mut TokensSeen) -> anyhow::Result<()> {
        let screen = self.screens.capture(pane)?;
        seen.note(&screen, Instant::now());
        std::thread::sleep(SCREEN_POLL);
        Ok(())
    }

    /// One slow plain-text turn: from the moment the model finished its stream until `status`
    /// says `idle`. `None` when `status` never showed the turn (it must have left `idle` first,
    /// or an `idle` could be the one from before the turn).
    fn idle_after(
        &mut self,
        worker: &Worker,
        i: usize,
        finished: &mut Finished,
    ) -> anyhow::Result<Option<Duration>> {
        self.wait_takes_input(worker)?;
        let marker = format!("bench-i-{}-{i:03}", worker.id);
        let text = format!("{SLOW_WORD} {marker}");
        self.sandbox
            .run_ok(&["send", worker.id, text.as_str(), "--json"])?;
        let started = Instant::now();
        let mut left_idle = false;
        let mut ended = None;
        loop {
            if ended.is_none() {
                ended = finished.take(|r| r.newest_user_text().contains(&marker));
            }
            let activity = self.activity(worker)?;
            let at = Instant::now();
            match (activity.as_str(), ended) {
                ("idle", Some(ended)) if left_idle => return Ok(Some(at - ended)),
                ("idle", Some(ended))
                    if at - ended > Duration::from_secs(TICK_INTERVAL_SEC * 3) =>
                {
                    return Ok(None);
                }
                ("idle", _) => {}
                _ => left_idle = true,
            }
            if started.elapsed() > TURN_TIMEOUT {
                bail!(
                    "the real {}'s slow turn did not end within {} s (activity `{activity}`):\n{}",
                    worker.cli,
                    TURN_TIMEOUT.as_secs(),
                    self.screen(worker)
                );
            }
            // Before the end only a change to busy is looked for.
            std::thread::sleep(if ended.is_some() {
                STATUS_POLL
            } else {
                Duration::from_millis(100)
            });
        }
    }

    /// One task reported through the team's MCP: from the result's stored time to the moment
    /// its notification is in the leader's file, in ms (`None` when it never arrives).
    fn notified(
        &mut self,
        worker: &Worker,
        i: usize,
        leader: &LeaderPane,
        finished: &mut Finished,
    ) -> anyhow::Result<Option<f64>> {
        self.wait_takes_input(worker)?;
        let task = format!("bench-r-{}-{i:03}", worker.id);
        let text = format!("{REPORT_WORD} for {task}");
        self.sandbox.run_ok(&[
            "send",
            worker.id,
            text.as_str(),
            "--task",
            task.as_str(),
            "--json",
        ])?;
        let told = format!("Task {task} reported success");
        let deadline = Instant::now() + TURN_TIMEOUT;
        let seen = loop {
            if std::fs::read_to_string(&leader.file).is_ok_and(|t| t.contains(&told)) {
                break Some(SystemTime::now());
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(LEADER_POLL);
        };
        self.turn_ended(worker, finished, |r| {
            r.rule_id() == Some("reported") && r.user_texts().iter().any(|t| t.contains(&task))
        })?;
        let Some(seen) = seen else {
            return Ok(None);
        };
        let results = self
            .sandbox
            .run_ok(&["results", "--task", task.as_str(), "--json"])?
            .json()
            .context("`team-agent results --json` did not print JSON")?;
        let stored = results["results"][0]["created_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .with_context(|| format!("no stored result for {task}: {results}"))?;
        let seen: chrono::DateTime<chrono::Utc> = seen.into();
        Ok(Some(
            (seen - stored.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1e3,
        ))
    }

    /// Waits for the model to finish the turn's last request (`last`).
    fn turn_ended(
        &mut self,
        worker: &Worker,
        finished: &mut Finished,
        last: impl Fn(&team_agent_fake_model::RecordedRequest) -> bool,
    ) -> anyhow::Result<()> {
        if finished.wait(TURN_TIMEOUT, last).is_none() {
            bail!(
                "the real {}'s turn was not answered within {} s:\n{}",
                worker.cli,
                TURN_TIMEOUT.as_secs(),
                self.screen(worker)
            );
        }
        Ok(())
    }

    /// Waits until `worker`'s CLI takes input, as its provider plugin judges the live screen:
    /// the check `send` makes before it pastes.
    fn wait_takes_input(&mut self, worker: &Worker) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let screen = self.screen(worker);
            let mut probe = self.sandbox.command(&[
                "plugins",
                "probe",
                worker.provider,
                "--screen",
                "-",
                "--json",
            ]);
            let run = timed(&mut probe, Some(screen.as_bytes()), Duration::from_secs(30))?;
            if run.json().is_some_and(|j| j["screen"]["state"] == "idle") {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the real {} did not take input within 60 s:\n{screen}",
                    worker.cli
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `worker`'s activity as `status --json` says it.
    fn activity(&self, worker: &Worker) -> anyhow::Result<String> {
        let status = self.sandbox.status()?;
        Ok(agent(&status, worker.id)?["activity"]
            .as_str()
            .unwrap_or("none")
            .to_string())
    }

    /// `worker`'s screen now (empty when it cannot be read).
    fn screen(&mut self, worker: &Worker) -> String {
        let pane = self.panes[worker.id].clone();
        self.screens.capture(&pane).unwrap_or_default()
    }
}

/// The message id of a `send --json`, counting what it returned.
fn sent(run: &Run, statuses: &mut BTreeMap<String, usize>) -> anyhow::Result<String> {
    if !run.ok() {
        bail!("{}", run.failure("team-agent send"));
    }
    let answer = run.json().context("`send --json` did not print JSON")?;
    let status = answer["status"].as_str().unwrap_or("none").to_string();
    *statuses.entry(status).or_default() += 1;
    answer["message_id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("`send --json` named no message id: {answer}"))
}
