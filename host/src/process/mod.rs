//! Processes by pid: whether one still runs. The ground floor every module that records a pid
//! (claims, watchers, the coordinator's pid file) asks.

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => kill(Pid::from_raw(pid as i32), None).is_ok(),
    }
}

/// A process as `/proc` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Its command name (`comm`).
    pub name: String,
    /// When it started (seconds since the epoch).
    pub started: f64,
}

/// What `/proc/PID/stat` says: (name, state, parent, start in clock ticks since boot).
fn stat_of(pid: u32) -> Option<(String, char, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let name = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?.to_string();
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // After the name: state (3), ppid (4), … starttime (22), numbered from 1 as in proc(5).
    let state = fields.first()?.chars().next()?;
    let parent = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((name, state, parent, start))
}

/// The machine's boot time (seconds since the epoch) and clock ticks per second.
fn boot_clock() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: f64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some((boot, ticks as f64))
}

/// The live descendants of `root` that started at or after `since` (seconds since the epoch):
/// what a CLI started for a tool call that began then (Linux; nothing elsewhere).
pub fn descendants_since(root: u32, since: f64) -> Vec<ProcessInfo> {
    let Some((boot, ticks)) = boot_clock() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut all: Vec<(u32, String, u32, f64)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (name, state, parent, start) = stat_of(pid)?;
            (state != 'Z').then(|| (pid, name, parent, boot + start as f64 / ticks))
        })
        .collect();
    all.sort_unstable_by_key(|p| p.0);
    let mut family = vec![root];
    let mut found = Vec::new();
    // Parents come before children often but not always (pids wrap): repeat until nothing joins.
    loop {
        let before = family.len();
        for (pid, name, parent, started) in &all {
            if family.contains(parent) && !family.contains(pid) {
                family.push(*pid);
                if *started + 1.0 >= since {
                    found.push(ProcessInfo {
                        pid: *pid,
                        name: name.clone(),
                        started: *started,
                    });
                }
            }
        }
        if family.len() == before {
            return found;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_started_after_a_moment_is_found_and_one_started_before_is_not() {
        let me = std::process::id();
        let before = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let moment = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let mut after = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found: Vec<u32> = descendants_since(me, moment)
            .iter()
            .map(|p| p.pid)
            .collect();
        assert!(found.contains(&after.id()), "{found:?}");
        assert!(!found.contains(&before.id()), "{found:?}");
        after.kill().unwrap();
        let _ = after.wait();
        let mut before = before;
        before.kill().unwrap();
        let _ = before.wait();
        assert!(
            !descendants_since(me, moment)
                .iter()
                .any(|p| p.pid == after.id())
        );
    }
}
