/*!
A scripted model server for tests: it plays the model for the real CLIs, Claude Code 2.1.330
(Anthropic Messages API), Codex 0.169.0 (OpenAI Responses API) and Gemini CLI 0.61.0 (the Gemini
API), streamed as server-sent events, and records every request so a test can assert on what the CLI sent.

A [`Scenario`] says what to answer; [`FakeModel::start`] serves it on `127.0.0.1` at a free port
until the [`FakeModel`] is dropped. Point the CLIs at [`FakeModel::url`]:
- Claude Code: `ANTHROPIC_BASE_URL=<url>` (and a key in `ANTHROPIC_AUTH_TOKEN`);
- Codex: a model provider with `base_url = "<url>/v1"` and `wire_api = "responses"`;
- Gemini CLI: `GOOGLE_GEMINI_BASE_URL=<url>` (and a key in `GEMINI_API_KEY`);
- both: `HTTPS_PROXY` and `HTTP_PROXY` set to `<url>` with `NO_PROXY=127.0.0.1,localhost`, so
  anything that tries to leave the machine lands here, is refused (403) and shows in
  [`FakeModel::egress`].

[`isolation::isolate_network`] keeps the CLIs off the network altogether: run as root, it
puts the calling thread in a loopback-only network namespace before anything is started.

# Endpoints

| request | answer |
|---|---|
| `POST /v1/messages` (`?beta=true` too) | Anthropic message, streamed when `stream` is true |
| `POST /v1/messages/count_tokens` | `{"input_tokens": N}` |
| `POST /v1/responses` | Responses response, streamed when `stream` is true |
| `POST /v1beta/models/{model}:streamGenerateContent` (`?alt=sse`) | Gemini answer, streamed |
| `POST /v1beta/models/{model}:generateContent` | Gemini answer as one body |
| `POST /v1beta/models/{model}:countTokens` | `{"totalTokens": N}` |
| `CONNECT host:port`, or an absolute URL (`GET http://…`) | 403, recorded as egress |
| anything else | 404 with a JSON error naming the path, recorded |

# Scenarios

Rules are tried in order and the first that matches answers; a rule matches on the newest item
of the conversation (Claude's trailing `{"role":"system"}` entries are skipped):
`{"user_contains": "X"}` (a user message containing `X`), `{"after_tool": "Y"}` (the result of a
tool whose name contains `Y`; `""` is any tool), or `"always"`. A rule may be limited to
`"times": N` uses and to one `"api"` (`anthropic`, `responses` or `gemini`). When no rule matches, the
`default` reply answers (`OK.` unless set).

A reply is a list of steps: `{"text": …}` (with `{{tool_output}}` and `{{user_text}}` filled
in), `{"mcp_tool": {"server", "name", "input"}}` (named `mcp__<server>__<tool>` for Claude,
`<tool>` in the namespace `mcp__<server>` for Codex, `mcp_<server>_<tool>` for Gemini),
`{"shell": {"command"}}` (Claude's `Bash`, Codex's `exec_command`, Gemini's `run_shell_command`,
each asking for approval), `{"tool": {"name", "input"}}` (as written),
`{"error": {"status", "type", "message", "fields"}}` (the whole answer: that HTTP status in the API's error
shape; a 429 carries `retry-after`), and `{"slow": {"event_delay_ms": N}}` (every later event
of the stream waits N ms; text goes out in 16-character deltas, so a long text lasts long).

Side requests, which offer no tools and ask for an answer in a JSON schema (the CLIs' session
titles), never consume rules: they get an instance of that schema with the scenario's
`side_text` in its string fields.

# Example

```
use std::time::Duration;

use team_agent_fake_model::{Block, FakeModel, Replied, Scenario};

# fn main() -> Result<(), Box<dyn std::error::Error>> {
let scenario = Scenario::from_json(
    r#"{
      "rules": [
        {"id": "report", "when": {"user_contains": "FAKE_MCP"},
         "reply": [{"text": "Reporting."},
                   {"mcp_tool": {"server": "team", "name": "report_result",
                                 "input": {"status": "done"}}}]},
        {"id": "reported", "when": {"after_tool": "report_result"},
         "reply": [{"text": "The tool said: {{tool_output}}"}]}
      ]
    }"#,
)?;
let model = FakeModel::start(scenario)?;

// A real test runs Claude Code or Codex against `model.url()` here.
# claude_turn(&model.url(), "Please FAKE_MCP now");

assert!(model.wait_for(
    |requests| requests.iter().any(|request| request.rule_id() == Some("report")),
    Duration::from_secs(30),
));
let turn = &model.main_requests()[0];
assert_eq!(turn.newest_user_text(), "Please FAKE_MCP now");
let Replied::Message { blocks } = &turn.replied else { panic!("{:?}", turn.replied) };
assert!(matches!(&blocks[1], Block::ToolCall { name, .. } if name == "mcp__team__report_result"));
assert!(model.egress().is_empty(), "the CLI tried to go out: {:?}", model.egress());
# Ok(())
# }
# fn claude_turn(url: &str, prompt: &str) {
#     use std::io::{Read, Write};
#     let body = serde_json::json!({"model": "m", "stream": false, "tools": [{"name": "Bash"}],
#         "messages": [{"role": "user", "content": prompt}]}).to_string();
#     let mut connection = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
#     write!(connection, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
#         Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
#     connection.read_to_end(&mut Vec::new()).unwrap();
# }
```
*/

mod anthropic;
mod conversation;
mod gemini;
pub mod isolation;
mod journal;
mod playbook;
mod reply;
mod responses;
mod scenario;
mod server;
mod sse;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use journal::{
    Block, Delivery, EgressAttempt, Matched, Record, RecordedRequest, Replied, RequestKind,
};
pub use scenario::{
    Api, ApiError, McpToolCall, Pace, Rule, Scenario, ScenarioError, ShellCommand, Step, ToolCall,
    When,
};

use playbook::Playbook;
use server::Shared;

/// A running fake model server. Dropping it (or [`stop`](FakeModel::stop)) stops it: paced
/// streams are cut short and every thread is joined.
pub struct FakeModel {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    shared: Arc<Shared>,
    serving: Option<JoinHandle<()>>,
}

impl FakeModel {
    /// Serves `scenario` on `127.0.0.1` at a free port.
    pub fn start(scenario: Scenario) -> io::Result<FakeModel> {
        FakeModel::start_on(0, scenario)
    }

    /// Serves `scenario` on `127.0.0.1:port` (0 for a free one).
    pub fn start_on(port: u16, scenario: Scenario) -> io::Result<FakeModel> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let addr = listener.local_addr()?;
        let server =
            Arc::new(tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?);
        let shared = Arc::new(Shared::new(Playbook::new(scenario)));
        let serving = thread::Builder::new()
            .name("fake-model".to_owned())
            .spawn({
                let server = Arc::clone(&server);
                let shared = Arc::clone(&shared);
                move || server::serve(server, shared)
            })?;
        Ok(FakeModel {
            addr,
            server,
            shared,
            serving: Some(serving),
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL for the CLIs (Codex wants `/v1` after it).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on, for raw connections.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the scenario for the requests from now on; rule use counts start again.
    pub fn set_scenario(&self, scenario: Scenario) {
        *self.shared.playbook() = Playbook::new(scenario);
    }

    /// Every request received so far (egress attempts aside), in the order of their `seq`.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.journal.requests()
    }

    /// The requests that were agent turns: model requests offering tools.
    pub fn main_requests(&self) -> Vec<RecordedRequest> {
        let mut requests = self.requests();
        requests.retain(|request| request.kind == RequestKind::Main);
        requests
    }

    /// Every refused attempt to reach the outside through this server.
    pub fn egress(&self) -> Vec<EgressAttempt> {
        self.shared.journal.egress()
    }

    /// Blocks until `done` holds for the requests received so far, or `timeout` passes; true if
    /// it held. `done` is asked again whenever a request arrives or completes.
    pub fn wait_for(
        &self,
        done: impl FnMut(&[RecordedRequest]) -> bool,
        timeout: Duration,
    ) -> bool {
        self.shared.journal.wait_for(done, timeout)
    }

    /// Every request (once answered) and egress attempt from now on, until the server stops.
    pub fn subscribe(&self) -> Receiver<Record> {
        self.shared.journal.subscribe()
    }

    /// Stops the server and joins its threads.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(serving) = self.serving.take() {
            self.shared.shutdown.begin();
            self.server.unblock();
            let _ = serving.join();
        }
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shut_down();
    }
}
