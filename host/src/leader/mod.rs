/*! The leader's side: `team-agent claude|codex` (any installed provider) starts the leader's CLI in
tmux with the team-agent MCP server and instructions, `install-skill` writes those instructions
where each CLI reads them, and the ownership lease decides which pane leads a team.
*/

mod launcher;
pub mod ownership;
mod skill;

pub use launcher::{LaunchOutcome, instructions, launch, session_name};
pub use skill::{SkillFile, SkillReport, SkillTarget, install_skill, skill_text};
