/*! What every provider's answer to a runtime approval prompt is made of: the option an operator
named (a number, or `yes`, `always`, `no`), the option a rule group reads as (approve for the
session, approve once, deny), and whether a shell command is one the host's policy allows.
*/

use crate::menu::{Menu, MenuOption};
use crate::rules::RuleBook;

/// The first option whose label a rule of `group` matches.
pub fn option_matching<'m>(book: &RuleBook, menu: &'m Menu, group: &str) -> Option<&'m MenuOption> {
    book.group(group)
        .iter()
        .find_map(|rule| menu.find(|label| rule.is_match(label)))
}

/// The option an operator named: its number (counted from the top), or `yes`, `always` or `no`
/// (read through the `approve_once`, `approve_for_session` and `deny` groups).
pub fn chosen_option<'m>(
    book: &RuleBook,
    menu: &'m Menu,
    choice: &str,
) -> Result<&'m MenuOption, String> {
    let choice = choice.trim().to_ascii_lowercase();
    if let Ok(number) = choice.parse::<u32>() {
        return menu
            .option(number)
            .ok_or_else(|| format!("the prompt has no option {number}"));
    }
    let group = match choice.as_str() {
        "yes" | "y" | "allow" | "once" => "approve_once",
        "always" | "session" | "a" => "approve_for_session",
        "no" | "n" | "deny" => "deny",
        _ => {
            return Err(format!(
                "unknown choice '{choice}': use an option number, yes, always or no"
            ));
        }
    };
    option_matching(book, menu, group)
        .ok_or_else(|| format!("no option of the prompt reads as '{choice}'"))
}

/// The option that approves `command` once, when one of `patterns` allows it; otherwise why
/// not (naming the command, for the leader). `cli` names the CLI in that reason.
pub fn command_option<'m>(
    book: &RuleBook,
    menu: &'m Menu,
    prompt: &str,
    command: &[String],
    patterns: &[String],
    cli: &str,
) -> Result<&'m MenuOption, String> {
    let lines: Vec<&str> = command.iter().map(String::as_str).collect();
    if !command_allowed(patterns, &lines) {
        return Err(format!(
            "{cli} asks to run `{}`, which no auto_approve pattern of this worker allows",
            lines.join(" ")
        ));
    }
    option_matching(book, menu, "approve_once")
        .ok_or_else(|| format!("no option of \"{prompt}\" reads as an approval"))
}

/// Whether the command shown on `lines` is one `patterns` allow. A pattern matches the whole
/// command; `*` stands for any run of characters on one line. A command drawn on several lines
/// may be one wrapped line or several commands, so it is allowed only when it is allowed read
/// both ways: anything unclear goes to a human.
pub fn command_allowed(patterns: &[String], lines: &[&str]) -> bool {
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return false;
    }
    [lines.join(""), lines.join("\n")]
        .iter()
        .all(|command| patterns.iter().any(|p| glob_matches(p.trim(), command)))
}

/// `*` matches any run of characters but a line break; everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // reachable[j]: the pattern read so far can end right before text[j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for &p in &pattern {
        let mut next = vec![false; text.len() + 1];
        if p == '*' {
            for j in 0..=text.len() {
                if reachable[j] || (j > 0 && next[j - 1] && text[j - 1] != '\n') {
                    next[j] = true;
                }
            }
        } else {
            for j in 1..=text.len() {
                next[j] = reachable[j - 1] && text[j - 1] == p;
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], lines: &[&str]) -> bool {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        command_allowed(&patterns, lines)
    }

    #[test]
    fn a_pattern_matches_the_whole_command() {
        assert!(allowed(&["npm test"], &["npm test"]));
        assert!(!allowed(&["npm test"], &["npm test && rm -rf ~"]));
        assert!(allowed(&["git diff *"], &["git diff HEAD~1"]));
        assert!(!allowed(&["git diff *"], &["git diffx"]));
        assert!(allowed(&["echo *> *.txt"], &["echo hi > out.txt"]));
        assert!(allowed(&["*"], &["anything at all"]));
        assert!(!allowed(&[], &["npm test"]));
        assert!(!allowed(&["*"], &[]));
    }

    #[test]
    fn a_star_never_crosses_a_line_break() {
        // Two lines could be two commands: `*` does not stretch over the second.
        assert!(!allowed(&["echo *"], &["echo a", "rm -rf ~"]));
        // A wrapped line is allowed only when the patterns allow it read both ways.
        assert!(!allowed(
            &["echo approved-*"],
            &["echo approved-by-", "policy"]
        ));
        assert!(allowed(
            &["echo approved-*", "echo approved-*\npolicy"],
            &["echo approved-by-", "policy"]
        ));
    }

    #[test]
    fn surrounding_spaces_do_not_count() {
        assert!(allowed(&["  npm test "], &["   npm test"]));
    }
}
