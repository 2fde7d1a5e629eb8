//! The `codex` persona: Codex 0.169.0 as its captures show it. The main screen is the banner,
//! the conversation, a `Working (Ns • esc to interrupt)` line while a turn works, and the
//! composer (`› Ask Codex to do anything`) with the model/cwd line and the footer below it;
//! Ctrl-C exits and prints how to resume the session. Arguments: `resume <id>`, `fork <id>`,
//! `login --with-api-key` (key on stdin), `-c developer_instructions=<TOML string>`; other flags
//! (`--no-alt-screen`, `--no-daemon`, `--sandbox`, …) are accepted and ignored.

mod rollout;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use team_agent_scripted::terminal::{Input, Terminal, print_flush};

use crate::screen::{self, Editor};
use crate::turn::{self, TurnEnd};
use rollout::Rollout;

/// Flags that take a value (skipped when the persona does not use it).
const VALUE_FLAGS: &[&str] = &[
    "-m",
    "--model",
    "-s",
    "--sandbox",
    "-a",
    "--ask-for-approval",
    "-p",
    "--profile",
    "-C",
    "--cd",
    "-i",
    "--image",
    "--add-dir",
    "--enable",
    "--disable",
];

#[derive(Default)]
struct Options {
    command: Option<String>,
    session: Option<String>,
    instructions: Option<String>,
    model: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("error: a value is required for '{arg} <VALUE>'"))
        };
        match arg.as_str() {
            "-c" | "--config" => {
                let setting = value()?;
                if let Some(text) = setting.strip_prefix("developer_instructions=") {
                    options.instructions = Some(toml_value(text));
                }
            }
            "-m" | "--model" => options.model = Some(value()?),
            flag if VALUE_FLAGS.contains(&flag) => {
                value()?;
            }
            flag if flag.starts_with('-') => {}
            word if options.command.is_none() && ["resume", "fork", "login"].contains(&word) => {
                options.command = Some(word.to_string());
            }
            word if options.session.is_none() => options.session = Some(word.to_string()),
            word => return Err(format!("error: unexpected argument '{word}' found")),
        }
    }
    Ok(options)
}

/// A `-c` value as Codex reads it: TOML, or the raw text when it is not TOML.
fn toml_value(text: &str) -> String {
    toml::from_str::<toml::Table>(&format!("value = {text}"))
        .ok()
        .and_then(|table| table.get("value")?.as_str().map(str::to_string))
        .unwrap_or_else(|| text.to_string())
}

pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    if options.command.as_deref() == Some("login") {
        return login(&home);
    }
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rollout = match open_session(&options, &home, &cwd) {
        Ok(rollout) => rollout,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    };
    let mut term = Terminal::open();
    if std::env::var("TA_STANDIN_TRUST").as_deref() == Ok("1") && !trust(&mut term, &home, &cwd) {
        drop(term);
        println!("\nCodex did not open a session: the folder was not trusted.");
        return ExitCode::from(1);
    }
    let mut ui = Ui {
        cwd,
        model: options.model.unwrap_or_else(|| "gpt-5.5".into()),
        history: Vec::new(),
        editor: Editor::default(),
    };
    for exchange in rollout.history() {
        ui.add_exchange(&exchange.prompt, &exchange.reply);
    }
    ui.main_loop(term, rollout);
    ExitCode::SUCCESS
}

/// `codex login --with-api-key`: the key from stdin, saved where Codex keeps its login.
fn login(home: &Path) -> ExitCode {
    let mut key = String::new();
    let _ = std::io::stdin().read_to_string(&mut key);
    let key = key.trim();
    if key.is_empty() {
        eprintln!("error: no API key on stdin");
        return ExitCode::from(1);
    }
    let dir = home.join(".codex");
    let saved = std::fs::create_dir_all(&dir).and_then(|()| {
        let auth = serde_json::json!({"auth_mode": "apikey", "OPENAI_API_KEY": key});
        std::fs::write(dir.join("auth.json"), auth.to_string())
    });
    match saved {
        Ok(()) => {
            println!("Successfully logged in");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn open_session(options: &Options, home: &Path, cwd: &str) -> Result<Rollout, String> {
    let started = Utc::now();
    let source = match (options.command.as_deref(), &options.session) {
        (Some("resume" | "fork"), Some(id)) => {
            let path = rollout::find(home, id).ok_or_else(|| {
                format!(
                    "ERROR: No saved session found with ID {id}. Run `codex {}` without an ID to choose from existing sessions.",
                    options.command.as_deref().unwrap_or("resume")
                )
            })?;
            Some((path, id))
        }
        (Some(command), None) => {
            return Err(format!(
                "the stand-in has no session picker: give `codex {command}` a session id"
            ));
        }
        _ => None,
    };
    Ok(match (options.command.as_deref(), source) {
        (Some("resume"), Some((path, id))) => Rollout::resumed(path, id, cwd),
        (Some("fork"), Some((path, _))) => {
            Rollout::forked(&path, home, cwd, started, options.instructions.clone())
        }
        _ => Rollout::fresh(home, cwd, started, options.instructions.clone()),
    })
}

/// Asks whether to trust `cwd` unless `~/.codex/config.toml` trusts it; false when declined.
fn trust(term: &mut Terminal, home: &Path, cwd: &str) -> bool {
    let config = home.join(".codex").join("config.toml");
    let section = format!("[projects.\"{cwd}\"]");
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    if text.lines().any(|line| line.trim() == section) {
        return true;
    }
    let mut selected = 0;
    let options = ["Trust and continue", "Back to Agent Command Center"];
    loop {
        let mut frame = vec![
            String::new(),
            "  Folder access".to_string(),
            format!("  {cwd}"),
            String::new(),
            "  Trust this folder? Codex can read, edit, and run files here, subject to your permission settings. Folder settings can run code automatically, even without a model request, so only trust these files. Your trust decision will be saved.".into(),
            String::new(),
        ];
        for (i, option) in options.iter().enumerate() {
            let marker = if i == selected { "›" } else { " " };
            frame.push(format!("{marker} {}. {option}", i + 1));
        }
        frame.push(String::new());
        frame.push("  enter continue · esc back".into());
        screen::draw(&frame);
        match term.read_input() {
            Input::Enter if selected == 0 => break,
            Input::Up | Input::Down => selected = 1 - selected,
            Input::Enter | Input::Escape | Input::CtrlC | Input::Eof => return false,
            _ => {}
        }
    }
    let saved = format!("{text}\n{section}\ntrust_level = \"trusted\"\n");
    let _ = std::fs::create_dir_all(home.join(".codex"));
    let _ = std::fs::write(config, saved);
    true
}

/// What the main screen shows.
struct Ui {
    cwd: String,
    model: String,
    history: Vec<String>,
    editor: Editor,
}

impl Ui {
    fn add_exchange(&mut self, prompt: &str, reply: &[String]) {
        self.history
            .extend(screen::prompt_lines(prompt, "› ", "  "));
        self.history.push(String::new());
        for line in reply {
            self.history.push(format!("• {line}"));
        }
        self.history.push(worked_for(Duration::ZERO));
        self.history.push(String::new());
    }

    fn frame(&self, working: Option<String>) -> Vec<String> {
        let mut frame = vec![
            String::new(),
            format!("  >_ OpenAI Codex (v{})", "0.169.0"),
            format!("     {}", self.cwd),
            String::new(),
        ];
        let composer = if self.editor.is_blank() {
            vec!["› Ask Codex to do anything".to_string()]
        } else {
            let shown = self
                .editor
                .shown(|_, _, chars| format!("[Pasted Content {chars} chars]"));
            screen::prompt_lines(&shown, "› ", "  ")
        };
        let reserved = frame.len() + composer.len() + 6;
        frame.extend_from_slice(screen::tail(
            &self.history,
            screen::height().saturating_sub(reserved),
        ));
        if let Some(working) = working {
            frame.push(working);
            frame.push(String::new());
        }
        frame.extend(composer);
        frame.push(String::new());
        frame.push(format!("  {} default · {}", self.model, self.cwd));
        frame.push("  ← for agents · ? for shortcuts".into());
        frame
    }

    /// Runs until Ctrl-C; the terminal is restored before the exit text is printed.
    fn main_loop(&mut self, mut term: Terminal, mut rollout: Rollout) {
        screen::draw(&self.frame(None));
        loop {
            let input = term.read_input();
            match input {
                Input::CtrlC | Input::Eof => break,
                Input::CtrlD if self.editor.is_blank() => break,
                Input::Enter if !self.editor.is_blank() => {
                    let message = self.editor.text();
                    self.editor.clear();
                    self.turn(&mut term, &mut rollout, &message);
                }
                other => {
                    self.editor.take(&other);
                }
            }
            screen::draw(&self.frame(None));
        }
        drop(term);
        let goodbye = if rollout.exists() {
            format!(
                "To continue this session, run:\r\n  codex resume {}\r\n",
                rollout.session_id()
            )
        } else {
            format!("Session ID: {}\r\n", rollout.session_id())
        };
        print_flush(&format!("\x1b[H\x1b[J{goodbye}"));
    }

    fn turn(&mut self, term: &mut Terminal, rollout: &mut Rollout, message: &str) {
        rollout.task_started(message);
        self.history
            .extend(screen::prompt_lines(message, "› ", "  "));
        self.history.push(String::new());
        let mut draw_busy = |elapsed: Duration| {
            let line = format!("◦ Working ({}s • esc to interrupt)", elapsed.as_secs());
            screen::draw(&self.frame(Some(line)));
        };
        let started = std::time::Instant::now();
        match turn::work(term, message, &mut draw_busy) {
            TurnEnd::Answered(reply) => {
                rollout.task_complete(&reply);
                for line in &reply {
                    self.history.push(format!("• {line}"));
                }
                self.history.push(worked_for(started.elapsed()));
            }
            TurnEnd::Interrupted => {
                rollout.turn_aborted();
                self.history.push(
                    "■ Conversation interrupted - use /feedback if something went wrong".into(),
                );
            }
        }
        self.history.push(String::new());
    }
}

/// The line Codex 0.169.0 closes every finished turn with: `Worked for 3s • 14:05`.
fn worked_for(took: Duration) -> String {
    let took = match took.as_secs() {
        0 => "<1s".to_string(),
        s => format!("{s}s"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 86_400);
    format!(
        "  Worked for {took} • {:02}:{:02}",
        now / 3600,
        now % 3600 / 60
    )
}
