/*!
Composing an answer: the chosen steps become content blocks named as the request's API expects
(placeholders filled, tool calls given ids), or an error. Side requests that ask for a JSON
schema get an instance of it. How blocks go on the wire is the API modules' job.
*/

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::conversation::Conversation;
use crate::journal::Block;
use crate::playbook::Choice;
use crate::scenario::{Api, ApiError, McpToolCall, ShellCommand, Step};

/// What to send for one model request.
pub(crate) enum Answer {
    Message(Vec<Part>),
    Error(ApiError),
}

/// A piece of a message in the order it is sent: a block, or a change of pace for the events
/// after it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Block(Block),
    Pace(Duration),
}

/// What a message says about itself besides its content.
pub(crate) struct Envelope {
    /// Unique on the server; the APIs' ids are made from it (`msg_…`, `resp_…`).
    pub(crate) id: String,
    /// The model the request asked for, echoed as the real APIs do.
    pub(crate) model: String,
    pub(crate) input_tokens: u64,
}

/// A rough token count (four bytes a token) for usage figures, which the CLIs show.
pub(crate) fn estimate_tokens(bytes: usize) -> u64 {
    (bytes / 4).max(1) as u64
}

/// The estimated output tokens of these blocks.
pub(crate) fn output_tokens(blocks: &[Block]) -> u64 {
    let bytes = blocks
        .iter()
        .map(|block| match block {
            Block::Text { text } => text.len(),
            Block::ToolCall { name, input, .. } => name.len() + input.to_string().len(),
        })
        .sum();
    estimate_tokens(bytes)
}

/// `id` makes this answer's tool call ids unique on the server.
pub(crate) fn compose(api: Api, choice: &Choice, conversation: &Conversation, id: &str) -> Answer {
    let steps = match choice {
        Choice::Side { text } => {
            return Answer::Message(vec![Part::Block(side_answer(text, conversation))]);
        }
        Choice::Reply { steps, .. } => steps,
    };
    let mut parts = Vec::with_capacity(steps.len());
    let mut calls = 0;
    for step in steps {
        let mut call_id = || {
            calls += 1;
            // Anthropic ids are `toolu_…`, Responses call ids `call_…`, as the real APIs make them.
            match api {
                Api::Anthropic => format!("toolu_{id}_{calls}"),
                Api::Responses | Api::Gemini => format!("call_{id}_{calls}"),
            }
        };
        let block = match step {
            Step::Error(error) => return Answer::Error(error.clone()),
            Step::Slow(pace) => {
                parts.push(Part::Pace(Duration::from_millis(pace.event_delay_ms)));
                continue;
            }
            Step::Text(text) => Block::Text {
                text: fill_placeholders(text, conversation),
            },
            Step::McpTool(call) => mcp_call(api, call, call_id()),
            Step::Shell(shell) => shell_call(api, shell, call_id()),
            Step::Tool(call) => Block::ToolCall {
                id: call_id(),
                name: call.name.clone(),
                namespace: None,
                input: call.input.clone(),
            },
        };
        parts.push(Part::Block(block));
    }
    Answer::Message(parts)
}

impl Answer {
    /// The answer as recorded.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        match self {
            Answer::Message(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    Part::Block(block) => Some(block.clone()),
                    Part::Pace(_) => None,
                })
                .collect(),
            Answer::Error(_) => Vec::new(),
        }
    }
}

fn fill_placeholders(text: &str, conversation: &Conversation) -> String {
    text.replace("{{tool_output}}", conversation.tool_output())
        .replace("{{user_text}}", conversation.newest_user_text())
}

/// Claude runs a flat `mcp__<server>__<tool>`; Codex 0.169 refuses that name ("unsupported
/// call") and wants the tool's own name in the namespace `mcp__<server>`; Gemini CLI names it
/// `mcp_<server>_<tool>`.
fn mcp_call(api: Api, call: &McpToolCall, id: String) -> Block {
    let (name, namespace) = match api {
        Api::Anthropic => (format!("mcp__{}__{}", call.server, call.name), None),
        Api::Responses => (call.name.clone(), Some(format!("mcp__{}", call.server))),
        Api::Gemini => (format!("mcp_{}_{}", call.server, call.name), None),
    };
    Block::ToolCall {
        id,
        name,
        namespace,
        input: call.input.clone(),
    }
}

fn shell_call(api: Api, shell: &ShellCommand, id: String) -> Block {
    let reason = shell
        .description
        .clone()
        .unwrap_or_else(|| "Run the scripted command".to_owned());
    let (name, input) = match api {
        Api::Anthropic => (
            "Bash",
            json!({"command": shell.command, "description": reason}),
        ),
        // Escalated permissions make Codex ask before running it, even in a read-only sandbox.
        Api::Gemini => (
            "run_shell_command",
            json!({"command": shell.command, "description": reason}),
        ),
        Api::Responses => (
            "exec_command",
            json!({
                "cmd": shell.command,
                "sandbox_permissions": "require_escalated",
                "justification": reason,
            }),
        ),
    };
    Block::ToolCall {
        id,
        name: name.to_owned(),
        namespace: None,
        input,
    }
}

/// The side text, or an instance of the requested schema whose strings are the side text (the
/// CLIs parse it: Claude and Codex both want `{"title": …}` for a session title).
fn side_answer(text: &str, conversation: &Conversation) -> Block {
    let text = match &conversation.output_schema {
        Some(schema) => instance_of(schema, text).to_string(),
        None => text.to_owned(),
    };
    Block::Text { text }
}

/// A small value that satisfies `schema`, with `text` for its strings.
fn instance_of(schema: &Value, text: &str) -> Value {
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    for alternatives in ["anyOf", "oneOf"] {
        if let Some(first) = schema[alternatives].as_array().and_then(|s| s.first()) {
            return instance_of(first, text);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|kind| *kind != "null")
            .unwrap_or(&Value::Null),
        kind => kind,
    };
    match kind.as_str() {
        Some("object") => {
            let properties = schema["properties"].as_object();
            let object: Map<String, Value> = properties
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), instance_of(property, text)))
                .collect();
            Value::Object(object)
        }
        Some("array") => {
            let needed = schema["minItems"].as_u64().unwrap_or(0);
            let item = instance_of(&schema["items"], text);
            Value::Array((0..needed).map(|_| item.clone()).collect())
        }
        Some("integer" | "number") => schema.get("minimum").cloned().unwrap_or(json!(0)),
        Some("boolean") => json!(false),
        Some("null") => Value::Null,
        _ => {
            let longest = schema["maxLength"]
                .as_u64()
                .map_or(usize::MAX, |n| n as usize);
            Value::String(text.chars().take(longest).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Newest;

    #[test]
    fn a_title_schema_gets_the_side_text_in_its_string_fields() {
        let schema = json!({"type": "object", "properties": {
            "title": {"type": "string", "maxLength": 8},
            "kind": {"enum": ["short", "long"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "words": {"type": ["integer", "null"]},
            "done": {"type": "boolean"}
        }, "required": ["title"]});
        assert_eq!(
            instance_of(&schema, "Scripted session"),
            json!({"title": "Scripted", "kind": "short", "tags": ["Scripted session"],
                   "words": 0, "done": false})
        );
    }

    #[test]
    fn placeholders_take_the_newest_tool_output_and_user_text() {
        let conversation = Conversation {
            user_texts: vec!["old".to_owned(), "new".to_owned()],
            newest: Newest::ToolResult {
                tool: "Bash".to_owned(),
                output: "42".to_owned(),
            },
            offers_tools: true,
            output_schema: None,
        };
        assert_eq!(
            fill_placeholders("{{user_text}} gave {{tool_output}}", &conversation),
            "new gave 42"
        );
    }
}
