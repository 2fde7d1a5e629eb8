/*! Following a scripted agent's transcript (`$HOME/.scripted-agent/sessions/<session>.jsonl`) as
it grows: a thread reads new bytes every 0.2 ms and stamps each message marker (`bench-…`, the
first word of every message the harness sends) with the moment its `user_message` line appears,
and counts ended turns. The agent writes that line when it receives the submitting Enter. */

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

#[derive(Default)]
struct Seen {
    markers: HashMap<String, Instant>,
    turns_ended: usize,
}

/// Follows one transcript until dropped.
pub struct Watcher {
    shared: Arc<(Mutex<Seen>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub fn start(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let shared = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            while !halt.load(Ordering::Relaxed) {
                match file.read(&mut chunk) {
                    Ok(0) | Err(_) => std::thread::sleep(Duration::from_micros(200)),
                    Ok(n) => {
                        pending.extend_from_slice(&chunk[..n]);
                        let now = Instant::now();
                        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = pending.drain(..=end).collect();
                            observe(&s, &line, now);
                        }
                    }
                }
            }
        });
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn turns_ended(&self) -> usize {
        self.shared.0.lock().map(|s| s.turns_ended).unwrap_or(0)
    }

    /// When `marker` became visible, waiting up to `timeout` for it.
    pub fn visible_at(&self, marker: &str, timeout: Duration) -> Option<Instant> {
        let (lock, ready) = &*self.shared;
        let seen = lock.lock().ok()?;
        let (seen, _) = ready
            .wait_timeout_while(seen, timeout, |s| !s.markers.contains_key(marker))
            .ok()?;
        seen.markers.get(marker).copied()
    }

    /// Waits until more than `count` turns have ended; false on timeout.
    pub fn wait_turns(&self, count: usize, timeout: Duration) -> bool {
        let (lock, ready) = &*self.shared;
        let Ok(seen) = lock.lock() else { return false };
        ready
            .wait_timeout_while(seen, timeout, |s| s.turns_ended <= count)
            .map(|(s, _)| s.turns_ended > count)
            .unwrap_or(false)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn observe(shared: &(Mutex<Seen>, Condvar), line: &[u8], now: Instant) {
    let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    let Ok(mut seen) = shared.0.lock() else {
        return;
    };
    if has(br#""type":"user_message""#) {
        if let Some(marker) = marker_in(line) {
            seen.markers.entry(marker).or_insert(now);
        }
    } else if has(br#""type":"turn_complete""#) || has(br#""type":"turn_interrupted""#) {
        seen.turns_ended += 1;
    }
    shared.1.notify_all();
}

/// The first `bench-…` marker in a line.
pub fn marker_in(line: &[u8]) -> Option<String> {
    let start = line.windows(6).position(|w| w == b"bench-")?;
    let len = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    Some(String::from_utf8_lossy(&line[start..start + len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_the_first_bench_word() {
        let line = br#"{"type":"user_message","text":"header\n\nbench-b2-0007 lorem bench-x"}"#;
        assert_eq!(marker_in(line).as_deref(), Some("bench-b2-0007"));
        assert_eq!(marker_in(b"no marker"), None);
    }
}
