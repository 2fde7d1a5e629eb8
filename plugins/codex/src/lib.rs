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

Hooks: when the host gives a hook command, the plan has Codex run it (trusted for that process
only) at its lifecycle events and through `notify` at each turn's end; [`hooks`] reads the
payloads back.

What every rules-driven provider does alike (the rule book's lifetime, answering approvals under
the host's policy, the turn state, the manifest) is provider-kit's [`RulesProvider`]; this crate
is what only Codex does: [`CodexCli`].
*/

pub mod capture;
pub mod hooks;
pub mod launch;
pub mod rollout;
pub mod rules;
pub mod screen;

use team_agent_plugin_api::{
    Fixture, HookEvent, HookPayload, PluginError, ProviderCapabilities, SubmitKeys,
    embedded_fixtures, export_provider,
};
use team_agent_provider_kit::{AgentCli, RuleBook, RulesProvider};

/// What only the Codex CLI does: its rules, command line, rollouts and screens.
#[derive(Debug, Default)]
pub struct CodexCli;

/// The Codex provider.
pub type Codex = RulesProvider<CodexCli>;

impl AgentCli for CodexCli {
    const NAME: &'static str = "codex";
    const DESCRIPTION: &'static str = "the OpenAI Codex CLI (written against 0.169.0)";
    const EXECUTABLE: &'static str = launch::EXECUTABLE;
    const CLI: &'static str = "Codex";
    const RULES: &'static str = rules::BUILTIN;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: true,
            preassigned_session_id: false,
            mcp_injection: true,
            transcript_turn_state: true,
            hook_events: hooks::EMITTED.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn check_rules(&self, book: &RuleBook) -> Result<(), String> {
        rules::check(book)
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

    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        hooks::event(payload)
    }
}

export_provider!(Codex);

#[cfg(test)]
mod tests;
