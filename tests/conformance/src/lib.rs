/*!
The team-agent plugin conformance suite. `team-agent plugins check PATH` runs it, and a plugin
author runs it from `cargo test` on the library they just built, loaded exactly as the host loads
it:

```no_run
// tests/conformance.rs of a plugin crate (crate-type = ["cdylib", "rlib"])
#[test]
fn the_built_library_passes_the_conformance_suite() {
    let library = team_agent_conformance::built_library("team_agent_myagent");
    let report = team_agent_conformance::check_library(
        &library,
        &team_agent_conformance::Options::with_fixtures(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")),
    );
    assert!(report.ok, "{}", report.render());
}
```

# Checks

Every check has a stable id:

| id | what it proves |
|---|---|
| `abi.load` | the file is safe to load, a shared library, and exports a team-agent root module |
| `abi.version` | the abi_stable layout and the plugin API version match this host |
| `manifest.valid` | `manifest()` answers and agrees with the root module's name, aliases and version |
| `provider.launch_plan.fresh` | a fresh launch plan has a usable argv (and the pre-assigned id, if claimed) |
| `provider.launch_plan.resume_needs_session` | a resume without a session id is an error, never a plan; a resume with one uses it |
| `provider.launch_plan.fork` | a fork works when claimed, and is `unsupported` otherwise |
| `provider.startup.empty_screen` | an empty screen is `waiting`, never `ready` |
| `provider.hooks` | a provider that declares hook events plans their configuration inside the directory it was given and reads a payload it cannot make sense of without panicking; one that declares none plans no files |
| `provider.submit_keys` | submit keys are non-empty key names |
| `provider.no_panic.garbage` | random bytes, invalid UTF-8, 1 MiB screens and escape sequences never panic |
| `provider.deterministic` | the same input gives the same answer |
| `provider.thread_safe` | 8 threads calling at once get the single-threaded answers |
| `provider.call_time` | time per call on a 1 MiB input (a warning above 50 ms; never a failure) |
| `display.probe` | `probe()` answers, with a detail, whether the display is available in the suite's environment (either answer passes) |
| `display.plan_symmetry` | `open` plans in the suite's environment, and `close(handle)` destroys exactly what `open` (and `rebuild`) created |
| `display.no_panic.garbage` | a garbage handle is an error, never a panic |
| `fixtures.shipped` | the fixtures the library ships (`fixtures()`) can be read |
| `fixtures.read` | the `--fixtures DIR` directory can be read (and is given to a provider only) |
| `fixture.<NAME>` | one captured screen or transcript gets its expected verdict |

A display's own tests hold its plans to the rule of `display.plan_symmetry` with
[`resources_created`] and [`resources_destroyed`].

# The environment displays are checked in

A display is judged by its plans, not by what the machine running the suite has installed, so
every display check passes the display an environment the suite controls, the same one for
`probe`, `open`, `close` and `rebuild`. It lives in a private temporary directory, removed after
the checks:

- `path_dirs` is only that directory's `bin/`, holding stand-ins (executable files) for `tmux`,
  `x-terminal-emulator`, `ghostty`, `kitty`, `wezterm`, `alacritty`, `gnome-terminal`, `xterm`,
  `open` and `osascript`. The suite only compares plan steps and never runs them; a stand-in
  that is run anyway says so and exits 1.
- `env` is exactly `TMUX` (`<dir>/leader.sock,1,0`), `DISPLAY` (`:99`) and `WAYLAND_DISPLAY`
  (`wayland-conformance`); nothing of the real `PATH` or environment comes in.
- `os` is the real OS (`std::env::consts::OS`).
- The team shown has four workers, its server's socket `<dir>/team.sock`, and a leader pane in
  session `main` on `<dir>/leader.sock`.

In this environment a display must be able to `open`: an error there fails
`display.plan_symmetry`. A display that looks for something else (another program, a variable)
may say in `probe` that it is unavailable, but must still plan.

# Fixture format

A fixture directory holds pairs of files:

- `NAME.screen.txt` (a pane captured with `tmux capture-pane -p`) and `NAME.expect.json`:
  `{"startup": "ready|answer|waiting|blocked", "keys": ["Down", "Enter"], "screen": "idle|busy|awaiting_approval|trust_prompt|api_error|exited|unknown"}`.
  Every key present is checked; absent keys are not (`keys` is checked only when the startup
  decision is `answer`).
- `NAME.transcript.jsonl` (the tail of the provider's transcript) and `NAME.expect.json`:
  `{"turn_state": "idle|working|interrupted|blocked_on_human|error|unknown"}`.

A plugin may also ship fixtures inside the library (`ProviderPlugin::fixtures`); both are checked.
*/

mod display_checks;
mod fixtures;
mod garbage;
mod probe_environment;
mod provider_checks;

use std::path::{Path, PathBuf};

use serde::Serialize;
use team_agent_plugin_api::loader::{self, LoadError};
use team_agent_plugin_api::{Fixture, PluginInfo, PluginKind};

pub use display_checks::{resources_created, resources_destroyed};
pub use fixtures::{AnsiTwin, ansi_twins, read_fixture_dir};

/// What to check besides the built-in checks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Directories of fixtures to check in addition to those the plugin ships.
    pub fixture_dirs: Vec<PathBuf>,
}

impl Options {
    pub fn with_fixtures(dir: impl Into<PathBuf>) -> Self {
        Self {
            fixture_dirs: vec![dir.into()],
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub ok: bool,
    pub detail: String,
    /// Worth a look but not a failure (timings).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
}

impl Check {
    pub fn pass(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ok: true,
            detail: detail.into(),
            warning: false,
        }
    }

    pub fn fail(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ok: false,
            detail: detail.into(),
            warning: false,
        }
    }

    fn from_result(id: &str, result: Result<String, String>) -> Self {
        match result {
            Ok(detail) => Self::pass(id, detail),
            Err(detail) => Self::fail(id, detail),
        }
    }
}

/// What the suite knows about the plugin it checked.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub api_version: u32,
    pub path: PathBuf,
}

/// The whole report: `ok` only when every check passed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub plugin: Option<PluginSummary>,
    pub checks: Vec<Check>,
}

impl Report {
    /// How many fixtures were checked (shipped in the library or read from `--fixtures`).
    pub fn fixtures_checked(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.id.starts_with("fixture."))
            .count()
    }

    fn finish(plugin: Option<PluginSummary>, checks: Vec<Check>) -> Self {
        let ok = !checks.is_empty() && checks.iter().all(|c| c.ok);
        Self { ok, plugin, checks }
    }

    /// A human-readable report, one line per check.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.plugin {
            out.push_str(&format!(
                "{} plugin '{}' {} (plugin API {}) at {}\n",
                p.kind,
                p.name,
                p.version,
                p.api_version,
                p.path.display()
            ));
        }
        for check in &self.checks {
            let mark = match (check.ok, check.warning) {
                (false, _) => "FAIL",
                (true, true) => "warn",
                (true, false) => "ok  ",
            };
            out.push_str(&format!("{mark} {:<44} {}\n", check.id, check.detail));
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        out.push_str(&if self.ok {
            format!("all {} checks passed\n", self.checks.len())
        } else {
            format!("{failed} of {} checks failed\n", self.checks.len())
        });
        out
    }
}

/// Runs every check on the plugin library at `path`.
pub fn check_library(path: &Path, options: &Options) -> Report {
    let plugin = match loader::load(path) {
        Ok(plugin) => plugin,
        Err(error) => return Report::finish(None, load_failure(&error)),
    };
    let summary = PluginSummary {
        name: plugin.info.name.clone(),
        kind: plugin.info.kind.as_str().to_string(),
        version: plugin.info.version.clone(),
        api_version: plugin.info.api_version,
        path: path.to_path_buf(),
    };
    let mut checks = vec![
        Check::pass("abi.load", "a team-agent plugin library"),
        Check::pass(
            "abi.version",
            format!(
                "plugin API {} matches, layout checked",
                plugin.info.api_version
            ),
        ),
    ];
    // Each with the expectation file it came from, which a failure names.
    let mut extra: Vec<(Fixture, String)> = Vec::new();
    for dir in &options.fixture_dirs {
        match read_fixture_dir(dir) {
            Ok(found) => extra.extend(found.into_iter().map(|f| {
                let file = dir.join(format!(
                    "{}{}",
                    f.name,
                    team_agent_plugin_api::fixture_dir::EXPECT
                ));
                (f, file.display().to_string())
            })),
            Err(e) => checks.push(Check::fail("fixtures.read", e)),
        }
    }
    match plugin.info.kind {
        PluginKind::Provider => provider_checks::run(&plugin, &extra, &mut checks),
        PluginKind::Display => {
            if !extra.is_empty() {
                checks.push(Check::fail(
                    "fixtures.read",
                    "fixtures are for provider plugins",
                ));
            }
            display_checks::run(&plugin, &mut checks)
        }
    }
    Report::finish(Some(summary), checks)
}

/// Whether a manifest names the plugin as its root module does: the host lists and chooses
/// plugins by what the root module declares, before it calls anything.
fn manifest_agrees(
    info: &PluginInfo,
    name: &str,
    aliases: &[String],
    version: &str,
) -> Result<(), String> {
    if name != info.name {
        return Err(format!(
            "manifest name '{name}' differs from the root module's '{}'",
            info.name
        ));
    }
    if aliases != info.aliases {
        return Err(format!(
            "manifest aliases {aliases:?} differ from the root module's {:?}",
            info.aliases
        ));
    }
    if version != info.version {
        return Err(format!(
            "manifest version '{version}' differs from the root module's '{}'",
            info.version
        ));
    }
    Ok(())
}

fn load_failure(error: &LoadError) -> Vec<Check> {
    match error {
        LoadError::IncompatibleApi { .. } | LoadError::IncompatibleAbi { .. } => vec![
            Check::pass("abi.load", "a team-agent plugin library"),
            Check::fail("abi.version", error.to_string()),
        ],
        _ => vec![Check::fail("abi.load", error.to_string())],
    }
}

/// Where `cargo` put the library `lib<crate_name>.so` of the crate under test: next to the
/// running test binary (`target/<profile>/deps`, where `cargo test` builds it) or one level up
/// (where `cargo build` copies it); the newer one wins.
pub fn built_library(crate_name: &str) -> PathBuf {
    let file = format!("lib{crate_name}.{}", std::env::consts::DLL_EXTENSION);
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("a test binary lives in a directory");
    let profile_dir = if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [deps.join(&file), profile_dir.join(&file)]
        .into_iter()
        .filter(|p| p.exists())
        .max_by_key(|p| modified(p))
        .unwrap_or_else(|| profile_dir.join(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            kind: PluginKind::Provider,
            name: "echo".into(),
            aliases: vec!["echo-agent".into()],
            version: "1.2.0".into(),
            api_version: team_agent_plugin_api::PLUGIN_API_VERSION,
        }
    }

    /// The SDK makes both from one declaration; a library built otherwise (by hand, or by an SDK
    /// that did not) can still disagree, and the host would list it under one name and run another.
    #[test]
    fn a_manifest_that_differs_from_the_root_module_is_told_where() {
        let aliases = ["echo-agent".to_string()];
        assert_eq!(manifest_agrees(&info(), "echo", &aliases, "1.2.0"), Ok(()));
        assert_eq!(
            manifest_agrees(&info(), "echo2", &aliases, "1.2.0").unwrap_err(),
            "manifest name 'echo2' differs from the root module's 'echo'"
        );
        assert_eq!(
            manifest_agrees(&info(), "echo", &[], "1.2.0").unwrap_err(),
            "manifest aliases [] differ from the root module's [\"echo-agent\"]"
        );
        assert_eq!(
            manifest_agrees(&info(), "echo", &aliases, "1.3.0").unwrap_err(),
            "manifest version '1.3.0' differs from the root module's '1.2.0'"
        );
    }
}
