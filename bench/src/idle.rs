/*! The coordinator of an idle team: CPU (its own, and with its reaped children), resident
memory, and the processes it spawns per tick.

CPU and memory are read over a window with no message and no command running: own CPU from the
threads' `/proc/<pid>/task/<tid>/schedstat` (nanoseconds; utime+stime of `/proc/<pid>/stat` where
schedstats are missing), reaped children from cutime+cstime (clock ticks), memory from VmRSS of
`/proc/<pid>/status`.
Spawned processes are counted in a second window: the team's `PATH` starts with a directory of
its sandbox whose `tmux` is a symlink to the real tmux; for the count it is switched (atomically)
to this binary, which, called as `tmux`, appends its parent pid and arguments to a log and then
execs the real tmux (same pid, so the count is exact and nothing else changes). Children that are
not tmux are caught by sampling `/proc/<pid>/task/<tid>/children` every millisecond. The symlink is
switched back before anything else is measured, so the CPU window pays nothing for the count. */

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{PATH_DIR_ENV, Sandbox, TEAM, TICK_INTERVAL_SEC};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

/// The wrapper's log, in the sandbox's `PATH` directory.
const SPAWN_LOG: &str = "spawns.log";
const REAL_TMUX_ENV: &str = "TEAM_AGENT_BENCH_REAL_TMUX";

pub struct Plan {
    pub sizes: Vec<usize>,
    /// After `up`, before measuring.
    pub settle: Duration,
    /// The CPU and memory window, cut into slices for median and p95.
    pub window: Duration,
    pub slice: Duration,
    /// The spawn-count window.
    pub spawn_window: Duration,
}

/// When this process was started as `tmux` (the spawn counter), logs the call and becomes the
/// real tmux; `None` otherwise.
pub fn run_as_tmux_wrapper() -> Option<ExitCode> {
    let arg0 = std::env::args_os().next()?;
    if Path::new(&arg0).file_name() != Some(OsStr::new("tmux")) {
        return None;
    }
    let Some(real) = std::env::var_os(REAL_TMUX_ENV) else {
        eprintln!("team-agent-bench called as tmux without {REAL_TMUX_ENV}");
        return Some(ExitCode::from(127));
    };
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if let Some(dir) = std::env::var_os(PATH_DIR_ENV) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().replace(['\n', ' '], "_"))
            .collect();
        let line = format!(
            "{nanos} {} {} {}\n",
            std::os::unix::process::parent_id(),
            std::process::id(),
            words.join(" ")
        );
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(&dir).join(SPAWN_LOG))
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
    let error = std::process::Command::new(&real)
        .arg0("tmux")
        .args(args)
        .exec();
    eprintln!(
        "team-agent-bench: cannot exec {}: {error}",
        real.to_string_lossy()
    );
    Some(ExitCode::from(127))
}

/// CPU time of a process, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuTime {
    /// Its threads' run time from `schedstat` (ns), else utime+stime (clock ticks).
    pub own: f64,
    /// cutime+cstime: the children it has reaped (clock ticks).
    pub children: f64,
}

pub(crate) fn cpu_time(pid: i32) -> anyhow::Result<CpuTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // Fields after the command name, which may hold spaces: field 3 is index 0.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0) as f64;
    let hz = clock_ticks_per_second();
    Ok(CpuTime {
        own: run_time(pid).unwrap_or((field(14) + field(15)) / hz),
        children: (field(16) + field(17)) / hz,
    })
}

/// The summed on-CPU time of a process's threads, in seconds, with nanosecond resolution
/// (`/proc/<pid>/task/<tid>/schedstat`); `None` without schedstats.
fn run_time(pid: i32) -> Option<f64> {
    let mut nanos: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        nanos += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(nanos as f64 / 1e9)
}

fn rss_mib(pid: i32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The `tmux` symlink in the directory that starts every idle team's `PATH`.
struct TmuxSwitch {
    link: PathBuf,
    real: PathBuf,
    counter: PathBuf,
}

impl TmuxSwitch {
    fn point_to(&self, target: &Path) -> anyhow::Result<()> {
        let staged = self.link.with_extension("new");
        let _ = std::fs::remove_file(&staged);
        std::os::unix::fs::symlink(target, &staged)?;
        std::fs::rename(&staged, &self.link)?;
        Ok(())
    }

    fn real(&self) -> anyhow::Result<()> {
        self.point_to(&self.real)
    }

    fn counting(&self) -> anyhow::Result<()> {
        self.point_to(&self.counter)
    }
}

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let mut spawned = String::from(
        "Every process the idle coordinator started in the spawn-count window, by program and \
         tmux command.\n\n| workers | ticks | spawned | by command |\n|---|--:|--:|---|\n",
    );
    for &workers in &plan.sizes {
        measure_team(binaries, plan, workers, report, &mut spawned)?;
    }
    report
        .details
        .push(("What the idle coordinator spawns".into(), spawned));
    Ok(())
}

fn measure_team(
    binaries: &Binaries,
    plan: &Plan,
    workers: usize,
    report: &mut Report,
    spawned: &mut String,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(
        binaries,
        true,
        &[(REAL_TMUX_ENV, binaries.tmux.as_os_str())],
    )?;
    let path_dir = sandbox
        .path_dir
        .clone()
        .context("the sandbox has no PATH directory")?;
    let log = path_dir.join(SPAWN_LOG);
    let switch = TmuxSwitch {
        link: path_dir.join("tmux"),
        real: binaries.tmux.clone(),
        counter: std::env::current_exe().context("cannot find this harness's own binary")?,
    };
    switch.real()?;
    sandbox.write_team(workers, 0)?;
    let up = sandbox.run_ok(&["up", TEAM, "--json"])?;
    let socket = up
        .json()
        .and_then(|j| j["tmux_socket"].as_str().map(PathBuf::from))
        .context("`up --json` names no tmux_socket")?;
    let coordinator = sandbox
        .coordinator_pid()
        .context("no coordinator runs after `up`")?;
    let server = tmux_server_pid(binaries, &socket)?;
    std::thread::sleep(plan.settle);

    let cpu = cpu_window(coordinator, server, plan)?;
    let label = |what: &str| format!("coordinator {what}, N = {workers} idle workers");
    let targets = workers == 8;
    // Issue 17's, for a hundred.
    let hundred = workers == 100;
    let figure = |name: String, samples: Samples, unit: Unit, counts: &'static str| {
        Figure::new(name, unit, samples, counts)
    };
    let mut own = figure(label("CPU, own"), cpu.own, Unit::Percent, "slices");
    let mut all = figure(
        label("CPU, with children"),
        cpu.with_children,
        Unit::Percent,
        "slices",
    );
    let mut rss = figure(label("RSS"), cpu.rss, Unit::MiB, "samples");
    if targets {
        own = own.with_target(Target::at_most(Stat::Mean, 0.1, "≤ 0.1 %", "0.42 %"));
        all = all.with_target(Target::at_most(Stat::Mean, 0.2, "≤ 0.2 %", "1.67 %"));
        rss = rss.with_target(Target::at_most(Stat::Max, 8.0, "≤ 8 MiB", "11.0 MiB"));
    }
    if hundred {
        all = all.with_target(Target::at_most(
            Stat::Mean,
            0.3,
            "≤ 0.3 %",
            "25 % (agent-deck at 100)",
        ));
        rss = rss.with_target(Target::at_most(Stat::Max, 12.0, "≤ 12 MiB", "—"));
    }
    report.add(own);
    report.add(all);
    report.add(rss);
    report.add(figure(
        format!("tmux server CPU, N = {workers} idle workers"),
        cpu.server,
        Unit::Percent,
        "slices",
    ));
    report.note(format!(
        "{workers} idle workers, whole {:.0}-s window: coordinator CPU {:.3} % own, {:.3} % with \
         children; reaped children's time comes in clock ticks of 1/{:.0} s, so one tick in a \
         slice is {:.3} % of a core",
        cpu.elapsed.as_secs_f64(),
        cpu.total_own,
        cpu.total_with_children,
        clock_ticks_per_second(),
        100.0 / clock_ticks_per_second() / plan.slice.as_secs_f64()
    ));

    switch.counting()?;
    let counted = count_spawns(coordinator, &log, plan.spawn_window);
    switch.real()?;
    let counted = counted?;
    let mut per_tick = figure(
        label("processes spawned per tick"),
        counted.per_tick,
        Unit::PerTick,
        "ticks",
    );
    if targets || hundred {
        per_tick = per_tick.with_target(Target::at_most(Stat::Mean, 1.0, "≤ 1", "20.6"));
    }
    report.add(per_tick);
    let by: Vec<String> = counted
        .by_command
        .iter()
        .map(|(c, n)| format!("{n} × `{c}`"))
        .collect();
    writeln!(
        spawned,
        "| {workers} | {} | {} | {} |",
        counted.ticks,
        counted.total,
        if by.is_empty() {
            "—".into()
        } else {
            by.join(", ")
        }
    )
    .ok();
    sandbox.run_ok(&["shutdown", "--json"])?;
    Ok(())
}

fn tmux_server_pid(binaries: &Binaries, socket: &Path) -> anyhow::Result<i32> {
    let out = std::process::Command::new(&binaries.tmux)
        .arg("-S")
        .arg(socket)
        .args(["display-message", "-p", "#{pid}"])
        .output()
        .context("cannot ask the team's tmux server for its pid")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("the tmux server at {} gave no pid", socket.display()))
}

struct CpuWindow {
    own: Samples,
    with_children: Samples,
    server: Samples,
    rss: Samples,
    total_own: f64,
    total_with_children: f64,
    elapsed: Duration,
}

/// Reads CPU at every slice boundary and RSS every second over the window.
fn cpu_window(coordinator: i32, server: i32, plan: &Plan) -> anyhow::Result<CpuWindow> {
    let percent = |seconds: f64, over: Duration| seconds / over.as_secs_f64() * 100.0;
    let started = Instant::now();
    let first = cpu_time(coordinator)?;
    let first_server = cpu_time(server)?;
    let (mut last, mut last_server, mut last_at) = (first, first_server, started);
    let mut window = CpuWindow {
        own: Samples::new(),
        with_children: Samples::new(),
        server: Samples::new(),
        rss: Samples::new(),
        total_own: 0.0,
        total_with_children: 0.0,
        elapsed: Duration::ZERO,
    };
    let mut next_slice = started + plan.slice;
    while started.elapsed() < plan.window {
        window
            .rss
            .extend(&Samples::from_values(rss_mib(coordinator)));
        std::thread::sleep(
            Duration::from_secs(1).min(plan.window.saturating_sub(started.elapsed())),
        );
        let now = Instant::now();
        if now >= next_slice || started.elapsed() >= plan.window {
            let (cpu, srv) = (cpu_time(coordinator)?, cpu_time(server)?);
            let over = now - last_at;
            window.own.push(percent(cpu.own - last.own, over));
            window.with_children.push(percent(
                cpu.own + cpu.children - last.own - last.children,
                over,
            ));
            window.server.push(percent(srv.own - last_server.own, over));
            (last, last_server, last_at) = (cpu, srv, now);
            next_slice += plan.slice;
        }
    }
    window.elapsed = last_at - started;
    window.total_own = percent(last.own - first.own, window.elapsed);
    window.total_with_children = percent(
        last.own + last.children - first.own - first.children,
        window.elapsed,
    );
    if window.own.is_empty() {
        bail!("the CPU window ended before its first slice");
    }
    Ok(window)
}

struct Spawns {
    per_tick: Samples,
    ticks: usize,
    total: usize,
    by_command: BTreeMap<String, usize>,
}

/// Counts what `coordinator` starts over `window`: tmux calls from the wrapper's log, other
/// programs from sampling its children.
fn count_spawns(coordinator: i32, log: &Path, window: Duration) -> anyhow::Result<Spawns> {
    let _ = std::fs::remove_file(log);
    let started = Instant::now();
    let mut sampled: BTreeSet<(i32, String)> = BTreeSet::new();
    while started.elapsed() < window {
        for (pid, program) in children_of(coordinator) {
            sampled.insert((pid, program));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut times = Vec::new();
    let mut by_command: BTreeMap<String, usize> = BTreeMap::new();
    let mut logged: BTreeSet<i32> = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        let (Some(nanos), Some(parent), Some(pid)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if parent.parse::<i32>().ok() != Some(coordinator) {
            continue;
        }
        times.push(nanos.parse::<u128>().unwrap_or(0));
        logged.extend(pid.parse::<i32>().ok());
        let command = tmux_command(words.collect());
        *by_command.entry(format!("tmux {command}")).or_default() += 1;
    }
    let tmux_calls = times.len();
    // Children the wrapper did not log: programs other than tmux.
    for (pid, program) in &sampled {
        if !logged.contains(pid) {
            *by_command.entry(program.clone()).or_default() += 1;
            times.push(0);
        }
    }
    let others = times.len() - tmux_calls;
    let expected = (window.as_secs_f64() / TICK_INTERVAL_SEC as f64).round() as usize;
    let mut per_tick = bursts(&mut times[..tmux_calls]);
    let ticks = per_tick.len().max(expected).max(1);
    per_tick.resize(ticks, 0);
    // Sampled non-tmux children cannot be placed in a tick: spread them evenly.
    let extra = others as f64 / ticks as f64;
    Ok(Spawns {
        per_tick: Samples::from_values(per_tick.iter().map(|n| *n as f64 + extra)),
        ticks,
        total: times.len(),
        by_command,
    })
}

/// The number of calls in each burst (calls less than half a tick interval apart).
fn bursts(times: &mut [u128]) -> Vec<usize> {
    times.sort_unstable();
    let gap = u128::from(TICK_INTERVAL_SEC) * 1_000_000_000 / 2;
    let mut counts: Vec<usize> = Vec::new();
    let mut previous: Option<u128> = None;
    for &t in times.iter() {
        match previous {
            Some(p) if t - p < gap => *counts.last_mut().expect("a burst is open") += 1,
            _ => counts.push(1),
        }
        previous = Some(t);
    }
    counts
}

/// `-S SOCKET [-f CONF] list-panes -a -F …` → `list-panes`.
fn tmux_command(words: Vec<&str>) -> String {
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "-S" | "-L" | "-f" => i += 2,
            w if w.starts_with('-') => i += 1,
            w => return w.to_string(),
        }
    }
    "(no command)".into()
}

/// The live children of `pid` and their program names.
fn children_of(pid: i32) -> Vec<(i32, String)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for child in list
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            let program = std::fs::read_to_string(format!("/proc/{child}/comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            children.push((child, program));
        }
    }
    children
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_close_together_are_one_tick() {
        let s = 1_000_000_000u128;
        let mut times = vec![s, s + 3_000_000, 3 * s, 5 * s, 5 * s + 1_000];
        assert_eq!(bursts(&mut times), vec![2, 1, 2]);
        assert_eq!(
            tmux_command(vec!["-S", "/s", "-f", "/c", "list-panes", "-a"]),
            "list-panes"
        );
    }
}
