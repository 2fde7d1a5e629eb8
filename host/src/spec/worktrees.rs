//! The checks of `isolation: worktree`: the workspace is in a git repository with a commit to
//! branch from, the base names a branch or commit of it, the worker's directory is inside it,
//! and its branch name is one git takes. Git is asked only when some worker wants a worktree.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::semantic::{Finding, error};
use crate::git;

/// The workspace's repository as git sees it, asked once.
enum Repository {
    Found(PathBuf),
    /// Not inside a git repository.
    Absent,
    GitFailed(String),
}

fn repository(workspace: &Path) -> Repository {
    match git::toplevel(workspace) {
        Ok(Some(top)) => Repository::Found(top),
        Ok(None) => Repository::Absent,
        Err(e) => Repository::GitFailed(e.to_string()),
    }
}

pub(super) fn check(spec: &Value, workspace: &Path, found: &mut Vec<Finding>) {
    let agents = spec["agents"].as_array().cloned().unwrap_or_default();
    let wanted: Vec<(usize, &Value)> = agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a["isolation"] == "worktree")
        .collect();
    if wanted.is_empty() {
        return;
    }
    let team = spec["team"]["name"].as_str().unwrap_or("team");
    let repo = repository(workspace);
    for (i, agent) in wanted {
        let id = agent["id"].as_str().unwrap_or("?");
        let top = match &repo {
            Repository::Found(top) => top,
            Repository::Absent => {
                found.push(error(
                    format!("/agents/{i}/isolation"),
                    format!(
                        "{id}: `isolation: worktree` needs the workspace to be a git repository, and {} is not in one: run `git init` there and commit once, or set `isolation: none`",
                        workspace.display()
                    ),
                ));
                continue;
            }
            Repository::GitFailed(e) => {
                found.push(error(
                    format!("/agents/{i}/isolation"),
                    format!("{id}: `isolation: worktree`: {e}"),
                ));
                continue;
            }
        };
        check_base(i, id, agent, top, found);
        check_directory(i, id, agent, workspace, top, found);
        let branch = super::model::worktree_branch(team, id);
        if !git::valid_branch_name(top, &branch).unwrap_or(true) {
            found.push(error(
                format!("/agents/{i}/id"),
                format!("{id}: its worktree branch would be `{branch}`, which git does not take as a branch name: rename the agent or the team"),
            ));
        }
    }
}

/// The base names a commit: `worktree_base` when given, else the current branch, which must
/// have one.
fn check_base(i: usize, id: &str, agent: &Value, top: &Path, found: &mut Vec<Finding>) {
    match agent["worktree_base"].as_str() {
        Some(base) => {
            if git::commit_of(top, base).ok().flatten().is_none() {
                let branches = git::branches(top).unwrap_or_default();
                found.push(error(
                    format!("/agents/{i}/worktree_base"),
                    format!(
                        "{id}: no branch or commit `{base}` in the repository {} (branches: {}): name one that exists, or leave worktree_base out to start from the current branch",
                        top.display(),
                        if branches.is_empty() { "none".into() } else { branches.join(", ") }
                    ),
                ));
            }
        }
        None => {
            if git::commit_of(top, "HEAD").ok().flatten().is_none() {
                found.push(error(
                    format!("/agents/{i}/isolation"),
                    format!(
                        "{id}: the repository {} has no commit yet, and a worktree branches from one: commit once (`git commit --allow-empty -m init`), or set worktree_base",
                        top.display()
                    ),
                ));
            }
        }
    }
}

/// The worker's directory is inside the repository (its worktree holds only what the
/// repository holds).
fn check_directory(
    i: usize,
    id: &str,
    agent: &Value,
    workspace: &Path,
    top: &Path,
    found: &mut Vec<Finding>,
) {
    let dir = workspace.join(agent["working_directory"].as_str().unwrap_or("."));
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    if !dir.starts_with(&top) {
        found.push(error(
            format!("/agents/{i}/working_directory"),
            format!(
                "{id}: with `isolation: worktree` the working directory must be inside the repository {}, and {} is not",
                top.display(),
                dir.display()
            ),
        ));
    }
}
