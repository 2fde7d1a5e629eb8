//! The core loop on real tmux with scripted workers: up, status, shutdown, restart with the same
//! sessions, refusals, single-agent operations, the coordinator's crash and orphan behaviour, and
//! the demo.

mod support;

use std::collections::BTreeMap;

use support::*;

fn sessions(env: &TeamEnv) -> BTreeMap<String, String> {
    env.status()["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["session_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pane_pids(env: &TeamEnv) -> Vec<u64> {
    let out = env.tmux(&["list-panes", "-a", "-F", "#{pane_pid}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn up_status_shutdown_restart_keeps_the_same_sessions_and_leaves_nothing_behind() {
    let env = TeamEnv::new();
    let up = env.up_starter();
    assert_eq!(up["agents"].as_array().unwrap().len(), 2);
    assert!(
        up["tmux_socket"]
            .as_str()
            .unwrap()
            .starts_with(env.tmux_dir().to_str().unwrap())
    );
    let before = sessions(&env);
    assert!(
        before.values().all(|s| !s.is_empty()),
        "every session id captured: {before:?}"
    );
    let status = env.status();
    assert!(
        status["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "running")
    );
    let coordinator = status["coordinator"]["pid"]
        .as_u64()
        .expect("a coordinator runs");
    let pids = pane_pids(&env);
    assert_eq!(pids.len(), 2);

    let socket = status["tmux_socket"].as_str().unwrap().to_string();
    let (ok, down) = env.json(&["shutdown"]);
    assert!(ok && down["was_running"] == true, "{down}");
    assert!(
        wait_until(5, || !alive(coordinator) && pids.iter().all(|p| !alive(*p))),
        "processes survived shutdown"
    );
    let server = std::process::Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .arg("ls")
        .output()
        .unwrap();
    assert!(
        !server.status.success(),
        "the team's tmux server survived shutdown"
    );
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the dead server's socket file {socket} was left behind"
    );
    for id in before.keys() {
        assert!(
            env.logs().join(format!("{id}.scrollback")).exists(),
            "scrollback of {id}"
        );
    }
    let (ok, again) = env.json(&["shutdown"]);
    assert!(
        ok && again["was_running"] == false,
        "a second shutdown is a no-op: {again}"
    );

    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
    assert!(
        restarted["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["restart_mode"] == "resumed")
    );
    assert_eq!(sessions(&env), before, "the same sessions were resumed");
    let coordinator = env.status()["coordinator"]["pid"].as_u64().unwrap();
    let pids = pane_pids(&env);
    assert!(env.json(&["shutdown"]).0);
    assert!(wait_until(5, || !alive(coordinator) && pids.iter().all(|p| !alive(*p))));
}

#[test]
fn up_refuses_a_running_team_and_after_a_shutdown_points_to_restart() {
    let env = TeamEnv::new();
    env.up_starter();
    let (ok, refused) = env.json(&["up", "team"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "team_running");
    assert!(env.json(&["shutdown"]).0);
    let (ok, refused) = env.json(&["up", "team"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "existing_runtime_state");
    assert!(refused["action"].as_str().unwrap().contains("restart"));
    let (ok, fresh) = env.json(&["up", "team", "--fresh"]);
    assert!(ok, "{fresh}");
}

#[test]
fn restart_refuses_atomically_when_an_interacted_worker_lost_its_session_then_allow_fresh_proceeds()
{
    let env = TeamEnv::new();
    env.up_starter();
    let alice = env.agent("alice");
    let session = alice["session_id"].as_str().unwrap().to_string();
    let (ok, sent) = env.json(&["send", "alice", "hello"]);
    assert!(ok && sent["status"] == "submitted", "{sent}");
    assert!(env.agent("alice")["first_send_at"].is_string());
    assert!(env.json(&["shutdown"]).0);
    std::fs::remove_file(env.transcript(&session)).unwrap();

    let (ok, refused) = env.json(&["restart"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "resume_atomicity");
    assert_eq!(refused["status"], "refused");
    let unresumable = refused["unresumable"].as_array().unwrap();
    assert_eq!(
        unresumable.len(),
        1,
        "bob never got work: he may start fresh; {refused}"
    );
    assert_eq!(unresumable[0]["agent_id"], "alice");
    assert!(unresumable[0]["first_send_at"].is_string());
    assert!(refused["error"].as_str().unwrap().contains("alice"));
    assert!(
        refused["action"]
            .as_str()
            .unwrap()
            .contains("--allow-fresh")
    );
    let sessions = env.tmux(&["list-sessions"]);
    assert!(
        String::from_utf8_lossy(&sessions.stdout).trim().is_empty(),
        "a refused restart created nothing"
    );

    let (ok, restarted) = env.json(&["restart", "--allow-fresh"]);
    assert!(ok, "{restarted}");
    let alice = restarted["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(alice["restart_mode"], "fresh");
    assert_ne!(alice["session_id"].as_str().unwrap(), session);
}

#[test]
fn a_corrupt_first_send_at_refuses_restart_with_its_own_reason() {
    let env = TeamEnv::new();
    env.up_starter();
    assert!(env.json(&["shutdown"]).0);
    let path = env.runtime().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["team"]["agents"]["bob"]["first_send_at"] = serde_json::json!("yesterday-ish");
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let (ok, refused) = env.json(&["restart"]);
    assert!(!ok);
    assert_eq!(refused["reason"], "invalid_first_send_at", "{refused}");
}

#[test]
fn single_agent_operations_stop_start_reset_add_remove() {
    let env = TeamEnv::new();
    env.up_starter();
    let session = env.session_of("bob");
    assert!(env.json(&["stop-agent", "bob"]).0);
    assert_eq!(env.agent("bob")["status"], "stopped");
    let (ok, started) = env.json(&["start-agent", "bob"]);
    assert!(ok && started["action"] == "resumed", "{started}");
    assert_eq!(env.agent("bob")["session_id"].as_str().unwrap(), session);
    let (ok, noop) = env.json(&["start-agent", "bob"]);
    assert!(ok && noop["action"] == "noop");

    let (ok, refused) = env.json(&["reset-agent", "bob"]);
    assert!(!ok && refused["reason"] == "discard_session_required");
    let (ok, reset) = env.json(&["reset-agent", "bob", "--discard-session"]);
    assert!(ok, "{reset}");
    assert_ne!(env.agent("bob")["session_id"].as_str().unwrap(), session);

    let role = env.scratch.path().join("carol.md");
    std::fs::write(
        &role,
        "---\nname: carol\nrole: helper\nprovider: scripted\n---\nHelp.\n",
    )
    .unwrap();
    let (ok, added) = env.json(&["add-agent", "carol", "--role-file", role.to_str().unwrap()]);
    assert!(ok, "{added}");
    assert_eq!(env.agent("carol")["status"], "running");
    std::fs::write(&role, "---\nname: carol2\nrole: x\nprovider: nosuch\n---\n").unwrap();
    let (ok, failed) = env.json(&["add-agent", "carol2", "--role-file", role.to_str().unwrap()]);
    assert!(!ok, "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("step validate failed"),
        "{failed}"
    );
    assert!(
        !env.workspace().join("team/agents/carol2.md").exists(),
        "the failed add was rolled back"
    );

    let (ok, refused) = env.json(&["remove-agent", "carol"]);
    assert!(!ok && refused["reason"] == "force_required");
    let (ok, removed) = env.json(&["remove-agent", "carol", "--force"]);
    assert!(ok, "{removed}");
    assert!(
        env.status()["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != "carol")
    );
}

#[test]
fn a_killed_coordinator_is_started_again_by_the_next_mutating_command_and_loses_nothing() {
    let env = TeamEnv::new();
    env.up_starter();
    let pid = env.status()["coordinator"]["pid"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_until(5, || !alive(pid)));
    assert_eq!(env.status()["coordinator"]["status"], "stale");
    let (ok, sent) = env.json(&["send", "bob", "@scripted sleep 2", "--task", "t-crash"]);
    assert!(ok, "{sent}");
    let (ok, queued) = env.json(&["send", "bob", "second message", "--task", "t-crash"]);
    assert!(
        ok && queued["status"].as_str().unwrap().starts_with("queued"),
        "bob is busy: {queued}"
    );
    let new_pid = env.status()["coordinator"]["pid"]
        .as_u64()
        .expect("the send started a coordinator");
    assert_ne!(new_pid, pid);
    let session = env.session_of("bob");
    assert!(
        wait_until(20, || env.received(&session).len() == 2),
        "the queued message was delivered: {:?}",
        env.received(&session)
    );
}

#[test]
fn an_orphaned_coordinator_exits_by_itself_and_doctor_cleans_up_one_that_cannot() {
    let env = TeamEnv::new();
    env.up_starter();
    let status = env.status();
    let pid = status["coordinator"]["pid"].as_u64().unwrap();
    let socket = status["tmux_socket"].as_str().unwrap().to_string();
    assert!(wait_until(5, || std::fs::remove_dir_all(
        env.workspace().join(".team")
    )
    .is_ok()));
    assert!(
        wait_until(15, || !alive(pid)),
        "the coordinator outlived its workspace"
    );
    let server = std::process::Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .arg("ls")
        .output()
        .unwrap();
    assert!(
        !server.status.success(),
        "the team's tmux server outlived its workspace"
    );

    // A coordinator told not to exit (the way a wedged one would not) is found and killed.
    let env = TeamEnv::new();
    env.up_starter();
    assert!(env.json(&["coordinator", "stop"]).0);
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = env
        .command()
        .args(["coordinator", "run", "--no-orphan-exit", "--workspace"])
        .arg(env.workspace())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(env.scratch.path().join("ghost.log")).unwrap())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    let ghost = child.0.id() as u64;
    assert!(wait_until(5, || env.status()["coordinator"]["pid"]
        .as_u64()
        == Some(ghost)));
    // The coordinator may be writing into it right now: try until the directory is gone.
    assert!(wait_until(5, || std::fs::remove_dir_all(
        env.workspace().join(".team")
    )
    .is_ok()));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !env.workspace().join(".team").exists(),
        "nothing brought the deleted workspace back"
    );
    assert!(
        alive(ghost),
        "self-exit was disabled: {:?}",
        std::fs::read_to_string(env.scratch.path().join("ghost.log"))
    );
    let (_, dry) = env.json(&["doctor", "--cleanup-orphans"]);
    let found = dry["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["pid"] == ghost)
        .cloned();
    assert!(
        found.is_some_and(|o| o["why"].as_str().unwrap().contains("no longer exists")),
        "{dry}"
    );
    assert!(alive(ghost), "a dry run kills nothing");
    let (ok, cleaned) = env.json(&["doctor", "--cleanup-orphans", "--confirm"]);
    let mine = cleaned["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["pid"] == ghost)
        .cloned()
        .unwrap();
    assert!(ok && mine["outcome"] == "killed", "{cleaned}");
    drop(child);
}

#[test]
fn the_demo_runs_a_real_team_and_cleans_up() {
    let env = TeamEnv::new();
    let out = env.run(&["demo"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("demo ok: 3 workers, 3 results"),
        "{text}"
    );
}

#[test]
fn a_spec_that_asks_for_approval_needs_yes_when_there_is_no_terminal_to_ask() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let team = env.workspace().join("team/TEAM.md");
    let text = std::fs::read_to_string(&team).unwrap().replace(
        "tick_interval_sec: 2",
        "tick_interval_sec: 2\nrequire_user_approval_before_launch: true",
    );
    std::fs::write(&team, text).unwrap();
    let (ok, refused) = env.json(&["up", "team"]);
    assert!(!ok && refused["reason"] == "approval_required", "{refused}");
    assert!(refused["action"].as_str().unwrap().contains("--yes"));
    assert!(env.status()["team"].is_null(), "nothing started");
    let (ok, up) = env.json(&["up", "team", "--yes"]);
    assert!(ok, "{up}");
}

#[test]
fn fork_agent_starts_a_new_worker_from_a_copy_of_a_session_and_refuses_without_one() {
    let env = TeamEnv::new();
    env.up_starter();
    assert!(env.json(&["send", "alice", "remember the number 42"]).0);
    let source = env.session_of("alice");
    let (ok, forked) = env.json(&[
        "fork-agent",
        "alice",
        "--as",
        "alice2",
        "--label",
        "second opinion",
    ]);
    assert!(ok, "{forked}");
    let new = env.agent("alice2");
    assert_eq!(new["status"], "running");
    let session = new["session_id"].as_str().unwrap().to_string();
    assert_ne!(session, source, "the fork has its own session");
    assert!(
        env.received(&session)
            .iter()
            .any(|t| t.contains("remember the number 42")),
        "the fork carries the source's history"
    );
    assert!(
        std::fs::read_to_string(env.workspace().join("team/agents/alice2.md"))
            .unwrap()
            .contains("role: second opinion")
    );
    let (ok, refused) = env.json(&["fork-agent", "alice", "--as", "alice2"]);
    assert!(!ok && refused["reason"] == "agent_exists", "{refused}");
}

/// tmux's `kill-server` is a SIGTERM the server sends itself; a server that inherited a blocked
/// SIGTERM (a parent's signal mask passes to children) ignores it. Shutdown still ends it.
#[test]
fn shutdown_ends_a_server_that_ignores_sigterm() {
    use std::os::unix::process::CommandExt;
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let mut up = env.command();
    up.args(["up", "team", "--json"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        up.pre_exec(|| {
            let mut set = nix::sys::signal::SigSet::empty();
            set.add(nix::sys::signal::Signal::SIGTERM);
            nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&set), None)
                .map_err(std::io::Error::from)
        });
    }
    let up = up.output().unwrap();
    assert!(up.status.success(), "{}", stdout(&up));
    let socket = json(&up)["tmux_socket"].as_str().unwrap().to_string();
    let (ok, down) = env.json(&["shutdown"]);
    assert!(ok, "{down}");
    let listed = std::process::Command::new("tmux")
        .args(["-S", &socket, "list-sessions"])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "the server survived shutdown");
    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
}

#[test]
fn a_state_file_that_lost_its_team_is_refused_by_every_command_and_restored_by_doctor() {
    for damage in ["{}", r#"{"team": null}"#] {
        let env = TeamEnv::new();
        env.up_starter();
        let sessions: Vec<String> = env.status()["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["session_id"].as_str().unwrap_or_default().to_string())
            .collect();
        let socket = env.status()["tmux_socket"].as_str().unwrap().to_string();
        let state = env.runtime().join("state.json");
        std::fs::write(&state, damage).unwrap();
        for args in [
            &["status"][..],
            &["shutdown"][..],
            &["restart"][..],
            &["up", "team"][..],
        ] {
            let (ok, answer) = env.json(args);
            assert!(!ok, "{args:?} took `{damage}` for no team: {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("holds no team") && error.contains("--restore-state"),
                "{args:?}: {answer}"
            );
        }
        // Nothing was started over: the workers still run in their windows.
        let panes = std::process::Command::new("tmux")
            .args(["-S", &socket, "list-panes", "-a", "-F", "#{pane_id}"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&panes.stdout).lines().count(), 2);
        let (ok, doctor) = env.json(&["doctor"]);
        assert!(!ok, "{doctor}");
        assert!(
            doctor.to_string().contains("--restore-state --confirm"),
            "{doctor}"
        );
        let (ok, restored) = env.json(&["doctor", "--restore-state", "--confirm"]);
        assert!(ok, "{restored}");
        let status = env.status();
        assert_eq!(status["running"], true, "{status}");
        let after: Vec<String> = status["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["session_id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(after, sessions, "the same sessions, restored");
    }
}

/// Runs `team-agent ARGS --json` `n` times at the same moment; the answers.
fn at_once(env: &TeamEnv, args: &[&str], n: usize) -> Vec<(bool, serde_json::Value)> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            env.command()
                .args(args)
                .arg("--json")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.success(), json(&out))
        })
        .collect()
}

#[test]
fn two_restarts_at_once_never_give_two_workers_one_pane() {
    let env = TeamEnv::new();
    env.up_starter();
    let sessions: Vec<(String, String)> = env.status()["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["session_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(env.json(&["shutdown"]).0);
    let answers = at_once(&env, &["restart"], 2);
    assert!(answers.iter().any(|(ok, _)| *ok), "{answers:?}");
    let status = env.status();
    let panes: std::collections::BTreeSet<String> = status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["pane_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(panes.len(), 2, "each worker its own pane: {status}");
    let listed = env.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
    // A message for alice reaches alice's session, and only hers.
    let (ok, sent) = env.json(&["send", "alice", "FOR-ALICE-ONLY"]);
    assert!(ok, "{sent}");
    for (id, session) in &sessions {
        let got = wait_until(10, || {
            env.received(session)
                .iter()
                .any(|t| t.contains("FOR-ALICE-ONLY"))
        });
        assert_eq!(got, id == "alice", "{id}: {:?}", env.received(session));
    }
}

#[test]
fn two_ups_at_once_leave_one_running_team() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let answers = at_once(&env, &["up", "team"], 2);
    let started = answers.iter().filter(|(ok, _)| *ok).count();
    assert_eq!(
        started, 1,
        "one up starts the team, the other is refused: {answers:?}"
    );
    let refused = answers.iter().find(|(ok, _)| !ok).unwrap();
    assert!(
        refused.1["error"]
            .as_str()
            .unwrap_or_default()
            .contains("already"),
        "{}",
        refused.1
    );
    let status = env.status();
    assert_eq!(status["running"], true, "{status}");
    let listed = env.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
}

#[test]
fn a_team_whose_tmux_server_was_killed_is_shown_down_and_every_command_says_what_to_do() {
    let env = TeamEnv::new();
    env.up_starter();
    let socket = env.status()["tmux_socket"].as_str().unwrap().to_string();
    assert!(
        std::process::Command::new("tmux")
            .args(["-S", &socket, "kill-server"])
            .status()
            .unwrap()
            .success()
    );
    let status = env.status();
    assert_eq!(status["running"], false, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("restart"),
        "{status}"
    );
    for agent in status["agents"].as_array().unwrap() {
        assert_eq!(
            agent["status"], "missing",
            "nothing of the team runs: {agent}"
        );
        assert!(agent["activity"].is_null(), "{agent}");
    }
    let (ok, sent) = env.json(&["send", "alice", "are you there?"]);
    assert!(ok, "the message is kept: {sent}");
    assert!(
        sent["status"].as_str().unwrap().starts_with("queued_"),
        "{sent}"
    );
    assert!(
        sent["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("team-agent restart"),
        "{sent}"
    );
    let (ok, doctor) = env.json(&["doctor"]);
    assert!(!ok, "{doctor}");
    assert!(doctor.to_string().contains("its tmux session"), "{doctor}");
    // And restart brings it back, delivering what waited.
    let (ok, restarted) = env.json(&["restart"]);
    assert!(ok, "{restarted}");
    let session = env.session_of("alice");
    assert!(wait_until(30, || env
        .received(&session)
        .iter()
        .any(|t| t.contains("are you there?"))));
}

#[test]
fn without_its_coordinator_status_does_not_pass_old_activity_off_as_current() {
    let env = TeamEnv::new();
    env.up_starter();
    let (ok, stopped) = env.json(&["coordinator", "stop"]);
    assert!(ok, "{stopped}");
    let status = env.status();
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("team-agent coordinator start"),
        "{status}"
    );
    for agent in status["agents"].as_array().unwrap() {
        assert_eq!(agent["activity"], "unknown", "{agent}");
    }
}

/// `team-agent ARGS --json` with the workspace's `.team` read-only (a bind mount in a private
/// mount namespace of its own, so nothing else sees it); `None` when this process may not make
/// one (not root).
fn with_read_only_team(env: &TeamEnv, args: &[&str]) -> Option<(bool, serde_json::Value)> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("!!! not root: no private mount namespace, the read-only checks DID NOT RUN");
        return None;
    }
    let base = env.command();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind -o ro \"$TA_RO\" \"$TA_RO\" && exec \"$@\"",
        "sh",
    ])
    .arg(base.get_program())
    .args(args)
    .arg("--json")
    .env("TA_RO", env.workspace().join(".team"));
    for (key, value) in base.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.current_dir(env.workspace());
    let out = cmd.output().unwrap();
    Some((out.status.success(), json(&out)))
}

#[test]
fn with_team_read_only_doctor_says_so_and_shutdown_refuses_before_stopping_anything() {
    let env = TeamEnv::new();
    env.up_starter();
    let Some((ok, doctor)) = with_read_only_team(&env, &["doctor"]) else {
        return;
    };
    assert!(!ok, "{doctor}");
    assert!(doctor.to_string().contains("cannot write in"), "{doctor}");
    let (ok, refused) = with_read_only_team(&env, &["shutdown"]).unwrap();
    assert!(!ok, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot write in"),
        "{refused}"
    );
    // Nothing was stopped: the team runs and says so.
    let status = env.status();
    assert_eq!(status["running"], true, "{status}");
    assert!(status["coordinator"]["pid"].is_u64(), "{status}");
    for agent in status["agents"].as_array().unwrap() {
        assert_eq!(agent["status"], "running", "{agent}");
    }
}

/// `status` gets the panes from the running coordinator (no tmux process of its own: it works
/// with no tmux on PATH) and they are live (a worker killed a moment ago is `exited`); with the
/// coordinator stopped it asks tmux itself.
#[test]
fn status_reads_live_panes_through_the_running_coordinator_and_from_tmux_without_it() {
    let env = TeamEnv::new();
    env.up_starter();
    let panes = env.tmux(&["list-panes", "-a", "-F", "#{window_name} #{pane_pid}"]);
    let pid: i32 = stdout(&panes)
        .lines()
        .find_map(|l| l.strip_prefix("bob "))
        .and_then(|p| p.trim().parse().ok())
        .expect("bob's pane");
    let no_tmux = || {
        let mut cmd = env.command();
        cmd.env("PATH", bundled_dir()).args(["status", "--json"]);
        cmd.output().unwrap()
    };
    assert!(no_tmux().status.success(), "{}", stderr(&no_tmux()));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let bob = |out: &std::process::Output| {
        json(out)["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["id"] == "bob").cloned())
            .unwrap_or_default()
    };
    assert!(
        wait_until(5, || bob(&no_tmux())["status"] == "exited"),
        "{}",
        bob(&no_tmux())
    );
    assert!(env.run(&["coordinator", "stop"]).status.success());
    let out = no_tmux();
    assert!(
        !out.status.success(),
        "status answered without tmux or a coordinator"
    );
    assert_eq!(env.agent("bob")["status"], "exited");
    assert_eq!(env.agent("alice")["status"], "running");
}
