//! One turn of a stand-in: it works for a while (the persona draws its busy screen), can be
//! interrupted with Escape, obeys the message's directives, and ends with a reply.

use std::time::{Duration, Instant};

use team_agent_scripted::terminal::{Input, Terminal};

use crate::directives;

/// How a turn ended.
pub enum TurnEnd {
    /// The reply's lines.
    Answered(Vec<String>),
    Interrupted,
}

/// How long a turn works without directives (`TA_STANDIN_WORK_MS`, default 400 ms).
fn base_work() -> Duration {
    let ms = std::env::var("TA_STANDIN_WORK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    Duration::from_millis(ms)
}

/// Works on `message`, calling `draw_busy` with the time spent so far about four times a second.
/// Keys other than Escape that arrive meanwhile are kept for after the turn.
pub fn work(term: &mut Terminal, message: &str, draw_busy: &mut dyn FnMut(Duration)) -> TurnEnd {
    let directives = directives::parse(message);
    let duration = base_work() + directives.sleep;
    let started = Instant::now();
    loop {
        let elapsed = started.elapsed();
        draw_busy(elapsed);
        if elapsed >= duration {
            break;
        }
        match term.poll_input((duration - elapsed).min(Duration::from_millis(250))) {
            Some(Input::Escape) => return TurnEnd::Interrupted,
            Some(other) => term.defer(other),
            None => {}
        }
    }
    let mut reply: Vec<String> = directives
        .reports
        .iter()
        .map(|report| directives::send(message, report))
        .collect();
    if reply.is_empty() {
        reply.push("Done.".into());
    }
    TurnEnd::Answered(reply)
}
