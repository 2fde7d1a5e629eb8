/*! Plugin costs, with the host's own loader (`team_agent_plugin_api::loader`): the time to load
the scripted provider (every check included), and the round trip of a call into it. A library
stays loaded for the life of a process, so each load is timed in a fresh process (this binary,
re-run with a hidden flag); calls are timed in batches, warm. */

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use team_agent_plugin_api::ScreenState;
use team_agent_plugin_api::loader::{FaultPolicy, ProviderClient, load};

use crate::report::{Figure, Report, Target, Unit};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

/// The hidden flag that makes this binary time one load and print the nanoseconds.
pub const LOAD_ONCE_FLAG: &str = "--time-one-plugin-load";

pub struct Plan {
    /// Loads, each in a fresh process.
    pub loads: usize,
    pub batches: usize,
    pub calls_per_batch: usize,
}

/// What the scripted agent shows while it waits for input: a small, idle screen.
const IDLE_SCREEN: &str = "scripted-agent 0.1.0 · session 0b7c1f52-8f1e-4a57-9a52-2d3f1c9e8a10 · agent w01\n\
Type a message and press Enter.\n\
\n\
› ";

/// Loads `path` once and prints how long it took, in nanoseconds (the hidden flag's work).
pub fn time_one_load(path: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let plugin = load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    if ProviderClient::new(&plugin, FaultPolicy::StopCalling).is_none() {
        bail!("{} is not a provider plugin", path.display());
    }
    println!("{}", elapsed.as_nanos());
    Ok(())
}

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let this = std::env::current_exe().context("cannot find this harness's own binary")?;
    let mut loads = Samples::new();
    for _ in 0..plan.loads {
        let out = Command::new(&this)
            .arg(LOAD_ONCE_FLAG)
            .arg(&binaries.scripted_plugin)
            .output()
            .context("cannot re-run the harness to time a plugin load")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(nanos) = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|_| out.status.success())
        else {
            bail!(
                "loading {} failed: {} (the harness and the plugin must come from the same build: \
                 `cargo build --release --workspace`)",
                binaries.scripted_plugin.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        };
        loads.push(nanos / 1e6);
    }
    report.add(Figure::new(
        "plugin load (scripted, with every loader check)",
        Unit::Ms,
        loads,
        "loads",
    ));

    let plugin = load(&binaries.scripted_plugin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = ProviderClient::new(&plugin, FaultPolicy::StopCalling)
        .context("the scripted plugin is not a provider")?;
    match client.classify_screen(IDLE_SCREEN) {
        Ok(v) if v.value == ScreenState::Idle => {}
        other => bail!("the scripted plugin does not see its idle screen as idle: {other:?}"),
    }
    let submit = per_call_ns(plan, || {
        client.submit_keys().map(drop).map_err(|e| e.to_string())
    })?;
    let classify = per_call_ns(plan, || {
        client
            .classify_screen(IDLE_SCREEN)
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    for (name, samples) in [
        ("plugin call round trip: submit_keys()", submit),
        (
            "plugin call round trip: classify_screen (4-line idle screen)",
            classify,
        ),
    ] {
        report.add(
            Figure::new(name, Unit::Ns, samples, "batches").with_target(Target::at_most(
                Stat::Median,
                1000.0,
                "≤ 1 µs",
                "—",
            )),
        );
    }
    Ok(())
}

/// Nanoseconds per call, one sample per batch, after one unrecorded batch.
fn per_call_ns(
    plan: &Plan,
    mut call: impl FnMut() -> Result<(), String>,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::new();
    for batch in 0..=plan.batches {
        let started = Instant::now();
        for _ in 0..plan.calls_per_batch {
            call().map_err(|e| anyhow::anyhow!("a plugin call failed: {e}"))?;
        }
        if batch > 0 {
            samples.push(started.elapsed().as_nanos() as f64 / plan.calls_per_batch as f64);
        }
    }
    Ok(samples)
}
