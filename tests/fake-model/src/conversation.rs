/*!
Reading the conversation a CLI sent: the user texts in order, what its newest item is (a user
message or a tool result), whether it offers tools, and the JSON schema it wants the answer in.
Both request shapes (Anthropic `messages`, Responses `input`) end up in one [`Conversation`];
nothing here decides what to answer.
*/

use std::collections::HashMap;

use serde_json::Value;

use crate::scenario::Api;

/// What a request carries, read the same way for both APIs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conversation {
    /// The text of every user message that has text, oldest first (tool results are not user
    /// text). Texts the CLIs add themselves (`<system-reminder>`, `<environment_context>`) are
    /// kept as they are.
    pub(crate) user_texts: Vec<String>,
    pub(crate) newest: Newest,
    /// Whether the request offers the model tools.
    pub(crate) offers_tools: bool,
    /// The schema of a structured-output request.
    pub(crate) output_schema: Option<Value>,
}

/// The newest item of the conversation that a model would answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Newest {
    UserMessage(String),
    ToolResult {
        tool: String,
        output: String,
    },
    /// An empty conversation, or one ending with the assistant.
    Other,
}

impl Conversation {
    pub(crate) fn read(api: Api, body: &Value) -> Conversation {
        let (user_texts, newest) = match api {
            Api::Anthropic => read_messages(body),
            Api::Responses => read_input(body),
            Api::Gemini => return crate::gemini::read(body),
        };
        let schema_format = match api {
            Api::Anthropic => body.pointer("/output_config/format"),
            _ => body.pointer("/text/format"),
        };
        Conversation {
            user_texts,
            newest,
            offers_tools: body["tools"]
                .as_array()
                .is_some_and(|tools| !tools.is_empty()),
            output_schema: schema_format
                .filter(|format| format["type"] == "json_schema")
                .map(|format| format["schema"].clone()),
        }
    }

    /// A side request (a session title, say): no tools, and an answer in a JSON schema. A main
    /// turn can come without tools (Codex sends none for a model it knows nothing about), so the
    /// schema is what tells them apart.
    pub(crate) fn is_side(&self) -> bool {
        !self.offers_tools && self.output_schema.is_some()
    }

    pub(crate) fn newest_user_text(&self) -> &str {
        self.user_texts.last().map_or("", String::as_str)
    }

    pub(crate) fn tool_output(&self) -> &str {
        match &self.newest {
            Newest::ToolResult { output, .. } => output,
            _ => "",
        }
    }
}

/// Anthropic `messages`. Claude Code appends `{"role":"system"}` entries after the user turn, so
/// the newest item is the last user or assistant message, not the last entry.
fn read_messages(body: &Value) -> (Vec<String>, Newest) {
    let messages = body["messages"].as_array().map_or(&[][..], Vec::as_slice);
    let mut tool_names = HashMap::new();
    let mut user_texts = Vec::new();
    for message in messages {
        match message["role"].as_str() {
            Some("assistant") => {
                for block in blocks(&message["content"]) {
                    if block["type"] == "tool_use" {
                        tool_names.insert(str_of(&block["id"]), str_of(&block["name"]));
                    }
                }
            }
            Some("user") => user_texts.extend(joined_text(&message["content"], &["text"])),
            _ => {}
        }
    }
    let newest = messages
        .iter()
        .rev()
        .find(|message| matches!(message["role"].as_str(), Some("user" | "assistant")));
    let newest = match newest {
        Some(message) if message["role"] == "user" => {
            let result = blocks(&message["content"])
                .iter()
                .rev()
                .find(|block| block["type"] == "tool_result");
            match result {
                Some(result) => Newest::ToolResult {
                    tool: tool_names
                        .get(&str_of(&result["tool_use_id"]))
                        .cloned()
                        .unwrap_or_default(),
                    output: joined_text(&result["content"], &["text"]).unwrap_or_default(),
                },
                None => Newest::UserMessage(
                    joined_text(&message["content"], &["text"]).unwrap_or_default(),
                ),
            }
        }
        _ => Newest::Other,
    };
    (user_texts, newest)
}

/// Responses `input`: a string, or items (messages, `function_call`, `function_call_output`, …).
fn read_input(body: &Value) -> (Vec<String>, Newest) {
    let items = match &body["input"] {
        Value::String(text) => return (vec![text.clone()], Newest::UserMessage(text.clone())),
        Value::Array(items) => items.as_slice(),
        _ => &[],
    };
    let mut tool_names = HashMap::new();
    let mut user_texts = Vec::new();
    for item in items {
        if matches!(
            item["type"].as_str(),
            Some("function_call" | "custom_tool_call")
        ) {
            tool_names.insert(str_of(&item["call_id"]), qualified_name(item));
        } else if is_user_message(item) {
            user_texts.extend(joined_text(&item["content"], &["input_text", "text"]));
        }
    }
    let newest = items
        .iter()
        .rev()
        .find(|item| !matches!(item["role"].as_str(), Some("system" | "developer")));
    let newest = match newest {
        Some(item)
            if matches!(
                item["type"].as_str(),
                Some("function_call_output" | "custom_tool_call_output")
            ) =>
        {
            Newest::ToolResult {
                tool: tool_names
                    .get(&str_of(&item["call_id"]))
                    .cloned()
                    .unwrap_or_default(),
                output: tool_output_text(&item["output"]),
            }
        }
        Some(item) if is_user_message(item) => Newest::UserMessage(
            joined_text(&item["content"], &["input_text", "text"]).unwrap_or_default(),
        ),
        _ => Newest::Other,
    };
    (user_texts, newest)
}

fn is_user_message(item: &Value) -> bool {
    item["role"] == "user" && matches!(item["type"].as_str(), None | Some("message"))
}

/// Codex's MCP tools are called as `name` in a `namespace` (`mcp__team`); naming them
/// `namespace__name` gives Claude's name for the same tool, so one `after_tool` fits both.
fn qualified_name(call: &Value) -> String {
    match call["namespace"].as_str() {
        Some(namespace) if !namespace.is_empty() => {
            format!("{namespace}__{}", str_of(&call["name"]))
        }
        _ => str_of(&call["name"]),
    }
}

/// A `function_call_output` output: a string, content parts, or `{"content": …}`.
fn tool_output_text(output: &Value) -> String {
    match output {
        Value::Object(fields) => fields
            .get("content")
            .map(tool_output_text)
            .unwrap_or_else(|| output.to_string()),
        other => joined_text(other, &["input_text", "output_text", "text"]).unwrap_or_default(),
    }
}

/// The text of a content value: a plain string, or the parts of the given types joined by
/// newlines; `None` when it has no text at all.
fn joined_text(content: &Value, text_types: &[&str]) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|part| {
                    part["type"]
                        .as_str()
                        .is_some_and(|kind| text_types.contains(&kind))
                })
                .filter_map(|part| part["text"].as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn blocks(content: &Value) -> &[Value] {
    content.as_array().map_or(&[], Vec::as_slice)
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claudes_system_entries_after_the_user_turn_do_not_hide_it() {
        let body = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                         {"type": "text", "text": "first question"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
            {"role": "user", "content": "second question"},
            {"role": "system", "content": "a note Claude adds"}
        ], "tools": [{"name": "Bash"}]});
        let conversation = Conversation::read(Api::Anthropic, &body);
        assert_eq!(
            conversation.user_texts,
            [
                "<system-reminder>x</system-reminder>\nfirst question",
                "second question"
            ]
        );
        assert_eq!(
            conversation.newest,
            Newest::UserMessage("second question".to_owned())
        );
        assert!(conversation.offers_tools);
        assert_eq!(conversation.output_schema, None);
    }

    #[test]
    fn an_anthropic_tool_result_is_named_by_the_tool_use_it_answers() {
        let body = json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "mcp__team__report_result", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                          "content": [{"type": "text", "text": "recorded"}]}]}
        ]});
        let conversation = Conversation::read(Api::Anthropic, &body);
        assert_eq!(
            conversation.newest,
            Newest::ToolResult {
                tool: "mcp__team__report_result".to_owned(),
                output: "recorded".to_owned()
            }
        );
        assert_eq!(conversation.user_texts, ["go"]);
        assert!(!conversation.offers_tools);
    }

    #[test]
    fn a_namespaced_responses_call_is_named_as_claude_names_it() {
        let body = json!({"input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "report"}]},
            {"type": "function_call", "call_id": "call_1", "name": "report_result",
             "namespace": "mcp__team", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "Output:\nrecorded"}
        ], "tools": [{"type": "namespace"}],
           "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}});
        let conversation = Conversation::read(Api::Responses, &body);
        assert_eq!(
            conversation.newest,
            Newest::ToolResult {
                tool: "mcp__team__report_result".to_owned(),
                output: "Output:\nrecorded".to_owned()
            }
        );
        assert_eq!(conversation.user_texts, ["report"]);
        assert_eq!(conversation.newest_user_text(), "report");
        assert_eq!(conversation.output_schema, Some(json!({"type": "object"})));
    }

    #[test]
    fn a_responses_input_string_is_the_user_text() {
        let conversation = Conversation::read(Api::Responses, &json!({"input": "hello"}));
        assert_eq!(conversation.newest, Newest::UserMessage("hello".to_owned()));
        assert_eq!(conversation.user_texts, ["hello"]);
    }

    #[test]
    fn structured_tool_output_is_read_as_its_text() {
        assert_eq!(
            tool_output_text(&json!({"content": [{"type": "input_text", "text": "a"}]})),
            "a"
        );
        assert_eq!(
            tool_output_text(&json!({"success": true})),
            r#"{"success":true}"#
        );
    }
}
