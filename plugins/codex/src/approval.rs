/*! Answering Codex's runtime approval prompts.

Codex asks before running a command, applying edits or calling an MCP tool, with a numbered menu
(`› 1. Allow for this session` / `2. Deny` …). The plugin answers only what the host allows: a
call to one of the team's own MCP tools (preferring the "for this session" option, so the same
tool is not asked about again), a command (`$ …` under the question) that one of the policy's
patterns allows, approved once, or the option an operator chose by hand. Keys move from the
highlighted option with `Up`/`Down` and confirm with `Enter`; digits are not used because Codex
0.169.0 ignored them in its menus.
*/

use team_agent_plugin_api::{ApprovalDecision, ApprovalPolicy, ApprovalRequest, Verdict};
use team_agent_provider_kit::{
    MenuOption, RuleBook, chosen_option, command_option, option_matching,
};

use crate::screen::{Approval, View};

pub fn answer(book: &RuleBook, request: &ApprovalRequest) -> Verdict<ApprovalDecision> {
    let view = View::read(book, &request.screen);
    let defer = |reason: String, rule: &str| {
        Verdict::by_rule(ApprovalDecision::Defer { reason }, book.label(rule))
    };
    let Some(approval) = view.approval().or_else(|| view.unrecognised_menu()) else {
        return defer("no approval prompt on screen".into(), "no_prompt");
    };
    let rule = approval
        .question
        .as_ref()
        .map_or_else(|| "unrecognised_menu".to_string(), |q| q.rule.label());
    let target = match &request.policy {
        ApprovalPolicy::AllowTools {
            server,
            tools,
            commands,
        } => {
            let allowed = match &approval.command {
                Some(command) => command_option(
                    book,
                    &approval.menu,
                    &approval.prompt,
                    command,
                    commands,
                    "Codex",
                ),
                None => allowed_tool_option(book, &approval, server, tools),
            };
            match allowed {
                Ok(option) => option,
                Err(reason) => return defer(reason, &rule),
            }
        }
        ApprovalPolicy::Choose { choice } => match chosen_option(book, &approval.menu, choice) {
            Ok(option) => option,
            Err(reason) => return defer(reason, &rule),
        },
    };
    match approval.menu.keys_to(target.number) {
        Some(keys) => Verdict::by_rule(
            ApprovalDecision::Answer {
                keys,
                choice: target.label.clone(),
            },
            book.label(&rule),
        ),
        None => defer(
            format!(
                "cannot see which option of \"{}\" is highlighted, so no keys can reach \"{}\"",
                approval.prompt, target.label
            ),
            &rule,
        ),
    }
}

/// The option that approves a call to one of `tools` of the MCP server `server`, or why the
/// prompt is not such a call.
fn allowed_tool_option<'m>(
    book: &RuleBook,
    approval: &'m Approval<'_>,
    server: &str,
    tools: &[String],
) -> Result<&'m MenuOption, String> {
    let asked = approval
        .question
        .as_ref()
        .and_then(|q| Some((q.captures.get("server")?, q.captures.get("tool")?)));
    let Some((asked_server, asked_tool)) = asked else {
        return Err(format!(
            "\"{}\" is not a call to the team's MCP tools; a human decides",
            approval.prompt
        ));
    };
    if asked_server != server || !tools.iter().any(|t| t == asked_tool) {
        return Err(format!(
            "Codex asks to run tool \"{asked_tool}\" of MCP server \"{asked_server}\", which is not one of the team's allowed tools"
        ));
    }
    ["approve_for_session", "approve_once"]
        .iter()
        .find_map(|group| option_matching(book, &approval.menu, group))
        .ok_or_else(|| format!("no option of \"{}\" reads as an approval", approval.prompt))
}
