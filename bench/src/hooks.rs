/*! The workers' hooks (issue 14): what one `team-agent hook` call costs the CLI that runs it, and
how soon after a turn's end `status` says the worker is idle, with hooks and without.

One team of two scripted workers: `w01` runs its hooks (as Claude Code does: the agent runs
`team-agent --workspace W hook --agent w01 EVENT` at each event, the call appends it to the
worker's hook inbox and rings the coordinator, which reads it at once), `w02` has
`provider_options.hooks: false`, so only its transcript and screen, read at the coordinator's
tick, tell the coordinator its turn ended. The hook calls are timed first, as `w01`'s CLI would
make them, against the running coordinator; then each worker does its turns. */

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Sandbox, TEAM, TICK_INTERVAL_SEC, agent, timed};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat};

pub struct Plan {
    /// Timed `team-agent hook` calls (after one unrecorded call).
    pub calls: usize,
    /// Turns per worker for turn's end → status idle.
    pub turns: usize,
}

/// The size of a hook call's payload: a Claude Code `Stop` payload with a short answer.
pub const PAYLOAD_BYTES: usize = 2 * 1024;
/// The rest between two hook calls: a CLI's hooks come one event at a time, each meeting a
/// coordinator that has handled the one before.
pub const CALL_GAP: Duration = Duration::from_millis(50);
/// How often `status --json` is asked while a turn is watched (each call also takes a few ms).
pub const STATUS_POLL: Duration = Duration::from_millis(5);
/// The turn of the worker with hooks (`@scripted sleep`), in seconds.
pub const HOOKED_TURN_SEC: f64 = 0.5;
/// The turn of the worker without hooks: longer than a tick, so the coordinator sees it busy
/// (from its transcript) before it can see it idle again.
pub const UNHOOKED_TURN_SEC: f64 = TICK_INTERVAL_SEC as f64 + 0.5;
/// After a turn has been seen to end, before the next message: the agent redraws its prompt.
/// Turn `i` of `n` then waits `i/n` of a tick more, so the turns' ends fall at every phase of the
/// coordinator's tick instead of one (the previous end was seen at a tick).
pub const SETTLE: Duration = Duration::from_millis(100);
/// The longest a turn may take to be seen ending before the harness gives up.
const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// One worker whose turns are watched, and what marks its turn's end.
struct Watched {
    id: &'static str,
    turn_sec: f64,
    end: End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// The Stop hook's time (`hook.at` in its `status` row, with `hook.event` `turn_ended`); only
    /// an idle the hooks decided counts.
    StopHook,
    /// The agent's `turn_complete` record in its transcript; any source's idle counts.
    TranscriptRecord,
}

const WITH_HOOKS: Watched = Watched {
    id: "w01",
    turn_sec: HOOKED_TURN_SEC,
    end: End::StopHook,
};
const WITHOUT_HOOKS: Watched = Watched {
    id: "w02",
    turn_sec: UNHOOKED_TURN_SEC,
    end: End::TranscriptRecord,
};

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(binaries, false, &[])?;
    sandbox.write_team(0, 0)?;
    sandbox.write_worker(WITH_HOOKS.id, &[("work_ms", "0")])?;
    sandbox.write_worker(WITHOUT_HOOKS.id, &[("work_ms", "0"), ("hooks", "false")])?;
    sandbox.run_ok(&["up", TEAM, "--json"])?;
    wait_idle(&sandbox, &[WITH_HOOKS.id, WITHOUT_HOOKS.id])?;

    let calls = time_calls(binaries, &sandbox, WITH_HOOKS.id, plan.calls, report)?;
    report.add(Figure::new(
        format!(
            "hook call: `team-agent hook` with a {} KiB payload on stdin",
            PAYLOAD_BYTES / 1024
        ),
        Unit::Ms,
        calls,
        "calls",
    ));

    let idle_figure = |which: &str| {
        format!(
            "turn's end → status idle, scripted worker {which} hooks (status polled every {} ms)",
            STATUS_POLL.as_millis()
        )
    };
    let hooked = turns(&sandbox, &WITH_HOOKS, plan.turns, report)?;
    report.add(
        Figure::new(idle_figure("with"), Unit::Ms, hooked, "turns").with_target(Target::at_most(
            Stat::Median,
            300.0,
            "≤ 300 ms",
            "screen: 1126 ms (Claude, before hooks)",
        )),
    );
    let unhooked = turns(&sandbox, &WITHOUT_HOOKS, plan.turns, report)?;
    report.add(Figure::new(
        idle_figure("without"),
        Unit::Ms,
        unhooked,
        "turns",
    ));
    sandbox.run_ok(&["shutdown", "--json"])?;
    Ok(())
}

/// Waits until every one of `ids` runs and `status` says it is idle.
fn wait_idle(sandbox: &Sandbox, ids: &[&str]) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let status = sandbox.status()?;
        let ready = ids.iter().all(|id| {
            agent(&status, id).is_ok_and(|a| a["status"] == "running" && a["activity"] == "idle")
        });
        if ready {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the hook team's workers were not running and idle 60 s after `up`: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `calls` timed runs of the hook command `id`'s CLI runs at a turn's end, with a Claude Code
/// `Stop` payload on stdin, after one unrecorded run.
fn time_calls(
    binaries: &Binaries,
    sandbox: &Sandbox,
    id: &str,
    calls: usize,
    report: &mut Report,
) -> anyhow::Result<Samples> {
    let status = sandbox.status()?;
    let row = agent(&status, id)?;
    let payload = stop_payload(
        row["session_id"].as_str().unwrap_or_default(),
        row["transcript_path"].as_str().unwrap_or_default(),
        &sandbox.workspace,
    );
    let workspace = sandbox.workspace.as_os_str();
    let mut samples = Samples::new();
    for i in 0..=calls {
        // The command line the host gives a provider for its CLI's hooks, in a worker's env.
        let mut hook = sandbox.exact_command(&[
            OsStr::new("--workspace"),
            workspace,
            OsStr::new("hook"),
            OsStr::new("--agent"),
            OsStr::new(id),
            OsStr::new("Stop"),
        ]);
        hook.env("TEAM_AGENT_ID", id)
            .env("TEAM_AGENT_WORKSPACE", workspace)
            .env("TEAM_AGENT_BIN", &binaries.team_agent);
        let run = timed(&mut hook, Some(payload.as_bytes()), Duration::from_secs(10))?;
        // `hook` always exits 0 (it must never stop a CLI): a failure shows on stderr only.
        if !run.ok() || !run.stderr.trim().is_empty() {
            bail!("{}", run.failure("team-agent hook"));
        }
        if i > 0 {
            samples.push_ms(run.elapsed);
        }
        std::thread::sleep(CALL_GAP);
    }
    let inbox = sandbox
        .runtime_dir()
        .join("hooks")
        .join(format!("{id}.jsonl"));
    let deadline = Instant::now() + Duration::from_secs(TICK_INTERVAL_SEC * 2);
    while std::fs::metadata(&inbox).is_ok_and(|m| m.len() > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if std::fs::metadata(&inbox).is_ok_and(|m| m.len() > 0) {
        report.note(format!(
            "the coordinator had not emptied {id}'s hook inbox {} s after the last timed hook call",
            TICK_INTERVAL_SEC * 2
        ));
    }
    Ok(samples)
}

/// A Claude Code `Stop` payload of exactly [`PAYLOAD_BYTES`], its answer padded.
fn stop_payload(session_id: &str, transcript_path: &str, cwd: &Path) -> String {
    let with = |answer: &str| {
        json!({
            "hook_event_name": "Stop",
            "session_id": session_id,
            "transcript_path": transcript_path,
            "cwd": cwd.to_string_lossy(),
            "stop_hook_active": false,
            "last_assistant_message": answer,
        })
        .to_string()
    };
    let room = PAYLOAD_BYTES.saturating_sub(with("").len());
    let answer: String = "Done: the change is in and its tests pass. "
        .chars()
        .cycle()
        .take(room)
        .collect();
    with(&answer)
}

/// `count` turns of `worker`, each from its end to the first `status` that says idle, in ms.
fn turns(
    sandbox: &Sandbox,
    worker: &Watched,
    count: usize,
    report: &mut Report,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::new();
    let mut other_first = 0;
    for i in 0..count {
        let phase = Duration::from_secs(TICK_INTERVAL_SEC).mul_f64(i as f64 / count as f64);
        std::thread::sleep(SETTLE + phase);
        if let Some((latency, other)) = one_turn(sandbox, worker, i)? {
            samples.push(latency);
            other_first += usize::from(other);
        }
    }
    if samples.len() < count {
        report.note(format!(
            "{} of {count} turns of the scripted worker {} were never seen leaving `idle` in \
             `status`: left out",
            count - samples.len(),
            worker.id
        ));
    }
    if other_first > 0 {
        report.note(format!(
            "in {other_first} of {} turns of the worker with hooks, `status` said `idle` from \
             another source before the Stop hook's",
            samples.len()
        ));
    }
    Ok(samples)
}

/// One turn: `send` a message that keeps the agent busy for the worker's turn, watch `status`
/// leave `idle`, then poll it every [`STATUS_POLL`] until it says idle again (for the worker
/// with hooks: because of its Stop hook). The latency in ms from the turn's end, and whether
/// another source's idle came first; `None` when `status` never showed the turn.
fn one_turn(sandbox: &Sandbox, worker: &Watched, i: usize) -> anyhow::Result<Option<(f64, bool)>> {
    let id = worker.id;
    let text = format!("bench-e-{id}-{i:03}\n@scripted sleep {}", worker.turn_sec);
    let sent_at = Utc::now();
    let started = Instant::now();
    sandbox.run_ok(&["send", id, text.as_str(), "--json"])?;
    let unseen_after =
        Duration::from_secs_f64(worker.turn_sec) + Duration::from_secs(TICK_INTERVAL_SEC * 3);
    let mut left_idle = false;
    let mut other_first = false;
    loop {
        let status = sandbox.status()?;
        let seen = Utc::now();
        let row = agent(&status, id)?;
        let activity = row["activity"].as_str().unwrap_or("none");
        if activity != "idle" {
            left_idle = true;
        } else if left_idle {
            let end = match worker.end {
                End::StopHook if row["activity_source"] == "hook" => {
                    stop_hook_at(row).filter(|at| *at >= sent_at)
                }
                End::StopHook => {
                    other_first = true;
                    None
                }
                End::TranscriptRecord => turn_complete_at(row, sent_at)?,
            };
            if let Some(end) = end {
                return Ok(Some((millis(seen - end), other_first)));
            }
        } else if started.elapsed() > unseen_after {
            return Ok(None);
        }
        if started.elapsed() > TURN_TIMEOUT {
            bail!(
                "the scripted worker {id}'s turn was not seen ending within {} s: {row}",
                TURN_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(STATUS_POLL);
    }
}

/// The Stop hook's time, when the row's last hook event is a turn's end.
fn stop_hook_at(row: &Value) -> Option<DateTime<Utc>> {
    (row["hook"]["event"] == "turn_ended")
        .then(|| rfc3339(&row["hook"]["at"]))
        .flatten()
}

/// The time of the last `turn_complete` record in the worker's transcript, if it is after
/// `after`.
fn turn_complete_at(row: &Value, after: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let path = row["transcript_path"]
        .as_str()
        .context("`status --json` names no transcript for the worker without hooks")?;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    Ok(text
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| record["type"] == "turn_complete")
        .and_then(|record| rfc3339(&record["ts"]))
        .filter(|at| *at >= after))
}

fn rfc3339(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn millis(span: chrono::TimeDelta) -> f64 {
    span.num_microseconds().unwrap_or(0) as f64 / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_payload_is_exactly_the_payload_size_and_names_its_event() {
        let payload = stop_payload(
            "abc-123",
            "/h/.scripted-agent/sessions/abc-123.jsonl",
            Path::new("/w"),
        );
        assert_eq!(payload.len(), PAYLOAD_BYTES);
        let parsed: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(parsed["hook_event_name"], "Stop");
        assert_eq!(parsed["session_id"], "abc-123");
    }
}
