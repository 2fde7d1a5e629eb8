use std::path::Path;

use team_agent_plugin_api::{ApiErrorClass, ProviderPlugin, ScreenState, StartupDecision};
use team_agent_provider_kit::load_rules_from;

use super::{codex, fixture};
use crate::Codex;
use crate::rules::{BUILTIN, check};

fn startup(screen: &str) -> StartupDecision {
    codex().handle_startup_prompts(screen).value
}

fn classify(screen: &str) -> ScreenState {
    codex().classify_screen(screen).value
}

#[test]
fn every_ansi_capture_reads_like_its_plain_twin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let twins = team_agent_conformance::ansi_twins(&dir).unwrap();
    let provider = codex();
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
    let provider = codex();
    let waiting = provider.classify_screen(&fixture("codex-16-still-waiting.screen.txt"));
    assert_eq!(
        waiting.value,
        ScreenState::ApiError {
            class: ApiErrorClass::Network,
            ended: false,
            reset: None,
        }
    );
    assert_eq!(waiting.rule.as_deref(), Some("network_unreachable"));
    let main = provider.handle_startup_prompts(&fixture("codex-07-main-screen.screen.txt"));
    assert_eq!(main.rule.as_deref(), Some("model_status_line"));
    let login = provider.handle_startup_prompts(&fixture("codex-01-first-start.screen.txt"));
    assert_eq!(login.rule.as_deref(), Some("login_menu"));
    let StartupDecision::Blocked { reason } = login.value else {
        panic!("{:?}", login.value)
    };
    assert!(reason.contains("OPENAI_API_KEY"), "{reason}");
}

#[test]
fn a_trust_menu_with_the_second_option_highlighted_is_answered_from_there() {
    let screen = fixture("codex-06-after-api-key-enter.screen.txt")
        .replace("› 1. Trust and continue", "  1. Trust and continue")
        .replace("  2. Back to Agent", "› 2. Back to Agent");
    assert_eq!(
        startup(&screen),
        StartupDecision::Answer {
            prompt: "trust_folder".into(),
            keys: vec!["Up".into(), "Enter".into()]
        }
    );
}

#[test]
fn a_trust_menu_still_active_above_a_pre_rendered_composer_is_answered_not_ready() {
    let screen = "> You are in /w/proj\n\n  Do you trust the contents of this directory? Working with untrusted contents\n  comes with higher risk of prompt injection.\n\n› 1. Yes, continue\n  2. No, quit\n\n  Press enter to continue\n\n  >_ OpenAI Codex (v0.131.0)\n\n› Find and fix a bug in @filename\n\n  gpt-5.5 medium · ~/w/proj\n";
    assert_eq!(
        startup(screen),
        StartupDecision::Answer {
            prompt: "trust_folder".into(),
            keys: vec!["Enter".into()]
        }
    );
    assert_eq!(classify(screen), ScreenState::TrustPrompt);
}

#[test]
fn a_trust_question_whose_options_are_not_drawn_yet_is_waited_for() {
    let screen = "  Folder access\n  /w/proj\n  Trust this folder? Codex can read, edit, and run files here.\n";
    assert_eq!(startup(screen), StartupDecision::Waiting);
}

#[test]
fn an_update_offer_is_skipped_from_the_highlighted_option() {
    let screen = "  ✨ Update available! 0.168.0 -> 0.169.0\n\n› 1. Update now (runs `npm install -g @openai/codex`)\n  2. Skip\n  3. Skip until next version\n\n  Press enter to continue\n";
    assert_eq!(
        startup(screen),
        StartupDecision::Answer {
            prompt: "update_offer".into(),
            keys: vec!["Down".into(), "Enter".into()]
        }
    );
}

#[test]
fn a_dead_pane_is_exited_and_blocks_the_start() {
    let screen = "› Ask Codex to do anything\n  GPT-6.1-Sol default · /w\n\nPane is dead (status 1, Mon Nov 23 00:42:39 2026)\n";
    assert_eq!(classify(screen), ScreenState::Exited);
    assert!(matches!(startup(screen), StartupDecision::Blocked { .. }));
}

#[test]
fn an_old_exit_message_above_a_live_composer_is_history() {
    let screen = format!(
        "To continue this session, run:\n  codex resume 01a205ed-1c4d-7081-968b-f87952860fdf\n{}",
        fixture("codex-09-after-esc.screen.txt")
    );
    assert_eq!(classify(&screen), ScreenState::Idle);
    assert_eq!(startup(&screen), StartupDecision::Ready);
}

#[test]
fn a_retry_after_a_rate_limit_is_that_class_of_api_error() {
    let screen = fixture("codex-16-still-waiting.screen.txt").replace(
        "└ Connection failed: error sending request",
        "└ unexpected status 429 Too Many Requests: Rate limit reached",
    );
    assert_eq!(
        classify(&screen),
        ScreenState::ApiError {
            class: ApiErrorClass::RateLimit,
            ended: false,
            reset: None,
        }
    );
}

#[test]
fn a_user_rule_file_changes_verdicts_and_a_broken_one_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codex.toml");
    std::fs::write(
        &path,
        "[[rules.busy]]\nname = \"thinking_line\"\nregex = ['^• Thinking hard']\n",
    )
    .unwrap();
    let patched = Codex::with_rules(load_rules_from(BUILTIN, Some(&path), check));
    let screen =
        "› do it\n• Thinking hard\n› Ask Codex to do anything\n  GPT-6.1-Sol default · /w\n";
    let verdict = patched.classify_screen(screen);
    assert_eq!(verdict.value, ScreenState::Busy);
    assert_eq!(verdict.rule.as_deref(), Some("thinking_line (user rule)"));

    std::fs::write(
        &path,
        "[[rules.api_error]]\nname = \"x\"\nclass = 'loud'\ncontains = ['y']\n",
    )
    .unwrap();
    let fallback = Codex::with_rules(load_rules_from(BUILTIN, Some(&path), check));
    let verdict = fallback.classify_screen(&fixture("codex-07-main-screen.screen.txt"));
    assert_eq!(verdict.value, ScreenState::Idle);
    let rule = verdict.rule.unwrap();
    assert!(
        rule.starts_with("model_status_line (user rules ignored: "),
        "{rule}"
    );
}

#[test]
fn the_composer_reads_what_is_typed_and_its_placeholder_as_empty() {
    let typed = codex()
        .input_box(&fixture("codex-11-typed.screen.txt"))
        .unwrap()
        .unwrap();
    assert_eq!(typed.text, "say hello");
    assert_eq!(typed.clear_keys, ["C-u"]);
    let empty = codex()
        .input_box(&fixture("codex-07-main-screen.screen.txt"))
        .unwrap()
        .unwrap();
    assert_eq!(empty.text, "");
    // A paste of several lines, token and all, up to the model/cwd line.
    let pasted = fixture("codex-11-typed.screen.txt").replace(
        "› say hello",
        "› Team Agent message from leader:\n  line two\n  [team-agent-token:msg_x]",
    );
    let input = codex().input_box(&pasted).unwrap().unwrap();
    assert_eq!(
        input.text,
        "Team Agent message from leader:\nline two\n[team-agent-token:msg_x]"
    );
}

/// A usage limit ends the turn as the real 0.169.0 words it (the error line of a real 429
/// capture replaced by the line it drew for a `usage_limit_reached` error): class `quota`, with
/// the reset time when it gives one.
#[test]
fn a_usage_limit_is_quota_with_its_reset_time() {
    let screen = fixture("codex-46-turn-ended-err429.screen.txt");
    let line = screen
        .lines()
        .find(|l| l.starts_with("■ exceeded retry limit"))
        .unwrap()
        .to_string();
    let with_reset = screen.replace(
        &line,
        "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 7:26 AM.",
    );
    assert_eq!(
        classify(&with_reset),
        ScreenState::ApiError {
            class: ApiErrorClass::Quota,
            ended: true,
            reset: Some("at 7:26 AM".into()),
        }
    );
    let later = screen.replace(
        &line,
        "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again later.",
    );
    assert_eq!(
        classify(&later),
        ScreenState::ApiError {
            class: ApiErrorClass::Quota,
            ended: true,
            reset: None,
        }
    );
}
