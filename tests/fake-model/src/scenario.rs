/*!
The scenario: what the fake model answers, as plain data (serde, so a test builds it in Rust or
loads it from a JSON file; unknown keys are refused, not ignored). This module owns the format
and its builders; choosing a rule for a request is the playbook's job, turning steps into content
blocks the reply's.
*/

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the fake model answers: ordered rules (the first that matches wins), the reply used when
/// none matches, and the text of side requests (session titles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The reply of a main request that no rule matches.
    #[serde(default = "default_reply")]
    pub default: Vec<Step>,
    /// The answer to side requests: their string fields when they ask for a JSON schema, the
    /// whole text otherwise.
    #[serde(default = "default_side_text")]
    pub side_text: String,
}

/// One scripted answer and when to give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Names the rule in the recorded requests; rules without one are named by their position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub when: When,
    /// Used at most this many times (until the scenario is replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Only for requests of this API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    pub reply: Vec<Step>,
}

/// What the newest item of the conversation must be for a rule to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The newest item is a user message whose text contains this (case-sensitive).
    UserContains(String),
    /// The newest item is the result of a tool whose name contains this; `""` is any tool.
    /// Codex's namespaced tools are named `namespace__name`, as Claude names them
    /// (`mcp__team__report_result`), Gemini's `mcp_<server>_<tool>` (`mcp_team_report_result`,
    /// which `report_result` matches too); the shell tool is `Bash` for Claude, `exec_command` for
    /// Codex, `run_shell_command` for Gemini.
    AfterTool(String),
    /// Every main request.
    Always,
}

/// The model APIs the fake model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// Anthropic Messages, `POST /v1/messages` (Claude Code).
    Anthropic,
    /// OpenAI Responses, `POST /v1/responses` (Codex).
    Responses,
    /// The Gemini API, `POST /v1beta/models/{model}:streamGenerateContent` (Gemini CLI).
    Gemini,
}

/// One step of a reply, in order. Text and tool calls become the reply's content blocks (items);
/// `slow` paces the events after it; an `error` is the whole answer (the other steps of that
/// reply are not sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Assistant text; `{{tool_output}}` is replaced by the newest tool result and
    /// `{{user_text}}` by the newest user text.
    Text(String),
    /// A call of a tool of an MCP server, named as each CLI expects.
    McpTool(McpToolCall),
    /// A call of the CLI's own shell tool, asking for the CLI's approval.
    Shell(ShellCommand),
    /// A tool call sent as written, under the same name to both APIs.
    Tool(ToolCall),
    /// An HTTP error answer in the API's own error shape.
    Error(ApiError),
    /// Every following SSE event of this reply waits this long before it is sent.
    Slow(Pace),
}

/// `{"server": "team", "name": "report_result", "input": {...}}`: Anthropic gets a `tool_use`
/// named `mcp__team__report_result`; Responses a `function_call` named `report_result` in the
/// namespace `mcp__team`; Gemini a `functionCall` named `mcp_team_report_result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpToolCall {
    pub server: String,
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
}

/// `{"command": "..."}`: Claude's `Bash` tool, Codex's `exec_command` with escalated sandbox
/// permissions so the CLI asks before running it, or Gemini's `run_shell_command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellCommand {
    pub command: String,
    /// Claude's `description`, Codex's `justification` (shown in the approval prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `{"name": "...", "input": {...}}`: a tool call as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
}

/// `{"status": 529, "type": "overloaded_error", "message": "..."}`. Anthropic answers
/// `{"type":"error","error":{"type","message"}}`, Responses `{"error":{"type","code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub status: u16,
    /// Defaults to Anthropic's name for the status (`rate_limit_error`, `overloaded_error`, …).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default = "default_error_message")]
    pub message: String,
    /// The Responses `code`; defaults to the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Seconds for the `retry-after` header; a 429 without it says 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// More fields of the error object, as an API sends them (Codex reads a usage limit's
    /// `resets_in_seconds` there).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// `{"event_delay_ms": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pace {
    pub event_delay_ms: u64,
}

/// A scenario that cannot be used, said so the author can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the scenario file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the scenario {origin} is not valid: {source}")]
    Invalid {
        origin: String,
        source: serde_json::Error,
    },
}

impl Scenario {
    /// A scenario with these rules, the default reply `OK.` and the default side text.
    pub fn with_rules(rules: impl IntoIterator<Item = Rule>) -> Scenario {
        Scenario {
            rules: rules.into_iter().collect(),
            ..Scenario::default()
        }
    }

    /// Replaces the reply of main requests that no rule matches.
    pub fn default_reply(mut self, reply: impl IntoIterator<Item = Step>) -> Scenario {
        self.default = reply.into_iter().collect();
        self
    }

    /// Parses a scenario from its JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        serde_json::from_str(text).map_err(|source| ScenarioError::Invalid {
            origin: "text".to_owned(),
            source,
        })
    }

    /// Reads a scenario from a JSON file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ScenarioError::Invalid {
            origin: format!("in {shown}"),
            source,
        })
    }
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            rules: Vec::new(),
            default: default_reply(),
            side_text: default_side_text(),
        }
    }
}

impl Rule {
    pub fn new(when: When, reply: impl IntoIterator<Item = Step>) -> Rule {
        Rule {
            id: None,
            when,
            times: None,
            api: None,
            reply: reply.into_iter().collect(),
        }
    }

    pub fn id(mut self, id: &str) -> Rule {
        self.id = Some(id.to_owned());
        self
    }

    pub fn times(mut self, times: u32) -> Rule {
        self.times = Some(times);
        self
    }

    pub fn api(mut self, api: Api) -> Rule {
        self.api = Some(api);
        self
    }
}

impl When {
    pub fn user_contains(text: &str) -> When {
        When::UserContains(text.to_owned())
    }

    pub fn after_tool(name: &str) -> When {
        When::AfterTool(name.to_owned())
    }
}

impl Step {
    pub fn text(text: &str) -> Step {
        Step::Text(text.to_owned())
    }

    pub fn mcp_tool(server: &str, name: &str, input: Value) -> Step {
        Step::McpTool(McpToolCall {
            server: server.to_owned(),
            name: name.to_owned(),
            input,
        })
    }

    pub fn shell(command: &str) -> Step {
        Step::Shell(ShellCommand {
            command: command.to_owned(),
            description: None,
        })
    }

    pub fn tool(name: &str, input: Value) -> Step {
        Step::Tool(ToolCall {
            name: name.to_owned(),
            input,
        })
    }

    /// An error answer with Anthropic's type for the status and a stock message.
    pub fn error(status: u16) -> Step {
        Step::Error(ApiError {
            status,
            kind: None,
            message: default_error_message(),
            code: None,
            retry_after: None,
            fields: Default::default(),
        })
    }

    pub fn slow(event_delay_ms: u64) -> Step {
        Step::Slow(Pace { event_delay_ms })
    }
}

impl ApiError {
    /// The error type sent: the scripted one, or Anthropic's name for the status.
    pub fn kind(&self) -> &str {
        if let Some(kind) = &self.kind {
            return kind;
        }
        match self.status {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        }
    }

    /// The `retry-after` seconds to send, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after.or((self.status == 429).then_some(1))
    }

    pub(crate) fn new(status: u16, kind: &str, message: String) -> ApiError {
        ApiError {
            status,
            kind: Some(kind.to_owned()),
            message,
            code: None,
            retry_after: None,
            fields: Default::default(),
        }
    }
}

fn default_reply() -> Vec<Step> {
    vec![Step::text("OK.")]
}

fn default_side_text() -> String {
    "Scripted session".to_owned()
}

fn default_error_message() -> String {
    "scripted failure".to_owned()
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_json_format_parses_into_rules_and_steps() {
        let scenario = Scenario::from_json(
            r#"{
              "rules": [
                {"id": "hello", "when": {"user_contains": "HELLO"}, "times": 1, "api": "anthropic",
                 "reply": [{"slow": {"event_delay_ms": 5}}, {"text": "Hi {{user_text}}"}]},
                {"when": {"after_tool": ""}, "reply": [{"error": {"status": 429}}]},
                {"when": "always", "reply": [{"shell": {"command": "ls"}},
                  {"mcp_tool": {"server": "team", "name": "report_result", "input": {"status": "done"}}},
                  {"tool": {"name": "Read", "input": {"file_path": "/x"}}}]}
              ],
              "side_text": "A title"
            }"#,
        )
        .unwrap();
        assert_eq!(scenario.rules.len(), 3);
        assert_eq!(
            scenario.rules[0],
            Rule::new(
                When::user_contains("HELLO"),
                [Step::slow(5), Step::text("Hi {{user_text}}")]
            )
            .id("hello")
            .times(1)
            .api(Api::Anthropic)
        );
        assert_eq!(scenario.rules[1].reply, [Step::error(429)]);
        assert_eq!(scenario.rules[2].when, When::Always);
        assert_eq!(scenario.default, [Step::text("OK.")]);
        assert_eq!(scenario.side_text, "A title");
    }

    #[test]
    fn a_misspelt_key_is_refused_not_ignored() {
        let error = Scenario::from_json(r#"{"rules": [], "defualt": []}"#).unwrap_err();
        assert!(error.to_string().contains("defualt"), "{error}");
    }

    #[test]
    fn an_error_without_a_type_takes_anthropics_name_for_its_status() {
        let Step::Error(overloaded) = Step::error(529) else {
            unreachable!()
        };
        assert_eq!(overloaded.kind(), "overloaded_error");
        assert_eq!(overloaded.retry_after(), None);
        let Step::Error(limited) = Step::error(429) else {
            unreachable!()
        };
        assert_eq!(limited.kind(), "rate_limit_error");
        assert_eq!(limited.retry_after(), Some(1));
    }

    #[test]
    fn a_scenario_survives_a_json_round_trip() {
        let scenario = Scenario::with_rules([Rule::new(
            When::after_tool("report_result"),
            [Step::mcp_tool(
                "team",
                "report_result",
                serde_json::json!({"status": "done"}),
            )],
        )]);
        let text = serde_json::to_string(&scenario).unwrap();
        assert_eq!(Scenario::from_json(&text).unwrap(), scenario);
    }
}
