use team_agent_plugin_api::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, ProviderPlugin, ScreenState,
};

use super::codex;

/// The MCP tool prompt, in the shape the reference describes (§2.6).
const MCP_PROMPT: &str = "› Team Agent message from leader: report when done\n\n  Allow the team MCP server to run tool \"report_result\"?\n\n› 1. Allow for this session\n  2. Deny\n\n  enter to submit | esc to cancel\n";

const SHELL_PROMPT: &str = "  Would you like to run the following command?\n\n  $ rm -rf build\n\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for this command (a)\n  3. No, and tell Codex what to do differently (esc)\n\n  Press enter to confirm or esc to cancel\n";

fn allow_team_tools() -> ApprovalPolicy {
    ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into(), "send_message".into()],
        commands: Vec::new(),
    }
}

fn answer(screen: &str, policy: ApprovalPolicy) -> ApprovalDecision {
    codex()
        .approval_keys(&ApprovalRequest {
            screen: screen.into(),
            policy,
        })
        .value
}

fn choose(screen: &str, choice: &str) -> ApprovalDecision {
    answer(
        screen,
        ApprovalPolicy::Choose {
            choice: choice.into(),
        },
    )
}

fn keys(decision: ApprovalDecision) -> Vec<String> {
    match decision {
        ApprovalDecision::Answer { keys, .. } => keys,
        ApprovalDecision::Defer { reason } => panic!("deferred: {reason}"),
    }
}

#[test]
fn approval_prompts_are_classified_with_their_question() {
    assert_eq!(
        codex().classify_screen(MCP_PROMPT).value,
        ScreenState::AwaitingApproval {
            prompt: "Allow the team MCP server to run tool \"report_result\"?".into()
        }
    );
    assert_eq!(
        codex().classify_screen(SHELL_PROMPT).value,
        ScreenState::AwaitingApproval {
            prompt: "Would you like to run the following command?".into()
        }
    );
}

#[test]
fn a_team_tool_call_is_approved_for_the_session() {
    assert_eq!(
        answer(MCP_PROMPT, allow_team_tools()),
        ApprovalDecision::Answer {
            keys: vec!["Enter".into()],
            choice: "Allow for this session".into()
        }
    );
    let deny_highlighted = MCP_PROMPT
        .replace("› 1. Allow", "  1. Allow")
        .replace("  2. Deny", "› 2. Deny");
    assert_eq!(
        keys(answer(&deny_highlighted, allow_team_tools())),
        ["Up", "Enter"]
    );
}

#[test]
fn another_tool_or_another_server_is_deferred() {
    let other_tool = MCP_PROMPT.replace("report_result", "delete_team");
    let other_server = MCP_PROMPT.replace("the team MCP", "the github MCP");
    for screen in [other_tool, other_server, SHELL_PROMPT.to_string()] {
        assert!(
            matches!(
                answer(&screen, allow_team_tools()),
                ApprovalDecision::Defer { .. }
            ),
            "{screen}"
        );
    }
}

#[test]
fn an_operators_choice_picks_the_option_by_number_or_word() {
    assert_eq!(keys(choose(SHELL_PROMPT, "1")), ["Enter"]);
    assert_eq!(keys(choose(SHELL_PROMPT, "yes")), ["Enter"]);
    assert_eq!(keys(choose(SHELL_PROMPT, "always")), ["Down", "Enter"]);
    assert_eq!(keys(choose(SHELL_PROMPT, "no")), ["Down", "Down", "Enter"]);
    assert_eq!(keys(choose(MCP_PROMPT, "no")), ["Down", "Enter"]);
    let ApprovalDecision::Answer { choice, .. } = choose(SHELL_PROMPT, "3") else {
        panic!("option 3 exists")
    };
    assert_eq!(choice, "No, and tell Codex what to do differently (esc)");
    for unknown in ["4", "maybe"] {
        assert!(matches!(
            choose(SHELL_PROMPT, unknown),
            ApprovalDecision::Defer { .. }
        ));
    }
}

#[test]
fn without_a_highlighted_option_nothing_is_pressed() {
    let screen = SHELL_PROMPT.replace("› 1. Yes", "  1. Yes");
    assert!(matches!(
        choose(&screen, "1"),
        ApprovalDecision::Defer { .. }
    ));
}

#[test]
fn a_prompt_no_rule_knows_is_still_seen_and_answered_only_by_choice() {
    let screen =
        "  Codex wants to open a port\n\n› 1. Sure\n  2. Nope\n\n  enter confirm · esc cancel\n";
    assert_eq!(
        codex().classify_screen(screen).value,
        ScreenState::AwaitingApproval {
            prompt: "Codex wants to open a port".into()
        }
    );
    assert!(matches!(
        answer(screen, allow_team_tools()),
        ApprovalDecision::Defer { .. }
    ));
    assert_eq!(keys(choose(screen, "2")), ["Down", "Enter"]);
}

#[test]
fn no_prompt_on_screen_is_deferred() {
    assert!(matches!(
        answer("› Ask Codex to do anything\n", allow_team_tools()),
        ApprovalDecision::Defer { .. }
    ));
}

fn allow_commands(patterns: &[&str]) -> ApprovalPolicy {
    ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into()],
        commands: patterns.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn a_command_an_auto_approve_pattern_allows_is_approved_once() {
    let screen = super::fixture("codex-47-run-command-approval.screen.txt");
    let decision = answer(
        &screen,
        allow_commands(&["echo fake-bash-ran > * && cat *"]),
    );
    let ApprovalDecision::Answer { keys, choice } = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(choice, "Yes, proceed (y)");
    assert_eq!(keys, ["Enter"], "option 1 is highlighted");
}

#[test]
fn a_command_no_pattern_allows_goes_to_a_human_and_is_named() {
    for patterns in [&[][..], &["rm -rf *x"][..], &["rm"][..]] {
        let ApprovalDecision::Defer { reason } = answer(SHELL_PROMPT, allow_commands(patterns))
        else {
            panic!("approved with {patterns:?}")
        };
        assert!(reason.contains("`rm -rf build`"), "{reason}");
    }
    assert!(matches!(
        answer(SHELL_PROMPT, allow_commands(&["rm -rf build"])),
        ApprovalDecision::Answer { .. }
    ));
}
