//! Several teams in one workspace, end to end with scripted workers: each with its own tmux
//! server, coordinator and state under `.team/runtime/teams/<team>/`; commands pick a team with
//! `--team`, or refuse listing them; messages, results and ownership stay in their team; a
//! restart of one leaves the other running; a workspace of the single-team layout of earlier
//! versions is moved into the new one without loss.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// `init NAME` (the team is named after its directory) with quick ticks.
fn define(env: &TeamEnv, name: &str) {
    assert!(env.run(&["init", name]).status.success());
    let team = env.workspace().join(name).join("TEAM.md");
    let text = std::fs::read_to_string(&team)
        .unwrap()
        .replace("tick_interval_sec: 2", "tick_interval_sec: 0.5");
    std::fs::write(&team, text).unwrap();
}

fn runtime(env: &TeamEnv, team: &str) -> std::path::PathBuf {
    env.workspace().join(".team/runtime/teams").join(team)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn row<'a>(status: &'a Value, team: &str) -> &'a Value {
    status["teams"]
        .as_array()
        .unwrap_or_else(|| panic!("status lists teams: {status}"))
        .iter()
        .find(|t| t["team"] == team)
        .unwrap_or_else(|| panic!("no team {team} in {status}"))
}

fn sessions(status: &Value) -> Vec<String> {
    status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["session_id"].as_str().unwrap_or("-").to_string())
        .collect()
}

#[test]
fn two_teams_run_side_by_side_and_nothing_crosses_between_them() {
    let env = TeamEnv::new();
    let panes = Panes::new(&env);
    define(&env, "alpha");
    define(&env, "beta");
    let (ok, up) = panes.run(&env, &panes.a, &["up", "alpha"]);
    assert!(ok, "{up}");
    let (ok, up) = panes.run(&env, &panes.b, &["up", "beta"]);
    assert!(ok, "{up}");
    // Each has its own state, server and coordinator.
    for team in ["alpha", "beta"] {
        assert!(runtime(&env, team).join("state.json").is_file());
        assert!(runtime(&env, team).join("coordinator.pid").is_file());
    }
    let (ok, all) = env.json(&["status"]);
    assert!(ok, "{all}");
    assert_ne!(
        row(&all, "alpha")["tmux_socket"],
        row(&all, "beta")["tmux_socket"]
    );
    for team in ["alpha", "beta"] {
        assert_eq!(row(&all, team)["coordinator"]["status"], "running", "{all}");
        assert_eq!(row(&all, team)["agents"].as_array().unwrap().len(), 2);
    }

    // Without --team a command that acts on a team is refused, naming both.
    let (ok, refused) = env.json(&["send", "alice", "hello"]);
    assert!(!ok && refused["reason"] == "several_teams", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("alpha") && error.contains("beta"), "{error}");
    assert!(refused["action"].as_str().unwrap().contains("--team"));
    let (ok, unknown) = env.json(&["--team", "gamma", "status"]);
    assert!(!ok && unknown["reason"] == "unknown_team", "{unknown}");

    // Each team's alice reports into her own team only.
    for team in ["alpha", "beta"] {
        let (ok, sent) = env.json(&[
            "send",
            "--team",
            team,
            "alice",
            &format!("@scripted report success done in {team}"),
            "--task",
            &format!("t-{team}"),
        ]);
        assert!(ok, "{sent}");
    }
    for team in ["alpha", "beta"] {
        let (ok, waited) = env.json(&[
            "wait",
            "--team",
            team,
            "--task",
            &format!("t-{team}"),
            "--timeout",
            "20",
        ]);
        assert!(ok, "{waited}");
        let (_, results) = env.json(&["results", "--team", team]);
        let tasks: Vec<&str> = results["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["task_id"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(tasks, [format!("t-{team}").as_str()], "{results}");
        // Nothing of the other team's task in this team's event log.
        let events = read(
            &env.workspace()
                .join(".team/logs/teams")
                .join(team)
                .join("events.jsonl"),
        );
        let other = if team == "alpha" { "beta" } else { "alpha" };
        assert!(events.contains(&format!("t-{team}")), "{events}");
        assert!(
            !events.contains(&format!("t-{other}")),
            "{team} saw {other}'s task"
        );
    }
    // A task of one team is never waited for in the other.
    let (ok, _) = env.json(&[
        "wait",
        "--team",
        "beta",
        "--task",
        "t-alpha",
        "--timeout",
        "1",
    ]);
    assert!(!ok, "beta's wait found alpha's result");

    // Ownership is per team: each pane owns the team it started, and only that one.
    let (ok, refused) = panes.run(&env, &panes.b, &["send", "--team", "alpha", "bob", "hi"]);
    assert!(
        !ok && refused["reason"] == "team_owner_mismatch",
        "{refused}"
    );
    assert!(
        panes
            .run(&env, &panes.b, &["send", "--team", "beta", "bob", "hi"])
            .0
    );
    assert!(
        panes
            .run(&env, &panes.a, &["send", "--team", "alpha", "bob", "hi"])
            .0
    );

    // A restart of one leaves the other running.
    let (_, beta) = env.json(&["status", "--team", "beta"]);
    let (_, alpha) = env.json(&["status", "--team", "alpha"]);
    assert!(
        panes
            .run(&env, &panes.a, &["shutdown", "--team", "alpha"])
            .0
    );
    let (_, still) = env.json(&["status", "--team", "beta"]);
    assert_eq!(still["coordinator"]["status"], "running", "{still}");
    assert!(
        still["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "running")
    );
    assert_eq!(sessions(&still), sessions(&beta));
    // With one team running, a command without --team acts on it.
    let (ok, sent) = env.json(&[
        "send",
        "bob",
        "@scripted report success only beta",
        "--task",
        "t-b2",
    ]);
    assert!(ok, "{sent}");
    assert!(
        env.json(&[
            "wait",
            "--team",
            "beta",
            "--task",
            "t-b2",
            "--timeout",
            "20"
        ])
        .0
    );
    let (ok, again) = panes.run(&env, &panes.a, &["restart", "--team", "alpha"]);
    assert!(ok, "{again}");
    let (_, alpha_again) = env.json(&["status", "--team", "alpha"]);
    assert_eq!(
        sessions(&alpha_again),
        sessions(&alpha),
        "alpha resumed its sessions"
    );
    let (_, beta_again) = env.json(&["status", "--team", "beta"]);
    assert_eq!(sessions(&beta_again), sessions(&beta));
    assert!(
        panes
            .run(&env, &panes.a, &["shutdown", "--team", "alpha"])
            .0
    );
    assert!(panes.run(&env, &panes.b, &["shutdown", "--team", "beta"]).0);
}

/// Moves a team's files back into the single-team layout of earlier versions.
fn to_legacy_layout(env: &TeamEnv, team: &str) {
    let ws = env.workspace();
    for (from, to) in [
        (runtime(env, team), ws.join(".team/runtime")),
        (
            ws.join(".team/logs/teams").join(team),
            ws.join(".team/logs"),
        ),
    ] {
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "locks" {
                continue;
            }
            std::fs::rename(entry.path(), to.join(&name)).unwrap();
        }
        std::fs::remove_dir_all(&from).unwrap();
    }
    // The earlier layout also kept a copy of its state under teams/<team>/.
    std::fs::create_dir_all(runtime(env, team)).unwrap();
    std::fs::copy(
        ws.join(".team/runtime/state.json"),
        runtime(env, team).join("state.json"),
    )
    .unwrap();
}

#[test]
fn a_workspace_of_the_single_team_layout_is_moved_into_the_new_one_without_loss() {
    let env = TeamEnv::new();
    define(&env, "team");
    assert!(env.json(&["up", "team"]).0);
    assert!(
        env.json(&[
            "send",
            "alice",
            "@scripted report success before",
            "--task",
            "t1"
        ])
        .0
    );
    assert!(env.json(&["wait", "--task", "t1", "--timeout", "20"]).0);
    let (_, before) = env.json(&["status"]);
    let (_, results_before) = env.json(&["results"]);
    assert!(env.json(&["shutdown"]).0);
    to_legacy_layout(&env, "team");
    let ws = env.workspace();
    assert!(ws.join(".team/runtime/state.json").is_file());
    assert!(ws.join(".team/runtime/team.db").is_file());

    // Read in place while it is there: the results and the team as they were.
    let (ok, results) = env.json(&["results"]);
    assert!(ok, "{results}");
    assert_eq!(results["results"], results_before["results"]);
    // Restarted, it moves into its own directories and resumes the same sessions.
    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
    assert!(!ws.join(".team/runtime/state.json").exists());
    assert!(!ws.join(".team/runtime/team.db").exists());
    assert!(runtime(&env, "team").join("team.db").is_file());
    assert!(ws.join(".team/logs/teams/team/events.jsonl").is_file());
    let (_, after) = env.json(&["status"]);
    assert_eq!(sessions(&after), sessions(&before));
    let (_, results) = env.json(&["results"]);
    assert_eq!(
        results["results"], results_before["results"],
        "no result lost"
    );
    assert!(
        env.json(&[
            "send",
            "bob",
            "@scripted report success after",
            "--task",
            "t2"
        ])
        .0
    );
    assert!(env.json(&["wait", "--task", "t2", "--timeout", "20"]).0);
    // A second team joins beside it.
    define(&env, "other");
    assert!(env.json(&["up", "other"]).0);
    let (_, all) = env.json(&["status"]);
    assert_eq!(all["teams"].as_array().map(Vec::len), Some(2), "{all}");
    assert!(env.json(&["shutdown", "--team", "other"]).0);
    assert!(env.json(&["shutdown", "--team", "team"]).0);
}
