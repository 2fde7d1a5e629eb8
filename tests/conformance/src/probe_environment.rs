/*!
The machine a display plugin is checked on: a private temporary directory the suite owns, so a
display is judged by its plans and not by what the machine running the suite has installed.

The directory holds `bin/`, with a stand-in executable for every program a display may look for
on `PATH` (tmux, the terminal emulators, macOS's `open` and `osascript`), and the socket paths of
the team's and the leader's tmux servers. The environment a display sees names only these: its
`PATH` is that `bin/`, `TMUX` points at the leader's socket there, and an X11 and a Wayland display
are set. Nothing of the real machine's `PATH` or variables comes in, except its OS.

The suite compares plan steps and never runs them, so the stand-ins are never executed; one that
is run anyway says what it is and fails.
*/

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use team_agent_plugin_api::{DisplayEnvironment, LeaderPane, TeamView, WorkerView};

/// The programs a display may look for on `PATH`: tmux for the viewers it starts, the terminal
/// emulators the `terminal` display prefers, and the launchers of macOS terminal apps.
const STAND_INS: [&str; 10] = [
    "tmux",
    "x-terminal-emulator",
    "ghostty",
    "kitty",
    "wezterm",
    "alacritty",
    "gnome-terminal",
    "xterm",
    "open",
    "osascript",
];

const STAND_IN_SCRIPT: &str = "#!/bin/sh\n\
echo \"$0 is a stand-in of the team-agent conformance suite, which never runs plan steps\" >&2\n\
exit 1\n";

/// The suite's machine for one display check run; dropping it removes the directory.
pub struct ProbeEnvironment {
    dir: tempfile::TempDir,
    environment: DisplayEnvironment,
}

impl ProbeEnvironment {
    pub fn new() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("team-agent-conformance-")
            .tempdir()?;
        let bin = dir.path().join("bin");
        fs::create_dir(&bin)?;
        for name in STAND_INS {
            let program = bin.join(name);
            fs::write(&program, STAND_IN_SCRIPT)?;
            fs::set_permissions(&program, fs::Permissions::from_mode(0o755))?;
        }
        let leader_socket = leader_socket(dir.path());
        let environment = DisplayEnvironment {
            os: std::env::consts::OS.into(),
            env: [
                (
                    "TMUX".to_string(),
                    format!("{},1,0", leader_socket.to_string_lossy()),
                ),
                ("DISPLAY".to_string(), ":99".to_string()),
                (
                    "WAYLAND_DISPLAY".to_string(),
                    "wayland-conformance".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            path_dirs: vec![bin],
        };
        Ok(Self { dir, environment })
    }

    pub fn environment(&self) -> &DisplayEnvironment {
        &self.environment
    }

    /// A team of four workers on its own server, led from a pane inside tmux.
    pub fn team_view(&self) -> TeamView {
        TeamView {
            team: "conformance".into(),
            session_name: "team-conformance".into(),
            tmux_socket: self.dir.path().join("team.sock"),
            workers: (1..=4)
                .map(|i| WorkerView {
                    agent_id: format!("worker-{i}"),
                    window_id: format!("@{i}"),
                    pane_id: format!("%{i}"),
                })
                .collect(),
            leader: Some(LeaderPane {
                socket: leader_socket(self.dir.path()),
                pane_id: "%0".into(),
                session_name: "main".into(),
            }),
            environment: self.environment.clone(),
        }
    }
}

fn leader_socket(dir: &Path) -> PathBuf {
    dir.join("leader.sock")
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn every_path_the_display_sees_is_inside_the_suites_directory() {
        let probe = ProbeEnvironment::new().unwrap();
        let root = probe.dir.path().to_path_buf();
        let view = probe.team_view();
        let env = &probe.environment().env;
        assert_eq!(probe.environment().path_dirs, [root.join("bin")]);
        assert!(view.tmux_socket.starts_with(&root));
        let leader = view.leader.unwrap().socket;
        assert!(leader.starts_with(&root));
        assert_eq!(env["TMUX"], format!("{},1,0", leader.display()));
        assert_eq!(
            env.keys().map(String::as_str).collect::<Vec<_>>(),
            ["DISPLAY", "TMUX", "WAYLAND_DISPLAY"],
            "no variable of the machine running the suite comes in"
        );
    }

    #[test]
    fn every_program_a_display_looks_for_is_an_executable_stand_in() {
        let probe = ProbeEnvironment::new().unwrap();
        let bin = &probe.environment().path_dirs[0];
        for name in STAND_INS {
            let mode = fs::metadata(bin.join(name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755, "{name}");
        }
    }

    #[test]
    fn a_stand_in_that_is_run_says_it_is_one_and_fails() {
        let probe = ProbeEnvironment::new().unwrap();
        let xterm = probe.environment().path_dirs[0].join("xterm");
        let out = Command::new(&xterm).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("stand-in of the team-agent conformance suite"),
            "{out:?}"
        );
    }

    #[test]
    fn the_directory_goes_with_the_environment() {
        let probe = ProbeEnvironment::new().unwrap();
        let root = probe.dir.path().to_path_buf();
        drop(probe);
        assert!(!root.exists());
    }
}
