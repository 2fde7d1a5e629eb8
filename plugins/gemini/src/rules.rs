/*! The Gemini CLI rule book: the built-in `rules.toml`, the user's patches to it, and the checks
a patched book must pass before the plugin trusts it (every group the plugin asks is there, every
class and state names one the plugin API knows, every exit and blocking rule explains itself).
*/

use team_agent_provider_kit::{RuleBook, check_book};

/// The rules compiled into the plugin.
pub const BUILTIN: &str = include_str!("../rules.toml");

/// Every group the plugin's code asks.
const GROUPS: &[&str] = &[
    "input_rule",
    "input_prompt",
    "input_footer",
    "input_placeholder",
    "loading",
    "resuming",
    "startup_noise",
    "exited",
    "needs_human",
    "trust_question",
    "trust_accept",
    "approval_question",
    "approval_footer",
    "approval_command",
    "approve_for_session",
    "approve_once",
    "deny",
    "busy",
    "api_retry",
    "ended_error",
    "api_error",
    "turn_ignored",
    "turn",
];

/// What the plugin needs from a rule book beyond it being well-formed.
pub fn check(book: &RuleBook) -> Result<(), String> {
    check_book(book, GROUPS, &["exited", "needs_human"])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_built_in_rules_compile_and_pass_the_checks() {
        let book = RuleBook::parse(BUILTIN).unwrap();
        check(&book).unwrap();
        assert_eq!(crate::Gemini::builtin_rules().user_error(), None);
    }

    #[test]
    fn a_user_blocking_rule_without_a_reason_is_refused() {
        let book = RuleBook::parse_with_overrides(
            BUILTIN,
            "[[rules.needs_human]]\nname = \"mystery\"\ncontains = ['huh']\n",
            Path::new("/u/gemini.toml"),
        )
        .unwrap();
        assert!(check(&book).unwrap_err().contains("'mystery'"));
    }
}
