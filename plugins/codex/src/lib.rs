/*!
The team-agent provider plugin for the OpenAI Codex CLI (`codex`, written against 0.169.0).

It plans how a worker's Codex starts (fresh, `codex resume <id>`, `codex fork <id>`, always with
`--no-alt-screen --no-daemon`), finds the session Codex writes under the worker's `HOME`
(`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`; Codex cannot be told an id up front, so the
rollout is attributed by cwd, start time and the worker's identity marker), reads its screens
(startup dialogs, idle, busy, approvals, API-error retries, exit) and the turn state from the tail
of its rollout. The texts it looks for are data: `rules.toml`, compiled in and patched by
`~/.config/team-agent/providers/codex.toml` (see [`rules`]). `fixtures/` holds real captures of
Codex 0.169.0 with the verdict each must get; they are embedded in the library and checked by
`team-agent plugins check`.
*/

pub mod approval;
pub mod capture;
pub mod launch;
pub mod rollout;
pub mod rules;
pub mod screen;
pub mod turn;

use std::sync::OnceLock;

use team_agent_plugin_api::{
    ApprovalDecision, ApprovalRequest, CaptureContext, Fixture, InputBox, LaunchPlan,
    LaunchRequest, LeaderRequest, PluginError, ProviderCapabilities, ProviderPlugin, Resumability,
    ResumeCheck, ScreenState, SessionRecord, StartupDecision, SubmitKeys, TurnState, TurnSummary,
    Verdict, embedded_fixtures, export_provider,
};
use team_agent_provider_kit::RuleBook;

/// The Codex provider. Its rule book is built on first use (the user's file is read once).
#[derive(Debug, Default)]
pub struct Codex {
    rules: OnceLock<RuleBook>,
}

impl Codex {
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

impl ProviderPlugin for Codex {
    const NAME: &'static str = "codex";
    const DESCRIPTION: &'static str = "the OpenAI Codex CLI (written against 0.169.0)";
    const EXECUTABLE: &'static str = launch::EXECUTABLE;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: true,
            preassigned_session_id: false,
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

    /// Codex's composer treats keys that arrive right behind a paste as part of that paste, so
    /// an immediate Enter lands in the message as a newline instead of sending it. A quarter of a
    /// second lets the paste settle; it is small next to how long a turn takes.
    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys {
            delay_ms: 250,
            keys: vec!["Enter".into()],
        }
    }

    fn fixtures(&self) -> Vec<Fixture> {
        embedded_fixtures!()
    }
}

export_provider!(Codex);

#[cfg(test)]
mod tests;
