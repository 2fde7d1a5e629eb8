/*! The Anthropic Messages side, as Claude Code 2.1.330 reads it. */

use serde_json::{Value, json};
use team_agent_fake_model::{
    Api, Block, FakeModel, Matched, Replied, RequestKind, Rule, Scenario, Step, When,
};

use crate::support::{anthropic_text, claude_tool_result, claude_turn, post};

const GREETING: &str = "Hello from the fake model! This is a scripted reply.";

fn events_of(events: &[(String, Value)], name: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|(event, _)| event == name)
        .map(|(_, data)| data.clone())
        .collect()
}

#[test]
fn a_text_reply_streams_the_events_claude_code_accepts() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::user_contains("HELLO"),
        [Step::text(GREETING)],
    )]))
    .unwrap();
    let reply = post(&model, "/v1/messages?beta=true", &claude_turn("say HELLO"));

    assert_eq!(reply.status, 200);
    assert!(reply.headers["content-type"].starts_with("text/event-stream"));
    assert_eq!(reply.headers["transfer-encoding"], "chunked");
    let events = reply.events();
    let deltas = GREETING.len().div_ceil(16);
    let mut expected = vec!["message_start", "content_block_start"];
    expected.extend(std::iter::repeat_n("content_block_delta", deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(reply.event_names(), expected);
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str(), "every event names itself");
    }
    let start = &events[0].1["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "claude-opus-5-5");
    assert_eq!(start["content"], json!([]));
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        events[1].1,
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(anthropic_text(&events), GREETING);
    let stop = &events_of(&events, "message_delta")[0];
    assert_eq!(
        stop["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert!(stop["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn an_mcp_tool_call_is_a_tool_use_named_mcp_server_tool() {
    let input = json!({"status": "done", "summary": "reported by the fake model"});
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::user_contains("FAKE_MCP"),
        [
            Step::text("I will report the result now."),
            Step::mcp_tool("team", "report_result", input.clone()),
        ],
    )]))
    .unwrap();
    let events = post(&model, "/v1/messages", &claude_turn("FAKE_MCP")).events();

    let starts = events_of(&events, "content_block_start");
    assert_eq!(starts.len(), 2);
    let tool_use = &starts[1]["content_block"];
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(tool_use["type"], "tool_use");
    assert_eq!(tool_use["name"], "mcp__team__report_result");
    assert_eq!(tool_use["input"], json!({}));
    let id = tool_use["id"].as_str().unwrap();
    assert!(id.starts_with("toolu_"), "{id}");
    let partial_json: String = events_of(&events, "content_block_delta")
        .iter()
        .filter(|delta| delta["index"] == 1)
        .map(|delta| {
            assert_eq!(delta["delta"]["type"], "input_json_delta");
            delta["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&partial_json).unwrap(), input);
    assert_eq!(
        events_of(&events, "message_delta")[0]["delta"]["stop_reason"],
        "tool_use"
    );

    let recorded = &model.requests()[0];
    assert_eq!(
        recorded.replied,
        Replied::Message {
            blocks: vec![
                Block::Text {
                    text: "I will report the result now.".to_owned()
                },
                Block::ToolCall {
                    id: id.to_owned(),
                    name: "mcp__team__report_result".to_owned(),
                    namespace: None,
                    input,
                },
            ]
        }
    );
}

#[test]
fn a_shell_step_is_a_bash_tool_use_with_command_and_description() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::Always,
        [Step::shell("echo ran > out.txt")],
    )]))
    .unwrap();
    let reply = post(&model, "/v1/messages", &claude_turn("anything"));
    let Replied::Message { blocks } = &model.requests()[0].replied else {
        panic!("{:?}", model.requests()[0].replied)
    };
    let [Block::ToolCall { name, input, .. }] = blocks.as_slice() else {
        panic!("{blocks:?}")
    };
    assert_eq!(name, "Bash");
    assert_eq!(
        *input,
        json!({"command": "echo ran > out.txt", "description": "Run the scripted command"})
    );
    assert_eq!(
        events_of(&reply.events(), "content_block_start")[0]["content_block"]["name"],
        "Bash"
    );
}

#[test]
fn a_tool_result_matches_after_tool_and_fills_in_the_tool_output() {
    let model = FakeModel::start(Scenario::with_rules([
        Rule::new(
            When::user_contains("FAKE_MCP"),
            [Step::mcp_tool("team", "report_result", json!({}))],
        ),
        Rule::new(
            When::after_tool("report_result"),
            [Step::text("Tool said {{tool_output}} to {{user_text}}")],
        )
        .id("after"),
    ]))
    .unwrap();
    let body = claude_tool_result(
        "FAKE_MCP please",
        "mcp__team__report_result",
        "recorded: ok",
    );
    let events = post(&model, "/v1/messages", &body).events();

    assert_eq!(
        anthropic_text(&events),
        "Tool said recorded: ok to FAKE_MCP please"
    );
    assert_eq!(model.requests()[0].rule_id(), Some("after"));
}

#[test]
fn a_request_that_does_not_stream_gets_the_whole_message_as_json() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::Always,
        [
            Step::text("Calling."),
            Step::tool("Read", json!({"file_path": "/x"})),
        ],
    )]))
    .unwrap();
    let mut body = claude_turn("read it");
    body["stream"] = json!(false);
    let reply = post(&model, "/v1/messages", &body);

    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    let message = reply.json();
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(
        message["content"][0],
        json!({"type": "text", "text": "Calling."})
    );
    assert_eq!(message["content"][1]["type"], "tool_use");
    assert_eq!(message["content"][1]["name"], "Read");
    assert_eq!(message["content"][1]["input"], json!({"file_path": "/x"}));
}

#[test]
fn errors_answer_their_status_in_anthropics_error_shape() {
    let failing = |word: &str, step: Step| Rule::new(When::user_contains(word), [step]);
    let model = FakeModel::start(Scenario::with_rules([
        failing("FAIL", Step::error(500)),
        failing("LIMIT", Step::error(429)),
        failing("BUSY", Step::error(529)),
    ]))
    .unwrap();

    let failed = post(&model, "/v1/messages", &claude_turn("FAIL"));
    assert_eq!(failed.status, 500);
    assert_eq!(failed.headers["content-type"], "application/json");
    assert_eq!(
        failed.json(),
        json!({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}})
    );
    assert!(!failed.headers.contains_key("retry-after"));

    let limited = post(&model, "/v1/messages", &claude_turn("LIMIT"));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "1");
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");

    let busy = post(&model, "/v1/messages", &claude_turn("BUSY"));
    assert_eq!(busy.status, 529);
    assert_eq!(busy.json()["error"]["type"], "overloaded_error");

    let Replied::Error { error } = &model.requests()[2].replied else {
        panic!("{:?}", model.requests()[2].replied)
    };
    assert_eq!(error.status, 529);
}

#[test]
fn a_title_request_gets_an_instance_of_its_schema_and_uses_no_rule() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::Always,
        [Step::text("the turn")],
    )
    .times(1)]))
    .unwrap();
    let title_request = json!({
        "model": "claude-haiku-4-5",
        "stream": true,
        "messages": [{"role": "user", "content": "Write a title for: say hello"}],
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object",
            "properties": {"title": {"type": "string"}},
            "required": ["title"],
            "additionalProperties": false
        }}}
    });
    let title = post(&model, "/v1/messages", &title_request);
    let text = anthropic_text(&title.events());
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"title": "Scripted session"})
    );
    let turn = post(&model, "/v1/messages", &claude_turn("say hello"));
    assert_eq!(anthropic_text(&turn.events()), "the turn");

    let requests = model.requests();
    assert_eq!(requests[0].kind, RequestKind::Side);
    assert_eq!(requests[0].matched, Some(Matched::Side));
    assert_eq!(requests[1].kind, RequestKind::Main);
    assert_eq!(model.main_requests().len(), 1);
}

#[test]
fn count_tokens_answers_a_token_count() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let reply = post(
        &model,
        "/v1/messages/count_tokens",
        &claude_turn("count me"),
    );
    assert_eq!(reply.status, 200);
    assert!(reply.json()["input_tokens"].as_u64().unwrap() > 0);
    let requests = model.requests();
    assert_eq!(requests[0].kind, RequestKind::TokenCount);
    assert_eq!(requests[0].api, Some(Api::Anthropic));
    assert!(model.main_requests().is_empty());
}
