/*!
Terminal emulators: which one shows the workers, and how it is told what to run.

The choice is made from the operator's environment alone (the OS, a few variables, the
directories of `PATH`) by looking at files, never by running anything, so `probe` and `open` make
the same one. On Linux and other X11/Wayland systems it is the first of `$TERMINAL`,
`x-terminal-emulator`, `ghostty`, `kitty`, `wezterm`, `alacritty`, `gnome-terminal` and `xterm`
found on `PATH`, each started with its own syntax for a window title and a command. On macOS it is
Ghostty when installed (`open -na Ghostty.app --args …`), otherwise Terminal.app, driven through
AppleScript because Terminal.app takes no command on its command line.
*/

use std::path::{Path, PathBuf};

use team_agent_plugin_api::DisplayEnvironment;

use team_agent_display_kit::programs::{find_executable, is_executable};

/// How a terminal program takes a title and a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `-T TITLE -e CMD…`: xterm, and any `x-terminal-emulator` (Debian policy requires both).
    Xterm,
    Ghostty,
    Kitty,
    Wezterm,
    Alacritty,
    GnomeTerminal,
    /// A `$TERMINAL` this display does not know: `-e CMD…`, the convention most terminals follow.
    Unknown,
}

/// The known terminals, in the order they are preferred after `$TERMINAL`.
const PREFERRED: [(&str, Dialect); 7] = [
    ("x-terminal-emulator", Dialect::Xterm),
    ("ghostty", Dialect::Ghostty),
    ("kitty", Dialect::Kitty),
    ("wezterm", Dialect::Wezterm),
    ("alacritty", Dialect::Alacritty),
    ("gnome-terminal", Dialect::GnomeTerminal),
    ("xterm", Dialect::Xterm),
];

impl Dialect {
    /// The dialect of a program, by its file name.
    fn of(program: &Path) -> Self {
        let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("");
        PREFERRED
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(Self::Unknown, |(_, dialect)| *dialect)
    }
}

/// The terminal that shows each worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emulator {
    /// A program started directly; the host records its pid, and the window lives as long as it.
    Direct { program: PathBuf, dialect: Dialect },
    /// Ghostty on macOS, as a new instance through `open -na` (which returns at once).
    GhosttyApp { app: PathBuf },
    /// Terminal.app, told by `osascript` to open a window (which returns at once).
    TerminalApp,
}

/// The terminal chosen, and a `$TERMINAL` that was set but passed over (and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub emulator: Emulator,
    pub passed_over: Option<String>,
}

/// The terminal for this environment, or why there is none. `root` is where the filesystem
/// starts (`/`; a test directory in tests) for the macOS application folders.
pub fn choose(environment: &DisplayEnvironment, root: &Path) -> Result<Choice, String> {
    match environment.os.as_str() {
        "macos" => choose_macos(environment, root).map(|emulator| Choice {
            emulator,
            passed_over: None,
        }),
        "windows" => Err(
            "terminal windows are opened on Linux, other Unix desktops and \
                          macOS, not on Windows"
                .into(),
        ),
        _ => choose_on_path(environment),
    }
}

fn choose_on_path(environment: &DisplayEnvironment) -> Result<Choice, String> {
    let dirs = &environment.path_dirs;
    let mut passed_over = None;
    if let Some(wanted) = environment
        .env
        .get("TERMINAL")
        .filter(|v| !v.trim().is_empty())
    {
        let program = if wanted.contains('/') {
            Some(PathBuf::from(wanted)).filter(|p| p.is_absolute() && is_executable(p))
        } else {
            find_executable(wanted, dirs)
        };
        match program {
            Some(program) => {
                return Ok(Choice {
                    emulator: Emulator::Direct {
                        dialect: Dialect::of(&program),
                        program,
                    },
                    passed_over: None,
                });
            }
            None => {
                passed_over = Some(format!("$TERMINAL ({wanted}) is not an executable on PATH"))
            }
        }
    }
    for (name, dialect) in PREFERRED {
        if let Some(program) = find_executable(name, dirs) {
            return Ok(Choice {
                emulator: Emulator::Direct { program, dialect },
                passed_over,
            });
        }
    }
    let names: Vec<&str> = PREFERRED.iter().map(|(name, _)| *name).collect();
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(format!(
        "no terminal emulator found: {}looked for {} in PATH ({})",
        passed_over.map(|p| format!("{p}; ")).unwrap_or_default(),
        names.join(", "),
        if searched.is_empty() {
            "empty".to_string()
        } else {
            searched.join(":")
        }
    ))
}

fn choose_macos(environment: &DisplayEnvironment, root: &Path) -> Result<Emulator, String> {
    let mut app_dirs = vec![root.join("Applications")];
    if let Some(home) = environment.env.get("HOME").filter(|h| !h.is_empty()) {
        app_dirs.push(Path::new(home).join("Applications"));
    }
    if let Some(app) = app_dirs
        .iter()
        .map(|dir| dir.join("Ghostty.app"))
        .find(|app| app.is_dir())
    {
        return Ok(Emulator::GhosttyApp { app });
    }
    let terminal_app = [
        "System/Applications/Utilities/Terminal.app",
        "Applications/Utilities/Terminal.app",
    ];
    if terminal_app.iter().any(|app| root.join(app).is_dir()) {
        return Ok(Emulator::TerminalApp);
    }
    Err(
        "neither Ghostty.app (in /Applications or ~/Applications) nor Terminal.app is installed"
            .into(),
    )
}

/// Why a terminal started here could not open a window, if it could not: outside macOS (whose
/// apps bring their own) a window needs an X11 or Wayland display.
pub fn missing_display(environment: &DisplayEnvironment) -> Option<&'static str> {
    if matches!(environment.os.as_str(), "macos" | "windows") {
        return None;
    }
    let present = ["WAYLAND_DISPLAY", "DISPLAY"]
        .iter()
        .any(|var| environment.env.get(*var).is_some_and(|v| !v.is_empty()));
    (!present).then_some("no graphical session: neither DISPLAY nor WAYLAND_DISPLAY is set")
}

impl Emulator {
    /// What the probe says will be used.
    pub fn describe(&self) -> String {
        match self {
            Self::Direct { program, .. } => format!(
                "{} ({})",
                program.file_name().map_or_else(
                    || program.display().to_string(),
                    |n| n.to_string_lossy().into()
                ),
                program.display()
            ),
            Self::GhosttyApp { app } => format!("Ghostty ({}, through `open -na`)", app.display()),
            Self::TerminalApp => "Terminal.app (through AppleScript)".into(),
        }
    }

    /// The argv that opens one window titled `title` running `command`.
    pub fn argv(&self, title: &str, command: &[String]) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        let mut push = |args: &[&str]| argv.extend(args.iter().map(|a| a.to_string()));
        match self {
            Self::Direct { program, dialect } => {
                push(&[&program.to_string_lossy()]);
                match dialect {
                    Dialect::Xterm => push(&["-T", title, "-e"]),
                    // Not single-instance: the window must belong to the process the host
                    // records, not to an older Ghostty that would outlive `close`.
                    Dialect::Ghostty => push(&[
                        "--gtk-single-instance=false",
                        &format!("--title={title}"),
                        "-e",
                    ]),
                    Dialect::Kitty => push(&["--title", title]),
                    // No title option; a new process for the same reason as Ghostty.
                    Dialect::Wezterm => push(&["start", "--always-new-process", "--"]),
                    Dialect::Alacritty => push(&["--title", title, "-e"]),
                    // `--wait` keeps the launcher (the recorded process) alive while the window
                    // is open, instead of returning as soon as the terminal server has it.
                    Dialect::GnomeTerminal => push(&["--wait", "--title", title, "--"]),
                    Dialect::Unknown => push(&["-e"]),
                }
                argv.extend(command.iter().cloned());
            }
            Self::GhosttyApp { app } => {
                // `-n`: a new instance, so the arguments reach it (a running Ghostty ignores
                // them); quitting with its last window keeps instances from piling up.
                push(&[
                    "/usr/bin/open",
                    "-na",
                    &app.to_string_lossy(),
                    "--args",
                    &format!("--title={title}"),
                    "--quit-after-last-window-closed=true",
                    "-e",
                ]);
                argv.extend(command.iter().cloned());
            }
            Self::TerminalApp => {
                let line = std::iter::once("exec".to_string())
                    .chain(command.iter().map(|a| shell_quote(a)))
                    .collect::<Vec<_>>()
                    .join(" ");
                push(&[
                    "/usr/bin/osascript",
                    "-e",
                    "tell application \"Terminal\"",
                    "-e",
                    &format!("set viewer to do script {}", applescript_string(&line)),
                    "-e",
                    &format!(
                        "set custom title of viewer to {}",
                        applescript_string(title)
                    ),
                    "-e",
                    "end tell",
                ]);
            }
        }
        argv
    }
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=@%:,./".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` as an AppleScript string literal.
fn applescript_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', r"\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn install(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn linux(dirs: &[&Path], vars: &[(&str, &str)]) -> DisplayEnvironment {
        DisplayEnvironment {
            os: "linux".into(),
            env: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            path_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        }
    }

    fn chosen(environment: &DisplayEnvironment) -> Emulator {
        choose(environment, Path::new("/nonexistent"))
            .unwrap()
            .emulator
    }

    fn command() -> Vec<String> {
        ["env", "-u", "TMUX", "tmux", "attach-session", "-r"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn the_first_known_terminal_on_path_is_chosen_in_the_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), "xterm");
        let kitty = install(dir.path(), "kitty");
        install(dir.path(), "alacritty");
        assert_eq!(
            chosen(&linux(&[dir.path()], &[])),
            Emulator::Direct {
                program: kitty,
                dialect: Dialect::Kitty
            }
        );
        let generic = install(dir.path(), "x-terminal-emulator");
        assert_eq!(
            chosen(&linux(&[dir.path()], &[])),
            Emulator::Direct {
                program: generic,
                dialect: Dialect::Xterm
            }
        );
    }

    #[test]
    fn terminal_variable_comes_first_by_name_or_by_path() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), "xterm");
        let wezterm = install(dir.path(), "wezterm");
        let by_name = linux(&[dir.path()], &[("TERMINAL", "wezterm")]);
        assert_eq!(
            chosen(&by_name),
            Emulator::Direct {
                program: wezterm.clone(),
                dialect: Dialect::Wezterm
            }
        );
        let by_path = linux(&[], &[("TERMINAL", wezterm.to_str().unwrap())]);
        assert_eq!(
            chosen(&by_path),
            Emulator::Direct {
                program: wezterm,
                dialect: Dialect::Wezterm
            }
        );
    }

    #[test]
    fn an_unknown_terminal_variable_is_run_with_the_dash_e_convention() {
        let dir = tempfile::tempdir().unwrap();
        let urxvt = install(dir.path(), "urxvt");
        let environment = linux(&[dir.path()], &[("TERMINAL", "urxvt")]);
        let emulator = chosen(&environment);
        assert_eq!(
            emulator.argv("t", &command())[..3],
            [urxvt.to_str().unwrap(), "-e", "env"]
        );
    }

    #[test]
    fn a_missing_terminal_variable_is_passed_over_and_said() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), "xterm");
        let choice = choose(
            &linux(&[dir.path()], &[("TERMINAL", "nosuchterm")]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(
            choice.passed_over.as_deref(),
            Some("$TERMINAL (nosuchterm) is not an executable on PATH")
        );
        assert!(matches!(
            choice.emulator,
            Emulator::Direct {
                dialect: Dialect::Xterm,
                ..
            }
        ));
    }

    #[test]
    fn no_terminal_says_what_was_looked_for_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let why = choose(
            &linux(&[dir.path()], &[("TERMINAL", "nosuchterm")]),
            Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert!(
            why.starts_with("no terminal emulator found: $TERMINAL (nosuchterm)"),
            "{why}"
        );
        assert!(
            why.contains(
                "x-terminal-emulator, ghostty, kitty, wezterm, alacritty, gnome-terminal, xterm"
            ),
            "{why}"
        );
        assert!(why.contains(dir.path().to_str().unwrap()), "{why}");
    }

    #[test]
    fn each_terminal_gets_its_own_title_and_command_syntax() {
        let cases: [(&str, Dialect, &[&str]); 6] = [
            ("xterm", Dialect::Xterm, &["-T", "T", "-e"]),
            (
                "ghostty",
                Dialect::Ghostty,
                &["--gtk-single-instance=false", "--title=T", "-e"],
            ),
            ("kitty", Dialect::Kitty, &["--title", "T"]),
            (
                "wezterm",
                Dialect::Wezterm,
                &["start", "--always-new-process", "--"],
            ),
            ("alacritty", Dialect::Alacritty, &["--title", "T", "-e"]),
            (
                "gnome-terminal",
                Dialect::GnomeTerminal,
                &["--wait", "--title", "T", "--"],
            ),
        ];
        for (name, dialect, options) in cases {
            let program = PathBuf::from("/usr/bin").join(name);
            let argv = Emulator::Direct {
                program: program.clone(),
                dialect,
            }
            .argv("T", &command());
            let mut expected = vec![program.to_str().unwrap().to_string()];
            expected.extend(options.iter().map(|o| o.to_string()));
            expected.extend(command());
            assert_eq!(argv, expected, "{name}");
        }
    }

    #[test]
    fn a_window_needs_x11_or_wayland_except_on_macos() {
        assert!(missing_display(&linux(&[], &[])).is_some());
        assert!(missing_display(&linux(&[], &[("DISPLAY", "")])).is_some());
        assert_eq!(missing_display(&linux(&[], &[("DISPLAY", ":99")])), None);
        assert_eq!(
            missing_display(&linux(&[], &[("WAYLAND_DISPLAY", "wayland-0")])),
            None
        );
        assert_eq!(missing_display(&macos(Path::new("/home/x"))), None);
    }

    fn macos(home: &Path) -> DisplayEnvironment {
        DisplayEnvironment {
            os: "macos".into(),
            env: [("HOME".to_string(), home.to_str().unwrap().to_string())]
                .into_iter()
                .collect(),
            path_dirs: Vec::new(),
        }
    }

    #[test]
    fn on_macos_ghostty_opens_as_a_new_instance_with_the_command() {
        let root = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let app = home.path().join("Applications/Ghostty.app");
        fs::create_dir_all(&app).unwrap();
        let emulator = choose(&macos(home.path()), root.path()).unwrap().emulator;
        assert_eq!(emulator, Emulator::GhosttyApp { app: app.clone() });
        let argv = emulator.argv("T", &command());
        let mut expected: Vec<String> = [
            "/usr/bin/open",
            "-na",
            app.to_str().unwrap(),
            "--args",
            "--title=T",
            "--quit-after-last-window-closed=true",
            "-e",
        ]
        .map(String::from)
        .to_vec();
        expected.extend(command());
        assert_eq!(argv, expected);
    }

    #[test]
    fn on_macos_without_ghostty_terminal_app_runs_the_command_through_applescript() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(
            root.path()
                .join("System/Applications/Utilities/Terminal.app"),
        )
        .unwrap();
        let emulator = choose(&macos(root.path()), root.path()).unwrap().emulator;
        assert_eq!(emulator, Emulator::TerminalApp);
        let argv = emulator.argv(
            "team \"a\"",
            &[
                "tmux".into(),
                "-S".into(),
                "/tmp/my sock".into(),
                "it's".into(),
            ],
        );
        assert_eq!(
            argv,
            [
                "/usr/bin/osascript",
                "-e",
                "tell application \"Terminal\"",
                "-e",
                r#"set viewer to do script "exec tmux -S '/tmp/my sock' 'it'\\''s'""#,
                "-e",
                r#"set custom title of viewer to "team \"a\"""#,
                "-e",
                "end tell"
            ]
        );
    }

    #[test]
    fn on_macos_with_neither_app_there_is_no_terminal() {
        let root = tempfile::tempdir().unwrap();
        let why = choose(&macos(root.path()), root.path()).unwrap_err();
        assert!(
            why.contains("Ghostty.app") && why.contains("Terminal.app"),
            "{why}"
        );
    }

    #[test]
    fn windows_is_refused() {
        let environment = DisplayEnvironment {
            os: "windows".into(),
            ..Default::default()
        };
        assert!(choose(&environment, Path::new("/")).is_err());
    }
}
