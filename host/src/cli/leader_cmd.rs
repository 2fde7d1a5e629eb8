//! `team-agent PROVIDER [ARGS…]`, `claim-leader`, `takeover` and `install-skill`.

use std::path::PathBuf;

use clap::CommandFactory;

use super::lifecycle_cmd::user_error;
use super::{Cli, Reply, UserError};
use crate::events::EventLog;
use crate::leader::{self, SkillTarget, ownership};
use crate::plugins::Registry;
use crate::state::StateStore;
use crate::workspace::Workspace;

/// `team-agent NAME ARGS…` for a name that is no command: an installed provider starts the
/// leader, anything else is an unknown command.
pub fn external(workspace: &Workspace, argv: &[String]) -> anyhow::Result<Reply> {
    let (name, args) = argv
        .split_first()
        .expect("clap gives the subcommand's name");
    let registry = Registry::load(Some(workspace.root()));
    if registry.provider(name).is_err() {
        let commands: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .collect();
        let providers = registry.names(team_agent_plugin_api::PluginKind::Provider);
        return Err(UserError::new(format!("unknown command '{name}'"))
            .action(format!(
                "commands: {}; or start a leader with an installed provider: {}",
                commands.join(", "),
                providers
                    .iter()
                    .map(|p| format!("team-agent {p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .reason("unknown_command")
            .into());
    }
    let outcome = leader::launch(workspace, &registry, name, args)?;
    let text = if outcome.started {
        format!(
            "started the {} leader in tmux session {}\nattach with: {}",
            outcome.provider, outcome.session, outcome.attach_command
        )
    } else {
        format!(
            "the {} leader already runs in tmux session {} (not started again)\nattach with: {}",
            outcome.provider, outcome.session, outcome.attach_command
        )
    };
    Ok(Reply::ok(&outcome, text))
}

/// After a change of leader pane the display moves to the new leader's session.
fn rebuild_display(workspace: &Workspace) {
    let registry = Registry::load(Some(workspace.root()));
    let ctx = crate::lifecycle::Context::new(workspace, &registry, &|_| {});
    let _ = crate::display::rebuild(&ctx.display());
}

pub fn claim_leader(workspace: &Workspace, confirm: bool) -> anyhow::Result<Reply> {
    let change = ownership::claim(
        &StateStore::new(workspace),
        &EventLog::new(workspace),
        &ownership::Caller::from_env(),
        confirm,
    )
    .map_err(user_error)?;
    if change.applied {
        rebuild_display(workspace);
    }
    let text = change.message.clone();
    Ok(Reply::ok(&change, text))
}

pub fn takeover(workspace: &Workspace, confirm: bool) -> anyhow::Result<Reply> {
    let change = ownership::takeover(
        &StateStore::new(workspace),
        &EventLog::new(workspace),
        &ownership::Caller::from_env(),
        confirm,
    )
    .map_err(user_error)?;
    rebuild_display(workspace);
    let text = change.message.clone();
    Ok(Reply::ok(&change, text))
}

pub fn install_skill(target: SkillTarget, dry_run: bool) -> anyhow::Result<Reply> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .ok_or_else(|| UserError::new("HOME is not set").action("set HOME and run it again"))?;
    let report = leader::install_skill(target, &home, dry_run)
        .map_err(|e| UserError::new(e.to_string()).action("check the directory's permissions"))?;
    let mut text: Vec<String> = report
        .files
        .iter()
        .map(|f| format!("{:<13} {} ({})", f.action, f.path.display(), f.target))
        .collect();
    if dry_run {
        text.push(String::new());
        text.push(report.content.clone());
    }
    Ok(Reply::ok(&report, text.join("\n")))
}
