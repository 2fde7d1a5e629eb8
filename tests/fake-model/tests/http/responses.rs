/*! The OpenAI Responses side, as Codex 0.169.0 reads it. */

use serde_json::{Value, json};
use team_agent_fake_model::{Api, FakeModel, RequestKind, Rule, Scenario, Step, When};

use crate::support::{codex_tool_result, codex_turn, post, responses_text};

fn done_items(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(name, _)| name == "response.output_item.done")
        .map(|(_, data)| data["item"].clone())
        .collect()
}

#[test]
fn a_text_reply_streams_the_events_codex_accepts_ending_with_completed() {
    let text = "Hello from the fake model! This is a scripted reply.";
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::user_contains("HELLO"),
        [Step::text(text)],
    )]))
    .unwrap();
    let reply = post(&model, "/v1/responses", &codex_turn("say HELLO"));

    assert_eq!(reply.status, 200);
    assert!(reply.headers["content-type"].starts_with("text/event-stream"));
    let events = reply.events();
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(std::iter::repeat_n(
        "response.output_text.delta",
        text.len().div_ceil(16),
    ));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(reply.event_names(), expected);
    for (number, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], number);
    }
    assert_eq!(responses_text(&events), text);
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    let added = &events[2].1["item"];
    assert_eq!(added["type"], "message");
    assert_eq!(added["status"], "in_progress");
    assert_eq!(added["content"], json!([]));
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "fake-model");
    assert_eq!(
        completed["output"][0]["content"],
        json!([{"type": "output_text", "text": text, "annotations": []}])
    );
    let usage = &completed["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
}

#[test]
fn an_mcp_tool_call_is_a_function_call_in_the_servers_namespace() {
    let input = json!({"status": "done", "summary": "namespaced"});
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::user_contains("FAKE_MCP"),
        [
            Step::text("Reporting."),
            Step::mcp_tool("team", "report_result", input.clone()),
        ],
    )]))
    .unwrap();
    let events = post(&model, "/v1/responses", &codex_turn("FAKE_MCP")).events();

    let call = &done_items(&events)[1];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "report_result");
    assert_eq!(call["namespace"], "mcp__team");
    assert_eq!(call["status"], "completed");
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
    let arguments = call["arguments"]
        .as_str()
        .expect("arguments are a JSON string");
    assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), input);

    let added = events
        .iter()
        .filter(|(name, _)| name == "response.output_item.added")
        .map(|(_, data)| data)
        .nth(1)
        .unwrap();
    assert_eq!(added["output_index"], 1);
    assert_eq!(added["item"]["arguments"], "");
    assert_eq!(added["item"]["status"], "in_progress");
    let streamed: String = events
        .iter()
        .filter(|(name, _)| name == "response.function_call_arguments.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(streamed, arguments);
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["output"][1], *call);
}

#[test]
fn a_shell_step_is_exec_command_asking_for_escalated_permissions() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::Always,
        [Step::shell("echo ran > out.txt")],
    )]))
    .unwrap();
    let events = post(&model, "/v1/responses", &codex_turn("anything")).events();
    let call = &done_items(&events)[0];
    assert_eq!(call["name"], "exec_command");
    assert!(call.get("namespace").is_none());
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"cmd": "echo ran > out.txt", "sandbox_permissions": "require_escalated",
               "justification": "Run the scripted command"})
    );
}

#[test]
fn a_namespaced_tool_output_matches_after_tool_by_claudes_name_for_it() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::after_tool("mcp__team__report_result"),
        [Step::text("Got: {{tool_output}}")],
    )
    .id("after")]))
    .unwrap();
    let body = codex_tool_result(
        "FAKE_MCP",
        "mcp__team",
        "report_result",
        "Output:\nrecorded",
    );
    let events = post(&model, "/v1/responses", &body).events();
    assert_eq!(responses_text(&events), "Got: Output:\nrecorded");
    assert_eq!(model.requests()[0].rule_id(), Some("after"));
}

#[test]
fn errors_answer_their_status_in_the_responses_error_shape() {
    let model = FakeModel::start(Scenario::with_rules([
        Rule::new(When::user_contains("FAIL"), [Step::error(500)]),
        Rule::new(When::user_contains("LIMIT"), [Step::error(429)]),
    ]))
    .unwrap();
    let failed = post(&model, "/v1/responses", &codex_turn("FAIL"));
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.json(),
        json!({"error": {"type": "api_error", "code": "api_error",
                         "message": "scripted failure", "param": null}})
    );
    let limited = post(&model, "/v1/responses", &codex_turn("LIMIT"));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "1");
    assert_eq!(limited.json()["error"]["code"], "rate_limit_error");
}

#[test]
fn a_title_request_gets_a_title_object_in_its_text() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let title_request = json!({
        "model": "fake-model",
        "stream": true,
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "Name this thread"}]}],
        "text": {"format": {"type": "json_schema", "name": "title", "strict": true, "schema": {
            "type": "object", "properties": {"title": {"type": "string"}},
            "required": ["title"], "additionalProperties": false
        }}}
    });
    let events = post(&model, "/v1/responses", &title_request).events();
    assert_eq!(
        serde_json::from_str::<Value>(&responses_text(&events)).unwrap(),
        json!({"title": "Scripted session"})
    );
    assert_eq!(model.requests()[0].kind, RequestKind::Side);
}

#[test]
fn a_rule_for_anthropic_is_skipped_by_responses_requests() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::Always,
        [Step::text("for Claude")],
    )
    .api(Api::Anthropic)]))
    .unwrap();
    let events = post(&model, "/v1/responses", &codex_turn("hello")).events();
    assert_eq!(responses_text(&events), "OK.");
}

#[test]
fn a_request_that_does_not_stream_gets_the_completed_response_as_json() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let mut body = codex_turn("hello");
    body["stream"] = json!(false);
    let response = post(&model, "/v1/responses", &body).json();
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0]["content"][0]["text"], "OK.");
}
