/*! A provider plugin driven by a rule book: [`RulesProvider`] is the whole [`ProviderPlugin`],
over an [`AgentCli`] that says what differs for one CLI.

What every rules-driven provider does the same way lives here: its rule book (the built-in
`rules.toml`, patched once by the user's file and checked before it is trusted), the manifest,
answering approval prompts under the host's policy, the turn state from the transcript tail, and
shipping its fixtures. What differs is the CLI's: its name and rules, how it is started, where it
keeps its sessions, the shapes of its screen, and how its transcript says that a turn ended.

`plugins/claude` and `plugins/codex` are two: each a rule book, an `AgentCli` and the modules
behind it, and `export_provider!(RulesProvider<TheirCli>)` under a name of their own.
*/

use std::sync::OnceLock;

use team_agent_plugin_api::{
    ApprovalDecision, ApprovalRequest, CaptureContext, EndedTurn, Fixture, HookEvent, HookPayload,
    InputBox, LaunchPlan, LaunchRequest, LeaderRequest, PluginError, ProviderCapabilities,
    ProviderPlugin, Resumability, ResumeCheck, ScreenState, SessionRecord, StartupDecision,
    SubmitKeys, TurnState, TurnSummary, Verdict,
};

use crate::approval::{self, Approval, McpCall};
use crate::rules::RuleBook;
use crate::transcript::turn_state_of;
use crate::user::{load_rules, load_rules_from};

/// What one agent CLI's provider says that no other says the same way. Every method is a pure
/// function of its inputs and the rule book (see [`ProviderPlugin`] for what each answers). The
/// three parts a CLI's crate implements in the modules they belong to: how the CLI starts
/// ([`CliLaunch`]), what its screen shows ([`CliScreen`]) and where its sessions are
/// ([`CliSessions`]).
pub trait AgentCli: CliLaunch + CliScreen + CliSessions + Send + Sync + 'static {
    /// The provider's name (`provider:` in a team spec), which also names the user's rule file
    /// (`~/.config/team-agent/providers/<NAME>.toml`).
    const NAME: &'static str;
    /// Other names that select this provider.
    const ALIASES: &'static [&'static str] = &[];
    /// One line for `team-agent plugins list`.
    const DESCRIPTION: &'static str;
    /// The executable the provider runs.
    const EXECUTABLE: &'static str;
    /// The CLI as the operator knows it, in reasons (`Claude Code`, `Codex`).
    const CLI: &'static str;
    /// The built-in rule book (`rules.toml`, compiled in).
    const RULES: &'static str;

    fn capabilities(&self) -> ProviderCapabilities;

    /// What the provider's code needs of a rule book beyond it being well-formed: checked on the
    /// built-in rules and on every user file before it is applied.
    fn check_rules(&self, book: &RuleBook) -> Result<(), String>;

    fn submit_keys(&self) -> SubmitKeys;

    /// The fixtures the crate ships (`team_agent_plugin_api::embedded_fixtures!()`).
    fn fixtures(&self) -> Vec<Fixture>;

    /// What one call of a hook the launch plan configured says. The default: the plan configures
    /// none.
    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        let _ = payload;
        Err(PluginError::unsupported(format!(
            "the {} plugin configures no hooks",
            Self::NAME
        )))
    }
}

/// How a CLI is started.
pub trait CliLaunch {
    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError>;

    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError>;
}

/// What a CLI's screen shows, read with the rule book.
pub trait CliScreen {
    fn startup(&self, book: &RuleBook, screen: &str) -> Verdict<StartupDecision>;

    fn classify(&self, book: &RuleBook, screen: &str) -> Verdict<ScreenState>;

    /// The approval prompt that is the active element of `screen`: a question a rule knows, or
    /// else a menu waiting for an answer that no rule knows.
    fn approval<'b>(&self, book: &'b RuleBook, screen: &str) -> Option<Approval<'b>>;

    /// How the CLI names a call to an MCP tool, in reasons (`mcp__team__report_result`).
    fn tool_call(&self, call: &McpCall) -> String;

    fn input_box(&self, book: &RuleBook, screen: &str) -> Option<InputBox>;
}

/// Where a CLI keeps its sessions, and what its transcript says about them.
pub trait CliSessions {
    fn capture(
        &self,
        context: &CaptureContext,
        book: &RuleBook,
    ) -> Result<Option<SessionRecord>, PluginError>;

    fn resumability(&self, check: &ResumeCheck, book: &RuleBook) -> Resumability;

    /// The last turn that ended normally, from the tail of the CLI's transcript.
    fn last_ended_turn(&self, book: &RuleBook, tail: &str) -> Option<EndedTurn>;
}

/// The provider plugin of an [`AgentCli`]. Its rule book is built on first use (the user's file
/// is read once).
#[derive(Debug, Default)]
pub struct RulesProvider<C> {
    cli: C,
    rules: OnceLock<RuleBook>,
}

impl<C: AgentCli + Default> RulesProvider<C> {
    /// A provider with the given rule book instead of the built-in rules and the user's file.
    pub fn with_rules(book: RuleBook) -> Self {
        Self {
            cli: C::default(),
            rules: OnceLock::from(book),
        }
    }

    /// The built-in rules alone, checked as the provider checks them (whatever the user's file
    /// holds).
    pub fn builtin_rules() -> RuleBook {
        let cli = C::default();
        load_rules_from(C::RULES, None, |book| cli.check_rules(book))
    }
}

impl<C: AgentCli> RulesProvider<C> {
    /// The built-in rules with the user's file applied.
    fn rules(&self) -> &RuleBook {
        self.rules
            .get_or_init(|| load_rules(C::NAME, C::RULES, |book| self.cli.check_rules(book)))
    }
}

impl<C: AgentCli> ProviderPlugin for RulesProvider<C> {
    const NAME: &'static str = C::NAME;
    const ALIASES: &'static [&'static str] = C::ALIASES;
    const DESCRIPTION: &'static str = C::DESCRIPTION;
    const EXECUTABLE: &'static str = C::EXECUTABLE;

    fn capabilities(&self) -> ProviderCapabilities {
        self.cli.capabilities()
    }

    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        self.cli.launch_plan(request)
    }

    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        self.cli.leader_plan(request)
    }

    fn handle_startup_prompts(&self, screen: &str) -> Verdict<StartupDecision> {
        self.cli.startup(self.rules(), screen)
    }

    fn capture_session_id(
        &self,
        context: &CaptureContext,
    ) -> Result<Option<SessionRecord>, PluginError> {
        self.cli.capture(context, self.rules())
    }

    fn session_is_resumable(&self, check: &ResumeCheck) -> Resumability {
        self.cli.resumability(check, self.rules())
    }

    fn classify_screen(&self, screen: &str) -> Verdict<ScreenState> {
        self.cli.classify(self.rules(), screen)
    }

    fn approval_keys(&self, request: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        let book = self.rules();
        let prompt = self.cli.approval(book, &request.screen);
        approval::answer(book, prompt, &request.policy, C::CLI, |call| {
            self.cli.tool_call(call)
        })
    }

    fn turn_state(&self, transcript_tail: &str) -> Verdict<TurnState> {
        turn_state_of(self.rules(), transcript_tail)
    }

    fn turn_summary(&self, transcript_tail: &str) -> Result<TurnSummary, PluginError> {
        let verdict = self.turn_state(transcript_tail);
        Ok(TurnSummary {
            state: verdict.value,
            rule: verdict.rule,
            last_ended: self.cli.last_ended_turn(self.rules(), transcript_tail),
        })
    }

    fn input_box(&self, screen: &str) -> Result<Option<InputBox>, PluginError> {
        Ok(self.cli.input_box(self.rules(), screen))
    }

    fn submit_keys(&self) -> SubmitKeys {
        self.cli.submit_keys()
    }

    fn fixtures(&self) -> Vec<Fixture> {
        self.cli.fixtures()
    }

    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        self.cli.hook_event(payload)
    }
}
