/*! What a run needs and records before it measures anything: the binaries under test (the
release build, or the debug build with a note), the real tmux, the machine, and the versions. */

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};

/// The files the harness drives, all from one build directory.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Absolute; also the plugin search path and first on `PATH` for every team.
    pub dir: PathBuf,
    pub team_agent: PathBuf,
    pub scripted_agent: PathBuf,
    pub scripted_plugin: PathBuf,
    /// The real tmux (absolute), resolved before any `PATH` change.
    pub tmux: PathBuf,
    /// Set when the default release directory was missing and the debug build is used.
    pub fallback_note: Option<String>,
}

const REQUIRED: [&str; 3] = ["team-agent", "scripted-agent", "libteam_agent_scripted.so"];

impl Binaries {
    /// The binaries in `requested`, or in `target/release` (falling back to `target/debug`).
    pub fn locate(requested: Option<&Path>) -> anyhow::Result<Self> {
        let tmux = find_on_path("tmux").context(
            "tmux is not installed or not on PATH: install it (apt-get install -y tmux)",
        )?;
        let (dir, fallback_note) = match requested {
            Some(dir) => {
                let missing = missing_in(dir);
                if !missing.is_empty() {
                    bail!(
                        "{} has no {}: build the workspace first (`cargo build --release --workspace` \
                         for target/release, `cargo build --workspace` for target/debug)",
                        dir.display(),
                        missing.join(", ")
                    );
                }
                (dir.to_path_buf(), None)
            }
            None => {
                let release = Path::new("target/release");
                let debug = Path::new("target/debug");
                if missing_in(release).is_empty() {
                    (release.to_path_buf(), None)
                } else if missing_in(debug).is_empty() {
                    let note = format!(
                        "target/release lacks {}; measured the DEBUG build in target/debug, whose \
                         figures are not comparable with the targets (build with `cargo build \
                         --release --workspace` for real numbers)",
                        missing_in(release).join(", ")
                    );
                    (debug.to_path_buf(), Some(note))
                } else {
                    bail!(
                        "no built team-agent in target/release: run `cargo build --release --workspace` \
                         from the repository root first (or pass --binary-dir DIR)"
                    );
                }
            }
        };
        let dir = std::fs::canonicalize(&dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        Ok(Self {
            team_agent: dir.join("team-agent"),
            scripted_agent: dir.join("scripted-agent"),
            scripted_plugin: dir.join("libteam_agent_scripted.so"),
            dir,
            tmux,
            fallback_note,
        })
    }

    /// Whether these are a debug build (by directory name).
    pub fn is_debug(&self) -> bool {
        self.dir.file_name() == Some(OsStr::new("debug"))
    }
}

fn missing_in(dir: &Path) -> Vec<&'static str> {
    REQUIRED
        .into_iter()
        .filter(|name| !dir.join(name).is_file())
        .collect()
}

pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first line a command prints, or `None` when it cannot run.
fn first_line_of(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim().to_string();
    (out.status.success() && !line.is_empty()).then_some(line)
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1-minute load average (0 when unknown).
fn one_minute_load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The highest 1-minute load average seen while a run measures, sampled every 5 s.
pub struct LoadWatch {
    peak: Arc<Mutex<f64>>,
    stop: mpsc::Sender<()>,
}

impl LoadWatch {
    pub fn start() -> Self {
        let peak = Arc::new(Mutex::new(one_minute_load()));
        let (stop, stopped) = mpsc::channel::<()>();
        let seen = peak.clone();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(5))
            {
                if let Ok(mut peak) = seen.lock() {
                    *peak = peak.max(one_minute_load());
                }
            }
        });
        Self { peak, stop }
    }

    pub fn peak(&self) -> f64 {
        let _ = self.stop.send(());
        let now = one_minute_load();
        self.peak.lock().map(|p| p.max(now)).unwrap_or(now)
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let kib: f64 = text
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB RAM", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown RAM".into())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!("Linux {}", k.trim()))
        .unwrap_or_else(|_| "unknown kernel".into())
}

/// `abc1234`, with a mark when the product's sources differ from that commit.
fn commit() -> String {
    let Some(head) =
        find_on_path("git").and_then(|git| first_line_of(&git, &["rev-parse", "--short", "HEAD"]))
    else {
        return "unknown".into();
    };
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--",
            "host",
            "plugin-api",
            "plugins",
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{head} with uncommitted changes in host/, plugin-api/ or plugins/")
    } else {
        head
    }
}

/// The rows of the report's "Run" table that do not depend on the measurements.
pub fn describe(binaries: &Binaries, mode: &str) -> Vec<(String, String)> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let rustc = find_on_path("rustc")
        .and_then(|r| first_line_of(&r, &["-V"]))
        .unwrap_or_else(|| "not found".into());
    vec![
        (
            "date".into(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("mode".into(), mode.to_string()),
        (
            "machine".into(),
            format!("{}, {cores} cores, {}, {}", cpu_model(), memory(), kernel()),
        ),
        (
            "team-agent".into(),
            format!(
                "{} (commit {})",
                first_line_of(&binaries.team_agent, &["--version"])
                    .unwrap_or_else(|| "version unknown".into()),
                commit()
            ),
        ),
        (
            "tmux".into(),
            first_line_of(&binaries.tmux, &["-V"]).unwrap_or_else(|| "unknown".into()),
        ),
        ("rustc".into(), rustc),
        (
            "binaries".into(),
            format!(
                "{} ({} build)",
                // Relative to the checkout when inside it: the report is committed, and a path of
                // one machine means nothing on another.
                std::env::current_dir()
                    .ok()
                    .and_then(|cwd| binaries.dir.strip_prefix(cwd).ok().map(|p| p.to_path_buf()))
                    .unwrap_or_else(|| binaries.dir.clone())
                    .display(),
                if binaries.is_debug() {
                    "debug"
                } else {
                    "release"
                }
            ),
        ),
    ]
}
