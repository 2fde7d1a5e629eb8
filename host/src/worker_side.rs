//! What runs inside a worker's window beside its CLI: the CLI's start (`worker-exec`) and each
//! of its hooks (`hook`). Both run once per worker start or hook call, a hundred at a time when a
//! big team comes up, so they skip the command-line parser and, from the lean `team-agent-worker`
//! binary installed beside `team-agent`, map in little more than the code they run.
//!
//! Only the exact command lines the host writes are taken here; any other spelling goes to the
//! full command line (`team-agent`), which accepts every form `--help` shows.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// The lean binary's name; `team-agent` starts workers and configures hooks through it when it
/// is installed beside `team-agent`.
pub const LEAN_BINARY: &str = "team-agent-worker";

/// One of the command lines the host writes for a worker.
#[derive(Debug, PartialEq, Eq)]
enum Call<'a> {
    /// `worker-exec --env-file FILE -- PROGRAM ARGS…`
    Exec {
        env_file: &'a str,
        argv: &'a [String],
    },
    /// `--workspace DIR hook --agent AGENT EVENT [PAYLOAD]`
    Hook {
        workspace: &'a str,
        agent: &'a str,
        event: &'a str,
        payload: Option<&'a str>,
    },
}

/// The call `args` (without the program's name) spell, when they are one the host writes.
fn parse(args: &[String]) -> Option<Call<'_>> {
    match args {
        [command, flag, env_file, dashes, argv @ ..]
            if command == "worker-exec"
                && flag == "--env-file"
                && dashes == "--"
                && !argv.is_empty() =>
        {
            Some(Call::Exec { env_file, argv })
        }
        [
            ws_flag,
            workspace,
            command,
            agent_flag,
            agent,
            event,
            rest @ ..,
        ] if ws_flag == "--workspace"
            && command == "hook"
            && agent_flag == "--agent"
            && rest.len() <= 1
            && !event.starts_with('-') =>
        {
            Some(Call::Hook {
                workspace,
                agent,
                event,
                payload: rest.first().map(String::as_str),
            })
        }
        _ => None,
    }
}

/// The process's arguments after its name, when every one is text.
fn args() -> Option<Vec<String>> {
    std::env::args_os()
        .skip(1)
        .map(OsString::into_string)
        .collect::<Result<_, _>>()
        .ok()
}

/// The team a hook's worker belongs to: the worker's environment names it.
fn team_from_env() -> Option<String> {
    std::env::var("TEAM_AGENT_TEAM")
        .ok()
        .filter(|t| !t.is_empty())
}

/// Runs `call`; `None` when it needs the full command line after all (a hook of a worker whose
/// environment does not name its team).
fn run(call: Call<'_>) -> Option<ExitCode> {
    match call {
        Call::Exec { env_file, argv } => {
            let error = crate::lifecycle::worker_exec(Path::new(env_file), argv);
            eprintln!("team-agent: cannot start {}: {error}", argv[0]);
            Some(ExitCode::from(127))
        }
        Call::Hook {
            workspace,
            agent,
            event,
            payload,
        } => {
            let team = team_from_env()?;
            let workspace = crate::workspace::Workspace::resolve(Some(Path::new(workspace)))
                .map(|ws| ws.for_team(&team))
                .map_err(|e| e.to_string());
            if let Err(e) = crate::hooks::call(workspace, agent, event, payload.map(str::to_string))
            {
                // What a terminal shows of it: no control characters from the names.
                let line: String =
                    format!("team-agent hook: cannot record {event} for {agent}: {e}")
                        .chars()
                        .filter(|c| !c.is_control())
                        .collect();
                eprintln!("{line}");
            }
            Some(ExitCode::SUCCESS)
        }
    }
}

/// In `team-agent`, before its parser: a worker's start or hook as the host wrote it, done here
/// (`None`: anything else, for the parser).
pub fn fast_path() -> Option<ExitCode> {
    let args = args()?;
    run(parse(&args)?)
}

/// `team-agent-worker`: the calls above, and anything else handed to `team-agent` beside it.
pub fn lean_main() -> ExitCode {
    if let Some(code) = fast_path() {
        return code;
    }
    use std::os::unix::process::CommandExt;
    let full = crate::workspace::exe_dir()
        .map(|dir| dir.join("team-agent"))
        .filter(|p| p.is_file());
    let Some(full) = full else {
        eprintln!(
            "{LEAN_BINARY}: this is the part of team-agent that runs inside a worker's window; \
             `team-agent` is not installed beside it to run anything else (see `team-agent --help`)"
        );
        return ExitCode::from(2);
    };
    let error = std::process::Command::new(&full)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("{LEAN_BINARY}: cannot run {}: {error}", full.display());
    ExitCode::from(127)
}

/// The binary a worker's start and hooks run: the lean one beside `team-agent` when it is
/// installed, else `team-agent` (beside the running binary, or the running binary itself: a
/// command the coordinator's binary runs still names the full CLI).
/// Looked up once per process (a hundred workers would each resolve the same links).
pub fn worker_binary() -> std::io::Result<std::path::PathBuf> {
    static FOUND: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let dir = crate::workspace::exe_dir()?;
        [LEAN_BINARY, "team-agent"]
            .into_iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
    });
    match found {
        Some(path) => Ok(path.clone()),
        None => std::env::current_exe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_host_written_lines_are_taken_and_every_other_spelling_is_left_to_the_parser() {
        let exec = strings(&["worker-exec", "--env-file", "/e.json", "--", "codex", "-x"]);
        assert_eq!(
            parse(&exec),
            Some(Call::Exec {
                env_file: "/e.json",
                argv: &exec[4..]
            })
        );
        let hook = strings(&["--workspace", "/w", "hook", "--agent", "a", "Stop"]);
        assert_eq!(
            parse(&hook),
            Some(Call::Hook {
                workspace: "/w",
                agent: "a",
                event: "Stop",
                payload: None
            })
        );
        let notify = strings(&["--workspace", "/w", "hook", "--agent", "a", "turn", "{}"]);
        assert!(matches!(
            parse(&notify),
            Some(Call::Hook {
                payload: Some("{}"),
                ..
            })
        ));
        for other in [
            &["worker-exec", "--env-file", "/e.json", "--"][..],
            &["worker-exec", "--env-file=/e.json", "--", "codex"],
            &["--workspace", "/w", "hook", "--agent=a", "Stop"],
            &["--workspace", "/w", "hook", "--agent", "a", "--help"],
            &[
                "--workspace",
                "/w",
                "hook",
                "--agent",
                "a",
                "E",
                "p",
                "extra",
            ],
            &["hook", "--agent", "a", "Stop"],
            &["status", "--json"],
            &[],
        ] {
            assert_eq!(parse(&strings(other)), None, "{other:?}");
        }
    }
}
