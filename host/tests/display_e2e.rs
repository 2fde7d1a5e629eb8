//! Display plugins run by the host on real tmux: `tmux-overview` in a leader's session on another
//! tmux server, `terminal` with real xterms under Xvfb, and displays that fail without stopping
//! the team.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output};

use serde_json::Value;
use support::*;

/// An operator's tmux server (under the test's tmux directory, so the environment's cleanup
/// ends it) with one session whose pane plays the leader.
struct Operator {
    socket: PathBuf,
    leader_pane: String,
}

impl Operator {
    fn new(env: &TeamEnv) -> Self {
        let socket = env.tmux_dir().join("op").join("operator");
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "lead",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .args(["-P", "-F", "#{pane_id}", "sleep", "600"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        Self {
            socket,
            leader_pane: stdout(&out).trim().to_string(),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        stdout(
            &Command::new("tmux")
                .arg("-S")
                .arg(&self.socket)
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// The leader session's windows: `leader` for the one holding the leader's pane (its name
    /// follows the running command), the others by name.
    fn windows(&self) -> Vec<String> {
        let leader_window = self
            .tmux(&["display", "-p", "-t", &self.leader_pane, "#{window_id}"])
            .trim()
            .to_string();
        self.tmux(&[
            "list-windows",
            "-t",
            "lead",
            "-F",
            "#{window_id} #{window_panes} #{window_name}",
        ])
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let (id, panes, name) = (
                fields.next().unwrap_or_default(),
                fields.next().unwrap_or_default(),
                fields.next().unwrap_or_default(),
            );
            if id == leader_window {
                // The leader's window holds only the leader's pane.
                format!("leader:{panes}")
            } else {
                name.to_string()
            }
        })
        .collect()
    }

    /// `team-agent ARGS --json` as typed in the leader's pane.
    fn run(&self, env: &TeamEnv, args: &[&str]) -> (bool, Value) {
        let out = env
            .command()
            .env("TMUX", format!("{},1,0", self.socket.display()))
            .env("TMUX_PANE", &self.leader_pane)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        (out.status.success(), json(&out))
    }
}

/// The sessions of the team server's clients, leaving out control-mode clients (the
/// coordinator talks to tmux through one).
fn clients(env: &TeamEnv) -> Vec<String> {
    stdout(&env.tmux(&["list-clients", "-F", "#{client_flags} #{client_session}"]))
        .lines()
        .filter(|l| !l.contains("control-mode"))
        .filter_map(|l| l.split_once(' ').map(|(_, session)| session.to_string()))
        .collect()
}

#[test]
fn tmux_overview_shows_every_worker_in_the_leaders_session_and_shutdown_removes_exactly_that() {
    let env = TeamEnv::new();
    let operator = Operator::new(&env);
    assert!(env.run(&["init", "team"]).status.success());
    // The starter's display_backend is `auto`: from a tmux pane that is tmux-overview.
    let (ok, up) = operator.run(&env, &["up", "team"]);
    assert!(ok, "{up}");
    assert_eq!(up["display"]["backend"], "tmux-overview", "{up}");
    assert_eq!(up["display"]["open"], true, "{up}");
    assert_eq!(operator.windows(), ["leader:1", "ta-team-overview"]);

    // One read-only client per worker, each a pane of the overview window.
    let panes = operator.tmux(&[
        "list-panes",
        "-t",
        "lead:=ta-team-overview",
        "-F",
        "#{pane_current_command}",
    ]);
    assert_eq!(panes.lines().count(), 2, "{panes}");
    assert!(wait_until(10, || clients(&env).len() == 2));
    let mut sessions = clients(&env);
    sessions.sort();
    assert!(
        sessions[0].starts_with("ta-view-team-alice-"),
        "{sessions:?}"
    );
    assert!(sessions[1].starts_with("ta-view-team-bob-"), "{sessions:?}");
    // What a worker draws shows in the overview.
    let (_, peek) = env.json(&["peek", "alice", "--lines", "5"]);
    let line = peek["lines"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .find(|l| l.trim().len() > 3)
        })
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    assert!(!line.is_empty(), "{peek}");
    assert!(wait_until(10, || operator
        .tmux(&["capture-pane", "-p", "-t", "lead:=ta-team-overview.0"])
        .contains(&line)));
    // The leader's own pane is untouched.
    assert_eq!(
        operator
            .tmux(&[
                "display",
                "-p",
                "-t",
                &operator.leader_pane,
                "#{pane_current_command}"
            ])
            .trim(),
        "sleep"
    );
    assert_eq!(env.status()["display"]["open"], true);
    // The overview's small panes never resize the workers' windows.
    let sizes = stdout(&env.tmux(&[
        "list-windows",
        "-t",
        "team-team",
        "-F",
        "#{window_width}x#{window_height}",
    ]));
    assert!(sizes.lines().all(|l| l == "200x50"), "{sizes}");

    // A new worker joins the overview.
    std::fs::write(
        env.workspace().join("carol.md"),
        "---\nname: carol\nrole: tester\nprovider: scripted\n---\nYou test.\n",
    )
    .unwrap();
    let (ok, added) = operator.run(&env, &["add-agent", "carol", "--role-file", "carol.md"]);
    assert!(ok, "{added}");
    assert_eq!(operator.windows(), ["leader:1", "ta-team-overview"]);
    let count = || {
        operator
            .tmux(&["list-panes", "-t", "lead:=ta-team-overview"])
            .lines()
            .count()
    };
    assert_eq!(count(), 3);
    assert!(wait_until(10, || clients(&env).len() == 3));

    let (ok, down) = operator.run(&env, &["shutdown"]);
    assert!(ok, "{down}");
    assert_eq!(
        operator.windows(),
        ["leader:1"],
        "exactly the overview window is gone"
    );
    assert_eq!(env.status()["display"]["open"], false);

    // Rebuilt after a restart.
    let (ok, restarted) = operator.run(&env, &["restart"]);
    assert!(ok, "{restarted}");
    assert_eq!(restarted["display"]["open"], true, "{restarted}");
    assert_eq!(operator.windows(), ["leader:1", "ta-team-overview"]);
    assert_eq!(count(), 3);
    let (ok, _) = operator.run(&env, &["shutdown"]);
    assert!(ok);
    assert_eq!(operator.windows(), ["leader:1"]);
}

#[test]
fn a_display_that_fails_never_stops_the_team_and_status_says_why() {
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    // No leader in tmux: tmux-overview has nowhere to put its windows.
    let (ok, up) = env.json(&["up", "team", "--display", "tmux-overview"]);
    assert!(ok, "{up}");
    assert_eq!(up["agents"].as_array().unwrap().len(), 2);
    assert_eq!(up["display"]["open"], false);
    let error = up["display"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!error.is_empty(), "{up}");
    let status = env.run(&["status"]);
    assert!(
        stdout(&status).contains("display: tmux-overview failed:"),
        "{}",
        stdout(&status)
    );
    assert_eq!(env.status()["display"]["error"], error.as_str());
    assert!(clients(&env).is_empty(), "nothing half-made is left");
    assert!(env.run(&["shutdown"]).status.success());

    // `plugins probe` says the same before anything is started.
    let probe = env
        .command()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["plugins", "probe", "terminal", "--json"])
        .output()
        .unwrap();
    assert!(!probe.status.success());
    let probe = json(&probe);
    assert_eq!(probe["available"], false);
    // Why: no graphical session, or (where none is installed) no terminal emulator.
    let detail = probe["detail"].as_str().unwrap();
    assert!(
        detail.contains("DISPLAY") || detail.contains("PATH"),
        "{probe}"
    );

    let (ok, up) = env.json(&["restart", "--display", "no-such-display"]);
    assert!(ok, "{up}");
    assert!(
        up["display"]["error"]
            .as_str()
            .unwrap()
            .contains("no-such-display"),
        "{up}"
    );
}

/// An X server of our own for the test; ended on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Self> {
        for number in 90 + (std::process::id() % 50)..200 {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
                continue;
            }
            let display = format!(":{number}");
            let child = Command::new("Xvfb")
                .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .ok()?;
            let mut xvfb = Self { child, display };
            let socket = format!("/tmp/.X11-unix/X{number}");
            if wait_until(10, || std::path::Path::new(&socket).exists()) {
                return Some(xvfb);
            }
            let _ = xvfb.child.kill();
        }
        None
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn terminal_opens_one_xterm_per_worker_under_xvfb_and_shutdown_closes_them() {
    if !installed("Xvfb") || !installed("xterm") {
        eprintln!(
            "SKIPPED: the terminal display test needs Xvfb and xterm (apt-get install -y xvfb xterm x11-apps)"
        );
        return;
    }
    let Some(xvfb) = Xvfb::start() else {
        eprintln!("SKIPPED: Xvfb did not start");
        return;
    };
    let env = TeamEnv::new();
    assert!(env.run(&["init", "team"]).status.success());
    let terminal_env = |cmd: &mut Command| {
        cmd.env("DISPLAY", &xvfb.display)
            .env("TERMINAL", "xterm")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE");
    };
    let mut up = env.command();
    terminal_env(&mut up);
    let up: Output = up
        .args(["up", "team", "--display", "terminal", "--json"])
        .output()
        .unwrap();
    let up = json(&up);
    assert_eq!(up["display"]["open"], true, "{up}");
    assert_eq!(up["display"]["processes"], 2, "{up}");

    // Each xterm runs a tmux client attached to its worker's view session.
    assert!(
        wait_until(15, || clients(&env).len() == 2),
        "clients: {:?}",
        clients(&env)
    );
    let mut sessions = clients(&env);
    sessions.sort();
    assert!(
        sessions[0].starts_with("ta-view-team-alice-"),
        "{sessions:?}"
    );
    assert!(sessions[1].starts_with("ta-view-team-bob-"), "{sessions:?}");

    let state: Value =
        serde_json::from_slice(&std::fs::read(env.runtime().join("state.json")).unwrap()).unwrap();
    let pids: Vec<u64> = state["team"]["display"]["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| alive(*p)));
    for pid in &pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        assert!(
            program.ends_with(b"xterm"),
            "{:?}",
            String::from_utf8_lossy(&cmdline)
        );
    }

    // The screenshot, kept for people to look at.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    if installed("xwd") {
        let artifact = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("terminal-display.xwd");
        let shot = Command::new("xwd")
            .args(["-root", "-silent", "-display", &xvfb.display, "-out"])
            .arg(&artifact)
            .output()
            .unwrap();
        assert!(shot.status.success(), "{}", stderr(&shot));
        assert!(std::fs::metadata(&artifact).unwrap().len() > 100_000);
        eprintln!("screenshot: {}", artifact.display());
    } else {
        eprintln!("no screenshot: xwd is not installed (apt-get install -y x11-apps)");
    }

    let mut down = env.command();
    terminal_env(&mut down);
    let down = down.args(["shutdown", "--json"]).output().unwrap();
    assert!(down.status.success(), "{}", stdout(&down));
    assert!(
        wait_until(10, || pids.iter().all(|p| !alive(*p))),
        "the xterms are closed"
    );
    assert_eq!(env.status()["display"]["open"], false);
}
