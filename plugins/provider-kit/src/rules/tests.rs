use std::path::Path;

use serde_json::json;

use super::*;

const BUILTIN: &str = r#"
[screen]
bottom_lines = 30

[[rules.api_error]]
name = "rate_limited"
class = "rate_limit"
regex = ['(?i)\brate limit', '\b429\b']

[[rules.api_error]]
name = "network"
class = "network"
contains = ["Connection failed"]

[[rules.approval]]
name = "mcp_tool"
regex = ['Allow the (?P<server>\S+) MCP server to run tool "(?P<tool>[^"]+)"']

[[rules.turn]]
name = "task_complete"
state = "idle"
fields = { "/type" = '^event_msg$', "/payload/type" = '^task_complete$' }
"#;

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn the_order_of_a_group_is_its_precedence() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    let screen = lines("└ Connection failed: 429 Too Many Requests\n› Ask");
    let found = book.first_rule("api_error", &screen).unwrap();
    assert_eq!(found.rule.name(), "rate_limited");
    assert_eq!(found.rule.class(), Some("rate_limit"));
    assert_eq!(found.line, 0);
}

#[test]
fn the_bottom_most_matching_line_wins_for_last_line() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    let screen = lines("rate limit\nConnection failed\nfine");
    assert_eq!(book.last_line("api_error", &screen).unwrap().line, 1);
    assert!(book.last_line("api_error", &lines("fine")).is_none());
}

#[test]
fn named_captures_come_with_the_match() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    let screen = lines(r#"  Allow the team MCP server to run tool "report_result"?"#);
    let found = book.last_line("approval", &screen).unwrap();
    assert_eq!(found.captures["server"], "team");
    assert_eq!(found.captures["tool"], "report_result");
}

#[test]
fn records_match_when_every_field_does() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    let done = json!({"type": "event_msg", "payload": {"type": "task_complete"}});
    let started = json!({"type": "event_msg", "payload": {"type": "task_started"}});
    assert_eq!(
        book.record_rule("turn", &done).unwrap().state(),
        Some("idle")
    );
    assert!(book.record_rule("turn", &started).is_none());
    assert!(book.record_rule("turn", &json!([1, 2])).is_none());
}

#[test]
fn a_line_rule_never_matches_a_record() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    let record = json!({"type": "Connection failed"});
    assert!(book.record_rule("api_error", &record).is_none());
}

#[test]
fn screen_settings_come_from_the_file_with_defaults_for_the_rest() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    assert_eq!(book.screen_settings().bottom_lines, 30);
    assert_eq!(book.screen_settings().max_line_chars, 1000);
}

#[test]
fn contains_patterns_are_literal_and_may_ignore_case() {
    let book = RuleBook::parse(
        "[[rules.x]]\nname = \"dots\"\ncontains = ['Reconnecting...']\nignore_case = true\n",
    )
    .unwrap();
    let rule = &book.group("x")[0];
    assert!(rule.is_match("• reconnecting... 4/5"));
    assert!(!rule.is_match("Reconnecting!!! 4/5"));
}

#[test]
fn errors_name_the_rule_and_the_problem() {
    let bad_regex = RuleBook::parse("[[rules.x]]\nname = \"broken\"\nregex = ['(']\n");
    assert!(matches!(bad_regex, Err(RulesError::Regex { ref rule, .. }) if rule == "broken"));
    let empty = RuleBook::parse("[[rules.x]]\nname = \"empty\"\n");
    assert_eq!(
        empty.unwrap_err().to_string(),
        "rule 'empty' has no `regex`, `contains` or `fields` to match with"
    );
    let duplicate = RuleBook::parse(
        "[[rules.x]]\nname = \"a\"\ncontains = ['1']\n[[rules.y]]\nname = \"a\"\ncontains = ['2']\n",
    );
    assert!(matches!(duplicate, Err(RulesError::DuplicateName { .. })));
    let typo = RuleBook::parse("[[rules.x]]\nname = \"a\"\nregexp = ['1']\n");
    assert!(matches!(typo, Err(RulesError::Toml { .. })));
}

#[test]
fn user_rules_replace_by_name_and_new_ones_go_first() {
    let user = r#"
[screen]
bottom_lines = 60

[[rules.api_error]]
name = "network"
class = "network"
contains = ["waiting for network"]

[[rules.api_error]]
name = "overloaded"
class = "overloaded"
contains = ["overloaded"]
"#;
    let book = RuleBook::parse_with_overrides(BUILTIN, user, Path::new("/u/codex.toml")).unwrap();
    let names: Vec<&str> = book.group("api_error").iter().map(Rule::name).collect();
    assert_eq!(names, ["overloaded", "rate_limited", "network"]);
    assert!(book.group("api_error")[2].is_match("Reconnecting... waiting for network"));
    assert!(!book.group("api_error")[2].is_match("Connection failed"));
    assert_eq!(book.group("api_error")[1].label(), "rate_limited");
    assert_eq!(book.group("api_error")[2].label(), "network (user rule)");
    assert_eq!(book.screen_settings().bottom_lines, 60);
}

#[test]
fn a_user_group_the_provider_lacks_is_an_error() {
    let user = "[[rules.api_errors]]\nname = \"x\"\ncontains = ['y']\n";
    let error =
        RuleBook::parse_with_overrides(BUILTIN, user, Path::new("/u/codex.toml")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "/u/codex.toml names the group 'api_errors', which this provider does not have (groups: api_error, approval, turn)"
    );
}

#[test]
fn labels_carry_the_user_error_when_there_is_one() {
    let book = RuleBook::parse(BUILTIN).unwrap();
    assert_eq!(book.label("network"), "network");
    let book = book.with_user_error("/u/codex.toml: bad");
    assert_eq!(
        book.label("network"),
        "network (user rules ignored: /u/codex.toml: bad)"
    );
}
