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
