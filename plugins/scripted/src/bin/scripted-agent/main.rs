//! `scripted-agent`: a terminal program that behaves like an agent CLI, for demos and tests.
//!
//! It shows an input prompt, takes typed keys and bracketed pastes, "works" on each submitted
//! message (a busy line with `esc to interrupt`), records everything in a JSONL transcript under
//! `$HOME/.scripted-agent/sessions/`, and obeys `@scripted …` directives found in messages.
//! With `--hook-command-json` it runs hooks at its events the way Claude Code does (see `hooks`).

mod directives;
mod hooks;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use team_agent_scripted::screen;
use team_agent_scripted::terminal::{Input, Terminal, print_flush};
use team_agent_scripted::transcript::{self, Record};

use hooks::{HookCall, Hooks};

const USAGE: &str = "\
usage: scripted-agent [--session-id ID | --resume ID | --fork-from ID --session-id NEW]
                      [--work-ms MS] [--trust-prompt] [--login-screen] [--hook-command-json JSON]

A terminal program that behaves like an agent CLI, bundled with team-agent for demos and tests.
Each submitted message is recorded in $HOME/.scripted-agent/sessions/<session-id>.jsonl.

--hook-command-json '[\"prog\", \"arg\"]' runs `prog arg EVENT` at each event below, with a
one-line JSON payload on stdin as Claude Code's hooks get it: \"hook_event_name\", \"session_id\",
\"cwd\", \"transcript_path\" and the event's own fields. A hook may take 5 s; one that fails is
reported here and otherwise ignored.
  SessionStart      the session began             source (startup or resume)
  UserPromptSubmit  a message, before its turn    prompt (the message verbatim)
  PreToolUse        a tool call begins            tool_name, tool_input
  Notification      an approval dialog is shown   notification_type (permission_prompt), message
  PostToolUse       a tool call is over           tool_name, tool_response
  Stop              the turn ended (not on exit)  last_assistant_message (null if interrupted)
The tool calls are the directives tool, approval, write (its tool_name is Write) and report
(its tool_name is report_result).

Lines of a message starting with `@scripted` are directives:
  @scripted report STATUS SUMMARY…   report a result with `team-agent report-result`
  @scripted sleep SECONDS            keep working that long
  @scripted tool NAME SECONDS        run the tool NAME (a `sleep` process) for that long
  @scripted freeze SECONDS           look busy but print nothing and run no hook (a hung CLI)
  @scripted deaf SECONDS             after this turn, swallow what is submitted for that long
  @scripted approval [TOOL]          show an approval prompt for TOOL (shell.exec) until answered
  @scripted api-error CLASS          show an API error (overloaded, rate_limit, network, timeout)
  @scripted print N                  print N lines of output
  @scripted write FILE TEXT…         write TEXT (and a newline) to FILE, relative to the cwd
  @scripted exit CODE                exit with CODE
";

struct Options {
    session_id: Option<String>,
    resume: Option<String>,
    fork_from: Option<String>,
    work_ms: u64,
    trust_prompt: bool,
    /// Starts at a sign-in screen that only a person gets past (Enter).
    login_screen: bool,
    /// The hook command (`--hook-command-json`); empty: no hooks.
    hook_command: Vec<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        session_id: None,
        resume: None,
        fork_from: None,
        work_ms: 300,
        trust_prompt: false,
        login_screen: false,
        hook_command: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--session-id" => options.session_id = Some(value("--session-id")?),
            "--resume" => options.resume = Some(value("--resume")?),
            "--fork-from" => options.fork_from = Some(value("--fork-from")?),
            "--work-ms" => {
                options.work_ms = value("--work-ms")?
                    .parse()
                    .map_err(|_| "--work-ms needs a number of milliseconds".to_string())?
            }
            "--trust-prompt" => options.trust_prompt = true,
            "--login-screen" => options.login_screen = true,
            "--hook-command-json" => {
                options.hook_command = serde_json::from_str(&value("--hook-command-json")?)
                    .map_err(|e| {
                        format!("--hook-command-json needs a JSON array of strings: {e}")
                    })?
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--version" => {
                println!("scripted-agent {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for id in [&options.session_id, &options.resume, &options.fork_from]
        .into_iter()
        .flatten()
    {
        if !transcript::valid_session_id(id) {
            return Err(format!(
                "invalid session id {id:?}: use letters, digits, '-' or '_'"
            ));
        }
    }
    if options.resume.is_some() && (options.session_id.is_some() || options.fork_from.is_some()) {
        return Err("--resume cannot be combined with --session-id or --fork-from".into());
    }
    if options.fork_from.is_some() && options.session_id.is_none() {
        return Err("--fork-from needs --session-id for the new session".into());
    }
    Ok(options)
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The session being recorded.
pub struct Session {
    pub id: String,
    file: File,
    pub hooks: Hooks,
    /// Until then, a submitted message is swallowed: the input clears, nothing takes it (no
    /// hook, no record), as a CLI whose input a dialog holds (`@scripted deaf SECONDS`).
    pub deaf_until: Option<Instant>,
}

impl Session {
    pub fn record(&mut self, record: &Record) {
        if let Ok(mut line) = serde_json::to_string(record) {
            line.push('\n');
            let _ = self.file.write_all(line.as_bytes());
            let _ = self.file.flush();
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn open_session(options: &Options) -> Result<Session, String> {
    let home = home();
    let dir = transcript::sessions_dir(&home);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(id) = &options.resume {
        let path = transcript::transcript_path(&home, id);
        if transcript::read_meta(&path).is_none() {
            return Err(format!(
                "{} {id} to resume (looked for {})",
                screen::NO_SESSION,
                path.display()
            ));
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| e.to_string())?;
        let mut session = Session {
            id: id.clone(),
            file,
            hooks: Hooks::new(options.hook_command.clone(), id, &path),
            deaf_until: None,
        };
        session.record(&Record::Resumed { ts: now() });
        return Ok(session);
    }
    let id = options.session_id.clone().unwrap_or_else(random_uuid);
    let path = transcript::transcript_path(&home, &id);
    if path.exists() {
        return Err(format!(
            "session {id} already exists ({}); use --resume",
            path.display()
        ));
    }
    let mut history = Vec::new();
    if let Some(source) = &options.fork_from {
        let source_path = transcript::transcript_path(&home, source);
        let text = std::fs::read_to_string(&source_path).map_err(|_| {
            format!(
                "{} {source} to fork (looked for {})",
                screen::NO_SESSION,
                source_path.display()
            )
        })?;
        history = text.lines().skip(1).map(str::to_string).collect();
    }
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| e.to_string())?;
    let mut session = Session {
        id: id.clone(),
        file,
        hooks: Hooks::new(options.hook_command.clone(), &id, &path),
        deaf_until: None,
    };
    session.record(&Record::SessionMeta {
        session_id: id,
        cwd,
        started_at: now(),
        agent_id: std::env::var("TEAM_AGENT_ID").ok(),
        forked_from: options.fork_from.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    for line in history {
        let _ = session.file.write_all(format!("{line}\n").as_bytes());
    }
    Ok(session)
}

fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Asks whether to trust the folder; true when trusted.
fn trust_dialog(term: &mut Terminal) -> bool {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut selected = 1;
    loop {
        let (yes, no) = if selected == 1 {
            (screen::SELECTED, " ")
        } else {
            (" ", screen::SELECTED)
        };
        print_flush(&format!(
            "\x1b[2J\x1b[H{}\n{cwd}\n\n{yes} {}\n{no} {}\n\n{}\n",
            screen::TRUST_QUESTION,
            screen::TRUST_YES,
            screen::TRUST_NO,
            screen::TRUST_FOOTER
        ));
        match term.read_input() {
            Input::Enter => return selected == 1,
            Input::Char('1') => return true,
            Input::Char('2') | Input::Escape | Input::CtrlC | Input::Eof => return false,
            Input::Up => selected = 1,
            Input::Down => selected = 2,
            _ => {}
        }
    }
}

/// The sign-in screen: it waits for a person's Enter (as a CLI waits for a browser login);
/// false when they gave up instead.
fn login_screen(term: &mut Terminal) -> bool {
    print_flush(&format!(
        "\x1b[2J\x1b[H{}\n{}\n",
        screen::LOGIN_NEEDED,
        screen::LOGIN_HINT
    ));
    loop {
        match term.read_input() {
            Input::Enter => return true,
            Input::Escape | Input::CtrlC | Input::Eof => return false,
            _ => {}
        }
    }
}

fn prompt() {
    print_flush(&format!("\n{}", screen::PROMPT));
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scripted-agent: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut session = match open_session(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    let mut term = Terminal::open();
    if options.trust_prompt && !trust_dialog(&mut term) {
        drop(term);
        println!("\nscripted-agent did not start because this folder is not trusted.");
        return ExitCode::from(1);
    }
    if options.login_screen && !login_screen(&mut term) {
        drop(term);
        println!("\nscripted-agent did not start: nobody signed in.");
        return ExitCode::from(1);
    }
    let agent = std::env::var("TEAM_AGENT_ID").unwrap_or_else(|_| "-".into());
    print_flush(&format!(
        "\x1b[2J\x1b[H{} {} · session {} · agent {agent}\nType a message and press Enter.\n",
        screen::BANNER,
        env!("CARGO_PKG_VERSION"),
        session.id
    ));
    session.hooks.run(HookCall::SessionStart {
        resumed: options.resume.is_some(),
    });
    prompt();
    let mut buffer = String::new();
    loop {
        match term.read_input() {
            Input::Char(c) => {
                buffer.push(c);
                print_flush(&c.to_string());
            }
            Input::Paste(text) => {
                echo_paste(&text);
                buffer.push_str(&text);
            }
            Input::Backspace => {
                if buffer.pop().is_some() {
                    print_flush("\x08 \x08");
                }
            }
            // What was typed or pasted stays above as history; a fresh prompt takes input.
            Input::CtrlU if !buffer.is_empty() => {
                buffer.clear();
                print_flush("\n(input cleared)\n");
                prompt();
            }
            Input::Enter => {
                if buffer.trim().is_empty() {
                    continue;
                }
                let text = std::mem::take(&mut buffer);
                if session
                    .deaf_until
                    .is_some_and(|until| Instant::now() < until)
                {
                    print_flush("\n");
                    prompt();
                    continue;
                }
                let code = run_turn(&mut term, &mut session, &text, options.work_ms);
                if let Some(code) = code {
                    drop(term);
                    return ExitCode::from(code as u8);
                }
                prompt();
            }
            Input::CtrlC | Input::Eof => {
                drop(term);
                println!(
                    "\nTo continue this session, run: scripted-agent --resume {}",
                    session.id
                );
                return ExitCode::from(0);
            }
            Input::CtrlD if buffer.is_empty() => {
                drop(term);
                println!(
                    "\nTo continue this session, run: scripted-agent --resume {}",
                    session.id
                );
                return ExitCode::from(0);
            }
            Input::Escape | Input::Up | Input::Down | Input::CtrlD | Input::CtrlU => {}
        }
    }
}

/// Shows a paste compactly: its first line, how many lines follow, and its last line (where
/// team-agent puts its delivery token), so a huge paste never floods the screen.
fn echo_paste(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let clip = |s: &str| s.chars().take(150).collect::<String>();
    match lines.as_slice() {
        [] => {}
        [one] => print_flush(&clip(one)),
        [first, .., last] => print_flush(&format!(
            "{} … (+{} lines)\n  {}",
            clip(first),
            lines.len() - 1,
            clip(last)
        )),
    }
}

/// Works on one submitted message; `Some(code)` when a directive asks the agent to exit.
fn run_turn(term: &mut Terminal, session: &mut Session, text: &str, work_ms: u64) -> Option<i32> {
    print_flush("\n");
    session
        .hooks
        .run(HookCall::UserPromptSubmit { prompt: text });
    session.record(&Record::UserMessage {
        ts: now(),
        text: text.to_string(),
    });
    session.record(&Record::TurnStarted { ts: now() });
    let started = Instant::now();
    let outcome = directives::run(term, session, text);
    if outcome.interrupted {
        session.hooks.run(HookCall::Stop { last_text: None });
        return None;
    }
    if let Some(code) = outcome.exit {
        session.record(&Record::Exit { ts: now(), code });
        return Some(code);
    }
    let remaining = Duration::from_millis(work_ms).saturating_sub(started.elapsed());
    if !busy(term, session, remaining, "Working") {
        session.hooks.run(HookCall::Stop { last_text: None });
        return None;
    }
    let ms = started.elapsed().as_millis() as u64;
    session.record(&Record::TurnComplete {
        ts: now(),
        duration_ms: ms,
    });
    let last_text = format!("Worked for {:.1}s", ms as f64 / 1000.0);
    print_flush(&format!("\r\x1b[K✓ {last_text}\n"));
    session.hooks.run(HookCall::Stop {
        last_text: Some(&last_text),
    });
    None
}

/// Shows the busy line for `duration`; false when the user interrupted with Escape.
pub fn busy(term: &mut Terminal, session: &mut Session, duration: Duration, label: &str) -> bool {
    let started = Instant::now();
    loop {
        let elapsed = started.elapsed();
        print_flush(&format!(
            "\r\x1b[K• {label} ({}s • {})",
            elapsed.as_secs(),
            screen::BUSY
        ));
        if elapsed >= duration {
            return true;
        }
        let wait = (duration - elapsed).min(Duration::from_millis(250));
        match term.poll_input(wait) {
            Some(Input::Escape) => {
                session.record(&Record::TurnInterrupted { ts: now() });
                print_flush("\r\x1b[K■ Interrupted\n");
                return false;
            }
            Some(other) => term.defer(other),
            None => {}
        }
    }
}
