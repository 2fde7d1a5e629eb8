//! A worker's own git worktree (`isolation: worktree`): readied before the worker is planned
//! (created on its branch `team-agent/<team>/<agent>` under `.team/worktrees/<agent>`, or
//! recreated from that branch when its directory is gone, then its `worktree_setup` run once),
//! reported in `status`, judged before `remove-agent` (is anything in it unmerged?), and put back
//! at its base by `reset-agent --discard-changes`. The branch is never deleted, except one this
//! very operation created and then rolled back.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::{Context, LifecycleError};
use crate::events::now_rfc3339;
use crate::git::{self, GitError, MergeCheck};
use crate::spec::{Agent, Isolation, LoadedSpec};
use crate::state::{AgentState, AgentStatus, WorktreeRecord};
use crate::workspace::{Workspace, safe_name};

/// Where a worker works: its directory, and its worktree when it has one.
#[derive(Debug, Clone)]
pub struct Workplace {
    pub cwd: PathBuf,
    pub worktree: Option<WorktreeRecord>,
    /// What this operation created (undone when the operation fails).
    pub created: Created,
}

/// The parts of a worktree an operation made itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    pub worktree: bool,
    pub branch: bool,
}

/// Why a worker's place could not be readied.
pub(super) enum NotReady {
    /// A `worktree_setup` command failed: this worker is held (not started), the others go on.
    Setup(Box<WorktreeRecord>, Created),
    Failed(LifecycleError),
}

impl From<LifecycleError> for NotReady {
    fn from(e: LifecycleError) -> Self {
        Self::Failed(e)
    }
}

fn git_error(id: &str, step: &str, e: GitError) -> LifecycleError {
    LifecycleError::plan(format!("agent '{id}': step {step} failed: {e}"))
}

/// `.team/worktrees/<agent>`.
pub fn worktree_path(workspace: &Workspace, agent_id: &str) -> PathBuf {
    workspace.worktrees_dir().join(safe_name(agent_id))
}

/// Readies where `agent` works. Without isolation that is its working directory; with it, its
/// worktree (created from `start`, default its base) and the directory inside it.
pub(super) fn prepare(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    agent: &Agent,
    previous: Option<&AgentState>,
    start: Option<&str>,
) -> Result<Workplace, NotReady> {
    let dir = spec.working_directory(agent);
    if agent.isolation != Isolation::Worktree {
        return Ok(Workplace {
            cwd: dir,
            worktree: None,
            created: Created::default(),
        });
    }
    let mut record = record_for(ctx, spec, agent, previous)?;
    let created = materialize(ctx, &agent.id, &mut record, start)?;
    let cwd = cwd_in(&record, &dir, &agent.id)?;
    if !record.setup_done {
        match run_setup(ctx, agent, &cwd) {
            Ok(()) => {
                record.setup_done = true;
                record.setup_error = None;
            }
            Err(reason) => {
                record.setup_error = Some(reason);
                return Err(NotReady::Setup(Box::new(record), created));
            }
        }
    }
    Ok(Workplace {
        cwd,
        worktree: Some(record),
        created,
    })
}

/// The worker's worktree as recorded, or as it is to be: its path, branch and base.
fn record_for(
    ctx: &Context<'_>,
    spec: &LoadedSpec,
    agent: &Agent,
    previous: Option<&AgentState>,
) -> Result<WorktreeRecord, LifecycleError> {
    let branch = spec.spec.worktree_branch(&agent.id);
    let path = worktree_path(ctx.workspace, &agent.id);
    if let Some(recorded) = previous
        .and_then(|p| p.worktree.clone())
        .filter(|r| r.branch == branch && r.path == path)
    {
        return Ok(recorded);
    }
    let repo = git::toplevel(ctx.workspace.root())
        .map_err(|e| git_error(&agent.id, "find_repository", e))?
        .ok_or_else(|| {
            LifecycleError::plan(format!(
                "agent '{}': `isolation: worktree` needs the workspace {} to be a git repository: run `git init` there and commit once, or set `isolation: none`",
                agent.id,
                ctx.workspace.root().display()
            ))
        })?;
    let base = match &agent.worktree_base {
        Some(base) => base.clone(),
        None => match git::current_branch(&repo).map_err(|e| git_error(&agent.id, "base", e))? {
            Some(branch) => branch,
            None => git::head(&repo).map_err(|e| git_error(&agent.id, "base", e))?,
        },
    };
    Ok(WorktreeRecord {
        path,
        repo,
        branch,
        base,
        setup_done: false,
        setup_error: None,
        created_at: now_rfc3339(),
        extra: Default::default(),
    })
}

/// Makes sure the worktree's directory is there, on its branch: kept when it is, else added
/// (from its branch when that exists, else on a new branch from `start` or the base).
fn materialize(
    ctx: &Context<'_>,
    id: &str,
    record: &mut WorktreeRecord,
    start: Option<&str>,
) -> Result<Created, LifecycleError> {
    if record.path.exists() {
        let top = git::toplevel(&record.path).ok().flatten();
        let branch = git::current_branch(&record.path).ok().flatten();
        let same =
            |a: &Path, b: &Path| std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok();
        if top.is_some_and(|t| same(&t, &record.path)) && branch.as_deref() == Some(&record.branch)
        {
            return Ok(Created::default());
        }
        return Err(LifecycleError::plan(format!(
            "agent '{id}': {} exists but is not its worktree on branch {} (it is {}): move it away, then start the worker again",
            record.path.display(),
            record.branch,
            branch
                .map(|b| format!("on {b}"))
                .unwrap_or_else(|| "no worktree of the repository".into())
        )));
    }
    ready_worktrees_dir(ctx.workspace).map_err(|e| {
        LifecycleError::plan(format!(
            "agent '{id}': cannot prepare {}: {e}",
            ctx.workspace.worktrees_dir().display()
        ))
    })?;
    let repo = record.repo.clone();
    // A directory deleted by hand leaves its registration behind, which would refuse the add.
    git::prune_worktrees(&repo).map_err(|e| git_error(id, "prune_worktrees", e))?;
    let existed =
        git::branch_exists(&repo, &record.branch).map_err(|e| git_error(id, "branch", e))?;
    let from = start.unwrap_or(&record.base).to_string();
    git::add_worktree(
        &repo,
        &record.path,
        &record.branch,
        (!existed).then_some(from.as_str()),
    )
    .map_err(|e| git_error(id, "add_worktree", e))?;
    // A new directory has none of what setup installs.
    record.setup_done = false;
    ctx.events.emit(
        if existed {
            "worktree.recreated"
        } else {
            "worktree.created"
        },
        json!({"agent_id": id, "path": record.path, "branch": record.branch, "base": record.base,
               "start": (!existed).then_some(from)}),
    );
    Ok(Created {
        worktree: true,
        branch: !existed,
    })
}

/// `.team/worktrees/` with a `.gitignore` of `*`, so the workspace's own `git status` never
/// lists the worktrees in it.
fn ready_worktrees_dir(workspace: &Workspace) -> std::io::Result<()> {
    let dir = workspace.worktrees_dir();
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# Written by team-agent: the workers' worktrees are not part of the workspace.\n*\n",
        )?;
    }
    Ok(())
}

/// The worker's directory inside its worktree: where its working directory is in the
/// repository.
fn cwd_in(record: &WorktreeRecord, dir: &Path, id: &str) -> Result<PathBuf, LifecycleError> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let inside = canonical(dir)
        .strip_prefix(canonical(&record.repo))
        .map(Path::to_path_buf)
        .map_err(|_| {
            LifecycleError::plan(format!(
                "agent '{id}': its working directory {} is outside the repository {}",
                dir.display(),
                record.repo.display()
            ))
        })?;
    Ok(record.path.join(inside))
}

/// `.team/logs/worktree-setup-<agent>.log`.
pub fn setup_log(workspace: &Workspace, agent_id: &str) -> PathBuf {
    workspace
        .logs_dir()
        .join(format!("worktree-setup-{}.log", safe_name(agent_id)))
}

/// Runs the worker's `worktree_setup` commands in `cwd`, one after the other, their output
/// appended to its setup log; the first failure is the command and its exit code.
fn run_setup(ctx: &Context<'_>, agent: &Agent, cwd: &Path) -> Result<(), String> {
    if agent.worktree_setup.is_empty() {
        return Ok(());
    }
    let log_path = setup_log(ctx.workspace, &agent.id);
    let mut log = crate::workspace::open_private_append(&log_path)
        .map_err(|e| format!("cannot write the setup log {}: {e}", log_path.display()))?;
    for command in &agent.worktree_setup {
        (ctx.progress)(&format!("{}: worktree setup: {command}", agent.id));
        let _ = writeln!(
            log,
            "\n[{}] $ {command}   (in {})",
            now_rfc3339(),
            cwd.display()
        );
        let status = match (log.try_clone(), log.try_clone()) {
            (Ok(out), Ok(err)) => std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(cwd)
                .env("TEAM_AGENT_ID", &agent.id)
                .env("TEAM_AGENT_WORKSPACE", ctx.workspace.root())
                .env("TEAM_AGENT_TEAM", ctx.workspace.team().unwrap_or_default())
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .status(),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let code = status.as_ref().ok().and_then(|s| s.code());
        ctx.events.emit(
            "worktree.setup",
            json!({"agent_id": agent.id, "command": command, "exit_code": code, "log": log_path}),
        );
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                let _ = writeln!(log, "[{}] exit {s}", now_rfc3339());
                return Err(format!(
                    "worktree_setup `{command}` failed with exit code {} (its output is in {})",
                    code.map(|c| c.to_string()).unwrap_or_else(|| s.to_string()),
                    log_path.display()
                ));
            }
            Err(e) => return Err(format!("worktree_setup `{command}` could not run: {e}")),
        }
    }
    Ok(())
}

/// The record of a worker held back because its worktree's setup failed: stopped, keeping
/// what its previous record knew (its session, for a later resume).
pub(super) fn held(
    agent: &Agent,
    record: WorktreeRecord,
    previous: Option<&AgentState>,
) -> AgentState {
    let mut state = previous
        .cloned()
        .unwrap_or_else(|| AgentState::new(&agent.id, &agent.provider));
    state.status = AgentStatus::Stopped;
    state.activity = None;
    state.pane_id = None;
    state.window_id = None;
    state.blocked_reason = record.setup_error.clone();
    state.worktree = Some(record);
    state
}

/// Undoes what failed operations created: the worktrees they added, the branches they made.
pub(super) fn undo(made: &[(WorktreeRecord, Created)]) {
    for (record, created) in made {
        if created.worktree {
            let _ = git::remove_worktree(&record.repo, &record.path);
        }
        if created.branch {
            let _ = git::delete_branch(&record.repo, &record.branch);
        }
    }
}

/// What `status` shows of a worker's worktree.
#[derive(Debug, Clone, Serialize)]
pub struct WorktreeRow {
    pub path: PathBuf,
    pub branch: String,
    pub base: String,
    /// Commits on its branch its base does not have.
    pub ahead: Option<u64>,
    /// Uncommitted changes (untracked files included) in the worktree.
    pub dirty: Option<bool>,
    /// False when its directory is gone (deleted by hand): `start-agent` recreates it.
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn row(record: &WorktreeRecord) -> WorktreeRow {
    let exists = record.path.is_dir();
    let ahead = git::ahead(&record.repo, &record.base, &record.branch);
    let dirty = exists.then(|| git::uncommitted(&record.path).map(|c| !c.is_empty()));
    let error = ahead
        .as_ref()
        .err()
        .or(dirty.as_ref().and_then(|d| d.as_ref().err()))
        .map(|e| e.to_string());
    WorktreeRow {
        path: record.path.clone(),
        branch: record.branch.clone(),
        base: record.base.clone(),
        ahead: ahead.ok(),
        dirty: match dirty {
            Some(d) => d.ok(),
            None => Some(false),
        },
        exists,
        setup_error: record.setup_error.clone(),
        error,
    }
}

/// What a worktree holds that its base has not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub commits: u64,
    /// `git status --porcelain` lines.
    pub uncommitted: Vec<String>,
    /// Merging it would change the base.
    pub unmerged: bool,
}

/// Whether anything in the worktree, committed or not, is not in its base yet (a change the
/// base already has, merged by squash or made there too, counts as merged).
pub fn pending(record: &WorktreeRecord) -> Result<Pending, GitError> {
    let repo = &record.repo;
    let base = base_commit(record)?;
    let exists = record.path.is_dir();
    let tip = match exists {
        true => git::head(&record.path)?,
        false => git::commit_of(repo, &record.branch)?.unwrap_or_else(|| base.clone()),
    };
    let commits = git::ahead(repo, &base, &tip)?;
    let uncommitted = match exists {
        true => git::uncommitted(&record.path)?,
        false => Vec::new(),
    };
    if commits == 0 && uncommitted.is_empty() {
        return Ok(Pending {
            commits,
            uncommitted,
            unmerged: false,
        });
    }
    let tree = match uncommitted.is_empty() {
        true => git::tree_of(repo, &tip)?,
        false => git::snapshot_tree(&record.path)?,
    };
    let merge_base = git::merge_base(repo, &base, &tip)?;
    let unmerged = match git::merge_check(repo, &base, &tree, Some(&merge_base))? {
        MergeCheck::Clean { tree } => tree != git::tree_of(repo, &base)?,
        MergeCheck::Conflicts(_) => true,
    };
    Ok(Pending {
        commits,
        uncommitted,
        unmerged,
    })
}

/// The commit the worktree's base names now.
pub fn base_commit(record: &WorktreeRecord) -> Result<String, GitError> {
    git::commit_of(&record.repo, &record.base)?.ok_or_else(|| GitError::Failed {
        dir: record.repo.clone(),
        command: format!("rev-parse {}", record.base),
        stderr: format!("the base `{}` names no commit any more", record.base),
    })
}

/// Commits what is uncommitted in the worktree onto its branch (no hooks run: the commit is
/// the tree as it is); the new head, or `None` when there was nothing to commit.
/// Refused before anything is written when git does not know who commits in `record`'s
/// repository: `step` (merge, remove-agent) would commit the worker's changes.
pub fn refuse_without_identity(record: &WorktreeRecord, step: &str) -> Result<(), LifecycleError> {
    if git::identity_known(&record.repo).unwrap_or(true) {
        return Ok(());
    }
    Err(LifecycleError::refused(
        "git_identity_unknown",
        format!(
            "{step} commits the worker's changes, and git does not know who commits in {}; nothing was changed",
            record.repo.display()
        ),
        format!(
            "tell git who you are: `git -C {} config user.name \"Your Name\"` and `git -C {} config user.email you@example.com` (or `--global`), then run {step} again",
            record.repo.display(),
            record.repo.display()
        ),
    ))
}

pub fn commit_uncommitted(
    record: &WorktreeRecord,
    message: &str,
) -> Result<Option<String>, GitError> {
    let path = &record.path;
    if git::uncommitted(path)?.is_empty() {
        return Ok(None);
    }
    let head = git::head(path)?;
    let tree = git::snapshot_tree(path)?;
    let commit = git::commit_tree(path, &tree, &head, message)?;
    git::advance_branch(path, &record.branch, &commit, &head)?;
    Ok(Some(commit))
}

/// The commit a fork's branch starts from: the source worktree as it is, its uncommitted work
/// included (as a commit nothing points at but the fork's new branch).
pub(super) fn fork_start(
    source: &WorktreeRecord,
    source_id: &str,
    new_id: &str,
) -> Result<String, GitError> {
    if !source.path.is_dir() {
        return git::commit_of(&source.repo, &source.branch)?.ok_or_else(|| GitError::Failed {
            dir: source.repo.clone(),
            command: format!("rev-parse {}", source.branch),
            stderr: "the source's branch is gone".into(),
        });
    }
    let head = git::head(&source.path)?;
    let tree = git::snapshot_tree(&source.path)?;
    if tree == git::tree_of(&source.path, &head)? {
        return Ok(head);
    }
    git::commit_tree(
        &source.path,
        &tree,
        &head,
        &format!("team-agent: {source_id}'s uncommitted work, as {new_id} was forked from it"),
    )
}

/// `reset-agent --discard-changes`: the worktree back at its base, committed work and
/// uncommitted changes dropped; a commit of everything it held (its uncommitted changes too),
/// which nothing points at but which its id recovers for as long as git keeps it.
pub(super) fn discard(record: &WorktreeRecord, id: &str) -> Result<String, GitError> {
    let base = base_commit(record)?;
    if !record.path.is_dir() {
        let old = git::commit_of(&record.repo, &record.branch)?.unwrap_or_else(|| base.clone());
        git::prune_worktrees(&record.repo)?;
        git::set_branch(&record.repo, &record.branch, &base)?;
        return Ok(old);
    }
    let head = git::head(&record.path)?;
    let tree = git::snapshot_tree(&record.path)?;
    let old = match tree == git::tree_of(&record.path, &head)? {
        true => head,
        false => git::commit_tree(
            &record.path,
            &tree,
            &head,
            &format!("team-agent: {id}'s uncommitted work, as it was discarded"),
        )?,
    };
    git::discard_to(&record.path, &base)?;
    Ok(old)
}

/// Before `remove-agent` takes the worktree away: refused while anything in it is unmerged
/// (unless `force`); with uncommitted changes, they are committed to the branch first, so the
/// branch keeps everything. What the removal's message says of the worktree.
pub(super) fn ready_for_removal(
    record: &WorktreeRecord,
    id: &str,
    force: bool,
) -> Result<String, LifecycleError> {
    let pending = pending(record).map_err(|e| {
        LifecycleError::plan(format!(
            "step check_worktree failed (nothing was removed): {e}"
        ))
    })?;
    if pending.unmerged && !force {
        return Err(LifecycleError::Refused {
            reason: "unmerged_work",
            message: format!(
                "{id}'s worktree {} holds work not merged into {} ({} commit(s) ahead, {} uncommitted change(s)); removing it is refused",
                record.path.display(),
                record.base,
                pending.commits,
                pending.uncommitted.len()
            ),
            action: format!(
                "review it with `team-agent diff {id}`, merge it with `team-agent merge {id}`, or remove it anyway with `team-agent remove-agent {id} --force` (its branch {} is kept, its uncommitted changes committed to it)",
                record.branch
            ),
            details: json!({"worktree": {"path": record.path, "branch": record.branch, "base": record.base,
                                         "ahead": pending.commits, "uncommitted": pending.uncommitted}}),
        });
    }
    if !pending.uncommitted.is_empty() && record.path.is_dir() {
        refuse_without_identity(record, "remove-agent --force")?;
    }
    let committed = match pending.uncommitted.is_empty() || !record.path.is_dir() {
        true => None,
        false => commit_uncommitted(
            record,
            &format!("team-agent: {id}'s uncommitted work, kept as its worktree was removed"),
        )
        .map_err(|e| {
            LifecycleError::plan(format!(
                "step commit_uncommitted failed (nothing was removed): {e}"
            ))
        })?,
    };
    Ok(match committed {
        Some(commit) => format!(
            "; its worktree is removed and its branch {} is kept, with its uncommitted changes committed as {}",
            record.branch,
            &commit[..12.min(commit.len())]
        ),
        None => format!(
            "; its worktree is removed and its branch {} is kept",
            record.branch
        ),
    })
}

/// Removes the worktree's directory; its branch stays.
pub(super) fn remove(record: &WorktreeRecord) -> Result<(), GitError> {
    git::remove_worktree(&record.repo, &record.path)
}
