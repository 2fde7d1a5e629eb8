/*! Rule books: a provider's detection rules, read from TOML and compiled once.

A rule book has screen settings and *groups* of rules. A group is an ordered list of named rules
answering one question ("is this a trust dialog?", "which API error is this?"); the plugin's code
decides which groups to ask in which order, the book says what text answers them. A rule matches
a screen line when any of its `regex` or `contains` patterns does, and a JSON record when every
pointer in its `fields` resolves to a value its regex matches.

```toml
[screen]
bottom_lines = 40

[[rules.api_error]]
name = "rate_limited"
class = "rate_limit"
regex = ['(?i)\brate limit', '\b429\b']

[[rules.turn]]
name = "task_complete"
state = "idle"
fields = { "/type" = '^event_msg$', "/payload/type" = '^task_complete$' }
```

A user's file has the same shape. Its rules replace the built-in rule of the same name in place;
rules with new names go first in their group, so they win over the built-in ones. Its `[screen]`
keys replace the built-in values one by one. A group the built-in book does not have is an error
(a typo would otherwise be ignored silently).
*/

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::Value;

use crate::menu::MenuReader;
use crate::screen::{Screen, ScreenSettings};

/// Why a rule book could not be built. Each variant renders a sentence naming what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("{origin} is not a valid rule file: {message}")]
    Toml { origin: String, message: String },
    #[error("rule '{rule}': the pattern {pattern:?} is not a valid regex: {message}")]
    Regex {
        rule: String,
        pattern: String,
        message: String,
    },
    #[error("rule '{rule}' has no `regex`, `contains` or `fields` to match with")]
    NothingToMatch { rule: String },
    #[error("two rules are named '{rule}'; rule names must be unique")]
    DuplicateName { rule: String },
    #[error(
        "{origin} names the group '{group}', which this provider does not have (groups: {known})"
    )]
    UnknownGroup {
        origin: String,
        group: String,
        known: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookSpec {
    #[serde(default)]
    screen: ScreenSpec,
    #[serde(default)]
    rules: BTreeMap<String, Vec<RuleSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenSpec {
    bottom_lines: Option<usize>,
    max_line_chars: Option<usize>,
    menu_selectors: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    #[serde(default)]
    regex: Vec<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    ignore_case: bool,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    keys: Vec<String>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    from_user: bool,
    patterns: Vec<Regex>,
    fields: Vec<(String, Regex)>,
    class: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    keys: Vec<String>,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name shown in a verdict: marked when the rule came from the user's file.
    pub fn label(&self) -> String {
        if self.from_user {
            format!("{} (user rule)", self.name)
        } else {
            self.name.clone()
        }
    }

    /// What kind of thing the rule detects, for groups that classify (an API error class).
    pub fn class(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// The state a matching record or screen means (a turn state).
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// A sentence for the operator about what the match means.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Keys that answer what the rule detects.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(text))
    }

    /// The named capture groups of the first pattern that matches `text`.
    pub fn captures(&self, text: &str) -> Option<BTreeMap<String, String>> {
        self.patterns.iter().find_map(|pattern| {
            let caps = pattern.captures(text)?;
            Some(
                pattern
                    .capture_names()
                    .flatten()
                    .filter_map(|name| Some((name.to_string(), caps.name(name)?.as_str().into())))
                    .collect(),
            )
        })
    }

    /// Every field pointer resolves in `record` to a value (a string, or any other value as its
    /// JSON text) that its regex matches. A rule without fields matches no record.
    pub fn matches_record(&self, record: &Value) -> bool {
        !self.fields.is_empty()
            && self
                .fields
                .iter()
                .all(|(pointer, regex)| match record.pointer(pointer) {
                    Some(Value::String(s)) => regex.is_match(s),
                    Some(other) => regex.is_match(&other.to_string()),
                    None => false,
                })
    }
}

/// Where a rule matched on a screen.
#[derive(Debug, Clone)]
pub struct LineMatch<'a> {
    pub rule: &'a Rule,
    /// The index of the matching line in the lines searched.
    pub line: usize,
    /// Named captures of the matching pattern (for example a tool name).
    pub captures: BTreeMap<String, String>,
}

/// A provider's compiled rules and screen settings, with what became of the user's file.
#[derive(Debug, Clone)]
pub struct RuleBook {
    screen: ScreenSettings,
    menus: MenuReader,
    groups: BTreeMap<String, Vec<Rule>>,
    user_error: Option<String>,
}

impl RuleBook {
    /// The built-in rules alone.
    pub fn parse(builtin: &str) -> Result<Self, RulesError> {
        compile(read_spec(builtin, "the built-in rules")?, &BTreeSet::new())
    }

    /// The built-in rules with a user's file applied (see the module docs for how).
    pub fn parse_with_overrides(
        builtin: &str,
        user: &str,
        user_path: &Path,
    ) -> Result<Self, RulesError> {
        let origin = user_path.display().to_string();
        let mut book = read_spec(builtin, "the built-in rules")?;
        let patch = read_spec(user, &origin)?;
        let known: Vec<String> = book.rules.keys().cloned().collect();
        let mut from_user = BTreeSet::new();
        for (group, rules) in patch.rules {
            let Some(target) = book.rules.get_mut(&group) else {
                return Err(RulesError::UnknownGroup {
                    origin,
                    group,
                    known: known.join(", "),
                });
            };
            let mut added = Vec::new();
            for rule in rules {
                from_user.insert(rule.name.clone());
                match target.iter_mut().find(|r| r.name == rule.name) {
                    Some(slot) => *slot = rule,
                    None => added.push(rule),
                }
            }
            target.splice(0..0, added);
        }
        let screen = &mut book.screen;
        screen.bottom_lines = patch.screen.bottom_lines.or(screen.bottom_lines);
        screen.max_line_chars = patch.screen.max_line_chars.or(screen.max_line_chars);
        screen.menu_selectors = patch.screen.menu_selectors.or(screen.menu_selectors.take());
        compile(book, &from_user)
    }

    /// A book with no rules that explains why in every verdict (the built-in rules failed to
    /// compile, which a plugin's own tests prevent).
    pub fn unusable(error: impl Into<String>) -> Self {
        let screen = ScreenSettings::default();
        Self {
            menus: MenuReader::new(&screen.menu_selectors),
            screen,
            groups: BTreeMap::new(),
            user_error: Some(error.into()),
        }
    }

    /// Notes that the user's file was not applied, so every label says so.
    pub fn with_user_error(mut self, error: impl Into<String>) -> Self {
        self.user_error = Some(error.into());
        self
    }

    pub fn user_error(&self) -> Option<&str> {
        self.user_error.as_deref()
    }

    pub fn screen_settings(&self) -> &ScreenSettings {
        &self.screen
    }

    /// Reads numbered menus with this book's selector glyphs.
    pub fn menus(&self) -> &MenuReader {
        &self.menus
    }

    /// The bottom of a capture, normalised with this book's settings.
    pub fn read_screen(&self, capture: &str) -> Screen {
        Screen::read(capture, &self.screen)
    }

    /// The rules of a group in order (none for a group the book does not have).
    pub fn group(&self, group: &str) -> &[Rule] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
    }

    /// The bottom-most line any rule of `group` matches, with the first rule (in order) that
    /// matches it.
    pub fn last_line<'a>(&'a self, group: &str, lines: &[String]) -> Option<LineMatch<'a>> {
        let rules = self.group(group);
        lines.iter().enumerate().rev().find_map(|(index, line)| {
            let rule = rules.iter().find(|r| r.is_match(line))?;
            Some(line_match(rule, index, line))
        })
    }

    /// The first rule of `group` (in order) that matches any of `lines`, at the bottom-most line
    /// it matches: for groups whose order is a precedence (a rate limit before a network error).
    pub fn first_rule<'a>(&'a self, group: &str, lines: &[String]) -> Option<LineMatch<'a>> {
        self.group(group).iter().find_map(|rule| {
            let (index, line) = lines
                .iter()
                .enumerate()
                .rev()
                .find(|(_, l)| rule.is_match(l))?;
            Some(line_match(rule, index, line))
        })
    }

    /// The first rule of `group` (in order) that matches a JSON record.
    pub fn record_rule(&self, group: &str, record: &Value) -> Option<&Rule> {
        self.group(group).iter().find(|r| r.matches_record(record))
    }

    /// A verdict's rule name: `label`, plus why the user's rules are not in effect when they
    /// failed to load, so `team-agent plugins probe` shows the problem wherever it looks.
    pub fn label(&self, label: &str) -> String {
        match &self.user_error {
            Some(error) => format!("{label} (user rules ignored: {error})"),
            None => label.to_string(),
        }
    }
}

fn line_match<'a>(rule: &'a Rule, line: usize, text: &str) -> LineMatch<'a> {
    LineMatch {
        rule,
        line,
        captures: rule.captures(text).unwrap_or_default(),
    }
}

fn read_spec(text: &str, origin: &str) -> Result<BookSpec, RulesError> {
    toml::from_str(text).map_err(|e| RulesError::Toml {
        origin: origin.to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

fn compile(spec: BookSpec, from_user: &BTreeSet<String>) -> Result<RuleBook, RulesError> {
    let defaults = ScreenSettings::default();
    let screen = ScreenSettings {
        bottom_lines: spec.screen.bottom_lines.unwrap_or(defaults.bottom_lines),
        max_line_chars: spec
            .screen
            .max_line_chars
            .unwrap_or(defaults.max_line_chars),
        menu_selectors: spec
            .screen
            .menu_selectors
            .unwrap_or(defaults.menu_selectors),
    };
    let mut names = BTreeSet::new();
    let mut groups = BTreeMap::new();
    for (group, specs) in spec.rules {
        let mut rules = Vec::with_capacity(specs.len());
        for rule in specs {
            if !names.insert(rule.name.clone()) {
                return Err(RulesError::DuplicateName { rule: rule.name });
            }
            let from_user = from_user.contains(&rule.name);
            rules.push(compile_rule(rule, from_user)?);
        }
        groups.insert(group, rules);
    }
    Ok(RuleBook {
        menus: MenuReader::new(&screen.menu_selectors),
        screen,
        groups,
        user_error: None,
    })
}

fn compile_rule(spec: RuleSpec, from_user: bool) -> Result<Rule, RulesError> {
    if spec.regex.is_empty() && spec.contains.is_empty() && spec.fields.is_empty() {
        return Err(RulesError::NothingToMatch { rule: spec.name });
    }
    let build = |pattern: &str, source: &str| {
        RegexBuilder::new(pattern)
            .case_insensitive(spec.ignore_case)
            .build()
            .map_err(|e| RulesError::Regex {
                rule: spec.name.clone(),
                pattern: source.to_string(),
                message: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .into(),
            })
    };
    let mut patterns = Vec::new();
    for pattern in &spec.regex {
        patterns.push(build(pattern, pattern)?);
    }
    for literal in &spec.contains {
        patterns.push(build(&regex::escape(literal), literal)?);
    }
    let mut fields = Vec::new();
    for (pointer, pattern) in &spec.fields {
        fields.push((pointer.clone(), build(pattern, pattern)?));
    }
    Ok(Rule {
        name: spec.name,
        from_user,
        patterns,
        fields,
        class: spec.class,
        state: spec.state,
        reason: spec.reason,
        keys: spec.keys,
    })
}

#[cfg(test)]
mod tests;
