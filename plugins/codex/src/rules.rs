/*! The Codex rule book: the built-in `rules.toml`, the user's patches to it, and the checks a
patched book must pass before the plugin trusts it (every group the plugin asks is there, every
class and state names one the plugin API knows).
*/

use team_agent_provider_kit::{RuleBook, check_book};

/// The rules compiled into the plugin.
pub const BUILTIN: &str = include_str!("../rules.toml");

/// Every group the plugin's code asks.
const GROUPS: &[&str] = &[
    "composer",
    "composer_ready",
    "input_placeholder",
    "composer_loading",
    "loading",
    "logo",
    "exited",
    "needs_human",
    "trust_question",
    "trust_accept",
    "update_offer",
    "update_skip",
    "dismissable_overlay",
    "queued_input",
    "agent_output",
    "turn_closed",
    "turn_interrupted",
    "ended_error",
    "approval_question",
    "approval_footer",
    "approval_command",
    "approve_for_session",
    "approve_once",
    "deny",
    "busy",
    "api_error",
    "identity_marker",
    "turn",
];

/// What the plugin needs from a rule book beyond it being well-formed.
pub fn check(book: &RuleBook) -> Result<(), String> {
    check_book(book, GROUPS, &["exited", "needs_human"])?;
    if let Some(rule) = book
        .group("dismissable_overlay")
        .iter()
        .find(|r| r.keys().is_empty())
    {
        return Err(format!(
            "rule '{}' needs the `keys` that close the overlay",
            rule.name()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_compile_and_pass_the_checks() {
        let book = RuleBook::parse(BUILTIN).unwrap();
        check(&book).unwrap();
        assert_eq!(crate::Codex::builtin_rules().user_error(), None);
    }

    #[test]
    fn a_user_rule_with_an_unknown_class_is_refused() {
        let book = RuleBook::parse_with_overrides(
            BUILTIN,
            "[[rules.api_error]]\nname = \"hot\"\nclass = \"overheated\"\ncontains = ['quota']\n",
            std::path::Path::new("/u/codex.toml"),
        )
        .unwrap();
        assert!(check(&book).unwrap_err().contains("class \"overheated\""));
    }
}
