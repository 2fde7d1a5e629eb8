/*! The plugin registry: which provider and display plugins this team-agent can use.

It owns the search order (docs/ARCHITECTURE.md §3): `$TEAM_AGENT_PLUGIN_PATH`, the workspace's
`.team/plugins/`, the user's data directory, then the directory of the `team-agent` binary (and
`../lib/team-agent/plugins` beside it, where `install` puts them). Never the current directory.
Everything about one file (safety, loading, versions) is `team_agent_plugin_api::loader`'s job;
this module adds the registry-wide rules: the first plugin to claim a name wins and later claimants
are reported, and a plugin that panics is faulted for the rest of the process.
*/

use std::path::{Path, PathBuf};

use serde::Serialize;
use team_agent_plugin_api::PluginKind;
use team_agent_plugin_api::loader::{
    self, Candidate, DisplayClient, FaultPolicy, LoadError, LoadedPlugin, PluginStatus,
    ProviderClient, SearchDir,
};

/// The environment variable listing extra plugin directories (or files), `:`-separated.
pub const PLUGIN_PATH_VAR: &str = "TEAM_AGENT_PLUGIN_PATH";

/// Where to look for plugins, in order.
pub fn search_dirs(workspace: Option<&Path>) -> Vec<SearchDir> {
    let mut dirs = Vec::new();
    if let Some(value) = std::env::var_os(PLUGIN_PATH_VAR) {
        for entry in std::env::split_paths(&value) {
            // Empty or relative entries would mean the current directory: never.
            if entry.is_absolute() {
                dirs.push(SearchDir::new(entry, PLUGIN_PATH_VAR));
            }
        }
    }
    if let Some(ws) = workspace {
        dirs.push(SearchDir::new(
            ws.join(".team").join("plugins"),
            "workspace",
        ));
    }
    if let Some(data) = user_data_dir() {
        dirs.push(SearchDir::new(
            data.join("team-agent").join("plugins"),
            "user data directory",
        ));
    }
    if let Some(bin) = crate::workspace::exe_dir() {
        if let Some(prefix) = bin.parent() {
            dirs.push(SearchDir::new(
                prefix.join("lib").join("team-agent").join("plugins"),
                "installation",
            ));
        }
        dirs.push(SearchDir::new(bin, "next to the team-agent binary"));
    }
    dirs
}

fn user_data_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => Some(dir),
        _ => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("share")),
    }
}

/// One file found during discovery and what became of it.
pub struct Entry {
    pub candidate: Candidate,
    pub outcome: Result<LoadedPlugin, LoadError>,
}

impl Entry {
    pub fn status(&self) -> PluginStatus {
        match &self.outcome {
            Ok(plugin) => plugin.status(),
            Err(e) => e.status(),
        }
    }
}

/// Every plugin found, loaded or not, in search order.
pub struct Registry {
    pub entries: Vec<Entry>,
    /// Loaded by [`Registry::load_named`] without every plugin of the search path.
    pub partial: bool,
}

/// A plugin as `plugins list --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginRow {
    pub name: Option<String>,
    pub kind: Option<&'static str>,
    pub version: Option<String>,
    pub api_version: Option<u32>,
    #[serde(serialize_with = "crate::workspace::serialize_path_lossy")]
    pub path: PathBuf,
    pub source: String,
    pub status: &'static str,
    pub error: Option<String>,
}

/// Why a plugin asked for by name cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "no {kind} plugin named '{name}' is installed (installed: {installed}); see `team-agent plugins list`"
    )]
    NotFound {
        kind: &'static str,
        name: String,
        installed: String,
    },
    #[error("{kind} plugin '{name}' cannot be used: {reason}")]
    Unusable {
        kind: &'static str,
        name: String,
        reason: String,
    },
}

impl Registry {
    /// Discovers and loads every plugin of the search path.
    pub fn load(workspace: Option<&Path>) -> Self {
        Self::load_from(&search_dirs(workspace))
    }

    /// Loads only the plugins whose file is named after one of `names`
    /// (`libteam_agent_<name>.so`), for a long-running process that needs a few providers and
    /// should not map every plugin's code. When a name is not served that way, everything is
    /// loaded as by [`Registry::load`].
    pub fn load_named(workspace: Option<&Path>, names: &[String]) -> Self {
        let normal = |s: &str| s.replace('-', "_");
        let wanted: Vec<String> = names.iter().map(|n| normal(n)).collect();
        let candidates = loader::discover(&search_dirs(workspace));
        let named: Vec<Candidate> = candidates
            .iter()
            .filter(|c| {
                c.path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .and_then(|f| f.strip_prefix("libteam_agent_"))
                    .and_then(|f| f.split('.').next())
                    .is_some_and(|stem| wanted.iter().any(|w| *w == stem))
            })
            .cloned()
            .collect();
        let registry = Self::load_candidates(named);
        let served = |name: &String| {
            registry
                .usable(PluginKind::Provider)
                .any(|p| p.names().any(|n| n == name))
        };
        if names.iter().all(served) {
            Self {
                partial: true,
                ..registry
            }
        } else {
            Self::load_candidates(candidates)
        }
    }

    pub fn load_from(dirs: &[SearchDir]) -> Self {
        Self::load_candidates(loader::discover(dirs))
    }

    fn load_candidates(candidates: Vec<Candidate>) -> Self {
        let mut entries: Vec<Entry> = Vec::new();
        for candidate in candidates {
            let mut outcome = loader::load(&candidate.path);
            if let Ok(plugin) = &outcome {
                // Ask for the manifest now: a plugin that panics there is faulted from the start.
                let _ = manifest_probe(plugin);
                if let Some(other) = entries.iter().find_map(|e| claimed_by(e, plugin)) {
                    outcome = Err(LoadError::DuplicateName {
                        path: candidate.path.clone(),
                        name: plugin.info.name.clone(),
                        other,
                    });
                }
            }
            entries.push(Entry { candidate, outcome });
        }
        Self {
            entries,
            partial: false,
        }
    }

    /// The rows of `plugins list`.
    pub fn rows(&self) -> Vec<PluginRow> {
        self.entries
            .iter()
            .map(|e| {
                let (info, error) = match &e.outcome {
                    Ok(p) => (
                        Some(&p.info),
                        p.fault()
                            .map(|f| format!("{}: faulted: {f}", p.path.display())),
                    ),
                    Err(err) => (None, Some(err.to_string())),
                };
                PluginRow {
                    name: info.map(|i| i.name.clone()),
                    kind: info.map(|i| i.kind.as_str()),
                    version: info.map(|i| i.version.clone()),
                    api_version: info.map(|i| i.api_version),
                    path: e.candidate.path.clone(),
                    source: e.candidate.source.clone(),
                    status: e.status().as_str(),
                    error,
                }
            })
            .collect()
    }

    fn usable(&self, kind: PluginKind) -> impl Iterator<Item = &LoadedPlugin> {
        self.entries.iter().filter_map(move |e| match &e.outcome {
            Ok(p) if p.info.kind == kind => Some(p),
            _ => None,
        })
    }

    /// The names (not aliases) of the installed plugins of a kind, for error messages.
    pub fn names(&self, kind: PluginKind) -> Vec<String> {
        self.usable(kind)
            .filter(|p| p.fault().is_none())
            .map(|p| p.info.name.clone())
            .collect()
    }

    /// Every name and alias a usable plugin of this kind answers to.
    pub fn all_names(&self, kind: PluginKind) -> Vec<String> {
        self.usable(kind)
            .filter(|p| p.fault().is_none())
            .flat_map(|p| p.names().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }

    fn find(&self, kind: PluginKind, name: &str) -> Result<&LoadedPlugin, LookupError> {
        let kind_name = kind.as_str();
        let plugin = self
            .usable(kind)
            .find(|p| p.names().any(|n| n == name))
            .ok_or_else(|| {
                let installed = self.names(kind);
                LookupError::NotFound {
                    kind: kind_name,
                    name: name.to_string(),
                    installed: if installed.is_empty() {
                        "none".into()
                    } else {
                        installed.join(", ")
                    },
                }
            })?;
        if let Some(fault) = plugin.fault() {
            return Err(LookupError::Unusable {
                kind: kind_name,
                name: name.to_string(),
                reason: format!("it is faulted ({fault})"),
            });
        }
        Ok(plugin)
    }

    /// Why the provider plugin serving `name` is no longer called in this process (it panicked
    /// or hung), if it is not.
    pub fn provider_fault(&self, name: &str) -> Option<String> {
        self.usable(PluginKind::Provider)
            .find(|p| p.names().any(|n| n == name))
            .and_then(LoadedPlugin::fault)
    }

    /// The installed plugins a team definition may name.
    pub fn catalog(&self) -> crate::spec::Catalog {
        crate::spec::Catalog {
            providers: self.all_names(PluginKind::Provider),
            provider_names: self.names(PluginKind::Provider),
            displays: self.all_names(PluginKind::Display),
        }
    }

    /// The provider plugin serving `name` (a name or an alias).
    pub fn provider(&self, name: &str) -> Result<ProviderClient<'_>, LookupError> {
        let plugin = self.find(PluginKind::Provider, name)?;
        Ok(ProviderClient::new(plugin, FaultPolicy::StopCalling)
            .expect("a provider has a provider table"))
    }

    /// The display plugin serving `name`.
    pub fn display(&self, name: &str) -> Result<DisplayClient<'_>, LookupError> {
        let plugin = self.find(PluginKind::Display, name)?;
        Ok(DisplayClient::new(plugin, FaultPolicy::StopCalling)
            .expect("a display has a display table"))
    }
}

fn manifest_probe(plugin: &LoadedPlugin) -> Result<(), String> {
    match plugin.info.kind {
        PluginKind::Provider => ProviderClient::new(plugin, FaultPolicy::StopCalling)
            .map(|c| c.manifest().map(drop).map_err(|e| e.to_string()))
            .unwrap_or(Ok(())),
        PluginKind::Display => DisplayClient::new(plugin, FaultPolicy::StopCalling)
            .map(|c| c.manifest().map(drop).map_err(|e| e.to_string()))
            .unwrap_or(Ok(())),
    }
}

/// The path of an earlier entry claiming one of `plugin`'s names, if any.
fn claimed_by(entry: &Entry, plugin: &LoadedPlugin) -> Option<PathBuf> {
    let earlier = entry.outcome.as_ref().ok()?;
    let clash = earlier.info.kind == plugin.info.kind
        && earlier.names().any(|n| plugin.names().any(|m| m == n));
    clash.then(|| earlier.path.clone())
}
