/*! A capture as a provider's rules see it, and the answers every rules-driven provider builds from
what it finds the same way.

Which element of a CLI's screen is the active one (an input box between two rules, a composer
line, a dialog below it) is the CLI's own shape, so each provider reads that with its own code
over a [`View`]. What a found element means is shared: a dialog is answered by moving to the
option its accept rules name ([`Dialog::answer`]), a rule that blocks says why and where
([`blocked`]), a running turn is busy or retrying an API error ([`running_turn`]), an input box
holds the text between its prompt glyph and its end ([`View::input_box`]), and every verdict
names its rule with what became of the user's rules ([`verdict`]).
*/

use team_agent_plugin_api::{InputBox, ScreenState, StartupDecision, Verdict};

use crate::checks::class_of;
use crate::menu::Menu;
use crate::rules::{LineMatch, Rule, RuleBook};

/// The bottom of a capture, normalised by the book's settings, with the book to ask about it.
pub struct View<'a> {
    book: &'a RuleBook,
    lines: Vec<String>,
}

impl<'a> View<'a> {
    pub fn read(book: &'a RuleBook, capture: &str) -> Self {
        Self {
            book,
            lines: book.read_screen(capture).lines().to_vec(),
        }
    }

    pub fn book(&self) -> &'a RuleBook {
        self.book
    }

    /// Top to bottom, without blank lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The first rule of `group` (in order) that matches `line`.
    pub fn rule(&self, group: &str, line: &str) -> Option<&'a Rule> {
        self.book.group(group).iter().find(|r| r.is_match(line))
    }

    /// The dialog whose question a rule of `group` knows on `lines[from..]` (its bottom-most
    /// one), with the first menu below it: `numbered` or any (a list without numbers too).
    pub fn dialog(&self, group: &str, from: usize, numbered_only: bool) -> Option<Dialog<'a>> {
        let question = self.book.last_line(group, &self.lines[from..])?;
        let question = LineMatch {
            line: question.line + from,
            ..question
        };
        let menus = self.book.menus();
        let below = question.line + 1;
        let menu = if numbered_only {
            menus.below(&self.lines, below)
        } else {
            menus.any_below(&self.lines, below)
        };
        Some(Dialog { question, menu })
    }

    /// An `approval_footer` rule matches a line below the menu's last option: the menu waits for
    /// an answer.
    pub fn footer_below(&self, menu: &Menu) -> bool {
        let last = menu.options().last().map_or(0, |o| o.line);
        self.book
            .first_rule("approval_footer", &self.lines[last + 1..])
            .is_some()
    }

    /// What a menu no rule knows asks: the nearest line above its first option (at `first`)
    /// that is not drawn like an option.
    pub fn prompt_above(&self, first: usize) -> String {
        let menus = self.book.menus();
        self.lines[..first]
            .iter()
            .rev()
            .find(|l| !menus.is_option(l))
            .map_or_else(String::new, |l| l.trim().to_string())
    }

    /// Where the last block drawn above `end` starts: the bottom-most line in column 0 (wrapped
    /// lines and details are indented).
    pub fn last_block(&self, end: usize) -> Option<usize> {
        self.lines[..end]
            .iter()
            .rposition(|l| l.chars().next().is_some_and(|c| !c.is_whitespace()))
    }

    /// What an input box drawn on `lines[start..end]` holds: its first line without the `prompt`
    /// glyph, the lines under it without their two-space indent; empty when that is only a
    /// placeholder (an `input_placeholder` rule). `Ctrl-U` clears a line.
    pub fn input_box(&self, start: usize, end: usize, prompt: char) -> InputBox {
        let text: Vec<&str> = self.lines[start..end]
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let line = if i == 0 {
                    line.trim_start_matches(prompt).trim_start()
                } else {
                    line.strip_prefix("  ").unwrap_or(line)
                };
                line.trim_end()
            })
            .collect();
        let text = text.join("\n").trim().to_string();
        let placeholder = self.rule("input_placeholder", &text).is_some();
        InputBox {
            text: if placeholder { String::new() } else { text },
            clear_keys: vec!["C-u".into()],
        }
    }
}

/// A dialog's question and the menu drawn below it (not drawn yet: `None`).
pub struct Dialog<'a> {
    pub question: LineMatch<'a>,
    pub menu: Option<Menu>,
}

impl Dialog<'_> {
    /// Answers the dialog as `prompt` by moving to the option a rule of `accept_group` knows;
    /// waiting while its options are not drawn yet, blocked when it has no such option or no
    /// highlighted one to move from. `cli` names the CLI for the operator.
    pub fn answer(
        self,
        book: &RuleBook,
        accept_group: &str,
        prompt: &str,
        cli: &str,
    ) -> Verdict<StartupDecision> {
        let rule = self.question.rule.label();
        let Some(menu) = self.menu else {
            return verdict(book, StartupDecision::Waiting, &rule);
        };
        let accept = menu.find(|label| book.group(accept_group).iter().any(|r| r.is_match(label)));
        let decision = match accept.and_then(|option| menu.keys_to(option.number)) {
            Some(keys) => StartupDecision::Answer {
                prompt: prompt.to_string(),
                keys,
            },
            None => StartupDecision::Blocked {
                reason: format!(
                    "{cli} shows a {prompt} dialog without a highlighted option or an option the rules '{accept_group}' recognise"
                ),
            },
        };
        verdict(book, decision, &rule)
    }
}

/// A verdict decided by the rule labelled `rule`, its label saying when the user's rules were
/// not applied (see [`RuleBook::label`]).
pub fn verdict<T>(book: &RuleBook, value: T, rule: &str) -> Verdict<T> {
    Verdict::by_rule(value, book.label(rule))
}

/// Blocked because `rule` matched `line`: the rule's reason (its name without one) and the line
/// as shown.
pub fn blocked(rule: &Rule, line: &str) -> StartupDecision {
    StartupDecision::Blocked {
        reason: format!("{} ({})", rule.reason().unwrap_or(rule.name()), line.trim()),
    }
}

/// A turn in progress, by the rule that says so: busy, or retrying a request the `api_error`
/// rule `error` classifies.
pub fn running_turn(book: &RuleBook, status: &Rule, error: Option<&Rule>) -> Verdict<ScreenState> {
    match error {
        Some(error) => verdict(
            book,
            ScreenState::ApiError {
                class: class_of(error),
                ended: false,
                reset: None,
            },
            &error.label(),
        ),
        None => verdict(book, ScreenState::Busy, &status.label()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
[[rules.trust_question]]
name = "trust_folder"
regex = ['Trust this folder\?']

[[rules.trust_accept]]
name = "trust_and_continue"
regex = ['^Trust and continue']

[[rules.input_placeholder]]
name = "ask"
regex = ['^Ask anything$']

[[rules.approval_footer]]
name = "esc_to_cancel"
contains = ['esc to cancel']
"#;

    fn book() -> RuleBook {
        RuleBook::parse(RULES).unwrap()
    }

    fn decision(screen: &str) -> StartupDecision {
        let book = book();
        let view = View::read(&book, screen);
        view.dialog("trust_question", 0, true)
            .unwrap()
            .answer(&book, "trust_accept", "trust_folder", "Some CLI")
            .value
    }

    #[test]
    fn a_dialog_is_answered_from_its_highlighted_option_or_waited_for_or_blocked() {
        assert_eq!(
            decision("Trust this folder?\n  1. Back\n› 2. Trust and continue\n"),
            StartupDecision::Answer {
                prompt: "trust_folder".into(),
                keys: vec!["Enter".into()]
            }
        );
        assert_eq!(decision("Trust this folder?\n"), StartupDecision::Waiting);
        assert_eq!(
            decision("Trust this folder?\n  1. Back\n  2. Trust and continue\n"),
            StartupDecision::Blocked {
                reason: "Some CLI shows a trust_folder dialog without a highlighted option or an option the rules 'trust_accept' recognise".into()
            }
        );
    }

    #[test]
    fn an_input_box_holds_its_lines_without_glyph_and_indent_and_a_placeholder_is_empty() {
        let book = book();
        let view = View::read(&book, "› first\n  second\nstatus\n");
        assert_eq!(view.input_box(0, 2, '›').text, "first\nsecond");
        let empty = View::read(&book, "› Ask anything\n");
        assert_eq!(empty.input_box(0, 1, '›').text, "");
    }

    #[test]
    fn blocks_footers_and_prompts_are_found_where_they_are_drawn() {
        let book = book();
        let view = View::read(
            &book,
            "• done\n  detail\nShall I?\n› 1. Yes\n  2. No\n  enter · esc to cancel\n",
        );
        let menu = book.menus().below(view.lines(), 0).unwrap();
        assert!(view.footer_below(&menu));
        assert_eq!(view.prompt_above(3), "Shall I?");
        assert_eq!(view.last_block(2), Some(0));
    }
}
