/*! One temporary world per team: its own `HOME`, `TMUX_TMPDIR` (so its tmux servers live on
private sockets only the harness knows) and workspace, and the real `team-agent` binary run in it
with timing. Dropping a sandbox shuts its team down and kills its tmux servers (see `cleanup`). */

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use crate::cleanup::{self, Held};
use crate::setup::Binaries;

/// The team's name and directory (inside the workspace).
pub const TEAM: &str = "bench";
/// Names a sandbox's own `PATH` directory in its commands' environment.
pub const PATH_DIR_ENV: &str = "TEAM_AGENT_BENCH_PATH_DIR";
/// The coordinator's tick interval written into TEAM.md (the product's default).
pub const TICK_INTERVAL_SEC: u64 = 2;

/// The operator's own model keys and CLI configuration homes: never inherited by a team, whose
/// real CLIs take theirs from the team's profiles and the sandbox's `HOME`.
const OPERATOR_ONLY: [&str; 4] = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "CODEX_HOME",
    "CLAUDE_CONFIG_DIR",
];

/// How one `team-agent` command went.
#[derive(Debug, Clone)]
pub struct Run {
    /// From just before the spawn to the process's exit.
    pub elapsed: Duration,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.stdout).ok()
    }

    /// A one-paragraph account of a failed command, for errors and notes.
    pub fn failure(&self, what: &str) -> String {
        let detail = if self.stderr.trim().is_empty() {
            self.stdout.trim()
        } else {
            self.stderr.trim()
        };
        let code = self
            .code
            .map(|c| format!("exit {c}"))
            .unwrap_or_else(|| "killed".into());
        format!(
            "`{what}` failed ({code}): {}",
            detail.chars().take(600).collect::<String>()
        )
    }
}

pub struct Sandbox {
    /// First on `PATH` when asked for (the idle measurement's tmux switch lives there).
    pub path_dir: Option<PathBuf>,
    pub home: PathBuf,
    pub tmux_dir: PathBuf,
    pub workspace: PathBuf,
    env: Vec<(OsString, OsString)>,
    team_agent: PathBuf,
    held: u64,
    // Last: removed after `Drop::drop` has ended everything running in it.
    _root: TempDir,
}

impl Sandbox {
    /// A fresh sandbox; with `path_dir`, an empty directory of its own goes first on `PATH` and
    /// is exported as [`PATH_DIR_ENV`] (for the programs put there). `extra_env` is added to every
    /// command's environment, replacing a variable of the same name (`PATH` too).
    pub fn new(
        binaries: &Binaries,
        path_dir: bool,
        extra_env: &[(&str, &OsStr)],
    ) -> anyhow::Result<Self> {
        // Short paths: a tmux socket path must stay under 107 bytes.
        let root = tempfile::Builder::new()
            .prefix("tab.")
            .tempdir_in(std::env::temp_dir())
            .context("cannot create a temporary directory")?;
        let home = root.path().join("h");
        let tmux_dir = root.path().join("t");
        let workspace = root.path().join("w");
        let path_dir = path_dir.then(|| root.path().join("p"));
        for dir in [&home, &tmux_dir, &workspace].into_iter().chain(&path_dir) {
            std::fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut path = Vec::new();
        path.extend(path_dir.clone());
        path.push(binaries.dir.clone());
        if let Some(original) = std::env::var_os("PATH") {
            path.extend(std::env::split_paths(&original));
        }
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| {
                let k = k.to_string_lossy();
                !(k == "TMUX" || k == "TMUX_PANE" || k.starts_with("TEAM_AGENT_"))
            })
            .filter(|(k, _)| !matches!(k.to_str(), Some("PATH" | "HOME" | "TMUX_TMPDIR")))
            .filter(|(k, _)| !OPERATOR_ONLY.iter().any(|v| k == v))
            .collect();
        env.push(("PATH".into(), std::env::join_paths(path)?));
        env.push(("HOME".into(), home.clone().into()));
        env.push(("TMUX_TMPDIR".into(), tmux_dir.clone().into()));
        env.push(("TEAM_AGENT_PLUGIN_PATH".into(), binaries.dir.clone().into()));
        if let Some(dir) = &path_dir {
            env.push((PATH_DIR_ENV.into(), dir.clone().into()));
        }
        for (key, value) in extra_env {
            env.retain(|(k, _)| k != key);
            env.push((key.into(), value.to_os_string()));
        }
        let held = cleanup::hold(Held {
            team_agent: binaries.team_agent.clone(),
            tmux: binaries.tmux.clone(),
            env: env.clone(),
            workspace: Some(workspace.clone()),
            tmux_dir: tmux_dir.clone(),
            root: root.path().to_path_buf(),
        });
        Ok(Self {
            path_dir,
            home,
            tmux_dir,
            workspace,
            env,
            team_agent: binaries.team_agent.clone(),
            held,
            _root: root,
        })
    }

    /// Writes the team `bench` with `workers` scripted workers `w01`, `w02`, …; each finishes a
    /// turn after `work_ms`.
    pub fn write_team(&self, workers: usize, work_ms: u64) -> anyhow::Result<()> {
        self.write_named_team(TEAM, workers, work_ms)
    }

    /// Writes the team `name` (in the directory of that name) with `workers` scripted workers.
    pub fn write_named_team(&self, name: &str, workers: usize, work_ms: u64) -> anyhow::Result<()> {
        let dir = self.workspace.join(name);
        std::fs::create_dir_all(dir.join("agents"))?;
        std::fs::write(
            dir.join("TEAM.md"),
            format!(
                "---\nname: {name}\nobjective: Measure team-agent.\nprovider: claude\n\
                 display_backend: none\ntick_interval_sec: {TICK_INTERVAL_SEC}\n---\n# {name}\n\n\
                 Written by team-agent-bench.\n"
            ),
        )?;
        for i in 1..=workers {
            self.write_worker_of(name, &worker(i), &[("work_ms", &work_ms.to_string())])?;
        }
        Ok(())
    }

    /// Writes the scripted worker `name` of the team `bench` with these `provider_options`
    /// (YAML scalars, e.g. `("hooks", "false")`).
    pub fn write_worker(&self, name: &str, options: &[(&str, &str)]) -> anyhow::Result<()> {
        self.write_worker_of(TEAM, name, options)
    }

    /// Writes the scripted worker `name` of the team `team`.
    pub fn write_worker_of(
        &self,
        team: &str,
        name: &str,
        options: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let options: String = options
            .iter()
            .map(|(key, value)| format!("  {key}: {value}\n"))
            .collect();
        let path = self
            .workspace
            .join(team)
            .join("agents")
            .join(format!("{name}.md"));
        std::fs::write(
            &path,
            format!(
                "---\nname: {name}\nrole: worker\nprovider: scripted\nprovider_options:\n\
                 {options}---\nBenchmark worker {name}.\n"
            ),
        )
        .with_context(|| format!("cannot write {}", path.display()))
    }

    /// `team-agent ARGS --workspace W`, ready to spawn (stdin null, output piped).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = self.exact_command(args);
        cmd.arg("--workspace").arg(&self.workspace);
        cmd
    }

    /// `team-agent ARGS`, nothing added (for command lines the host itself writes, such as a
    /// worker's hook command), with the sandbox's environment, in the workspace.
    pub fn exact_command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.team_agent);
        cmd.args(args)
            .current_dir(&self.workspace)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `PROGRAM` (not team-agent) with the sandbox's environment, in the workspace.
    pub fn program(&self, program: &std::path::Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.workspace)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `team-agent ARGS`, timed.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<Run> {
        timed(&mut self.command(args), None, Duration::from_secs(120))
    }

    /// Like [`run`](Self::run), but a failure is an error.
    pub fn run_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<Run> {
        let run = self.run(args)?;
        if !run.ok() {
            let what: Vec<String> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            bail!("{}", run.failure(&format!("team-agent {}", what.join(" "))));
        }
        Ok(run)
    }

    /// `status --json`.
    pub fn status(&self) -> anyhow::Result<Value> {
        self.run_ok(&["status", "--json"])?
            .json()
            .context("`team-agent status --json` did not print JSON")
    }

    /// The coordinator's pid (from its pid file, checked against its command line).
    pub fn coordinator_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.runtime_dir().join("coordinator.pid")).ok()?;
        let pid = text.trim().parse().ok()?;
        cleanup::is_coordinator_of(pid, &self.workspace).then_some(pid)
    }

    /// The team's runtime directory (`.team/runtime/teams/<team>`).
    pub fn runtime_dir(&self) -> PathBuf {
        self.workspace.join(".team/runtime/teams").join(TEAM)
    }

    pub fn events_log(&self) -> PathBuf {
        self.workspace
            .join(".team/logs/teams")
            .join(TEAM)
            .join("events.jsonl")
    }

    pub fn database(&self) -> PathBuf {
        self.runtime_dir().join("team.db")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        cleanup::release(self.held);
    }
}

/// The row of agent `id` in a `status --json` answer.
pub fn agent<'a>(status: &'a Value, id: &str) -> anyhow::Result<&'a Value> {
    status["agents"]
        .as_array()
        .and_then(|agents| agents.iter().find(|a| a["id"] == id))
        .with_context(|| format!("`status --json` has no agent {id}"))
}

/// The name of worker `i` (1-based).
pub fn worker(i: usize) -> String {
    format!("w{i:02}")
}

/// Runs `cmd` to its end, feeding it `input`; killed after `timeout`. The elapsed time runs from
/// just before the spawn to the exit (a watchdog thread does the killing, so the waiting thread
/// measures without polling).
pub fn timed(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> anyhow::Result<Run> {
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    let pid = Pid::from_raw(child.id() as i32);
    let (done, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    });
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // A child that exits without reading all of it is not our failure to report here.
        let _ = stdin.write_all(input);
    }
    let output = child.wait_with_output();
    let elapsed = started.elapsed();
    let _ = done.send(());
    let _ = watchdog.join();
    let output = output.context("lost a child process")?;
    Ok(Run {
        elapsed,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
