/*! `team-agent-bench`: the benchmark harness of docs/ARCHITECTURE.md §5. It drives the real `team-agent`
binary against real tmux on private sockets, in temporary homes and workspaces, with scripted
agents; prints a table; and writes `docs/PERFORMANCE.md`. Timings are reported, never asserted:
the exit code is 1 only when the harness itself cannot measure (a missing binary, a command that
fails), never because a figure misses its target.

The order of a run is visible in [`run`]: lifecycle (`up`, `restart`, `shutdown`, the agents'
own start), messaging, `status`, the idle coordinator, plugins, the workers' hooks, the real CLIs
(last: its thread moves into a network namespace of its own); then the report. */

mod agent_start;
mod cleanup;
mod dashboard;
mod hooks;
mod idle;
mod lifecycle;
mod messaging;
mod plan;
mod plugin;
mod real_clis;
mod report;
mod sandbox;
mod scale;
mod setup;
mod stats;
mod status;
mod transcript;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use clap::{ArgGroup, Parser, ValueEnum};

use plan::Plan;
use report::Report;
use setup::Binaries;

const EXAMPLES: &str = "\
Examples:
  cargo build --release --workspace && target/release/team-agent-bench --full
  target/release/team-agent-bench --quick --out /tmp/PERFORMANCE.md
  target/debug/team-agent-bench --quick --binary-dir target/debug --out target/PERFORMANCE-quick.md
  target/release/team-agent-bench --quick --only messaging --out /tmp/messaging.md
  target/release/team-agent-bench --quick --only hooks,status --out /tmp/hooks.md
  TEAM_AGENT_REAL_CLI_DIR=~/clis target/release/team-agent-bench --quick --only real-clis --out /tmp/real.md

Run it from the repository root on a quiet machine (see `uptime`): other work on the same cores
shows up in every figure. Each team runs in a temporary HOME with its own tmux sockets and is shut
down when measured, also on Ctrl-C. The real-CLI figures need the pinned Codex and Claude Code
(scripts/install-real-clis.sh, found as the real-CLI tests find them); without them the report
says they were not measured.
";

/// Where the published figures live.
const DEFAULT_OUT: &str = "docs/PERFORMANCE.md";

/// Measure team-agent on real tmux and write docs/PERFORMANCE.md.
#[derive(Debug, Parser)]
#[command(
    name = "team-agent-bench",
    version,
    after_long_help = EXAMPLES,
    group(ArgGroup::new("mode").required(true).args(["full", "quick"]))
)]
struct Args {
    /// Every size, several runs each (at most 20 minutes): the published figures.
    #[arg(long)]
    full: bool,

    /// Small sizes, few runs (at most 2 minutes): CI runs it so the harness cannot rot.
    #[arg(long)]
    quick: bool,

    /// Where to write the report.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_OUT)]
    out: PathBuf,

    /// The build directory holding team-agent, scripted-agent and the plugins
    /// [default: target/release, else target/debug with a note in the report].
    #[arg(long, value_name = "DIR")]
    binary_dir: Option<PathBuf>,

    /// Measure only these parts (comma-separated); the report says it is partial.
    #[arg(long, value_name = "PART", value_delimiter = ',')]
    only: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Lifecycle,
    Messaging,
    Status,
    Idle,
    Plugins,
    Hooks,
    Scale,
    Dashboard,
    RealClis,
}

fn main() -> ExitCode {
    if let Some(code) = idle::run_as_tmux_wrapper() {
        return code;
    }
    let argv: Vec<_> = std::env::args_os().collect();
    if argv.len() == 3 && argv[1] == plugin::LOAD_ONCE_FLAG {
        return match plugin::time_one_load(Path::new(&argv[2])) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();
    if let Err(e) = cleanup::install_signal_thread() {
        eprintln!("team-agent-bench: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("team-agent-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    if !args.only.is_empty() && args.out == Path::new(DEFAULT_OUT) {
        bail!(
            "--only measures part of the figures: pass --out PATH so {DEFAULT_OUT} keeps the \
             whole set"
        );
    }
    let plan = if args.full {
        Plan::full()
    } else {
        Plan::quick()
    };
    let binaries = Binaries::locate(args.binary_dir.as_deref())?;
    let mut report = Report::default();
    report.run.rows = setup::describe(&binaries, &plan.summary());
    let load_before = setup::load_average();
    if let Some(note) = &binaries.fallback_note {
        eprintln!("note: {note}");
        report.note(note.clone());
    } else if binaries.is_debug() {
        report.note(
            "measured a DEBUG build: its figures are not comparable with the targets (they are \
             for the release build)",
        );
    }
    if !args.only.is_empty() {
        report.note(format!("partial run: only {:?}", args.only));
    }
    let wanted = |part: Part| args.only.is_empty() || args.only.contains(&part);
    let started = Instant::now();
    let load = setup::LoadWatch::start();
    let step = |name: &str| eprintln!("[{:>4.0} s] {name}", started.elapsed().as_secs_f64());
    if wanted(Part::Lifecycle) {
        step("lifecycle: up, restart, shutdown, the agents' own start");
        lifecycle::measure(&binaries, &plan.lifecycle, &mut report)?;
    }
    if wanted(Part::Messaging) {
        step("messaging: send → visible");
        messaging::measure(&binaries, &plan.messaging, &mut report)?;
    }
    if wanted(Part::Status) {
        step("status --json with a large store");
        status::measure(&binaries, &plan.status, &mut report)?;
    }
    if wanted(Part::Idle) {
        step("the idle coordinator: CPU, RSS, spawned processes");
        idle::measure(&binaries, &plan.idle, &mut report)?;
    }
    if wanted(Part::Plugins) {
        step("plugins: load and call round trip");
        plugin::measure(&binaries, &plan.plugin, &mut report)?;
    }
    if wanted(Part::Hooks) {
        step("hooks: a hook call, turn's end → status idle with and without hooks");
        hooks::measure(&binaries, &plan.hooks, &mut report)?;
    }
    if wanted(Part::Scale) {
        step("scale: N = 100 and its floor, several teams, --version");
        scale::measure(&binaries, &plan.scale, &mut report)?;
    }
    if wanted(Part::Dashboard) {
        step("dashboard: the idle dashboard's CPU");
        dashboard::measure(&binaries, &plan.dashboard, &mut report)?;
    }
    // Last: the real CLIs' isolation moves this thread into a network namespace for good.
    if wanted(Part::RealClis) {
        step("real CLIs: up, send → visible, last event → idle, result → leader");
        real_clis::measure(&binaries, &plan.real_clis, &mut report)?;
    }
    step("done");
    report.run.rows.push((
        "load average (1, 5, 15 min)".into(),
        format!(
            "{load_before} before, {} after; highest 1-min value during the run {:.2}",
            setup::load_average(),
            load.peak()
        ),
    ));
    report.run.rows.push((
        "duration".into(),
        format!("{:.0} s", started.elapsed().as_secs_f64()),
    ));
    print!("{}", report.console_table());
    // The record of what each change did (measured with this harness before and after it) is
    // kept by hand in `docs/performance-changes.md` and carried into every report.
    let changes = std::path::Path::new("docs").join("performance-changes.md");
    if let Ok(text) = std::fs::read_to_string(&changes) {
        report.details.push((
            "Changes, measured before and after".into(),
            format!(
                "From `{}` (kept by hand; each row was measured with this harness before and after the change).\n\n{}",
                changes.display(),
                text.trim()
            ),
        ));
    }
    report.write(&args.out, &plan.method())?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
