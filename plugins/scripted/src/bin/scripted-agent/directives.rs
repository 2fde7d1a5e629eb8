//! `@scripted …` directives: one per line of a received message. Those that stand for a tool
//! call (`tool`, `approval`, `report`) run the PreToolUse and PostToolUse hooks around it;
//! `freeze` runs none, as a hung CLI would not.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use team_agent_scripted::screen;
use team_agent_scripted::transcript::Record;

use crate::hooks::HookCall;
use crate::{Session, busy, now};
use team_agent_scripted::terminal::{Input, Terminal, print_flush};

/// What the directives of one message did to the turn.
#[derive(Default)]
pub struct Outcome {
    /// The user pressed Escape during a directive: the turn ended.
    pub interrupted: bool,
    /// `@scripted exit CODE` was found.
    pub exit: Option<i32>,
}

/// The task a message is about: the `for TASK` of its header, else its message id, else `manual`.
fn task_of(text: &str) -> String {
    let header_task = text.lines().find_map(|l| {
        let rest = l
            .trim()
            .strip_prefix("Team Agent message from ")?
            .strip_suffix(':')?;
        rest.split_once(" for ")
            .map(|(_, task)| task.trim().to_string())
    });
    let token = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("[team-agent-token:")?
            .strip_suffix(']')
            .map(str::to_string)
    });
    header_task.or(token).unwrap_or_else(|| "manual".into())
}

pub fn run(term: &mut Terminal, session: &mut Session, text: &str) -> Outcome {
    let mut outcome = Outcome::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("@scripted") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        match words.as_slice() {
            ["report", status, summary @ ..] => report(session, text, status, &summary.join(" ")),
            ["freeze", seconds] => match seconds.parse::<f64>() {
                Ok(s) if s >= 0.0 => {
                    // Looks busy but prints nothing more: how a hung CLI looks.
                    print_flush(&format!("\r\x1b[K• Working (0s • {})", screen::BUSY));
                    std::thread::sleep(Duration::from_secs_f64(s.min(86_400.0)));
                    print_flush("\r\x1b[K");
                }
                _ => error(
                    session,
                    &format!("freeze needs a number of seconds, got {seconds:?}"),
                ),
            },
            ["deaf", seconds] => match seconds.parse::<f64>() {
                Ok(s) if s >= 0.0 => {
                    session.deaf_until =
                        Some(std::time::Instant::now() + Duration::from_secs_f64(s.min(86_400.0)));
                }
                _ => error(
                    session,
                    &format!("deaf needs a number of seconds, got {seconds:?}"),
                ),
            },
            ["sleep", seconds] => match seconds.parse::<f64>() {
                Ok(s) if s >= 0.0 => {
                    if !busy(
                        term,
                        session,
                        Duration::from_secs_f64(s.min(86_400.0)),
                        "Working",
                    ) {
                        outcome.interrupted = true;
                        return outcome;
                    }
                }
                _ => error(
                    session,
                    &format!("sleep needs a number of seconds, got {seconds:?}"),
                ),
            },
            ["tool", name, seconds] => match seconds.parse::<f64>() {
                Ok(s) if s >= 0.0 => {
                    if !tool(term, session, name, s.min(86_400.0)) {
                        outcome.interrupted = true;
                        return outcome;
                    }
                }
                _ => error(
                    session,
                    &format!("tool needs a name and a number of seconds, got {seconds:?}"),
                ),
            },
            ["approval"] => approval(term, session, "shell.exec"),
            ["approval", tool] => approval(term, session, tool),
            ["api-error", class] => {
                let label = format!("{}{class}): retrying", screen::API_ERROR);
                if !busy(term, session, Duration::from_millis(1500), &label) {
                    outcome.interrupted = true;
                    return outcome;
                }
                print_flush(&format!(
                    "\r\x1b[K{}{class}): giving up\n",
                    screen::API_ERROR
                ));
                session.record(&Record::Error {
                    ts: now(),
                    message: format!("api error: {class}"),
                });
            }
            ["write", file, text @ ..] => write_file(session, file, &text.join(" ")),
            ["print", n] => match n.parse::<u32>() {
                Ok(n) => {
                    for i in 1..=n.min(100_000) {
                        print_flush(&format!("line {i} of {n}\n"));
                    }
                }
                Err(_) => error(session, &format!("print needs a line count, got {n:?}")),
            },
            ["exit", code] => match code.parse::<i32>() {
                Ok(code) => {
                    outcome.exit = Some(code);
                    return outcome;
                }
                Err(_) => error(session, &format!("exit needs a code, got {code:?}")),
            },
            _ => error(session, &format!("unknown directive: {}", line.trim())),
        }
    }
    outcome
}

/// Runs the tool `name` for `seconds`; false when the user interrupted it with Escape (its
/// call then never finishes, as in a real CLI: the turn's Stop says it is over).
fn tool(term: &mut Terminal, session: &mut Session, name: &str, seconds: f64) -> bool {
    session.hooks.run(HookCall::PreToolUse {
        tool: name,
        input: serde_json::json!({ "seconds": seconds }),
    });
    let label = format!("Running {name}");
    // The tool is a process of its own, as a real CLI's shell tool is (`sleep`), which the host
    // can see alive; the turn waits for it.
    let mut process = std::process::Command::new("sleep")
        .arg(format!("{seconds}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok();
    let finished = busy(term, session, Duration::from_secs_f64(seconds), &label);
    if let Some(child) = process.as_mut() {
        if !finished {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
    if !finished {
        return false;
    }
    print_flush(&format!("\r\x1b[K↳ ran {name} ({seconds}s)\n"));
    session.hooks.run(HookCall::PostToolUse {
        tool: name,
        response: serde_json::json!({ "ok": true }),
    });
    true
}

fn error(session: &mut Session, message: &str) {
    print_flush(&format!("\r\x1b[K✗ {message}\n"));
    session.record(&Record::Error {
        ts: now(),
        message: message.to_string(),
    });
}

/// `@scripted write FILE TEXT`: FILE (relative, inside the agent's working directory) holds
/// TEXT and a newline afterwards, as an agent's edit tool would leave it; its hooks see a
/// `Write` tool call.
fn write_file(session: &mut Session, file: &str, text: &str) {
    let path = std::path::Path::new(file);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return error(
            session,
            &format!("write needs a path inside the working directory, got {file:?}"),
        );
    }
    session.hooks.run(HookCall::PreToolUse {
        tool: "Write",
        input: serde_json::json!({ "file_path": file }),
    });
    let written = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, format!("{text}\n")));
    session.hooks.run(HookCall::PostToolUse {
        tool: "Write",
        response: serde_json::json!({ "ok": written.is_ok() }),
    });
    match written {
        Ok(()) => print_flush(&format!("\r\x1b[K• Wrote {file}\n")),
        Err(e) => error(session, &format!("cannot write {file}: {e}")),
    }
}

/// The tool name `@scripted report` is, in its hooks' payloads.
const REPORT_TOOL: &str = "report_result";

/// Reports a result for the message's task by running `team-agent report-result -`.
fn report(session: &mut Session, text: &str, status: &str, summary: &str) {
    let task_id = task_of(text);
    let agent_id = std::env::var("TEAM_AGENT_ID").unwrap_or_default();
    let envelope = serde_json::json!({
        "schema_version": "result_envelope_v1",
        "task_id": task_id,
        "agent_id": agent_id,
        "status": status,
        "summary": if summary.is_empty() { format!("{status} from the scripted agent") } else { summary.to_string() },
        "changes": [],
        "tests": [],
        "risks": [],
        "artifacts": [],
        "next_actions": [],
    });
    session.hooks.run(HookCall::PreToolUse {
        tool: REPORT_TOOL,
        input: envelope.clone(),
    });
    print_flush(&format!("↳ reporting {status} for {task_id}…"));
    let (ok, detail) = match std::env::var("TEAM_AGENT_BIN") {
        Err(_) => (
            false,
            "TEAM_AGENT_BIN is not set: not started by team-agent".to_string(),
        ),
        Ok(bin) => run_report(&bin, &envelope.to_string()),
    };
    print_flush(&format!(
        "\r\x1b[K↳ {} {status} for {task_id}: {detail}\n",
        if ok { "reported" } else { "could not report" }
    ));
    session.hooks.run(HookCall::PostToolUse {
        tool: REPORT_TOOL,
        response: serde_json::json!({ "ok": ok, "detail": detail }),
    });
    session.record(&Record::Reported {
        ts: now(),
        task_id,
        status: status.to_string(),
        ok,
        detail,
    });
}

fn run_report(bin: &str, envelope: &str) -> (bool, String) {
    let child = Command::new(bin)
        .args(["report-result", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot run {bin}: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(envelope.as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => (true, "ok".into()),
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").trim().to_string();
            (
                false,
                format!("exit {}: {first}", out.status.code().unwrap_or(-1)),
            )
        }
        Err(e) => (false, e.to_string()),
    }
}

/// Shows an approval prompt for `tool` until it is answered.
fn approval(term: &mut Terminal, session: &mut Session, tool: &str) {
    session.hooks.run(HookCall::PreToolUse {
        tool,
        input: serde_json::json!({}),
    });
    session.record(&Record::ApprovalRequested {
        ts: now(),
        tool: tool.to_string(),
    });
    let mut selected = 1usize;
    // Redraws go back over the five lines of the dialog.
    let draw = |selected: usize, again: bool| {
        let up = if again { "\x1b[5A" } else { "" };
        let mut text = format!("{up}\r\x1b[K{}{tool}?\n", screen::APPROVAL_HEADER);
        for (i, label) in screen::APPROVAL_OPTIONS.iter().enumerate() {
            let marker = if i + 1 == selected {
                screen::SELECTED
            } else {
                " "
            };
            text.push_str(&format!("\x1b[K{marker} {}. {label}\n", i + 1));
        }
        text.push_str(screen::APPROVAL_FOOTER);
        text.push('\n');
        print_flush(&text);
    };
    draw(selected, false);
    session.hooks.run(HookCall::PermissionPrompt {
        message: &format!("{}{tool}?", screen::APPROVAL_HEADER),
    });
    let choice = loop {
        match term.read_input() {
            Input::Char(c @ '1'..='3') => break c.to_digit(10).unwrap_or(1) as usize,
            Input::Enter => break selected,
            Input::Up if selected > 1 => selected -= 1,
            Input::Down if selected < 3 => selected += 1,
            Input::Escape | Input::CtrlC | Input::Eof => break 3,
            _ => continue,
        }
        draw(selected, true);
    };
    let label = screen::APPROVAL_OPTIONS[choice - 1];
    print_flush(&format!("↳ {tool}: {label}\n"));
    session.record(&Record::ApprovalAnswered {
        ts: now(),
        tool: tool.to_string(),
        choice: label.to_string(),
    });
    // The call is over whatever the answer (a refused one did nothing).
    session.hooks.run(HookCall::PostToolUse {
        tool,
        response: serde_json::json!({ "choice": label }),
    });
}

#[cfg(test)]
mod tests {
    use super::task_of;

    #[test]
    fn task_comes_from_the_header_then_the_token() {
        let with_task = "Team Agent message from leader for t-7:\n\nhi\n\n[team-agent-token:msg_1]";
        assert_eq!(task_of(with_task), "t-7");
        let without = "Team Agent message from leader:\n\nhi\n\n[team-agent-token:msg_1]";
        assert_eq!(task_of(without), "msg_1");
        assert_eq!(task_of("plain text"), "manual");
    }
}
