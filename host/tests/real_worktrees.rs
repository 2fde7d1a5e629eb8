//! The real Codex and Claude Code CLIs as workers in their own git worktrees (issue 16), against
//! the scripted model: each writes the same new file with its CLI's own shell tool, in its own
//! worktree, and reports; each `diff` shows only its own change; the first merge lands, the
//! second is refused naming the conflict with the base branch and both worktrees as they were;
//! a restart resumes both sessions in their worktrees (same session ids, transcripts whose
//! records say they run there, the conversation carried on); `remove-agent` keeps unmerged work.
//! Never the network (see `real/mod.rs`).
//!
//! ```sh
//! scripts/install-real-clis.sh
//! cargo build --workspace && cargo test -p team-agent --test real_worktrees -- --nocapture
//! ```

mod real;
mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use team_agent_fake_model::Scenario;

use real::{CODEX_ANNOUNCEMENT, RealTeam, Worker};

/// The shell command each worker's model runs: the same new file, different words.
fn write_command(agent: &str) -> String {
    format!("echo {agent} was here > shared.txt")
}

/// `WRITE-<agent>`: the CLI's own shell tool writes `shared.txt`, then the team's
/// `report_result`; a later turn only answers.
fn scenario() -> Scenario {
    let mut rules = Vec::new();
    for agent in ["cx", "cl"] {
        rules.push(json!({"id": format!("write-{agent}"),
            "when": {"user_contains": format!("WRITE-{agent}")},
            "reply": [{"text": "Writing it."}, {"shell": {"command": write_command(agent)}}]}));
    }
    rules.push(
        json!({"id": "wrote", "when": {"after_tool": "exec_command"},
        "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                   "input": {"status": "success", "summary": "wrote shared.txt"}}}]}),
    );
    rules.push(json!({"id": "wrote-cl", "when": {"after_tool": "Bash"},
        "reply": [{"mcp_tool": {"server": "team", "name": "report_result",
                   "input": {"status": "success", "summary": "wrote shared.txt"}}}]}));
    rules.push(
        json!({"id": "reported", "when": {"after_tool": "report_result"},
        "reply": [{"text": "Reported."}]}),
    );
    Scenario::from_json(&json!({"rules": rules, "default": [{"text": "OK."}]}).to_string()).unwrap()
}

use support::git_out as git;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The directories a real CLI's transcript says its session runs in: Codex's `session_meta`
/// and `turn_context` records carry `payload.cwd`, Claude's message records `cwd`.
fn transcript_dirs(path: &Path) -> Vec<PathBuf> {
    read(path)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| {
            r["payload"]["cwd"]
                .as_str()
                .or(r["cwd"].as_str())
                .map(|d| canonical(Path::new(d)))
        })
        .collect()
}

fn worktree_of(team: &RealTeam, agent: &str) -> PathBuf {
    let row = team.agent(agent);
    PathBuf::from(
        row["worktree"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{agent} has a worktree: {row}")),
    )
}

#[test]
fn real_workers_in_their_own_worktrees_write_one_file_merge_once_and_resume_in_place() {
    let agents = ["cx", "cl"];
    let Some(mut team) = RealTeam::new(
        "real_workers_in_their_own_worktrees_write_one_file_merge_once_and_resume_in_place",
        scenario(),
        &[
            Worker::codex("cx").with("auto_approve: [\"echo cx was here > shared.txt\"]\n"),
            Worker::claude("cl").with("auto_approve: [\"echo cl was here > shared.txt\"]\n"),
        ],
    ) else {
        return;
    };
    team.expect_egress(CODEX_ANNOUNCEMENT);
    let ws = team.env.workspace();
    // Who commits: the base, and the workers' uncommitted work when it is merged.
    git(&ws, &["config", "user.name", "test"]);
    git(&ws, &["config", "user.email", "test@example.com"]);
    std::fs::write(ws.join("README.txt"), "the project\n").unwrap();
    git(&ws, &["add", "README.txt"]);
    git(&ws, &["commit", "--quiet", "-m", "base"]);
    let base = git(&ws, &["rev-parse", "--abbrev-ref", "HEAD"]);
    team.team_settings("isolation: worktree\n");
    team.up();
    let dirs: Vec<PathBuf> = agents.iter().map(|a| worktree_of(&team, a)).collect();
    assert_ne!(dirs[0], dirs[1]);
    for (agent, dir) in agents.iter().zip(&dirs) {
        let row = team.agent(agent)["worktree"].clone();
        assert_eq!(row["branch"], format!("team-agent/real/{agent}"), "{row}");
        assert_eq!(row["base"], base.as_str(), "{row}");
        assert!(dir.starts_with(ws.join(".team/worktrees")), "{row}");
    }

    // Both write the same new file at once, each in its own worktree, and report.
    for agent in agents {
        team.send(
            agent,
            &format!("Please WRITE-{agent} now."),
            Some(&format!("t-{agent}")),
        );
    }
    for (agent, dir) in agents.iter().zip(&dirs) {
        let task = format!("t-{agent}");
        let (ok, waited) = team.json(&["wait", "--task", &task, "--timeout", "120"]);
        assert!(ok, "no result for {task}: {waited}\n{}", team.screens());
        assert_eq!(
            read(&dir.join("shared.txt")),
            format!("{agent} was here\n"),
            "{}",
            team.screens()
        );
        // The result knows the code it was reported from.
        let (_, results) = team.json(&["results", "--task", &task]);
        let code = &results["results"][0]["worktree"];
        assert_eq!(
            code["branch"],
            format!("team-agent/real/{agent}"),
            "{results}"
        );
        assert_eq!(code["dirty"], true, "{results}");
        team.wait_agent(agent, 60, |a| {
            a["activity"] == "idle" && a["worktree"]["dirty"] == true
        });
    }
    assert!(
        !ws.join("shared.txt").exists(),
        "the workspace itself is untouched"
    );
    for (agent, other) in [("cx", "cl"), ("cl", "cx")] {
        let (ok, diff) = team.json(&["diff", agent]);
        assert!(ok, "{diff}");
        let patch = diff["diff"].as_str().unwrap();
        assert!(patch.contains(&format!("+{agent} was here")), "{patch}");
        assert!(
            !patch.contains(other),
            "{agent}'s diff shows {other}'s work: {patch}"
        );
    }

    // The first merge lands; the second would conflict on the same file: refused, nothing moved.
    let (ok, merged) = team.json(&["merge", "cx"]);
    assert!(ok, "{merged}");
    assert_eq!(read(&ws.join("shared.txt")), "cx was here\n");
    let head = git(&ws, &["rev-parse", "HEAD"]);
    let cl_head = git(&dirs[1], &["rev-parse", "HEAD"]);
    let (ok, refused) = team.json(&["merge", "cl"]);
    assert!(!ok, "{refused}");
    assert_eq!(refused["reason"], "merge_conflict", "{refused}");
    assert_eq!(refused["conflicts"], json!(["shared.txt"]), "{refused}");
    assert_eq!(git(&ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&ws, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    assert_eq!(read(&ws.join("shared.txt")), "cx was here\n");
    assert_eq!(git(&dirs[1], &["rev-parse", "HEAD"]), cl_head);
    assert_eq!(read(&dirs[1].join("shared.txt")), "cl was here\n");

    // A restart resumes both sessions where they ran: their own worktrees.
    let sessions: Vec<String> = agents
        .iter()
        .map(|a| team.agent(a)["session_id"].as_str().unwrap().to_string())
        .collect();
    let (ok, down) = team.json(&["shutdown"]);
    assert!(ok, "{down}");
    let (ok, up) = team.json(&["restart"]);
    assert!(ok, "{up}");
    for ((agent, dir), session) in agents.iter().zip(&dirs).zip(&sessions) {
        let row = team.wait_agent(agent, 90, |a| a["status"] == "running");
        assert_eq!(row["session_id"].as_str(), Some(session.as_str()), "{row}");
        assert_eq!(
            PathBuf::from(row["worktree"]["path"].as_str().unwrap()),
            *dir
        );
        team.send(agent, &format!("AFTER-RESTART-{agent}: still there?"), None);
        assert!(
            team.wait_request(90, |r| r
                .user_texts()
                .iter()
                .any(|t| t.contains(&format!("AFTER-RESTART-{agent}")))
                && r.user_texts()
                    .iter()
                    .any(|t| t.contains(&format!("WRITE-{agent}")))),
            "{agent}'s resumed turn does not carry its first one\n{}",
            team.screens()
        );
        let row = team.wait_agent(agent, 60, |a| {
            a["turn"]["state"] == "idle" && a["transcript_path"].is_string()
        });
        let transcript = PathBuf::from(row["transcript_path"].as_str().unwrap());
        let ran_in = transcript_dirs(&transcript);
        assert!(
            !ran_in.is_empty() && ran_in.iter().all(|d| *d == canonical(dir)),
            "{agent}'s transcript {} says it ran in {ran_in:?}, not {}",
            transcript.display(),
            dir.display()
        );
    }

    // Unmerged work keeps its worktree.
    assert!(team.json(&["stop-agent", "cl"]).0);
    let (ok, refused) = team.json(&["remove-agent", "cl"]);
    assert!(!ok && refused["reason"] == "unmerged_work", "{refused}");
    assert_eq!(read(&dirs[1].join("shared.txt")), "cl was here\n");
    team.assert_no_egress();
}
