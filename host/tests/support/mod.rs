//! Shared helpers of the host's end-to-end tests: the real binary, the real plugins, hermetic
//! temporary directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `team-agent` binary under test.
pub fn team_agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_team-agent"))
}

/// The directory with the bundled plugins and `scripted-agent` (next to the binary). `cargo test`
/// leaves fresh plugin libraries in `deps/`; the README's test command runs `cargo build` first
/// so they are next to the binary too.
pub fn bundled_dir() -> PathBuf {
    let dir = team_agent_bin().parent().unwrap().to_path_buf();
    for lib in ["libteam_agent_scripted.so", "libteam_agent_display_none.so"] {
        assert!(
            dir.join(lib).exists(),
            "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)",
            dir.join(lib).display()
        );
    }
    dir
}

/// The deliberately broken plugins of `tests/plugins`, built once into `target/test-plugins`
/// (never next to the real ones).
pub fn broken_plugins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target = bundled_dir().parent().unwrap().join("test-plugins");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--manifest-path"])
            .arg(root.join("tests/plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building tests/plugins failed");
        target.join("debug")
    })
    .clone()
}

/// A hermetic scratch area: its own HOME and workspace.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ta-test-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// `team-agent ARGS` in the workspace, with HOME and the plugin path set.
    pub fn command(&self, plugin_path: &str) -> Command {
        let mut cmd = Command::new(team_agent_bin());
        cmd.current_dir(self.workspace())
            .env("HOME", self.home())
            .env("TEAM_AGENT_PLUGIN_PATH", plugin_path)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("XDG_DATA_HOME");
        cmd
    }

    pub fn run(&self, plugin_path: &str, args: &[&str]) -> Output {
        self.command(plugin_path)
            .args(args)
            .output()
            .expect("team-agent runs")
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            stdout(output),
            stderr(output)
        )
    })
}
