//! One activity per worker from its three sources, most trusted first: the CLI's hooks, its
//! transcript, its screen (docs/ARCHITECTURE.md §4, "A worker's activity").
//!
//! - What only a screen shows wins over everything: an approval prompt, an API error, a dead
//!   CLI (no hook reports those reliably; an approval can come without one).
//! - Else the hooks, when they have spoken since the CLI started and are not contradicted for
//!   longer than [`DISAGREE_AFTER`] (a hook the CLI failed to run must not leave a worker
//!   "working" forever); then the transcript, when it changed since the CLI started; then the
//!   screen.
//! - Sources that disagree in kind (working against idle) for longer than [`DISAGREE_AFTER`] are
//!   an event, once per episode, and the lower source wins until the hooks speak again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use team_agent_plugin_api::{HookEvent, TurnState};

use crate::state::{
    Activity, ActivityDetail, ActivitySource, AgentState, Disagreement, HookRecord,
};

/// How long sources may disagree before it is an event and the hook gives way.
pub const DISAGREE_AFTER: Duration = Duration::from_secs(20);

/// A worker's activity as decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub activity: Activity,
    pub detail: ActivityDetail,
    pub source: ActivitySource,
}

/// What a hook event says the worker does (none for events that say nothing about it).
pub fn from_hook(event: &HookEvent) -> Option<(Activity, ActivityDetail)> {
    let none = ActivityDetail::default();
    Some(match event {
        // A session starts before its CLI takes input (Claude Code still connects its MCP
        // servers): the screen says when it is ready.
        HookEvent::SessionStarted { .. } => return None,
        HookEvent::TurnEnded { .. } => (Activity::Idle, none),
        HookEvent::PromptSubmitted { .. } | HookEvent::ToolFinished { .. } => {
            (Activity::Working, none)
        }
        HookEvent::ToolStarted { tool } => (
            Activity::InTool,
            ActivityDetail {
                tool: Some(tool.clone()),
                ..none
            },
        ),
        HookEvent::AwaitingApproval { prompt } => (
            Activity::AwaitingApproval,
            ActivityDetail {
                prompt: Some(prompt.clone()).filter(|p| !p.is_empty()),
                ..none
            },
        ),
        HookEvent::AwaitingInput { message } => (
            Activity::AwaitingInput,
            ActivityDetail {
                prompt: Some(message.clone()).filter(|p| !p.is_empty()),
                ..none
            },
        ),
        HookEvent::Ignored => return None,
    })
}

/// What a transcript's turn state says the worker does.
fn from_turn(state: TurnState) -> Option<Activity> {
    match state {
        TurnState::Idle | TurnState::Interrupted => Some(Activity::Idle),
        TurnState::Working => Some(Activity::Working),
        TurnState::BlockedOnHuman => Some(Activity::AwaitingInput),
        TurnState::Error | TurnState::Unknown => None,
    }
}

fn at(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether `when` is at or after the CLI's start (a record from an earlier process says nothing
/// about this one).
fn since_spawn(agent: &AgentState, when: Option<&str>) -> bool {
    match (at(when), at(agent.spawned_at.as_deref())) {
        (Some(when), Some(spawned)) => when >= spawned,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The hook's word, when it counts: spoken since the CLI started, and not out-voted by a
/// disagreement that lasted (until the hooks speak again).
fn hook_view(agent: &AgentState) -> Option<&HookRecord> {
    let hook = agent.hook.as_ref()?;
    if !since_spawn(agent, Some(&hook.at)) {
        return None;
    }
    let outvoted = agent
        .disagreement
        .as_ref()
        .is_some_and(|d| d.reported && at(Some(&hook.at)) <= at(Some(&d.since)));
    (!outvoted).then_some(hook)
}

/// What the hook's record says now: its activity, except an approval the screen has since shown
/// answered: then the worker is back at what it did (its tool runs, and no hook says so before
/// the tool is over).
fn hook_says(agent: &AgentState, hook: &HookRecord) -> (Activity, ActivityDetail) {
    if hook.activity == Activity::AwaitingApproval && answered_since(agent, hook) {
        return hook
            .resumes
            .clone()
            .unwrap_or((Activity::Working, ActivityDetail::default()));
    }
    (hook.activity, hook.detail.clone())
}

/// What the transcript says, when it changed its word after the hook's last event and says
/// otherwise: newer evidence than the hook (a CLI runs no hook when its turn is interrupted,
/// its transcript records it).
fn superseded(agent: &AgentState, hook: &HookRecord) -> Option<Activity> {
    let turn = agent.turn.as_ref()?;
    let activity = from_turn(turn.state)?;
    let (said, _) = hook_says(agent, hook);
    (at(Some(&turn.since)) > at(Some(&hook.at)) && activity.kind() != said.kind())
        .then_some(activity)
}

/// Whether the screen has shown something other than an approval since the hook announced one.
fn answered_since(agent: &AgentState, hook: &HookRecord) -> bool {
    agent
        .screen_activity
        .is_some_and(|a| a != Activity::AwaitingApproval)
        && at(agent.screen_since.as_deref()) > at(Some(&hook.at))
}

/// The best word below the hooks: the transcript when it changed since the start, else the
/// screen.
fn lower_view(agent: &AgentState) -> Option<(Activity, ActivitySource)> {
    let transcript = agent
        .turn
        .as_ref()
        .filter(|t| since_spawn(agent, Some(&t.since)))
        .and_then(|t| from_turn(t.state))
        .map(|a| (a, ActivitySource::Transcript));
    transcript.or(agent.screen_activity.map(|a| (a, ActivitySource::Screen)))
}

/// The worker's activity from what its record holds now (hook, turn, screen).
pub fn decide(agent: &AgentState, screen_detail: &ActivityDetail) -> Option<Decided> {
    let screen = agent.screen_activity;
    let screen_decides = matches!(
        screen,
        Some(Activity::AwaitingApproval | Activity::ApiError | Activity::Exited)
    );
    let hook = hook_view(agent);
    if screen_decides {
        let activity = screen?;
        // The hook announced the same approval: it is the better source of its prompt.
        if let Some(hook) = hook.filter(|h| h.activity == activity) {
            return Some(Decided {
                activity,
                detail: hook.detail.clone(),
                source: ActivitySource::Hook,
            });
        }
        return Some(Decided {
            activity,
            detail: screen_detail.clone(),
            source: ActivitySource::Screen,
        });
    }
    if let Some(activity) = hook.and_then(|h| superseded(agent, h)) {
        return Some(Decided {
            activity,
            detail: ActivityDetail::default(),
            source: ActivitySource::Transcript,
        });
    }
    if let Some(hook) = hook {
        let (activity, detail) = hook_says(agent, hook);
        return Some(Decided {
            activity,
            detail,
            source: ActivitySource::Hook,
        });
    }
    let (activity, source) = lower_view(agent)?;
    Some(Decided {
        activity,
        detail: if source == ActivitySource::Screen {
            screen_detail.clone()
        } else {
            ActivityDetail::default()
        },
        source,
    })
}

/// The disagreement between the hooks and the lower sources as it stands now: started, going
/// on (kept), over (none). Whether it just became reportable is the caller's to see.
pub fn disagreement(agent: &AgentState, now: &str) -> Option<Disagreement> {
    let hook = agent
        .hook
        .as_ref()
        .filter(|h| since_spawn(agent, Some(&h.at)))?;
    if superseded(agent, hook).is_some() {
        return None;
    }
    let (said, _) = hook_says(agent, hook);
    let (other, other_source) = lower_view(agent)?;
    if other.kind() == said.kind() || other == Activity::Unknown {
        return None;
    }
    match &agent.disagreement {
        // The same one goes on while neither side changed its word (a newer hook event starts
        // over: the hooks spoke again).
        Some(known)
            if known.hook == said
                && known.other.kind() == other.kind()
                && at(Some(&hook.at)) <= at(Some(&known.since)) =>
        {
            Some(known.clone())
        }
        _ => Some(Disagreement {
            since: now.to_string(),
            hook: said,
            other,
            other_source,
            reported: false,
        }),
    }
}

/// Whether a disagreement has lasted long enough to be said (and to out-vote the hook).
pub fn lasted(disagreement: &Disagreement) -> bool {
    at(Some(&disagreement.since))
        .and_then(|since| (Utc::now() - since).to_std().ok())
        .is_some_and(|age| age >= DISAGREE_AFTER)
}

/// A screen's fingerprint for progress: the screen without digits and spinner glyphs, so a
/// turn's timer and spinner ticking on a frozen stream are no progress.
pub fn progress_hash(screen: &str) -> u64 {
    const SPINNERS: &str = "·✢✳✶✻✽*•◦○◉●⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏⣾⣽⣻⢿⡿⣟⣯⣷|/-\\";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in screen
        .chars()
        .filter(|c| !c.is_ascii_digit() && !SPINNERS.contains(*c))
    {
        let mut buffer = [0u8; 4];
        for byte in c.encode_utf8(&mut buffer).as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AgentStatus, TurnRecord};

    const SPAWNED: &str = "2026-12-04T10:00:00.000Z";
    const LATER: &str = "2026-12-04T10:00:05.000Z";
    const EARLIER: &str = "2026-12-04T09:00:00.000Z";

    fn agent() -> AgentState {
        let mut agent = AgentState::new("alice", "claude");
        agent.status = AgentStatus::Running;
        agent.spawned_at = Some(SPAWNED.into());
        agent
    }

    fn hook(activity: Activity, at: &str) -> HookRecord {
        HookRecord {
            activity,
            detail: ActivityDetail::default(),
            at: at.into(),
            event: "test".into(),
            resumes: None,
        }
    }

    fn turn(state: TurnState, since: &str) -> TurnRecord {
        TurnRecord {
            state,
            rule: None,
            since: since.into(),
            last_ended: None,
        }
    }

    fn decided(agent: &AgentState) -> (Activity, ActivitySource) {
        let d = decide(agent, &ActivityDetail::default()).unwrap();
        (d.activity, d.source)
    }

    #[test]
    fn the_hook_comes_first_then_the_transcript_then_the_screen() {
        let mut a = agent();
        a.screen_activity = Some(Activity::Working);
        assert_eq!(decided(&a), (Activity::Working, ActivitySource::Screen));
        a.turn = Some(turn(TurnState::Idle, LATER));
        assert_eq!(decided(&a), (Activity::Idle, ActivitySource::Transcript));
        a.hook = Some(hook(Activity::InTool, LATER));
        assert_eq!(decided(&a), (Activity::InTool, ActivitySource::Hook));
    }

    #[test]
    fn records_from_before_the_cli_started_say_nothing() {
        let mut a = agent();
        a.screen_activity = Some(Activity::Idle);
        a.hook = Some(hook(Activity::Working, EARLIER));
        a.turn = Some(turn(TurnState::Working, EARLIER));
        assert_eq!(decided(&a), (Activity::Idle, ActivitySource::Screen));
    }

    #[test]
    fn an_approval_or_an_api_error_on_screen_wins_over_the_hook() {
        let mut a = agent();
        a.hook = Some(hook(Activity::InTool, LATER));
        a.screen_activity = Some(Activity::AwaitingApproval);
        assert_eq!(
            decided(&a),
            (Activity::AwaitingApproval, ActivitySource::Screen)
        );
        a.screen_activity = Some(Activity::ApiError);
        assert_eq!(decided(&a), (Activity::ApiError, ActivitySource::Screen));
        a.hook = Some(hook(Activity::ApiError, LATER));
        assert_eq!(decided(&a), (Activity::ApiError, ActivitySource::Hook));
    }

    #[test]
    fn a_transcript_that_changed_its_word_after_the_hook_wins() {
        let mut a = agent();
        a.screen_activity = Some(Activity::Idle);
        a.hook = Some(hook(Activity::Working, LATER));
        a.turn = Some(turn(TurnState::Working, LATER));
        assert_eq!(decided(&a), (Activity::Working, ActivitySource::Hook));
        // Interrupted: no hook ran, the transcript recorded it.
        a.turn = Some(turn(TurnState::Interrupted, "2026-12-04T10:00:08.000Z"));
        assert_eq!(decided(&a), (Activity::Idle, ActivitySource::Transcript));
        assert_eq!(disagreement(&a, "2026-12-04T10:00:09.000Z"), None);
        // The hooks speak again: a new turn.
        a.hook = Some(hook(Activity::Working, "2026-12-04T10:00:10.000Z"));
        assert_eq!(decided(&a), (Activity::Working, ActivitySource::Hook));
    }

    #[test]
    fn an_approval_answered_on_screen_returns_to_the_tool_it_interrupted() {
        let mut a = agent();
        a.hook = Some(HookRecord {
            resumes: Some((
                Activity::InTool,
                ActivityDetail {
                    tool: Some("Bash".into()),
                    ..Default::default()
                },
            )),
            ..hook(Activity::AwaitingApproval, LATER)
        });
        // The screen before the hook (the prompt not drawn yet) says nothing against it.
        a.screen_activity = Some(Activity::Working);
        a.screen_since = Some("2026-12-04T10:00:04.000Z".into());
        assert_eq!(decided(&a).0, Activity::AwaitingApproval);
        a.screen_activity = Some(Activity::AwaitingApproval);
        a.screen_since = Some("2026-12-04T10:00:06.000Z".into());
        assert_eq!(decided(&a).0, Activity::AwaitingApproval);
        a.screen_activity = Some(Activity::Working);
        a.screen_since = Some("2026-12-04T10:00:07.000Z".into());
        let d = decide(&a, &ActivityDetail::default()).unwrap();
        assert_eq!(
            (d.activity, d.source),
            (Activity::InTool, ActivitySource::Hook)
        );
        assert_eq!(d.detail.tool.as_deref(), Some("Bash"));
    }

    #[test]
    fn a_lasting_disagreement_is_reported_and_outvotes_the_hook_until_it_speaks_again() {
        let mut a = agent();
        a.hook = Some(hook(Activity::Working, LATER));
        a.screen_activity = Some(Activity::Working);
        // In a tool against working is no disagreement; idle against working is.
        assert_eq!(disagreement(&a, LATER), None);
        a.screen_activity = Some(Activity::Idle);
        let started = disagreement(&a, "2026-12-04T10:00:06.000Z").unwrap();
        assert_eq!(started.other, Activity::Idle);
        assert!(!started.reported);
        a.disagreement = Some(Disagreement {
            reported: true,
            ..started
        });
        assert_eq!(decided(&a), (Activity::Idle, ActivitySource::Screen));
        // The hooks speak again: theirs is the word.
        a.hook = Some(hook(Activity::InTool, "2026-12-04T10:00:09.000Z"));
        assert_eq!(decided(&a), (Activity::InTool, ActivitySource::Hook));
        let renewed = disagreement(&a, "2026-12-04T10:00:10.000Z").unwrap();
        assert!(!renewed.reported);
    }

    #[test]
    fn a_ticking_timer_is_no_progress_but_new_text_is() {
        let at_3s = "✻ Thinking… (3s · esc to interrupt)\n> ";
        let at_9s = "✽ Thinking… (9s · esc to interrupt)\n> ";
        assert_eq!(progress_hash(at_3s), progress_hash(at_9s));
        assert_ne!(
            progress_hash(at_3s),
            progress_hash("● Found the bug\n✻ Thinking… (9s · esc to interrupt)\n> ")
        );
    }
}
