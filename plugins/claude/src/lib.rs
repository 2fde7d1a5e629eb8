/*!
The team-agent provider plugin for Anthropic's Claude Code CLI (`claude`, written against
2.1.330 and checked on 2.1.197).

It plans how a worker's Claude starts (a fresh session under the id the host chose with
`--session-id`, `--resume <id>`, or `--resume <id> --fork-session --session-id <new>`), finds the
transcript Claude writes under the worker's `HOME` (`~/.claude/projects/<encoded cwd>/<id>.jsonl`,
created at the first message), reads its screens (the workspace trust, custom API key and bypass
dialogs, login screens, the input box, running and retrying turns, approvals, exit) and the turn
state from the tail of its transcript; and, when the host takes hook events, has Claude run the
host's hook command at its events and reads what each call says (see [`hooks`]). The texts it looks for are data: `rules.toml`, compiled in
and patched by `~/.config/team-agent/providers/claude.toml` (see [`rules`]). `fixtures/` holds
real captures of Claude Code 2.1.330 and 2.1.197 (and a few screens transcribed in their shapes)
with the verdict each must get; they are embedded in the library and checked by
`team-agent plugins check`.

What every rules-driven provider does alike (the rule book's lifetime, answering approvals under
the host's policy, the turn state, the manifest) is provider-kit's [`RulesProvider`]; this crate
is what only Claude Code does: [`ClaudeCode`].
*/

pub mod capture;
pub mod hooks;
pub mod launch;
pub mod rules;
pub mod screen;
pub mod transcript;

use team_agent_plugin_api::{
    Fixture, HookEvent, HookPayload, PluginError, ProviderCapabilities, SubmitKeys,
    embedded_fixtures, export_provider,
};
use team_agent_provider_kit::{AgentCli, RuleBook, RulesProvider};

/// What only Claude Code does: its rules, command line, transcripts and screens.
#[derive(Debug, Default)]
pub struct ClaudeCode;

/// The Claude Code provider.
pub type Claude = RulesProvider<ClaudeCode>;

impl AgentCli for ClaudeCode {
    const NAME: &'static str = "claude";
    const ALIASES: &'static [&'static str] = &["claude_code"];
    const DESCRIPTION: &'static str = "Anthropic's Claude Code CLI (written against 2.1.330)";
    const EXECUTABLE: &'static str = launch::EXECUTABLE;
    const CLI: &'static str = "Claude Code";
    const RULES: &'static str = rules::BUILTIN;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: true,
            preassigned_session_id: true,
            mcp_injection: true,
            transcript_turn_state: true,
            hook_events: hooks::KINDS.iter().map(|kind| kind.to_string()).collect(),
        }
    }

    fn check_rules(&self, book: &RuleBook) -> Result<(), String> {
        rules::check(book)
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

    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        hooks::event(payload)
    }
}

export_provider!(Claude);

#[cfg(test)]
mod tests;
