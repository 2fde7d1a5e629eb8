/*!
What the tests use to talk to the fake model as a client would: `curl` (a real HTTP client that
checks the chunked framing), never reaching beyond 127.0.0.1, and request bodies shaped like the
ones Claude Code and Codex send.
*/

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use team_agent_fake_model::FakeModel;

/// An HTTP answer as curl received it.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl HttpReply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The server-sent events of the body: (event name, data).
    pub fn events(&self) -> Vec<(String, Value)> {
        sse_events(&self.body)
    }

    pub fn event_names(&self) -> Vec<String> {
        self.events().into_iter().map(|(name, _)| name).collect()
    }
}

pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(value).unwrap_or_else(|e| panic!("{e}: {value}"));
                }
            }
            (name, data)
        })
        .collect()
}

/// `curl` without any proxy from the environment.
pub fn curl() -> Command {
    let mut command = Command::new("curl");
    command.args(["-sS", "--noproxy", "*", "--max-time", "60"]);
    command
}

pub fn post(model: &FakeModel, path: &str, body: &Value) -> HttpReply {
    let output = curl()
        .args(["-i", "-X", "POST", "-H", "content-type: application/json"])
        .args(["--data-binary", &body.to_string()])
        .arg(format!("{}{path}", model.url()))
        .output()
        .expect("curl runs");
    parse_reply(&output)
}

pub fn get(model: &FakeModel, path: &str) -> HttpReply {
    let output = curl()
        .arg("-i")
        .arg(format!("{}{path}", model.url()))
        .output()
        .expect("curl runs");
    parse_reply(&output)
}

fn parse_reply(output: &Output) -> HttpReply {
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout.clone()).expect("UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Runs curl through the fake model as its proxy, with no proxy settings from the environment;
/// returns curl's output with `-w FORMAT` printed last.
pub fn through_proxy(model: &FakeModel, url: &str, format: &str) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "/dev/null", "-w", format])
        .args(["-x", &model.url(), url])
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdin(Stdio::null())
        .output()
        .expect("curl runs")
}

/// A Claude Code turn: built-in tools, the prompt, and the `system` entry Claude appends.
pub fn claude_turn(prompt: &str) -> Value {
    json!({
        "model": "claude-opus-5-5",
        "max_tokens": 32000,
        "stream": true,
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": prompt}]},
            {"role": "system", "content": "a note Claude Code adds after the user turn"}
        ]
    })
}

/// A Claude Code follow-up: the turn, the assistant's tool call, and its result.
pub fn claude_tool_result(prompt: &str, tool: &str, output: &str) -> Value {
    let mut body = claude_turn(prompt);
    body["messages"] = json!([
        {"role": "user", "content": [{"type": "text", "text": prompt}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Calling it."},
            {"type": "tool_use", "id": "toolu_abc", "name": tool, "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_abc",
             "content": [{"type": "text", "text": output}]}]}
    ]);
    body
}

/// A Codex turn: the shell tool, the team MCP server's namespace, developer text and the prompt.
pub fn codex_turn(prompt: &str) -> Value {
    json!({
        "model": "fake-model",
        "stream": true,
        "tools": [{"type": "function", "name": "exec_command"},
                  {"type": "namespace", "name": "mcp__team"}],
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "sandbox rules"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": prompt}]}
        ]
    })
}

/// A Codex follow-up: the turn, the namespaced call and its output.
pub fn codex_tool_result(prompt: &str, namespace: &str, tool: &str, output: &str) -> Value {
    let mut body = codex_turn(prompt);
    let items = body["input"].as_array_mut().expect("input items");
    items.push(
        json!({"type": "function_call", "call_id": "call_abc", "name": tool,
                      "namespace": namespace, "arguments": "{}"}),
    );
    items.push(json!({"type": "function_call_output", "call_id": "call_abc", "output": output}));
    body
}

/// The text of an Anthropic stream: its text deltas joined.
pub fn anthropic_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(name, data)| {
            name == "content_block_delta" && data["delta"]["type"] == "text_delta"
        })
        .map(|(_, data)| data["delta"]["text"].as_str().unwrap_or_default())
        .collect()
}

/// The text of a Responses stream: its `output_text` deltas joined.
pub fn responses_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(name, _)| name == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap_or_default())
        .collect()
}
