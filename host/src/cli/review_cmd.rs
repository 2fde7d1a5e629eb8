//! `team-agent diff AGENT [--stat]` and `team-agent merge AGENT [--squash] [--message M]`: a
//! worktree worker's work against its base, and its way back into the base branch.

use crate::cli::Reply;
use crate::cli::lifecycle_cmd::{progress, user_error};
use crate::lifecycle::{self, Context, MergeOptions};
use crate::plugins::Registry;
use crate::workspace::Workspace;

pub const DIFF_HELP: &str = "\
The worker's changes against its base: from where its branch left the base to everything its
worktree holds, committed or not (untracked files included, ignored ones not). Changes made on
the base since (another worker's merge) are not shown.

JSON: {\"ok\",\"agent_id\",\"branch\",\"base\",\"merge_base\",\"head\",\"uncommitted\",\"files\":[…],\"diff\"}.

Examples:
  team-agent diff alice
  team-agent diff alice --stat
  team-agent diff alice --json | jq -r .files[]";

pub const MERGE_HELP: &str = "\
Commits what is uncommitted in the worker's worktree (a commit naming the agent and its task),
then merges its branch into the base branch checked out in the workspace's own worktree. Refuses,
changing nothing, when the workspace has uncommitted changes or another branch checked out, when
the worker is mid-turn (working or in a tool), or when the merge would conflict: the conflicting
files are listed, and the base branch and both worktrees stay as they were.

JSON: {\"ok\",\"agent_id\",\"branch\",\"base\",\"merged\",\"squash\",\"committed\",\"base_before\",
\"base_after\",\"files\",\"message\"}; a refusal: {\"ok\":false,\"error\",\"action\",\"reason\"
(merge_conflict with \"conflicts\":[…], workspace_dirty, workspace_not_on_base, worker_busy, …)}.

Examples:
  team-agent merge alice
  team-agent merge alice --squash --message \"Add the parser (alice)\"
  team-agent merge bob --json";

pub fn diff(workspace: &Workspace, agent: &str, stat: bool) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let ctx = Context::new(workspace, &registry, &progress);
    let report = lifecycle::diff(&ctx, agent, stat).map_err(user_error)?;
    let mut text = format!(
        "{} on {} against {} (from {}){}\n",
        report.agent_id,
        report.branch,
        report.base,
        &report.merge_base[..12.min(report.merge_base.len())],
        if report.uncommitted {
            ", uncommitted changes included"
        } else {
            ""
        }
    );
    if report.files.is_empty() {
        text.push_str("no changes\n");
    }
    text.push_str(&report.diff);
    Ok(Reply::ok(&report, text))
}

pub fn merge(
    workspace: &Workspace,
    agent: &str,
    squash: bool,
    message: Option<&str>,
) -> anyhow::Result<Reply> {
    let registry = Registry::load_from(&[]);
    let ctx = Context::new(workspace, &registry, &progress);
    let team = ctx.team().map_err(user_error)?.1;
    let task = crate::messaging::task_of_work(workspace, &team.name, agent);
    let options = MergeOptions {
        squash,
        message,
        task: task.as_deref(),
    };
    let report = lifecycle::merge(&ctx, agent, &options).map_err(user_error)?;
    let text = format!("{}\n", report.message);
    Ok(Reply::ok(&report, text))
}
