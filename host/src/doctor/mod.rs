/*! `team-agent doctor`: environment and workspace checks that each say what is wrong and what to
run, and the repairs that need a human's go-ahead (restoring state from a team snapshot).
*/

use serde::Serialize;
use team_agent_plugin_api::loader::PluginStatus;

use crate::plugins::Registry;
use crate::state::{StateError, StateStore};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

fn check(
    name: &'static str,
    level: Level,
    detail: impl Into<String>,
    action: Option<String>,
) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
        action,
    }
}

/// Runs every check on `workspace`.
pub fn run_checks(workspace: &Workspace) -> Vec<Check> {
    vec![
        tmux(),
        plugins(workspace),
        state(workspace),
        writable(workspace),
        team_alive(workspace),
        database(workspace),
        coordinator(workspace),
        orphans(),
    ]
}

fn writable(workspace: &Workspace) -> Check {
    if !workspace.team_dir().is_dir() {
        return check("writable", Level::Ok, "no .team yet", None);
    }
    match workspace.check_writable() {
        Ok(()) => check(
            "writable",
            Level::Ok,
            "the team's runtime directory can be written",
            None,
        ),
        Err(e) => check(
            "writable",
            Level::Fail,
            e.to_string(),
            Some(format!(
                "chmod -R u+w '{}' (send, shutdown and every change need it)",
                workspace.team_dir().display()
            )),
        ),
    }
}

/// A team recorded running must have its tmux session.
fn team_alive(workspace: &Workspace) -> Check {
    let Ok(Some(team)) = StateStore::new(workspace).load().map(|s| s.team) else {
        return check("team", Level::Ok, "no team to look at", None);
    };
    if team.status != crate::state::TeamStatus::Running {
        return check(
            "team",
            Level::Ok,
            format!("team '{}' is shut down", team.name),
            None,
        );
    }
    let server = crate::tmux::Server::at(&team.tmux_socket);
    if server.has_session(&team.session_name) {
        check(
            "team",
            Level::Ok,
            format!(
                "team '{}' runs in tmux session {}",
                team.name, team.session_name
            ),
            None,
        )
    } else {
        check(
            "team",
            Level::Fail,
            format!(
                "team '{}' is recorded running, but its tmux session {} is gone (the server was killed, or the machine rebooted)",
                team.name, team.session_name
            ),
            Some("`team-agent restart` resumes the same sessions".into()),
        )
    }
}

fn database(workspace: &Workspace) -> Check {
    if !workspace.database().exists() {
        return check(
            "database",
            Level::Ok,
            "no message store yet (created at the first message)",
            None,
        );
    }
    match crate::store::Store::open(workspace).and_then(|s| s.version()) {
        Ok(v) => check(
            "database",
            Level::Ok,
            format!("{} (schema {v})", workspace.database().display()),
            None,
        ),
        Err(e) => check(
            "database",
            Level::Fail,
            e.to_string(),
            Some(
                "move the file aside to start an empty store; messages in it would be lost".into(),
            ),
        ),
    }
}

fn coordinator(workspace: &Workspace) -> Check {
    let running = StateStore::new(workspace)
        .load()
        .ok()
        .and_then(|s| s.team)
        .is_some_and(|t| t.status == crate::state::TeamStatus::Running);
    match (crate::coordinator::running_pid(workspace), running) {
        (Some(pid), _) => check(
            "coordinator",
            Level::Ok,
            format!("running (pid {pid})"),
            None,
        ),
        (None, true) => check(
            "coordinator",
            Level::Warn,
            "not running while the team runs: queued messages wait",
            Some(
                "start it with `team-agent coordinator start` (any send or start-agent does too)"
                    .into(),
            ),
        ),
        (None, false) => check("coordinator", Level::Ok, "not running (no team runs)", None),
    }
}

fn orphans() -> Check {
    let found = find_orphans();
    if found.is_empty() {
        return check("orphans", Level::Ok, "no orphaned coordinator", None);
    }
    let list: Vec<String> = found
        .iter()
        .map(|o| format!("pid {} ({}: {})", o.pid, o.workspace.display(), o.why))
        .collect();
    check(
        "orphans",
        Level::Warn,
        format!(
            "{} orphaned coordinator(s): {}",
            found.len(),
            list.join("; ")
        ),
        Some("end them with `team-agent doctor --cleanup-orphans --confirm`".into()),
    )
}

fn tmux() -> Check {
    match crate::tmux::version() {
        Some(version) => check("tmux", Level::Ok, version, None),
        None => check(
            "tmux",
            Level::Fail,
            "tmux is not installed or not on PATH",
            Some("install it: apt-get install -y tmux (or brew install tmux)".into()),
        ),
    }
}

fn plugins(workspace: &Workspace) -> Check {
    let registry = Registry::load(Some(workspace.root()));
    let rows = registry.rows();
    let ok = rows
        .iter()
        .filter(|r| r.status == PluginStatus::Ok.as_str())
        .count();
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| r.status != PluginStatus::Ok.as_str())
        .map(|r| {
            r.error
                .clone()
                .unwrap_or_else(|| format!("{}: {}", r.path.display(), r.status))
        })
        .collect();
    if ok == 0 {
        return check(
            "plugins",
            Level::Fail,
            "no usable plugin found",
            Some(
                "install team-agent with scripts/install.sh, or set TEAM_AGENT_PLUGIN_PATH".into(),
            ),
        );
    }
    if bad.is_empty() {
        check("plugins", Level::Ok, format!("{ok} plugins ok"), None)
    } else {
        check(
            "plugins",
            Level::Warn,
            format!(
                "{ok} plugins ok; {} not usable: {}",
                bad.len(),
                bad.join("; ")
            ),
            Some("see `team-agent plugins list`".into()),
        )
    }
}

fn state(workspace: &Workspace) -> Check {
    let store = StateStore::new(workspace);
    match store.load() {
        Ok(state) => match state.team {
            Some(team) => check(
                "state",
                Level::Ok,
                format!(
                    "revision {}: team '{}' ({:?}, {} agents)",
                    state.revision,
                    team.name,
                    team.status,
                    team.agents.len()
                ),
                None,
            ),
            None => check(
                "state",
                Level::Ok,
                "no team has run in this workspace",
                None,
            ),
        },
        Err(StateError::Corrupt {
            path,
            preserved,
            detail,
        }) => {
            let action = match store.snapshots().first() {
                Some(snapshot) => format!(
                    "restore the last good copy: `team-agent doctor --restore-state --confirm` (copies {} over {}; the corrupt file stays as {})",
                    snapshot.display(),
                    path.display(),
                    preserved.display()
                ),
                None => format!(
                    "no team snapshot to restore from: move {} aside and start the team again with `team-agent up` (the corrupt copy stays as {})",
                    path.display(),
                    preserved.display()
                ),
            };
            check(
                "state",
                Level::Fail,
                format!("{} is corrupt: {detail}", path.display()),
                Some(action),
            )
        }
        Err(StateError::Lost {
            path,
            snapshot,
            team,
            status,
        }) => check(
            "state",
            Level::Fail,
            format!(
                "{} holds no team, but the snapshot {} records team '{team}' ({status})",
                path.display(),
                snapshot.display()
            ),
            Some(format!(
                "restore it: `team-agent doctor --restore-state --confirm` (copies {} over {})",
                snapshot.display(),
                path.display()
            )),
        ),
        Err(e) => check("state", Level::Fail, e.to_string(), None),
    }
}

/// Restores `state.json` from the newest team snapshot; without `confirm`, says what it would do.
pub fn restore_state(workspace: &Workspace, confirm: bool) -> Result<String, String> {
    let store = StateStore::new(workspace);
    let snapshot = store.snapshots().into_iter().next().ok_or_else(|| {
        format!(
            "no team snapshot ({}) to restore from",
            workspace
                .runtime_dir()
                .join("state.snapshot.json")
                .display()
        )
    })?;
    if !confirm {
        return Ok(format!(
            "would copy {} over {}; run again with --confirm",
            snapshot.display(),
            store.path().display()
        ));
    }
    store.restore_from(&snapshot).map_err(|e| e.to_string())?;
    Ok(format!(
        "restored {} from {}",
        store.path().display(),
        snapshot.display()
    ))
}

/// A coordinator process that should not be running.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    pub pid: u32,
    pub workspace: std::path::PathBuf,
    pub why: String,
    /// After cleanup: `killed`, `already_gone` or `failed: …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Every `team-agent coordinator run` process of this user whose workspace is gone, or which does
/// not hold its workspace's coordinator lock (a stray second copy).
pub fn find_orphans() -> Vec<Orphan> {
    let me = nix::unistd::getuid().as_raw();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != me || pid == std::process::id() || !crate::process::alive(pid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_coordinator = args
            .windows(2)
            .any(|w| w[0] == "coordinator" && w[1] == "run");
        let Some(at) = args.iter().position(|a| a == "--workspace") else {
            continue;
        };
        let Some(workspace) = args.get(at + 1).map(std::path::PathBuf::from) else {
            continue;
        };
        if !is_coordinator {
            continue;
        }
        let why = if !workspace.join(".team").is_dir() {
            "its workspace no longer exists".to_string()
        } else {
            match crate::coordinator::running_pid(&Workspace::at(&workspace)) {
                Some(owner) if owner == pid => continue,
                Some(owner) => format!("coordinator {owner} holds the workspace's lock"),
                None => "it does not hold its workspace's coordinator lock".to_string(),
            }
        };
        found.push(Orphan {
            pid,
            workspace,
            why,
            outcome: None,
        });
    }
    found
}

/// Ends orphans: SIGTERM to the process group, 3 s, SIGKILL, 2 s; the outcome of each.
pub fn cleanup_orphans(mut orphans: Vec<Orphan>) -> Vec<Orphan> {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    let wait = |pid: u32, secs: u64| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while crate::process::alive(pid) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        !crate::process::alive(pid)
    };
    for orphan in &mut orphans {
        let pid = Pid::from_raw(orphan.pid as i32);
        if !crate::process::alive(orphan.pid) {
            orphan.outcome = Some("already_gone".into());
            continue;
        }
        // A coordinator leads its own process group (it starts with setsid).
        let _ = killpg(pid, Signal::SIGTERM).or_else(|_| kill(pid, Signal::SIGTERM));
        if wait(orphan.pid, 3) {
            orphan.outcome = Some("killed".into());
            continue;
        }
        let _ = killpg(pid, Signal::SIGKILL).or_else(|_| kill(pid, Signal::SIGKILL));
        orphan.outcome = Some(if wait(orphan.pid, 2) {
            "killed".into()
        } else {
            "failed: still running after SIGKILL".into()
        });
    }
    orphans
}
