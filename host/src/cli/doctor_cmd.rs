//! `team-agent doctor`.

use clap::Args;
use serde_json::json;

use crate::cli::{Reply, UserError};
use crate::doctor::{self, Level};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Replace a corrupt state.json with the newest team snapshot (dry run without --confirm).
    #[arg(long)]
    pub restore_state: bool,
    /// Carry out the repair instead of describing it.
    #[arg(long)]
    pub confirm: bool,
}

pub fn run(args: &DoctorArgs, workspace: &Workspace) -> anyhow::Result<Reply> {
    if args.restore_state {
        let message = doctor::restore_state(workspace, args.confirm)
            .map_err(|e| UserError::new(e).action("see `team-agent doctor`"))?;
        return Ok(Reply::ok(
            json!({ "ok": true, "restored": args.confirm, "detail": message }),
            message,
        ));
    }
    let checks = doctor::run_checks(workspace);
    let ok = checks.iter().all(|c| c.level != Level::Fail);
    let mut text = String::new();
    for c in &checks {
        let mark = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        text.push_str(&format!("{mark} {:<12} {}\n", c.name, c.detail));
        if let Some(action) = &c.action {
            text.push_str(&format!("     {:<12} → {action}\n", ""));
        }
    }
    Ok(Reply::new(
        ok,
        json!({ "ok": ok, "workspace": workspace.root().to_string_lossy(), "checks": checks }),
        text,
    ))
}
