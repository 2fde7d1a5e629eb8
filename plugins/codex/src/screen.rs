/*! Reading Codex's pane: which element is active (a dialog, the composer, the live status of a
turn, an exit message) and what that means while Codex starts and while it works.

Codex 0.169.0 draws in inline mode: the transcript of the session, then the live status block of
a running turn (`• Working (6s • esc to interrupt)` with `└ …` details), then the composer
(`› Ask Codex to do anything`) with the model/cwd line and the footer below it. Dialogs (trust,
login, approvals) replace the composer. The texts are rules of the book; this module owns the
shapes: what must be below what for an element to be the active one.
*/

use team_agent_plugin_api::{ApiErrorClass, InputBox, ScreenState, StartupDecision, Verdict};
use team_agent_provider_kit::{
    AgentCli, Approval, CliScreen, Dialog, LineMatch, McpCall, Rule, RuleBook, View, blocked,
    class_of, running_turn, verdict,
};

use crate::CodexCli;

/// A capture as the rules see it, with Codex's composer found on it.
struct CodexView<'a> {
    view: View<'a>,
    /// The last composer line; a menu option drawn with the same `›` is not one.
    composer: Option<usize>,
}

impl<'a> CodexView<'a> {
    fn read(book: &'a RuleBook, capture: &str) -> Self {
        let view = View::read(book, capture);
        let composer = view
            .lines()
            .iter()
            .rposition(|line| view.rule("composer", line).is_some() && !is_option(&view, line));
        Self { view, composer }
    }

    fn lines(&self) -> &[String] {
        self.view.lines()
    }

    fn book(&self) -> &'a RuleBook {
        self.view.book()
    }

    fn first_in(&self, group: &str, line: &str) -> Option<&'a Rule> {
        self.view.rule(group, line)
    }

    /// Lines below the composer (all of them when there is none): where an exit message or a
    /// screen that replaced Codex's main screen must be to count.
    fn after_composer(&self) -> &[String] {
        match self.composer {
            Some(at) => &self.lines()[at + 1..],
            None => self.lines(),
        }
    }

    /// The composer with Codex fully up: its status line or footer below it.
    fn ready_composer(&self) -> Option<(usize, &'a Rule)> {
        let at = self.composer?;
        let below = &self.lines()[at + 1..];
        let rule = below
            .iter()
            .find_map(|line| self.first_in("composer_ready", line))?;
        Some((at, rule))
    }

    /// The message the composer shows just above it is the user's own, unanswered: the turn it
    /// started has not drawn its status line yet.
    fn submitted_message_above(&self, composer: usize) -> bool {
        // A slash command being typed opens a popup whose highlighted entry is drawn like a
        // submitted message.
        if self.lines()[composer].starts_with("› /") {
            return false;
        }
        let above = self.lines()[..composer]
            .iter()
            .rev()
            .find(|line| !line.starts_with("  "));
        above.is_some_and(|line| {
            self.first_in("composer", line).is_some() && !is_option(&self.view, line)
        })
    }

    /// A reply still streaming in: after the last message the user sent, the last block is the
    /// model's (`• …`) and the line that closes a finished turn is not there yet.
    fn reply_streaming(&self, composer: usize) -> Option<&'a Rule> {
        let prompt = self.lines()[..composer].iter().rposition(|l| {
            self.first_in("composer", l).is_some()
                && !is_option(&self.view, l)
                && !l.starts_with("› /")
        })?;
        let turn = &self.lines()[prompt + 1..composer];
        if turn
            .iter()
            .any(|l| self.first_in("turn_closed", l).is_some())
        {
            return None;
        }
        let last = turn
            .iter()
            .rev()
            .find(|l| l.chars().next().is_some_and(|c| !c.is_whitespace()))?;
        self.first_in("agent_output", last)
    }

    fn exit(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("exited", self.after_composer())
    }

    fn needs_human(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("needs_human", self.after_composer())
    }

    /// The trust dialog. It wins even with a composer drawn below it: Codex can pre-render its
    /// main screen under a trust menu that still takes the keys.
    fn trust(&self) -> Option<Dialog<'a>> {
        self.view.dialog("trust_question", 0, true)
    }

    fn update_offer(&self) -> Option<Dialog<'a>> {
        self.view
            .dialog("update_offer", 0, true)
            .filter(|d| d.question.line >= self.composer.unwrap_or(0))
    }

    fn overlay(&self) -> Option<LineMatch<'a>> {
        self.book()
            .last_line("dismissable_overlay", self.after_composer())
    }

    /// A runtime approval prompt: a known question with a menu and the footer below it. A
    /// question whose rule names the MCP server and tool asks about that call.
    fn approval(&self) -> Option<Approval<'a>> {
        let question = self.book().last_line("approval_question", self.lines())?;
        let menu = self.book().menus().below(self.lines(), question.line + 1)?;
        if !self.view.footer_below(&menu) {
            return None;
        }
        let first_option = menu
            .options()
            .first()
            .map_or(self.lines().len(), |o| o.line);
        let asked = &self.lines()[question.line + 1..first_option];
        let command = self
            .book()
            .first_rule("approval_command", asked)
            .map(|found| {
                let mut lines = vec![found.captures.get("command").cloned().unwrap_or_default()];
                lines.extend(
                    asked[found.line + 1..]
                        .iter()
                        .map(|l| l.trim().to_string())
                        .filter(|l| !l.is_empty()),
                );
                lines
            });
        let mcp_call = match (
            question.captures.get("server"),
            question.captures.get("tool"),
        ) {
            (Some(server), Some(tool)) => Some(McpCall {
                server: server.clone(),
                tool: tool.clone(),
            }),
            _ => None,
        };
        Some(Approval {
            prompt: self.lines()[question.line].trim().to_string(),
            question: Some(question.rule),
            menu,
            mcp_call,
            command,
        })
    }

    /// A menu with a highlighted option and an enter/esc footer at the bottom that no rule
    /// knows: a prompt Codex added after these rules were written. Never answered on its own.
    fn unrecognised_menu(&self) -> Option<Approval<'a>> {
        let menus = self.book().menus();
        let first = (0..self.lines().len()).rev().find(|&i| {
            menus
                .option(&self.lines()[i], i)
                .is_some_and(|o| o.number == 1)
        })?;
        let menu = menus.below(self.lines(), first)?;
        if menu.highlighted().is_none() || !self.view.footer_below(&menu) {
            return None;
        }
        Some(Approval {
            question: None,
            prompt: self.view.prompt_above(first),
            menu,
            mcp_call: None,
            command: None,
        })
    }

    /// The live status line of a running turn and, when the turn is retrying a failed request,
    /// the API error its block shows.
    fn live_status(&self) -> Option<(&'a Rule, Option<&'a Rule>)> {
        let status = self.book().last_line("busy", self.lines())?;
        let end = self
            .composer
            .filter(|&c| c > status.line)
            .unwrap_or(self.lines().len());
        let error = self
            .book()
            .first_rule("api_error", &self.lines()[status.line..end]);
        Some((status.rule, error.map(|e| e.rule)))
    }

    /// Messages queued above the composer for the turn in flight.
    fn queued_input(&self) -> Option<LineMatch<'a>> {
        let composer = self.composer?;
        self.book()
            .last_line("queued_input", &self.lines()[..composer])
    }

    /// The provider API error that ended the last turn: the last block above the composer when
    /// it is a `■` line other than an interruption. Its class and the rule that named it: an
    /// `api_error` rule, else the `ended_error` rule with class `other`; and when the limit
    /// resets, if the line says (the rule's `reset` capture).
    fn ended_error(&self) -> Option<(ApiErrorClass, &'a Rule, Option<String>)> {
        let composer = self.composer?;
        let line = &self.lines()[self.view.last_block(composer)?];
        if self.first_in("turn_interrupted", line).is_some() {
            return None;
        }
        let ended = self.first_in("ended_error", line)?;
        Some(
            match self
                .book()
                .first_rule("api_error", std::slice::from_ref(line))
            {
                Some(error) => (
                    class_of(error.rule),
                    error.rule,
                    error.captures.get("reset").cloned(),
                ),
                None => (ApiErrorClass::Other, ended, None),
            },
        )
    }

    fn loading(&self) -> Option<&'a Rule> {
        self.book()
            .last_line("loading", self.lines())
            .or_else(|| self.book().last_line("composer_loading", self.lines()))
            .map(|m| m.rule)
    }

    fn only_logo(&self) -> Option<&'a Rule> {
        let first = self.first_in("logo", self.lines().first()?)?;
        self.lines()
            .iter()
            .all(|l| self.first_in("logo", l).is_some())
            .then_some(first)
    }
}

fn is_option(view: &View<'_>, line: &str) -> bool {
    view.book().menus().is_option(line)
}

impl CliScreen for CodexCli {
    /// What the composer holds: its `›` line and the indented lines under it, up to the model/cwd
    /// status line; empty when it shows only its placeholder. `Ctrl-U` clears a line (twice for a
    /// line break).
    fn input_box(&self, book: &RuleBook, capture: &str) -> Option<InputBox> {
        let view = CodexView::read(book, capture);
        let composer = view.composer?;
        let end = view.lines()[composer + 1..]
            .iter()
            .position(|l| view.first_in("composer_ready", l).is_some())
            .map_or(view.lines().len(), |at| composer + 1 + at);
        Some(view.view.input_box(composer, end, '›'))
    }

    /// The approval prompt that is the active element: a known question, else a menu no rule knows.
    fn approval<'a>(&self, book: &'a RuleBook, capture: &str) -> Option<Approval<'a>> {
        let view = CodexView::read(book, capture);
        view.approval().or_else(|| view.unrecognised_menu())
    }

    /// What to do about the screen of a Codex that is starting.
    fn startup(&self, book: &RuleBook, capture: &str) -> Verdict<StartupDecision> {
        let view = CodexView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, StartupDecision::Waiting, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            let line = &view.after_composer()[exit.line];
            return verdict(book, blocked(exit.rule, line), &exit.rule.label());
        }
        if let Some(dialog) = view.trust() {
            return dialog.answer(book, "trust_accept", "trust_folder", CodexCli::CLI);
        }
        if let Some(dialog) = view.update_offer() {
            return dialog.answer(book, "update_skip", "update_offer", CodexCli::CLI);
        }
        if let Some(found) = view.needs_human() {
            let line = &view.after_composer()[found.line];
            return verdict(book, blocked(found.rule, line), &found.rule.label());
        }
        if let Some(overlay) = view.overlay() {
            let decision = StartupDecision::Answer {
                prompt: overlay.rule.name().to_string(),
                keys: overlay.rule.keys().to_vec(),
            };
            return verdict(book, decision, &overlay.rule.label());
        }
        if let Some((_, rule)) = view.ready_composer() {
            return verdict(book, StartupDecision::Ready, &rule.label());
        }
        if let Some(rule) = view.loading().or_else(|| view.only_logo()) {
            return verdict(book, StartupDecision::Waiting, &rule.label());
        }
        verdict(book, StartupDecision::Waiting, "no_rule_matched")
    }

    /// What a running Codex's screen shows.
    fn classify(&self, book: &RuleBook, capture: &str) -> Verdict<ScreenState> {
        let view = CodexView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, ScreenState::Unknown, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            return verdict(book, ScreenState::Exited, &exit.rule.label());
        }
        if let Some(dialog) = view.trust() {
            return verdict(
                book,
                ScreenState::TrustPrompt,
                &dialog.question.rule.label(),
            );
        }
        if let Some(approval) = view.approval() {
            let rule = approval.rule();
            let state = ScreenState::AwaitingApproval {
                prompt: approval.prompt,
            };
            return verdict(book, state, &rule);
        }
        if let Some((status, error)) = view.live_status() {
            return running_turn(book, status, error);
        }
        if let Some(queued) = view.queued_input() {
            return verdict(book, ScreenState::Busy, &queued.rule.label());
        }
        if let Some((class, rule, reset)) = view.ended_error() {
            return verdict(
                book,
                ScreenState::ApiError {
                    class,
                    ended: true,
                    reset,
                },
                &rule.label(),
            );
        }
        if let Some(approval) = view.unrecognised_menu() {
            let state = ScreenState::AwaitingApproval {
                prompt: approval.prompt,
            };
            return verdict(book, state, "unrecognised_menu");
        }
        let unknown = view
            .needs_human()
            .map(|m| m.rule)
            .or_else(|| view.update_offer().map(|d| d.question.rule))
            .or_else(|| view.overlay().map(|m| m.rule));
        if let Some(rule) = unknown {
            return verdict(book, ScreenState::Unknown, &rule.label());
        }
        if let Some((composer, rule)) = view.ready_composer() {
            if view.submitted_message_above(composer) {
                return verdict(book, ScreenState::Busy, "submitted_message");
            }
            if let Some(streaming) = view.reply_streaming(composer) {
                return verdict(book, ScreenState::Busy, &streaming.label());
            }
            return verdict(book, ScreenState::Idle, &rule.label());
        }
        if let Some(rule) = view.loading() {
            return verdict(book, ScreenState::Unknown, &rule.label());
        }
        verdict(book, ScreenState::Unknown, "no_rule_matched")
    }

    /// As Codex's own prompt names it: the tool, then its server.
    fn tool_call(&self, call: &McpCall) -> String {
        format!("tool \"{}\" of MCP server \"{}\"", call.tool, call.server)
    }
}
