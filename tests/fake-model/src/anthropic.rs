/*!
The Anthropic Messages wire, as Claude Code 2.1.330 reads it: the event stream (`message_start`,
per block `content_block_start` / `content_block_delta` / `content_block_stop`, `message_delta`
with the stop reason, `message_stop`), the same message as one JSON body, and the error body.
*/

use serde_json::{Value, json};

use crate::journal::Block;
use crate::reply::{Envelope, Part, output_tokens};
use crate::scenario::ApiError;
use crate::sse::{SseItem, deltas};

/// The event stream of a message made of `parts`.
pub(crate) fn events(parts: &[Part], envelope: &Envelope) -> Vec<SseItem> {
    let blocks: Vec<Block> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Block(block) => Some(block.clone()),
            Part::Pace(_) => None,
        })
        .collect();
    let mut items = vec![event(
        "message_start",
        json!({"message": {
            "id": message_id(envelope),
            "type": "message",
            "role": "assistant",
            "model": envelope.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage(envelope.input_tokens, 1),
        }}),
    )];
    let mut index = 0;
    for part in parts {
        match part {
            Part::Pace(pace) => items.push(SseItem::Pace(*pace)),
            Part::Block(block) => {
                items.extend(block_events(index, block));
                index += 1;
            }
        }
    }
    items.push(event(
        "message_delta",
        json!({
            "delta": {"stop_reason": stop_reason(&blocks), "stop_sequence": null},
            "usage": {"output_tokens": output_tokens(&blocks)},
        }),
    ));
    items.push(event("message_stop", json!({})));
    items
}

/// The whole message, for a request with `stream: false`.
pub(crate) fn message(blocks: &[Block], envelope: &Envelope) -> Value {
    json!({
        "id": message_id(envelope),
        "type": "message",
        "role": "assistant",
        "model": envelope.model,
        "content": blocks.iter().map(content_block).collect::<Vec<_>>(),
        "stop_reason": stop_reason(blocks),
        "stop_sequence": null,
        "usage": usage(envelope.input_tokens, output_tokens(blocks)),
    })
}

pub(crate) fn error_body(error: &ApiError) -> Value {
    let mut body = json!({"type": error.kind(), "message": error.message});
    if let Some(object) = body.as_object_mut() {
        object.extend(error.fields.clone());
    }
    json!({"type": "error", "error": body})
}

/// A block opens empty, grows by deltas (the tool input as pieces of its JSON text), and closes.
fn block_events(index: usize, block: &Block) -> Vec<SseItem> {
    let (opening, delta_type, field, content) = match block {
        Block::Text { text } => (
            json!({"type": "text", "text": ""}),
            "text_delta",
            "text",
            text.clone(),
        ),
        Block::ToolCall {
            id, name, input, ..
        } => (
            json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            "input_json_delta",
            "partial_json",
            input.to_string(),
        ),
    };
    let mut items = vec![event(
        "content_block_start",
        json!({"index": index, "content_block": opening}),
    )];
    items.extend(deltas(&content).into_iter().map(|piece| {
        event(
            "content_block_delta",
            json!({"index": index, "delta": {"type": delta_type, field: piece}}),
        )
    }));
    items.push(event("content_block_stop", json!({"index": index})));
    items
}

fn content_block(block: &Block) -> Value {
    match block {
        Block::Text { text } => json!({"type": "text", "text": text}),
        Block::ToolCall {
            id, name, input, ..
        } => json!({"type": "tool_use", "id": id, "name": name, "input": input}),
    }
}

fn stop_reason(blocks: &[Block]) -> &'static str {
    if blocks
        .iter()
        .any(|block| matches!(block, Block::ToolCall { .. }))
    {
        "tool_use"
    } else {
        "end_turn"
    }
}

fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    })
}

fn message_id(envelope: &Envelope) -> String {
    format!("msg_{}", envelope.id)
}

/// Every event carries its own name as `type`.
fn event(name: &'static str, mut data: Value) -> SseItem {
    data["type"] = json!(name);
    SseItem::Event { name, data }
}
