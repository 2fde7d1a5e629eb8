use team_agent_plugin_api::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, ProviderPlugin, ScreenState,
};

use super::{claude, fixture};

fn team_tool_prompt() -> String {
    fixture("claude-approval-team-tool-transcribed.screen.txt")
}

fn allow_team_tools() -> ApprovalPolicy {
    ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into(), "send_message".into()],
        commands: Vec::new(),
    }
}

fn answer(screen: &str, policy: ApprovalPolicy) -> ApprovalDecision {
    claude()
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

fn deferred(decision: ApprovalDecision) -> String {
    match decision {
        ApprovalDecision::Defer { reason } => reason,
        answer => panic!("answered: {answer:?}"),
    }
}

#[test]
fn a_team_tool_call_is_approved_without_asking_again() {
    assert_eq!(
        answer(&team_tool_prompt(), allow_team_tools()),
        ApprovalDecision::Answer {
            keys: vec!["Down".into(), "Enter".into()],
            choice: "Yes, and don't ask again for team - send_message commands in /home/dev/projects/sandbox/proj-claude2".into()
        }
    );
}

#[test]
fn without_a_dont_ask_again_option_the_call_is_approved_once() {
    let screen = team_tool_prompt()
        .replace("   2. Yes, and don't ask again for team - send_message commands in /home/dev/projects/sandbox/proj-claude2\n", "")
        .replace("   3. No", "   2. No");
    assert_eq!(keys(answer(&screen, allow_team_tools())), ["Enter"]);
}

#[test]
fn a_call_whose_arguments_wrap_is_still_recognised() {
    let screen = team_tool_prompt().replace(
        "content: \"the parser is fixed\") (MCP)",
        "content: \"the parser is fixed and every test passes again, including the slow ones\n   that need the network\") (MCP)",
    );
    assert_eq!(keys(answer(&screen, allow_team_tools())), ["Down", "Enter"]);
}

#[test]
fn another_tool_or_another_server_is_deferred() {
    let other_tool = team_tool_prompt().replace("send_message(", "delete_team(");
    let reason = deferred(answer(&other_tool, allow_team_tools()));
    assert!(reason.contains("mcp__team__delete_team"), "{reason}");
    let other_server = team_tool_prompt().replace("team - send_message(", "github - send_message(");
    assert!(
        deferred(answer(&other_server, allow_team_tools())).contains("mcp__github__send_message")
    );
}

#[test]
fn a_shell_command_is_never_approved_by_the_tool_policy() {
    let bash = fixture("claude-approval-bash-transcribed.screen.txt");
    assert!(
        deferred(answer(&bash, allow_team_tools())).contains("not a call to the team's MCP tools")
    );
    // A command made to look like the team's tool, under the shell command title.
    let look_alike = bash.replace(
        "   rm -rf build",
        "   team - send_message(to: \"leader\") (MCP)",
    );
    assert!(deferred(answer(&look_alike, allow_team_tools())).contains("not a call"));
}

#[test]
fn an_operator_chooses_by_number_or_by_word() {
    let screen = team_tool_prompt();
    assert_eq!(keys(choose(&screen, "1")), ["Enter"]);
    assert_eq!(keys(choose(&screen, "3")), ["Down", "Down", "Enter"]);
    assert_eq!(keys(choose(&screen, "yes")), ["Enter"]);
    assert_eq!(keys(choose(&screen, "always")), ["Down", "Enter"]);
    assert_eq!(keys(choose(&screen, "No")), ["Down", "Down", "Enter"]);
    assert!(deferred(choose(&screen, "4")).contains("no option 4"));
    assert!(deferred(choose(&screen, "maybe")).contains("unknown choice"));
}

#[test]
fn the_custom_api_key_question_is_the_operators_to_answer_at_runtime() {
    let screen = fixture("claude-14-key-after-trust-01.screen.txt");
    assert!(deferred(answer(&screen, allow_team_tools())).contains("not a call"));
    assert_eq!(
        choose(&screen, "yes"),
        ApprovalDecision::Answer {
            keys: vec!["Up".into(), "Enter".into()],
            choice: "Yes".into()
        }
    );
    assert_eq!(keys(choose(&screen, "no")), ["Enter"]);
}

#[test]
fn a_menu_no_rule_knows_is_awaiting_approval_but_only_answered_by_choice() {
    let screen = team_tool_prompt().replace("Do you want to proceed?", "Shall I go on?");
    assert_eq!(
        claude().classify_screen(&screen).value,
        ScreenState::AwaitingApproval {
            prompt: "Shall I go on?".into()
        }
    );
    assert!(deferred(answer(&screen, allow_team_tools())).contains("not a call"));
    assert_eq!(keys(choose(&screen, "2")), ["Down", "Enter"]);
}

#[test]
fn without_a_prompt_on_screen_nothing_is_pressed() {
    let idle = fixture("claude-16-key-main-03.screen.txt");
    assert_eq!(
        deferred(answer(&idle, allow_team_tools())),
        "no approval prompt on screen"
    );
}

fn allow_commands(patterns: &[&str]) -> ApprovalPolicy {
    ApprovalPolicy::AllowTools {
        server: "team".into(),
        tools: vec!["report_result".into()],
        commands: patterns.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn a_shell_command_an_auto_approve_pattern_allows_is_approved_once() {
    let screen = fixture("claude-51-bash-approval.screen.txt");
    let decision = answer(
        &screen,
        allow_commands(&["echo fake-bash-ran > * && cat *"]),
    );
    let ApprovalDecision::Answer { keys, choice } = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(choice, "Yes");
    assert_eq!(keys, ["Enter"], "option 1 is highlighted");
}

#[test]
fn a_shell_command_no_pattern_allows_goes_to_a_human_and_is_named() {
    let screen = fixture("claude-51-bash-approval.screen.txt");
    for patterns in [&[][..], &["echo other *"][..], &["echo fake-bash-ran"][..]] {
        let reason = deferred(answer(&screen, allow_commands(patterns)));
        assert!(
            reason.contains("`echo fake-bash-ran > fake_bash_out.txt && cat fake_bash_out.txt`"),
            "{reason}"
        );
    }
}
