//! `@scripted …` lines of a message, as the scripted agent understands them: `report STATUS
//! SUMMARY…` (a result for the message's task, through `$TEAM_AGENT_BIN report-result -`) and
//! `sleep SECONDS` (work that much longer). Other lines are the message's ordinary text.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the directives of one message ask for.
#[derive(Debug, Default, PartialEq)]
pub struct Directives {
    pub sleep: Duration,
    pub reports: Vec<Report>,
}

/// `@scripted report STATUS SUMMARY…`.
#[derive(Debug, PartialEq)]
pub struct Report {
    pub status: String,
    pub summary: String,
}

pub fn parse(text: &str) -> Directives {
    let mut directives = Directives::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("@scripted") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        match words.as_slice() {
            ["report", status, summary @ ..] => directives.reports.push(Report {
                status: status.to_string(),
                summary: summary.join(" "),
            }),
            ["sleep", seconds] => {
                if let Ok(seconds) = seconds.parse::<f64>()
                    && seconds.is_finite()
                    && seconds >= 0.0
                {
                    directives.sleep += Duration::from_secs_f64(seconds.min(3600.0));
                }
            }
            _ => {}
        }
    }
    directives
}

/// The task a message is about: the `for TASK` of its `Team Agent message from SENDER for
/// TASK:` header, else its delivery token, else `manual`.
pub fn task_of(text: &str) -> String {
    let from_header = text.lines().find_map(|line| {
        let header = line
            .trim()
            .strip_prefix("Team Agent message from ")?
            .strip_suffix(':')?;
        header
            .split_once(" for ")
            .map(|(_, task)| task.trim().to_string())
    });
    let from_token = text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("[team-agent-token:")?
            .strip_suffix(']')
            .map(str::to_string)
    });
    from_header
        .or(from_token)
        .unwrap_or_else(|| "manual".into())
}

/// Sends the result envelope for `report`; the sentence to show either way.
pub fn send(message: &str, report: &Report) -> String {
    let task_id = task_of(message);
    let summary = if report.summary.is_empty() {
        format!("{} from the stand-in", report.status)
    } else {
        report.summary.clone()
    };
    let envelope = serde_json::json!({
        "schema_version": "result_envelope_v1",
        "task_id": task_id,
        "agent_id": std::env::var("TEAM_AGENT_ID").unwrap_or_default(),
        "status": report.status,
        "summary": summary,
        "changes": [],
        "tests": [],
        "risks": [],
        "artifacts": [],
        "next_actions": [],
    });
    let outcome = match std::env::var("TEAM_AGENT_BIN") {
        Ok(bin) => run_report_result(&bin, &envelope.to_string()),
        Err(_) => Err("TEAM_AGENT_BIN is not set".to_string()),
    };
    match outcome {
        Ok(()) => format!("Reported {} for {task_id}.", report.status),
        Err(why) => format!("Could not report {} for {task_id}: {why}", report.status),
    }
}

fn run_report_result(bin: &str, envelope: &str) -> Result<(), String> {
    let mut child = Command::new(bin)
        .args(["report-result", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(envelope.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "exit {}: {}",
        out.status.code().unwrap_or(-1),
        stderr.lines().next().unwrap_or("").trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_comes_from_the_header_then_the_token() {
        let header = "Team Agent message from leader for T-7:\n\nhi\n\n[team-agent-token:m-1]";
        assert_eq!(task_of(header), "T-7");
        assert_eq!(
            task_of("Team Agent message from leader:\n\n[team-agent-token:m-1]"),
            "m-1"
        );
        assert_eq!(task_of("hello"), "manual");
    }

    #[test]
    fn reports_and_sleeps_are_read_from_their_lines() {
        let text =
            "do it\n@scripted sleep 1.5\n  @scripted report success all good\n@scripted dance";
        assert_eq!(
            parse(text),
            Directives {
                sleep: Duration::from_millis(1500),
                reports: vec![Report {
                    status: "success".into(),
                    summary: "all good".into()
                }],
            }
        );
    }
}
