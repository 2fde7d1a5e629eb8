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
            .and(Stat::Median, 1.5 * floor_ms)
            .unless_met("the floor starts one process in a bare window; a worker is three processes (`team-agent-worker` applying its environment from a private file, so no key is on a command line, then the agent, then its SessionStart hook, both through the 2.5 MB worker binary), in a named window in its directory fixed at 200 × 50 (one `resize-window` each: tmux 3.3a crashes on a global `window-size manual`), after every plan is checked, and is ready only once its screen shows the prompt and its session is captured. tmux creates our windows at about 2.6 ms each against 1.5 ms in the floor, on the same 2 cores as the 300 processes starting"),
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
        )
        .unless_met("see the two floors below: spawning `true` and this build's smallest Rust binary take most of it here; the rest is the dynamic loader applying team-agent's 27,000 relocations (a position-independent 21 MB binary; linking it non-PIE would remove them at the cost of address-space randomisation, which we keep)")),
    );
    let (nothing, rust) = version_floors(binaries, plan.version_runs)?;
    report.add(Figure::new(
        "floor: `true` (spawn → exit, as above)",
        Unit::Ms,
        nothing,
        "runs",
    ));
    report.add(Figure::new(
        "floor: `scripted-agent --version`, this build's smallest Rust binary (spawn → exit)",
        Unit::Ms,
        rust,
        "runs",
    ));
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
    spawn_to_exit(runs, "team-agent --version", || {
        sandbox.exact_command(&["--version"])
    })
}

/// The floor of `--version`: the same spawn → exit of a program that does nothing (`true`), and
/// of this build's smallest Rust binary (`scripted-agent --version`, a few hundred KB of code):
/// what starting any process, and any Rust program, costs here.
fn version_floors(binaries: &Binaries, runs: usize) -> anyhow::Result<(Samples, Samples)> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    let piped = |program: &std::path::Path, args: &[&str]| {
        let mut cmd = sandbox.program(program);
        cmd.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let nothing = spawn_to_exit(runs, "true", || piped(std::path::Path::new("true"), &[]))?;
    let rust = spawn_to_exit(runs, "scripted-agent --version", || {
        piped(&binaries.scripted_agent, &["--version"])
    })?;
    Ok((nothing, rust))
}

/// `runs` timed spawns → exits of the command `make` builds (after one unrecorded run).
fn spawn_to_exit(
    runs: usize,
    what: &str,
    mut make: impl FnMut() -> std::process::Command,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::new();
    for i in 0..=runs {
        let run = timed(&mut make(), None, Duration::from_secs(10))?;
        if !run.ok() {
            bail!("{}", run.failure(what));
        }
        if i > 0 {
            samples.push_ms(run.elapsed);
        }
    }
    Ok(samples)
}
