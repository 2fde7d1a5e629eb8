//! `team-agent diff AGENT` and `team-agent merge AGENT`: a worktree worker's work, committed and
//! not, against its base; and its way back into the base branch of the workspace's own worktree.
//!
//! `merge` decides everything before it writes anything: the workspace's worktree must be clean
//! and on the base branch, the worker must not be mid-turn, and `git merge-tree --write-tree`
//! must see no conflict between the base and everything the worker's worktree holds (its
//! uncommitted changes included, read through a private index). Only then are the worker's
//! uncommitted changes committed on its branch and the branch merged; a refusal leaves the
//! base branch, both worktrees and their files as they were.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::worktrees::{base_commit, commit_uncommitted, refuse_without_identity};
use super::{Context, LifecycleError, unknown_agent};
use crate::git::{self, GitError, MergeCheck};
use crate::state::{Activity, AgentState, TeamState, WorktreeRecord};

fn git_failed(step: &str, e: GitError) -> LifecycleError {
    LifecycleError::plan(format!("step {step} failed (nothing was changed): {e}"))
}

/// The agent and its worktree record; refused for an agent without one.
fn worktree_agent<'t>(
    team: &'t TeamState,
    id: &str,
) -> Result<(&'t AgentState, &'t WorktreeRecord), LifecycleError> {
    let agent = team.agents.get(id).ok_or_else(|| unknown_agent(team, id))?;
    let record = agent.worktree.as_ref().ok_or_else(|| {
        LifecycleError::refused(
            "no_worktree",
            format!("{id} works in the workspace itself (isolation: none), not in a worktree of its own: there is no branch to diff or merge"),
            "give it `isolation: worktree` in its role file (or TEAM.md) and restart it; `git diff` shows the workspace's changes".to_string(),
        )
    })?;
    Ok((agent, record))
}

/// The worker's work as it is: the head it builds on and the tree of everything it holds.
struct Work {
    head: String,
    tree: String,
    uncommitted: bool,
}

fn work_of(record: &WorktreeRecord) -> Result<Work, GitError> {
    if !record.path.is_dir() {
        let head =
            git::commit_of(&record.repo, &record.branch)?.ok_or_else(|| GitError::Failed {
                dir: record.repo.clone(),
                command: format!("rev-parse {}", record.branch),
                stderr: "the worker's worktree and its branch are both gone".into(),
            })?;
        let tree = git::tree_of(&record.repo, &head)?;
        return Ok(Work {
            head,
            tree,
            uncommitted: false,
        });
    }
    let head = git::head(&record.path)?;
    let tree = git::snapshot_tree(&record.path)?;
    let uncommitted = tree != git::tree_of(&record.path, &head)?;
    Ok(Work {
        head,
        tree,
        uncommitted,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub ok: bool,
    pub agent_id: String,
    pub branch: String,
    pub base: String,
    /// Where the worker's branch and its base part (the diff starts there).
    pub merge_base: String,
    pub head: String,
    /// The diff includes changes not committed yet.
    pub uncommitted: bool,
    pub files: Vec<String>,
    /// The patch, or with `--stat` its summary.
    pub diff: String,
}

/// The worker's changes against its base, committed and not: from where its branch left the
/// base to everything its worktree holds (changes made on the base since are not its own).
pub fn diff(ctx: &Context<'_>, id: &str, stat: bool) -> Result<DiffReport, LifecycleError> {
    let (_, team) = ctx.team()?;
    let (_, record) = worktree_agent(&team, id)?;
    let repo = &record.repo;
    let base = base_commit(record).map_err(|e| git_failed("base", e))?;
    let work = work_of(record).map_err(|e| git_failed("snapshot", e))?;
    let merge_base =
        git::merge_base(repo, &base, &work.head).map_err(|e| git_failed("merge_base", e))?;
    let files =
        git::changed_paths(repo, &merge_base, &work.tree).map_err(|e| git_failed("diff", e))?;
    let diff = git::diff(repo, &merge_base, &work.tree, stat).map_err(|e| git_failed("diff", e))?;
    Ok(DiffReport {
        ok: true,
        agent_id: id.into(),
        branch: record.branch.clone(),
        base: record.base.clone(),
        merge_base,
        head: work.head,
        uncommitted: work.uncommitted,
        files: files.into_iter().collect(),
        diff,
    })
}

pub struct MergeOptions<'a> {
    pub squash: bool,
    pub message: Option<&'a str>,
    /// The task the worker's work is for (named in the commit messages).
    pub task: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    pub ok: bool,
    pub agent_id: String,
    pub branch: String,
    pub base: String,
    /// False when there was nothing to merge (the base has all of it).
    pub merged: bool,
    pub squash: bool,
    /// The commit made of the worker's uncommitted changes, if there were any.
    pub committed: Option<String>,
    /// The base branch's head before and after.
    pub base_before: String,
    pub base_after: String,
    pub files: Vec<String>,
    pub message: String,
}

/// `team-agent merge AGENT`: see the module's text. Refusals change nothing.
pub fn merge(
    ctx: &Context<'_>,
    id: &str,
    options: &MergeOptions<'_>,
) -> Result<MergeReport, LifecycleError> {
    let (_, team) = ctx.team()?;
    let (agent, record) = worktree_agent(&team, id)?;
    // 1. Decide, writing nothing.
    refuse_if_mid_turn(agent)?;
    let base_before = check_main(record)?;
    let work = work_of(record).map_err(|e| git_failed("snapshot", e))?;
    let merged_tree = check_merge(record, &base_before, &work)?;
    let files: Vec<String> = git::changed_paths(&record.repo, &base_before, &merged_tree)
        .map_err(|e| git_failed("diff", e))?
        .into_iter()
        .collect();
    let mut report = MergeReport {
        ok: true,
        agent_id: id.into(),
        branch: record.branch.clone(),
        base: record.base.clone(),
        merged: false,
        squash: options.squash,
        committed: None,
        base_before: base_before.clone(),
        base_after: base_before.clone(),
        files,
        message: String::new(),
    };
    if report.files.is_empty() {
        report.message = format!(
            "{id} has nothing that {} does not have already: nothing to merge",
            record.base
        );
        return Ok(report);
    }
    refuse_overwriting_untracked(record, &report.files)?;
    refuse_without_identity(record, "merge")?;
    // 2. Act: commit what is uncommitted, then merge.
    let task = options
        .task
        .map(|t| format!("task {t}"))
        .unwrap_or_else(|| "no task".into());
    if work.uncommitted {
        report.committed = commit_uncommitted(
            record,
            &format!("team-agent: {id}'s uncommitted work ({task})"),
        )
        .map_err(|e| git_failed("commit_uncommitted", e))?;
    }
    let message = options.message.map(str::to_string).unwrap_or_else(|| {
        format!(
            "team-agent: merge {id}'s work ({task}) from {}",
            record.branch
        )
    });
    report.base_after = git::merge(&record.repo, &record.branch, &message, options.squash)
        .map_err(|e| {
            LifecycleError::spawn(format!(
                "step merge failed: {e}; the merge was undone and {} is as it was{}",
                record.base,
                report
                    .committed
                    .as_ref()
                    .map(|c| format!(
                        " ({id}'s uncommitted changes are committed on {} as {c})",
                        record.branch
                    ))
                    .unwrap_or_default()
            ))
        })?;
    report.merged = true;
    report.message = format!(
        "merged {} into {} ({} file(s){}){}",
        record.branch,
        record.base,
        report.files.len(),
        if options.squash { ", squashed" } else { "" },
        report
            .committed
            .as_ref()
            .map(|c| format!(
                "; {id}'s uncommitted changes were committed first as {}",
                &c[..12.min(c.len())]
            ))
            .unwrap_or_default()
    );
    ctx.events.emit(
        "worktree.merged",
        json!({"agent_id": id, "branch": record.branch, "base": record.base, "base_before": report.base_before,
               "base_after": report.base_after, "committed": report.committed, "squash": options.squash, "files": report.files}),
    );
    Ok(report)
}

/// A worker in the middle of a turn is still changing its files.
fn refuse_if_mid_turn(agent: &AgentState) -> Result<(), LifecycleError> {
    if matches!(agent.activity, Some(Activity::Working | Activity::InTool)) {
        return Err(LifecycleError::refused(
            "worker_busy",
            format!(
                "{} is in the middle of a turn ({}): its files are still changing; nothing was merged",
                agent.id,
                agent.activity.map(|a| a.as_str()).unwrap_or("working")
            ),
            format!(
                "wait for its result (`team-agent wait --task …`) or until `team-agent status {}` shows it idle, then merge again",
                agent.id
            ),
        ));
    }
    Ok(())
}

/// The workspace's own worktree, where the merge happens: no merge under way, no uncommitted
/// change to a tracked file, its base branch checked out. Its head.
fn check_main(record: &WorktreeRecord) -> Result<String, LifecycleError> {
    let main = &record.repo;
    if git::merging(main).map_err(|e| git_failed("check_workspace", e))? {
        return Err(LifecycleError::refused(
            "workspace_merging",
            format!(
                "a merge is under way in {}; nothing was merged",
                main.display()
            ),
            "finish it (`git commit`) or abandon it (`git merge --abort`) there, then merge again",
        ));
    }
    let changed = git::changed_tracked(main).map_err(|e| git_failed("check_workspace", e))?;
    if !changed.is_empty() {
        return Err(LifecycleError::Refused {
            reason: "workspace_dirty",
            message: format!(
                "{} has uncommitted changes ({}); nothing was merged",
                main.display(),
                shortlist(&changed)
            ),
            action: "commit or stash them there (`git stash`), then merge again".into(),
            details: json!({"uncommitted": changed}),
        });
    }
    let checked_out = git::current_branch(main).map_err(|e| git_failed("check_workspace", e))?;
    let base_is_branch =
        git::branch_exists(main, &record.base).map_err(|e| git_failed("check_workspace", e))?;
    match checked_out {
        Some(branch) if !base_is_branch || branch == record.base => {}
        other => {
            let target = if base_is_branch {
                record.base.as_str()
            } else {
                "a branch"
            };
            return Err(LifecycleError::refused(
                "workspace_not_on_base",
                format!(
                    "{} has {} checked out, but {}'s work is merged into {target}; nothing was merged",
                    main.display(),
                    other
                        .map(|b| format!("the branch {b}"))
                        .unwrap_or_else(|| "a detached HEAD".into()),
                    record.branch
                ),
                format!("check it out there (`git checkout {target}`), then merge again"),
            ));
        }
    }
    git::head(main).map_err(|e| git_failed("check_workspace", e))
}

/// The merge of everything the worker holds into the base, as `git merge-tree` sees it: its
/// tree, or a refusal naming the files that would conflict.
fn check_merge(record: &WorktreeRecord, base: &str, work: &Work) -> Result<String, LifecycleError> {
    let repo = &record.repo;
    let merge_base =
        git::merge_base(repo, base, &work.head).map_err(|e| git_failed("merge_base", e))?;
    match git::merge_check(repo, base, &work.tree, Some(&merge_base))
        .map_err(|e| git_failed("merge_check", e))?
    {
        MergeCheck::Clean { tree } => Ok(tree),
        MergeCheck::Conflicts(files) => Err(LifecycleError::Refused {
            reason: "merge_conflict",
            message: format!(
                "merging {} into {} would conflict in {}; nothing was merged, both worktrees are as they were",
                record.branch,
                record.base,
                files.join(", ")
            ),
            action: format!(
                "have the worker bring {} into its branch and resolve the conflict (in its worktree: `git merge {}`), then merge again; or merge by hand: `git merge {}`",
                record.base, record.base, record.branch
            ),
            details: json!({"conflicts": files, "branch": record.branch, "base": record.base}),
        }),
    }
}

/// Untracked files in the workspace's worktree that the merge would write over.
fn refuse_overwriting_untracked(
    record: &WorktreeRecord,
    files: &[String],
) -> Result<(), LifecycleError> {
    let untracked = git::untracked(&record.repo).map_err(|e| git_failed("check_workspace", e))?;
    let hit: BTreeSet<&String> = files.iter().filter(|f| untracked.contains(*f)).collect();
    if hit.is_empty() {
        return Ok(());
    }
    let hit: Vec<String> = hit.into_iter().cloned().collect();
    Err(LifecycleError::Refused {
        reason: "workspace_untracked",
        message: format!(
            "the merge would write over untracked files in {} ({}); nothing was merged",
            record.repo.display(),
            shortlist(&hit)
        ),
        action: "move them away (or commit them), then merge again".into(),
        details: json!({"untracked": hit}),
    })
}

fn shortlist(items: &[String]) -> String {
    let mut text = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        text.push_str(&format!(" and {} more", items.len() - 5));
    }
    text
}
