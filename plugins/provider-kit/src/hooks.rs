/*! What a CLI's hook hands over, for CLIs that write one JSON object to a hook's stdin (Claude
Code, Gemini CLI), and the words of the command line a hook runs.

A hook is a shell command the CLI runs at one of its events; the host's command is quoted word by
word ([`shell_quoted`]) and the event's name follows as one more word. What the hook reads is
[`HookFields`]: the payload's object, its event's name (`hook_event_name`, else that last word),
and its string fields, each missing one an error naming the CLI, the event and the field.
*/

use serde_json::{Map, Value};
use team_agent_plugin_api::{HookPayload, PluginError};

/// `word` as one word of a POSIX shell command: as it is when nothing in it is special, else in
/// single quotes (a quote inside becomes `'\''`).
pub fn shell_quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=/.,:@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The host's hook command (`command`, its program first) as one shell command line, each word
/// quoted where it must be; the event's name is then added as one more word.
pub fn command_line(command: &[String]) -> Result<String, PluginError> {
    if command.is_empty() {
        return Err(PluginError::invalid_request(
            "hooks.command is empty: it needs at least the program the hooks run",
        ));
    }
    Ok(command
        .iter()
        .map(|word| shell_quoted(word))
        .collect::<Vec<_>>()
        .join(" "))
}

/// One hook call's payload, read for the CLI named `cli` (as errors name it: "Claude Code").
pub struct HookFields<'c> {
    cli: &'static str,
    call: &'c HookPayload,
    fields: Map<String, Value>,
}

impl<'c> HookFields<'c> {
    /// The payload of `call`, which must be a JSON object.
    pub fn parse(cli: &'static str, call: &'c HookPayload) -> Result<Self, PluginError> {
        let garbled = |what: &str| {
            PluginError::invalid_request(format!(
                "the payload of {cli}'s {} hook cannot be read: {what}",
                call.event
            ))
        };
        match serde_json::from_str::<Value>(&call.payload) {
            Ok(Value::Object(fields)) => Ok(Self { cli, call, fields }),
            Ok(_) => Err(garbled("it is not a JSON object")),
            Err(e) => Err(garbled(&format!("it is not JSON ({e})"))),
        }
    }

    /// The event the payload names (`hook_event_name`); the word the hook's command ended with
    /// when it names none.
    pub fn event_name(&self) -> &str {
        self.text("hook_event_name")
            .unwrap_or(self.call.event.as_str())
    }

    /// A field, whatever its type.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    /// A string field, if the payload has one.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }

    /// A string field the event `event` always carries: its absence is an error that says so.
    pub fn required(&self, field: &str, event: &str) -> Result<String, PluginError> {
        self.text(field).map(str::to_string).ok_or_else(|| {
            PluginError::invalid_request(format!(
                "{}'s {event} hook payload has no string `{field}`",
                self.cli
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call as the host hands it over (its JSON form), without a session.
    fn call(event: &str, payload: &str) -> HookPayload {
        serde_json::from_value(serde_json::json!({"event": event, "payload": payload})).unwrap()
    }

    #[test]
    fn a_word_is_quoted_only_when_the_shell_would_read_it_otherwise() {
        assert_eq!(shell_quoted("/usr/bin/team-agent"), "/usr/bin/team-agent");
        assert_eq!(shell_quoted("a b"), "'a b'");
        assert_eq!(shell_quoted(""), "''");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted("$HOME"), "'$HOME'");
        let words = ["/opt/team agent/bin".to_string(), "hook".into()];
        assert_eq!(command_line(&words).unwrap(), "'/opt/team agent/bin' hook");
        assert!(command_line(&[]).is_err());
    }

    #[test]
    fn fields_are_read_and_what_is_missing_or_garbled_is_named() {
        let stop = call(
            "Stop",
            r#"{"hook_event_name": "Stop", "n": 3, "prompt": "hi"}"#,
        );
        let fields = HookFields::parse("Some CLI", &stop).unwrap();
        assert_eq!(fields.event_name(), "Stop");
        assert_eq!(fields.text("prompt"), Some("hi"));
        assert_eq!(fields.text("n"), None);
        assert_eq!(fields.get("n"), Some(&Value::from(3)));
        let missing = fields.required("tool_name", "Stop").unwrap_err();
        assert!(
            missing
                .message
                .contains("Some CLI's Stop hook payload has no string `tool_name`"),
            "{missing:?}"
        );
        // No name in the payload: the command's last word.
        let unnamed = call("PreToolUse", "{}");
        assert_eq!(
            HookFields::parse("Some CLI", &unnamed)
                .unwrap()
                .event_name(),
            "PreToolUse"
        );
        for payload in ["[1]", "not json"] {
            let bad = call("Stop", payload);
            let Err(e) = HookFields::parse("Some CLI", &bad) else {
                panic!("{payload} was read");
            };
            assert!(
                e.message
                    .contains("the payload of Some CLI's Stop hook cannot be read"),
                "{e:?}"
            );
        }
    }
}
