//! `team-agent plugins list | check | probe`.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value, json};
use team_agent_plugin_api::loader::ProviderClient;
use team_agent_plugin_api::{ApprovalDecision, ScreenState, StartupDecision};

use crate::cli::{Reply, UserError};
use crate::plugins::Registry;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin found on the search path, loadable or not.
    ///
    /// JSON: {"plugins":[{"name","kind","version","api_version","path","source","status","error"}]}
    /// with status one of ok, faulted, incompatible, invalid, refused.
    #[command(
        after_help = "Search order: $TEAM_AGENT_PLUGIN_PATH, WORKSPACE/.team/plugins, \
~/.local/share/team-agent/plugins, PREFIX/lib/team-agent/plugins, the team-agent binary's directory."
    )]
    List,

    /// Run the conformance suite on one plugin library (or an installed plugin's name).
    ///
    /// Exit 0 only if every check passes. JSON: {"ok","plugin":{…},"checks":[{"id","ok","detail"}]}.
    #[command(
        after_help = "Examples:\n  team-agent plugins check target/release/libteam_agent_scripted.so\n  \
team-agent plugins check ./libteam_agent_mine.so --fixtures tests/fixtures --json\n  team-agent plugins check codex"
    )]
    Check {
        /// A plugin library file, or the name of an installed plugin.
        path: PathBuf,
        /// A directory of extra fixtures (NAME.screen.txt or NAME.transcript.jsonl + NAME.expect.json).
        #[arg(long, value_name = "DIR")]
        fixtures: Vec<PathBuf>,
    },

    /// What a provider plugin decides for one captured screen or transcript.
    ///
    /// JSON: {"startup":{"decision","prompt","keys","rule"},"screen":{"state","detail","rule"},
    /// "approval":{…}} for --screen, {"turn_state":…, "rule":…} for --transcript.
    #[command(
        after_help = "Examples:\n  tmux capture-pane -p -t %3 > pane.txt && team-agent plugins probe codex --screen pane.txt\n  \
team-agent plugins probe claude --transcript ~/.claude/projects/…/SESSION.jsonl --json\n  \
team-agent plugins probe terminal        # which terminal emulator the display would use, or why none"
    )]
    Probe {
        /// A provider's name (or alias), or a display's: a display says whether it can work
        /// here and with what (which terminal emulator, …), or why not.
        name: String,
        /// A captured screen (`tmux capture-pane -p`), or `-` for stdin (providers).
        #[arg(long, value_name = "FILE")]
        screen: Option<PathBuf>,
        /// A provider transcript (its tail is read), or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        transcript: Option<PathBuf>,
    },

    /// Write a new plugin crate to start from: it builds, loads and passes the structural checks.
    ///
    /// DIR/NAME gets Cargo.toml (cdylib + rlib, on the plugin API), src/lib.rs (every method, each
    /// answering "don't know yet" where the CLI must be taught), build.rs and fixtures/ (one example
    /// screen with its expectation, which fails until filled in), tests/conformance.rs and a
    /// README with the five steps. JSON: {"name","kind","dir","files","library","next"}.
    #[command(after_help = "Examples:\n  team-agent plugins new my-agent\n  \
team-agent plugins new my-agent --dir ~/src --api-path ~/src/team-agent/plugin-api\n  \
team-agent plugins new wall --kind display")]
    New {
        /// The plugin's name: lowercase letters, digits and dashes (the CLI it drives, for a
        /// provider). The crate is team-agent-NAME, the library libteam_agent_NAME.so.
        name: String,
        /// Where to create the NAME directory (default: the current directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = super::plugins_new::Kind::Provider)]
        kind: super::plugins_new::Kind,
        /// Depend on a local checkout's plugin-api directory by path (and on the conformance
        /// suite beside it) instead of by version.
        #[arg(long, value_name = "DIR")]
        api_path: Option<PathBuf>,
    },
}

pub fn run(command: PluginsCommand, workspace: &Option<PathBuf>) -> anyhow::Result<Reply> {
    // The workspace every other command uses (`--workspace`, else the current directory), so
    // `plugins list` shows its `.team/plugins` as `up` would load them.
    let workspace = crate::workspace::Workspace::resolve(workspace.as_deref())
        .ok()
        .map(|w| w.root().to_path_buf());
    match command {
        PluginsCommand::List => Ok(list(&Registry::load(workspace.as_deref()))),
        PluginsCommand::Check { path, fixtures } => check(&path, &fixtures, workspace.as_deref()),
        PluginsCommand::New {
            name,
            dir,
            kind,
            api_path,
        } => super::plugins_new::run(&super::plugins_new::Request {
            name: &name,
            dir: dir.as_deref(),
            kind,
            api_path: api_path.as_deref(),
        }),
        PluginsCommand::Probe {
            name,
            screen,
            transcript,
        } => probe(
            &Registry::load(workspace.as_deref()),
            &name,
            screen.as_deref(),
            transcript.as_deref(),
        ),
    }
}

fn list(registry: &Registry) -> Reply {
    let rows = registry.rows();
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str(
            "no plugins found; run `team-agent plugins list --help` for the search path\n",
        );
    }
    for row in &rows {
        text.push_str(&format!(
            "{:<10} {:<8} {:<14} {:<8} {}\n",
            row.status,
            row.kind.unwrap_or("-"),
            row.name.as_deref().unwrap_or("-"),
            row.version.as_deref().unwrap_or("-"),
            row.path.display()
        ));
        if let Some(error) = &row.error {
            text.push_str(&format!("           {error}\n"));
        }
    }
    Reply::ok(json!({ "plugins": rows }), text)
}

fn check(path: &Path, fixtures: &[PathBuf], workspace: Option<&Path>) -> anyhow::Result<Reply> {
    let library = resolve_library(path, workspace);
    let options = team_agent_conformance::Options {
        fixture_dirs: fixtures.to_vec(),
    };
    let report = team_agent_conformance::check_library(&library, &options);
    let text = report.render();
    Ok(Reply::new(report.ok, &report, text))
}

/// A path that exists is used as is; a bare name is looked up among installed plugins.
fn resolve_library(path: &Path, workspace: Option<&Path>) -> PathBuf {
    let bare = path.components().count() == 1 && !path.exists();
    if bare {
        let name = path.to_string_lossy();
        let registry = Registry::load(workspace);
        if let Some(entry) = registry.entries.iter().find(|e| {
            e.outcome
                .as_ref()
                .is_ok_and(|p| p.names().any(|n| n == name))
        }) {
            return entry.candidate.path.clone();
        }
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        buf
    } else {
        std::fs::read(path).map_err(|e| {
            UserError::new(format!("cannot read {}: {e}", path.display())).action("check the path")
        })?
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The last 128 KiB of a transcript: what the coordinator reads too.
fn tail(text: String) -> String {
    const TAIL: usize = 128 * 1024;
    if text.len() <= TAIL {
        return text;
    }
    let mut start = text.len() - TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

fn probe(
    registry: &Registry,
    name: &str,
    screen: Option<&Path>,
    transcript: Option<&Path>,
) -> anyhow::Result<Reply> {
    if registry.provider(name).is_err()
        && let Ok(display) = registry.display(name)
    {
        let probe = display.probe(&crate::display::environment())?;
        let text = if probe.available {
            format!("{name}: available: {}\n", probe.detail)
        } else {
            format!("{name}: not available: {}\n", probe.detail)
        };
        return Ok(Reply::new(
            probe.available,
            json!({"ok": probe.available, "display": name, "available": probe.available, "detail": probe.detail}),
            text,
        ));
    }
    let provider = registry
        .provider(name)
        .map_err(|e| UserError::new(e.to_string()))?;
    if screen.is_none() && transcript.is_none() {
        return Err(UserError::new(format!(
            "probing the provider '{name}' needs --screen FILE or --transcript FILE"
        ))
        .action(format!(
            "example: tmux capture-pane -p -t %3 > pane.txt && team-agent plugins probe {name} --screen pane.txt"
        ))
        .into());
    }
    let mut answer = serde_json::Map::new();
    let mut text = String::new();
    if let Some(path) = screen {
        probe_screen(&provider, &read_input(path)?, &mut answer, &mut text)?;
    }
    if let Some(path) = transcript {
        let tail = tail(read_input(path)?);
        let verdict = provider.turn_state(&tail)?;
        answer.insert("turn_state".into(), serde_json::to_value(verdict.value)?);
        answer.insert("rule".into(), json!(verdict.rule));
        text.push_str(&format!(
            "turn_state: {} (rule {})\n",
            serde_json::to_value(verdict.value)?.as_str().unwrap_or(""),
            verdict.rule.as_deref().unwrap_or("-")
        ));
    }
    Ok(Reply::ok(answer, text))
}

/// What the provider makes of a screen: its startup decision, its verdict, and for an approval
/// prompt the keys a "yes" would press.
fn probe_screen(
    provider: &ProviderClient<'_>,
    screen: &str,
    answer: &mut serde_json::Map<String, Value>,
    text: &mut String,
) -> anyhow::Result<()> {
    let startup = provider.handle_startup_prompts(screen)?;
    let (decision, prompt, keys, reason) = match &startup.value {
        StartupDecision::Ready => ("ready", None, vec![], None),
        StartupDecision::Answer { prompt, keys } => {
            ("answer", Some(prompt.clone()), keys.clone(), None)
        }
        StartupDecision::Waiting => ("waiting", None, vec![], None),
        StartupDecision::Blocked { reason } => ("blocked", None, vec![], Some(reason.clone())),
    };
    answer.insert(
        "startup".into(),
        json!({"decision": decision, "prompt": prompt, "keys": keys, "reason": reason, "rule": startup.rule}),
    );
    let classified = provider.classify_screen(screen)?;
    let (state, detail) = match &classified.value {
        ScreenState::Idle => ("idle", None),
        ScreenState::Busy => ("busy", None),
        ScreenState::AwaitingApproval { prompt } => ("awaiting_approval", Some(prompt.clone())),
        ScreenState::TrustPrompt => ("trust_prompt", None),
        ScreenState::ApiError {
            class,
            ended,
            reset,
        } => (
            "api_error",
            Some(format!(
                "{}{}{}",
                serde_json::to_value(class)?.as_str().unwrap_or(""),
                if *ended {
                    ", the turn ended"
                } else {
                    ", retrying"
                },
                reset
                    .as_deref()
                    .map(|r| format!(", resets {r}"))
                    .unwrap_or_default()
            )),
        ),
        ScreenState::Exited => ("exited", None),
        ScreenState::Unknown => ("unknown", None),
    };
    answer.insert(
        "screen".into(),
        json!({"state": state, "detail": detail, "rule": classified.rule}),
    );
    text.push_str(&format!(
        "startup: {decision}{}{} (rule {})\n",
        prompt.map(|p| format!(" {p}")).unwrap_or_default(),
        if keys.is_empty() {
            String::new()
        } else {
            format!(" keys {}", keys.join(" "))
        },
        startup.rule.as_deref().unwrap_or("-")
    ));
    text.push_str(&format!(
        "screen:  {state}{} (rule {})\n",
        detail.map(|d| format!(" ({d})")).unwrap_or_default(),
        classified.rule.as_deref().unwrap_or("-")
    ));
    if let ScreenState::AwaitingApproval { .. } = classified.value {
        let request = team_agent_plugin_api::ApprovalRequest {
            screen: screen.to_string(),
            policy: team_agent_plugin_api::ApprovalPolicy::Choose {
                choice: "yes".into(),
            },
        };
        let approval = provider.approval_keys(&request)?;
        if let ApprovalDecision::Answer { keys, choice } = &approval.value {
            text.push_str(&format!(
                "approval: answering yes would press {} ({choice})\n",
                keys.join(" ")
            ));
        }
        answer.insert("approval".into(), serde_json::to_value(&approval)?);
    }
    Ok(())
}
