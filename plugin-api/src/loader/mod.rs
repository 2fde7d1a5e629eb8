/*! The host side of the ABI (feature `loader`): finding plugin files, loading them with every
check a host owes its user, and calling them without ever letting a plugin take the host down.

- [`discover`] walks search directories in order, never the current directory, and keeps the
  same file reached twice only once.
- [`load`] refuses unsafe files before `dlopen`, then checks abi_stable's layout and our API
  version, and names the file and both versions when something does not fit.
- [`ProviderClient`] / [`DisplayClient`] make typed calls; a plugin that panics is marked faulted
  (see [`LoadedPlugin::fault`]).

The team-agent host and the conformance suite share this module, so a third party can test its
plugin exactly as the host will load it.
*/

mod client;
mod discover;
mod lanes;
mod load;

pub use client::{CallError, DisplayClient, FaultPolicy, ProviderClient};
pub use discover::{discover, is_plugin_file_name, Candidate, SearchDir};
pub use load::{load, LoadError, LoadedPlugin};

use serde::{Deserialize, Serialize};

/// How a plugin found on disk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    /// Loaded and answering.
    Ok,
    /// Loaded, but it panicked: the host no longer calls it.
    Faulted,
    /// Built against another plugin API or abi_stable layout.
    Incompatible,
    /// Not a loadable team-agent plugin (missing, not a library, no root module, bad info,
    /// a name another plugin already claims).
    Invalid,
    /// Refused for safety before loading (world-writable file or directory).
    Refused,
}

impl PluginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Faulted => "faulted",
            Self::Incompatible => "incompatible",
            Self::Invalid => "invalid",
            Self::Refused => "refused",
        }
    }
}
