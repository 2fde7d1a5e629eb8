/*! The leader's side: `team-agent claude|codex` (any installed provider) starts the leader's CLI in
tmux with the team-agent MCP server and instructions, `install-skill` writes those instructions
where each CLI reads them, and the ownership lease decides which pane leads a team.
*/

mod launcher;
pub mod ownership;
mod skill;

pub use launcher::{LaunchOutcome, instructions, launch, session_name};

/// The variable that names the file holding the leader's environment (written by the launcher).
pub const LEADER_ENV_VAR: &str = "TEAM_AGENT_LEADER_ENV_FILE";

/// Why the leader could not start, with what to do about it (the CLI shows all three; `reason`
/// is the code scripts match on).
#[derive(Debug)]
pub struct LeaderError {
    pub message: String,
    pub action: Option<String>,
    pub reason: Option<&'static str>,
}

impl LeaderError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            action: None,
            reason: None,
        }
    }

    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
}

impl std::fmt::Display for LeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LeaderError {}
pub use skill::{SkillFile, SkillReport, SkillTarget, install_skill, skill_text};
