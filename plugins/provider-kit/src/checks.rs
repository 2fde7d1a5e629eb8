/*! What a provider's code needs of its rule book beyond it being well-formed, and the plugin-API
values its rules name.

Every provider asks the same kinds of group: `api_error`, whose rules carry a `class` (an
[`ApiErrorClass`] by its wire name); `turn`, whose rules carry a `state` (a [`TurnState`]); and
groups whose rules block or end a session, which must say why (`reason`). A user's file that
breaks one of these is refused (see [`crate::load_rules`]) rather than trusted.
*/

use team_agent_plugin_api::{ApiErrorClass, TurnState};

use crate::rules::{Rule, RuleBook};

/// Every group of `groups` has a rule, every `api_error` rule names a class and every `turn` rule
/// a state the plugin API knows, and every rule of the `explained` groups has a `reason` for the
/// operator.
pub fn check_book(book: &RuleBook, groups: &[&str], explained: &[&str]) -> Result<(), String> {
    if let Some(missing) = groups.iter().find(|g| book.group(g).is_empty()) {
        return Err(format!("the group '{missing}' has no rules"));
    }
    for rule in book.group("api_error") {
        let class = rule.class().unwrap_or_default();
        if api_error_class(class).is_none() {
            return Err(format!(
                "rule '{}': class {class:?} is not one of overloaded, rate_limit, quota, network, timeout, other",
                rule.name()
            ));
        }
    }
    for rule in book.group("turn") {
        let state = rule.state().unwrap_or_default();
        if turn_state(state).is_none() {
            return Err(format!(
                "rule '{}': state {state:?} is not one of idle, working, interrupted, blocked_on_human, error, unknown",
                rule.name()
            ));
        }
    }
    for group in explained {
        if let Some(rule) = book.group(group).iter().find(|r| r.reason().is_none()) {
            return Err(format!(
                "rule '{}' in '{group}' needs a `reason` for the operator",
                rule.name()
            ));
        }
    }
    Ok(())
}

/// The class an `api_error` rule gives (`other` for a rule whose class is not known).
pub fn class_of(rule: &Rule) -> ApiErrorClass {
    api_error_class(rule.class().unwrap_or_default()).unwrap_or(ApiErrorClass::Other)
}

/// The API error class a rule names (the plugin API's wire name).
pub fn api_error_class(name: &str) -> Option<ApiErrorClass> {
    serde_json::from_value(serde_json::Value::String(name.into())).ok()
}

/// The turn state a rule names (the plugin API's wire name).
pub fn turn_state(name: &str) -> Option<TurnState> {
    serde_json::from_value(serde_json::Value::String(name.into())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_map_to_the_plugin_api() {
        assert_eq!(api_error_class("network"), Some(ApiErrorClass::Network));
        assert_eq!(
            api_error_class("rate_limit"),
            Some(ApiErrorClass::RateLimit)
        );
        assert_eq!(api_error_class("dns"), None);
        assert_eq!(turn_state("interrupted"), Some(TurnState::Interrupted));
        assert_eq!(
            turn_state("blocked_on_human"),
            Some(TurnState::BlockedOnHuman)
        );
        assert_eq!(turn_state("busy"), None);
    }

    #[test]
    fn a_book_missing_a_group_the_code_asks_is_refused() {
        let book = RuleBook::parse("[[rules.busy]]\nname = \"x\"\ncontains = ['y']\n").unwrap();
        assert_eq!(
            check_book(&book, &["busy", "exited"], &[]).unwrap_err(),
            "the group 'exited' has no rules"
        );
        check_book(&book, &["busy"], &[]).unwrap();
    }
}
