//! `team-agent demo`: a real team of three scripted workers in a temporary workspace, each given
//! a task, their results collected, then shut down. No network, no API key.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{Reply, UserError};
use crate::lifecycle::{self, Context};
use crate::messaging::{self, LEADER, Messenger};
use crate::plugins::Registry;
use crate::workspace::Workspace;

const WORKERS: [(&str, &str, &str); 3] = [
    ("alice", "implementer", "implemented the parser"),
    ("bob", "tester", "wrote 12 tests, all green"),
    ("carol", "reviewer", "reviewed the change: two nits"),
];

fn write_team(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("agents"))?;
    std::fs::write(
        dir.join("TEAM.md"),
        "---\nname: demo\nobjective: Show team-agent running three scripted workers.\nprovider: claude\ndisplay_backend: none\ntick_interval_sec: 1\n---\nA demo team.\n",
    )?;
    for (id, role, _) in WORKERS {
        std::fs::write(
            dir.join("agents").join(format!("{id}.md")),
            format!(
                "---\nname: {id}\nrole: {role}\nprovider: scripted\nprovider_options:\n  work_ms: 400\n---\nYou are the demo's {role}.\n"
            ),
        )?;
    }
    Ok(())
}

pub fn demo(keep: bool) -> anyhow::Result<Reply> {
    let started = Instant::now();
    let root = tempfile_dir()?;
    let home = root.join("home");
    let ws_dir = root.join("workspace");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&ws_dir)?;
    // SAFETY: no other thread runs yet. The demo's workers keep their transcripts in a
    // temporary HOME, so nothing lands in the operator's own.
    unsafe { std::env::set_var("HOME", &home) };
    let workspace = Workspace::resolve(Some(&ws_dir))?;
    let team_dir = workspace.root().join("team");
    write_team(&team_dir)?;
    let registry = Registry::load(Some(workspace.root()));
    let spec =
        crate::spec::load(&team_dir, workspace.root(), &registry.catalog()).map_err(|d| {
            UserError::new(
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
    out!(
        "team-agent demo: three scripted workers in {}",
        workspace.root().display()
    );
    let progress = |line: &str| out!("  {line}");
    let ctx = Context::new(&workspace, &registry, &progress);
    let options = lifecycle::UpOptions {
        yes: true,
        fresh: false,
        bind_leader: false,
        display: Some("none".into()),
    };
    let up = lifecycle::up(&ctx, &spec, &options).map_err(super::lifecycle_cmd::user_error)?;
    out!(
        "team up in {:.2}s (tmux session {}); giving each worker a task…",
        started.elapsed().as_secs_f64(),
        up.session_name
    );
    let messenger =
        Messenger::open(&workspace, &registry).map_err(|e| UserError::new(e.to_string()))?;
    give_tasks(&messenger)?;
    let reported = await_results(&messenger)?;
    print_table(&ctx, &reported)?;
    let ok = reported.len() == WORKERS.len() && reported.iter().all(|r| r.status == "success");
    if keep {
        out!(
            "\nkept running. look: tmux -S {} attach -t {}\nthen: team-agent --workspace {} status | shutdown",
            up.tmux_socket.display(),
            up.session_name,
            workspace.root().display()
        );
    } else {
        lifecycle::shutdown(&ctx).map_err(super::lifecycle_cmd::user_error)?;
        let _ = std::fs::remove_dir_all(&root);
        out!(
            "\nteam shut down, no process left; the temporary workspace is removed (`team-agent demo --keep` keeps it)"
        );
    }
    let line = if ok {
        format!(
            "demo ok: {} workers, {} results, {:.1}s",
            WORKERS.len(),
            reported.len(),
            started.elapsed().as_secs_f64()
        )
    } else {
        format!(
            "demo failed: {} of {} results arrived",
            reported.len(),
            WORKERS.len()
        )
    };
    Ok(Reply::new(
        ok,
        json!({"ok": ok, "workspace": workspace.root().to_string_lossy(), "results": reported, "kept": keep}),
        line,
    ))
}

/// One task per worker, each a scripted sleep and a report.
fn give_tasks(messenger: &Messenger<'_>) -> anyhow::Result<()> {
    for (i, (id, _, summary)) in WORKERS.iter().enumerate() {
        let task = format!("demo-{}", i + 1);
        let content = format!(
            "Please take task {task}.\n@scripted sleep 1\n@scripted report success {summary}"
        );
        let sent = messaging::send(
            messenger,
            LEADER,
            &[id.to_string()],
            Some(&task),
            &content,
            true,
        )
        .map_err(|e| UserError::new(e.to_string()))?;
        out!("  sent {task} to {id}: {}", sent[0].status);
    }
    Ok(())
}

/// The workers' results as they arrive, for up to 90 s.
fn await_results(messenger: &Messenger<'_>) -> anyhow::Result<Vec<crate::store::ResultRow>> {
    let team = messenger
        .team()
        .map_err(|e| UserError::new(e.to_string()))?;
    let mut reported: Vec<crate::store::ResultRow> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while reported.len() < WORKERS.len() && Instant::now() < deadline {
        for i in 0..WORKERS.len() {
            let task = format!("demo-{}", i + 1);
            if reported.iter().any(|r| r.task_id == task) {
                continue;
            }
            if let Some(row) = messenger
                .store
                .latest_result(&team.name, &task)
                .map_err(|e| UserError::new(e.to_string()))?
            {
                out!(
                    "  result from {} on {}: {} — {}",
                    row.agent_id,
                    task,
                    row.status,
                    row.envelope["summary"].as_str().unwrap_or("")
                );
                reported.push(row);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(reported)
}

/// Each worker's task, result and session.
fn print_table(ctx: &Context<'_>, reported: &[crate::store::ResultRow]) -> anyhow::Result<()> {
    let status = lifecycle::status(ctx, None, &Default::default())
        .map_err(super::lifecycle_cmd::user_error)?;
    out!(
        "
  AGENT    ROLE         TASK     RESULT    SESSION"
    );
    for (i, (id, role, _)) in WORKERS.iter().enumerate() {
        let task = format!("demo-{}", i + 1);
        let result = reported
            .iter()
            .find(|r| r.task_id == task)
            .map(|r| r.status.as_str())
            .unwrap_or("missing");
        let session = status
            .agents
            .iter()
            .find(|a| a.id == *id)
            .and_then(|a| a.session_id.clone())
            .unwrap_or_default();
        out!("  {id:<8} {role:<12} {task:<8} {result:<9} {session}");
    }
    Ok(())
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!("team-agent-demo-{}-{attempt}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    Err(std::io::Error::other(
        "cannot create a temporary directory for the demo",
    ))
}
