/*!
The Gemini API wire, as Gemini CLI 0.61.0 reads it (through `@google/genai`): the request's
`contents` read into a [`Conversation`], the streamed answer (`:streamGenerateContent?alt=sse`:
`data:` lines only, no `event:` names, each a `GenerateContentResponse` with one candidate, the
last carrying `finishReason` and `usageMetadata`), the same answer as one JSON body
(`:generateContent`), token counts (`:countTokens`) and the error body (`{"error": {"code",
"message", "status"}}`).

Gemini names a tool of an MCP server `mcp_<server>_<tool>` and its shell tool
`run_shell_command`; a tool result comes back as a `functionResponse` part of a `user` content,
named by the tool (not by the call's id).
*/

use serde_json::{Value, json};

use crate::conversation::{Conversation, Newest};
use crate::journal::Block;
use crate::reply::{Envelope, Part, output_tokens};
use crate::scenario::ApiError;
use crate::sse::{SseItem, deltas};

/// The methods of `POST /v1beta/models/{model}:{method}` the fake model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Stream,
    Generate,
    CountTokens,
}

/// The method of a Gemini model path (`/v1beta/models/gemini-2.5-flash:streamGenerateContent`).
pub(crate) fn method(path: &str) -> Option<Method> {
    let rest = path.strip_prefix("/v1beta/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    match method {
        "streamGenerateContent" => Some(Method::Stream),
        "generateContent" => Some(Method::Generate),
        "countTokens" => Some(Method::CountTokens),
        _ => None,
    }
}

/// The model a Gemini path names.
pub(crate) fn model_of(path: &str) -> &str {
    path.split('?')
        .next()
        .and_then(|p| p.strip_prefix("/v1beta/models/"))
        .and_then(|rest| rest.rsplit_once(':'))
        .map_or("fake-model", |(model, _)| model)
}

/// `contents` (and `tools`, `generationConfig`) as one [`Conversation`]. Gemini CLI sends its
/// session context as a user text of its own before the first prompt; it is kept as it is.
pub(crate) fn read(body: &Value) -> Conversation {
    let contents = body["contents"].as_array().map_or(&[][..], Vec::as_slice);
    let user_texts = contents
        .iter()
        .filter(|content| content["role"] == "user")
        .filter_map(|content| texts_of(&content["parts"]))
        .collect();
    let newest = match contents.last() {
        Some(content) if content["role"] == "user" => newest_of(&content["parts"]),
        _ => Newest::Other,
    };
    let config = &body["generationConfig"];
    let schema = config
        .get("responseJsonSchema")
        .or_else(|| config.get("responseSchema"))
        .filter(|schema| schema.is_object());
    Conversation {
        user_texts,
        newest,
        offers_tools: body["tools"].as_array().is_some_and(|tools| {
            tools.iter().any(|tool| {
                tool["functionDeclarations"]
                    .as_array()
                    .is_some_and(|declarations| !declarations.is_empty())
            })
        }),
        output_schema: schema.map(lowercase_types),
    }
}

/// A user content: the result of a tool when it carries a `functionResponse`, else its text.
fn newest_of(parts: &Value) -> Newest {
    let parts = parts.as_array().map_or(&[][..], Vec::as_slice);
    let result = parts
        .iter()
        .rev()
        .find_map(|part| part.get("functionResponse"));
    match result {
        Some(result) => Newest::ToolResult {
            tool: result["name"].as_str().unwrap_or_default().to_owned(),
            output: response_text(&result["response"]),
        },
        None => Newest::UserMessage(texts_of(&Value::from(parts.to_vec())).unwrap_or_default()),
    }
}

/// Gemini CLI answers `{"output": "…"}` for a tool that ran and `{"error": "…"}` for one that
/// did not; anything else is shown as its JSON.
fn response_text(response: &Value) -> String {
    for field in ["output", "error"] {
        if let Some(text) = response[field].as_str() {
            return text.to_owned();
        }
    }
    match response {
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `text` parts joined by newlines (thoughts aside); `None` when there are none.
fn texts_of(parts: &Value) -> Option<String> {
    let texts: Vec<&str> = parts
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|part| part["thought"] != true)
        .filter_map(|part| part["text"].as_str())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// Gemini's schemas name their types in capitals (`OBJECT`, `STRING`); the reply's schema
/// instances read JSON Schema's lowercase names.
fn lowercase_types(schema: &Value) -> Value {
    match schema {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let value = match (name.as_str(), value) {
                        ("type", Value::String(kind)) => Value::String(kind.to_ascii_lowercase()),
                        _ => lowercase_types(value),
                    };
                    (name.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lowercase_types).collect()),
        other => other.clone(),
    }
}

/// The stream of an answer made of `parts`: text in deltas, each tool call whole, the last
/// chunk carrying the finish reason and the usage (as the real API sends them; Gemini CLI
/// 0.61.0 repeats the last text in its `AfterAgent` hook when they come in a chunk of their own).
pub(crate) fn events(parts: &[Part], envelope: &Envelope) -> Vec<SseItem> {
    let mut items = Vec::new();
    let mut blocks = Vec::new();
    let mut pieces: Vec<Value> = Vec::new();
    for part in parts {
        match part {
            Part::Pace(pace) => {
                flush(&mut pieces, &mut items, envelope);
                items.push(SseItem::Pace(*pace));
            }
            Part::Block(block) => {
                match block {
                    Block::Text { text } => {
                        pieces.extend(deltas(text).into_iter().map(|piece| json!({"text": piece})))
                    }
                    Block::ToolCall { .. } => pieces.push(part_of(block)),
                }
                blocks.push(block.clone());
            }
        }
    }
    flush(&mut pieces, &mut items, envelope);
    let usage = usage(envelope, &blocks);
    match items.iter_mut().rev().find_map(|item| match item {
        SseItem::Data(data) => Some(data),
        SseItem::Pace(_) | SseItem::Event { .. } => None,
    }) {
        Some(last) => finish(last, usage),
        None => {
            let mut only = chunk(Vec::new(), envelope);
            finish(&mut only, usage);
            items.push(SseItem::Data(only));
        }
    }
    items
}

/// Each waiting piece as a chunk of its own.
fn flush(pieces: &mut Vec<Value>, items: &mut Vec<SseItem>, envelope: &Envelope) {
    for piece in pieces.drain(..) {
        items.push(SseItem::Data(chunk(vec![piece], envelope)));
    }
}

/// The whole answer, for `:generateContent`.
pub(crate) fn response(blocks: &[Block], envelope: &Envelope) -> Value {
    let mut whole = chunk(blocks.iter().map(part_of).collect(), envelope);
    finish(&mut whole, usage(envelope, blocks));
    whole
}

/// `:countTokens`.
pub(crate) fn token_count(input_tokens: u64) -> Value {
    json!({"totalTokens": input_tokens})
}

pub(crate) fn error_body(error: &ApiError) -> Value {
    let mut body = json!({
        "code": error.status,
        "message": error.message,
        "status": error.code.as_deref().unwrap_or(status_name(error.status)),
    });
    if let Some(object) = body.as_object_mut() {
        object.extend(error.fields.clone());
    }
    json!({"error": body})
}

/// Google's canonical status names for the HTTP statuses the scenarios use.
fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// One `GenerateContentResponse` with one candidate.
fn chunk(parts: Vec<Value>, envelope: &Envelope) -> Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
        "modelVersion": envelope.model,
        "responseId": format!("resp_{}", envelope.id),
    })
}

/// Marks `chunk` as the last: the finish reason, and the usage of the whole answer.
fn finish(chunk: &mut Value, usage: Value) {
    chunk["candidates"][0]["finishReason"] = json!("STOP");
    chunk["usageMetadata"] = usage;
}

fn part_of(block: &Block) -> Value {
    match block {
        Block::Text { text } => json!({"text": text}),
        Block::ToolCall {
            id, name, input, ..
        } => json!({"functionCall": {"id": id, "name": name, "args": input}}),
    }
}

fn usage(envelope: &Envelope, blocks: &[Block]) -> Value {
    let output = output_tokens(blocks);
    json!({
        "promptTokenCount": envelope.input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": envelope.input_tokens + output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            id: "fake1".to_owned(),
            model: "gemini-2.5-flash".to_owned(),
            input_tokens: 10,
        }
    }

    #[test]
    fn model_paths_name_their_method_and_model() {
        let path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";
        assert_eq!(method(path), Some(Method::Stream));
        assert_eq!(
            method("/v1beta/models/m:generateContent"),
            Some(Method::Generate)
        );
        assert_eq!(
            method("/v1beta/models/m:countTokens"),
            Some(Method::CountTokens)
        );
        assert_eq!(method("/v1beta/models/m:embedContent"), None);
        assert_eq!(method("/v1beta/models/:generateContent"), None);
        assert_eq!(method("/v1/messages"), None);
        assert_eq!(model_of(&format!("{path}?alt=sse")), "gemini-2.5-flash");
    }

    #[test]
    fn a_function_response_is_the_result_of_the_tool_it_names() {
        let body = json!({"contents": [
            {"role": "user", "parts": [{"text": "<session_context>…</session_context>"}]},
            {"role": "user", "parts": [{"text": "report it"}]},
            {"role": "model", "parts": [{"thought": true, "text": "thinking"},
                                        {"functionCall": {"name": "mcp_team_report_result", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "mcp_team_report_result",
                                                             "response": {"output": "recorded"}}}]}
        ], "tools": [{"functionDeclarations": [{"name": "mcp_team_report_result"}]}]});
        let conversation = read(&body);
        assert_eq!(
            conversation.newest,
            Newest::ToolResult {
                tool: "mcp_team_report_result".to_owned(),
                output: "recorded".to_owned()
            }
        );
        assert_eq!(
            conversation.user_texts,
            ["<session_context>…</session_context>", "report it"]
        );
        assert!(conversation.offers_tools);
        assert_eq!(conversation.output_schema, None);
    }

    #[test]
    fn a_routing_request_is_a_side_request_with_a_lowercase_schema() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
                "type": "OBJECT", "properties": {"complexity_score": {"type": "INTEGER"}}}}});
        let conversation = read(&body);
        assert_eq!(conversation.newest, Newest::UserMessage("hello".to_owned()));
        assert!(conversation.is_side());
        assert_eq!(
            conversation.output_schema,
            Some(
                json!({"type": "object", "properties": {"complexity_score": {"type": "integer"}}})
            )
        );
    }

    #[test]
    fn the_stream_is_data_lines_whose_last_carries_the_finish_reason_and_usage() {
        let parts = [
            Part::Block(Block::Text {
                text: "Reporting the result now.".to_owned(),
            }),
            Part::Block(Block::ToolCall {
                id: "call_fake1_1".to_owned(),
                name: "mcp_team_report_result".to_owned(),
                namespace: None,
                input: json!({"status": "done"}),
            }),
        ];
        let items = events(&parts, &envelope());
        let chunks: Vec<&Value> = items
            .iter()
            .map(|item| match item {
                SseItem::Data(data) => data,
                other => panic!("not a data line: {other:?}"),
            })
            .collect();
        assert_eq!(chunks.len(), 3, "two text deltas, the call");
        let text: String = chunks[..2]
            .iter()
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, "Reporting the result now.");
        assert_eq!(
            chunks[2]["candidates"][0]["content"]["parts"][0]["functionCall"],
            json!({"id": "call_fake1_1", "name": "mcp_team_report_result", "args": {"status": "done"}})
        );
        assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(chunks[2]["usageMetadata"]["promptTokenCount"], 10);
        assert!(chunks[..2].iter().all(|c| c.get("usageMetadata").is_none()));
    }

    #[test]
    fn errors_carry_googles_status_names() {
        let error = ApiError::new(429, "rate_limit_error", "slow down".to_owned());
        assert_eq!(
            error_body(&error),
            json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
        );
    }
}
