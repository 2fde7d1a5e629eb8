/*!
The team-agent provider plugin for Google's Gemini CLI (`gemini`, written against 0.61.0).

It plans how a worker's Gemini starts (a fresh session under the id the host chose with
`--session-id`, or `--resume <id>`; Gemini cannot fork a session), with a Gemini home of the
worker's own (`GEMINI_CLI_HOME`, in the worker's hook directory) holding the settings the plan
writes: the API-key login, no update checks or usage statistics, the team's MCP server (trusted,
so its tools never wait for an approval), the host's hooks, and the worker's system prompt as
that home's `GEMINI.md`. It finds the session file Gemini writes there
(`.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl`), reads its screens (the folder trust
and authentication dialogs, the Google login, the input box, running turns, approvals, API
errors, exit) and what the tail of its session file can tell (a prompt or a tool result: working;
a reply: not known, since Gemini records a reply's tool calls only once they completed); and
reads what each hook call says (see [`hooks`]), which is how the host learns that a turn ended. The texts
it looks for are data: `rules.toml`, compiled in and patched by
`~/.config/team-agent/providers/gemini.toml` (see [`rules`]). `fixtures/` holds real captures of
Gemini CLI 0.61.0 against the scripted model, with the verdict each must get; they are embedded
in the library and checked by `team-agent plugins check`.

What every rules-driven provider does alike is provider-kit's [`RulesProvider`]; this crate is
what only Gemini CLI does: [`GeminiCli`].
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

/// What only Gemini CLI does: its rules, command line, session files and screens.
#[derive(Debug, Default)]
pub struct GeminiCli;

/// The Gemini CLI provider.
pub type Gemini = RulesProvider<GeminiCli>;

impl AgentCli for GeminiCli {
    const NAME: &'static str = "gemini";
    const ALIASES: &'static [&'static str] = &["gemini_cli"];
    const DESCRIPTION: &'static str = "Google's Gemini CLI (written against 0.61.0)";
    const EXECUTABLE: &'static str = launch::EXECUTABLE;
    const CLI: &'static str = "Gemini CLI";
    const RULES: &'static str = rules::BUILTIN;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: false,
            preassigned_session_id: true,
            mcp_injection: true,
            transcript_turn_state: true,
            hook_events: hooks::KINDS.iter().map(|kind| kind.to_string()).collect(),
        }
    }

    fn check_rules(&self, book: &RuleBook) -> Result<(), String> {
        rules::check(book)
    }

    /// Enter, a second after the paste: Gemini 0.61.0 takes an Enter within 40 ms of a bracketed
    /// paste (outside the kitty keyboard protocol, as in tmux) as a new line of the paste, and
    /// those 40 ms end only when its UI next runs, which on a loaded machine is much later (real
    /// runs with five Gemini CLIs on two cores lost an Enter sent 400 ms after the paste).
    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys {
            delay_ms: 1000,
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

export_provider!(Gemini);

#[cfg(test)]
mod tests;
