/*! Reading Codex's pane: which element is active (a dialog, the composer, the live status of a
turn, an exit message) and what that means while Codex starts and while it works.

Codex 0.169.0 draws in inline mode: the transcript of the session, then the live status block of
a running turn (`• Working (6s • esc to interrupt)` with `└ …` details), then the composer
(`› Ask Codex to do anything`) with the model/cwd line and the footer below it. Dialogs (trust,
login, approvals) replace the composer. The texts are rules of the book; this module owns the
shapes: what must be below what for an element to be the active one.
*/

use team_agent_plugin_api::{ApiErrorClass, ScreenState, StartupDecision, Verdict};
use team_agent_provider_kit::{LineMatch, Menu, Rule, RuleBook, class_of};

/// A capture as the rules see it.
pub struct View<'a> {
    book: &'a RuleBook,
    lines: Vec<String>,
    /// The last composer line; a menu option drawn with the same `›` is not one.
    composer: Option<usize>,
}

/// A dialog's question and the menu drawn below it.
struct Dialog<'a> {
    question: LineMatch<'a>,
    menu: Option<Menu>,
}

/// An approval prompt waiting for an answer.
pub struct Approval<'a> {
    /// The question's rule; `None` when only the prompt's shape was recognised.
    pub question: Option<LineMatch<'a>>,
    /// The question line as shown.
    pub prompt: String,
    pub menu: Menu,
    /// The shell command it asks to run, as drawn (one entry per screen line), when it is one.
    pub command: Option<Vec<String>>,
}

impl<'a> View<'a> {
    pub fn read(book: &'a RuleBook, capture: &str) -> Self {
        let lines = book.read_screen(capture).lines().to_vec();
        let composer = lines.iter().rposition(|line| {
            book.group("composer").iter().any(|r| r.is_match(line)) && !book.menus().is_option(line)
        });
        Self {
            book,
            lines,
            composer,
        }
    }

    fn first_in(&self, group: &str, line: &str) -> Option<&'a Rule> {
        self.book.group(group).iter().find(|r| r.is_match(line))
    }

    /// Lines below the composer (all of them when there is none): where an exit message or a
    /// screen that replaced Codex's main screen must be to count.
    fn after_composer(&self) -> &[String] {
        match self.composer {
            Some(at) => &self.lines[at + 1..],
            None => &self.lines,
        }
    }

    /// The composer with Codex fully up: its status line or footer below it.
    fn ready_composer(&self) -> Option<(usize, &'a Rule)> {
        let at = self.composer?;
        let below = &self.lines[at + 1..];
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
        if self.lines[composer].starts_with("› /") {
            return false;
        }
        let above = self.lines[..composer]
            .iter()
            .rev()
            .find(|line| !line.starts_with("  "));
        above.is_some_and(|line| {
            self.first_in("composer", line).is_some() && !self.book.menus().is_option(line)
        })
    }

    /// A reply still streaming in: after the last message the user sent, the last block is the
    /// model's (`• …`) and the line that closes a finished turn is not there yet.
    fn reply_streaming(&self, composer: usize) -> Option<&'a Rule> {
        let menus = self.book.menus();
        let prompt = self.lines[..composer].iter().rposition(|l| {
            self.first_in("composer", l).is_some() && !menus.is_option(l) && !l.starts_with("› /")
        })?;
        let turn = &self.lines[prompt + 1..composer];
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
        self.book.first_rule("exited", self.after_composer())
    }

    fn needs_human(&self) -> Option<LineMatch<'a>> {
        self.book.first_rule("needs_human", self.after_composer())
    }

    fn dialog(&self, group: &str) -> Option<Dialog<'a>> {
        let question = self.book.last_line(group, &self.lines)?;
        let menu = self.book.menus().below(&self.lines, question.line + 1);
        Some(Dialog { question, menu })
    }

    /// The trust dialog. It wins even with a composer drawn below it: Codex can pre-render its
    /// main screen under a trust menu that still takes the keys.
    fn trust(&self) -> Option<Dialog<'a>> {
        self.dialog("trust_question")
    }

    fn update_offer(&self) -> Option<Dialog<'a>> {
        self.dialog("update_offer")
            .filter(|d| d.question.line >= self.composer.unwrap_or(0))
    }

    fn overlay(&self) -> Option<LineMatch<'a>> {
        self.book
            .last_line("dismissable_overlay", self.after_composer())
    }

    /// A runtime approval prompt: a known question with a menu and the footer below it.
    pub fn approval(&self) -> Option<Approval<'a>> {
        let question = self.book.last_line("approval_question", &self.lines)?;
        let menu = self.book.menus().below(&self.lines, question.line + 1)?;
        if !self.footer_below(&menu) {
            return None;
        }
        let first_option = menu.options().first().map_or(self.lines.len(), |o| o.line);
        let asked = &self.lines[question.line + 1..first_option];
        let command = self
            .book
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
        Some(Approval {
            prompt: self.lines[question.line].trim().to_string(),
            question: Some(question),
            menu,
            command,
        })
    }

    /// A menu with a highlighted option and an enter/esc footer at the bottom that no rule
    /// knows: a prompt Codex added after these rules were written. Never answered on its own.
    pub fn unrecognised_menu(&self) -> Option<Approval<'a>> {
        let menus = self.book.menus();
        let first = (0..self.lines.len()).rev().find(|&i| {
            menus
                .option(&self.lines[i], i)
                .is_some_and(|o| o.number == 1)
        })?;
        let menu = menus.below(&self.lines, first)?;
        if menu.highlighted().is_none() || !self.footer_below(&menu) {
            return None;
        }
        let prompt = self.lines[..first]
            .iter()
            .rev()
            .find(|l| !menus.is_option(l))
            .map_or_else(String::new, |l| l.trim().to_string());
        Some(Approval {
            question: None,
            prompt,
            menu,
            command: None,
        })
    }

    fn footer_below(&self, menu: &Menu) -> bool {
        let last = menu.options().last().map_or(0, |o| o.line);
        self.book
            .first_rule("approval_footer", &self.lines[last + 1..])
            .is_some()
    }

    /// The live status line of a running turn and, when the turn is retrying a failed request,
    /// the API error its block shows.
    fn live_status(&self) -> Option<(LineMatch<'a>, Option<LineMatch<'a>>)> {
        let status = self.book.last_line("busy", &self.lines)?;
        let end = self
            .composer
            .filter(|&c| c > status.line)
            .unwrap_or(self.lines.len());
        let error = self
            .book
            .first_rule("api_error", &self.lines[status.line..end]);
        Some((status, error))
    }

    /// Messages queued above the composer for the turn in flight.
    fn queued_input(&self) -> Option<LineMatch<'a>> {
        let composer = self.composer?;
        self.book.last_line("queued_input", &self.lines[..composer])
    }

    /// The provider API error that ended the last turn: the last block above the composer (a line
    /// in column 0) when it is a `■` line other than an interruption. Its class and the rule that
    /// named it: an `api_error` rule, else the `ended_error` rule with class `other`.
    fn ended_error(&self) -> Option<(ApiErrorClass, &'a Rule)> {
        let composer = self.composer?;
        let block = self.lines[..composer]
            .iter()
            .rposition(|l| l.chars().next().is_some_and(|c| !c.is_whitespace()))?;
        let line = &self.lines[block];
        if self.first_in("turn_interrupted", line).is_some() {
            return None;
        }
        let ended = self.first_in("ended_error", line)?;
        Some(
            match self
                .book
                .first_rule("api_error", std::slice::from_ref(line))
            {
                Some(error) => (class_of(error.rule), error.rule),
                None => (ApiErrorClass::Other, ended),
            },
        )
    }

    fn loading(&self) -> Option<&'a Rule> {
        self.book
            .last_line("loading", &self.lines)
            .or_else(|| self.book.last_line("composer_loading", &self.lines))
            .map(|m| m.rule)
    }

    fn only_logo(&self) -> Option<&'a Rule> {
        let first = self.first_in("logo", self.lines.first()?)?;
        self.lines
            .iter()
            .all(|l| self.first_in("logo", l).is_some())
            .then_some(first)
    }
}

/// What the composer holds: its `›` line and the indented lines under it, up to the model/cwd
/// status line; empty when it shows only its placeholder (an `input_placeholder` rule).
/// `Ctrl-U` clears a line (twice for a line break).
pub fn input_box(book: &RuleBook, capture: &str) -> Option<team_agent_plugin_api::InputBox> {
    let view = View::read(book, capture);
    let composer = view.composer?;
    let end = view.lines[composer + 1..]
        .iter()
        .position(|l| view.first_in("composer_ready", l).is_some())
        .map_or(view.lines.len(), |at| composer + 1 + at);
    let mut text: Vec<String> = Vec::new();
    for (i, line) in view.lines[composer..end].iter().enumerate() {
        let line = if i == 0 {
            line.trim_start_matches('›').trim_start()
        } else {
            line.strip_prefix("  ").unwrap_or(line)
        };
        text.push(line.trim_end().to_string());
    }
    let text = text.join("\n").trim().to_string();
    let placeholder = view.first_in("input_placeholder", &text).is_some();
    Some(team_agent_plugin_api::InputBox {
        text: if placeholder { String::new() } else { text },
        clear_keys: vec!["C-u".into()],
    })
}

/// What to do about the screen of a Codex that is starting.
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
        let line = &view.after_composer()[exit.line];
        return verdict(blocked(exit.rule, line), &exit.rule.label());
    }
    if let Some(dialog) = view.trust() {
        return answer_dialog(book, dialog, "trust_accept", "trust_folder");
    }
    if let Some(dialog) = view.update_offer() {
        return answer_dialog(book, dialog, "update_skip", "update_offer");
    }
    if let Some(found) = view.needs_human() {
        let line = &view.after_composer()[found.line];
        return verdict(blocked(found.rule, line), &found.rule.label());
    }
    if let Some(overlay) = view.overlay() {
        let decision = StartupDecision::Answer {
            prompt: overlay.rule.name().to_string(),
            keys: overlay.rule.keys().to_vec(),
        };
        return verdict(decision, &overlay.rule.label());
    }
    if let Some((_, rule)) = view.ready_composer() {
        return verdict(StartupDecision::Ready, &rule.label());
    }
    if let Some(rule) = view.loading().or_else(|| view.only_logo()) {
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
    let keys = accept.and_then(|option| menu.keys_to(option.number));
    let decision = match keys {
        Some(keys) => StartupDecision::Answer {
            prompt: prompt.to_string(),
            keys,
        },
        None => StartupDecision::Blocked {
            reason: format!(
                "Codex shows a {prompt} dialog without a highlighted option or an option the rules '{accept_group}' recognise"
            ),
        },
    };
    Verdict::by_rule(decision, book.label(&rule))
}

/// What a running Codex's screen shows.
pub fn classify(book: &RuleBook, capture: &str) -> Verdict<ScreenState> {
    let view = View::read(book, capture);
    let verdict = |state, rule: &str| Verdict::by_rule(state, book.label(rule));
    if view.lines.is_empty() {
        return verdict(ScreenState::Unknown, "empty_screen");
    }
    if let Some(exit) = view.exit() {
        return verdict(ScreenState::Exited, &exit.rule.label());
    }
    if let Some(dialog) = view.trust() {
        return verdict(ScreenState::TrustPrompt, &dialog.question.rule.label());
    }
    if let Some(approval) = view.approval() {
        let rule = approval.question.as_ref().map(|q| q.rule.label());
        let state = ScreenState::AwaitingApproval {
            prompt: approval.prompt,
        };
        return verdict(state, rule.as_deref().unwrap_or("approval_prompt"));
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
            None => verdict(ScreenState::Busy, &status.rule.label()),
        };
    }
    if let Some(queued) = view.queued_input() {
        return verdict(ScreenState::Busy, &queued.rule.label());
    }
    if let Some((class, rule)) = view.ended_error() {
        return verdict(ScreenState::ApiError { class, ended: true }, &rule.label());
    }
    if let Some(approval) = view.unrecognised_menu() {
        let state = ScreenState::AwaitingApproval {
            prompt: approval.prompt,
        };
        return verdict(state, "unrecognised_menu");
    }
    let unknown = view
        .needs_human()
        .map(|m| m.rule)
        .or_else(|| view.update_offer().map(|d| d.question.rule))
        .or_else(|| view.overlay().map(|m| m.rule));
    if let Some(rule) = unknown {
        return verdict(ScreenState::Unknown, &rule.label());
    }
    if let Some((composer, rule)) = view.ready_composer() {
        if view.submitted_message_above(composer) {
            return verdict(ScreenState::Busy, "submitted_message");
        }
        if let Some(streaming) = view.reply_streaming(composer) {
            return verdict(ScreenState::Busy, &streaming.label());
        }
        return verdict(ScreenState::Idle, &rule.label());
    }
    if let Some(rule) = view.loading() {
        return verdict(ScreenState::Unknown, &rule.label());
    }
    verdict(ScreenState::Unknown, "no_rule_matched")
}
