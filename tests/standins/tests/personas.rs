//! Each stand-in persona, driven on a private tmux server through start → trust dialog →
//! message → transcript → exit → resume, is read by the real provider plugin of its CLI, loaded
//! from the target directory the way the host loads it: the plugin's launch plans start it, the
//! plugin answers its dialogs, classifies its screens, captures its session, reads the turn
//! state from its transcript and finds it resumable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use team_agent_plugin_api::loader::{self, FaultPolicy, LoadedPlugin, ProviderClient};
use team_agent_plugin_api::{
    CaptureContext, Confidence, LaunchMode, LaunchRequest, PermissionMode, ResumeCheck,
    ScreenState, SessionRecord, StartupDecision, TurnState,
};

const SYSTEM_PROMPT: &str =
    "You are Team Agent worker `w1` (role: tester).\nReport with the team tools.";
/// What the shell around the stand-in prints when it ends, before the exit status.
const EXITED: &str = "[stand-in exited with status]";
const SESSION_ID: &str = "6c1f0a52-3b9e-4d7a-8e21-5f4c3b2a1908";

/// A temporary directory with the stand-in linked as `claude` and `codex`, a `HOME`, a project
/// directory, and a `team-agent` that keeps the result envelopes it is given.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        for path in [&bin, &dir.path().join("home"), &dir.path().join("proj")] {
            std::fs::create_dir_all(path).unwrap();
        }
        for name in ["claude", "codex"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ta-standin"), bin.join(name)).unwrap();
        }
        let reports = dir.path().join("reports.jsonl");
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = report-result ] || exit 2\ncat >> '{}'\necho >> '{}'\n",
            reports.display(),
            reports.display()
        );
        let team_agent = bin.join("team-agent");
        std::fs::write(&team_agent, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&team_agent, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The project directory as the stand-in sees it (resolved, as `getcwd` returns it).
    fn cwd(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path().join("proj")).unwrap()
    }

    /// `argv` run with this sandbox's HOME, PATH and team-agent, as the host would run it, by a
    /// shell that prints its exit status when it ends. (The shell reaps it: a tmux server
    /// started from a test process did not always record the status of its panes' programs.)
    fn command(&self, argv: &[String], env: &[(String, String)]) -> Vec<String> {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = vec![
            "sh".to_string(),
            "-c".into(),
            format!("\"$@\"; echo \"{EXITED} $?\""),
            "sh".into(),
            "env".into(),
            format!("HOME={}", self.home().display()),
            format!("PATH={path}"),
            "TA_STANDIN_TRUST=1".into(),
            "TA_STANDIN_WORK_MS=300".into(),
            "TEAM_AGENT_ID=w1".into(),
            format!(
                "TEAM_AGENT_BIN={}",
                self.dir.path().join("bin/team-agent").display()
            ),
        ];
        command.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        command.extend(argv.iter().cloned());
        command
    }

    /// The result envelopes the fake `team-agent report-result -` received.
    fn reports(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("reports.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn request(&self, mode: LaunchMode) -> LaunchRequest {
        LaunchRequest {
            agent_id: "w1".into(),
            role: "tester".into(),
            model: None,
            cwd: self.cwd(),
            system_prompt: SYSTEM_PROMPT.into(),
            permission_mode: PermissionMode::Ask,
            mode,
            new_session_id: SESSION_ID.into(),
            mcp_server: None,
            profile_env: Default::default(),
            host_bin_dir: self.dir.path().join("bin"),
            home: self.home(),
            options: Default::default(),
            hooks: None,
        }
    }
}

/// A private tmux server (`ta-standin-test-<pid>-<persona>`) with one pane, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server with one pane (running `sleep` until the test gives it a program) that stays
    /// after its program ends, so the exit can be read.
    fn start(persona: &str, cwd: &Path) -> Self {
        let tmux = Self {
            socket: format!("ta-standin-test-{}-{persona}", std::process::id()),
        };
        let cwd = cwd.to_string_lossy();
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            &cwd,
            "sleep",
            "3600",
        ]);
        tmux.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Replaces the pane's program with `command`, started in `cwd`.
    fn respawn(&self, cwd: &Path, command: &[String]) {
        let cwd = cwd.to_string_lossy();
        let mut args = vec!["respawn-pane", "-k", "-t", "t", "-c", &cwd];
        args.extend(command.iter().map(String::as_str));
        self.run(&args);
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn keys(&self, keys: &[String]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys.iter().map(String::as_str));
        self.run(&args);
    }

    /// The exit status of the pane's program, once it ended.
    fn exit_status(&self) -> Option<i32> {
        self.capture()
            .lines()
            .find_map(|line| line.trim().strip_prefix(EXITED)?.trim().parse().ok())
    }

    /// Pastes `text` as the host does (bracketed), then submits it with the plugin's keys.
    fn deliver(&self, provider: &ProviderClient<'_>, text: &str, token: &str) {
        self.run(&["set-buffer", "-b", "ta-message", text]);
        self.run(&["paste-buffer", "-p", "-d", "-b", "ta-message", "-t", "t"]);
        wait_for("the pasted message on screen", || {
            self.capture().contains(token).then_some(())
        });
        let submit = provider.submit_keys().unwrap();
        std::thread::sleep(Duration::from_millis(submit.delay_ms.into()));
        self.keys(&submit.keys);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .env_remove("TMUX")
            .output();
    }
}

/// Polls `probe` until it gives an answer (30 s at most: a loaded machine starts Node slowly).
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(answer) = probe() {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn load(crate_name: &str) -> LoadedPlugin {
    let library = team_agent_conformance::built_library(crate_name);
    loader::load(&library).unwrap_or_else(|e| panic!("{}: {e}", library.display()))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The first answer the plugin gives to the starting CLI that is not `waiting`.
fn startup_verdict(tmux: &Tmux, provider: &ProviderClient<'_>) -> StartupDecision {
    wait_for("a startup verdict", || {
        let decision = provider
            .handle_startup_prompts(&tmux.capture())
            .unwrap()
            .value;
        (decision != StartupDecision::Waiting).then_some(decision)
    })
}

fn classify(tmux: &Tmux, provider: &ProviderClient<'_>) -> ScreenState {
    provider.classify_screen(&tmux.capture()).unwrap().value
}

/// Waits until the transcript holds `text` and its turn is over.
fn wait_for_turn_end(provider: &ProviderClient<'_>, transcript: &Path, text: &str) {
    wait_for("the turn to end in the transcript", || {
        let tail = std::fs::read_to_string(transcript).ok()?;
        let over = provider.turn_state(&tail).unwrap().value == TurnState::Idle;
        (tail.contains(text) && over).then_some(())
    });
}

fn capture(provider: &ProviderClient<'_>, context: &CaptureContext) -> Option<SessionRecord> {
    let context = CaptureContext {
        now: now(),
        ..context.clone()
    };
    provider.capture_session_id(&context).unwrap()
}

/// Start (answering the trust dialog) → a message with a report → the session captured from
/// its transcript → exit → resume of the same session → a fork into a new one → a resume of an
/// id the CLI never saw, which fails like the real CLI's.
fn journey(persona: &str, library: &str, exit_keys: &[&str]) {
    let sandbox = Sandbox::new();
    let cwd = sandbox.cwd();
    let plugin = load(library);
    let provider = ProviderClient::new(&plugin, FaultPolicy::KeepCalling).unwrap();
    let tmux = Tmux::start(persona, &cwd);
    let exit = || {
        for key in exit_keys {
            tmux.keys(&[key.to_string()]);
        }
        wait_for("the exit", || {
            (classify(&tmux, &provider) == ScreenState::Exited).then_some(())
        });
        let status = wait_for("the exit status", || tmux.exit_status());
        assert_eq!(status, 0, "{}", tmux.capture());
    };

    // Start: the trust dialog is answered with the plugin's keys, then the input is ready.
    let plan = provider
        .launch_plan(&sandbox.request(LaunchMode::Fresh))
        .unwrap();
    let context = CaptureContext {
        agent_id: "w1".into(),
        cwd: cwd.clone(),
        spawned_at: now(),
        now: now(),
        expected_session_id: plan.expected_session_id.clone(),
        owned_by_others: Vec::new(),
        home: sandbox.home(),
        forked_from: None,
    };
    let env: Vec<(String, String)> = plan.env.clone().into_iter().collect();
    tmux.respawn(&cwd, &sandbox.command(&plan.argv, &env));
    let StartupDecision::Answer { keys, .. } = startup_verdict(&tmux, &provider) else {
        panic!("no trust dialog:\n{}", tmux.capture());
    };
    assert_eq!(classify(&tmux, &provider), ScreenState::TrustPrompt);
    tmux.keys(&keys);
    // The dialog stays drawn a moment after the keys.
    let after = wait_for("the dialog to go", || {
        let decision = provider
            .handle_startup_prompts(&tmux.capture())
            .unwrap()
            .value;
        let gone = !matches!(
            decision,
            StartupDecision::Waiting | StartupDecision::Answer { .. }
        );
        gone.then_some(decision)
    });
    assert_eq!(after, StartupDecision::Ready);
    assert_eq!(classify(&tmux, &provider), ScreenState::Idle);
    assert_eq!(
        capture(&provider, &context),
        None,
        "no message, no transcript"
    );

    // A message: the session appears, the turn ends, the report reaches team-agent.
    let first = "Team Agent message from leader for T1:\n\nSay hello, then report.\n@scripted report success said hello\n\n[team-agent-token:m-1]";
    tmux.deliver(&provider, first, "[team-agent-token:m-1]");
    let record = wait_for("the session", || capture(&provider, &context));
    assert_eq!(record.confidence, Confidence::High);
    if let Some(expected) = &plan.expected_session_id {
        assert_eq!(&record.session_id, expected);
    }
    let transcript = record.transcript_path.clone().unwrap();
    wait_for_turn_end(&provider, &transcript, "said hello");
    wait_for("the idle screen", || {
        (classify(&tmux, &provider) == ScreenState::Idle).then_some(())
    });
    let reports = sandbox.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["task_id"], "T1");
    assert_eq!(reports[0]["agent_id"], "w1");
    assert_eq!(reports[0]["status"], "success");
    assert_eq!(reports[0]["summary"], "said hello");
    exit();

    // Resume: the same session and transcript, no trust dialog the second time.
    let check = ResumeCheck {
        agent_id: "w1".into(),
        cwd: cwd.clone(),
        home: sandbox.home(),
        record: Some(record.clone()),
    };
    let resumable = provider.session_is_resumable(&check).unwrap();
    assert!(resumable.resumable, "{}", resumable.detail);
    let resume = provider
        .launch_plan(&sandbox.request(LaunchMode::Resume {
            session_id: record.session_id.clone(),
        }))
        .unwrap();
    tmux.respawn(&cwd, &sandbox.command(&resume.argv, &[]));
    assert_eq!(startup_verdict(&tmux, &provider), StartupDecision::Ready);
    assert!(
        tmux.capture().contains("Say hello, then report."),
        "the history is shown"
    );
    tmux.deliver(
        &provider,
        "Team Agent message from leader for T2:\n\nAgain.\n\n[team-agent-token:m-2]",
        "[team-agent-token:m-2]",
    );
    wait_for_turn_end(&provider, &transcript, "Again.");
    let resumed = CaptureContext {
        expected_session_id: Some(record.session_id.clone()),
        spawned_at: now(),
        ..context.clone()
    };
    assert_eq!(
        capture(&provider, &resumed),
        Some(SessionRecord {
            attributed_by: capture(&provider, &resumed).unwrap().attributed_by,
            ..record.clone()
        })
    );
    exit();

    // Fork into worker w2: a new session carrying the old conversation.
    let mut fork_request = sandbox.request(LaunchMode::Fork {
        source_session_id: record.session_id.clone(),
    });
    fork_request.agent_id = "w2".into();
    fork_request.system_prompt = SYSTEM_PROMPT.replace("`w1`", "`w2`");
    fork_request.new_session_id = "0d9b7c3e-2f14-4a6b-9c8d-7e6f5a4b3c21".into();
    let fork = provider.launch_plan(&fork_request).unwrap();
    let forked = CaptureContext {
        agent_id: "w2".into(),
        spawned_at: now(),
        expected_session_id: fork.expected_session_id.clone(),
        owned_by_others: vec![record.session_id.clone()],
        forked_from: Some(record.session_id.clone()),
        ..context.clone()
    };
    tmux.respawn(&cwd, &sandbox.command(&fork.argv, &[]));
    assert_eq!(startup_verdict(&tmux, &provider), StartupDecision::Ready);
    tmux.deliver(
        &provider,
        "Team Agent message from leader for T3:\n\nCarry on.\n\n[team-agent-token:m-3]",
        "[team-agent-token:m-3]",
    );
    let branch = wait_for("the forked session", || capture(&provider, &forked));
    assert_ne!(branch.session_id, record.session_id);
    let branch_transcript = branch.transcript_path.unwrap();
    wait_for_turn_end(&provider, &branch_transcript, "Carry on.");
    let text = std::fs::read_to_string(&branch_transcript).unwrap();
    assert!(
        text.contains("Say hello, then report."),
        "the fork carries the history"
    );
    exit();

    // A session this HOME never had cannot be resumed, as with the real CLI.
    let unknown = provider
        .launch_plan(&sandbox.request(LaunchMode::Resume {
            session_id: "0f0e0d0c-0b0a-4909-8807-060504030201".into(),
        }))
        .unwrap();
    tmux.respawn(&cwd, &sandbox.command(&unknown.argv, &[]));
    assert_eq!(wait_for("the refusal", || tmux.exit_status()), 1);
    assert_eq!(classify(&tmux, &provider), ScreenState::Exited);
}

#[test]
fn the_claude_stand_in_is_started_captured_and_resumed_by_the_real_claude_plugin() {
    journey("claude", "team_agent_claude", &["C-c", "C-c"]);
}

#[test]
fn the_codex_stand_in_is_started_captured_and_resumed_by_the_real_codex_plugin() {
    journey("codex", "team_agent_codex", &["C-c"]);
}
