//! The `claude` persona: Claude Code 2.1.330 as its captures show it. The main screen is the
//! banner, the conversation, a spinner while a turn works, and the input box (`❯` between two
//! rules) with the mode line below; Ctrl-C twice exits and prints how to resume the session.
//! Flags: `--session-id <uuid>`, `--resume <id>` (with `--fork-session`), `--append-system-prompt`,
//! `--permission-mode`, `--dangerously-skip-permissions`, `--model`; others are ignored.

mod dialogs;
mod transcript;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use team_agent_scripted::terminal::{Input, Terminal, print_flush};

use crate::ids;
use crate::screen::{self, Editor};
use crate::turn::{self, TurnEnd};
use transcript::Transcript;

/// Flags that take a value (skipped when the persona does not use it).
const VALUE_FLAGS: &[&str] = &[
    "--mcp-config",
    "--system-prompt",
    "--system-prompt-snapshot",
    "--settings",
    "--add-dir",
    "--effort",
    "--fallback-model",
    "--name",
    "-n",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--tools",
];

const MODES: &[&str] = &[
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "manual",
    "default",
    "dontAsk",
    "plan",
];

#[derive(Default)]
struct Options {
    session_id: Option<String>,
    resume: Option<String>,
    fork: bool,
    system_prompt: Option<String>,
    permission_mode: Option<String>,
    bypass: bool,
    model: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("error: option '{arg}' argument missing"))
        };
        match arg.as_str() {
            "--session-id" => options.session_id = Some(value()?),
            "-r" | "--resume" => options.resume = Some(value()?),
            "--fork-session" => options.fork = true,
            "--append-system-prompt" => options.system_prompt = Some(value()?),
            "--permission-mode" => options.permission_mode = Some(value()?),
            "--dangerously-skip-permissions" => options.bypass = true,
            "--model" => options.model = Some(value()?),
            flag if VALUE_FLAGS.contains(&flag) => {
                value()?;
            }
            _ => {}
        }
    }
    if let Some(mode) = &options.permission_mode
        && !MODES.contains(&mode.as_str())
    {
        return Err(format!(
            "error: option '--permission-mode <mode>' argument '{mode}' is invalid. Allowed choices are acceptEdits, auto, bypassPermissions, manual, dontAsk, plan."
        ));
    }
    if let Some(id) = &options.session_id {
        if !ids::is_uuid(id) {
            return Err("Error: Invalid session ID. Must be a valid UUID.".into());
        }
        if options.resume.is_some() && !options.fork {
            return Err("Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.".into());
        }
    }
    Ok(options)
}

/// The mode line under the input box.
fn mode_line(options: &Options) -> &'static str {
    if options.bypass {
        return "⏵⏵ bypass permissions on (shift+tab to cycle)";
    }
    match options.permission_mode.as_deref().unwrap_or("auto") {
        "acceptEdits" => "⏵⏵ accept edits on (shift+tab to cycle)",
        "plan" => "⏸ plan mode on (shift+tab to cycle)",
        "manual" | "default" => "⏸ manual mode on · ? for shortcuts",
        "bypassPermissions" => "⏵⏵ bypass permissions on (shift+tab to cycle)",
        "dontAsk" => "⏵⏵ don't ask on (shift+tab to cycle)",
        _ => "⏵⏵ auto mode on (shift+tab to cycle)",
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    };
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if options.bypass && root && std::env::var("IS_SANDBOX").as_deref() != Ok("1") {
        eprintln!(
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
        );
        return ExitCode::from(1);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let session = match open_session(&options, &home, &cwd) {
        Ok(session) => session,
        Err(message) => {
            println!("{message}");
            return ExitCode::from(1);
        }
    };
    let mut term = Terminal::open();
    if std::env::var("TA_STANDIN_TRUST").as_deref() == Ok("1")
        && !dialogs::trust(&mut term, &home, &cwd)
    {
        drop(term);
        println!("\nClaude Code didn't start because this folder isn't trusted.");
        return ExitCode::from(1);
    }
    if options.bypass && !dialogs::bypass_permissions(&mut term, &home) {
        return ExitCode::from(1);
    }
    if let Ok(key) = std::env::var("ANTHROPIC_API_KEY")
        && !key.is_empty()
    {
        dialogs::custom_api_key(&mut term, &home, &key);
    }
    let mut ui = Ui {
        cwd,
        model: options.model.clone(),
        mode_line: mode_line(&options),
        history: Vec::new(),
        editor: Editor::default(),
        exit_armed: false,
    };
    for exchange in session.history() {
        ui.add_exchange(&exchange.prompt, &exchange.reply);
    }
    ui.main_loop(term, session);
    ExitCode::SUCCESS
}

/// The transcript this start writes to, or the message Claude prints when it cannot start.
fn open_session(options: &Options, home: &Path, cwd: &str) -> Result<Transcript, String> {
    let mode = options.permission_mode.as_deref().unwrap_or("auto");
    if let Some(source) = &options.resume {
        let path = transcript::path_for(home, cwd, source);
        if !path.is_file() {
            return Err(format!("No conversation found with session ID: {source}"));
        }
        if !options.fork {
            return Ok(Transcript::resumed(path, cwd, source, mode));
        }
        let id = options.session_id.clone().unwrap_or_else(ids::uuid_v4);
        in_use(home, cwd, &id)?;
        return Ok(Transcript::forked(&path, home, cwd, &id, mode));
    }
    let id = options.session_id.clone().unwrap_or_else(ids::uuid_v4);
    in_use(home, cwd, &id)?;
    Ok(Transcript::fresh(
        home,
        cwd,
        &id,
        mode,
        options.system_prompt.clone(),
    ))
}

fn in_use(home: &Path, cwd: &str, id: &str) -> Result<(), String> {
    if transcript::path_for(home, cwd, id).exists() {
        return Err(format!("Error: Session ID {id} is already in use."));
    }
    Ok(())
}

/// What the main screen shows.
struct Ui {
    cwd: String,
    model: Option<String>,
    mode_line: &'static str,
    history: Vec<String>,
    editor: Editor,
    /// One Ctrl-C was pressed; the next one exits.
    exit_armed: bool,
}

impl Ui {
    fn add_exchange(&mut self, prompt: &str, reply: &[String]) {
        self.history
            .extend(screen::prompt_lines(prompt, "❯ ", "  "));
        self.history.push(String::new());
        for line in reply {
            self.history.push(format!("● {line}"));
        }
        self.history.push(String::new());
    }

    fn frame(&self, spinner: Option<String>) -> Vec<String> {
        let model = self.model.as_deref().unwrap_or("Opus 5.5");
        let mut frame = vec![
            " ▐▛███▛█   Claude Code v2.1.330".to_string(),
            format!("▝▜██████▀  {model} · API Usage Billing"),
            format!(" ▝▝   ▝▝   {}", self.cwd),
            String::new(),
        ];
        let input = self
            .editor
            .shown(|n, lines, _| format!("[Pasted text #{n} +{lines} lines]"));
        let input = screen::prompt_lines(&input, "❯\u{a0}", "  ");
        let reserved = frame.len() + input.len() + 6;
        frame.extend_from_slice(screen::tail(
            &self.history,
            screen::height().saturating_sub(reserved),
        ));
        if let Some(spinner) = &spinner {
            frame.push(spinner.clone());
            frame.push(String::new());
        }
        let rule = "─".repeat(screen::width());
        frame.push(rule.clone());
        frame.extend(input);
        frame.push(rule);
        frame.push(match (self.exit_armed, spinner.is_some()) {
            (true, _) => "  Press Ctrl-C again to exit".to_string(),
            (false, true) => format!("  {} · esc to interrupt", self.mode_line),
            (false, false) => format!("  {}", self.mode_line),
        });
        frame
    }

    /// Runs until Ctrl-C twice; the terminal is restored before the exit text is printed.
    fn main_loop(&mut self, mut term: Terminal, mut session: Transcript) {
        screen::draw(&self.frame(None));
        loop {
            let input = term.read_input();
            if matches!(input, Input::CtrlC | Input::Eof) {
                if self.exit_armed || input == Input::Eof {
                    break;
                }
                self.exit_armed = true;
            } else {
                self.exit_armed = false;
            }
            if input == Input::Enter && !self.editor.is_blank() {
                let message = self.editor.text();
                self.editor.clear();
                self.turn(&mut term, &mut session, &message);
            } else {
                self.editor.take(&input);
            }
            screen::draw(&self.frame(None));
        }
        drop(term);
        if session.exists() {
            print_flush(&format!(
                "\r\n\r\nResume this session with:\r\nclaude --resume {}\r\n",
                session.session_id()
            ));
        }
    }

    fn turn(&mut self, term: &mut Terminal, session: &mut Transcript, message: &str) {
        session.prompt(message);
        self.history
            .extend(screen::prompt_lines(message, "❯ ", "  "));
        self.history.push(String::new());
        let mut draw_busy = |elapsed: Duration| {
            let spinner = format!("✶ Working… ({}s)", elapsed.as_secs());
            screen::draw(&self.frame(Some(spinner)));
        };
        match turn::work(term, message, &mut draw_busy) {
            TurnEnd::Answered(reply) => {
                session.reply(&reply, message);
                for line in &reply {
                    self.history.push(format!("● {line}"));
                }
                self.history.push(String::new());
            }
            TurnEnd::Interrupted => {
                session.interrupted();
                self.history
                    .push("  ⎿  Interrupted · What should Claude do instead?".into());
                self.history.push(String::new());
            }
        }
    }
}
