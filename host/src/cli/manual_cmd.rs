/*! `team-agent completions SHELL` and `team-agent man`: shell completions and man pages, made
from the same clap definitions as `--help` (`clap_complete`, `clap_mangen`), so neither can
drift from the commands. Nothing here knows a command by name; hidden commands get no page.
*/

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_json::json;

use crate::cli::{Cli, Reply, UserError};

pub const COMPLETIONS_HELP: &str = "\
Examples:
  team-agent completions bash > ~/.local/share/bash-completion/completions/team-agent
  team-agent completions zsh > ~/.zfunc/_team-agent      # a directory on $fpath
  team-agent completions fish > ~/.config/fish/completions/team-agent.fish
  team-agent completions powershell >> $PROFILE
scripts/install.sh installs them for bash, zsh and fish under its PREFIX.";

pub const MAN_HELP: &str = "\
Examples:
  team-agent man | man -l -                 read the main page now
  team-agent man --out ~/.local/share/man/man1 && man team-agent-send
JSON (with --out): {\"ok\",\"dir\",\"pages\":[FILE…]}.";

/// The whole command tree as `--help` knows it.
fn command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// The completion script for `shell`, as text.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "team-agent", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `completions SHELL`: the script on stdout, byte for byte (it is ours, not a worker's text, so
/// it skips the terminal sanitiser); with --json inside an object.
pub fn completions(shell: clap_complete::Shell, json: bool) -> anyhow::Result<Reply> {
    let script = completion_script(shell);
    if json {
        return Ok(Reply::ok(
            json!({"ok": true, "shell": shell.to_string(), "script": script}),
            "",
        ));
    }
    write_stdout(script.as_bytes())?;
    Ok(Reply::ok(json!({"ok": true}), ""))
}

/// One man page: its file name and roff text.
pub struct Page {
    pub file: String,
    pub roff: Vec<u8>,
}

/// Every page: `team-agent.1`, then `team-agent-<cmd>.1` for each visible command and
/// `team-agent-<cmd>-<sub>.1` for their subcommands (clap names a built subcommand so, and the
/// page's title and synopsis use that name, the one `man` finds it by).
pub fn pages() -> Result<Vec<Page>, std::io::Error> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(cmd, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: clap::Command, pages: &mut Vec<Page>) -> Result<(), std::io::Error> {
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let man = clap_mangen::Man::new(cmd);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    pages.push(Page {
        file: man.get_filename(),
        roff,
    });
    for sub in subs {
        collect(sub, pages)?;
    }
    Ok(())
}

/// `man [--out DIR]`: the main page on stdout, or every page written into DIR.
pub fn man(out: Option<&Path>) -> anyhow::Result<Reply> {
    let pages = pages().map_err(|e| UserError::new(format!("cannot render the man pages: {e}")))?;
    let Some(dir) = out else {
        write_stdout(&pages[0].roff)?;
        return Ok(Reply::ok(json!({"ok": true}), ""));
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        UserError::new(format!("cannot create {}: {e}", dir.display()))
            .action("give --out a directory you can write")
    })?;
    let mut written: Vec<PathBuf> = Vec::new();
    for page in &pages {
        let path = dir.join(&page.file);
        std::fs::write(&path, &page.roff)
            .map_err(|e| UserError::new(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(Reply::ok(
        json!({"ok": true, "dir": dir, "pages": written}),
        format!("wrote {} man pages into {}", written.len(), dir.display()),
    ))
}

/// Raw bytes to stdout; a reader that went away ends the command quietly.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible top-level command, as clap knows it.
    fn top_level() -> Vec<String> {
        command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn completions_for_every_shell_name_every_top_level_command() {
        let commands = top_level();
        assert!(commands.len() > 30, "{commands:?}");
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            let script = completion_script(shell);
            let missing: Vec<&String> = commands.iter().filter(|c| !script.contains(*c)).collect();
            assert!(missing.is_empty(), "{shell} completions lack {missing:?}");
        }
    }

    #[test]
    fn a_man_page_for_every_command_and_subcommand() {
        let pages = pages().unwrap();
        let files: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files[0], "team-agent.1");
        for cmd in top_level() {
            let file = format!("team-agent-{cmd}.1");
            let page = pages.iter().find(|p| p.file == file);
            let page = page.unwrap_or_else(|| panic!("no {file} in {files:?}"));
            let text = String::from_utf8_lossy(&page.roff);
            assert!(text.starts_with(".ie") || text.contains(".TH"), "{file}");
            assert!(
                text.contains(&format!("team\\-agent\\-{}", cmd.replace('-', "\\-"))),
                "{file} does not name itself"
            );
        }
        for file in [
            "team-agent-plugins-list.1",
            "team-agent-coordinator-status.1",
        ] {
            assert!(files.contains(&file), "no {file}");
        }
        assert!(
            !files.contains(&"team-agent-worker-exec.1"),
            "a hidden command got a page"
        );
    }
}
