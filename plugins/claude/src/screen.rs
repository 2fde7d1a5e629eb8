/*! Reading Claude Code's pane: which element is active (a dialog, the input box, a running
turn, an exit message) and what that means while Claude starts and while it works.

Claude Code 2.1 draws the session's transcript, then (while a turn runs) a spinner line, then
the input box — a `❯` line between two horizontal rules — with the mode line and hints below it
(`⏵⏵ auto mode on (shift+tab to cycle) · esc to interrupt`). Dialogs (workspace trust, the
custom API key, the bypass warning, tool approvals) replace the input box: a question, a menu
(numbered in 2.1.197, a list without numbers in 2.1.330) and `Enter to confirm · Esc to cancel`.
The texts are rules of the book; this module owns the shapes: what must be where for an element
to be the active one.
*/

use team_agent_plugin_api::{InputBox, ScreenState, StartupDecision, Verdict};
use team_agent_provider_kit::{
    AgentCli, Approval, CliScreen, Dialog, LineMatch, McpCall, Rule, RuleBook, View, blocked,
    class_of, running_turn, verdict,
};

use crate::ClaudeCode;

/// A capture as the rules see it, with Claude's input box found on it.
struct ClaudeView<'a> {
    view: View<'a>,
    input: Option<InputArea>,
}

/// Where the bottom-most input box is: its upper rule, its `❯` line, its lower rule.
#[derive(Clone, Copy)]
struct InputArea {
    top: usize,
    prompt: usize,
    bottom: usize,
}

impl<'a> ClaudeView<'a> {
    fn read(book: &'a RuleBook, capture: &str) -> Self {
        let view = View::read(book, capture);
        let input = find_input_box(&view);
        Self { view, input }
    }

    fn lines(&self) -> &[String] {
        self.view.lines()
    }

    fn book(&self) -> &'a RuleBook {
        self.view.book()
    }

    /// Lines below the input box (all of them when there is none): where an exit message, or a
    /// screen that replaced Claude's main screen, must be to count.
    fn after_input(&self) -> &[String] {
        match self.input {
            Some(input) => &self.lines()[input.bottom + 1..],
            None => self.lines(),
        }
    }

    /// Where a dialog must start to be the active element: below the input box, if one is drawn.
    fn dialog_floor(&self) -> usize {
        self.input.map_or(0, |input| input.bottom + 1)
    }

    fn exit(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("exited", self.after_input())
    }

    fn needs_human(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("needs_human", self.after_input())
    }

    /// The footer of the input box says Claude cannot answer: nobody is logged in.
    fn needs_login(&self) -> Option<LineMatch<'a>> {
        self.input?;
        self.book().first_rule("needs_login", self.after_input())
    }

    /// The dialog whose question a rule of `group` knows, when it is the active element.
    fn dialog(&self, group: &str) -> Option<Dialog<'a>> {
        self.view.dialog(group, self.dialog_floor(), false)
    }

    /// A tool approval or the API key question, with its menu and the footer below the menu.
    fn approval(&self) -> Option<Approval<'a>> {
        ["approval_question", "api_key_question"]
            .iter()
            .filter_map(|group| self.dialog(group))
            .filter_map(|dialog| {
                let menu = dialog.menu?;
                self.view
                    .footer_below(&menu)
                    .then_some((dialog.question, menu))
            })
            .max_by_key(|(question, _)| question.line)
            .map(|(question, menu)| Approval {
                prompt: self.lines()[question.line].trim().to_string(),
                mcp_call: self.mcp_call_above(question.line),
                command: self.command_above(question.line),
                question: Some(question.rule),
                menu,
            })
    }

    /// A menu with a highlighted option and an `Esc to cancel` footer that no rule knows: a
    /// prompt Claude added after these rules were written. Never answered on its own.
    fn unrecognised_menu(&self) -> Option<Approval<'a>> {
        let menus = self.book().menus();
        let mut from = self.dialog_floor();
        while let Some(menu) = menus.any_below(self.lines(), from) {
            let first = menu.options().first().map_or(from, |o| o.line);
            if menu.highlighted().is_some() && self.view.footer_below(&menu) {
                return Some(Approval {
                    question: None,
                    prompt: self.view.prompt_above(first),
                    menu,
                    mcp_call: None,
                    command: None,
                });
            }
            from = menu
                .options()
                .last()
                .map_or(self.lines().len(), |o| o.line + 1);
        }
        None
    }

    /// Where the dialog of a question at `question` starts: below the last horizontal rule above
    /// it (the input box's, or the top).
    fn dialog_top(&self, question: usize) -> usize {
        self.lines()[..question]
            .iter()
            .rposition(|l| self.view.rule("input_rule", l).is_some())
            .map_or(0, |rule| rule + 1)
    }

    /// The shell command an approval question at `question` asks about: in its dialog, under
    /// the `Bash command` title, the lines between the two dashed frames right above it.
    fn command_above(&self, question: usize) -> Option<Vec<String>> {
        let dialog = &self.lines()[self.dialog_top(question)..question];
        let frames: Vec<usize> = dialog
            .iter()
            .enumerate()
            .filter(|(_, l)| self.view.rule("approval_command_frame", l).is_some())
            .map(|(i, _)| i)
            .collect();
        let [.., open, close] = frames.as_slice() else {
            return None;
        };
        let titled = dialog[..*open]
            .iter()
            .any(|l| self.view.rule("approval_command_title", l).is_some());
        titled.then(|| {
            dialog[open + 1..*close]
                .iter()
                .map(|l| l.trim().to_string())
                .collect()
        })
    }

    /// The MCP call an approval question at `question` asks about: a `server - tool(…)` line in
    /// its dialog, right under the `Tool use` title, whose arguments end with `(MCP)`. All three
    /// are required, so a shell command that merely looks like a tool call is never taken for one.
    fn mcp_call_above(&self, question: usize) -> Option<McpCall> {
        let top = self.dialog_top(question);
        let call = self
            .book()
            .last_line("approval_tool", &self.lines()[top..question])?;
        let line = top + call.line;
        let titled = line > top
            && self
                .view
                .rule("approval_tool_title", &self.lines()[line - 1])
                .is_some();
        let from_mcp = self.lines()[line..question]
            .iter()
            .any(|l| self.view.rule("approval_tool_suffix", l).is_some());
        (titled && from_mcp).then(|| McpCall {
            server: call.captures.get("server").cloned().unwrap_or_default(),
            tool: call.captures.get("tool").cloned().unwrap_or_default(),
        })
    }

    /// A running turn: what says so, and the API error when the turn is retrying a request.
    fn live_status(&self) -> Option<(&'a Rule, Option<&'a Rule>)> {
        let input = self.input?;
        let above = &self.lines()[input.top.saturating_sub(3)..input.top];
        let footer = self.book().first_rule("busy", self.after_input());
        let spinner = self.book().first_rule("busy", above);
        let status = footer.or(spinner)?.rule;
        let retry = self.book().last_line("api_retry", above);
        let error = retry.and_then(|retry| {
            self.book()
                .first_rule("api_error", std::slice::from_ref(&above[retry.line]))
        });
        Some((status, error.map(|e| e.rule)))
    }

    /// After a failed turn, the provider API error that ended it: the last block drawn above
    /// the input box when it is Claude's `API Error:` message.
    fn ended_error(&self) -> Option<LineMatch<'a>> {
        let input = self.input?;
        self.view.rule("failed_turn", &self.lines()[input.prompt])?;
        let block = self.view.last_block(input.top)?;
        self.view.rule("ended_error", &self.lines()[block])?;
        self.book()
            .first_rule("api_error", std::slice::from_ref(&self.lines()[block]))
    }

    /// The rule that says the input box is the active element.
    fn input_rule(&self) -> Option<&'a Rule> {
        let input = self.input?;
        let prompt = &self.lines()[input.prompt];
        self.view
            .rule("failed_turn", prompt)
            .or_else(|| self.view.rule("input_prompt", prompt))
    }

    fn loading(&self) -> Option<&'a Rule> {
        self.book()
            .last_line("loading", self.lines())
            .map(|m| m.rule)
    }
}

/// The bottom-most `❯` line (not a menu option) with a rule right above it and a rule below it.
fn find_input_box(view: &View<'_>) -> Option<InputArea> {
    let lines = view.lines();
    let is_rule = |line: &str| view.rule("input_rule", line).is_some();
    let is_prompt = |line: &str| {
        view.rule("input_prompt", line).is_some() && !view.book().menus().is_option(line)
    };
    (1..lines.len()).rev().find_map(|prompt| {
        if !is_prompt(&lines[prompt]) || !is_rule(&lines[prompt - 1]) {
            return None;
        }
        let bottom = (prompt + 1..lines.len()).find(|&i| is_rule(&lines[i]))?;
        Some(InputArea {
            top: prompt - 1,
            prompt,
            bottom,
        })
    })
}

impl CliScreen for ClaudeCode {
    /// What the input box holds: the lines between its rules, without the `❯` prompt; empty
    /// when it shows only a placeholder.
    fn input_box(&self, book: &RuleBook, capture: &str) -> Option<InputBox> {
        let view = ClaudeView::read(book, capture);
        let input = view.input?;
        Some(view.view.input_box(input.prompt, input.bottom, '❯'))
    }

    /// The approval prompt that is the active element: a known question, else a menu no rule knows.
    fn approval<'a>(&self, book: &'a RuleBook, capture: &str) -> Option<Approval<'a>> {
        let view = ClaudeView::read(book, capture);
        view.approval().or_else(|| view.unrecognised_menu())
    }

    /// What to do about the screen of a Claude Code that is starting.
    fn startup(&self, book: &RuleBook, capture: &str) -> Verdict<StartupDecision> {
        let view = ClaudeView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, StartupDecision::Waiting, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            let line = &view.after_input()[exit.line];
            return verdict(book, blocked(exit.rule, line), &exit.rule.label());
        }
        let dialogs = [
            ("trust_question", "trust_accept", "workspace_trust"),
            ("bypass_question", "bypass_accept", "bypass_permissions"),
            ("api_key_question", "api_key_accept", "custom_api_key"),
        ];
        for (question, accept, prompt) in dialogs {
            if let Some(dialog) = view.dialog(question) {
                return dialog.answer(book, accept, prompt, ClaudeCode::CLI);
            }
        }
        if let Some(found) = view.needs_human() {
            let line = &view.after_input()[found.line];
            return verdict(book, blocked(found.rule, line), &found.rule.label());
        }
        if let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) {
            let reason = match approval.question {
                Some(_) => format!("Claude Code waits for an answer to \"{}\"", approval.prompt),
                None => format!(
                    "Claude Code shows a dialog the rules do not know: \"{}\"",
                    approval.prompt
                ),
            };
            return verdict(book, StartupDecision::Blocked { reason }, &approval.rule());
        }
        if let Some(rule) = view.input_rule() {
            if let Some(login) = view.needs_login() {
                let line = &view.after_input()[login.line];
                return verdict(book, blocked(login.rule, line), &login.rule.label());
            }
            return verdict(book, StartupDecision::Ready, &rule.label());
        }
        if let Some(rule) = view.loading() {
            return verdict(book, StartupDecision::Waiting, &rule.label());
        }
        verdict(book, StartupDecision::Waiting, "no_rule_matched")
    }

    /// What a running Claude Code's screen shows.
    fn classify(&self, book: &RuleBook, capture: &str) -> Verdict<ScreenState> {
        let view = ClaudeView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, ScreenState::Unknown, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            return verdict(book, ScreenState::Exited, &exit.rule.label());
        }
        // The bypass warning, like the trust dialog, must be answered before Claude takes input.
        for group in ["trust_question", "bypass_question"] {
            if let Some(dialog) = view.dialog(group) {
                return verdict(
                    book,
                    ScreenState::TrustPrompt,
                    &dialog.question.rule.label(),
                );
            }
        }
        if let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) {
            let rule = approval.rule();
            let state = ScreenState::AwaitingApproval {
                prompt: approval.prompt,
            };
            return verdict(book, state, &rule);
        }
        if let Some((status, error)) = view.live_status() {
            return running_turn(book, status, error);
        }
        if let Some(error) = view.ended_error() {
            let class = class_of(error.rule);
            let reset = error.captures.get("reset").cloned();
            return verdict(
                book,
                ScreenState::ApiError {
                    class,
                    ended: true,
                    reset,
                },
                &error.rule.label(),
            );
        }
        if let Some(found) = view.needs_human() {
            return verdict(book, ScreenState::Unknown, &found.rule.label());
        }
        if let Some(rule) = view.input_rule() {
            return verdict(book, ScreenState::Idle, &rule.label());
        }
        if let Some(rule) = view.loading() {
            return verdict(book, ScreenState::Unknown, &rule.label());
        }
        verdict(book, ScreenState::Unknown, "no_rule_matched")
    }

    /// Claude's name for a tool of an MCP server, as its permission rules write it.
    fn tool_call(&self, call: &McpCall) -> String {
        format!("mcp__{}__{}", call.server, call.tool)
    }
}
