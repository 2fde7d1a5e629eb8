/*! Running a team: `up`, `shutdown`, `restart`, the single-agent operations (start, stop,
reset, add, remove, fork), and for workers with `isolation: worktree` their own git worktrees and
the review of their work (`diff`, `merge`). Everything here is generic over providers: plugins
plan, this module acts.

Every operation decides before it destroys (docs/ARCHITECTURE.md principle 3): plans are built and checked
before a window is created, restart decides resume/fresh/refuse for every worker before touching
tmux, and a failure part-way undoes what the operation itself created.
*/

mod agents;
mod bring_up;
mod exclusive;
mod fork;
mod launch;
mod restart;
mod resume;
mod review;
mod shutdown;
mod status;
pub mod teams;
mod up;
mod worktrees;

pub use agents::{AgentOp, add_agent, remove_agent, reset_agent, start_agent, stop_agent};
pub use exclusive::TeamLock;
pub use fork::fork_agent;
pub use launch::{WorkerEnv, resolvable, worker_exec, write_mcp_server};
pub use restart::{RestartOptions, restart};
pub use review::{MergeOptions, diff, merge};
pub use shutdown::shutdown;
pub use status::{AgentRow, status};
pub use up::{UpOptions, up};
pub use worktrees::WorktreeRow;

use serde_json::Value;

use crate::events::EventLog;
use crate::plugins::Registry;
use crate::state::{RuntimeState, StateError, StateStore, TeamState};
use crate::tmux::Server;
use crate::workspace::Workspace;

/// Why a lifecycle operation did not happen; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Refused before anything changed (a reason code for scripts, details for the JSON answer).
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
        action: String,
        details: Value,
    },
    /// A plan could not be made: nothing was created.
    #[error("{0}")]
    Plan(String),
    /// Starting failed part-way; what was created was undone.
    #[error("{0}")]
    Spawn(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Tmux(#[from] crate::tmux::TmuxError),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
}

impl LifecycleError {
    pub fn plan(message: impl Into<String>) -> Self {
        Self::Plan(message.into())
    }

    pub fn spawn(message: impl Into<String>) -> Self {
        Self::Spawn(message.into())
    }

    pub fn refused(
        reason: &'static str,
        message: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        Self::Refused {
            reason,
            message: message.into(),
            action: action.into(),
            details: Value::Null,
        }
    }
}

/// What every operation works with.
pub struct Context<'a> {
    pub workspace: &'a Workspace,
    pub registry: &'a Registry,
    pub events: EventLog,
    pub store: StateStore,
    /// Where progress lines go (stderr for people; nowhere for tests).
    pub progress: &'a (dyn Fn(&str) + Sync),
}

impl<'a> Context<'a> {
    pub fn new(
        workspace: &'a Workspace,
        registry: &'a Registry,
        progress: &'a (dyn Fn(&str) + Sync),
    ) -> Self {
        Self {
            workspace,
            registry,
            events: EventLog::new(workspace),
            store: StateStore::new(workspace),
            progress,
        }
    }

    /// What the display module works with.
    pub fn display(&self) -> crate::display::Context<'_> {
        crate::display::Context {
            registry: self.registry,
            events: &self.events,
            store: &self.store,
        }
    }

    /// The team recorded in this workspace, or a refusal saying there is none.
    pub fn team(&self) -> Result<(RuntimeState, TeamState), LifecycleError> {
        let state = self.store.load()?;
        match state.team.clone() {
            Some(team) => Ok((state, team)),
            None => Err(LifecycleError::refused(
                "no_team",
                format!("no team has run in {}", self.workspace.root().display()),
                "start one with `team-agent up DIR` (`team-agent init DIR` writes a starter team)",
            )),
        }
    }
}

/// The team's definition as it is now; one that no longer validates is a refusal listing its
/// errors.
fn load_definition(
    ctx: &Context<'_>,
    team: &TeamState,
) -> Result<crate::spec::LoadedSpec, LifecycleError> {
    crate::spec::load(
        &team.definition,
        ctx.workspace.root(),
        &ctx.registry.catalog(),
    )
    .map_err(|diagnostics| {
        let lines: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        LifecycleError::plan(format!(
            "the team definition {} no longer validates:\n{}",
            team.definition.display(),
            lines.join("\n")
        ))
    })
}

/// No agent of that id in the team: a refusal listing the team's agents.
fn unknown_agent(team: &TeamState, id: &str) -> LifecycleError {
    LifecycleError::refused(
        "unknown_agent",
        format!(
            "no agent '{id}' in team '{}' (agents: {})",
            team.name,
            team.agents.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        "see `team-agent status`",
    )
}

/// The team's private tmux server, as recorded.
pub fn server_of(team: &TeamState) -> Server {
    Server::at(&team.tmux_socket)
}
