/*!
The team-agent provider plugin for Anthropic's Claude Code CLI (`claude`, written against
2.1.330 and checked on 2.1.197).

It plans how a worker's Claude starts (a fresh session under the id the host chose with
`--session-id`, `--resume <id>`, or `--resume <id> --fork-session --session-id <new>`), finds the
transcript Claude writes under the worker's `HOME` (`~/.claude/projects/<encoded cwd>/<id>.jsonl`,
created at the first message), reads its screens (the workspace trust, custom API key and bypass
dialogs, login screens, the input box, running and retrying turns, approvals, exit) and the turn
state from the tail of its transcript. The texts it looks for are data: `rules.toml`, compiled in
and patched by `~/.config/team-agent/providers/claude.toml` (see [`rules`]). `fixtures/` holds
real captures of Claude Code 2.1.330 and 2.1.197 (and a few screens transcribed in their shapes)
with the verdict each must get; they are embedded in the library and checked by
`team-agent plugins check`.
*/

pub mod approval;
pub mod capture;
pub mod launch;
pub mod rules;
pub mod screen;
pub mod transcript;
pub mod turn;

use std::sync::OnceLock;

use team_agent_plugin_api::{
    ApprovalDecision, ApprovalRequest, CaptureContext, Fixture, InputBox, LaunchPlan,
    LaunchRequest, LeaderRequest, PluginError, ProviderCapabilities, ProviderPlugin, Resumability,
    ResumeCheck, ScreenState, SessionRecord, StartupDecision, SubmitKeys, TurnState, TurnSummary,
    Verdict, embedded_fixtures, export_provider,
};
use team_agent_provider_kit::RuleBook;

/// The Claude Code provider. Its rule book is built on first use (the user's file is read once).
#[derive(Debug, Default)]
pub struct Claude {
    rules: OnceLock<RuleBook>,
}

impl Claude {
    /// A provider with the given rule book instead of the built-in rules and the user's file.
    pub fn with_rules(book: RuleBook) -> Self {
        Self {
            rules: OnceLock::from(book),
        }
    }

    fn rules(&self) -> &RuleBook {
        self.rules.get_or_init(rules::load)
    }
}

impl ProviderPlugin for Claude {
    const NAME: &'static str = "claude";
    const ALIASES: &'static [&'static str] = &["claude_code"];
    const DESCRIPTION: &'static str = "Anthropic's Claude Code CLI (written against 2.1.330)";
    const EXECUTABLE: &'static str = launch::EXECUTABLE;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: true,
            preassigned_session_id: true,
            mcp_injection: true,
            transcript_turn_state: true,
        }
    }

    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        launch::plan(request)
    }

    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        launch::leader_plan(request)
    }

    fn handle_startup_prompts(&self, screen: &str) -> Verdict<StartupDecision> {
        screen::startup(self.rules(), screen)
    }

    fn capture_session_id(
        &self,
        context: &CaptureContext,
    ) -> Result<Option<SessionRecord>, PluginError> {
        capture::capture(context, self.rules())
    }

    fn session_is_resumable(&self, check: &ResumeCheck) -> Resumability {
        capture::resumability(check, self.rules())
    }

    fn classify_screen(&self, screen: &str) -> Verdict<ScreenState> {
        screen::classify(self.rules(), screen)
    }

    fn approval_keys(&self, request: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        approval::answer(self.rules(), request)
    }

    fn turn_state(&self, transcript_tail: &str) -> Verdict<TurnState> {
        turn::state(self.rules(), transcript_tail)
    }

    fn input_box(&self, screen: &str) -> Result<Option<InputBox>, PluginError> {
        Ok(screen::input_box(self.rules(), screen))
    }

    fn turn_summary(&self, transcript_tail: &str) -> Result<TurnSummary, PluginError> {
        Ok(turn::summary(self.rules(), transcript_tail))
    }

    /// Enter, at once: Claude Code 2.1.330 took an Enter sent right behind a bracketed paste (of
    /// one line or of 4.5 KB, which it folds into `[Pasted text #1 +63 lines]`) as "send", not as
    /// part of the paste.
    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys {
            delay_ms: 0,
            keys: vec!["Enter".into()],
        }
    }

    fn fixtures(&self) -> Vec<Fixture> {
        embedded_fixtures!()
    }
}

export_provider!(Claude);

#[cfg(test)]
mod tests;
