/*! Answering a CLI's runtime approval prompts, under the host's policy.

A provider finds the prompt on its screen (an [`Approval`]: a question a rule knows, or a menu no
rule knows, with what it asks about); everything after that is the same for every CLI. The
plugin answers only what the policy allows: a call to one of the team's own MCP tools (preferring
the option that approves it for the session, so the same tool is not asked about again); a shell
command that one of the worker's `auto_approve` patterns allows, approved once; or the option an
operator chose by hand (a number, or `yes`, `always`, `no`). Keys move from the highlighted option
with `Up`/`Down` and confirm with `Enter`, which works in numbered menus and in lists without
numbers alike; a prompt without a highlighted option is left to a human.
*/

use team_agent_plugin_api::{ApprovalDecision, ApprovalPolicy, Verdict};

use crate::menu::{Menu, MenuOption};
use crate::rules::{Rule, RuleBook};
use crate::view::verdict;

/// A call to an MCP tool an approval prompt asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCall {
    pub server: String,
    pub tool: String,
}

/// A prompt waiting for an answer.
pub struct Approval<'a> {
    /// The question's rule; `None` when only the prompt's shape was recognised.
    pub question: Option<&'a Rule>,
    /// The question line as shown.
    pub prompt: String,
    pub menu: Menu,
    /// The MCP tool call it asks about, when it is one.
    pub mcp_call: Option<McpCall>,
    /// The shell command it asks to run, as drawn (one entry per screen line), when it is one.
    pub command: Option<Vec<String>>,
}

impl Approval<'_> {
    /// The label of the rule that recognised the prompt (`unrecognised_menu` for a menu no rule
    /// knows, which is never answered on its own).
    pub fn rule(&self) -> String {
        self.question
            .map_or_else(|| "unrecognised_menu".to_string(), Rule::label)
    }
}

/// The keys that answer `approval` under `policy`, or why the plugin leaves it to a human. `cli`
/// names the CLI, and `tool_call` how it names a tool call (`mcp__team__report_result`), in
/// those reasons.
pub fn answer(
    book: &RuleBook,
    approval: Option<Approval<'_>>,
    policy: &ApprovalPolicy,
    cli: &str,
    tool_call: impl Fn(&McpCall) -> String,
) -> Verdict<ApprovalDecision> {
    let defer =
        |reason: String, rule: &str| verdict(book, ApprovalDecision::Defer { reason }, rule);
    let Some(approval) = approval else {
        return defer("no approval prompt on screen".into(), "no_prompt");
    };
    let rule = approval.rule();
    let target = match policy {
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
                cli,
            ),
            None => allowed_tool_option(book, &approval, server, tools, cli, &tool_call),
        },
        ApprovalPolicy::Choose { choice } => chosen_option(book, &approval.menu, choice),
    };
    let target = match target {
        Ok(option) => option,
        Err(reason) => return defer(reason, &rule),
    };
    match approval.menu.keys_to(target.number) {
        Some(keys) => verdict(
            book,
            ApprovalDecision::Answer {
                keys,
                choice: target.label.clone(),
            },
            &rule,
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
    cli: &str,
    tool_call: &impl Fn(&McpCall) -> String,
) -> Result<&'m MenuOption, String> {
    let Some(call) = &approval.mcp_call else {
        return Err(format!(
            "\"{}\" is not a call to the team's MCP tools; a human decides",
            approval.prompt
        ));
    };
    if call.server != server || !tools.contains(&call.tool) {
        return Err(format!(
            "{cli} asks to run {}, which is not one of the team's allowed tools",
            tool_call(call)
        ));
    }
    ["approve_for_session", "approve_once"]
        .iter()
        .find_map(|group| option_matching(book, &approval.menu, group))
        .ok_or_else(|| format!("no option of \"{}\" reads as an approval", approval.prompt))
}

/// The first option whose label a rule of `group` matches.
fn option_matching<'m>(book: &RuleBook, menu: &'m Menu, group: &str) -> Option<&'m MenuOption> {
    book.group(group)
        .iter()
        .find_map(|rule| menu.find(|label| rule.is_match(label)))
}

/// The option an operator named: its number (counted from the top), or `yes`, `always` or `no`
/// (read through the `approve_once`, `approve_for_session` and `deny` groups).
fn chosen_option<'m>(
    book: &RuleBook,
    menu: &'m Menu,
    choice: &str,
) -> Result<&'m MenuOption, String> {
    let choice = choice.trim().to_ascii_lowercase();
    if let Ok(number) = choice.parse::<u32>() {
        return menu
            .option(number)
            .ok_or_else(|| format!("the prompt has no option {number}"));
    }
    let group = match choice.as_str() {
        "yes" | "y" | "allow" | "once" => "approve_once",
        "always" | "session" | "a" => "approve_for_session",
        "no" | "n" | "deny" => "deny",
        _ => {
            return Err(format!(
                "unknown choice '{choice}': use an option number, yes, always or no"
            ));
        }
    };
    option_matching(book, menu, group)
        .ok_or_else(|| format!("no option of the prompt reads as '{choice}'"))
}

/// The option that approves `command` once, when one of `patterns` allows it; otherwise why
/// not (naming the command, for the leader). `cli` names the CLI in that reason.
fn command_option<'m>(
    book: &RuleBook,
    menu: &'m Menu,
    prompt: &str,
    command: &[String],
    patterns: &[String],
    cli: &str,
) -> Result<&'m MenuOption, String> {
    let lines: Vec<&str> = command.iter().map(String::as_str).collect();
    if !command_allowed(patterns, &lines) {
        return Err(format!(
            "{cli} asks to run `{}`, which no auto_approve pattern of this worker allows",
            lines.join(" ")
        ));
    }
    option_matching(book, menu, "approve_once")
        .ok_or_else(|| format!("no option of \"{prompt}\" reads as an approval"))
}

/// Whether the command shown on `lines` is one `patterns` allow. A pattern matches the whole
/// command; `*` stands for any run of characters on one line. A command drawn on several lines
/// may be one wrapped line or several commands, so it is allowed only when it is allowed read
/// both ways: anything unclear goes to a human.
pub fn command_allowed(patterns: &[String], lines: &[&str]) -> bool {
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return false;
    }
    [lines.join(""), lines.join("\n")]
        .iter()
        .all(|command| patterns.iter().any(|p| glob_matches(p.trim(), command)))
}

/// `*` matches any run of characters but a line break; everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // reachable[j]: the pattern read so far can end right before text[j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for &p in &pattern {
        let mut next = vec![false; text.len() + 1];
        if p == '*' {
            for j in 0..=text.len() {
                if reachable[j] || (j > 0 && next[j - 1] && text[j - 1] != '\n') {
                    next[j] = true;
                }
            }
        } else {
            for j in 1..=text.len() {
                next[j] = reachable[j - 1] && text[j - 1] == p;
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], lines: &[&str]) -> bool {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        command_allowed(&patterns, lines)
    }

    #[test]
    fn a_pattern_matches_the_whole_command() {
        assert!(allowed(&["npm test"], &["npm test"]));
        assert!(!allowed(&["npm test"], &["npm test && rm -rf ~"]));
        assert!(allowed(&["git diff *"], &["git diff HEAD~1"]));
        assert!(!allowed(&["git diff *"], &["git diffx"]));
        assert!(allowed(&["echo *> *.txt"], &["echo hi > out.txt"]));
        assert!(allowed(&["*"], &["anything at all"]));
        assert!(!allowed(&[], &["npm test"]));
        assert!(!allowed(&["*"], &[]));
    }

    #[test]
    fn a_star_never_crosses_a_line_break() {
        // Two lines could be two commands: `*` does not stretch over the second.
        assert!(!allowed(&["echo *"], &["echo a", "rm -rf ~"]));
        // A wrapped line is allowed only when the patterns allow it read both ways.
        assert!(!allowed(
            &["echo approved-*"],
            &["echo approved-by-", "policy"]
        ));
        assert!(allowed(
            &["echo approved-*", "echo approved-*\npolicy"],
            &["echo approved-by-", "policy"]
        ));
    }

    #[test]
    fn surrounding_spaces_do_not_count() {
        assert!(allowed(&["  npm test "], &["   npm test"]));
    }
}
