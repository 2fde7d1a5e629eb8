//! Workers in their own git worktrees, end to end with real git and scripted workers: two
//! workers edit one file at once, each diff shows only its own change, the first merge lands and
//! the second is refused naming the conflict with nothing changed; a restart resumes both in
//! their worktrees; remove-agent keeps unmerged work; validate refuses what cannot work; a
//! worktree deleted by hand is reported and recreated; setup commands run once and a failing
//! one holds only its worker; a fork starts from its source's work.

mod support;

use std::path::{Path, PathBuf};

use support::*;

use support::git_out as git;

/// The workspace as a git repository on `main` with one commit of `a.txt`.
fn repository(env: &TeamEnv) {
    let ws = env.workspace();
    git(&ws, &["init", "--quiet", "-b", "main"]);
    git(&ws, &["config", "user.email", "test@example.com"]);
    git(&ws, &["config", "user.name", "test"]);
    std::fs::write(ws.join("a.txt"), "line one\nshared line\n").unwrap();
    git(&ws, &["add", "a.txt"]);
    git(&ws, &["commit", "--quiet", "-m", "base"]);
}

/// The starter team with quick ticks, `team` lines at the top of TEAM.md's front matter and
/// `roles` lines (agent, text) in role files, after their provider.
fn team(env: &TeamEnv, team: &str, roles: &[(&str, &str)]) {
    assert!(env.run(&["init", "team"]).status.success());
    let dir = env.workspace().join("team");
    let text = std::fs::read_to_string(dir.join("TEAM.md"))
        .unwrap()
        .replacen("---\n", &format!("---\n{team}"), 1)
        .replace("tick_interval_sec: 2", "tick_interval_sec: 0.5");
    std::fs::write(dir.join("TEAM.md"), text).unwrap();
    for (agent, lines) in roles {
        let path = dir.join(format!("agents/{agent}.md"));
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "provider: scripted\n",
            &format!("provider: scripted\n{lines}"),
        );
        std::fs::write(path, text).unwrap();
    }
}

fn up(env: &TeamEnv) -> serde_json::Value {
    let (ok, up) = env.json(&["up", "team"]);
    assert!(ok, "up failed: {up}");
    up
}

fn worktree_row(env: &TeamEnv, id: &str) -> serde_json::Value {
    env.agent(id)["worktree"].clone()
}

fn worktree_of(env: &TeamEnv, id: &str) -> PathBuf {
    let row = worktree_row(env, id);
    PathBuf::from(
        row["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has a worktree: {row}")),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_idle(env: &TeamEnv, id: &str) {
    let mut last = serde_json::Value::Null;
    let idle = wait_until(20, || {
        last = env.agent(id);
        last["activity"] == "idle"
    });
    assert!(idle, "{id} never became idle: {last}");
}

/// The directory a scripted session says it runs in (its transcript's first record).
fn session_cwd(env: &TeamEnv, session: &str) -> PathBuf {
    let first = read(&env.transcript(session))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let meta: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    PathBuf::from(
        meta["cwd"]
            .as_str()
            .unwrap_or_else(|| panic!("no cwd in {first}")),
    )
}

fn same_dir(a: &Path, b: &Path) -> bool {
    std::fs::canonicalize(a).unwrap() == std::fs::canonicalize(b).unwrap()
}

#[test]
fn two_workers_edit_one_file_in_their_own_worktrees_and_only_the_first_merge_lands() {
    let env = TeamEnv::new();
    repository(&env);
    team(&env, "isolation: worktree\n", &[]);
    up(&env);
    let ws = env.workspace();
    let (alice_dir, bob_dir) = (worktree_of(&env, "alice"), worktree_of(&env, "bob"));
    assert_ne!(alice_dir, bob_dir);
    assert_eq!(
        worktree_row(&env, "alice")["branch"],
        "team-agent/team/alice"
    );
    assert_eq!(worktree_row(&env, "alice")["base"], "main");
    // The workspace's own status never lists the worktrees.
    assert!(!git(&ws, &["status", "--porcelain", "-uall"]).contains("worktrees"));
    // Both edit the same line of the same file at once, each in its own worktree.
    for (id, task) in [("alice", "t-alice"), ("bob", "t-bob")] {
        let text = format!(
            "@scripted write a.txt {id} was here\n@scripted report success {id} edited a.txt"
        );
        assert!(env.json(&["send", id, &text, "--task", task]).0);
    }
    assert!(wait_until(20, || read(&alice_dir.join("a.txt"))
        == "alice was here\n"
        && read(&bob_dir.join("a.txt")) == "bob was here\n"));
    assert_eq!(read(&ws.join("a.txt")), "line one\nshared line\n");
    wait_idle(&env, "alice");
    wait_idle(&env, "bob");
    assert_eq!(worktree_row(&env, "bob")["dirty"], true);
    assert_eq!(worktree_row(&env, "bob")["ahead"], 0);
    // The results know the code: branch, head, uncommitted changes; so does the leader's notice.
    assert!(env.json(&["wait", "--task", "t-bob", "--timeout", "20"]).0);
    let (_, results) = env.json(&["results", "--task", "t-bob"]);
    let code = &results["results"][0]["worktree"];
    assert_eq!(code["branch"], "team-agent/team/bob", "{results}");
    assert_eq!(
        code["head"].as_str(),
        Some(git(&bob_dir, &["rev-parse", "HEAD"]).as_str())
    );
    assert_eq!(code["dirty"], true, "{results}");
    assert!(wait_until(10, || read(
        &env.runtime().join("leader-inbox.log")
    )
    .contains("Code: branch team-agent/team/bob")));
    // Each diff shows its own change only.
    let (ok, diff) = env.json(&["diff", "alice"]);
    assert!(ok, "{diff}");
    let patch = diff["diff"].as_str().unwrap();
    assert!(
        patch.contains("+alice was here") && !patch.contains("bob"),
        "{patch}"
    );
    assert_eq!(diff["uncommitted"], true);
    assert_eq!(diff["files"], serde_json::json!(["a.txt"]));
    let (_, stat) = env.json(&["diff", "bob", "--stat"]);
    assert!(stat["diff"].as_str().unwrap().contains("a.txt"), "{stat}");

    // A worker mid-turn is not merged.
    assert!(env.json(&["send", "alice", "@scripted sleep 6"]).0);
    assert!(wait_until(10, || env.agent("alice")["activity"] == "working"));
    let (ok, busy) = env.json(&["merge", "alice"]);
    assert!(!ok && busy["reason"] == "worker_busy", "{busy}");
    wait_idle(&env, "alice");

    // The first merge lands: alice's uncommitted change committed, then merged into main.
    let before = git(&ws, &["rev-parse", "HEAD"]);
    let (ok, merged) = env.json(&["merge", "alice"]);
    assert!(ok, "{merged}");
    assert_eq!(merged["merged"], true);
    assert!(merged["committed"].is_string(), "{merged}");
    assert_eq!(read(&ws.join("a.txt")), "alice was here\n");
    assert_ne!(git(&ws, &["rev-parse", "HEAD"]), before);
    assert!(
        git(&ws, &["log", "-2", "--format=%s"]).contains("alice's uncommitted work (task t-alice)")
    );
    assert_eq!(worktree_row(&env, "alice")["dirty"], false);

    // The second would conflict: refused, naming the file, and nothing moved.
    let head = git(&ws, &["rev-parse", "HEAD"]);
    let bob_head = git(&bob_dir, &["rev-parse", "HEAD"]);
    let (ok, refused) = env.json(&["merge", "bob"]);
    assert!(!ok, "{refused}");
    assert_eq!(refused["reason"], "merge_conflict", "{refused}");
    assert_eq!(
        refused["conflicts"],
        serde_json::json!(["a.txt"]),
        "{refused}"
    );
    assert!(refused["error"].as_str().unwrap().contains("a.txt"));
    assert_eq!(git(&ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&ws, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    assert_eq!(git(&ws, &["ls-files", "--unmerged"]), "");
    assert_eq!(read(&ws.join("a.txt")), "alice was here\n");
    assert_eq!(git(&bob_dir, &["rev-parse", "HEAD"]), bob_head);
    assert_eq!(read(&bob_dir.join("a.txt")), "bob was here\n");
    assert_eq!(git(&bob_dir, &["status", "--porcelain"]), "M a.txt");
    // After alice's merge bob's diff is still only his own change.
    let (_, diff) = env.json(&["diff", "bob"]);
    assert!(!diff["diff"].as_str().unwrap().contains("alice"), "{diff}");

    // Restart resumes both, each in its own worktree, with its own transcript.
    let sessions: Vec<String> = ["alice", "bob"]
        .iter()
        .map(|id| env.session_of(id))
        .collect();
    assert!(env.json(&["shutdown"]).0);
    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
    for (id, session) in ["alice", "bob"].iter().zip(&sessions) {
        let row = env.agent(id);
        assert_eq!(row["session_id"].as_str(), Some(session.as_str()), "{row}");
        assert_eq!(
            PathBuf::from(row["worktree"]["path"].as_str().unwrap()),
            worktree_of(&env, id)
        );
        assert!(same_dir(
            &session_cwd(&env, session),
            &worktree_of(&env, id)
        ));
        assert_eq!(
            row["transcript_path"].as_str().map(PathBuf::from),
            Some(env.transcript(session))
        );
    }
    let (ok, sent) = env.json(&[
        "send",
        "bob",
        "still there?",
        "--wait",
        "consumed",
        "--timeout",
        "30",
    ]);
    assert!(ok, "{sent}");
    assert_eq!(
        times_arrived(
            &env.received(&sessions[1]),
            sent["message_id"].as_str().unwrap()
        ),
        1
    );
    assert_eq!(read(&bob_dir.join("a.txt")), "bob was here\n");

    // Unmerged work keeps its worktree: remove-agent refuses and says how to go on.
    assert!(env.json(&["stop-agent", "bob"]).0);
    let (ok, refused) = env.json(&["remove-agent", "bob"]);
    assert!(!ok && refused["reason"] == "unmerged_work", "{refused}");
    assert!(
        refused["action"]
            .as_str()
            .unwrap()
            .contains("team-agent merge bob")
    );
    assert_eq!(read(&bob_dir.join("a.txt")), "bob was here\n");
    // Merged work goes, its branch stays.
    let (ok, removed) = env.json(&["remove-agent", "alice", "--force"]);
    assert!(ok, "{removed}");
    assert!(!alice_dir.exists());
    assert!(git(&ws, &["branch", "--list", "team-agent/team/alice"]).contains("alice"));
}

#[test]
fn validate_refuses_worktree_isolation_without_a_repository_and_with_a_base_that_does_not_exist() {
    let env = TeamEnv::new();
    team(&env, "isolation: worktree\n", &[]);
    let (ok, report) = env.json(&["validate", "team"]);
    assert!(!ok, "{report}");
    let errors = report["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        assert!(
            error["file"].as_str().unwrap().ends_with("TEAM.md"),
            "{error}"
        );
        assert_eq!(error["path"], "/isolation", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("git init"),
            "{error}"
        );
    }
    repository(&env);
    assert!(env.json(&["validate", "team"]).0);
    let role = env.workspace().join("team/agents/bob.md");
    let text = read(&role).replace(
        "provider: scripted\n",
        "provider: scripted\nworktree_base: no-such-branch\n",
    );
    std::fs::write(&role, text).unwrap();
    let (ok, report) = env.json(&["validate", "team"]);
    assert!(!ok, "{report}");
    let error = &report["errors"][0];
    assert!(
        error["file"].as_str().unwrap().ends_with("bob.md"),
        "{error}"
    );
    assert_eq!(error["path"], "/worktree_base", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("no-such-branch") && message.contains("main"),
        "{message}"
    );
    assert_eq!(
        report["errors"].as_array().unwrap().len(),
        1,
        "only bob's base: {report}"
    );
}

#[test]
fn a_worktree_deleted_by_hand_is_reported_and_start_agent_recreates_it_from_its_branch() {
    let env = TeamEnv::new();
    repository(&env);
    team(&env, "", &[("alice", "isolation: worktree\n")]);
    up(&env);
    assert!(
        env.agent("bob")["worktree"].is_null(),
        "bob has no isolation"
    );
    let dir = worktree_of(&env, "alice");
    std::fs::write(dir.join("kept.txt"), "committed\n").unwrap();
    git(&dir, &["add", "kept.txt"]);
    git(&dir, &["commit", "--quiet", "-m", "alice's commit"]);
    assert_eq!(worktree_row(&env, "alice")["ahead"], 1);
    let session = env.session_of("alice");
    assert!(env.json(&["stop-agent", "alice"]).0);
    std::fs::remove_dir_all(&dir).unwrap();
    let row = worktree_row(&env, "alice");
    assert_eq!(row["exists"], false, "{row}");
    let text = stdout(&env.run(&["status"]));
    assert!(
        text.contains("is gone") && text.contains("start-agent alice"),
        "{text}"
    );
    let (ok, started) = env.json(&["start-agent", "alice"]);
    assert!(ok, "{started}");
    assert_eq!(started["action"], "resumed", "{started}");
    assert_eq!(env.session_of("alice"), session);
    assert_eq!(read(&dir.join("kept.txt")), "committed\n");
    assert_eq!(worktree_row(&env, "alice")["exists"], true);
    // reset-agent keeps the branch; with --discard-changes it goes back to its base.
    std::fs::write(dir.join("scratch.txt"), "uncommitted\n").unwrap();
    assert!(env.json(&["reset-agent", "alice", "--discard-session"]).0);
    assert_eq!(worktree_row(&env, "alice")["ahead"], 1);
    assert!(dir.join("scratch.txt").exists());
    let (ok, reset) = env.json(&[
        "reset-agent",
        "alice",
        "--discard-session",
        "--discard-changes",
    ]);
    assert!(ok, "{reset}");
    assert_eq!(worktree_row(&env, "alice")["ahead"], 0);
    assert!(!dir.join("kept.txt").exists() && !dir.join("scratch.txt").exists());
    // What was discarded can be had back by the commit the answer names.
    let message = reset["message"].as_str().unwrap();
    let commit = message
        .split("is the commit ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let files = git(&env.workspace(), &["ls-tree", "--name-only", commit]);
    assert!(
        files.contains("kept.txt") && files.contains("scratch.txt"),
        "{files}"
    );
    let (ok, refused) = env.json(&[
        "reset-agent",
        "bob",
        "--discard-session",
        "--discard-changes",
    ]);
    assert!(!ok && refused["reason"] == "no_worktree", "{refused}");
}

#[test]
fn setup_commands_run_once_in_a_new_worktree_and_a_failing_one_holds_only_its_worker() {
    let env = TeamEnv::new();
    repository(&env);
    team(
        &env,
        "isolation: worktree\n",
        &[
            (
                "alice",
                "worktree_setup: [\"echo installed > setup.txt\"]\n",
            ),
            (
                "bob",
                "worktree_setup: [\"echo broken install\", \"exit 3\"]\n",
            ),
        ],
    );
    let report = up(&env);
    let bob = report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob["status"], "stopped", "{report}");
    let alice = env.agent("alice");
    assert_eq!(alice["status"], "running", "{alice}");
    assert_eq!(
        read(&worktree_of(&env, "alice").join("setup.txt")),
        "installed\n"
    );
    let row = worktree_row(&env, "bob");
    let error = row["setup_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{row}"));
    assert!(
        error.contains("`exit 3`") && error.contains("exit code 3"),
        "{error}"
    );
    let log = read(&env.logs().join("worktree-setup-bob.log"));
    assert!(log.contains("broken install"), "{log}");
    // Once: a restart does not run alice's setup again.
    std::fs::remove_file(worktree_of(&env, "alice").join("setup.txt")).unwrap();
    let (ok, again) = env.json(&["start-agent", "bob"]);
    assert!(
        !ok && again["error"].as_str().unwrap().contains("exit code 3"),
        "{again}"
    );
    let role = env.workspace().join("team/agents/bob.md");
    std::fs::write(&role, read(&role).replace("\"exit 3\"", "\"true\"")).unwrap();
    let (ok, started) = env.json(&["start-agent", "bob"]);
    assert!(ok, "{started}");
    assert!(worktree_row(&env, "bob")["setup_error"].is_null());
    assert!(env.json(&["shutdown"]).0);
    assert!(env.json(&["restart"]).0);
    assert!(!worktree_of(&env, "alice").join("setup.txt").exists());
}

#[test]
fn a_fork_gets_a_branch_of_its_own_that_starts_from_its_sources_work() {
    let env = TeamEnv::new();
    repository(&env);
    team(&env, "isolation: worktree\n", &[]);
    up(&env);
    assert!(
        env.json(&["send", "alice", "@scripted write notes.txt draft one"])
            .0
    );
    let source = worktree_of(&env, "alice");
    assert!(wait_until(20, || read(&source.join("notes.txt")) == "draft one\n"));
    wait_idle(&env, "alice");
    let (ok, forked) = env.json(&["fork-agent", "alice", "--as", "carol"]);
    assert!(ok, "{forked}");
    let fork = worktree_of(&env, "carol");
    assert_ne!(fork, source);
    assert_eq!(
        worktree_row(&env, "carol")["branch"],
        "team-agent/team/carol"
    );
    assert_eq!(read(&fork.join("notes.txt")), "draft one\n");
    // The source is as it was: its change still uncommitted, on its own branch.
    assert_eq!(git(&source, &["status", "--porcelain"]), "?? notes.txt");
    assert_eq!(worktree_row(&env, "alice")["ahead"], 0);
}

#[test]
fn merge_refuses_changing_nothing_when_git_does_not_know_who_commits() {
    let env = TeamEnv::new();
    repository(&env);
    let ws = env.workspace();
    // No identity anywhere, and no guessing one from the machine's names.
    git(&ws, &["config", "--unset", "user.name"]);
    git(&ws, &["config", "--unset", "user.email"]);
    git(&ws, &["config", "user.useConfigOnly", "true"]);
    team(&env, "isolation: worktree\n", &[]);
    up(&env);
    assert!(
        env.json(&["send", "alice", "@scripted write b.txt alice's work"])
            .0
    );
    let dir = worktree_of(&env, "alice");
    assert!(wait_until(20, || read(&dir.join("b.txt")) == "alice's work\n"));
    wait_idle(&env, "alice");
    let head = git(&ws, &["rev-parse", "HEAD"]);
    let (ok, refused) = env.json(&["merge", "alice"]);
    assert!(
        !ok && refused["reason"] == "git_identity_unknown",
        "{refused}"
    );
    assert!(
        refused["action"]
            .as_str()
            .unwrap()
            .contains("config user.email"),
        "{refused}"
    );
    assert_eq!(git(&ws, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "?? b.txt");
    assert!(env.json(&["stop-agent", "alice"]).0);
    let (ok, refused) = env.json(&["remove-agent", "alice", "--force"]);
    assert!(
        !ok && refused["reason"] == "git_identity_unknown",
        "{refused}"
    );
    assert_eq!(read(&dir.join("b.txt")), "alice's work\n");
    // Told who commits, the merge goes through.
    git(&ws, &["config", "user.name", "test"]);
    git(&ws, &["config", "user.email", "test@example.com"]);
    let (ok, merged) = env.json(&["merge", "alice"]);
    assert!(ok, "{merged}");
    assert_eq!(read(&ws.join("b.txt")), "alice's work\n");
}
