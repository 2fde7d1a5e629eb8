//! The agent's hooks, shaped like Claude Code's: at each of its events it runs the hook command
//! (`--hook-command-json`) followed by the event's name, with a one-line JSON payload on stdin
//! (`{"hook_event_name": …, "session_id": …, "cwd": …, "transcript_path": …, …}`).
//!
//! A hook runs synchronously, so the host hears of an event before the agent goes on, but for at
//! most [`TIMEOUT`]: a hook that hangs is killed, and one that fails or cannot start is reported
//! on stderr and otherwise ignored. The agent never stops because of its hooks.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Map, Value, json};
use team_agent_scripted::hooks as names;

/// The longest a hook may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One of the agent's hook events, with what its payload carries besides the common fields.
pub enum HookCall<'a> {
    /// The session began (`source` `startup`) or was taken up again (`resume`).
    SessionStart {
        resumed: bool,
    },
    /// A message was submitted: its text, verbatim, before the turn starts.
    UserPromptSubmit {
        prompt: &'a str,
    },
    /// A tool call begins (`@scripted tool`, `@scripted approval`, `@scripted report`).
    PreToolUse {
        tool: &'a str,
        input: Value,
    },
    PostToolUse {
        tool: &'a str,
        response: Value,
    },
    /// An approval dialog is on screen (`notification_type` `permission_prompt`).
    PermissionPrompt {
        message: &'a str,
    },
    /// The turn is over, after its transcript record: completed (with the agent's last line) or
    /// interrupted (none).
    Stop {
        last_text: Option<&'a str>,
    },
}

impl HookCall<'_> {
    fn event(&self) -> &'static str {
        match self {
            Self::SessionStart { .. } => names::SESSION_START,
            Self::UserPromptSubmit { .. } => names::USER_PROMPT_SUBMIT,
            Self::PreToolUse { .. } => names::PRE_TOOL_USE,
            Self::PostToolUse { .. } => names::POST_TOOL_USE,
            Self::PermissionPrompt { .. } => names::NOTIFICATION,
            Self::Stop { .. } => names::STOP,
        }
    }

    fn fields(&self) -> Value {
        match self {
            Self::SessionStart { resumed } => {
                json!({ "source": if *resumed { "resume" } else { "startup" } })
            }
            Self::UserPromptSubmit { prompt } => json!({ "prompt": prompt }),
            Self::PreToolUse { tool, input } => json!({ "tool_name": tool, "tool_input": input }),
            Self::PostToolUse { tool, response } => {
                json!({ "tool_name": tool, "tool_response": response })
            }
            Self::PermissionPrompt { message } => {
                json!({ "notification_type": names::PERMISSION_PROMPT, "message": message })
            }
            Self::Stop { last_text } => {
                json!({ "stop_hook_active": false, "last_assistant_message": last_text })
            }
        }
    }
}

/// Where the agent's hook events go; without a command, nowhere.
pub struct Hooks {
    command: Vec<String>,
    common: Map<String, Value>,
}

impl Hooks {
    /// Hooks that run `command` (empty: none) for the session `session_id`.
    pub fn new(command: Vec<String>, session_id: &str, transcript: &Path) -> Self {
        let cwd = std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut common = Map::new();
        common.insert("session_id".into(), session_id.into());
        common.insert("cwd".into(), cwd.into());
        common.insert(
            "transcript_path".into(),
            transcript.to_string_lossy().into_owned().into(),
        );
        Self { command, common }
    }

    /// Runs the hook of `call`, if hooks are configured.
    pub fn run(&self, call: HookCall<'_>) {
        let Some((program, args)) = self.command.split_first() else {
            return;
        };
        let event = call.event();
        let mut payload = self.common.clone();
        payload.insert("hook_event_name".into(), event.into());
        if let Value::Object(fields) = call.fields() {
            payload.extend(fields);
        }
        let payload = Value::Object(payload).to_string();
        match run_command(program, args, event, payload) {
            Ok(status) if status.success() => {}
            Ok(status) => warn(event, &format!("the hook command ended with {status}")),
            Err(e) => warn(event, &e),
        }
    }
}

fn warn(event: &str, message: &str) {
    eprintln!("\r\x1b[K⚠ {event} hook: {message}");
}

/// Runs `program args… event` with `payload` on stdin and waits at most [`TIMEOUT`].
fn run_command(
    program: &str,
    args: &[String],
    event: &str,
    payload: String,
) -> Result<ExitStatus, String> {
    let mut child = Command::new(program)
        .args(args)
        .arg(event)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    // Written from a thread: a hook that reads nothing must not block the agent on a full pipe.
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            let _ = stdin.write_all(payload.as_bytes());
        });
    }
    let pid = Pid::from_raw(child.id() as i32);
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    match finished.recv_timeout(TIMEOUT) {
        Ok(status) => status.map_err(|e| e.to_string()),
        Err(_) => {
            // The child is not reaped until the waiting thread sees it end, so its pid is still
            // its own.
            let _ = kill(pid, Signal::SIGKILL);
            let _ = finished.recv();
            Err(format!(
                "the hook command took more than {}s and was stopped",
                TIMEOUT.as_secs()
            ))
        }
    }
}
