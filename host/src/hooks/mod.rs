/*! The CLIs' own hooks, on the host's side: what a worker's hook runs (`team-agent hook EVENT`),
where it leaves the event, and how the coordinator takes it.

A provider's launch plan configures its CLI's hooks (for that worker only) to run the command
[`setup`] gives. Each call appends one line to the worker's hook inbox
(`.team/runtime/hooks/<agent>.jsonl`) under the file's lock, then rings the coordinator's
doorbell (a line on its hand-off socket) so the coordinator reads it at once instead of at its
next tick. The inbox is the queue and the socket only a doorbell: an event written while no
coordinator runs, or while it delivers a long message, waits in the file and is read by the next
tick, so a hook never blocks its CLI and nothing a hook said is lost by a coordinator that is
down. What an event means is the provider's to say (`hook_event`), in the coordinator.
*/

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use team_agent_plugin_api::{HookSetup, PlannedFile};

use crate::workspace::{self, Workspace};

/// The most of one payload kept (a CLI's payload carries the prompt; a 1 MiB message is the most
/// the team sends).
pub const MAX_PAYLOAD: usize = 2 * 1024 * 1024;

/// One hook call as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raw {
    /// When the hook ran (RFC 3339, milliseconds).
    pub at: String,
    pub event: String,
    #[serde(default)]
    pub payload: String,
}

fn hooks_dir(workspace: &Workspace) -> PathBuf {
    workspace.runtime_dir().join("hooks")
}

/// The worker's hook inbox.
pub fn inbox_file(workspace: &Workspace, agent_id: &str) -> PathBuf {
    hooks_dir(workspace).join(format!("{}.jsonl", workspace::safe_name(agent_id)))
}

/// The directory of the worker's own hook configuration (the plan's files go there).
pub fn config_dir(workspace: &Workspace, agent_id: &str) -> PathBuf {
    hooks_dir(workspace).join(workspace::safe_name(agent_id))
}

/// What a provider configures its hooks to run for `agent_id`: `team-agent --workspace W hook
/// --agent A` (the provider adds the event's name), and the directory for its files (created).
pub fn setup(workspace: &Workspace, agent_id: &str, exe: &Path) -> Result<HookSetup, String> {
    let dir = config_dir(workspace, agent_id);
    workspace::private_dir(&hooks_dir(workspace)).map_err(|e| e.to_string())?;
    workspace::private_dir(&dir).map_err(|e| e.to_string())?;
    Ok(HookSetup {
        command: vec![
            exe.to_string_lossy().into_owned(),
            "--workspace".into(),
            workspace.root().to_string_lossy().into_owned(),
            "hook".into(),
            "--agent".into(),
            agent_id.into(),
        ],
        dir,
    })
}

/// Writes the files a launch plan asked for, each inside the hook directory it was given.
pub fn write_planned(setup: &HookSetup, files: &[PlannedFile]) -> Result<(), String> {
    for file in files {
        let inside = file.path.starts_with(&setup.dir)
            && !file
                .path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if !inside {
            return Err(format!(
                "the plan asks to write {}, outside the worker's hook directory {}",
                file.path.display(),
                setup.dir.display()
            ));
        }
        if let Some(parent) = file.path.parent() {
            workspace::private_dir(parent).map_err(|e| e.to_string())?;
        }
        crate::state::write_derived(&file.path, file.contents.as_bytes(), 0o600)
            .map_err(|e| format!("cannot write {}: {e}", file.path.display()))?;
    }
    Ok(())
}

/// One hook call of `agent`'s CLI: the event into the worker's inbox, then the coordinator's
/// doorbell. A failure (no workspace, an inbox that cannot be written) is the caller's to say on
/// stderr; it never stops the CLI that ran the hook.
pub fn call(
    workspace: Result<Workspace, String>,
    agent: &str,
    event: &str,
    payload: Option<String>,
) -> Result<(), String> {
    let raw = Raw {
        at: crate::events::now_rfc3339(),
        event: event.to_string(),
        payload: read_payload(payload),
    };
    let ws = workspace?;
    record(&ws, agent, &raw).map_err(|e| e.to_string())?;
    ring(&ws, agent);
    Ok(())
}

/// Appends one hook call to the worker's inbox (under the inbox's lock, one line).
pub fn record(workspace: &Workspace, agent_id: &str, raw: &Raw) -> std::io::Result<()> {
    let path = inbox_file(workspace, agent_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?;
    let mut file = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    let mut line = serde_json::to_string(raw).map_err(std::io::Error::other)?;
    line.push('\n');
    file.write_all(line.as_bytes())
}

/// Tells the workspace's coordinator that a hook left an event (nothing when none runs: its next
/// tick reads the inbox anyway). Never waits for an answer.
pub fn ring(workspace: &Workspace, agent_id: &str) {
    let path = crate::coordinator::socket_path(workspace);
    if let Ok(mut stream) = UnixStream::connect(path) {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let line = serde_json::json!({ "hook": agent_id }).to_string();
        let _ = stream.write_all(format!("{line}\n").as_bytes());
    }
}

/// Takes every event waiting in the worker's inbox, oldest first, and empties it (under its lock,
/// so a hook appending meanwhile lands in the next take). A line that is not an event (a torn
/// write of a hook killed mid-line) is skipped.
pub fn take(workspace: &Workspace, agent_id: &str) -> std::io::Result<Vec<Raw>> {
    let path = inbox_file(workspace, agent_id);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() == 0 {
        return Ok(Vec::new());
    }
    let mut file = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    file.set_len(0)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// Forgets a worker's inbox and configuration (the worker was removed).
pub fn forget(workspace: &Workspace, agent_id: &str) {
    let _ = std::fs::remove_file(inbox_file(workspace, agent_id));
    let _ = std::fs::remove_dir_all(config_dir(workspace, agent_id));
}

/// The payload a hook was given: its last argument when the CLI passes one (Codex's notify), else
/// its stdin when that is not a terminal, at most [`MAX_PAYLOAD`] bytes and never waiting long
/// for a writer that does not close it.
pub fn read_payload(argument: Option<String>) -> String {
    if let Some(payload) = argument {
        return payload;
    }
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return String::new();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::stdin()
            .take(MAX_PAYLOAD as u64)
            .read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    let bytes = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".team/runtime")).unwrap();
        let ws = Workspace::resolve(Some(dir.path())).unwrap();
        (dir, ws)
    }

    fn raw(event: &str) -> Raw {
        Raw {
            at: "2026-12-04T00:00:00.000Z".into(),
            event: event.into(),
            payload: "{\"a\": 1}\nsecond line".into(),
        }
    }

    #[test]
    fn events_come_out_once_in_order_and_a_torn_line_is_skipped() {
        let (_dir, ws) = workspace();
        record(&ws, "alice", &raw("UserPromptSubmit")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(inbox_file(&ws, "alice"))
            .unwrap()
            .write_all(b"{\"at\": \"2026")
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(inbox_file(&ws, "alice"))
            .unwrap()
            .write_all(b"\n")
            .unwrap();
        record(&ws, "alice", &raw("Stop")).unwrap();
        let taken = take(&ws, "alice").unwrap();
        let events: Vec<&str> = taken.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(events, ["UserPromptSubmit", "Stop"]);
        assert_eq!(taken[0].payload, "{\"a\": 1}\nsecond line");
        assert!(take(&ws, "alice").unwrap().is_empty());
        assert!(take(&ws, "bob").unwrap().is_empty());
    }

    #[test]
    fn a_plan_cannot_write_outside_its_hook_directory() {
        let (_dir, ws) = workspace();
        let setup = setup(&ws, "alice", Path::new("/bin/team-agent")).unwrap();
        let outside = PlannedFile {
            path: setup.dir.join("../bob/settings.json"),
            contents: "{}".into(),
        };
        let error = write_planned(&setup, &[outside]).unwrap_err();
        assert!(
            error.contains("outside the worker's hook directory"),
            "{error}"
        );
        let inside = PlannedFile {
            path: setup.dir.join("settings.json"),
            contents: "{}".into(),
        };
        write_planned(&setup, &[inside]).unwrap();
        assert_eq!(
            std::fs::read_to_string(setup.dir.join("settings.json")).unwrap(),
            "{}"
        );
    }
}
