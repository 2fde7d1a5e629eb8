use team_agent_plugin_api::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, ProviderPlugin, ScreenState,
};

use super::{fixture, gemini};

fn input(name: &str) -> String {
    gemini()
        .input_box(&fixture(name))
        .unwrap()
        .map(|input| input.text)
        .unwrap_or_else(|| panic!("{name}: no input box"))
}

fn answer(screen: &str, policy: ApprovalPolicy) -> ApprovalDecision {
    gemini()
        .approval_keys(&ApprovalRequest {
            screen: screen.into(),
            policy,
        })
        .value
}

fn allow(commands: &[&str]) -> ApprovalPolicy {
    ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into()],
        commands: commands.iter().map(|c| c.to_string()).collect(),
    }
}

#[test]
fn the_input_box_holds_what_was_typed_and_nothing_behind_its_placeholder() {
    assert_eq!(input("gemini-03-typed.screen.txt"), "hello there");
    assert_eq!(
        input("gemini-21-typed.ansi.txt"),
        "please say RATE429 to me"
    );
    assert_eq!(input("gemini-04-fresh-idle.screen.txt"), "");
    assert_eq!(input("gemini-14-fresh-hooks.ansi.txt"), "");
}

#[test]
fn a_history_prompt_is_not_the_input_box() {
    // `> hello there` of an earlier turn sits above; the box is the bottom one.
    assert_eq!(input("gemini-08-after-shell.screen.txt"), "");
    let screen = fixture("gemini-07-shell-approval.screen.txt");
    assert_eq!(gemini().input_box(&screen).unwrap(), None);
}

#[test]
fn a_shell_approval_is_answered_only_for_an_allowed_command() {
    let screen = fixture("gemini-07-shell-approval.screen.txt");
    match answer(&screen, allow(&["echo *"])) {
        ApprovalDecision::Answer { keys, choice } => {
            assert_eq!(keys, ["Enter"]);
            assert_eq!(choice, "Allow once");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        answer(&screen, allow(&["cargo test"])),
        ApprovalDecision::Defer { .. }
    ));
}

#[test]
fn an_operator_can_pick_any_option_of_an_approval() {
    let screen = fixture("gemini-15-shell-approval-hooks.ansi.txt");
    let decision = answer(
        &screen,
        ApprovalPolicy::Choose {
            choice: "no".into(),
        },
    );
    match decision {
        ApprovalDecision::Answer { keys, choice } => {
            assert_eq!(keys, ["Down", "Down", "Enter"]);
            assert_eq!(choice, "No, suggest changes (esc)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_colour_captures_read_as_their_plain_twins() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".ansi.txt") else {
            continue;
        };
        let plain = fixture(&format!("{stem}.screen.txt"));
        let colour = fixture(&name);
        assert_eq!(
            gemini().classify_screen(&colour).value,
            gemini().classify_screen(&plain).value,
            "{stem}"
        );
        assert_eq!(
            gemini().handle_startup_prompts(&colour).value,
            gemini().handle_startup_prompts(&plain).value,
            "{stem}"
        );
        compared += 1;
    }
    assert!(compared >= 20, "{compared}");
}

#[test]
fn an_api_error_that_ended_the_turn_is_not_one_of_an_earlier_turn() {
    let ended = fixture("gemini-25-turn-ended-err400.screen.txt");
    assert!(matches!(
        gemini().classify_screen(&ended).value,
        ScreenState::ApiError { ended: true, .. }
    ));
    let (before, after) = ended.split_once("ℹ This request failed").unwrap();
    // The next turn's prompt and reply drawn below the error: that turn is what counts.
    let later = format!("{before}ℹ This request failed\n > try again\n✦ OK.\n{after}");
    assert_eq!(gemini().classify_screen(&later).value, ScreenState::Idle);
}

#[test]
fn a_spinner_saying_gemini_retries_is_an_api_error_not_yet_ended() {
    // Gemini 0.61.0's retry phrases (from its source; the scripted model's 429s never drew
    // them), put into a real retrying screen in place of `Thinking...`.
    let busy = fixture("gemini-23-rate-limit-retrying-silently.screen.txt");
    for phrase in [
        "Trying to reach gemini-2.5-flash (Attempt 3/10)",
        "This is taking a bit longer, we're still on it.",
    ] {
        let retrying = busy.replace("Thinking...", phrase);
        assert_ne!(retrying, busy);
        assert!(
            matches!(
                gemini().classify_screen(&retrying).value,
                ScreenState::ApiError { ended: false, .. }
            ),
            "{phrase}"
        );
    }
}
