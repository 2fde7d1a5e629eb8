//! One `list-panes -a` answer: every pane of a server, parsed.

/// The fields of one pane, tab-separated.
pub const FORMAT: &str = "#{session_name}\t#{window_id}\t#{window_name}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t#{window_activity}\t#{history_size}\t#{pane_in_mode}\t#{pane_current_command}";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    pub session: String,
    pub window_id: String,
    pub window_name: String,
    pub pane_id: String,
    pub pid: u32,
    pub dead: bool,
    pub exit_status: Option<i32>,
    /// When the window last had output (Unix seconds).
    pub activity: u64,
    pub history_size: u64,
    pub in_mode: bool,
    pub current_command: String,
}

/// Every pane of a server at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub panes: Vec<PaneInfo>,
}

impl Snapshot {
    pub fn parse(text: &str) -> Self {
        let panes = text
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() < 11 {
                    return None;
                }
                Some(PaneInfo {
                    session: f[0].to_string(),
                    window_id: f[1].to_string(),
                    window_name: f[2].to_string(),
                    pane_id: f[3].to_string(),
                    pid: f[4].parse().unwrap_or(0),
                    dead: f[5] == "1",
                    exit_status: f[6].parse().ok(),
                    activity: f[7].parse().unwrap_or(0),
                    history_size: f[8].parse().unwrap_or(0),
                    in_mode: f[9] == "1",
                    current_command: f[10..].join("\t"),
                })
            })
            .collect();
        Self { panes }
    }

    pub fn pane(&self, pane_id: &str) -> Option<&PaneInfo> {
        self.panes.iter().find(|p| p.pane_id == pane_id)
    }

    pub fn has_session(&self, session: &str) -> bool {
        self.panes.iter().any(|p| p.session == session)
    }
}

/// The exit code of a pane's process that tmux has not reaped yet (a zombie), from
/// `/proc/<pid>/stat` (its last field holds the wait status).
pub fn zombie_exit_code(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    let status: i32 = fields.last()?.parse().ok()?;
    (status & 0x7f == 0).then_some((status >> 8) & 0xff)
}

impl PaneInfo {
    /// The pane's exit status: tmux's, else the kernel's for a process not reaped yet.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_status.or_else(|| zombie_exit_code(self.pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_live_and_dead_panes() {
        let text = "team-x\t@1\talice\t%1\t4242\t0\t\t1700000000\t12\t0\tscripted-agent\nteam-x\t@2\tbob\t%2\t4243\t1\t3\t1700000001\t0\t0\t\n";
        let snap = Snapshot::parse(text);
        assert_eq!(snap.panes.len(), 2);
        assert_eq!(snap.pane("%1").unwrap().exit_status, None);
        let bob = snap.pane("%2").unwrap();
        assert!(bob.dead);
        assert_eq!(bob.exit_status, Some(3));
        assert!(snap.has_session("team-x"));
    }
}
