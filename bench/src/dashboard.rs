/*! The idle dashboard's CPU: `team-agent dash` running in a real terminal (a pane of a private
tmux server) on an idle team, its own CPU and that of the children it reaped, over a window. */

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::idle::cpu_time;
use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Sandbox, TEAM};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

pub struct Plan {
    pub workers: usize,
    pub settle: Duration,
    pub window: Duration,
    pub slice: Duration,
}

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    sandbox.write_team(plan.workers, 0)?;
    sandbox.run_ok(&["up", TEAM, "--json"])?;
    let socket = sandbox.tmux_dir.join("dash-view");
    let tmux = |args: &[&str]| {
        sandbox
            .program(&binaries.tmux)
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
    };
    let dash = binaries.team_agent.to_string_lossy().into_owned();
    let workspace = sandbox.workspace.to_string_lossy().into_owned();
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "120",
        "-y",
        "32",
        "--",
        &dash,
        "--workspace",
        &workspace,
        "dash",
    ])
    .context("cannot start tmux for the dashboard")?;
    if !started.status.success() {
        bail!(
            "tmux did not start the dashboard: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }
    let pid: i32 = String::from_utf8_lossy(
        &tmux(&["display-message", "-p", "-t", "dash", "#{pane_pid}"])?.stdout,
    )
    .trim()
    .parse()
    .context("no pid for the dashboard's pane")?;
    std::thread::sleep(plan.settle);
    let screen = tmux(&["capture-pane", "-p", "-t", "dash"])?;
    if !String::from_utf8_lossy(&screen.stdout).contains("w01") {
        let _ = tmux(&["kill-server"]);
        bail!(
            "the dashboard does not show the team: {}",
            String::from_utf8_lossy(&screen.stdout)
        );
    }
    let mut own = Samples::new();
    let mut all = Samples::new();
    let percent = |seconds: f64, over: Duration| seconds / over.as_secs_f64() * 100.0;
    let begin = Instant::now();
    let (mut last, mut at) = (cpu_time(pid)?, begin);
    while begin.elapsed() < plan.window {
        std::thread::sleep(plan.slice);
        let now = Instant::now();
        let cpu = cpu_time(pid)?;
        own.push(percent(cpu.own - last.own, now - at));
        all.push(percent(
            cpu.own + cpu.children - last.own - last.children,
            now - at,
        ));
        (last, at) = (cpu, now);
    }
    let _ = tmux(&["kill-server"]);
    sandbox.run_ok(&["shutdown", "--json"])?;
    report.add(Figure::new(
        format!(
            "team-agent dash, idle team of {} (120×32 pane), CPU own",
            plan.workers
        ),
        Unit::Percent,
        own,
        "slices",
    ));
    report.add(
        Figure::new(
            format!(
                "team-agent dash, idle team of {} (120×32 pane), CPU with children",
                plan.workers
            ),
            Unit::Percent,
            all,
            "slices",
        )
        .with_target(Target::at_most(Stat::Mean, 0.2, "≤ 0.2 %", "—")),
    );
    Ok(())
}
