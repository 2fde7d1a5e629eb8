/*!
What team-agent's rules-driven provider plugins (Codex, Claude Code, …) share.

A provider plugin reads an agent CLI's pane: is it idle, busy, asking for approval, showing a
trust dialog, retrying after an API error? The *texts* that answer those questions change with
every release of the CLI, so they are data: a TOML rule book compiled into the plugin with
`include_str!` and patched by the user's own file
(`~/.config/team-agent/providers/<provider>.toml`) without a rebuild. The *order* of the
questions and what each answer means stay in the plugin's code. This crate is the generic part:

- [`rules`]: the rule book (named rules in groups, regexes or literal text, JSON-record rules for
  transcripts), its errors, and how a user's file overrides it;
- [`screen`]: normalising a capture (escape sequences stripped, blank lines dropped, bottom lines
  kept, lines cut to a sane width);
- [`menu`]: menus with a highlighted option (numbered, or lists whose options line up without
  numbers), and the keys that move to an option;
- [`user`]: finding and applying the user's file, never failing because of it;
- [`checks`]: what a provider's code needs of a book (its groups, known classes and states,
  reasons), and the plugin-API values rules name;
- [`view`]: a capture as a provider reads it, and what a found dialog, blocking rule, running
  turn or input box means;
- [`hooks`]: a hook call's JSON payload read field by field, and the words of a hook's command;
- [`approval`]: answering a runtime approval prompt under the host's policy (the option it
  picks, the shell commands a policy allows);
- [`transcript`]: the records of a JSON Lines transcript tail and the turn state they give;
- [`session`]: the window a worker's session started in, its identity marker, ids and
  directories;
- [`provider`]: [`RulesProvider`], the whole provider plugin over an [`AgentCli`] that says
  what differs for one CLI.

```
use team_agent_provider_kit::load_rules_from;

const RULES: &str = r#"
[[rules.trust_question]]
name = "trust_folder"
regex = ['Trust this folder\?']

[[rules.trust_accept]]
name = "trust_and_continue"
regex = ['^Trust and continue']
"#;

// A plugin keeps one book for its lifetime (built lazily, on first use).
let book = load_rules_from(RULES, None, |_| Ok(()));
let screen = book.read_screen(
    "\x1b[1m  Folder access\x1b[0m\n  Trust this folder? Codex can read…\n\x1b[7m› 1. Trust and continue\n  2. Back\n",
);
let question = book.last_line("trust_question", screen.lines()).unwrap();
let menu = book.menus().below(screen.lines(), question.line).unwrap();
let accept = menu.find(|label| book.group("trust_accept").iter().any(|r| r.is_match(label))).unwrap();
assert_eq!(menu.keys_to(accept.number).unwrap(), ["Enter"]);
// The rule's name goes into the plugin's verdict, so `team-agent plugins probe` can explain it.
assert_eq!(book.label(question.rule.name()), "trust_folder");
```
*/

pub mod approval;
pub mod checks;
pub mod hooks;
pub mod menu;
pub mod provider;
pub mod rules;
pub mod screen;
pub mod session;
pub mod transcript;
pub mod user;
pub mod view;

pub use approval::{Approval, McpCall, command_allowed};
pub use checks::{api_error_class, check_book, class_of, turn_state};
pub use hooks::{HookFields, command_line, shell_quoted};
pub use menu::{Menu, MenuOption, MenuReader};
pub use provider::{AgentCli, CliLaunch, CliScreen, CliSessions, RulesProvider};
pub use rules::{LineMatch, Rule, RuleBook, RulesError};
pub use screen::{Screen, ScreenSettings, strip_ansi};
pub use session::{SpawnWindow, identity_markers, is_uuid, same_dir};
pub use transcript::{records, text_at, turn_state_of};
pub use user::{load_rules, load_rules_from, user_rules_path};
pub use view::{Dialog, View, blocked, running_turn, verdict};

/// The leader's command line: `executable`, the operator's `args` unchanged, and the provider's
/// `injected` flags placed before the operator's first `--` (if any), so they stay flags.
pub fn leader_argv(executable: &str, args: &[String], injected: Vec<String>) -> Vec<String> {
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut argv = vec![executable.to_string()];
    argv.extend(args[..split].iter().cloned());
    argv.extend(injected);
    argv.extend(args[split..].iter().cloned());
    argv
}
