//! Structural validation with the JSON schemas of `schemas/` (embedded, the single source of
//! truth), turning the validator's errors into diagnostics a person can act on: the JSON pointer
//! of the offending field, what was expected, and the nearest known field for a typo.

use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::diagnostic::{Diagnostic, pointer_segment};

pub const TEAM_SCHEMA: &str = include_str!("../../../schemas/team.schema.json");
pub const RESULT_SCHEMA: &str = include_str!("../../../schemas/result-envelope.schema.json");

/// What a document is validated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    TeamSpec,
    TeamFrontMatter,
    RoleFrontMatter,
    ResultEnvelope,
}

struct Compiled {
    schema: Value,
    validator: Validator,
}

fn schema_for(shape: Shape) -> Value {
    let team: Value = serde_json::from_str(TEAM_SCHEMA).expect("schemas/team.schema.json is JSON");
    let sub = |name: &str| {
        serde_json::json!({
            "$schema": team["$schema"],
            "$defs": team["$defs"],
            "$ref": format!("#/$defs/{name}"),
        })
    };
    match shape {
        Shape::TeamSpec => team,
        Shape::TeamFrontMatter => sub("team_front_matter"),
        Shape::RoleFrontMatter => sub("role_front_matter"),
        Shape::ResultEnvelope => serde_json::from_str(RESULT_SCHEMA)
            .expect("schemas/result-envelope.schema.json is JSON"),
    }
}

fn compiled(shape: Shape) -> &'static Compiled {
    static CACHE: [OnceLock<Compiled>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let index = match shape {
        Shape::TeamSpec => 0,
        Shape::TeamFrontMatter => 1,
        Shape::RoleFrontMatter => 2,
        Shape::ResultEnvelope => 3,
    };
    CACHE[index].get_or_init(|| {
        let schema = schema_for(shape);
        let validator =
            jsonschema::draft202012::new(&schema).expect("the embedded schemas compile");
        Compiled { schema, validator }
    })
}

/// Every structural problem of `instance`, as diagnostics against `file`.
pub fn validate(shape: Shape, instance: &Value, file: &Path) -> Vec<Diagnostic> {
    let compiled = compiled(shape);
    let mut found: Vec<Diagnostic> = Vec::new();
    for error in compiled.validator.iter_errors(instance) {
        for diagnostic in describe(&error, &compiled.schema, instance, file) {
            if !found
                .iter()
                .any(|d| d.path == diagnostic.path && d.message == diagnostic.message)
            {
                found.push(diagnostic);
            }
        }
    }
    found
}

fn describe(
    error: &ValidationError<'_>,
    schema: &Value,
    instance: &Value,
    file: &Path,
) -> Vec<Diagnostic> {
    let at = error.instance_path().as_str().to_string();
    let got_text = short(instance.pointer(&at).unwrap_or(&Value::Null));
    let got = || got_text.clone();
    let one = |path: String, message: String| vec![Diagnostic::error(file, path, message)];
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            one(
                format!("{at}/{}", pointer_segment(name)),
                "missing required field".into(),
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_properties(schema, error.schema_path().as_str());
            unexpected
                .iter()
                .map(|key| {
                    let mut message = format!("unknown field \"{key}\"");
                    if let Some(near) = nearest(key, &known) {
                        message.push_str(&format!("; did you mean \"{near}\"?"));
                    } else if !known.is_empty() {
                        message.push_str(&format!(" (known: {})", known.join(", ")));
                    }
                    Diagnostic::error(file, format!("{at}/{}", pointer_segment(key)), message)
                })
                .collect()
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            one(
                at,
                format!("must be {} {expected} (got {})", article(&expected), got()),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut message = format!("must be one of {} (got {})", options.join(", "), got());
            let given = instance.pointer(&at).and_then(Value::as_str);
            if let Some(near) = given.and_then(|s| nearest(s, &options)) {
                message.push_str(&format!("; did you mean \"{near}\"?"));
            }
            one(at, message)
        }
        ValidationErrorKind::Constant { expected_value } => one(
            at,
            format!("must be {} (got {})", short(expected_value), got()),
        ),
        ValidationErrorKind::MinItems { limit } => one(
            at,
            format!(
                "must have at least {limit} item{}",
                if *limit == 1 { "" } else { "s" }
            ),
        ),
        ValidationErrorKind::MinLength { .. } => one(at, "must not be empty".into()),
        ValidationErrorKind::Pattern { .. } => one(
            at,
            format!(
                "{} is not allowed here: use letters, digits, '_', '.' or '-' (at most 64)",
                got()
            ),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            one(at, format!("must be above {limit} (got {})", got()))
        }
        ValidationErrorKind::Maximum { limit } => {
            one(at, format!("must be at most {limit} (got {})", got()))
        }
        kind => {
            let message = alternatives(kind, &at, &got_text).unwrap_or_else(|| error.to_string());
            one(at, message)
        }
    }
}

/// What a value that matched none of a field's shapes should have been, for the fields with
/// several (jsonschema's own words name only the keyword).
fn alternatives(kind: &ValidationErrorKind, at: &str, got: &str) -> Option<String> {
    match kind {
        ValidationErrorKind::AnyOf { .. } if at.contains("/rules/") || at.ends_with("/rules") => {
            Some("a routing rule must have `when` or `match`".into())
        }
        ValidationErrorKind::OneOfNotValid { .. } if at.ends_with("/notify") => Some(format!(
            "must be desktop, none or {{command: [PROGRAM, ARG…]}} with a non-empty list of strings (got {got})"
        )),
        _ => None,
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A value shortened for a message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// The property names the schema allows where an `additionalProperties` error was raised.
fn known_properties(schema: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    schema
        .pointer(parent)
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn nearest(word: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&word.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(distance, k)| *distance <= (k.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(shape: Shape, value: Value) -> Vec<String> {
        validate(shape, &value, Path::new("f"))
            .into_iter()
            .map(|d| format!("{} {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn an_unknown_field_suggests_the_nearest_known_one() {
        let found = messages(
            Shape::RoleFrontMatter,
            serde_json::json!({"name": "a", "role": "r", "provder": "x"}),
        );
        assert!(
            found.contains(
                &"/provder unknown field \"provder\"; did you mean \"provider\"?".to_string()
            ),
            "{found:?}"
        );
        assert!(
            found.contains(&"/provider missing required field".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn enum_errors_list_the_choices() {
        let found = messages(
            Shape::RoleFrontMatter,
            serde_json::json!({"name": "a", "role": "r", "provider": "x", "permission_mode": "trustd"}),
        );
        assert_eq!(
            found,
            vec![
                "/permission_mode must be one of restricted, ask, trusted (got \"trustd\"); did you mean \"trusted\"?"
            ]
        );
    }

    #[test]
    fn the_result_envelope_rejects_a_schema_key() {
        let found = messages(
            Shape::ResultEnvelope,
            serde_json::json!({"schema": "result_envelope_v1"}),
        );
        assert!(
            found.iter().any(|m| m.starts_with("/schema unknown field")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m == "/schema_version missing required field"),
            "{found:?}"
        );
    }
}
