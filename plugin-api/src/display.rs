/*! The display side of the plugin API: how a team is shown to the operator.

A display plugin never touches tmux or spawns anything itself. `open`, `close` and `rebuild`
return a [`DisplayPlan`]: steps the host executes, and a handle the host records in the team's
state and hands back to `close` and `rebuild`. To the host the handle is opaque JSON; to the
display it is its own type ([`crate::DisplayPlugin::Handle`]), converted at the boundary.
*/

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a display plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayManifest {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub version: String,
    #[serde(default)]
    pub description: String,
}

/// The operator's environment, as far as a display needs to know it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayEnvironment {
    /// `linux`, `macos`, …
    pub os: String,
    /// The variables a display may care about (`TERMINAL`, `DISPLAY`, `WAYLAND_DISPLAY`, `TMUX`, …).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The directories of `PATH`, in order.
    #[serde(default)]
    pub path_dirs: Vec<PathBuf>,
}

/// Whether a display can work here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayProbe {
    pub available: bool,
    /// What will be used, or why nothing can be.
    pub detail: String,
}

/// The leader's pane, when the leader runs inside tmux.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderPane {
    /// The socket path of the tmux server the leader runs on.
    pub socket: PathBuf,
    pub pane_id: String,
    pub session_name: String,
}

/// One worker as a display sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    pub agent_id: String,
    /// The worker's window id on the team's server (`@N`).
    pub window_id: String,
    pub pane_id: String,
}

/// The team to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub team: String,
    pub session_name: String,
    /// The socket path of the team's private tmux server.
    pub tmux_socket: PathBuf,
    pub workers: Vec<WorkerView>,
    #[serde(default)]
    pub leader: Option<LeaderPane>,
    #[serde(default)]
    pub environment: DisplayEnvironment,
}

/// Which tmux server a step talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TmuxServer {
    /// The team's private server.
    Team,
    /// The server the leader runs on.
    Leader,
}

/// What a step does, so the host (and the conformance suite) can check that `close` undoes
/// exactly what `open` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepEffect {
    /// The step creates the named resource.
    Creates { resource: String },
    /// The step destroys the named resource.
    Destroys { resource: String },
    /// Neither (a layout tweak, an option).
    Adjusts,
}

/// One thing the host does for a display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlanStep {
    /// Run `tmux <args>` against one of the servers.
    Tmux {
        server: TmuxServer,
        args: Vec<String>,
        effect: StepEffect,
    },
    /// Start a program (a terminal emulator); the host records its pid under `resource`.
    Spawn {
        argv: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        effect: StepEffect,
    },
    /// Stop a program a previous `Spawn` started (SIGTERM to its process group).
    Terminate { effect: StepEffect },
}

impl PlanStep {
    pub fn effect(&self) -> &StepEffect {
        match self {
            Self::Tmux { effect, .. } | Self::Spawn { effect, .. } | Self::Terminate { effect } => {
                effect
            }
        }
    }
}

/// What a display wants done, and the handle that lets it undo it later.
///
/// The host reads plans with the handle as JSON (the default `H`); a display writes them with its
/// own handle type, and `close` with `()`, which is JSON `null`: nothing is left to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayPlan<H = serde_json::Value> {
    pub steps: Vec<PlanStep>,
    /// Opaque to the host: recorded in state, given back to `close` and `rebuild`.
    #[serde(default)]
    pub handle: H,
}
