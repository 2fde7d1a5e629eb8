//! Chaos: rounds of random operations on a running team of scripted workers (sends, some
//! SIGKILLed on their way; the coordinator SIGKILLed; shutdown and restart, some by two
//! operators at once; workers stopped and started), then the accounts: every stored message was
//! delivered once, in order per worker, or failed with a reason; the state and the store are
//! whole; no two workers share a pane; nothing runs after the last shutdown. The sequence comes
//! from a seed (printed; `TEAM_AGENT_CHAOS_SEED` replays one) and the round count is bounded
//! (`TEAM_AGENT_CHAOS_ROUNDS`, default 30), so the test runs in CI in well under a minute.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::*;

/// A small deterministic generator (xorshift64*): the same seed, the same run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORKERS: [&str; 2] = ["alice", "bob"];

#[derive(Default)]
struct Figures {
    rounds: usize,
    sends: usize,
    killed_sends: usize,
    killed_coordinators: usize,
    restarts: usize,
    concurrent_operators: usize,
    stop_starts: usize,
}

fn spawn_quiet(env: &TeamEnv, args: &[&str]) -> Child {
    env.command()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn sigkill(pid: u64) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[test]
fn random_operations_and_kills_lose_duplicate_reorder_and_merge_no_message() {
    let seed: u64 = std::env::var("TEAM_AGENT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let rounds: usize = std::env::var("TEAM_AGENT_CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    eprintln!("chaos: seed {seed} (replay with TEAM_AGENT_CHAOS_SEED={seed}), {rounds} rounds");
    let mut dice = Dice(seed);
    let env = TeamEnv::new();
    env.up_starter();
    let mut figures = Figures::default();
    let mut next_marker: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..rounds {
        figures.rounds += 1;
        match dice.below(10) {
            // Sends, a few at once to one worker; every so often one is killed on its way.
            0..=4 => {
                let worker = WORKERS[dice.below(2) as usize];
                let mut children = Vec::new();
                for _ in 0..=dice.below(3) {
                    let n = next_marker.entry(worker).or_insert(0);
                    *n += 1;
                    let text = format!("CHAOS-{worker}-{n:04}\nsecond line of {n}");
                    let mut args = vec!["send", worker, text.as_str()];
                    if dice.below(3) == 0 {
                        args.push("--no-wait");
                    }
                    children.push(spawn_quiet(&env, &args));
                    figures.sends += 1;
                }
                if dice.below(3) == 0 {
                    std::thread::sleep(Duration::from_millis(dice.below(40)));
                    let victim = dice.below(children.len() as u64) as usize;
                    let _ = children[victim].kill();
                    figures.killed_sends += 1;
                }
                for mut child in children {
                    let _ = child.wait();
                }
            }
            // The coordinator dies; the next command that needs it brings it back.
            5 => {
                if let Some(pid) = env.status()["coordinator"]["pid"].as_u64() {
                    sigkill(pid);
                    figures.killed_coordinators += 1;
                }
            }
            // Shutdown and restart, sometimes two operators at once.
            6 | 7 => {
                let twice = dice.below(2) == 0;
                for command in ["shutdown", "restart"] {
                    let operators: Vec<Child> = (0..if twice { 2 } else { 1 })
                        .map(|_| spawn_quiet(&env, &[command]))
                        .collect();
                    for mut child in operators {
                        let _ = child.wait();
                    }
                }
                figures.restarts += 1;
                if twice {
                    figures.concurrent_operators += 1;
                }
            }
            // A worker stopped, then started again.
            _ => {
                let worker = WORKERS[dice.below(2) as usize];
                let _ = env.run(&["stop-agent", worker]);
                let _ = env.run(&["start-agent", worker]);
                figures.stop_starts += 1;
            }
        }
    }

    // The team up once more; then everything stored for the workers is let through.
    let status = env.status();
    if status["running"] != true {
        let (ok, restarted) = env.json(&["restart"]);
        assert!(ok, "the team comes back after the chaos: {restarted}");
    }
    for worker in WORKERS {
        if env.agent(worker)["status"] != "running" {
            let (ok, started) = env.json(&["start-agent", worker]);
            assert!(ok, "{worker} starts again: {started}");
        }
    }
    let _ = env.json(&["coordinator", "start"]);
    let stored = |worker: &str| -> Vec<Value> { env.stored_for(worker) };
    let settled = wait_until(120, || {
        WORKERS.iter().all(|w| {
            stored(w).iter().all(|m| {
                // Taken (the scripted agent's transcript shows it), or given up with a reason:
                // `submitted` alone is not the end of a message's way.
                matches!(
                    m["status"].as_str(),
                    Some("consumed" | "acknowledged" | "failed" | "bounced")
                )
            })
        })
    });
    std::thread::sleep(Duration::from_secs(2)); // a few more ticks: nothing more arrives

    // The accounts.
    let events = std::fs::read_to_string(env.logs().join("events.jsonl")).unwrap_or_default();
    let count = |event: &str| {
        let field = format!("\"event\":\"{event}\"");
        events.lines().filter(|l| l.contains(&field)).count()
    };
    let (requeued, retried) = (count("send.requeued"), count("send.retried"));
    let sessions: BTreeMap<&str, String> =
        WORKERS.iter().map(|w| (*w, env.session_of(w))).collect();
    let (mut messages, mut delivered, mut failed) = (0, 0, 0);
    let (mut lost, mut duplicates, mut out_of_order, mut merged) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for worker in WORKERS {
        let received = env.received(&sessions[worker]);
        for text in &received {
            if text.matches("[team-agent-token:").count() != 1 {
                merged += 1;
                problems.push(format!("{worker} got two messages as one turn: {text:?}"));
            }
        }
        let mut last_position = None;
        for message in stored(worker) {
            messages += 1;
            let id = message["message_id"].as_str().unwrap();
            let token = format!("[team-agent-token:{id}]");
            let at: Vec<usize> = received
                .iter()
                .enumerate()
                .filter(|(_, t)| t.contains(&token))
                .map(|(i, _)| i)
                .collect();
            match (message["status"].as_str(), at.as_slice()) {
                (Some("failed" | "bounced"), []) => {
                    failed += 1;
                    if message["error"].as_str().is_none_or(str::is_empty) {
                        problems.push(format!("{id} failed without a reason"));
                    }
                }
                (_, []) => {
                    lost += 1;
                    problems.push(format!(
                        "{id} to {worker} ({}) never arrived",
                        message["status"]
                    ));
                }
                (_, [position]) => {
                    delivered += 1;
                    if let Some((last, older)) = &last_position
                        && position < last
                    {
                        out_of_order += 1;
                        problems.push(format!(
                            "{id} to {worker} arrived before an older message {older}"
                        ));
                    }
                    last_position = Some((*position, id.to_string()));
                }
                (_, more) => {
                    duplicates += more.len() - 1;
                    delivered += 1;
                    problems.push(format!("{id} to {worker} arrived {} times", more.len()));
                }
            }
        }
    }
    // No two workers in one pane, and the tmux server shows one pane per worker.
    let status = env.status();
    let panes: BTreeSet<String> = status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["pane_id"].as_str().map(str::to_string))
        .collect();
    let listed = env.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
    let live_panes = String::from_utf8_lossy(&listed.stdout).lines().count();
    // The store is whole.
    let db = rusqlite::Connection::open_with_flags(
        env.runtime().join("team.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    drop(db);
    eprintln!(
        "chaos figures: seed {seed}; {} rounds, {} sends ({} killed on their way), {} coordinators killed, {} shutdown+restart ({} by two operators at once), {} stop+start; {messages} messages stored: {delivered} delivered ({requeued} typed again after their CLI ended, {retried} after the consume timeout), {failed} failed with a reason; duplicates {duplicates}, lost {lost}, out of order {out_of_order}, merged {merged}; store {integrity}",
        figures.rounds,
        figures.sends,
        figures.killed_sends,
        figures.killed_coordinators,
        figures.restarts,
        figures.concurrent_operators,
        figures.stop_starts,
    );
    assert!(
        settled,
        "messages still waiting after the chaos: {problems:?}"
    );
    if !problems.is_empty() {
        // What the event log says about each message in trouble: the way to the cause.
        for problem in &problems {
            for id in problem.split(' ').filter(|w| w.starts_with("msg_")) {
                eprintln!("events of {id}:");
                for line in events.lines().filter(|l| l.contains(id)) {
                    eprintln!("  {line}");
                }
            }
        }
    }
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    assert_eq!(integrity, "ok");
    assert_eq!(panes.len(), WORKERS.len(), "one pane per worker: {status}");
    assert_eq!(live_panes, WORKERS.len());
    // The last shutdown leaves nothing running.
    let coordinator = status["coordinator"]["pid"].as_u64();
    let socket = status["tmux_socket"].as_str().unwrap().to_string();
    let (ok, down) = env.json(&["shutdown"]);
    assert!(ok, "{down}");
    assert!(
        coordinator.is_none_or(|pid| !alive(pid)),
        "the coordinator outlived shutdown"
    );
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the tmux server outlived shutdown"
    );
}
