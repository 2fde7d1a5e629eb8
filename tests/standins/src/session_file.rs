//! What the two personas' session files have in common: JSON Lines, appended a few records at a
//! time (the file and its directory made at the first write) and read back whole when a resume or
//! a fork shows the conversation. The records themselves are each CLI's own.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

/// One exchange of a session, for drawing its history.
pub struct Exchange {
    pub prompt: String,
    pub reply: Vec<String>,
}

/// The records of the file at `path` (unreadable lines skipped; none when it is missing).
pub fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Appends `records` to the file at `path`, one line each.
pub fn append(path: &Path, records: &[Value]) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    let file = OpenOptions::new().create(true).append(true).open(path);
    if let Ok(mut file) = file {
        let _ = file.write_all(text.as_bytes());
    }
}
