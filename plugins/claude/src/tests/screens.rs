use std::path::Path;

use team_agent_plugin_api::{ApiErrorClass, ProviderPlugin, ScreenState, StartupDecision};
use team_agent_provider_kit::load_rules_from;

use super::{claude, fixture};
use crate::Claude;
use crate::rules::{BUILTIN, check};

fn startup(screen: &str) -> StartupDecision {
    claude().handle_startup_prompts(screen).value
}

fn classify(screen: &str) -> ScreenState {
    claude().classify_screen(screen).value
}

fn blocked_reason(screen: &str) -> String {
    match startup(screen) {
        StartupDecision::Blocked { reason } => reason,
        other => panic!("not blocked: {other:?}"),
    }
}

#[test]
fn every_ansi_capture_reads_like_its_plain_twin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let twins = team_agent_conformance::ansi_twins(&dir).unwrap();
    let provider = claude();
    for twin in &twins {
        let (ansi, plain) = (&twin.ansi, &twin.plain);
        let (startup, classify) = (
            provider.handle_startup_prompts(ansi),
            provider.classify_screen(ansi),
        );
        assert_eq!(
            startup,
            provider.handle_startup_prompts(plain),
            "{}",
            twin.name
        );
        assert_eq!(classify, provider.classify_screen(plain), "{}", twin.name);
    }
    let compared = twins.len();
    assert!(compared >= 50, "only {compared} ANSI captures found");
}

#[test]
fn verdicts_name_the_rule_that_decided() {
    let provider = claude();
    let retrying = provider.classify_screen(&fixture("claude-21-key-retrying.screen.txt"));
    assert_eq!(
        retrying.value,
        ScreenState::ApiError {
            class: ApiErrorClass::Network,
            ended: false,
            reset: None,
        }
    );
    assert_eq!(retrying.rule.as_deref(), Some("network_unreachable"));
    let trust =
        provider.handle_startup_prompts(&fixture("claude-04-onboarded-nokey-01.screen.txt"));
    assert_eq!(trust.rule.as_deref(), Some("workspace_trust"));
    let failed = provider.classify_screen(&fixture("claude-08-sent-nokey-01.screen.txt"));
    assert_eq!(failed.rule.as_deref(), Some("input_after_failed_turn"));
}

#[test]
fn the_trust_list_is_answered_from_whichever_option_is_highlighted() {
    let answer = |keys: &[&str]| StartupDecision::Answer {
        prompt: "workspace_trust".into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
    };
    let screen = fixture("claude-04-onboarded-nokey-01.screen.txt");
    assert_eq!(startup(&screen), answer(&["Down", "Enter"]));
    let yes_first = screen.replace(
        " ❯ No, exit\n   Yes, I trust this folder",
        " ❯ Yes, I trust this folder\n   No, exit",
    );
    assert_eq!(startup(&yes_first), answer(&["Enter"]));
}

#[test]
fn a_trust_dialog_without_its_options_yet_is_waited_for() {
    let screen = fixture("claude-04-onboarded-nokey-01.screen.txt")
        .replace(" ❯ No, exit\n", "")
        .replace("   Yes, I trust this folder\n", "");
    assert_eq!(startup(&screen), StartupDecision::Waiting);
}

#[test]
fn a_numbered_trust_menu_without_a_highlighted_option_is_blocked() {
    let screen = fixture("claude197-trust-transcribed.screen.txt")
        .replace(" ❯ 1. Yes, I trust", "   1. Yes, I trust");
    assert!(blocked_reason(&screen).contains("workspace_trust"));
    // Without numbers and without a highlight, the options cannot be told from prose yet.
    let unnumbered =
        fixture("claude-04-onboarded-nokey-01.screen.txt").replace(" ❯ No, exit", "   No, exit");
    assert_eq!(startup(&unnumbered), StartupDecision::Waiting);
}

#[test]
fn a_dialog_above_the_input_box_is_history() {
    let trust = fixture("claude-05-trust-down.screen.txt");
    let main = fixture("claude-16-key-main-03.screen.txt");
    let both = format!("{}{}", trust.trim_end(), main);
    assert_eq!(startup(&both), StartupDecision::Ready);
    assert_eq!(classify(&both), ScreenState::Idle);
}

#[test]
fn a_dialog_drawn_below_an_input_box_is_the_active_element() {
    let main = fixture("claude-16-key-main-03.screen.txt");
    let trust = fixture("claude-05-trust-down.screen.txt");
    let both = format!("{}{}", main.trim_end(), trust);
    assert_eq!(classify(&both), ScreenState::TrustPrompt);
    assert!(matches!(startup(&both), StartupDecision::Answer { .. }));
}

#[test]
fn login_and_onboarding_screens_need_a_human() {
    assert!(
        blocked_reason(&fixture("claude-63-login-subscription-01.screen.txt"))
            .contains("login screen")
    );
    assert!(
        blocked_reason(&fixture("claude-06-after-trust-01.screen.txt")).contains("not logged in")
    );
    let theme = " Let's get started.\n\n Choose the text style that looks best with your terminal\n To change this later, run /theme\n\n ❯ 1. Dark mode ✔\n   2. Light mode\n";
    assert!(blocked_reason(theme).contains("onboarding"));
    assert_eq!(classify(theme), ScreenState::Unknown);
}

#[test]
fn a_tool_approval_at_startup_waits_for_an_answer() {
    let reason = blocked_reason(&fixture("claude-approval-team-tool-transcribed.screen.txt"));
    assert!(reason.contains("Do you want to proceed?"), "{reason}");
}

#[test]
fn exit_texts_count_only_below_the_input_box() {
    let main = fixture("claude-16-key-main-03.screen.txt");
    let exited_earlier = format!(
        "Resume this session with:\nclaude --resume 4a082e59-7203-40ec-bf8a-cd3ea1a33c7e\n{main}"
    );
    assert_eq!(classify(&exited_earlier), ScreenState::Idle);
    let exited_now = format!(
        "{main}Resume this session with:\nclaude --resume 4a082e59-7203-40ec-bf8a-cd3ea1a33c7e\n"
    );
    assert_eq!(classify(&exited_now), ScreenState::Exited);
}

#[test]
fn a_finished_turn_is_not_busy() {
    let screen = fixture("claude-working-transcribed.screen.txt")
        .replace("✶ Pondering… (4s · ↓ 12 tokens)", "✻ Baked for 18s")
        .replace(" · esc to interrupt", "");
    assert_eq!(classify(&screen), ScreenState::Idle);
}

#[test]
fn retry_lines_are_classed_by_what_failed() {
    let retry = fixture("claude-21-key-retrying.screen.txt");
    let line = "✻ Can't reach the API server — check your internet or DNS (ENOTFOUND) · retrying in 28s · attempt 7/10";
    assert!(retry.contains(line));
    let class = |cause: &str| match classify(
        &retry.replace(line, &format!("✻ {cause} · retrying in 3s · attempt 2/10")),
    ) {
        ScreenState::ApiError { class, .. } => class,
        other => panic!("{cause}: {other:?}"),
    };
    assert_eq!(
        class("API Error: 429 Too Many Requests"),
        ApiErrorClass::RateLimit
    );
    assert_eq!(class("API Error: Overloaded"), ApiErrorClass::Overloaded);
    assert_eq!(class("Request timed out"), ApiErrorClass::Timeout);
    assert_eq!(class("API Error: something new"), ApiErrorClass::Other);
}

#[test]
fn a_user_rule_can_teach_the_plugin_a_new_footer() {
    let screen = fixture("claude-16-key-main-03.screen.txt").replace(
        "⏵⏵ auto mode on (shift+tab to cycle)",
        "⏵⏵ auto mode on · hold on",
    );
    assert_eq!(classify(&screen), ScreenState::Idle);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude.toml");
    std::fs::write(
        &path,
        "[[rules.busy]]\nname = \"hold_on\"\ncontains = ['hold on']\n",
    )
    .unwrap();
    let patched = Claude::with_rules(load_rules_from(BUILTIN, Some(&path), check));
    let verdict = patched.classify_screen(&screen);
    assert_eq!(verdict.value, ScreenState::Busy);
    assert_eq!(verdict.rule.as_deref(), Some("hold_on (user rule)"));
}

#[test]
fn the_input_box_reads_what_is_typed_and_an_empty_one_or_a_placeholder_as_empty() {
    let typed = claude()
        .input_box(&fixture("claude-07-typed-nokey.screen.txt"))
        .unwrap()
        .unwrap();
    assert_eq!(typed.text, "say hello");
    assert_eq!(typed.clear_keys, ["C-u"]);
    for empty in [
        "claude-16-key-main-02.screen.txt",
        "claude-50-turn-ended-err500.screen.txt",
    ] {
        let input = claude().input_box(&fixture(empty)).unwrap().unwrap();
        assert_eq!(input.text, "", "{empty}");
    }
    // A folded paste is what it holds, placeholder and all.
    let folded = fixture("claude-07-typed-nokey.screen.txt")
        .replace("say hello", "[Pasted text #5 +5 lines]");
    let input = claude().input_box(&folded).unwrap().unwrap();
    assert_eq!(input.text, "[Pasted text #5 +5 lines]");
    assert_eq!(
        claude().input_box("").unwrap(),
        None,
        "no input box, nothing to say"
    );
}

/// A usage limit ends the turn (the error line of a real 429 capture replaced by the usage-limit
/// wording): class `quota`, with the reset time the line gives.
#[test]
fn a_usage_limit_is_quota_with_its_reset_time() {
    let screen = fixture("claude-50-turn-ended-err429.screen.txt");
    let line = "● API Error: Request rejected (429) · scripted rate limit";
    assert!(screen.contains(line));
    let limited = screen.replace(
        line,
        "● API Error: Claude usage limit reached. Your limit will reset at 5pm (UTC).",
    );
    assert_eq!(
        classify(&limited),
        ScreenState::ApiError {
            class: ApiErrorClass::Quota,
            ended: true,
            reset: Some("5pm (UTC)".into()),
        }
    );
    let no_time = screen.replace(line, "● API Error: Claude AI usage limit reached");
    assert_eq!(
        classify(&no_time),
        ScreenState::ApiError {
            class: ApiErrorClass::Quota,
            ended: true,
            reset: None,
        }
    );
}
