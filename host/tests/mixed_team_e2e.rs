//! A mixed team — one Codex, one Claude and one scripted worker — through up → send → result →
//! shutdown → restart with the same session ids, on real tmux with the real provider plugins. The
//! `codex` and `claude` on PATH are the test stand-ins (`ta-standin`), which draw the real CLIs'
//! screens (including their trust dialogs) and write real-format transcripts under HOME.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use support::*;

fn standin_path(env: &TeamEnv) -> String {
    let bin = env.scratch.path().join("standin-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let standin = bundled_dir().join("ta-standin");
    assert!(
        standin.exists(),
        "{} is missing: run `cargo build --workspace`",
        standin.display()
    );
    for name in ["codex", "claude"] {
        let link: PathBuf = bin.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(&standin, &link).unwrap();
        }
    }
    format!(
        "{}:{}:{}",
        bin.display(),
        bundled_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn team_agent(env: &TeamEnv, args: &[&str]) -> (bool, serde_json::Value) {
    let mut cmd = env.command();
    cmd.env("PATH", standin_path(env))
        .env("TA_STANDIN_TRUST", "1")
        .args(args)
        .arg("--json");
    let out = cmd.output().unwrap();
    (out.status.success(), json(&out))
}

fn sessions(env: &TeamEnv) -> BTreeMap<String, Option<String>> {
    let (_, status) = team_agent(env, &["status"]);
    status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["session_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn a_codex_a_claude_and_a_scripted_worker_go_up_report_and_resume_the_same_sessions() {
    let env = TeamEnv::new();
    let team = env.workspace().join("mixed");
    std::fs::create_dir_all(team.join("agents")).unwrap();
    std::fs::write(
        team.join("TEAM.md"),
        "---\nname: mixed\nprovider: claude\ntick_interval_sec: 0.5\n---\nA mixed team.\n",
    )
    .unwrap();
    for (id, provider) in [("cx", "codex"), ("cl", "claude"), ("sc", "scripted")] {
        std::fs::write(
            team.join("agents").join(format!("{id}.md")),
            format!("---\nname: {id}\nrole: worker\nprovider: {provider}\n---\nYou are {id}.\n"),
        )
        .unwrap();
    }
    let (ok, up) = team_agent(&env, &["up", "mixed"]);
    assert!(ok, "{up}");
    for agent in up["agents"].as_array().unwrap() {
        assert_eq!(
            agent["status"], "running",
            "{agent}: its trust dialog was answered and it reached its prompt"
        );
    }
    let (_, status) = team_agent(&env, &["status"]);
    let codex = status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "cx")
        .unwrap()
        .clone();
    assert_eq!(
        codex["capture_state"], "pending_first_turn",
        "Codex writes its transcript at the first message"
    );
    assert!(codex["session_id"].is_null());

    for id in ["cx", "cl", "sc"] {
        let task = format!("mixed-{id}");
        let (ok, sent) = team_agent(
            &env,
            &[
                "send",
                id,
                &format!("Task for {id}.\n@scripted report success {id} done"),
                "--task",
                &task,
            ],
        );
        assert!(ok, "{sent}");
        let (ok, result) = team_agent(&env, &["wait", "--task", &task, "--timeout", "60"]);
        assert!(ok, "no result from {id}: {result}");
        assert_eq!(result["envelope"]["agent_id"], id);
    }
    assert!(
        wait_until(30, || sessions(&env).values().all(Option::is_some)),
        "every session captured after its first message: {:?}",
        sessions(&env)
    );
    let before = sessions(&env);

    assert!(team_agent(&env, &["shutdown"]).0);
    let (ok, restarted) = team_agent(&env, &["restart"]);
    assert!(ok, "{restarted}");
    for agent in restarted["agents"].as_array().unwrap() {
        assert_eq!(agent["restart_mode"], "resumed", "{agent}");
    }
    assert!(
        wait_until(30, || sessions(&env) == before),
        "the same sessions resumed: {:?} vs {before:?}",
        sessions(&env)
    );
    assert!(team_agent(&env, &["shutdown"]).0);
}

/// The coordinator maps in only the providers its team uses; a worker of another provider added
/// later makes it start again with that one (same pid), and the new worker is served.
#[test]
fn a_worker_of_a_new_provider_added_later_is_served_by_the_coordinator() {
    let env = TeamEnv::new();
    assert!(team_agent(&env, &["init", "team"]).0);
    let (ok, up) = team_agent(&env, &["up", "team"]);
    assert!(ok, "{up}");
    let pid = up["coordinator"]["pid"].as_u64().unwrap();
    std::fs::write(
        env.workspace().join("cx.md"),
        "---\nname: cx\nrole: worker\nprovider: codex\n---\nYou are cx.\n",
    )
    .unwrap();
    let (ok, added) = team_agent(&env, &["add-agent", "cx", "--role-file", "cx.md"]);
    assert!(ok, "{added}");
    let events = || std::fs::read_to_string(env.logs().join("events.jsonl")).unwrap();
    assert!(
        wait_until(15, || events().contains("coordinator.reload")),
        "the coordinator reloads for the codex worker"
    );
    let (ok, sent) = team_agent(
        &env,
        &[
            "send",
            "cx",
            "Task.\n@scripted report success cx done",
            "--task",
            "late-cx",
        ],
    );
    assert!(ok, "{sent}");
    let (ok, result) = team_agent(&env, &["wait", "--task", "late-cx", "--timeout", "60"]);
    assert!(ok, "{result}");
    let (_, status) = team_agent(&env, &["status"]);
    assert_eq!(
        status["coordinator"]["pid"].as_u64(),
        Some(pid),
        "the same process"
    );
    assert_eq!(status["coordinator"]["status"], "running");
}
