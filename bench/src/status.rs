/*! `status --json` with many agents and a large message store. The store is the one the host
created for the running team (`.team/runtime/teams/<team>/team.db`): the harness opens it after `up` and
inserts rows into `messages` itself, in one transaction, using the host's own columns. */

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use rusqlite::{Connection, params};

use crate::report::{Figure, Report, Target, Unit};
use crate::sandbox::{Sandbox, TEAM, worker};
use crate::setup::Binaries;
use crate::stats::{Samples, Stat, thousands};

pub struct Plan {
    pub sizes: Vec<usize>,
    pub runs: usize,
    pub stored_messages: usize,
}

/// The columns the seeded rows fill; the harness refuses a schema that lacks one.
const COLUMNS: [&str; 11] = [
    "message_id",
    "team",
    "task_id",
    "sender",
    "recipient",
    "status",
    "content",
    "created_at",
    "updated_at",
    "submitted_at",
    "acknowledged_at",
];

pub fn measure(binaries: &Binaries, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    for &workers in &plan.sizes {
        let sandbox = Sandbox::new(binaries, false, &[])?;
        sandbox.write_team(workers, 0)?;
        sandbox.run_ok(&["up", TEAM, "--json"])?;
        let empty = time_status(&sandbox, plan.runs)?;
        report.add(Figure::new(
            format!("status --json, N = {workers} agents, empty store"),
            Unit::Ms,
            empty,
            "runs",
        ));
        let seeding = Instant::now();
        seed(&sandbox.database(), workers, plan.stored_messages)?;
        report.note(format!(
            "seeding {} messages into the store of the {workers}-agent team took {:.1} s",
            thousands(plan.stored_messages),
            seeding.elapsed().as_secs_f64()
        ));
        let full = time_status(&sandbox, plan.runs)?;
        report.add(
            Figure::new(
                format!(
                    "status --json, N = {workers} agents, {} stored messages",
                    thousands(plan.stored_messages)
                ),
                Unit::Ms,
                full,
                "runs",
            )
            .with_target(match workers {
                100 => Target::at_most(
                    Stat::Median,
                    10.0,
                    "≤ 10 ms",
                    "480 ms for 43 (agent-of-empires)",
                )
                .unless_met("what grows with N is reading the typed state file of 100 workers (148 KB) and writing a row per worker; the panes come from the coordinator's control-mode connection, not a tmux process"),
                _ => Target::at_most(Stat::Median, 8.0, "≤ 8 ms", "43 ms"),
            }),
        );
        sandbox.run_ok(&["shutdown", "--json"])?;
    }
    Ok(())
}

/// `runs` timed calls of `status --json`, after one unrecorded call.
fn time_status(sandbox: &Sandbox, runs: usize) -> anyhow::Result<Samples> {
    sandbox.run_ok(&["status", "--json"])?;
    let mut samples = Samples::new();
    for _ in 0..runs {
        samples.push_ms(sandbox.run_ok(&["status", "--json"])?.elapsed);
    }
    Ok(samples)
}

/// Inserts `count` delivered messages (nine in ten acknowledged, the rest submitted: nothing
/// for the coordinator to deliver), spread over the workers and 500 tasks.
fn seed(database: &Path, workers: usize, count: usize) -> anyhow::Result<()> {
    let mut conn = Connection::open(database)
        .with_context(|| format!("cannot open the team's store {}", database.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let existing: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('messages')")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let missing: Vec<&str> = COLUMNS
        .into_iter()
        .filter(|c| !existing.iter().any(|e| e == c))
        .collect();
    if missing.is_empty() && existing.is_empty() {
        bail!("{} has no `messages` table", database.display());
    }
    if !missing.is_empty() {
        bail!(
            "the host's `messages` table in {} lacks {}: update bench/src/status.rs to the new schema",
            database.display(),
            missing.join(", ")
        );
    }
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO messages ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?9)",
            COLUMNS.join(", ")
        ))?;
        let base = chrono::Utc::now() - chrono::Duration::days(7);
        for i in 0..count {
            let at = (base + chrono::Duration::seconds(i as i64 * 5))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let acknowledged = i % 10 != 0;
            let content = format!(
                "Team Agent message from leader for t{}:\n\nseeded message {i} of {count}\n\n\
                 [team-agent-token:msg_bench_{i:07}]",
                i % 500
            );
            insert.execute(params![
                format!("msg_bench_{i:07}"),
                TEAM,
                format!("t{}", i % 500),
                "leader",
                worker(i % workers + 1),
                if acknowledged {
                    "acknowledged"
                } else {
                    "submitted"
                },
                content,
                at,
                acknowledged.then_some(&at),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}
