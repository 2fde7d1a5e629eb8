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
    /// Find coordinator processes whose workspace is gone or which do not hold its lock, and
    /// (with --confirm) end them: SIGTERM, 3 s, SIGKILL, 2 s.
    #[arg(long)]
    pub cleanup_orphans: bool,
    /// Carry out the repair instead of describing it.
    #[arg(long)]
    pub confirm: bool,
}

pub fn run(args: &DoctorArgs, workspace: &Workspace) -> anyhow::Result<Reply> {
    if args.cleanup_orphans {
        let found = doctor::find_orphans();
        let orphans = if args.confirm {
            doctor::cleanup_orphans(found)
        } else {
            found
        };
        let mut text = String::new();
        for o in &orphans {
            text.push_str(&format!(
                "pid {:<7} {} ({}){}\n",
                o.pid,
                o.workspace.display(),
                o.why,
                o.outcome
                    .as_deref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            ));
        }
        text.push_str(&match (orphans.is_empty(), args.confirm) {
            (true, _) => "no orphaned coordinator\n".to_string(),
            (false, false) => "dry run: pass --confirm to end them\n".to_string(),
            (false, true) => "done\n".to_string(),
        });
        let ok = orphans.iter().all(|o| {
            o.outcome
                .as_deref()
                .is_none_or(|x| !x.starts_with("failed"))
        });
        return Ok(Reply::new(
            ok,
            json!({"ok": ok, "confirm": args.confirm, "orphans": orphans}),
            text,
        ));
    }
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
