/*!
The `terminal` display (aliases `ghostty`, `ghostty_window`, `iterm`): one terminal-emulator
window per worker.

Each window runs a read-only tmux client of the worker's view session on the team's private server
(see `view_session`), so the operator watches the worker without typing into it or resizing its
window. Which terminal, and how it is started, is `emulator`'s business: on Linux the first of
`$TERMINAL`, `x-terminal-emulator`, `ghostty`, `kitty`, `wezterm`, `alacritty`, `gnome-terminal`,
`xterm` on `PATH` (with an X11 or Wayland display), on macOS Ghostty or else Terminal.app.

The plan `open` returns, per worker, in the order the host runs it:
1. on the team's server: `new-session -d -t =<team session> -s <view session>` (creates
   `view:<view session>`), `select-window -t =<view session>:<window id>`;
2. `Spawn` of the terminal's argv running
   `env -u TMUX <tmux> -S <team socket> attach-session -r -t =<view session>` (creates
   `terminal:<agent>`; the host starts it detached in its own process group and records its pid).

`close` returns, per worker, `Terminate` (destroys `terminal:<agent>`: the host signals the
recorded process group) and `kill-session -t =<view session>` on the team's server.

On macOS the spawned program is a launcher (`open`, `osascript`) that returns at once, so the
recorded pid is not the window's and `Terminate` finds nothing to stop: there the window goes
when its tmux client ends, which killing the view session makes happen (Ghostty closes it;
Terminal.app closes it if its profile closes windows whose shell exited).
*/

mod emulator;
mod handle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use team_agent_display_kit::handle as display_handle;
use team_agent_display_kit::programs;
use team_agent_display_kit::view_session::TeamViews;
use team_agent_plugin_api::{
    DisplayEnvironment, DisplayPlan, DisplayPlugin, DisplayProbe, PlanStep, PluginError,
    StepEffect, TeamView, export_display,
};

use crate::handle::{TerminalHandle, TerminalRecord, terminal_resource};

#[derive(Debug)]
pub struct TerminalDisplay {
    /// Where the filesystem starts for finding macOS applications: `/`, except in tests.
    system_root: PathBuf,
}

impl Default for TerminalDisplay {
    fn default() -> Self {
        Self {
            system_root: PathBuf::from("/"),
        }
    }
}

impl DisplayPlugin for TerminalDisplay {
    const NAME: &'static str = "terminal";
    const ALIASES: &'static [&'static str] = &["ghostty", "ghostty_window", "iterm"];

    const DESCRIPTION: &'static str = "one terminal-emulator window per worker, attached read-only";

    fn probe(&self, environment: &DisplayEnvironment) -> DisplayProbe {
        let choice = emulator::choose(environment, &self.system_root);
        match (choice, emulator::missing_display(environment)) {
            (Ok(choice), None) => DisplayProbe {
                available: true,
                detail: format!(
                    "{}, one window per worker, attached read-only{}",
                    choice.emulator.describe(),
                    choice
                        .passed_over
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
            },
            (Ok(choice), Some(missing)) => DisplayProbe {
                available: false,
                detail: format!(
                    "{} is installed but cannot open a window: {missing}",
                    choice.emulator.describe()
                ),
            },
            (Err(why), missing) => DisplayProbe {
                available: false,
                detail: match missing {
                    Some(missing) => format!("{why}; {missing}"),
                    None => why,
                },
            },
        }
    }

    type Handle = TerminalHandle;

    fn open(&self, view: &TeamView) -> Result<DisplayPlan<TerminalHandle>, PluginError> {
        open_plan(view, &self.system_root)
    }

    fn close(&self, handle: &TerminalHandle) -> Result<DisplayPlan<()>, PluginError> {
        display_handle::close(handle)
    }

    fn rebuild(
        &self,
        handle: &TerminalHandle,
        view: &TeamView,
    ) -> Result<DisplayPlan<TerminalHandle>, PluginError> {
        display_handle::rebuild(handle, || open_plan(view, &self.system_root))
    }
}

/// `open` plans with the terminal `probe` names. It does not insist on a display server: the
/// host probes before opening, and what `open` needs to build a plan is a terminal to start.
fn open_plan(
    view: &TeamView,
    system_root: &Path,
) -> Result<DisplayPlan<TerminalHandle>, PluginError> {
    let choice = emulator::choose(&view.environment, system_root).map_err(|why| {
        PluginError::unsupported(format!("no terminal window can be opened: {why}"))
    })?;
    let views = TeamViews::of(view)?;
    let tmux = programs::tmux(&view.environment);

    let mut steps = Vec::new();
    let mut terminals = Vec::new();
    for pinned in views.workers {
        let agent_id = &pinned.worker.agent_id;
        steps.extend(
            pinned
                .session
                .create(&views.team_session, &pinned.window_id),
        );
        steps.push(PlanStep::Spawn {
            argv: choice.emulator.argv(
                &format!("team-agent {}: {agent_id}", view.team),
                &pinned.session.attach_command(&tmux, views.team_socket),
            ),
            env: BTreeMap::new(),
            effect: StepEffect::Creates {
                resource: terminal_resource(agent_id),
            },
        });
        terminals.push(TerminalRecord {
            agent_id: agent_id.clone(),
            view_session: pinned.session,
        });
    }
    Ok(DisplayPlan {
        steps,
        handle: TerminalHandle::new(terminals),
    })
}

export_display!(TerminalDisplay);

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use team_agent_conformance::{resources_created, resources_destroyed};
    use team_agent_display_kit::view_session::ViewSession;
    use team_agent_plugin_api::{
        ErrorKind, TmuxServer, WorkerView, close_recorded, rebuild_recorded,
    };

    use super::*;

    /// A machine with the given programs on its only PATH directory.
    struct Machine {
        bin: tempfile::TempDir,
        root: tempfile::TempDir,
    }

    impl Machine {
        fn with(programs: &[&str]) -> Self {
            let bin = tempfile::tempdir().unwrap();
            for name in programs {
                let path = bin.path().join(name);
                fs::write(&path, "#!/bin/sh\n").unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            }
            Self {
                bin,
                root: tempfile::tempdir().unwrap(),
            }
        }

        fn display(&self) -> TerminalDisplay {
            TerminalDisplay {
                system_root: self.root.path().to_path_buf(),
            }
        }

        fn environment(&self, vars: &[(&str, &str)]) -> DisplayEnvironment {
            DisplayEnvironment {
                os: "linux".into(),
                env: vars
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                path_dirs: vec![self.bin.path().to_path_buf()],
            }
        }

        fn program(&self, name: &str) -> String {
            self.bin.path().join(name).to_str().unwrap().to_string()
        }

        fn team(&self, workers: usize) -> TeamView {
            TeamView {
                team: "alpha".into(),
                session_name: "team-alpha".into(),
                tmux_socket: PathBuf::from("/tmp/ta-x/sock"),
                workers: (1..=workers)
                    .map(|i| WorkerView {
                        agent_id: format!("w{i}"),
                        window_id: format!("@{i}"),
                        pane_id: format!("%{i}"),
                    })
                    .collect(),
                leader: None,
                environment: self.environment(&[("DISPLAY", ":0")]),
            }
        }
    }

    #[test]
    fn probe_names_the_terminal_that_will_be_used() {
        let machine = Machine::with(&["xterm"]);
        let probe = machine
            .display()
            .probe(&machine.environment(&[("DISPLAY", ":0")]));
        assert!(probe.available, "{}", probe.detail);
        assert!(
            probe
                .detail
                .starts_with(&format!("xterm ({})", machine.program("xterm"))),
            "{}",
            probe.detail
        );
    }

    #[test]
    fn probe_without_a_display_server_says_so() {
        let machine = Machine::with(&["kitty"]);
        let probe = machine.display().probe(&machine.environment(&[]));
        assert!(!probe.available);
        assert!(probe.detail.contains("kitty"), "{}", probe.detail);
        assert!(
            probe.detail.contains("neither DISPLAY nor WAYLAND_DISPLAY"),
            "{}",
            probe.detail
        );
    }

    #[test]
    fn probe_without_a_terminal_says_what_it_looked_for() {
        let machine = Machine::with(&[]);
        let probe = machine
            .display()
            .probe(&machine.environment(&[("WAYLAND_DISPLAY", "wayland-0")]));
        assert!(!probe.available);
        assert!(
            probe.detail.starts_with("no terminal emulator found"),
            "{}",
            probe.detail
        );
    }

    #[test]
    fn probe_mentions_a_terminal_variable_it_passed_over() {
        let machine = Machine::with(&["alacritty"]);
        let probe = machine
            .display()
            .probe(&machine.environment(&[("DISPLAY", ":0"), ("TERMINAL", "foot")]));
        assert!(probe.available);
        assert!(
            probe.detail.contains("$TERMINAL (foot)"),
            "{}",
            probe.detail
        );
    }

    #[test]
    fn probe_on_macos_needs_no_display_server() {
        let machine = Machine::with(&[]);
        fs::create_dir_all(machine.root.path().join("Applications/Ghostty.app")).unwrap();
        let mut environment = machine.environment(&[]);
        environment.os = "macos".into();
        let probe = machine.display().probe(&environment);
        assert!(probe.available, "{}", probe.detail);
        assert!(probe.detail.starts_with("Ghostty ("), "{}", probe.detail);
    }

    #[test]
    fn open_makes_a_view_session_then_a_terminal_per_worker() {
        let machine = Machine::with(&["xterm", "tmux"]);
        let plan = machine.display().open(&machine.team(2)).unwrap();
        assert_eq!(plan.steps.len(), 6);
        let view = ViewSession::for_worker("alpha", "w1");
        assert!(matches!(
            &plan.steps[0],
            PlanStep::Tmux { server: TmuxServer::Team, args, effect: StepEffect::Creates { resource } }
                if args[0] == "new-session" && *resource == view.resource()
        ));
        assert!(matches!(
            &plan.steps[1],
            PlanStep::Tmux { server: TmuxServer::Team, args, effect: StepEffect::Adjusts }
                if args[0] == "select-window"
        ));
        let PlanStep::Spawn { argv, env, effect } = &plan.steps[2] else {
            panic!("not a spawn: {:?}", plan.steps[2]);
        };
        let mut expected = vec![
            machine.program("xterm"),
            "-T".into(),
            "team-agent alpha: w1".into(),
            "-e".into(),
        ];
        expected.extend(view.attach_command(&machine.program("tmux"), "/tmp/ta-x/sock"));
        assert_eq!(argv, &expected);
        assert!(env.is_empty());
        assert_eq!(
            effect,
            &StepEffect::Creates {
                resource: "terminal:w1".into()
            }
        );
    }

    #[test]
    fn close_destroys_exactly_what_open_created() {
        let machine = Machine::with(&["gnome-terminal"]);
        let opened = machine.display().open(&machine.team(3)).unwrap();
        let closed = machine.display().close(&opened.handle).unwrap();
        assert_eq!(resources_created(&opened), resources_destroyed(&closed));
        assert_eq!(resources_created(&opened).len(), 6);
        assert!(resources_destroyed(&opened).is_empty());
        assert_eq!(
            closed
                .steps
                .iter()
                .filter(|s| matches!(s, PlanStep::Terminate { .. }))
                .count(),
            3
        );
    }

    #[test]
    fn rebuild_closes_the_recorded_windows_then_opens_the_new_view() {
        let machine = Machine::with(&["kitty"]);
        let display = machine.display();
        let opened = display.open(&machine.team(1)).unwrap();
        let rebuilt = display.rebuild(&opened.handle, &machine.team(2)).unwrap();
        let close = display.close(&opened.handle).unwrap();
        let open = display.open(&machine.team(2)).unwrap();
        assert_eq!(rebuilt.steps[..close.steps.len()], close.steps[..]);
        assert_eq!(rebuilt.steps[close.steps.len()..], open.steps[..]);
        assert_eq!(rebuilt.handle, open.handle);
    }

    #[test]
    fn open_without_a_terminal_is_an_error_with_the_reason() {
        let machine = Machine::with(&[]);
        let e = machine.display().open(&machine.team(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("no terminal emulator found"), "{e}");
    }

    #[test]
    fn garbage_handles_are_errors_for_close_and_rebuild() {
        let machine = Machine::with(&["xterm"]);
        for garbage in [
            serde_json::Value::Null,
            serde_json::json!({"display": "terminal"}),
            serde_json::json!(42),
        ] {
            assert!(close_recorded(&machine.display(), &garbage).is_err());
            assert!(rebuild_recorded(&machine.display(), &garbage, &machine.team(1)).is_err());
        }
    }
}
