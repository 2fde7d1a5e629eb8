//! How every command answers: a JSON object for scripts, text for people, and an exit code
//! (0 success, 1 refused or failed, 2 usage).

use serde::Serialize;
use serde_json::Value;

/// A command's answer.
pub struct Reply {
    pub ok: bool,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn new(ok: bool, json: impl Serialize, text: impl Into<String>) -> Self {
        let json = serde_json::to_value(json).unwrap_or(Value::Null);
        Self {
            ok,
            json,
            text: text.into(),
        }
    }

    pub fn ok(json: impl Serialize, text: impl Into<String>) -> Self {
        Self::new(true, json, text)
    }
}

pub use crate::error::Refusal as UserError;

/// Writes one line to stdout, through [`for_terminal`] (JSON loses nothing: it carries no raw
/// control characters). A reader that went away (`team-agent inbox alice | head -1`) ends the
/// command quietly, never with a panic; so does a terminal that is gone.
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{}", for_terminal(line)).and_then(|()| out.flush()) {
        std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        });
    }
}

/// Writes one line to stderr (through [`for_terminal`]), quietly giving up when stderr is gone.
pub fn say_err(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{}", for_terminal(line));
}

/// `println!` for the command line: [`say`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::say(&format!($($arg)*)) };
}

/// `eprintln!` for the command line: [`say_err`].
macro_rules! err_out {
    ($($arg:tt)*) => { $crate::cli::output::say_err(&format!($($arg)*)) };
}

/// Text for the operator's terminal: anything that came from a worker, a transcript or a team
/// file loses its control and escape sequences (an OSC 52 would write the clipboard, `ESC [2J`
/// clear the screen). `--json` keeps the exact text, escaped by JSON itself.
pub fn for_terminal(text: &str) -> String {
    crate::messaging::sanitize(text)
}

/// Prints a reply; returns the exit code.
pub fn print_reply(reply: &Reply, json: bool) -> u8 {
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&reply.json).unwrap_or_default()
        );
    } else if !reply.text.is_empty() {
        say(reply.text.trim_end());
    }
    if reply.ok { 0 } else { 1 }
}

/// Prints an error; returns the exit code.
pub fn print_error(error: &anyhow::Error, json: bool) -> u8 {
    let user = error.downcast_ref::<UserError>();
    let message = match user {
        Some(u) => u.message.clone(),
        None => error
            .chain()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": "),
    };
    let action = user.and_then(|u| u.action.clone());
    if json {
        let mut object = serde_json::json!({ "ok": false, "error": message });
        if let Some(a) = &action {
            object["action"] = Value::String(a.clone());
        }
        if let Some(u) = user {
            if let Some(r) = u.reason {
                object["reason"] = Value::String(r.into());
            }
            if let Value::Object(extra) = &u.details {
                for (k, v) in extra {
                    object[k] = v.clone();
                }
            }
        }
        out!(
            "{}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        );
    } else {
        say_err(&format!("error: {message}"));
        if let Some(a) = action {
            say_err(&format!("action: {a}"));
        }
    }
    1
}
