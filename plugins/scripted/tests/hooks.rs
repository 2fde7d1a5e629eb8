//! The real `scripted-agent`, started with a hook command that appends each call to a file, runs
//! its hooks in order with payloads the plugin reads back; a hook that cannot run changes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use team_agent_plugin_api::{HookEvent, HookPayload, ProviderPlugin};
use team_agent_scripted::Scripted;

/// A private directory for one test, removed when it ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("scripted-hooks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A hook command that appends `NANOS EVENT<TAB>PAYLOAD` to `log`.
fn logging_hook(dir: &Path, log: &Path) -> Vec<String> {
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\npayload=$(cat)\nprintf '%s %s\\t%s\\n' \"$(date +%s%N)\" \"$1\" \"$payload\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    vec![script.to_string_lossy().into_owned()]
}

/// The agent, fed its keys through a pipe (it reads a pipe as it reads a terminal).
struct Agent {
    child: Child,
    keys: Option<ChildStdin>,
}

impl Agent {
    fn start(dir: &Path, hook_command: &[String]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scripted-agent"))
            .args([
                "--session-id",
                "s1",
                "--work-ms",
                "0",
                "--hook-command-json",
            ])
            .arg(serde_json::to_string(hook_command).unwrap())
            .current_dir(dir)
            .env("HOME", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let keys = child.stdin.take();
        Self { child, keys }
    }

    fn type_keys(&mut self, keys: &str) {
        let keys_in = self.keys.as_mut().unwrap();
        keys_in.write_all(keys.as_bytes()).unwrap();
        keys_in.flush().unwrap();
    }

    /// Ends its input (it exits as at Ctrl-C) and waits for it; true when it exited with 0.
    fn finish(mut self) -> bool {
        drop(self.keys.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits for the log to hold `stops` Stop calls, then reads every call as the plugin maps it,
/// with when it ran (nanoseconds).
fn events(log: &Path, stops: usize) -> Vec<(u128, HookEvent)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let calls: Vec<(u128, HookEvent)> = text
            .lines()
            .map(|line| {
                let (at, rest) = line.split_once(' ').unwrap();
                let (event, payload) = rest.split_once('\t').unwrap();
                let call = HookPayload {
                    event: event.into(),
                    payload: payload.into(),
                    session_id: None,
                };
                let event = Scripted
                    .hook_event(&call)
                    .unwrap_or_else(|e| panic!("{line}: {e}"));
                (at.parse().unwrap(), event)
            })
            .collect();
        let ended = calls
            .iter()
            .filter(|(_, e)| matches!(e, HookEvent::TurnEnded { .. }))
            .count();
        if ended >= stops {
            return calls;
        }
        assert!(
            Instant::now() < deadline,
            "no {stops} Stop hooks in time; the log holds:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kinds(events: &[(u128, HookEvent)]) -> Vec<&'static str> {
    events.iter().map(|(_, e)| e.kind()).collect()
}

#[test]
fn the_agent_reports_its_start_then_the_prompt_verbatim_then_the_end_of_the_turn() {
    let scratch = Scratch::new("order");
    let log = scratch.0.join("hooks.log");
    let mut agent = Agent::start(&scratch.0, &logging_hook(&scratch.0, &log));
    let prompt = "Team Agent message from leader:\n\nhello \"there\"\n\n[team-agent-token:msg_1]";
    agent.type_keys(&format!("\x1b[200~{prompt}\x1b[201~\r"));
    let events = events(&log, 1);
    assert!(agent.finish(), "the agent exits cleanly");
    let events: Vec<HookEvent> = events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events[..2],
        [
            HookEvent::SessionStarted {
                session_id: Some("s1".into())
            },
            HookEvent::PromptSubmitted {
                prompt: prompt.into()
            },
        ]
    );
    assert!(
        matches!(&events[2..], [HookEvent::TurnEnded { last_text: Some(text), .. }] if text.starts_with("Worked for ")),
        "{events:?}"
    );
}

#[test]
fn a_slow_tool_runs_between_its_tool_hooks_and_a_frozen_turn_runs_none() {
    let scratch = Scratch::new("tool");
    let log = scratch.0.join("hooks.log");
    let mut agent = Agent::start(&scratch.0, &logging_hook(&scratch.0, &log));
    agent.type_keys(
        "\x1b[200~build it\n@scripted tool cargo-build 0.4\n@scripted freeze 0.4\x1b[201~\r",
    );
    let events = events(&log, 1);
    assert!(agent.finish(), "the agent exits cleanly");
    assert_eq!(
        kinds(&events),
        [
            "session_started",
            "prompt_submitted",
            "tool_started",
            "tool_finished",
            "turn_ended"
        ]
    );
    assert_eq!(
        events[2].1,
        HookEvent::ToolStarted {
            tool: "cargo-build".into()
        }
    );
    let gap_ms = |a: usize, b: usize| (events[b].0 - events[a].0) / 1_000_000;
    assert!(gap_ms(2, 3) >= 350, "the tool took {}ms", gap_ms(2, 3));
    assert!(gap_ms(3, 4) >= 350, "the freeze took {}ms", gap_ms(3, 4));
}

#[test]
fn a_hook_command_that_cannot_run_does_not_stop_the_agent() {
    let scratch = Scratch::new("missing");
    let mut agent = Agent::start(&scratch.0, &["/nonexistent/team-agent-hook".to_string()]);
    agent.type_keys("hello\r");
    let transcript = scratch.0.join(".scripted-agent/sessions/s1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !std::fs::read_to_string(&transcript)
        .unwrap_or_default()
        .contains("\"turn_complete\"")
    {
        assert!(Instant::now() < deadline, "the turn never completed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(agent.finish(), "the agent exits cleanly");
}
