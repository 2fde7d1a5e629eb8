//! Shared helpers of the host's end-to-end tests: the real binary, the real plugins, hermetic
//! temporary directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `team-agent` binary under test.
pub fn team_agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_team-agent"))
}

/// The directory with the bundled plugins and `scripted-agent` (next to the binary). `cargo test`
/// leaves fresh plugin libraries in `deps/`; the README's test command runs `cargo build` first
/// so they are next to the binary too.
pub fn bundled_dir() -> PathBuf {
    let dir = team_agent_bin().parent().unwrap().to_path_buf();
    for lib in ["libteam_agent_scripted.so", "libteam_agent_display_none.so"] {
        assert!(
            dir.join(lib).exists(),
            "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)",
            dir.join(lib).display()
        );
    }
    dir
}

/// The deliberately broken plugins of `tests/plugins`, built once into `target/test-plugins`
/// (never next to the real ones).
pub fn broken_plugins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target = bundled_dir().parent().unwrap().join("test-plugins");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--manifest-path"])
            .arg(root.join("tests/plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building tests/plugins failed");
        target.join("debug")
    })
    .clone()
}

/// A hermetic scratch area: its own HOME and workspace.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh scratch directory, removed when dropped unless `TEAM_AGENT_KEEP_TEST_DIRS=1`
    /// (to read a failed test's logs and state afterwards).
    pub fn new() -> Self {
        let keep = std::env::var("TEAM_AGENT_KEEP_TEST_DIRS").is_ok_and(|v| v == "1");
        let dir = tempfile::Builder::new()
            .prefix("ta-test-")
            .disable_cleanup(keep)
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// `team-agent ARGS` in the workspace, with HOME and the plugin path set.
    pub fn command(&self, plugin_path: &str) -> Command {
        let mut cmd = Command::new(team_agent_bin());
        cmd.current_dir(self.workspace())
            .env("HOME", self.home())
            .env("TEAM_AGENT_PLUGIN_PATH", plugin_path)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("XDG_DATA_HOME");
        cmd
    }

    pub fn run(&self, plugin_path: &str, args: &[&str]) -> Output {
        self.command(plugin_path)
            .args(args)
            .output()
            .expect("team-agent runs")
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            stdout(output),
            stderr(output)
        )
    })
}

/// A hermetic team workspace on real tmux: its own HOME, workspace and tmux socket directory
/// (`TMUX_TMPDIR`), the bundled plugins and `scripted-agent` from the build. Dropping it shuts
/// the team down and ends every tmux server under its socket directory (only those).
pub struct TeamEnv {
    pub scratch: Scratch,
    /// Set on every command (after the defaults, so it may override them).
    pub env: Vec<(String, String)>,
}

impl TeamEnv {
    pub fn new() -> Self {
        let scratch = Scratch::new();
        std::fs::create_dir_all(scratch.path().join("tmux")).unwrap();
        Self {
            scratch,
            env: Vec::new(),
        }
    }

    pub fn workspace(&self) -> PathBuf {
        self.scratch.workspace()
    }

    pub fn home(&self) -> PathBuf {
        self.scratch.home()
    }

    /// The runtime directory of the workspace's one team (`.team/runtime/teams/<team>`); before
    /// any team, where the first one's will be (the starter team is named `team`).
    pub fn runtime(&self) -> PathBuf {
        self.workspace()
            .join(".team/runtime/teams")
            .join(self.only_team())
    }

    /// The logs directory of the workspace's one team (`.team/logs/teams/<team>`).
    pub fn logs(&self) -> PathBuf {
        self.workspace()
            .join(".team/logs/teams")
            .join(self.only_team())
    }

    /// The name of the workspace's one team (`team` before there is one).
    pub fn only_team(&self) -> String {
        let teams: Vec<String> = std::fs::read_dir(self.workspace().join(".team/runtime/teams"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.path().join("state.json").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        match teams.as_slice() {
            [] => "team".into(),
            [one] => one.clone(),
            several => panic!("several teams here ({several:?}): name one"),
        }
    }

    pub fn tmux_dir(&self) -> PathBuf {
        self.scratch.path().join("tmux")
    }

    pub fn command(&self) -> Command {
        let mut cmd = self.scratch.command(bundled_dir().to_str().unwrap());
        let path = format!(
            "{}:{}",
            bundled_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("TMUX_TMPDIR", self.tmux_dir())
            .env_remove("TEAM_AGENT_ID")
            .env_remove("TEAM_AGENT_WORKSPACE");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("team-agent runs")
    }

    /// Runs and parses `--json` (the flag is added).
    pub fn json(&self, args: &[&str]) -> (bool, serde_json::Value) {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        (out.status.success(), json(&out))
    }

    /// `init team` + `up team`; the agents' ids.
    pub fn up_starter(&self) -> serde_json::Value {
        assert!(self.run(&["init", "team"]).status.success());
        let (ok, up) = self.json(&["up", "team"]);
        assert!(ok, "up failed: {up}");
        up
    }

    pub fn status(&self) -> serde_json::Value {
        let (ok, status) = self.json(&["status"]);
        assert!(ok, "status failed: {status}");
        status
    }

    pub fn agent(&self, id: &str) -> serde_json::Value {
        self.status()["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap()
    }

    /// The session id an agent's record holds.
    pub fn session_of(&self, id: &str) -> String {
        self.agent(id)["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has a session"))
            .to_string()
    }

    /// The stored messages to `id`, oldest first.
    pub fn stored_for(&self, id: &str) -> Vec<serde_json::Value> {
        let (_, inbox) = self.json(&["inbox", id, "--limit", "1000"]);
        inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["recipient"] == id)
            .cloned()
            .collect()
    }

    /// The stored message `message_id` to `recipient`, as `inbox` shows it.
    pub fn stored_message(&self, recipient: &str, message_id: &str) -> Option<serde_json::Value> {
        self.stored_for(recipient)
            .into_iter()
            .find(|m| m["message_id"] == message_id)
    }

    /// The scripted agent's transcript of a session.
    pub fn transcript(&self, session: &str) -> PathBuf {
        self.home()
            .join(".scripted-agent/sessions")
            .join(format!("{session}.jsonl"))
    }

    /// The texts of the messages a scripted session received.
    pub fn received(&self, session: &str) -> Vec<String> {
        std::fs::read_to_string(self.transcript(session))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "user_message")
            .map(|v| v["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The team's tmux server, by its socket.
    pub fn tmux(&self, args: &[&str]) -> Output {
        let socket = self.status()["tmux_socket"].as_str().unwrap().to_string();
        Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for TeamEnv {
    fn drop(&mut self) {
        let _ = self.run(&["shutdown"]);
        if let Ok(dirs) = std::fs::read_dir(self.tmux_dir()) {
            for dir in dirs.filter_map(Result::ok) {
                for socket in std::fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                {
                    let _ = Command::new("tmux")
                        .arg("-S")
                        .arg(socket.path())
                        .arg("kill-server")
                        .output();
                }
            }
        }
    }
}

/// How many of the texts a session received carry message `id`'s token.
pub fn times_arrived(texts: &[String], id: &str) -> usize {
    let token = format!("[team-agent-token:{id}]");
    texts.iter().filter(|t| t.contains(&token)).count()
}

/// Polls `condition` every 100 ms for up to `seconds`.
pub fn wait_until(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    condition()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A leader pane: a tmux server of the test's own running `cat > FILE`.
pub struct LeaderPane {
    pub socket: std::path::PathBuf,
    pub file: std::path::PathBuf,
    pub pane: String,
}

impl LeaderPane {
    pub fn start(env: &TeamEnv) -> Self {
        let socket = env.scratch.path().join("leader.sock");
        let file = env.scratch.path().join("leader.txt");
        let ok = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "leader",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(format!("cat > {}", file.display()))
            .status()
            .unwrap()
            .success();
        assert!(ok, "the leader's tmux server started");
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["display", "-p", "-t", "leader", "#{pane_id}"])
            .output()
            .unwrap();
        let pane = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Self { socket, file, pane }
    }

    /// How many team-agent messages the pane has received.
    pub fn notifications(&self) -> usize {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .matches("[team-agent-token:")
            .count()
    }
}

impl Drop for LeaderPane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Two panes on an operator's tmux server, and commands run "from" either of them.
pub struct Panes {
    pub socket: PathBuf,
    pub a: String,
    pub b: String,
}

impl Panes {
    pub fn new(env: &TeamEnv) -> Self {
        // Under the test's tmux directory, where the environment's cleanup ends every server.
        let socket = env.tmux_dir().join("op").join("operator");
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let tmux = |args: &[&str]| {
            let out = Command::new("tmux")
                .arg("-S")
                .arg(&socket)
                .args(["-f", "/dev/null"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out).trim().to_string()
        };
        let a = tmux(&[
            "new-session",
            "-d",
            "-s",
            "op",
            "-P",
            "-F",
            "#{pane_id}",
            "sleep",
            "600",
        ]);
        let b = tmux(&[
            "new-window",
            "-t",
            "op",
            "-P",
            "-F",
            "#{pane_id}",
            "sleep",
            "600",
        ]);
        Self { socket, a, b }
    }

    /// `team-agent ARGS --json` as if typed in `pane`.
    pub fn run(&self, env: &TeamEnv, pane: &str, args: &[&str]) -> (bool, serde_json::Value) {
        let out = env
            .command()
            .env("TMUX", format!("{},1,0", self.socket.display()))
            .env("TMUX_PANE", pane)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        (out.status.success(), json(&out))
    }

    pub fn kill(&self, pane: &str) {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["kill-pane", "-t", pane])
            .output()
            .unwrap();
    }
}

/// `git -C dir ARGS` without the user's global configuration, which must succeed; its stdout,
/// trimmed.
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
