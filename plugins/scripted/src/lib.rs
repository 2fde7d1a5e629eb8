/*!
The provider plugin for `scripted-agent`, the terminal program bundled with team-agent that behaves
like an agent CLI (an input prompt, bracketed paste, a busy line, trust and approval dialogs,
session transcripts, resume and fork) so that demos and tests need no network and no API key.

This crate is also the template for a new provider: copy it, replace the screen texts and the
transcript reader with your CLI's, and run `team-agent plugins check` on the built library.

Hooks: when the host asks for them (and the agent's `provider_options` do not say `hooks: false`),
the plan passes the host's hook command to the agent (`--hook-command-json`), which runs it at its
events with a Claude Code-shaped JSON payload on stdin; [`hooks`] reads those payloads back.
*/

pub mod hooks;
pub mod screen;
pub mod terminal;
pub mod transcript;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use team_agent_plugin_api::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, CaptureContext, Confidence, Fixture,
    HookEvent, HookPayload, InputBox, LaunchMode, LaunchPlan, LaunchRequest, PluginError,
    ProviderCapabilities, ProviderPlugin, Resumability, ResumeBlocker, ResumeCheck, ScreenState,
    SessionRecord, StartupDecision, SubmitKeys, TurnState, Verdict, embedded_fixtures,
    export_provider,
};
use team_agent_provider_kit::{Screen, ScreenSettings};

use transcript::Record;

/// The executable this provider runs.
pub const EXECUTABLE: &str = "scripted-agent";

/// The scripted agent's provider.
#[derive(Debug, Default)]
pub struct Scripted;

impl ProviderPlugin for Scripted {
    const NAME: &'static str = "scripted";
    const ALIASES: &'static [&'static str] = &["scripted-agent"];
    const DESCRIPTION: &'static str = "the bundled scripted agent (demos and tests; no network)";
    const EXECUTABLE: &'static str = EXECUTABLE;

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            fork: true,
            preassigned_session_id: true,
            mcp_injection: false,
            transcript_turn_state: true,
            hook_events: hooks::EMITTED.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        let bundled = request.host_bin_dir.join(EXECUTABLE);
        let program = if request.host_bin_dir.is_absolute() && bundled.is_file() {
            bundled.to_string_lossy().into_owned()
        } else {
            EXECUTABLE.to_string()
        };
        let mut argv = vec![program];
        let session_id = match &request.mode {
            LaunchMode::Fresh => {
                let id = checked_id(&request.new_session_id, "new_session_id")?;
                argv.extend(["--session-id".into(), id.clone()]);
                id
            }
            LaunchMode::Resume { session_id } => {
                let id = checked_id(session_id, "mode.session_id")?;
                argv.extend(["--resume".into(), id.clone()]);
                id
            }
            LaunchMode::Fork { source_session_id } => {
                let source = checked_id(source_session_id, "mode.source_session_id")?;
                let id = checked_id(&request.new_session_id, "new_session_id")?;
                argv.extend([
                    "--fork-from".into(),
                    source,
                    "--session-id".into(),
                    id.clone(),
                ]);
                id
            }
        };
        if let Some(ms) = request.options.get("work_ms").and_then(|v| v.as_u64()) {
            argv.extend(["--work-ms".into(), ms.to_string()]);
        }
        if request
            .options
            .get("trust_prompt")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            argv.push("--trust-prompt".into());
        }
        if request
            .options
            .get("login_screen")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            argv.push("--login-screen".into());
        }
        if let Some(setup) = &request.hooks
            && hooks::wanted(&request.options)?
        {
            let command = serde_json::to_string(&setup.command)
                .map_err(|e| PluginError::invalid_request(format!("hooks.command: {e}")))?;
            argv.extend(["--hook-command-json".into(), command]);
        }
        Ok(LaunchPlan {
            argv,
            env: request.profile_env.clone(),
            env_unset: vec!["TMUX".into(), "TMUX_PANE".into()],
            expected_session_id: Some(session_id),
            transcript_dir: Some(transcript::sessions_dir(&request.home)),
            pre_steps: Vec::new(),
            files: Vec::new(),
        })
    }

    fn handle_startup_prompts(&self, screen: &str) -> Verdict<StartupDecision> {
        let lines = bottom_lines(screen, 20);
        if lines.is_empty() {
            return Verdict::by_rule(StartupDecision::Waiting, "empty_screen");
        }
        if let Some(line) = lines.iter().find(|l| l.contains(screen::NO_SESSION)) {
            return Verdict::by_rule(
                StartupDecision::Blocked {
                    reason: line.trim().to_string(),
                },
                "resume_failed",
            );
        }
        if lines.iter().any(|l| l.contains(screen::LOGIN_NEEDED)) {
            return Verdict::by_rule(
                StartupDecision::Blocked {
                    reason: "not signed in: sign in in its window, then it goes on".into(),
                },
                "login_screen",
            );
        }
        if trust_dialog_active(&lines) {
            let keys = match highlighted_option(&lines) {
                Some(2) => vec!["Up".to_string(), "Enter".to_string()],
                _ => vec!["Enter".to_string()],
            };
            return Verdict::by_rule(
                StartupDecision::Answer {
                    prompt: "trust_folder".into(),
                    keys,
                },
                "trust_dialog",
            );
        }
        if lines.iter().any(|l| l.starts_with("Pane is dead")) {
            return Verdict::by_rule(
                StartupDecision::Blocked {
                    reason: "the agent exited while starting".into(),
                },
                "pane_dead",
            );
        }
        if input_active(&lines) {
            return Verdict::by_rule(StartupDecision::Ready, "input_prompt");
        }
        Verdict::by_rule(StartupDecision::Waiting, "no_prompt_yet")
    }

    fn capture_session_id(
        &self,
        context: &CaptureContext,
    ) -> Result<Option<SessionRecord>, PluginError> {
        if let Some(id) = &context.expected_session_id {
            if !transcript::valid_session_id(id) || context.owned_by_others.contains(id) {
                return Ok(None);
            }
            let path = transcript::transcript_path(&context.home, id);
            return Ok(match transcript::read_meta(&path) {
                Some(Record::SessionMeta { cwd, .. }) if Path::new(&cwd) == context.cwd => {
                    Some(SessionRecord {
                        session_id: id.clone(),
                        transcript_path: Some(path),
                        attributed_by: "preassigned_id".into(),
                        confidence: Confidence::High,
                    })
                }
                _ => None,
            });
        }
        Ok(find_by_agent(context))
    }

    fn session_is_resumable(&self, check: &ResumeCheck) -> Resumability {
        let Some(record) = &check.record else {
            return Resumability::no(
                ResumeBlocker::NoPersistedSessionId,
                format!("agent '{}' has no recorded session", check.agent_id),
            );
        };
        let path = record
            .transcript_path
            .clone()
            .unwrap_or_else(|| transcript::transcript_path(&check.home, &record.session_id));
        match transcript::read_meta(&path) {
            None => Resumability::no(
                ResumeBlocker::SessionBackingStoreMissing,
                format!("the transcript {} is missing or unreadable", path.display()),
            ),
            Some(Record::SessionMeta {
                session_id, cwd, ..
            }) => {
                if session_id != record.session_id || Path::new(&cwd) != check.cwd {
                    Resumability::no(
                        ResumeBlocker::SessionIdentityMismatch,
                        format!(
                            "{} belongs to session {session_id} in {cwd}, not to this agent",
                            path.display()
                        ),
                    )
                } else {
                    Resumability::yes()
                }
            }
            Some(_) => unreachable!("read_meta returns only session headers"),
        }
    }

    fn input_box(&self, screen: &str) -> Result<Option<InputBox>, PluginError> {
        let lines = bottom_lines(screen, 20);
        Ok(input_text(&lines).map(|text| InputBox {
            text,
            clear_keys: vec!["C-u".into()],
        }))
    }

    fn classify_screen(&self, screen: &str) -> Verdict<ScreenState> {
        let lines = bottom_lines(screen, 20);
        if lines.is_empty() {
            return Verdict::by_rule(ScreenState::Unknown, "empty_screen");
        }
        if lines.iter().any(|l| l.starts_with("Pane is dead")) {
            return Verdict::by_rule(ScreenState::Exited, "pane_dead");
        }
        if trust_dialog_active(&lines) {
            return Verdict::by_rule(ScreenState::TrustPrompt, "trust_dialog");
        }
        if let Some(prompt) = approval_prompt(&lines) {
            return Verdict::by_rule(ScreenState::AwaitingApproval { prompt }, "approval_dialog");
        }
        let recent = &lines[lines.len().saturating_sub(3)..];
        if let Some(class) = recent.iter().find_map(|l| api_error_class(l))
            && recent.iter().any(|l| l.contains(screen::BUSY))
        {
            return Verdict::by_rule(
                ScreenState::ApiError {
                    class,
                    ended: false,
                    reset: None,
                },
                "api_error_retrying",
            );
        }
        if recent.iter().any(|l| l.contains(screen::BUSY)) {
            return Verdict::by_rule(ScreenState::Busy, "busy_line");
        }
        if input_active(&lines) {
            return Verdict::by_rule(ScreenState::Idle, "input_prompt");
        }
        Verdict::by_rule(ScreenState::Unknown, "no_rule_matched")
    }

    fn approval_keys(&self, request: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        let lines = bottom_lines(&request.screen, 20);
        let Some(prompt) = approval_prompt(&lines) else {
            return Verdict::by_rule(
                ApprovalDecision::Defer {
                    reason: "no approval dialog on screen".into(),
                },
                "no_dialog",
            );
        };
        let tool = prompt
            .trim_start_matches(screen::APPROVAL_HEADER)
            .trim_end_matches('?')
            .to_string();
        let target = match &request.policy {
            ApprovalPolicy::AllowTools { server, tools, .. } => {
                if tools.iter().any(|t| tool == format!("{server}.{t}")) {
                    2
                } else {
                    return Verdict::by_rule(
                        ApprovalDecision::Defer {
                            reason: format!("{tool} is not one of the team's own tools"),
                        },
                        "tool_not_allowed",
                    );
                }
            }
            ApprovalPolicy::Choose { choice } => match choice_number(choice) {
                Some(n) => n,
                None => {
                    return Verdict::by_rule(
                        ApprovalDecision::Defer {
                            reason: format!(
                                "unknown choice '{choice}': use 1, 2, 3, yes, always or no"
                            ),
                        },
                        "unknown_choice",
                    );
                }
            },
        };
        let from = highlighted_option(&lines).unwrap_or(1);
        let mut keys: Vec<String> = Vec::new();
        let step = if target > from { "Down" } else { "Up" };
        keys.extend(std::iter::repeat_n(step.to_string(), target.abs_diff(from)));
        keys.push("Enter".into());
        let choice = screen::APPROVAL_OPTIONS[target - 1].to_string();
        Verdict::by_rule(
            ApprovalDecision::Answer { keys, choice },
            "numbered_options",
        )
    }

    fn turn_state(&self, transcript_tail: &str) -> Verdict<TurnState> {
        let mut pending_approval = false;
        for line in transcript_tail.lines().rev() {
            let Ok(record) = serde_json::from_str::<Record>(line) else {
                continue;
            };
            let state = match record {
                Record::ApprovalAnswered { .. } => {
                    pending_approval = false;
                    continue;
                }
                Record::ApprovalRequested { .. } => {
                    pending_approval = true;
                    continue;
                }
                Record::TurnStarted { .. } | Record::UserMessage { .. } if pending_approval => {
                    (TurnState::BlockedOnHuman, "approval_pending")
                }
                Record::TurnStarted { .. } | Record::UserMessage { .. } => {
                    (TurnState::Working, "turn_open")
                }
                Record::TurnComplete { .. } => (TurnState::Idle, "turn_complete"),
                Record::TurnInterrupted { .. } => (TurnState::Interrupted, "turn_interrupted"),
                Record::Error { .. } => (TurnState::Error, "error_record"),
                Record::Exit { .. } => (TurnState::Error, "agent_exited"),
                Record::SessionMeta { .. } | Record::Resumed { .. } => {
                    (TurnState::Idle, "no_turn_yet")
                }
                Record::Reported { .. } => continue,
            };
            return Verdict::by_rule(state.0, state.1);
        }
        Verdict::by_rule(TurnState::Unknown, "no_records")
    }

    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys {
            delay_ms: 0,
            keys: vec!["Enter".into()],
        }
    }

    fn fixtures(&self) -> Vec<Fixture> {
        embedded_fixtures!()
    }

    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        hooks::event(payload)
    }
}

export_provider!(Scripted);

fn checked_id(id: &str, field: &str) -> Result<String, PluginError> {
    if transcript::valid_session_id(id) {
        Ok(id.to_string())
    } else {
        Err(PluginError::invalid_request(format!(
            "{field} must be a non-empty session id of letters, digits, '-' or '_' (got {id:?})"
        )))
    }
}

/// Finds a session by its header when no id was chosen up front: same agent and cwd, started
/// after the spawn (with 2 s of slack), not owned by another agent; the earliest wins. The header
/// names the agent, so the attribution is as sure as an id given up front.
fn find_by_agent(context: &CaptureContext) -> Option<SessionRecord> {
    let spawned = DateTime::parse_from_rfc3339(&context.spawned_at)
        .ok()?
        .with_timezone(&Utc);
    let now = DateTime::parse_from_rfc3339(&context.now)
        .ok()?
        .with_timezone(&Utc);
    let entries = std::fs::read_dir(transcript::sessions_dir(&context.home)).ok()?;
    let mut best: Option<(DateTime<Utc>, String, PathBuf)> = None;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(Record::SessionMeta {
            session_id,
            cwd,
            started_at,
            agent_id,
            ..
        }) = transcript::read_meta(&path)
        else {
            continue;
        };
        let Ok(started) = DateTime::parse_from_rfc3339(&started_at) else {
            continue;
        };
        let started = started.with_timezone(&Utc);
        let in_window =
            started >= spawned - Duration::seconds(2) && started <= now + Duration::seconds(5);
        if agent_id.as_deref() == Some(context.agent_id.as_str())
            && Path::new(&cwd) == context.cwd
            && in_window
            && !context.owned_by_others.contains(&session_id)
            && best.as_ref().is_none_or(|(t, _, _)| started < *t)
        {
            best = Some((started, session_id, path));
        }
    }
    best.map(|(_, session_id, path)| SessionRecord {
        session_id,
        transcript_path: Some(path),
        attributed_by: "identity_marker".into(),
        confidence: Confidence::High,
    })
}

/// The last `n` non-empty lines of a screen as the agent drew them: escape sequences and control
/// characters removed (provider-kit's one reader of them), right-trimmed.
fn bottom_lines(screen: &str, n: usize) -> Vec<String> {
    let settings = ScreenSettings {
        bottom_lines: n,
        ..ScreenSettings::default()
    };
    Screen::read(screen, &settings).lines().to_vec()
}

fn is_prompt(line: &str) -> bool {
    line.starts_with(screen::PROMPT) || line == screen::PROMPT.trim_end()
}

/// What the scripted agent's input holds: the last prompt line and the indented lines below it.
fn input_text(lines: &[String]) -> Option<String> {
    let at = lines.iter().rposition(|l| is_prompt(l))?;
    let below = &lines[at + 1..];
    if !below.iter().all(|l| l.starts_with("  ")) {
        return None;
    }
    let mut text = vec![
        lines[at]
            .trim_start_matches(screen::PROMPT.trim_end())
            .trim()
            .to_string(),
    ];
    text.extend(below.iter().map(|l| l.trim().to_string()));
    Some(text.join("\n").trim().to_string())
}

/// The input prompt is the active element: the last prompt line is followed only by the
/// indented continuation lines of the input being typed or pasted.
fn input_active(lines: &[String]) -> bool {
    let Some(at) = lines.iter().rposition(|l| is_prompt(l)) else {
        return false;
    };
    lines[at + 1..].iter().all(|l| l.starts_with("  "))
}

/// The trust dialog is active when its question is on screen with no input prompt below it.
fn trust_dialog_active(lines: &[String]) -> bool {
    let Some(at) = lines
        .iter()
        .rposition(|l| l.contains(screen::TRUST_QUESTION))
    else {
        return false;
    };
    let below = &lines[at..];
    below.iter().any(|l| l.contains(screen::TRUST_FOOTER)) && !below.iter().any(|l| is_prompt(l))
}

/// The `Allow tool call: X?` line of an approval dialog still waiting for an answer.
fn approval_prompt(lines: &[String]) -> Option<String> {
    let at = lines
        .iter()
        .rposition(|l| l.starts_with(screen::APPROVAL_HEADER))?;
    let below = &lines[at..];
    let open = below.iter().any(|l| l.contains(screen::APPROVAL_FOOTER))
        && !below.iter().any(|l| is_prompt(l));
    open.then(|| lines[at].clone())
}

/// The number of the highlighted option (`❯ 2. …`) of the menu at the bottom of the screen.
fn highlighted_option(lines: &[String]) -> Option<usize> {
    lines.iter().rev().find_map(|l| {
        let rest = l.trim_start().strip_prefix(screen::SELECTED)?.trim_start();
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    })
}

fn choice_number(choice: &str) -> Option<usize> {
    match choice.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "allow" => Some(1),
        "2" | "always" | "session" | "yes-always" => Some(2),
        "3" | "no" | "n" | "deny" => Some(3),
        _ => None,
    }
}

fn api_error_class(line: &str) -> Option<team_agent_plugin_api::ApiErrorClass> {
    use team_agent_plugin_api::ApiErrorClass;
    let rest = &line[line.find(screen::API_ERROR)? + screen::API_ERROR.len()..];
    let class = rest.split(')').next().unwrap_or("");
    Some(match class {
        "overloaded" => ApiErrorClass::Overloaded,
        "rate_limit" => ApiErrorClass::RateLimit,
        "network" => ApiErrorClass::Network,
        "timeout" => ApiErrorClass::Timeout,
        _ => ApiErrorClass::Other,
    })
}

#[cfg(test)]
mod tests;
