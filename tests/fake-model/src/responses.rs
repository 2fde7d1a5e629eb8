/*!
The OpenAI Responses wire, as Codex 0.169.0 reads it: the event stream (`response.created`, per
output item `response.output_item.added`, its text or argument deltas and `.done` events,
`response.output_item.done`, then the mandatory `response.completed` with usage), the completed
response as one JSON body, and the error body.
*/

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::journal::Block;
use crate::reply::{Envelope, Part, output_tokens};
use crate::scenario::ApiError;
use crate::sse::{SseItem, deltas};

/// The event stream of a response made of `parts`.
pub(crate) fn events(parts: &[Part], envelope: &Envelope) -> Vec<SseItem> {
    let created_at = now_s();
    let mut stream = EventStream::default();
    let in_progress = response(envelope, created_at, "in_progress", &[]);
    stream.event("response.created", json!({"response": in_progress}));
    stream.event("response.in_progress", json!({"response": in_progress}));
    let mut blocks = Vec::new();
    for part in parts {
        match part {
            Part::Pace(pace) => stream.items.push(SseItem::Pace(*pace)),
            Part::Block(block) => {
                stream.item_events(blocks.len(), block, envelope);
                blocks.push(block.clone());
            }
        }
    }
    stream.event(
        "response.completed",
        json!({"response": response(envelope, created_at, "completed", &blocks)}),
    );
    stream.items
}

/// The completed response, for a request with `stream: false`.
pub(crate) fn completed(blocks: &[Block], envelope: &Envelope) -> Value {
    response(envelope, now_s(), "completed", blocks)
}

pub(crate) fn error_body(error: &ApiError) -> Value {
    let mut body = json!({
        "type": error.kind(),
        "code": error.code.as_deref().unwrap_or(error.kind()),
        "message": error.message,
        "param": null,
    });
    if let Some(object) = body.as_object_mut() {
        object.extend(error.fields.clone());
    }
    json!({ "error": body })
}

#[derive(Default)]
struct EventStream {
    items: Vec<SseItem>,
    sequence_number: u64,
}

impl EventStream {
    /// Every event carries its own name as `type` and its place in the stream.
    fn event(&mut self, name: &'static str, mut data: Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.sequence_number);
        self.sequence_number += 1;
        self.items.push(SseItem::Event { name, data });
    }

    /// An item is added empty, grows by deltas, and is done with its whole content.
    fn item_events(&mut self, output_index: usize, block: &Block, envelope: &Envelope) {
        let done = output_item(output_index, block, envelope);
        let item_id = done["id"].clone();
        let mut added = done.clone();
        added["status"] = json!("in_progress");
        let at = json!({"item_id": item_id, "output_index": output_index});
        match block {
            Block::Text { text } => {
                added["content"] = json!([]);
                self.event(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                let part =
                    |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
                let at = with(&at, json!({"content_index": 0}));
                self.event(
                    "response.content_part.added",
                    with(&at, json!({"part": part("")})),
                );
                for piece in deltas(text) {
                    self.event(
                        "response.output_text.delta",
                        with(&at, json!({"delta": piece})),
                    );
                }
                self.event(
                    "response.output_text.done",
                    with(&at, json!({"text": text})),
                );
                self.event(
                    "response.content_part.done",
                    with(&at, json!({"part": part(text)})),
                );
            }
            Block::ToolCall { .. } => {
                added["arguments"] = json!("");
                self.event(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                let arguments = done["arguments"].as_str().unwrap_or_default().to_owned();
                for piece in deltas(&arguments) {
                    self.event(
                        "response.function_call_arguments.delta",
                        with(&at, json!({"delta": piece})),
                    );
                }
                self.event(
                    "response.function_call_arguments.done",
                    with(&at, json!({"arguments": arguments})),
                );
            }
        }
        self.event(
            "response.output_item.done",
            json!({"output_index": output_index, "item": done}),
        );
    }
}

/// A block as a completed output item: a `message`, or a `function_call` whose `arguments` is
/// the input as a JSON string.
fn output_item(output_index: usize, block: &Block, envelope: &Envelope) -> Value {
    match block {
        Block::Text { text } => json!({
            "id": format!("msg_{}_{output_index}", envelope.id),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }),
        Block::ToolCall {
            id,
            name,
            namespace,
            input,
        } => {
            let mut call = json!({
                "id": format!("fc_{}_{output_index}", envelope.id),
                "type": "function_call",
                "status": "completed",
                "call_id": id,
                "name": name,
                "arguments": input.to_string(),
            });
            if let Some(namespace) = namespace {
                call["namespace"] = json!(namespace);
            }
            call
        }
    }
}

fn response(envelope: &Envelope, created_at: u64, status: &str, blocks: &[Block]) -> Value {
    let output: Vec<Value> = blocks
        .iter()
        .enumerate()
        .map(|(index, block)| output_item(index, block, envelope))
        .collect();
    let usage = (status == "completed").then(|| {
        let output_tokens = output_tokens(blocks);
        json!({
            "input_tokens": envelope.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": envelope.input_tokens + output_tokens,
        })
    });
    json!({
        "id": format!("resp_{}", envelope.id),
        "object": "response",
        "created_at": created_at,
        "model": envelope.model,
        "status": status,
        "output": output,
        "usage": usage,
        "error": null,
        "incomplete_details": null,
    })
}

/// `base` with the fields of `extra` added.
fn with(base: &Value, extra: Value) -> Value {
    let mut all = base.clone();
    if let (Some(fields), Value::Object(extra)) = (all.as_object_mut(), extra) {
        fields.extend(extra);
    }
    all
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
