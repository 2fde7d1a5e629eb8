/*! Answering Claude Code's runtime prompts: tool approvals (`Do you want to proceed?` with
`❯ 1. Yes` / `2. Yes, and don't ask again for …` / `3. No`) and, by an operator's choice, the
custom API key question.

The plugin answers only what the host allows: a call to one of the team's own MCP tools (shown as
`<server> - <tool>(…) (MCP)` under `Tool use`; Claude's name for it is `mcp__<server>__<tool>`),
preferring the "don't ask again" option so the same tool is not asked about again; a shell
command (under `Bash command`) that one of the policy's patterns allows, approved once; or the
option an operator chose by hand. Keys move from the highlighted option with `Up`/`Down` and confirm
with `Enter`, which works in the numbered menus and in the lists without numbers alike.
*/

use team_agent_plugin_api::{ApprovalDecision, ApprovalPolicy, ApprovalRequest, Verdict};
use team_agent_provider_kit::{
    MenuOption, Rule, RuleBook, chosen_option, command_option, option_matching,
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
        .map_or_else(|| "unrecognised_menu".to_string(), Rule::label);
    let target = match &request.policy {
        ApprovalPolicy::AllowTools {
            server,
            tools,
            commands,
        } => match &approval.command {
            Some(command) => command_option(
                book,
                &approval.menu,
                &approval.prompt,
                command,
                commands,
                "Claude Code",
            ),
            None => allowed_tool_option(book, &approval, server, tools),
        },
        ApprovalPolicy::Choose { choice } => chosen_option(book, &approval.menu, choice),
    };
    let target = match target {
        Ok(option) => option,
        Err(reason) => return defer(reason, &rule),
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
    let Some(call) = &approval.mcp_call else {
        return Err(format!(
            "\"{}\" is not a call to the team's MCP tools; a human decides",
            approval.prompt
        ));
    };
    if call.server != server || !tools.contains(&call.tool) {
        return Err(format!(
            "Claude Code asks to run mcp__{}__{}, which is not one of the team's allowed tools",
            call.server, call.tool
        ));
    }
    ["approve_for_session", "approve_once"]
        .iter()
        .find_map(|group| option_matching(book, &approval.menu, group))
        .ok_or_else(|| format!("no option of \"{}\" reads as an approval", approval.prompt))
}
