/*! `up` → all ready for N workers, `restart` and `shutdown` of 8, and where the time of `up`
goes (from the team's own event log). Every run is a fresh sandbox: new HOME, new tmux server,
new workspace. */

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Sandbox, TEAM};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

/// The team size whose `restart` and `shutdown` are measured.
pub const RESTART_SIZE: usize = 8;

pub struct Plan {
    /// (workers, runs) for `up` → ready.
    pub up: Vec<(usize, usize)>,
    /// Scripted agents started directly in tmux.
    pub agent_starts: usize,
}

/// The milestones of one `up`, in the order they happen; each phase of the breakdown runs from
/// one to the next.
const MILESTONES: [&str; 5] = [
    "team.up_started",
    "agent.spawned (last)",
    "session.captured (last)",
    "coordinator.started",
    "team.up",
];

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    warm_up(binaries)?;
    let mut up: BTreeMap<usize, Samples> = BTreeMap::new();
    let mut phases: BTreeMap<usize, Vec<Samples>> = BTreeMap::new();
    let mut restart = Samples::new();
    let mut shutdown = Samples::new();
    for &(workers, runs) in &plan.up {
        for _ in 0..runs {
            let sandbox = Sandbox::new(binaries, false, &[])?;
            sandbox.write_team(workers, 0)?;
            let (ready, breakdown) = up_until_ready(&sandbox, workers)?;
            up.entry(workers).or_default().push_ms(ready);
            let slots = phases
                .entry(workers)
                .or_insert_with(|| vec![Samples::new(); MILESTONES.len() + 1]);
            for (slot, phase) in slots.iter_mut().zip(breakdown) {
                if let Some(ms) = phase {
                    slot.push(ms);
                }
            }
            let first = sandbox.run_ok(&["shutdown", "--json"])?;
            if workers == RESTART_SIZE {
                shutdown.push_ms(first.elapsed);
                restart.push_ms(restart_until_ready(&sandbox, workers)?);
                shutdown.push_ms(sandbox.run_ok(&["shutdown", "--json"])?.elapsed);
            }
        }
    }
    let targets: [(usize, Target); 2] = [
        (1, Target::at_most(Stat::Median, 60.0, "≤ 60 ms", "166 ms")),
        (
            8,
            Target::at_most(Stat::Median, 200.0, "≤ 200 ms", "714 ms"),
        ),
    ];
    for (workers, samples) in &up {
        let mut figure = Figure::new(
            format!("up → all ready, N = {workers}"),
            Unit::Ms,
            samples.clone(),
            "runs",
        );
        if let Some((_, t)) = targets.iter().find(|(n, _)| n == workers) {
            figure = figure.with_target(t.clone());
        }
        report.add(figure);
    }
    if plan.agent_starts > 0 {
        report.add(Figure::new(
            "scripted-agent's own start (spawn → prompt drawn, no team-agent)",
            Unit::Ms,
            crate::agent_start::measure(binaries, plan.agent_starts)?,
            "starts",
        ));
    }
    if !restart.is_empty() {
        report.add(
            Figure::new(
                format!("restart of {RESTART_SIZE} → all ready"),
                Unit::Ms,
                restart,
                "runs",
            )
            .with_target(Target::at_most(Stat::Median, 200.0, "≤ 200 ms", "511 ms")),
        );
        report.add(
            Figure::new(
                format!("shutdown of {RESTART_SIZE}"),
                Unit::Ms,
                shutdown,
                "runs",
            )
            .with_target(Target::at_most(Stat::Median, 300.0, "≤ 0.3 s", "2.2–3.1 s")),
        );
    }
    report.details.push((
        "Where the time of `up` goes".into(),
        breakdown_table(&phases),
    ));
    Ok(())
}

/// One unrecorded up/shutdown, so the first measured run does not pay for cold caches.
fn warm_up(binaries: &Binaries) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    sandbox.write_team(1, 0)?;
    up_until_ready(&sandbox, 1)?;
    sandbox.run_ok(&["shutdown", "--json"])?;
    Ok(())
}

/// Runs `up` and, should it return before every worker runs, polls `status` until they do. The
/// time until all are ready, and the breakdown of `up` in ms per phase.
pub fn up_until_ready(
    sandbox: &Sandbox,
    workers: usize,
) -> anyhow::Result<(Duration, Vec<Option<f64>>)> {
    let wall = SystemTime::now();
    let started = Instant::now();
    let run = sandbox.run_ok(&["up", TEAM, "--json"])?;
    let json = run
        .json()
        .context("`team-agent up --json` did not print JSON")?;
    wait_all_running(sandbox, &json, workers, started)?;
    let ready = started.elapsed();
    Ok((ready, breakdown(sandbox, wall, run.elapsed)))
}

fn restart_until_ready(sandbox: &Sandbox, workers: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let run = sandbox.run_ok(&["restart", "--json"])?;
    let json = run
        .json()
        .context("`team-agent restart --json` did not print JSON")?;
    wait_all_running(sandbox, &json, workers, started)?;
    Ok(started.elapsed())
}

fn all_running(json: &Value, workers: usize) -> bool {
    let agents = json["agents"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    agents.len() == workers && agents.iter().all(|a| a["status"] == "running")
}

fn wait_all_running(
    sandbox: &Sandbox,
    answer: &Value,
    workers: usize,
    started: Instant,
) -> anyhow::Result<()> {
    if all_running(answer, workers) {
        return Ok(());
    }
    while started.elapsed() < Duration::from_secs(60) {
        if all_running(&sandbox.status()?, workers) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("not every one of the {workers} workers was running 60 s after `up`/`restart` started")
}

/// The ms between consecutive milestones of the `up` that started at `wall` and took `elapsed`:
/// process start → first milestone, …, last milestone → process exit. `None` for a phase whose
/// ends are not both in the event log.
fn breakdown(sandbox: &Sandbox, wall: SystemTime, elapsed: Duration) -> Vec<Option<f64>> {
    let start: DateTime<Utc> = wall.into();
    let end = start + elapsed;
    let events = std::fs::read_to_string(sandbox.events_log()).unwrap_or_default();
    let mut at: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for line in events.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(name), Some(ts)) = (event["event"].as_str(), event["ts"].as_str()) else {
            continue;
        };
        let Ok(ts) = DateTime::parse_from_rfc3339(ts) else {
            continue;
        };
        let ts = ts.with_timezone(&Utc);
        // Only this `up`: the event log outlives runs of the same sandbox.
        if ts < start - chrono::Duration::milliseconds(1) || ts > end {
            continue;
        }
        let key = MILESTONES
            .iter()
            .find(|m| m.split(' ').next() == Some(name))
            .copied();
        if let Some(key) = key {
            // The last of each kind (spawned and captured once per worker).
            at.insert(key, ts);
        }
    }
    let points: Vec<Option<DateTime<Utc>>> = std::iter::once(Some(start))
        .chain(MILESTONES.iter().map(|m| at.get(m).copied()))
        .chain(std::iter::once(Some(end)))
        .collect();
    points
        .windows(2)
        .map(|pair| match pair {
            [Some(a), Some(b)] => Some((*b - *a).num_microseconds().unwrap_or(0) as f64 / 1e3),
            _ => None,
        })
        .collect()
}

fn breakdown_table(phases: &BTreeMap<usize, Vec<Samples>>) -> String {
    let mut names = vec![format!("process start → {}", MILESTONES[0])];
    names.extend(
        MILESTONES
            .windows(2)
            .map(|w| format!("{} → {}", w[0], w[1])),
    );
    names.push(format!(
        "{} → process exit",
        MILESTONES[MILESTONES.len() - 1]
    ));
    let mut md = String::from(
        "Median ms per phase of `up`, from the timestamps (ms resolution) of the team's \
         `.team/logs/teams/<team>/events.jsonl` and the harness's clock at spawn and exit.\n\n| phase |",
    );
    for workers in phases.keys() {
        write!(md, " N = {workers} |").ok();
    }
    md.push_str("\n|---|");
    md.push_str(&"--:|".repeat(phases.len()));
    md.push('\n');
    for (i, name) in names.iter().enumerate() {
        write!(md, "| {name} |").ok();
        for samples in phases.values() {
            match samples.get(i).and_then(|s| s.stat(Stat::Median)) {
                Some(ms) => write!(md, " {ms:.1} |").ok(),
                None => write!(md, " — |").ok(),
            };
        }
        md.push('\n');
    }
    md
}
