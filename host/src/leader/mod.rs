/*! The leader's side: `team-agent claude|codex` (any installed provider) starts the leader's CLI in
tmux with the team-agent MCP server and instructions, `install-skill` writes those instructions
where each CLI reads them, and the ownership lease decides which pane leads a team.
*/

mod attach;
mod launcher;
pub mod ownership;
mod skill;

pub use attach::attach;
pub use launcher::{instructions, launch};

/// The variable that names the file holding the leader's environment (written by the launcher).
pub const LEADER_ENV_VAR: &str = "TEAM_AGENT_LEADER_ENV_FILE";

/// Why the leader could not start or be bound, with what to do about it.
pub use crate::error::Refusal as LeaderError;
pub use skill::{SkillTarget, install_skill};
