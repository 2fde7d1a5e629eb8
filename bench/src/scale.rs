/*! A hundred workers, and three teams in one workspace, beside the physical floor the harness
measures itself: starting the same scripted agents straight in tmux windows with no team-agent,
and the capture-pane round trips of a sweep of their screens over one control-mode connection.
And the cost of starting `team-agent` at all (`--version`). */

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Sandbox, timed};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

pub struct Plan {
    /// Workers of the big team (and agents of the floor).
    pub workers: usize,
    /// Runs of each figure.
    pub runs: usize,
    /// Teams of the several-teams figure, and workers in each.
    pub teams: (usize, usize),
    /// Timed `team-agent --version` runs.
    pub version_runs: usize,
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let n = plan.workers;
    let mut floor = Samples::new();
    let mut sweep = Samples::new();
    for _ in 0..plan.runs {
        let (start, capture) = crate::agent_start::start_all(binaries, n)?;
        floor.push_ms(start);
        sweep.push_ms(capture);
    }
    let mut up = Samples::new();
    for _ in 0..plan.runs {
        let sandbox = Sandbox::new(binaries, false, &[])?;
        sandbox.write_team(n, 0)?;
        let (ready, _) = crate::lifecycle::up_until_ready(&sandbox, n)?;
        up.push_ms(ready);
        sandbox.run_ok(&["shutdown", "--json"])?;
    }
    let floor_ms = floor.stat(Stat::Median).unwrap_or(f64::NAN);
    report.add(
        Figure::new(format!("up → all ready, N = {n}"), Unit::Ms, up, "runs").with_target(
            Target::at_most(
                Stat::Median,
                1000.0,
                leak(format!(
                    "≤ 1.0 s and ≤ 1.5 × the floor below ({:.0} ms)",
                    1.5 * floor_ms
                )),
                "—",
            )
            .and(Stat::Median, 1.5 * floor_ms),
        ),
    );
    report.add(Figure::new(
        format!("floor: {n} scripted agents started straight in tmux windows, no team-agent (→ every prompt drawn)"),
        Unit::Ms,
        floor,
        "runs",
    ));
    report.add(Figure::new(
        format!(
            "floor: {n} capture-pane round trips over one control-mode connection (a whole sweep)"
        ),
        Unit::Ms,
        sweep,
        "sweeps",
    ));
    let (teams, each) = plan.teams;
    let mut several = Samples::new();
    for _ in 0..plan.runs {
        several.push_ms(teams_up(binaries, teams, each)?);
    }
    report.add(Figure::new(
        format!("{teams} teams × {each} in one workspace, `up` of each at once → all ready"),
        Unit::Ms,
        several,
        "runs",
    ));
    report.add(
        Figure::new(
            "`team-agent --version` (spawn → exit)",
            Unit::Ms,
            version(binaries, plan.version_runs)?,
            "runs",
        )
        .with_target(Target::at_most(
            Stat::Median,
            1.0,
            "≤ 1 ms",
            "1.45 ms; this project 1.5 ms before",
        )),
    );
    Ok(())
}

/// `teams` teams of `each` workers in one workspace, their `up`s started at once: the time until
/// every worker of every team runs.
fn teams_up(binaries: &Binaries, teams: usize, each: usize) -> anyhow::Result<Duration> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    let names: Vec<String> = (1..=teams).map(|i| format!("team{i}")).collect();
    for name in &names {
        sandbox.write_named_team(name, each, 0)?;
    }
    let started = Instant::now();
    let runs: Vec<anyhow::Result<crate::sandbox::Run>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let sandbox = &sandbox;
                scope.spawn(move || {
                    timed(
                        &mut sandbox.command(&["up", name.as_str(), "--json"]),
                        None,
                        Duration::from_secs(120),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("an `up` thread panicked"))
            })
            .collect()
    });
    for (name, run) in names.iter().zip(runs) {
        let run = run?;
        if !run.ok() {
            bail!("{}", run.failure(&format!("team-agent up {name}")));
        }
    }
    while !every_team_running(&sandbox, teams * each)? {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("not every worker of the {teams} teams ran 120 s after their `up`s started");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let ready = started.elapsed();
    for name in &names {
        sandbox.run_ok(&["shutdown", "--team", name, "--json"])?;
    }
    Ok(ready)
}

/// Whether `status --json` (every team) shows `total` workers, all running.
fn every_team_running(sandbox: &Sandbox, total: usize) -> anyhow::Result<bool> {
    let status = sandbox.status()?;
    let agents: Vec<&Value> = status["teams"]
        .as_array()
        .context("`status --json` of several teams has no `teams`")?
        .iter()
        .flat_map(|t| t["agents"].as_array().into_iter().flatten())
        .collect();
    Ok(agents.len() == total && agents.iter().all(|a| a["status"] == "running"))
}

/// `runs` timed `team-agent --version` after one unrecorded run.
fn version(binaries: &Binaries, runs: usize) -> anyhow::Result<Samples> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    let mut samples = Samples::new();
    for i in 0..=runs {
        let run = timed(
            &mut sandbox.exact_command(&["--version"]),
            None,
            Duration::from_secs(10),
        )?;
        if !run.ok() {
            bail!("{}", run.failure("team-agent --version"));
        }
        if i > 0 {
            samples.push_ms(run.elapsed);
        }
    }
    Ok(samples)
}
