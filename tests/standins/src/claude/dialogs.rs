//! The Claude persona's startup dialogs, drawn as Claude Code 2.1.330 draws them (a list without
//! numbers, the highlighted option marked `❯`, the list wrapping around), and the answers they
//! save where Claude saves them: the folder's trust and the custom API key's approval in
//! `~/.claude.json`, the bypass warning's acceptance in `~/.claude/settings.json`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use team_agent_scripted::terminal::{Input, Terminal};

use crate::screen;

/// Shows a dialog: `text` above the options, `default` highlighted. The chosen option's index,
/// or `None` when it was cancelled.
fn choose(
    term: &mut Terminal,
    text: &[String],
    indent: &str,
    options: &[&str],
    default: usize,
) -> Option<usize> {
    let mut selected = default;
    loop {
        let mut frame = vec![String::new(), "─".repeat(screen::width())];
        frame.extend(text.iter().cloned());
        frame.push(String::new());
        for (i, option) in options.iter().enumerate() {
            let marker = if i == selected { "❯" } else { " " };
            frame.push(format!("{indent}{marker} {option}"));
        }
        frame.push(String::new());
        frame.push(format!("{indent}Enter to confirm · Esc to cancel"));
        screen::draw(&frame);
        match term.read_input() {
            Input::Enter => return Some(selected),
            Input::Down => selected = (selected + 1) % options.len(),
            Input::Up => selected = (selected + options.len() - 1) % options.len(),
            Input::Escape | Input::CtrlC | Input::Eof => return None,
            _ => {}
        }
    }
}

/// Asks whether to trust `cwd` unless this HOME trusts it already; false when declined.
pub fn trust(term: &mut Terminal, home: &Path, cwd: &str) -> bool {
    let config_path = claude_json(home);
    let mut config = read_object(&config_path);
    if config["projects"][cwd]["hasTrustDialogAccepted"] == true {
        return true;
    }
    let text = [
        " Accessing workspace:".to_string(),
        String::new(),
        format!(" {cwd}"),
        String::new(),
        " Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team). If not, take a moment to review what's in this folder first.".into(),
        String::new(),
        " Claude Code'll be able to read, edit, and execute files here.".into(),
        String::new(),
        " Security guide".into(),
    ];
    let options = ["No, exit", "Yes, I trust this folder"];
    if choose(term, &text, " ", &options, 0) != Some(1) {
        return false;
    }
    config["projects"][cwd]["hasTrustDialogAccepted"] = json!(true);
    write_object(&config_path, &config);
    true
}

/// Asks about `ANTHROPIC_API_KEY` unless this HOME answered for this key before.
pub fn custom_api_key(term: &mut Terminal, home: &Path, key: &str) {
    let config_path = claude_json(home);
    let mut config = read_object(&config_path);
    // Claude remembers a key by its last 20 characters.
    let tail: String = {
        let chars: Vec<char> = key.chars().collect();
        chars[chars.len().saturating_sub(20)..].iter().collect()
    };
    let answered = ["approved", "rejected"].iter().any(|list| {
        config["customApiKeyResponses"][list]
            .as_array()
            .is_some_and(|keys| keys.iter().any(|k| k == &json!(tail)))
    });
    if answered {
        return;
    }
    let text = [
        "  Detected a custom API key in your environment".to_string(),
        String::new(),
        format!("  ANTHROPIC_API_KEY: sk-ant-...{tail}"),
        String::new(),
        "  Do you want to use this API key?".into(),
    ];
    let list = match choose(term, &text, "  ", &["Yes", "No (recommended)"], 1) {
        Some(0) => "approved",
        _ => "rejected",
    };
    let responses = &mut config["customApiKeyResponses"];
    if !responses[list].is_array() {
        responses[list] = json!([]);
    }
    if let Some(keys) = responses[list].as_array_mut() {
        keys.push(json!(tail));
    }
    write_object(&config_path, &config);
}

/// Warns about `--dangerously-skip-permissions` unless it was accepted before; false when not.
pub fn bypass_permissions(term: &mut Terminal, home: &Path) -> bool {
    let settings_path = home.join(".claude").join("settings.json");
    let mut settings = read_object(&settings_path);
    if settings["skipDangerousModePermissionPrompt"] == true {
        return true;
    }
    let text = [
        "  WARNING: Claude Code running in Bypass Permissions mode".to_string(),
        String::new(),
        "  In Bypass Permissions mode, Claude Code will not ask for your approval before running potentially dangerous commands.".into(),
        "  This mode should only be used in a sandboxed container/VM that has restricted internet access and can easily be restored if damaged.".into(),
    ];
    if choose(term, &text, "  ", &["No, exit", "Yes, I accept"], 0) != Some(1) {
        return false;
    }
    settings["skipDangerousModePermissionPrompt"] = json!(true);
    write_object(&settings_path, &settings);
    true
}

fn claude_json(home: &Path) -> PathBuf {
    home.join(".claude.json")
}

fn read_object(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

fn write_object(path: &Path, value: &Value) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(
        path,
        serde_json::to_string_pretty(value).unwrap_or_default(),
    );
}
