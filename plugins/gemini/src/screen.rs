/*! Reading Gemini CLI's pane: which element is active (a dialog, the input box, a running turn,
an exit message) and what that means while Gemini starts and while it works.

Gemini CLI 0.61.0 draws the session's history, then (while a turn runs) a spinner line
(`⠦ Thinking... (esc to cancel, 2s)`), then the input box: a horizontal rule, the mode line
(`Shift+Tab to accept edits`), the `>` line, and the footer (`workspace (/directory) … /model`).
Dialogs (folder trust, authentication, tool approvals) replace the input box: a rounded box
(`╭─╮`, `│ … │`, `╰─╯`) with a question and a numbered menu whose highlighted option is marked
`●`. The box's frames are taken off every line before the rules see it, so a menu option reads
`● 1. Allow once` wherever it is drawn. The texts are rules of the book; this module owns the
shapes: what must be where for an element to be the active one.
*/

use team_agent_plugin_api::{InputBox, ScreenState, StartupDecision, Verdict};
use team_agent_provider_kit::{
    AgentCli, Approval, CliScreen, Dialog, LineMatch, McpCall, Menu, Rule, RuleBook, View, blocked,
    class_of, running_turn, strip_ansi, verdict,
};

use crate::GeminiCli;

/// How many lines above the input box's rule a spinner line may be.
const STATUS_LINES: usize = 2;

/// Characters of a raw line (escape sequences included) read at most.
const MAX_RAW_CHARS: usize = 8000;

/// A capture as the rules see it, with Gemini's input box found on it.
struct GeminiView<'a> {
    view: View<'a>,
    input: Option<InputArea>,
}

/// Where the bottom-most input box is: its rule, its `>` line, and the line after its text (the
/// footer, or the end).
#[derive(Clone, Copy)]
struct InputArea {
    rule: usize,
    prompt: usize,
    end: usize,
}

impl<'a> GeminiView<'a> {
    fn read(book: &'a RuleBook, capture: &str) -> Self {
        let view = View::read(book, &unframed(book, capture));
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
    /// screen that replaced Gemini's main screen, must be to count.
    fn after_input(&self) -> &[String] {
        match self.input {
            Some(input) => &self.lines()[input.end..],
            None => self.lines(),
        }
    }

    /// Where a dialog must start to be the active element: below the input box, if one is drawn.
    fn dialog_floor(&self) -> usize {
        self.input.map_or(0, |input| input.end)
    }

    fn exit(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("exited", self.after_input())
    }

    fn needs_human(&self) -> Option<LineMatch<'a>> {
        self.book().first_rule("needs_human", self.after_input())
    }

    fn dialog(&self, group: &str) -> Option<Dialog<'a>> {
        self.view.dialog(group, self.dialog_floor(), true)
    }

    /// The menu waits for an answer: one of its options cancels with Esc.
    fn cancellable(&self, menu: &Menu) -> bool {
        menu.options().iter().any(|o| {
            self.view
                .rule("approval_footer", &self.lines()[o.line])
                .is_some()
        })
    }

    /// A tool approval: a question a rule knows, its menu, and what it asks about.
    fn approval(&self) -> Option<Approval<'a>> {
        let dialog = self.dialog("approval_question")?;
        let menu = dialog.menu.filter(|menu| self.cancellable(menu))?;
        let question = dialog.question;
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
            mcp_call,
            command: self.command_above(question.line),
            question: Some(question.rule),
            menu,
        })
    }

    /// A menu with a highlighted option and an `(esc)` option that no rule knows: a prompt
    /// Gemini added after these rules were written. Never answered on its own.
    fn unrecognised_menu(&self) -> Option<Approval<'a>> {
        let menu = self
            .book()
            .menus()
            .below(self.lines(), self.dialog_floor())?;
        let first = menu.options().first()?.line;
        (menu.highlighted().is_some() && self.cancellable(&menu)).then(|| Approval {
            question: None,
            prompt: self.view.prompt_above(first),
            menu,
            mcp_call: None,
            command: None,
        })
    }

    /// The shell command an approval question at `question` asks about: the lines of the inner
    /// box under the `? Shell` title, or the title's own text when no box is drawn.
    fn command_above(&self, question: usize) -> Option<Vec<String>> {
        let lines = &self.lines()[self.dialog_floor()..question];
        let title = self.book().last_line("approval_command", lines)?;
        let below = &lines[title.line + 1..];
        let open = below.iter().position(|l| l.trim_start().starts_with('╭'));
        let close = below.iter().position(|l| l.trim_start().starts_with('╰'));
        match (open, close) {
            (Some(open), Some(close)) if open < close => Some(
                below[open + 1..close]
                    .iter()
                    .map(|l| l.trim().to_string())
                    .collect(),
            ),
            _ => title.captures.get("command").map(|c| vec![c.clone()]),
        }
    }

    /// A running turn: the spinner line right above the input box, and the API error when the
    /// turn is retrying a request.
    fn live_status(&self) -> Option<(&'a Rule, Option<&'a Rule>)> {
        let input = self.input?;
        let above = &self.lines()[input.rule.saturating_sub(STATUS_LINES)..input.rule];
        let status = self.book().first_rule("busy", above)?.rule;
        let retry = self.book().last_line("api_retry", above);
        let error = retry.and_then(|retry| {
            self.book()
                .first_rule("api_error", std::slice::from_ref(&above[retry.line]))
        });
        Some((status, error.map(|e| e.rule)))
    }

    /// After a failed turn, the provider API error that ended it: the last block drawn above
    /// the input box when it is Gemini's `✕ [API Error: …]` message.
    fn ended_error(&self) -> Option<LineMatch<'a>> {
        let input = self.input?;
        let lines = &self.lines()[..input.rule];
        let error = lines
            .iter()
            .rposition(|l| self.view.rule("ended_error", l).is_some())?;
        // Only the newest block counts: no prompt or reply of a later turn below it.
        let later = lines[error + 1..]
            .iter()
            .any(|l| l.starts_with(" > ") || l.starts_with('✦'));
        if later {
            return None;
        }
        self.book()
            .first_rule("api_error", std::slice::from_ref(&lines[error]))
    }

    /// The rule that says the input box is the active element.
    fn input_rule(&self) -> Option<&'a Rule> {
        let input = self.input?;
        self.view.rule("input_prompt", &self.lines()[input.prompt])
    }

    /// An input box with nothing drawn above it but the status line and startup warnings
    /// (`startup_noise` rules): Gemini's first frames, before it draws its banner, or (the launch
    /// plan hides the banner for a resume) a resumed session's history. A prompt taken then goes
    /// out without the resumed conversation (0.61.0 loads it a moment later), so such a box does
    /// not take input yet.
    fn bare_input_box(&self) -> bool {
        self.input.is_some_and(|input| {
            self.lines()[..input.rule]
                .iter()
                .all(|line| self.view.rule("startup_noise", line).is_some())
        })
    }

    /// Gemini says it is still loading a resumed session.
    fn resuming(&self) -> Option<&'a Rule> {
        let input = self.input?;
        self.book()
            .first_rule("resuming", &self.lines()[..input.rule])
            .map(|m| m.rule)
    }

    fn loading(&self) -> Option<&'a Rule> {
        self.book()
            .last_line("loading", self.lines())
            .map(|m| m.rule)
    }
}

/// The bottom of the capture (as many lines as the rules look at), without escape sequences and
/// without the frames of Gemini's boxes: `│` and the space after it at the start of a line, and
/// the space and `│` at its end, as often as nested.
fn unframed(book: &RuleBook, capture: &str) -> String {
    let wanted = book.screen_settings().bottom_lines;
    let mut kept: Vec<String> = Vec::new();
    for raw in capture.rsplit('\n') {
        if kept.len() >= wanted {
            break;
        }
        let line = unframed_line(raw);
        if !line.is_empty() {
            kept.push(line);
        }
    }
    kept.reverse();
    kept.join("\n")
}

fn unframed_line(raw: &str) -> String {
    // No pane is this wide: the rest of a longer line is noise, and not worth reading.
    let cut = raw
        .char_indices()
        .nth(MAX_RAW_CHARS)
        .map_or(raw.len(), |(at, _)| at);
    let mut line = strip_ansi(&raw[..cut]);
    line.truncate(line.trim_end().len());
    let mut text = line.as_str();
    while let Some(inner) = text.trim_start().strip_prefix('│') {
        text = inner.strip_prefix(' ').unwrap_or(inner);
    }
    while let Some(inner) = text.trim_end().strip_suffix('│') {
        text = inner;
    }
    text.trim_end().to_string()
}

/// The bottom-most `>` line (not a menu option) with a horizontal rule at most two lines above
/// it; its text runs to the footer, or to the end.
fn find_input_box(view: &View<'_>) -> Option<InputArea> {
    let lines = view.lines();
    let is_rule = |line: &str| view.rule("input_rule", line).is_some();
    let is_prompt = |line: &str| {
        view.rule("input_prompt", line).is_some() && !view.book().menus().is_option(line)
    };
    (1..lines.len()).rev().find_map(|prompt| {
        if !is_prompt(&lines[prompt]) {
            return None;
        }
        let rule = (prompt.saturating_sub(2)..prompt)
            .rev()
            .find(|&i| is_rule(&lines[i]))?;
        let end = (prompt + 1..lines.len())
            .find(|&i| view.rule("input_footer", &lines[i]).is_some())
            .unwrap_or(lines.len());
        Some(InputArea { rule, prompt, end })
    })
}

impl CliScreen for GeminiCli {
    /// What the input box holds: the lines from the `>` line to the footer, without the prompt;
    /// empty when it shows only its placeholder.
    fn input_box(&self, book: &RuleBook, capture: &str) -> Option<InputBox> {
        let view = GeminiView::read(book, capture);
        let input = view.input?;
        let lines = &view.lines()[input.prompt..input.end];
        let text: Vec<&str> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| match i {
                0 => line.trim_start().trim_start_matches('>').trim(),
                _ => line.trim(),
            })
            .collect();
        let text = text.join("\n").trim().to_string();
        let placeholder = view.view.rule("input_placeholder", &text).is_some();
        Some(InputBox {
            text: if placeholder { String::new() } else { text },
            clear_keys: vec!["C-u".into()],
        })
    }

    /// The approval prompt that is the active element: a known question, else a menu no rule knows.
    fn approval<'a>(&self, book: &'a RuleBook, capture: &str) -> Option<Approval<'a>> {
        let view = GeminiView::read(book, capture);
        view.approval().or_else(|| view.unrecognised_menu())
    }

    /// What to do about the screen of a Gemini CLI that is starting.
    fn startup(&self, book: &RuleBook, capture: &str) -> Verdict<StartupDecision> {
        let view = GeminiView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, StartupDecision::Waiting, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            let line = &view.after_input()[exit.line];
            return verdict(book, blocked(exit.rule, line), &exit.rule.label());
        }
        if let Some(dialog) = view.dialog("trust_question") {
            return dialog.answer(book, "trust_accept", "folder_trust", GeminiCli::CLI);
        }
        if let Some(found) = view.needs_human() {
            let line = &view.after_input()[found.line];
            return verdict(book, blocked(found.rule, line), &found.rule.label());
        }
        if let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) {
            let reason = match approval.question {
                Some(_) => format!("Gemini CLI waits for an answer to \"{}\"", approval.prompt),
                None => format!(
                    "Gemini CLI shows a dialog the rules do not know: \"{}\"",
                    approval.prompt
                ),
            };
            return verdict(book, StartupDecision::Blocked { reason }, &approval.rule());
        }
        if let Some(rule) = view.resuming() {
            return verdict(book, StartupDecision::Waiting, &rule.label());
        }
        if view.bare_input_box() {
            return verdict(book, StartupDecision::Waiting, "bare_input_box");
        }
        if let Some(rule) = view.input_rule() {
            return verdict(book, StartupDecision::Ready, &rule.label());
        }
        if let Some(rule) = view.loading() {
            return verdict(book, StartupDecision::Waiting, &rule.label());
        }
        verdict(book, StartupDecision::Waiting, "no_rule_matched")
    }

    /// What a running Gemini CLI's screen shows.
    fn classify(&self, book: &RuleBook, capture: &str) -> Verdict<ScreenState> {
        let view = GeminiView::read(book, capture);
        if view.view.is_empty() {
            return verdict(book, ScreenState::Unknown, "empty_screen");
        }
        if let Some(exit) = view.exit() {
            return verdict(book, ScreenState::Exited, &exit.rule.label());
        }
        if let Some(dialog) = view.dialog("trust_question") {
            let rule = dialog.question.rule.label();
            return verdict(book, ScreenState::TrustPrompt, &rule);
        }
        if let Some(found) = view.needs_human() {
            return verdict(book, ScreenState::Unknown, &found.rule.label());
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
            let state = ScreenState::ApiError {
                class: class_of(error.rule),
                ended: true,
                reset: None,
            };
            return verdict(book, state, &error.rule.label());
        }
        if let Some(rule) = view.resuming() {
            return verdict(book, ScreenState::Unknown, &rule.label());
        }
        if view.bare_input_box() {
            return verdict(book, ScreenState::Unknown, "bare_input_box");
        }
        if let Some(rule) = view.input_rule() {
            return verdict(book, ScreenState::Idle, &rule.label());
        }
        if let Some(rule) = view.loading() {
            return verdict(book, ScreenState::Unknown, &rule.label());
        }
        verdict(book, ScreenState::Unknown, "no_rule_matched")
    }

    /// Gemini's name for a tool of an MCP server, as its policies write it.
    fn tool_call(&self, call: &McpCall) -> String {
        format!("mcp_{}_{}", call.server, call.tool)
    }
}
