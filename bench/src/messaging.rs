/*! `send` → visible, and what `send` returns. A message is *visible* when its text is recorded
as a `user_message` in the recipient's transcript (see `transcript`): pasted, submitted and taken
by the agent. Messages go one at a time to an idle worker (100 B and 256 KiB), then in bursts of
`send` processes released at once. Where a sequential `send` spends its time comes from the
team's event log (`send.accepted`, `send.submitted`). */

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::report::{Condition, Figure, Report, Target, Unit};
use crate::sandbox::{Run, Sandbox, TEAM, worker};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};
use crate::transcript::Watcher;

pub struct Plan {
    /// Workers in the team (messages go to the first).
    pub team_size: usize,
    /// Sequential messages of 100 B.
    pub small: usize,
    /// Sequential messages of 256 KiB.
    pub large: usize,
    /// Messages per burst, sent at once.
    pub burst: usize,
    /// How many bursts.
    pub bursts: usize,
}

const SMALL_BYTES: usize = 100;
const LARGE_BYTES: usize = 256 * 1024;
/// After a turn completes, before the next sequential send: the agent redraws its prompt.
pub const SETTLE: Duration = Duration::from_millis(20);
/// The phases of one `send`, between its spawn, its two events and its exit.
const PHASES: [&str; 3] = [
    "process start → send.accepted",
    "send.accepted → send.submitted",
    "send.submitted → process exit",
];

/// A message of exactly `bytes` bytes starting with `marker`.
fn body(marker: &str, bytes: usize) -> String {
    let mut text = format!("{marker} ");
    let filler = "lorem ipsum dolor sit amet ";
    while text.len() < bytes {
        text.push_str(filler);
    }
    text.truncate(bytes);
    text
}

/// What a series of sends produced.
#[derive(Default)]
struct Series {
    sent: usize,
    visible: Samples,
    returns: Samples,
    statuses: BTreeMap<String, usize>,
    missing: usize,
    /// Per burst: when its last message became visible (complete bursts only).
    all_visible: Samples,
    /// Per sequential send: wall clock at spawn, duration, message id.
    timeline: Vec<(SystemTime, Duration, String)>,
}

impl Series {
    fn record_return(&mut self, run: &Run) {
        self.returns.push_ms(run.elapsed);
        let status = run
            .json()
            .and_then(|j| j["status"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("exit {}", run.code.unwrap_or(-1)));
        *self.statuses.entry(status).or_default() += 1;
    }

    fn all_submitted(&self) -> Condition {
        let submitted = self.statuses.get("submitted").copied().unwrap_or(0);
        Condition {
            holds: submitted == self.returns.len() && !self.returns.is_empty(),
            says: format!("{submitted} of {} returned `submitted`", self.returns.len()),
        }
    }

    fn all_visible(&self) -> Condition {
        Condition {
            holds: self.missing == 0,
            says: format!("{} of {} visible", self.sent - self.missing, self.sent),
        }
    }
}

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    sandbox.write_team(plan.team_size, 0)?;
    sandbox.run_ok(&["up", TEAM, "--json"])?;
    let recipient = worker(1);
    let status = sandbox.status()?;
    let transcript = status["agents"]
        .as_array()
        .and_then(|agents| agents.iter().find(|a| a["id"] == recipient.as_str()))
        .and_then(|a| a["transcript_path"].as_str())
        .map(PathBuf::from)
        .context("`status --json` names no transcript for the recipient")?;
    let watcher = Watcher::start(&transcript)?;
    let to = (&sandbox, &watcher, recipient.as_str());
    // Unrecorded: the first delivery to a worker also stamps its first use.
    sequential(to, "warm", 1, SMALL_BYTES)?;
    let small = sequential(to, "s", plan.small, SMALL_BYTES)?;
    let large = sequential(to, "l", plan.large, LARGE_BYTES)?;
    let mut bursts = Series::default();
    for k in 0..plan.bursts {
        burst(to, k, plan.burst, &mut bursts)?;
    }
    drop(watcher);
    // Last: one message to every worker at once (their turns leave w01's figures alone).
    let mut spread = Series::default();
    if plan.team_size > 1 {
        spread_burst(&sandbox, &sandbox.status()?, &mut spread)?;
    }
    let events = std::fs::read_to_string(sandbox.events_log()).unwrap_or_default();
    sandbox.run_ok(&["shutdown", "--json"])?;

    for (what, series) in [("100 B", &small), ("256 KiB", &large), ("bursts", &bursts)] {
        if series.missing > 0 {
            report.note(format!(
                "{what}: {} of {} messages never became visible in the transcript",
                series.missing, series.sent
            ));
        }
    }
    report.add(
        Figure::new(
            format!(
                "send returns, {} × 100 B to an idle worker, N = {} idle workers",
                plan.small, plan.team_size
            ),
            Unit::Ms,
            small.returns.clone(),
            "sends",
        )
        .with_target(
            Target::at_most(
                Stat::Median,
                10.0,
                "≤ 10 ms, submitted",
                "81 ms, only queued",
            )
            .provided(small.all_submitted())
            .unless_met("a command parses the team's typed state file once (about 1.5 KB per worker, 148 KB at N = 100: 0.4 ms) and its later loads compare bytes, then opens the store and writes the message; the coordinator's delivery reads the worker's input box before the paste and its screen after it (what keeps a message from merging into typed text or being lost), and the process start itself (the loader's relocations, the command-line parser) is about 2 ms: see \"Where the time of `send` goes\"; with 8 workers the same send was 4.85 ms. Next: a state file per worker, so a command parses only its recipients'"),
        ),
    );
    report.add(
        Figure::new(
            format!(
                "send → visible, {} × 100 B, N = {} idle workers",
                plan.small, plan.team_size
            ),
            Unit::Ms,
            small.visible.clone(),
            "messages",
        )
        .with_target(
            Target::at_most(Stat::Median, 5.0, "p50 ≤ 5 ms, p99 ≤ 20 ms", "5.0 s median")
                .and(Stat::P99, 20.0)
                .provided(small.all_visible())
                .unless_met("a command parses the team's typed state file once (about 1.5 KB per worker, 148 KB at N = 100: 0.4 ms) and its later loads compare bytes, then opens the store and writes the message; the coordinator's delivery reads the worker's input box before the paste and its screen after it (what keeps a message from merging into typed text or being lost), and the process start itself (the loader's relocations, the command-line parser) is about 2 ms: see \"Where the time of `send` goes\"; with 8 workers the same send was 4.85 ms. Next: a state file per worker, so a command parses only its recipients'"),
        ),
    );
    for (name, samples, counts) in [
        ("send returns", &large.returns, "sends"),
        ("send → visible", &large.visible, "messages"),
    ] {
        report.add(Figure::new(
            format!("{name}, {} × 256 KiB", plan.large),
            Unit::Ms,
            samples.clone(),
            counts,
        ));
    }
    let of = match plan.bursts {
        1 => format!("burst of {} at once", plan.burst),
        n => format!("{n} bursts of {} at once", plan.burst),
    };
    report.add(Figure::new(
        format!("send returns, {of}"),
        Unit::Ms,
        bursts.returns.clone(),
        "sends",
    ));
    report.add(Figure::new(
        format!("{of}: each message visible after the release"),
        Unit::Ms,
        bursts.visible.clone(),
        "messages",
    ));
    report.add(
        Figure::new(
            format!("{of}: all {} visible", plan.burst),
            Unit::Ms,
            bursts.all_visible.clone(),
            "bursts",
        )
        .with_target(
            Target::at_most(Stat::Max, 500.0, "all within 0.5 s", "20 took 11.8 s")
                .provided(bursts.all_visible()),
        ),
    );
    if plan.team_size > 1 {
        let n = plan.team_size;
        report.add(Figure::new(
            format!("burst of {n} sends to {n} different workers at once (N = {n}): each visible after the release"),
            Unit::Ms,
            spread.visible.clone(),
            "messages",
        ));
        report.add(
            Figure::new(
                format!(
                    "burst of {n} sends to {n} different workers at once (N = {n}): all visible"
                ),
                Unit::Ms,
                spread.all_visible.clone(),
                "bursts",
            )
            .with_target(
                Target::at_most(Stat::Max, 1000.0, "all within 1 s", "—")
                    .provided(spread.all_visible())
                    .unless_met("100 `send` processes start at once on 2 cores (each a full command-line start, a store write and a state read) and the one coordinator delivers them one after another over its control client: the last waits behind 99 deliveries of a few ms each"),
            ),
        );
    }
    report.details.push((
        "What `send` returned".into(),
        statuses_table(&[
            ("100 B, one at a time", &small),
            ("256 KiB, one at a time", &large),
            ("bursts", &bursts),
        ]),
    ));
    report.details.push((
        "Where the time of `send` goes".into(),
        breakdown_table(&events, &[("100 B", &small), ("256 KiB", &large)]),
    ));
    Ok(())
}

/// Where the messages go: the sandbox, the recipient's transcript, the recipient.
type To<'a> = (&'a Sandbox, &'a Watcher, &'a str);

/// `count` messages of `bytes` bytes, each sent once the previous turn has ended.
fn sequential(to: To<'_>, label: &str, count: usize, bytes: usize) -> anyhow::Result<Series> {
    let (sandbox, watcher, recipient) = to;
    let mut series = Series {
        sent: count,
        ..Default::default()
    };
    let file = sandbox.workspace.join("message.txt");
    let timeout = Duration::from_secs(if bytes > SMALL_BYTES { 30 } else { 10 });
    let mut misses_in_a_row = 0;
    for i in 0..count {
        let marker = format!("bench-{label}-{i:04}");
        let text = body(&marker, bytes);
        // Over 128 KiB cannot be one argument (MAX_ARG_STRLEN): large ones go by file.
        let by_file = bytes > SMALL_BYTES;
        if by_file {
            std::fs::write(&file, &text)?;
        }
        let turns = watcher.turns_ended();
        let wall = SystemTime::now();
        let started = Instant::now();
        let run = if by_file {
            sandbox.run(&[
                OsStr::new("send"),
                OsStr::new(recipient),
                OsStr::new("--file"),
                file.as_os_str(),
                OsStr::new("--json"),
            ])?
        } else {
            sandbox.run(&["send", recipient, &text, "--json"])?
        };
        series.record_return(&run);
        if let Some(id) = run
            .json()
            .and_then(|j| j["message_id"].as_str().map(String::from))
        {
            series.timeline.push((wall, run.elapsed, id));
        }
        match watcher.visible_at(&marker, timeout) {
            Some(at) => {
                series
                    .visible
                    .push_ms(at.saturating_duration_since(started));
                misses_in_a_row = 0;
                watcher.wait_turns(turns, timeout);
            }
            None => {
                series.missing += 1;
                misses_in_a_row += 1;
                if misses_in_a_row == 3 {
                    series.missing += count - i - 1;
                    break;
                }
            }
        }
        std::thread::sleep(SETTLE);
    }
    Ok(series)
}

/// Burst `k`: `count` `send` processes released at once from a barrier; each message's time runs
/// from the release.
fn burst(to: To<'_>, k: usize, count: usize, series: &mut Series) -> anyhow::Result<()> {
    let (sandbox, watcher, recipient) = to;
    if count == 0 {
        return Ok(());
    }
    series.sent += count;
    let marker = |i: usize| format!("bench-b{k}-{i:04}");
    let turns = watcher.turns_ended();
    let gate = Arc::new(Barrier::new(count + 1));
    let senders: Vec<_> = (0..count)
        .map(|i| {
            let gate = gate.clone();
            let mut cmd = sandbox.command(&[
                "send".to_string(),
                recipient.to_string(),
                body(&marker(i), SMALL_BYTES),
                "--json".to_string(),
            ]);
            std::thread::spawn(move || {
                gate.wait();
                crate::sandbox::timed(&mut cmd, None, Duration::from_secs(120))
            })
        })
        .collect();
    gate.wait();
    let started = Instant::now();
    let deadline = Duration::from_secs(60);
    let mut missing = 0;
    let mut last = Duration::ZERO;
    for i in 0..count {
        let left = deadline.saturating_sub(started.elapsed());
        match watcher.visible_at(&marker(i), left) {
            Some(at) => {
                let after = at.saturating_duration_since(started);
                series.visible.push_ms(after);
                last = last.max(after);
            }
            None => missing += 1,
        }
    }
    for sender in senders {
        let run = sender
            .join()
            .map_err(|_| anyhow::anyhow!("a sending thread panicked"))??;
        series.record_return(&run);
    }
    series.missing += missing;
    if missing == 0 {
        series.all_visible.push_ms(last);
    }
    let delivered = count - missing;
    if delivered > 0 {
        watcher.wait_turns(turns + delivered - 1, Duration::from_secs(30));
    }
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

/// One message to each worker of `status`, all released at once from a barrier; each message is
/// visible at the `ts` (ms) its worker's transcript gives its `user_message`, read afterwards (a
/// watcher per transcript would load the machine it measures).
fn spread_burst(sandbox: &Sandbox, status: &Value, series: &mut Series) -> anyhow::Result<()> {
    let workers: Vec<(String, PathBuf)> = status["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a["id"].as_str()?.to_string(),
                PathBuf::from(a["transcript_path"].as_str()?),
            ))
        })
        .collect();
    let marker = |id: &str| format!("bench-spread-{id}");
    series.sent += workers.len();
    let gate = Arc::new(Barrier::new(workers.len() + 1));
    let senders: Vec<_> = workers
        .iter()
        .map(|(id, _)| {
            let gate = gate.clone();
            let mut cmd = sandbox.command(&[
                "send".to_string(),
                id.clone(),
                body(&marker(id), SMALL_BYTES),
                "--json".to_string(),
            ]);
            std::thread::spawn(move || {
                gate.wait();
                crate::sandbox::timed(&mut cmd, None, Duration::from_secs(120))
            })
        })
        .collect();
    gate.wait();
    let released: DateTime<Utc> = SystemTime::now().into();
    for sender in senders {
        let run = sender
            .join()
            .map_err(|_| anyhow::anyhow!("a sending thread panicked"))??;
        series.record_return(&run);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    while seen.len() < workers.len() && Instant::now() < deadline {
        for (id, transcript) in &workers {
            if seen.contains_key(id) {
                continue;
            }
            if let Some(at) = received_at(transcript, &marker(id)) {
                let ms = (at - released).num_microseconds().unwrap_or(0) as f64 / 1e3;
                seen.insert(id.clone(), ms.max(0.0));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    series.missing += workers.len() - seen.len();
    for ms in seen.values() {
        series.visible.push(*ms);
    }
    if seen.len() == workers.len() {
        series
            .all_visible
            .push(seen.values().copied().fold(0.0, f64::max));
    }
    Ok(())
}

/// When the transcript recorded the user message carrying `marker`.
fn received_at(transcript: &std::path::Path, marker: &str) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(transcript).ok()?;
    text.lines()
        .filter(|l| l.contains(marker))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["type"] == "user_message")
        .and_then(|r| DateTime::parse_from_rfc3339(r["ts"].as_str()?).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn statuses_table(series: &[(&str, &Series)]) -> String {
    let mut table = String::from(
        "The status each `send --json` returned, and what it took (messages to one worker).\n\n\
         | series | statuses | send returns, median | visible, median |\n|---|---|--:|--:|\n",
    );
    let median = |s: &Samples| {
        s.stat(Stat::Median)
            .map(|v| Unit::Ms.format(v))
            .unwrap_or_else(|| "—".into())
    };
    for (what, s) in series {
        let statuses: Vec<String> = s
            .statuses
            .iter()
            .map(|(status, n)| format!("{n} × `{status}`"))
            .collect();
        writeln!(
            table,
            "| {what} | {} | {} | {} |",
            statuses.join(", "),
            median(&s.returns),
            median(&s.visible)
        )
        .ok();
    }
    table
}

/// Median ms per phase of the sequential sends, from the events of each message id.
fn breakdown_table(events: &str, series: &[(&str, &Series)]) -> String {
    let mut at: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    for line in events.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(name), Some(id), Some(ts)) = (
            event["event"].as_str(),
            event["message_id"].as_str(),
            event["ts"].as_str(),
        ) else {
            continue;
        };
        if let Ok(ts) = DateTime::parse_from_rfc3339(ts) {
            at.entry((name.to_string(), id.to_string()))
                .or_insert(ts.with_timezone(&Utc));
        }
    }
    let mut md = String::from(
        "Median ms per phase of the one-at-a-time sends, from the team's event log (ms \
         resolution) and the harness's clock at spawn and exit.\n\n| phase |",
    );
    for (what, _) in series {
        write!(md, " {what} |").ok();
    }
    md.push_str("\n|---|");
    md.push_str(&"--:|".repeat(series.len()));
    md.push('\n');
    let phases: Vec<Vec<Samples>> = series
        .iter()
        .map(|(_, s)| {
            let mut phases = vec![Samples::new(); PHASES.len()];
            for (wall, elapsed, id) in &s.timeline {
                let start: DateTime<Utc> = (*wall).into();
                let get = |name: &str| at.get(&(name.to_string(), id.clone())).copied();
                let points = [
                    Some(start),
                    get("send.accepted"),
                    get("send.submitted"),
                    Some(start + *elapsed),
                ];
                for (slot, pair) in phases.iter_mut().zip(points.windows(2)) {
                    if let [Some(a), Some(b)] = pair {
                        slot.push((*b - *a).num_microseconds().unwrap_or(0) as f64 / 1e3);
                    }
                }
            }
            phases
        })
        .collect();
    for (i, name) in PHASES.iter().enumerate() {
        write!(md, "| {name} |").ok();
        for per_series in &phases {
            match per_series[i].stat(Stat::Median) {
                Some(ms) => write!(md, " {ms:.1} |").ok(),
                None => write!(md, " — |").ok(),
            };
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_has_its_size_and_starts_with_its_marker() {
        let text = body("bench-s-0001", 100);
        assert_eq!(text.len(), 100);
        assert!(text.starts_with("bench-s-0001 lorem"));
    }
}
