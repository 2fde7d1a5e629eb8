/*! `send` → visible. A message is *visible* when its text is recorded as a `user_message` in the
recipient's transcript (`$HOME/.scripted-agent/sessions/<session>.jsonl`): the scripted agent
writes that line the moment it receives the submitting Enter, so visible means pasted, submitted
and taken by the agent. A watcher thread reads the transcript as it grows (every 0.2 ms) and
stamps each message's unique marker with the time it first appears. */

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::report::{Condition, Figure, Report, Target, Unit};
use crate::sandbox::{Run, Sandbox, TEAM, worker};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

pub struct Plan {
    /// Workers in the team (messages go to the first).
    pub team_size: usize,
    /// Sequential messages of 100 B.
    pub small: usize,
    /// Sequential messages of 256 KiB.
    pub large: usize,
    /// Messages sent at once.
    pub burst: usize,
}

const SMALL_BYTES: usize = 100;
const LARGE_BYTES: usize = 256 * 1024;
/// After a turn completes, before the next sequential send: the agent redraws its prompt.
pub const SETTLE: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Seen {
    markers: HashMap<String, Instant>,
    turns_ended: usize,
}

/// Follows one transcript.
struct Watcher {
    shared: Arc<(Mutex<Seen>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let shared = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            while !halt.load(Ordering::Relaxed) {
                match file.read(&mut chunk) {
                    Ok(0) | Err(_) => std::thread::sleep(Duration::from_micros(200)),
                    Ok(n) => {
                        pending.extend_from_slice(&chunk[..n]);
                        let now = Instant::now();
                        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = pending.drain(..=end).collect();
                            observe(&s, &line, now);
                        }
                    }
                }
            }
        });
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    fn turns_ended(&self) -> usize {
        self.shared.0.lock().map(|s| s.turns_ended).unwrap_or(0)
    }

    /// When `marker` became visible, waiting up to `timeout` for it.
    fn visible_at(&self, marker: &str, timeout: Duration) -> Option<Instant> {
        let (lock, ready) = &*self.shared;
        let seen = lock.lock().ok()?;
        let (seen, _) = ready
            .wait_timeout_while(seen, timeout, |s| !s.markers.contains_key(marker))
            .ok()?;
        seen.markers.get(marker).copied()
    }

    /// Waits until more than `count` turns have ended; false on timeout.
    fn wait_turns(&self, count: usize, timeout: Duration) -> bool {
        let (lock, ready) = &*self.shared;
        let Ok(seen) = lock.lock() else { return false };
        ready
            .wait_timeout_while(seen, timeout, |s| s.turns_ended <= count)
            .map(|(s, _)| s.turns_ended > count)
            .unwrap_or(false)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn observe(shared: &(Mutex<Seen>, Condvar), line: &[u8], now: Instant) {
    let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    let Ok(mut seen) = shared.0.lock() else {
        return;
    };
    if has(br#""type":"user_message""#) {
        if let Some(marker) = marker_in(line) {
            seen.markers.entry(marker).or_insert(now);
        }
    } else if has(br#""type":"turn_complete""#) || has(br#""type":"turn_interrupted""#) {
        seen.turns_ended += 1;
    }
    shared.1.notify_all();
}

/// The `bench-…` marker a message starts with.
fn marker_in(line: &[u8]) -> Option<String> {
    let start = line.windows(6).position(|w| w == b"bench-")?;
    let len = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    Some(String::from_utf8_lossy(&line[start..start + len]).into_owned())
}

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

/// What one series of sends produced.
#[derive(Default)]
struct Series {
    visible: Samples,
    returns: Samples,
    statuses: BTreeMap<String, usize>,
    missing: usize,
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

    fn all_visible(&self, sent: usize) -> Condition {
        Condition {
            holds: self.missing == 0,
            says: format!("{} of {sent} visible", sent - self.missing),
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
    // Unrecorded: the first delivery to a worker also stamps its first use.
    sequential(&sandbox, &watcher, &recipient, "warm", 1, SMALL_BYTES)?;
    let mut notes = Vec::new();
    let small = sequential(&sandbox, &watcher, &recipient, "s", plan.small, SMALL_BYTES)?;
    let large = sequential(&sandbox, &watcher, &recipient, "l", plan.large, LARGE_BYTES)?;
    let burst = burst(&sandbox, &watcher, &recipient, plan.burst)?;
    for (what, series, sent) in [
        ("100 B", &small, plan.small),
        ("256 KiB", &large, plan.large),
        ("burst", &burst, plan.burst),
    ] {
        if series.missing > 0 {
            notes.push(format!(
                "{what}: {} of {sent} messages never became visible in the transcript",
                series.missing
            ));
        }
    }
    let small_condition = small.all_submitted();
    report.add(
        Figure::new(
            format!("send returns, {} × 100 B to an idle worker", plan.small),
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
            .provided(small_condition),
        ),
    );
    report.add(
        Figure::new(
            format!("send → visible, {} × 100 B", plan.small),
            Unit::Ms,
            small.visible.clone(),
            "messages",
        )
        .with_target(
            Target::at_most(Stat::Median, 5.0, "p50 ≤ 5 ms, p99 ≤ 20 ms", "5.0 s median")
                .and(Stat::P99, 20.0)
                .provided(small.all_visible(plan.small)),
        ),
    );
    report.add(Figure::new(
        format!("send returns, {} × 256 KiB", plan.large),
        Unit::Ms,
        large.returns.clone(),
        "sends",
    ));
    report.add(Figure::new(
        format!("send → visible, {} × 256 KiB", plan.large),
        Unit::Ms,
        large.visible.clone(),
        "messages",
    ));
    report.add(Figure::new(
        format!("send returns, burst of {} at once", plan.burst),
        Unit::Ms,
        burst.returns.clone(),
        "sends",
    ));
    report.add(
        Figure::new(
            format!(
                "burst of {} at once: each visible after the burst began",
                plan.burst
            ),
            Unit::Ms,
            burst.visible.clone(),
            "messages",
        )
        .with_target(
            Target::at_most(Stat::Max, 500.0, "all within 0.5 s", "20 took 11.8 s")
                .provided(burst.all_visible(plan.burst)),
        ),
    );
    let mut table = String::from(
        "The status each `send --json` returned, and what it took (messages to one worker).\n\n\
         | series | statuses | send returns, median | visible, median |\n|---|---|--:|--:|\n",
    );
    for (what, series) in [
        ("100 B, one at a time", &small),
        ("256 KiB, one at a time", &large),
        ("burst", &burst),
    ] {
        let statuses: Vec<String> = series
            .statuses
            .iter()
            .map(|(s, n)| format!("{n} × `{s}`"))
            .collect();
        let median = |s: &Samples| {
            s.stat(Stat::Median)
                .map(|v| Unit::Ms.format(v))
                .unwrap_or_else(|| "—".into())
        };
        writeln!(
            table,
            "| {what} | {} | {} | {} |",
            statuses.join(", "),
            median(&series.returns),
            median(&series.visible)
        )
        .ok();
    }
    report.details.push(("What `send` returned".into(), table));
    for note in notes {
        report.note(note);
    }
    drop(watcher);
    sandbox.run_ok(&["shutdown", "--json"])?;
    Ok(())
}

/// `count` messages of `bytes` bytes, each sent once the previous turn has ended.
fn sequential(
    sandbox: &Sandbox,
    watcher: &Watcher,
    recipient: &str,
    label: &str,
    count: usize,
    bytes: usize,
) -> anyhow::Result<Series> {
    let mut series = Series::default();
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

/// `count` `send` processes released at once; visibility is timed from the release.
fn burst(
    sandbox: &Sandbox,
    watcher: &Watcher,
    recipient: &str,
    count: usize,
) -> anyhow::Result<Series> {
    let mut series = Series::default();
    if count == 0 {
        return Ok(series);
    }
    let turns = watcher.turns_ended();
    let gate = Arc::new(Barrier::new(count + 1));
    let senders: Vec<_> = (0..count)
        .map(|i| {
            let gate = gate.clone();
            let mut cmd = sandbox.command(&[
                "send".to_string(),
                recipient.to_string(),
                body(&format!("bench-b-{i:04}"), SMALL_BYTES),
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
    for i in 0..count {
        let left = deadline.saturating_sub(started.elapsed());
        match watcher.visible_at(&format!("bench-b-{i:04}"), left) {
            Some(at) => series
                .visible
                .push_ms(at.saturating_duration_since(started)),
            None => series.missing += 1,
        }
    }
    for sender in senders {
        let run = sender
            .join()
            .map_err(|_| anyhow::anyhow!("a sending thread panicked"))??;
        series.record_return(&run);
    }
    let delivered = count - series.missing;
    if delivered > 0 {
        watcher.wait_turns(turns + delivered - 1, Duration::from_secs(30));
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_has_its_size_and_starts_with_its_marker() {
        let text = body("bench-s-0001", 100);
        assert_eq!(text.len(), 100);
        let line = format!(r#"{{"type":"user_message","text":"header\n\n{text}"}}"#);
        assert_eq!(marker_in(line.as_bytes()).as_deref(), Some("bench-s-0001"));
    }
}
