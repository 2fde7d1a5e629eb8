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

use team_agent_plugin_api::{ScreenState, StartupDecision, Verdict};
use team_agent_provider_kit::{LineMatch, Menu, Rule, RuleBook, class_of};

/// A capture as the rules see it.
pub struct View<'a> {
    book: &'a RuleBook,
    lines: Vec<String>,
    input: Option<InputBox>,
}

/// Where the bottom-most input box is: its upper rule, its `❯` line, its lower rule.
#[derive(Clone, Copy)]
struct InputBox {
    top: usize,
    prompt: usize,
    bottom: usize,
}

/// A dialog's question and the menu drawn below it (not yet drawn: `None`).
pub struct Dialog<'a> {
    pub question: LineMatch<'a>,
    pub menu: Option<Menu>,
}

/// A call to an MCP tool an approval prompt asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCall {
    pub server: String,
    pub tool: String,
}

/// A prompt waiting for an answer: a tool approval, or the custom API key question.
pub struct Approval<'a> {
    /// The question's rule; `None` when only the prompt's shape was recognised.
    pub question: Option<&'a Rule>,
    /// The question line as shown.
    pub prompt: String,
    pub menu: Menu,
    /// The MCP tool call it asks about, when it is one.
    pub mcp_call: Option<McpCall>,
    /// The shell command it asks to run, as drawn (one entry per screen line), when it is one.
    pub command: Option<Vec<String>>,
}

impl<'a> View<'a> {
    pub fn read(book: &'a RuleBook, capture: &str) -> Self {
        let lines = book.read_screen(capture).lines().to_vec();
        let input = find_input_box(book, &lines);
        Self { book, lines, input }
    }

    fn matches(&self, group: &str, line: &str) -> Option<&'a Rule> {
        self.book.group(group).iter().find(|r| r.is_match(line))
    }

    /// Lines below the input box (all of them when there is none): where an exit message, or a
    /// screen that replaced Claude's main screen, must be to count.
    fn after_input(&self) -> &[String] {
        match self.input {
            Some(input) => &self.lines[input.bottom + 1..],
            None => &self.lines,
        }
    }

    /// Where a dialog must start to be the active element: below the input box, if one is drawn.
    fn dialog_floor(&self) -> usize {
        self.input.map_or(0, |input| input.bottom + 1)
    }

    fn exit(&self) -> Option<LineMatch<'a>> {
        self.book.first_rule("exited", self.after_input())
    }

    fn needs_human(&self) -> Option<LineMatch<'a>> {
        self.book.first_rule("needs_human", self.after_input())
    }

    /// The footer of the input box says Claude cannot answer: nobody is logged in.
    fn needs_login(&self) -> Option<LineMatch<'a>> {
        self.input?;
        self.book.first_rule("needs_login", self.after_input())
    }

    /// The dialog whose question a rule of `group` knows, when it is the active element.
    pub fn dialog(&self, group: &str) -> Option<Dialog<'a>> {
        let floor = self.dialog_floor();
        let question = self.book.last_line(group, &self.lines[floor..])?;
        let question = LineMatch {
            line: question.line + floor,
            ..question
        };
        let menu = self.book.menus().any_below(&self.lines, question.line + 1);
        Some(Dialog { question, menu })
    }

    /// A tool approval or the API key question, with its menu and the footer below the menu.
    pub fn approval(&self) -> Option<Approval<'a>> {
        ["approval_question", "api_key_question"]
            .iter()
            .filter_map(|group| self.dialog(group))
            .filter_map(|dialog| {
                let menu = dialog.menu?;
                self.footer_below(&menu).then_some((dialog.question, menu))
            })
            .max_by_key(|(question, _)| question.line)
            .map(|(question, menu)| Approval {
                prompt: self.lines[question.line].trim().to_string(),
                mcp_call: self.mcp_call_above(question.line),
                command: self.command_above(question.line),
                question: Some(question.rule),
                menu,
            })
    }

    /// A menu with a highlighted option and an `Esc to cancel` footer that no rule knows: a
    /// prompt Claude added after these rules were written. Never answered on its own.
    pub fn unrecognised_menu(&self) -> Option<Approval<'a>> {
        let menus = self.book.menus();
        let mut from = self.dialog_floor();
        while let Some(menu) = menus.any_below(&self.lines, from) {
            let first = menu.options().first().map_or(from, |o| o.line);
            if menu.highlighted().is_some() && self.footer_below(&menu) {
                let prompt = self.lines[..first]
                    .iter()
                    .rev()
                    .find(|l| !menus.is_option(l))
                    .map_or_else(String::new, |l| l.trim().to_string());
                return Some(Approval {
                    question: None,
                    prompt,
                    menu,
                    mcp_call: None,
                    command: None,
                });
            }
            from = menu
                .options()
                .last()
                .map_or(self.lines.len(), |o| o.line + 1);
        }
        None
    }

    fn footer_below(&self, menu: &Menu) -> bool {
        let last = menu.options().last().map_or(0, |o| o.line);
        self.book
            .first_rule("approval_footer", &self.lines[last + 1..])
            .is_some()
    }

    /// The shell command an approval question at `question` asks about: in its dialog, under
    /// the `Bash command` title, the lines between the two dashed frames right above it.
    fn command_above(&self, question: usize) -> Option<Vec<String>> {
        let top = self.lines[..question]
            .iter()
            .rposition(|l| self.matches("input_rule", l).is_some())
            .map_or(0, |rule| rule + 1);
        let dialog = &self.lines[top..question];
        let frames: Vec<usize> = dialog
            .iter()
            .enumerate()
            .filter(|(_, l)| self.matches("approval_command_frame", l).is_some())
            .map(|(i, _)| i)
            .collect();
        let [.., open, close] = frames.as_slice() else {
            return None;
        };
        let titled = dialog[..*open]
            .iter()
            .any(|l| self.matches("approval_command_title", l).is_some());
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
        let top = self.lines[..question]
            .iter()
            .rposition(|l| self.matches("input_rule", l).is_some())
            .map_or(0, |rule| rule + 1);
        let call = self
            .book
            .last_line("approval_tool", &self.lines[top..question])?;
        let line = top + call.line;
        let titled = line > top
            && self
                .matches("approval_tool_title", &self.lines[line - 1])
                .is_some();
        let from_mcp = self.lines[line..question]
            .iter()
            .any(|l| self.matches("approval_tool_suffix", l).is_some());
        (titled && from_mcp).then(|| McpCall {
            server: call.captures.get("server").cloned().unwrap_or_default(),
            tool: call.captures.get("tool").cloned().unwrap_or_default(),
        })
    }

    /// A running turn: what says so, and the API error when the turn is retrying a request.
    fn live_status(&self) -> Option<(&'a Rule, Option<LineMatch<'a>>)> {
        let input = self.input?;
        let above = &self.lines[input.top.saturating_sub(3)..input.top];
        let footer = self.book.first_rule("busy", self.after_input());
        let spinner = self.book.first_rule("busy", above);
        let status = footer.or(spinner)?.rule;
        let retry = self.book.last_line("api_retry", above);
        let error = retry.and_then(|retry| {
            self.book
                .first_rule("api_error", std::slice::from_ref(&above[retry.line]))
        });
        Some((status, error))
    }

    /// After a failed turn, the provider API error that ended it: the last block drawn above
    /// the input box (a line in column 0; wrapped lines are indented) when it is Claude's
    /// `API Error:` message.
    fn ended_error(&self) -> Option<LineMatch<'a>> {
        let input = self.input?;
        self.matches("failed_turn", &self.lines[input.prompt])?;
        let block = self.lines[..input.top]
            .iter()
            .rposition(|l| l.chars().next().is_some_and(|c| !c.is_whitespace()))?;
        self.matches("ended_error", &self.lines[block])?;
        self.book
            .first_rule("api_error", std::slice::from_ref(&self.lines[block]))
    }

    /// The rule that says the input box is the active element.
    fn input_rule(&self) -> Option<&'a Rule> {
        let input = self.input?;
        let prompt = &self.lines[input.prompt];
        self.matches("failed_turn", prompt)
            .or_else(|| self.matches("input_prompt", prompt))
    }

    fn loading(&self) -> Option<&'a Rule> {
        self.book.last_line("loading", &self.lines).map(|m| m.rule)
    }
}

/// The bottom-most `❯` line (not a menu option) with a rule right above it and a rule below it.
fn find_input_box(book: &RuleBook, lines: &[String]) -> Option<InputBox> {
    let is_rule = |line: &str| book.group("input_rule").iter().any(|r| r.is_match(line));
    let is_prompt = |line: &str| {
        book.group("input_prompt").iter().any(|r| r.is_match(line)) && !book.menus().is_option(line)
    };
    (1..lines.len()).rev().find_map(|prompt| {
        if !is_prompt(&lines[prompt]) || !is_rule(&lines[prompt - 1]) {
            return None;
        }
        let bottom = (prompt + 1..lines.len()).find(|&i| is_rule(&lines[i]))?;
        Some(InputBox {
            top: prompt - 1,
            prompt,
            bottom,
        })
    })
}

/// What the input box holds: the lines between its rules, without the `❯` prompt; empty when it
/// shows only a placeholder (an `input_placeholder` rule). `Ctrl-U` clears a line, or a folded
/// paste at once.
pub fn input_box(book: &RuleBook, capture: &str) -> Option<team_agent_plugin_api::InputBox> {
    let view = View::read(book, capture);
    let input = view.input?;
    let lines = &view.lines[input.prompt..input.bottom];
    let mut text: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = if i == 0 {
            line.trim_start_matches('❯').trim_start()
        } else {
            line.strip_prefix("  ").unwrap_or(line)
        };
        text.push(line.trim_end().to_string());
    }
    let text = text.join("\n").trim().to_string();
    let placeholder = view.matches("input_placeholder", &text).is_some();
    Some(team_agent_plugin_api::InputBox {
        text: if placeholder { String::new() } else { text },
        clear_keys: vec!["C-u".into()],
    })
}

/// What to do about the screen of a Claude Code that is starting.
pub fn startup(book: &RuleBook, capture: &str) -> Verdict<StartupDecision> {
    let view = View::read(book, capture);
    let verdict = |decision, rule: &str| Verdict::by_rule(decision, book.label(rule));
    let blocked = |rule: &Rule, line: &str| StartupDecision::Blocked {
        reason: format!("{} ({})", rule.reason().unwrap_or(rule.name()), line.trim()),
    };
    if view.lines.is_empty() {
        return verdict(StartupDecision::Waiting, "empty_screen");
    }
    if let Some(exit) = view.exit() {
        let line = &view.after_input()[exit.line];
        return verdict(blocked(exit.rule, line), &exit.rule.label());
    }
    let dialogs = [
        ("trust_question", "trust_accept", "workspace_trust"),
        ("bypass_question", "bypass_accept", "bypass_permissions"),
        ("api_key_question", "api_key_accept", "custom_api_key"),
    ];
    for (question, accept, prompt) in dialogs {
        if let Some(dialog) = view.dialog(question) {
            return answer_dialog(book, dialog, accept, prompt);
        }
    }
    if let Some(found) = view.needs_human() {
        let line = &view.after_input()[found.line];
        return verdict(blocked(found.rule, line), &found.rule.label());
    }
    if let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) {
        let (reason, rule) = match approval.question {
            Some(rule) => (
                format!("Claude Code waits for an answer to \"{}\"", approval.prompt),
                rule.label(),
            ),
            None => (
                format!(
                    "Claude Code shows a dialog the rules do not know: \"{}\"",
                    approval.prompt
                ),
                "unrecognised_menu".to_string(),
            ),
        };
        return verdict(StartupDecision::Blocked { reason }, &rule);
    }
    if let Some(rule) = view.input_rule() {
        if let Some(login) = view.needs_login() {
            let line = &view.after_input()[login.line];
            return verdict(blocked(login.rule, line), &login.rule.label());
        }
        return verdict(StartupDecision::Ready, &rule.label());
    }
    if let Some(rule) = view.loading() {
        return verdict(StartupDecision::Waiting, &rule.label());
    }
    verdict(StartupDecision::Waiting, "no_rule_matched")
}

/// Answers a dialog by moving to the option `accept_group` names; blocked when the dialog has
/// no such option or no highlighted one to move from.
fn answer_dialog(
    book: &RuleBook,
    dialog: Dialog<'_>,
    accept_group: &str,
    prompt: &str,
) -> Verdict<StartupDecision> {
    let rule = dialog.question.rule.label();
    let Some(menu) = dialog.menu else {
        // The question is drawn, its options not yet.
        return Verdict::by_rule(StartupDecision::Waiting, book.label(&rule));
    };
    let accept = menu.find(|label| book.group(accept_group).iter().any(|r| r.is_match(label)));
    let decision = match accept.and_then(|option| menu.keys_to(option.number)) {
        Some(keys) => StartupDecision::Answer {
            prompt: prompt.to_string(),
            keys,
        },
        None => StartupDecision::Blocked {
            reason: format!(
                "Claude Code shows a {prompt} dialog without a highlighted option or an option the rules '{accept_group}' recognise"
            ),
        },
    };
    Verdict::by_rule(decision, book.label(&rule))
}

/// What a running Claude Code's screen shows.
pub fn classify(book: &RuleBook, capture: &str) -> Verdict<ScreenState> {
    let view = View::read(book, capture);
    let verdict = |state, rule: &str| Verdict::by_rule(state, book.label(rule));
    if view.lines.is_empty() {
        return verdict(ScreenState::Unknown, "empty_screen");
    }
    if let Some(exit) = view.exit() {
        return verdict(ScreenState::Exited, &exit.rule.label());
    }
    // The bypass warning, like the trust dialog, must be answered before Claude takes input.
    for group in ["trust_question", "bypass_question"] {
        if let Some(dialog) = view.dialog(group) {
            return verdict(ScreenState::TrustPrompt, &dialog.question.rule.label());
        }
    }
    if let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) {
        let rule = approval
            .question
            .map_or_else(|| "unrecognised_menu".to_string(), Rule::label);
        let state = ScreenState::AwaitingApproval {
            prompt: approval.prompt,
        };
        return verdict(state, &rule);
    }
    if let Some((status, error)) = view.live_status() {
        return match error {
            Some(error) => verdict(
                ScreenState::ApiError {
                    class: class_of(error.rule),
                    ended: false,
                },
                &error.rule.label(),
            ),
            None => verdict(ScreenState::Busy, &status.label()),
        };
    }
    if let Some(error) = view.ended_error() {
        let class = class_of(error.rule);
        return verdict(
            ScreenState::ApiError { class, ended: true },
            &error.rule.label(),
        );
    }
    if let Some(found) = view.needs_human() {
        return verdict(ScreenState::Unknown, &found.rule.label());
    }
    if let Some(rule) = view.input_rule() {
        return verdict(ScreenState::Idle, &rule.label());
    }
    if let Some(rule) = view.loading() {
        return verdict(ScreenState::Unknown, &rule.label());
    }
    verdict(ScreenState::Unknown, "no_rule_matched")
}
