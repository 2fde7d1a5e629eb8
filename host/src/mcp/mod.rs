/*! `team-agent mcp-server`: the stdio MCP server every worker gets through its provider's launch
plan (server name `team`). Worker tools: `send_message`, `report_result`, `get_team_status`,
`request_human`; the caller is the worker named by `TEAM_AGENT_ID` in the server's environment,
never an argument. Without `TEAM_AGENT_ID` the server serves the leader (`team-agent claude|codex`
configures it): `send_message` as the leader, `get_team_status`, the lifecycle tools
`start_team`, `add_agent`, `stop_agent`, `shutdown_team`, and the review tools `diff_agent`,
`merge_agent` (behind the ownership rule of `send_message`), which run the team-agent command line
as the leader's pane (`TEAM_AGENT_LEADER_PANE`/`TEAM_AGENT_LEADER_TMUX`), so they follow the same
rules, owner checks included. Invalid arguments are a tool error naming the field, never a crash.
*/

use std::path::Path;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};

use crate::messaging::{self, LEADER, Messenger, ReportError};
use crate::plugins::Registry;
use crate::workspace::Workspace;

/// The MCP server of one workspace, for one caller.
pub struct TeamServer {
    workspace: Workspace,
    caller: Option<String>,
    registry: Registry,
}

/// A tool call that cannot proceed: the text says which field and why.
struct ToolError(String);

impl TeamServer {
    pub fn new(workspace: Workspace) -> Self {
        let caller = std::env::var("TEAM_AGENT_ID")
            .ok()
            .filter(|s| !s.is_empty());
        let registry = Registry::load(Some(workspace.root()));
        Self {
            workspace,
            caller,
            registry,
        }
    }

    /// The workspace scoped to the team this server serves: the one it was started for, else
    /// (a leader started before any team) the team the workspace leaves no doubt about now.
    fn scope(&self) -> Workspace {
        if self.workspace.team().is_some() {
            return self.workspace.clone();
        }
        crate::lifecycle::teams::team_workspace(&self.workspace, None)
            .unwrap_or_else(|_| self.workspace.clone())
    }

    fn caller(&self) -> Result<&str, ToolError> {
        self.caller.as_deref().ok_or_else(|| {
            ToolError("this MCP server was started without TEAM_AGENT_ID: only team-agent workers can use it".into())
        })
    }

    fn dispatch(&self, name: &str, args: &Map<String, Value>) -> Result<Value, ToolError> {
        if self.caller.is_none() {
            return self.dispatch_leader(name, args);
        }
        match name {
            "send_message" => self.send_message(args),
            "report_result" => self.report_result(args),
            "get_team_status" => self.team_status(),
            "request_human" => self.request_human(args),
            other => Err(ToolError(format!(
                "unknown tool '{other}' (tools: send_message, report_result, get_team_status, request_human)"
            ))),
        }
    }

    fn dispatch_leader(&self, name: &str, args: &Map<String, Value>) -> Result<Value, ToolError> {
        match name {
            "send_message" => self.leader_send(args),
            "get_team_status" => self.team_status(),
            "start_team" => {
                let definition = required_text(args, "definition")?;
                let mut argv = vec!["up".to_string(), definition];
                if optional_bool(args, "approved")? {
                    argv.push("--yes".into());
                }
                self.run_cli(&argv)
            }
            "add_agent" => {
                let id = required_text(args, "id")?;
                let role_file = required_text(args, "role_file")?;
                self.run_cli(&["add-agent".into(), id, "--role-file".into(), role_file])
            }
            "stop_agent" => self.run_cli(&["stop-agent".into(), required_text(args, "agent_id")?]),
            "diff_agent" => {
                // Read-only, yet the same rule as `send`: only the team's own leader looks.
                self.leader_owns()?;
                let mut argv = vec!["diff".to_string(), required_text(args, "agent_id")?];
                if optional_bool(args, "stat")? {
                    argv.push("--stat".into());
                }
                self.run_cli(&argv)
            }
            "merge_agent" => {
                self.leader_owns()?;
                let mut argv = vec!["merge".to_string(), required_text(args, "agent_id")?];
                if optional_bool(args, "squash")? {
                    argv.push("--squash".into());
                }
                if let Some(message) = optional_text(args, "message")? {
                    argv.extend(["--message".into(), message]);
                }
                self.run_cli(&argv)
            }
            "shutdown_team" => self.run_cli(&["shutdown".into()]),
            "report_result" | "request_human" => Err(ToolError(format!(
                "`{name}` is a worker tool; as the leader, read results with `team-agent results` and talk to workers with send_message"
            ))),
            other => Err(ToolError(format!(
                "unknown tool '{other}' (leader tools: send_message, get_team_status, start_team, add_agent, stop_agent, shutdown_team, diff_agent, merge_agent)"
            ))),
        }
    }

    /// Refuses a leader tool call from a pane that does not own the team (the rule of
    /// `team-agent send`); the team.
    fn leader_owns(&self) -> Result<crate::state::TeamState, ToolError> {
        let workspace = self.scope();
        let messenger = self.messenger(&workspace)?;
        let team = messenger.team().map_err(|e| ToolError(e.to_string()))?;
        let caller = crate::leader::ownership::Caller {
            pane_id: std::env::var("TEAM_AGENT_LEADER_PANE").ok(),
            socket: std::env::var("TEAM_AGENT_LEADER_TMUX")
                .ok()
                .and_then(|t| crate::tmux::Server::from_tmux_env(&t))
                .map(|s| s.socket().to_path_buf()),
            worker: None,
        };
        crate::leader::ownership::check(&team, &caller).map_err(|e| ToolError(e.to_string()))?;
        Ok(team)
    }

    /// `send_message` from the leader, refused like `team-agent send` from a pane that does not
    /// own the team.
    fn leader_send(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let team = self.leader_owns()?;
        let workspace = self.scope();
        let messenger = self.messenger(&workspace)?;
        let to = recipients(args)?;
        let content = required_text(args, "content")?;
        let task = optional_text(args, "task_id")?;
        let recipients = messaging::resolve_recipients(&team, &to, LEADER)
            .map_err(|e| ToolError(format!("`to`: {e}")))?;
        let outcomes = messaging::send(
            &messenger,
            LEADER,
            &recipients,
            task.as_deref(),
            &content,
            true,
        )
        .map_err(|e| ToolError(e.to_string()))?;
        Ok(json!({"ok": true, "messages": outcomes}))
    }

    /// Runs `team-agent --json --workspace WS ARGS…` as the leader's pane, in the leader's own
    /// environment when the launcher recorded it; its JSON answer.
    fn run_cli(&self, args: &[String]) -> Result<Value, ToolError> {
        let exe = std::env::current_exe()
            .map_err(|e| ToolError(format!("cannot find the team-agent binary: {e}")))?;
        let mut cmd = std::process::Command::new(exe);
        if let Some(env) = std::env::var_os(crate::leader::LEADER_ENV_VAR)
            .and_then(|file| std::fs::read(file).ok())
            .and_then(|bytes| serde_json::from_slice::<crate::lifecycle::WorkerEnv>(&bytes).ok())
        {
            cmd.env_clear().envs(&env.set);
        }
        cmd.arg("--json")
            .arg("--workspace")
            .arg(self.workspace.root())
            .args(args)
            .current_dir(self.workspace.root())
            .env_remove("TEAM_AGENT_ID")
            .stdin(std::process::Stdio::null());
        // The team this server serves, never another.
        match self.scope().team() {
            Some(team) => cmd.env("TEAM_AGENT_TEAM", team),
            None => cmd.env_remove("TEAM_AGENT_TEAM"),
        };
        for (var, from) in [
            ("TMUX_PANE", "TEAM_AGENT_LEADER_PANE"),
            ("TMUX", "TEAM_AGENT_LEADER_TMUX"),
        ] {
            if let Ok(value) = std::env::var(from) {
                cmd.env(var, value);
            }
        }
        let output = cmd
            .output()
            .map_err(|e| ToolError(format!("cannot run team-agent: {e}")))?;
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            json!({"ok": false, "error": String::from_utf8_lossy(&output.stderr).trim().to_string()})
        });
        if output.status.success() {
            Ok(answer)
        } else {
            let message = answer["error"].as_str().unwrap_or("the command failed");
            let action = answer["action"]
                .as_str()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
            Err(ToolError(format!(
                "team-agent {}: {message}{action}",
                args.join(" ")
            )))
        }
    }

    fn messenger<'a>(&'a self, workspace: &'a Workspace) -> Result<Messenger<'a>, ToolError> {
        Messenger::open(workspace, &self.registry).map_err(|e| ToolError(e.to_string()))
    }

    fn send_message(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let caller = self.caller()?;
        let to = recipients(args)?;
        let content = required_text(args, "content")?;
        let task = optional_text(args, "task_id")?;
        let workspace = self.scope();
        let messenger = self.messenger(&workspace)?;
        let team = messenger.team().map_err(|e| ToolError(e.to_string()))?;
        let recipients = messaging::resolve_recipients(&team, &to, caller)
            .map_err(|e| ToolError(format!("`to`: {e}")))?;
        let outcomes = messaging::send(
            &messenger,
            caller,
            &recipients,
            task.as_deref(),
            &content,
            true,
        )
        .map_err(|e| ToolError(e.to_string()))?;
        Ok(json!({"ok": true, "messages": outcomes}))
    }

    fn report_result(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let caller = self.caller()?;
        let summary = required_text(args, "summary")?;
        let workspace = self.scope();
        let messenger = self.messenger(&workspace)?;
        let task_id = match optional_text(args, "task_id")? {
            Some(t) => t,
            None => self
                .current_task(&messenger, caller)
                .unwrap_or_else(|| "manual".into()),
        };
        let status = optional_text(args, "status")?.unwrap_or_else(|| "success".into());
        let mut envelope = json!({
            "schema_version": "result_envelope_v1",
            "task_id": task_id,
            "agent_id": caller,
            "status": status,
            "summary": summary,
        });
        for key in ["changes", "tests", "risks", "artifacts", "next_actions"] {
            envelope[key] = match args.get(key) {
                None | Some(Value::Null) => json!([]),
                Some(v @ Value::Array(_)) => v.clone(),
                Some(_) => return Err(ToolError(format!("`{key}` must be a list"))),
            };
        }
        match messaging::report_result(
            &messenger,
            envelope,
            Some(caller),
            Path::new("report_result"),
        ) {
            Ok(outcome) => Ok(serde_json::to_value(outcome).unwrap_or_default()),
            Err(ReportError::Invalid(problems)) => Err(ToolError(
                problems
                    .iter()
                    .map(|d| format!("`{}`: {}", d.path.trim_start_matches('/'), d.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            Err(ReportError::Other(e)) => Err(ToolError(e.to_string())),
        }
    }

    /// The task of the newest message the caller got that is not acknowledged yet.
    fn current_task(&self, messenger: &Messenger<'_>, caller: &str) -> Option<String> {
        let team = messenger.team().ok()?;
        let inbox = messenger.store.inbox(&team.name, caller, None, 50).ok()?;
        inbox
            .iter()
            .rev()
            .find(|m| {
                m.recipient == caller && m.status.as_str() != "acknowledged" && m.task_id.is_some()
            })
            .and_then(|m| m.task_id.clone())
    }

    fn team_status(&self) -> Result<Value, ToolError> {
        let registry = Registry::load_from(&[]);
        let workspace = self.scope();
        let ctx = crate::lifecycle::Context::new(&workspace, &registry, &|_| {});
        let team = crate::state::StateStore::new(&workspace)
            .load()
            .ok()
            .and_then(|s| s.team)
            .map(|t| t.name);
        let pending = team
            .map(|t| messaging::pending_counts(&workspace, &t))
            .transpose()
            .map_err(|e| ToolError(format!("the message store cannot be read: {e}")))?
            .unwrap_or_default();
        let report =
            crate::lifecycle::status(&ctx, None, &pending).map_err(|e| ToolError(e.to_string()))?;
        Ok(json!({
            "team": report.team,
            "running": report.running,
            "agents": report.agents.iter().map(|a| json!({"id": a.id, "provider": a.provider, "status": a.status, "activity": a.activity, "pending_messages": a.pending_messages})).collect::<Vec<_>>(),
        }))
    }

    fn request_human(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let caller = self.caller()?;
        let question = required_text(args, "question")?;
        let task = optional_text(args, "task_id")?;
        let workspace = self.scope();
        let messenger = self.messenger(&workspace)?;
        let content = format!("{caller} needs a human decision: {question}");
        let outcomes = messaging::send(
            &messenger,
            caller,
            &[LEADER.to_string()],
            task.as_deref(),
            &content,
            true,
        )
        .map_err(|e| ToolError(e.to_string()))?;
        messenger.events.emit(
            "mcp.request_human",
            json!({"agent_id": caller, "task_id": task}),
        );
        Ok(
            json!({"ok": true, "status": "needs_human", "message_id": outcomes.first().map(|o| o.message_id.clone())}),
        )
    }
}

/// The `to` argument: one recipient or a list.
fn recipients(args: &Map<String, Value>) -> Result<Vec<String>, ToolError> {
    match args.get("to") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ToolError("`to`: every recipient must be a string".into()))
            })
            .collect(),
        Some(_) => Err(ToolError(
            "`to` must be \"leader\", an agent id, a list of them, or \"*\"".into(),
        )),
        None => Err(ToolError(
            "`to` is required: \"leader\", an agent id, a list of them, or \"*\"".into(),
        )),
    }
}

fn required_text(args: &Map<String, Value>, field: &str) -> Result<String, ToolError> {
    match args.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ToolError(format!("`{field}` must not be empty"))),
        Some(_) => Err(ToolError(format!("`{field}` must be a string"))),
        None => Err(ToolError(format!("`{field}` is required"))),
    }
}

fn optional_text(args: &Map<String, Value>, field: &str) -> Result<Option<String>, ToolError> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ToolError(format!("`{field}` must be a string"))),
    }
}

fn optional_bool(args: &Map<String, Value>, field: &str) -> Result<bool, ToolError> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ToolError(format!("`{field}` must be true or false"))),
    }
}

fn schema(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn tools() -> Vec<Tool> {
    let list = json!({"type": "array", "items": {"type": "object"}});
    vec![
        Tool::new(
            "send_message",
            "Send a message to the leader, a teammate, a list of them, or everyone (\"*\"): questions, progress, blockers.",
            schema(json!({
                "type": "object",
                "properties": {
                    "to": {"description": "\"leader\", an agent id, a list of agent ids, or \"*\"", "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "content": {"type": "string", "description": "The message"},
                    "task_id": {"type": "string", "description": "The task it is about"}
                },
                "required": ["to", "content"]
            })),
        ),
        Tool::new(
            "report_result",
            "Report the result of your task, once, when it is finished (status success, blocked, failed or partial).",
            schema(json!({
                "type": "object",
                "properties": {
                    "summary": {"type": "string"},
                    "status": {"type": "string", "enum": ["success", "blocked", "failed", "partial"]},
                    "task_id": {"type": "string", "description": "Default: the task of your newest unfinished message"},
                    "changes": list, "tests": list, "risks": list, "artifacts": list, "next_actions": list
                },
                "required": ["summary"]
            })),
        ),
        Tool::new(
            "get_team_status",
            "Who is in the team, whether each agent runs and is busy, and how many messages wait for it.",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "request_human",
            "Ask the human (through the leader) for a decision you must not make alone.",
            schema(json!({
                "type": "object",
                "properties": {"question": {"type": "string"}, "task_id": {"type": "string"}},
                "required": ["question"]
            })),
        ),
    ]
}

/// The leader's tools: talk to workers and run the team.
fn leader_tools() -> Vec<Tool> {
    let worker_tools = tools();
    let send = Tool::new(
        "send_message",
        "Send a task or a message to a worker, a list of workers, or everyone (\"*\"). Give a task_id to collect its result later.",
        schema(json!({
            "type": "object",
            "properties": {
                "to": {"description": "an agent id, a list of agent ids, or \"*\"", "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "content": {"type": "string", "description": "The message or task"},
                "task_id": {"type": "string", "description": "The task it is about; the worker's result will carry it"}
            },
            "required": ["to", "content"]
        })),
    );
    let status = worker_tools
        .into_iter()
        .find(|t| t.name == "get_team_status")
        .expect("get_team_status is a worker tool too");
    vec![
        send,
        status,
        Tool::new(
            "start_team",
            "Start a team from a team directory (TEAM.md + agents/*.md) or a team.spec.yaml, relative to the workspace. Resumes nothing: after a shutdown use `team-agent restart`.",
            schema(json!({
                "type": "object",
                "properties": {
                    "definition": {"type": "string", "description": "The team directory or spec file"},
                    "approved": {"type": "boolean", "description": "Set only when the human approved starting this team (for specs that require approval)"}
                },
                "required": ["definition"]
            })),
        ),
        Tool::new(
            "add_agent",
            "Add a worker to the running team from a role file (front matter name, role, provider; the body is its instructions) and start it.",
            schema(json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "The new worker's id"},
                    "role_file": {"type": "string", "description": "The role file, relative to the workspace"}
                },
                "required": ["id", "role_file"]
            })),
        ),
        Tool::new(
            "stop_agent",
            "Stop one worker; its session is kept, so it can be started again later.",
            schema(json!({
                "type": "object",
                "properties": {"agent_id": {"type": "string"}},
                "required": ["agent_id"]
            })),
        ),
        Tool::new(
            "shutdown_team",
            "Stop the whole team, keeping every worker's session for `team-agent restart`.",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "diff_agent",
            "A worker with its own git worktree (isolation: worktree): its changes against its base, committed and not. Returns the files and the patch.",
            schema(json!({
                "type": "object",
                "properties": {
                    "agent_id": {"type": "string"},
                    "stat": {"type": "boolean", "description": "Only the files and how much changed"}
                },
                "required": ["agent_id"]
            })),
        ),
        Tool::new(
            "merge_agent",
            "Merge a worktree worker's branch (its uncommitted changes committed first) into the base branch of the workspace. Refuses, changing nothing, when the workspace has uncommitted changes, the worker is mid-turn, or the merge would conflict (the conflicting files are listed).",
            schema(json!({
                "type": "object",
                "properties": {
                    "agent_id": {"type": "string"},
                    "squash": {"type": "boolean", "description": "One commit of its changes instead of a merge commit"},
                    "message": {"type": "string", "description": "The commit message"}
                },
                "required": ["agent_id"]
            })),
        ),
    ]
}

impl ServerHandler for TeamServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("team", env!("CARGO_PKG_VERSION")))
            .with_instructions("team-agent: talk to your team (send_message), report your task's result once (report_result).")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = if self.caller.is_some() {
            tools()
        } else {
            leader_tools()
        };
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let result = match self.dispatch(&request.name, &args) {
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
            Err(ToolError(message)) => {
                let body =
                    json!({"ok": false, "error": message, "reason": "invalid_tool_arguments"});
                CallToolResult::error(vec![ContentBlock::text(body.to_string())])
            }
        };
        Ok(result.into())
    }
}

/// Serves MCP on stdin/stdout until the client goes away.
pub fn serve(workspace: Workspace) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let server = TeamServer::new(workspace)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| e.to_string())?;
        server.waiting().await.map_err(|e| e.to_string())?;
        Ok(())
    })
}
