/*! The event log (`.team/logs/events.jsonl`): one JSON object per line, `ts` (RFC 3339 UTC with
milliseconds) and `event` (a dotted name) first, then the event's fields. Every state change is
one line (docs/ARCHITECTURE.md principle 5).

Appends take a lock, so lines from several processes never interleave or tear; the log rotates at
5 MiB keeping 5 archives (`events.jsonl.1` newest … `.5`). Reading the recent tail reads only the
end of the live file, never the archives.
*/

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::workspace::{self, FileLock, Workspace};

/// The log rotates when it reaches this size.
pub const ROTATE_BYTES: u64 = 5 * 1024 * 1024;
/// How many rotated files are kept.
pub const ARCHIVES: usize = 5;

/// Now, as the log writes it: RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A workspace's event log.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    pub fn new(workspace: &Workspace) -> Self {
        Self {
            path: workspace.events_file(),
        }
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// Appends one event. `fields` must be a JSON object (or null for none).
    pub fn append(&self, event: &str, fields: &Value) -> std::io::Result<()> {
        let line = render(event, fields);
        if let Some(dir) = self.path.parent()
            && !dir.is_dir()
        {
            // Only the log directory itself: a deleted workspace is never brought back by a
            // late event.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o700).create(dir)?;
        }
        let _lock = FileLock::acquire(&self.lock_path(), Duration::from_secs(10))
            .map_err(std::io::Error::other)?;
        self.rotate_if_full()?;
        let mut file = workspace::open_private_append(&self.path)?;
        file.write_all(line.as_bytes())
    }

    /// Appends one event; a failure is reported on stderr and never fails the caller.
    pub fn emit(&self, event: &str, fields: Value) {
        if let Err(e) = self.append(event, &fields) {
            eprintln!(
                "team-agent: warning: cannot write event {event} to {}: {e}",
                self.path.display()
            );
        }
    }

    fn archive(&self, n: usize) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        self.path.with_file_name(name)
    }

    fn rotate_if_full(&self) -> std::io::Result<()> {
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size < ROTATE_BYTES {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.archive(ARCHIVES));
        for n in (1..ARCHIVES).rev() {
            let from = self.archive(n);
            if from.exists() {
                std::fs::rename(&from, self.archive(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.archive(1))
    }

    /// The last `count` events of the live file (oldest first), reading backwards from its end.
    pub fn tail(&self, count: usize) -> Vec<Value> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let Ok(len) = file.seek(SeekFrom::End(0)) else {
            return Vec::new();
        };
        let mut chunk = 64 * 1024u64;
        loop {
            let start = len.saturating_sub(chunk);
            let mut buf = Vec::with_capacity((len - start) as usize);
            if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut buf).is_err() {
                return Vec::new();
            }
            let text = String::from_utf8_lossy(&buf);
            let mut lines: Vec<&str> = text.lines().collect();
            if start > 0 && !lines.is_empty() {
                lines.remove(0); // probably cut in the middle
            }
            if lines.len() >= count || start == 0 {
                let skip = lines.len().saturating_sub(count);
                return lines[skip..]
                    .iter()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
            }
            chunk *= 4;
        }
    }
}

/// One line: `{"ts":…,"event":…,<fields>}\n`.
fn render(event: &str, fields: &Value) -> String {
    let mut line = format!(
        "{{\"ts\":{},\"event\":{}}}",
        Value::String(now_rfc3339()),
        Value::String(event.to_string())
    );
    if let Value::Object(rest) = fields {
        let rest: Map<String, Value> = rest
            .iter()
            .filter(|(k, _)| *k != "ts" && *k != "event")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            let body = serde_json::to_string(&Value::Object(rest)).expect("JSON values encode");
            line.pop();
            line.push(',');
            line.push_str(&body[1..]);
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_starts_with_ts_and_event_then_the_fields() {
        let line = render(
            "team.up",
            &serde_json::json!({"agents": 2, "event": "ignored"}),
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert!(
            line.starts_with("{\"ts\":\"") && line.contains("\"event\":\"team.up\",\"agents\":2"),
            "{line}"
        );
        assert_eq!(value["event"], "team.up");
        assert_eq!(value["agents"], 2);
        assert!(value["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn rotation_keeps_five_archives_and_tail_reads_only_the_live_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::at(dir.path().join("events.jsonl"));
        let filler = "x".repeat(1024 * 1024);
        for i in 0..40 {
            log.append("filler", &serde_json::json!({"i": i, "pad": filler}))
                .unwrap();
        }
        for n in 1..=ARCHIVES {
            assert!(log.archive(n).exists(), "archive {n}");
        }
        assert!(!log.archive(ARCHIVES + 1).exists());
        assert!(std::fs::metadata(log.path()).unwrap().len() < ROTATE_BYTES + 2 * 1024 * 1024);
        let tail = log.tail(2);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[1]["i"], 39);
    }
}
