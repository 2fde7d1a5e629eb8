/*! The only code that runs git: always as a subprocess (`git -C DIR …`), never through a shell,
with git's own repository variables (`GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`) removed so a
caller's environment never points it elsewhere.

What it answers: the repository a directory is in, its branches and commits; linked worktrees
(add, remove, prune); a worktree's state (head, uncommitted changes, commits ahead of a base);
the tree of everything a worktree holds, committed or not, taken without touching its index
([`snapshot_tree`]); whether a merge would conflict, asked with `git merge-tree --write-tree`
(git ≥ 2.38) so nothing is written before the answer is known; diffs; and the merge itself.
*/

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not on PATH: install it (apt-get install -y git)")]
    Missing,
    #[error("`git {command}` in {dir} failed: {stderr}")]
    Failed {
        dir: PathBuf,
        command: String,
        stderr: String,
    },
    #[error("cannot run git: {0}")]
    Io(std::io::Error),
}

/// What a git run printed and how it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Variables that would make `git -C DIR` look at another repository or index.
const REPOSITORY_ENV: [&str; 5] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
];

fn run_with(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Result<Ran, GitError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    for name in REPOSITORY_ENV {
        cmd.env_remove(name);
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => GitError::Missing,
        _ => GitError::Io(e),
    })?;
    Ok(Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

fn failed(dir: &Path, args: &[&str], ran: &Ran) -> GitError {
    let stderr = match ran.stderr.as_str() {
        "" => format!("exit code {:?}", ran.code),
        text => text.lines().take(6).collect::<Vec<_>>().join(" / "),
    };
    GitError::Failed {
        dir: dir.to_path_buf(),
        command: args.join(" "),
        stderr,
    }
}

/// Runs git and wants success; its stdout, trimmed.
fn run(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let ran = run_with(dir, args, &[])?;
    if ran.code != Some(0) {
        return Err(failed(dir, args, &ran));
    }
    Ok(ran.stdout.trim().to_string())
}

/// Runs git and wants success; its stdout lines as they are (a status line may begin with a
/// space that says something).
fn run_lines(dir: &Path, args: &[&str]) -> Result<Vec<String>, GitError> {
    let ran = run_with(dir, args, &[])?;
    if ran.code != Some(0) {
        return Err(failed(dir, args, &ran));
    }
    Ok(ran
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Runs a git question whose exit code 1 means "no" (and anything else but 0 is a failure).
fn ask(dir: &Path, args: &[&str]) -> Result<Option<String>, GitError> {
    let ran = run_with(dir, args, &[])?;
    match ran.code {
        Some(0) => Ok(Some(ran.stdout.trim().to_string())),
        Some(1) => Ok(None),
        _ => Err(failed(dir, args, &ran)),
    }
}

/// Whether git knows who commits in `dir` (`user.name` and `user.email`, or their environment
/// variables): without it, every commit fails.
pub fn identity_known(dir: &Path) -> Result<bool, GitError> {
    let ran = run_with(dir, &["var", "GIT_COMMITTER_IDENT"], &[])?;
    Ok(ran.code == Some(0))
}

/// The top directory of the worktree `dir` is in; `None` when it is in no git repository.
pub fn toplevel(dir: &Path) -> Result<Option<PathBuf>, GitError> {
    let ran = run_with(dir, &["rev-parse", "--show-toplevel"], &[])?;
    Ok((ran.code == Some(0) && !ran.stdout.trim().is_empty())
        .then(|| PathBuf::from(ran.stdout.trim())))
}

/// The branch checked out in `dir`; `None` on a detached HEAD.
pub fn current_branch(dir: &Path) -> Result<Option<String>, GitError> {
    ask(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"])
}

/// The commit a branch name or revision names, if it names one.
pub fn commit_of(dir: &Path, rev: &str) -> Result<Option<String>, GitError> {
    let spec = format!("{rev}^{{commit}}");
    ask(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )
}

/// Whether `name` is a local branch.
pub fn branch_exists(dir: &Path, name: &str) -> Result<bool, GitError> {
    let reference = format!("refs/heads/{name}");
    Ok(ask(dir, &["rev-parse", "--verify", "--quiet", &reference])?.is_some())
}

/// The local branches, for messages.
pub fn branches(dir: &Path) -> Result<Vec<String>, GitError> {
    let out = run(
        dir,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    )?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Whether git takes `name` as a branch name.
pub fn valid_branch_name(dir: &Path, name: &str) -> Result<bool, GitError> {
    Ok(ask(dir, &["check-ref-format", "--branch", name])?.is_some())
}

/// The commit checked out in `dir`.
pub fn head(dir: &Path) -> Result<String, GitError> {
    run(dir, &["rev-parse", "HEAD"])
}

/// Adds the linked worktree `path` of `repo`: on a new branch from `start`, or (no start) on
/// the existing `branch`.
pub fn add_worktree(
    repo: &Path,
    path: &Path,
    branch: &str,
    start: Option<&str>,
) -> Result<(), GitError> {
    let path = path.to_string_lossy();
    let args: Vec<&str> = match start {
        Some(start) => vec!["worktree", "add", "--quiet", "-b", branch, &path, start],
        None => vec!["worktree", "add", "--quiet", &path, branch],
    };
    run(repo, &args).map(drop)
}

/// Forgets the registrations of worktrees whose directories are gone.
pub fn prune_worktrees(repo: &Path) -> Result<(), GitError> {
    run(repo, &["worktree", "prune"]).map(drop)
}

/// Removes a linked worktree's directory and registration (the caller made sure nothing in it
/// is lost). A directory already gone is only pruned.
pub fn remove_worktree(repo: &Path, path: &Path) -> Result<(), GitError> {
    if !path.exists() {
        return prune_worktrees(repo);
    }
    let path = path.to_string_lossy();
    run(repo, &["worktree", "remove", "--force", &path]).map(drop)
}

/// Points `branch` at `commit` (a branch no worktree has checked out).
pub fn set_branch(repo: &Path, branch: &str, commit: &str) -> Result<(), GitError> {
    run(repo, &["branch", "--quiet", "--force", branch, commit]).map(drop)
}

/// Deletes a branch (only one this program just created and nothing was done on).
pub fn delete_branch(repo: &Path, branch: &str) -> Result<(), GitError> {
    run(repo, &["branch", "--quiet", "-D", branch]).map(drop)
}

/// The paths with uncommitted changes in `dir`, untracked ones included (git's ignore rules
/// apply), as `git status --porcelain` lists them.
pub fn uncommitted(dir: &Path) -> Result<Vec<String>, GitError> {
    run_lines(dir, &["status", "--porcelain"])
}

/// The tracked paths with uncommitted changes (staged or not) in `dir`.
pub fn changed_tracked(dir: &Path) -> Result<Vec<String>, GitError> {
    run_lines(dir, &["status", "--porcelain", "--untracked-files=no"])
}

/// The untracked files in `dir` that are not ignored.
pub fn untracked(dir: &Path) -> Result<BTreeSet<String>, GitError> {
    let out = run(dir, &["ls-files", "--others", "--exclude-standard"])?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Whether a merge is under way in `dir` (`MERGE_HEAD` exists).
pub fn merging(dir: &Path) -> Result<bool, GitError> {
    Ok(ask(dir, &["rev-parse", "--verify", "--quiet", "MERGE_HEAD"])?.is_some())
}

/// How many commits `tip` has that `base` has not.
pub fn ahead(dir: &Path, base: &str, tip: &str) -> Result<u64, GitError> {
    let range = format!("{base}..{tip}");
    let out = run(dir, &["rev-list", "--count", &range])?;
    Ok(out.parse().unwrap_or(0))
}

/// The tree of a commit.
pub fn tree_of(dir: &Path, rev: &str) -> Result<String, GitError> {
    run(dir, &["rev-parse", "--verify", &format!("{rev}^{{tree}}")])
}

/// The merge base of two commits.
pub fn merge_base(dir: &Path, a: &str, b: &str) -> Result<String, GitError> {
    run(dir, &["merge-base", a, b])
}

/// The tree of everything the worktree `dir` holds: its HEAD with every uncommitted change and
/// every untracked file that is not ignored, as `git add -A` would stage them. Taken through a
/// private copy of the index, so the worktree's own index and files are untouched.
pub fn snapshot_tree(dir: &Path) -> Result<String, GitError> {
    let index = PathBuf::from(run(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "index"],
    )?);
    let private = index.with_file_name(format!("team-agent-snapshot-{}.index", std::process::id()));
    if index.is_file() {
        std::fs::copy(&index, &private).map_err(GitError::Io)?;
    }
    let env = [("GIT_INDEX_FILE", private.as_os_str())];
    let taken = run_with(dir, &["add", "--all", "--", "."], &env).and_then(|ran| {
        if ran.code != Some(0) {
            return Err(failed(dir, &["add", "--all"], &ran));
        }
        let ran = run_with(dir, &["write-tree"], &env)?;
        match ran.code {
            Some(0) => Ok(ran.stdout.trim().to_string()),
            _ => Err(failed(dir, &["write-tree"], &ran)),
        }
    });
    let _ = std::fs::remove_file(&private);
    taken
}

/// A commit of `tree` on top of `parent` (nothing points at it yet).
pub fn commit_tree(
    dir: &Path,
    tree: &str,
    parent: &str,
    message: &str,
) -> Result<String, GitError> {
    run(dir, &["commit-tree", tree, "-p", parent, "-m", message])
}

/// Moves `branch` from `old` to `new` (refused by git when it no longer points at `old`), and
/// makes the worktree `dir`'s index match it; the worktree's files are untouched.
pub fn advance_branch(dir: &Path, branch: &str, new: &str, old: &str) -> Result<(), GitError> {
    let reference = format!("refs/heads/{branch}");
    run(
        dir,
        &[
            "update-ref",
            "-m",
            "team-agent: commit a worker's changes",
            &reference,
            new,
            old,
        ],
    )?;
    run(dir, &["reset", "--quiet"]).map(drop)
}

/// What merging `theirs` into `ours` would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeCheck {
    /// It merges cleanly into this tree.
    Clean { tree: String },
    /// These files would conflict.
    Conflicts(Vec<String>),
}

/// Whether `theirs` (a commit or, with `merge_base` given, a tree) merges cleanly into `ours`,
/// without writing anything but objects: `git merge-tree --write-tree`.
pub fn merge_check(
    dir: &Path,
    ours: &str,
    theirs: &str,
    merge_base: Option<&str>,
) -> Result<MergeCheck, GitError> {
    let base_arg = merge_base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--name-only", "--no-messages"];
    if let Some(b) = &base_arg {
        args.push(b);
    }
    args.extend([ours, theirs]);
    let ran = run_with(dir, &args, &[])?;
    let mut lines = ran.stdout.lines().filter(|l| !l.is_empty());
    let tree = lines.next().filter(|t| is_object_id(t)).map(str::to_string);
    match (ran.code, tree) {
        (Some(0), Some(tree)) => Ok(MergeCheck::Clean { tree }),
        (Some(1), Some(_)) => {
            let files: BTreeSet<String> = lines.map(str::to_string).collect();
            Ok(MergeCheck::Conflicts(files.into_iter().collect()))
        }
        _ => Err(failed(dir, &args, &ran)),
    }
}

fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The diff from `from` to `to` (commits or trees): the patch, or with `stat` its summary.
pub fn diff(dir: &Path, from: &str, to: &str, stat: bool) -> Result<String, GitError> {
    let mut args = vec!["diff", "--no-color", "--no-ext-diff"];
    if stat {
        args.push("--stat");
    }
    args.extend([from, to, "--"]);
    let ran = run_with(dir, &args, &[])?;
    match ran.code {
        Some(0) => Ok(ran.stdout),
        _ => Err(failed(dir, &args, &ran)),
    }
}

/// The paths that differ between two commits or trees.
pub fn changed_paths(dir: &Path, from: &str, to: &str) -> Result<BTreeSet<String>, GitError> {
    let out = run(
        dir,
        &["diff", "--name-only", "--no-renames", from, to, "--"],
    )?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Merges `branch` into what `dir` has checked out: a merge commit with `message`, or with
/// `squash` one ordinary commit of its changes. A merge git gives up on is undone (`git reset
/// --merge`: the worktree was clean before, so nothing of anyone's is touched). The new head.
pub fn merge(dir: &Path, branch: &str, message: &str, squash: bool) -> Result<String, GitError> {
    let merged = if squash {
        run(dir, &["merge", "--quiet", "--squash", branch])
            .and_then(|_| run(dir, &["commit", "--quiet", "--no-verify", "-m", message]))
    } else {
        run(
            dir,
            &[
                "merge",
                "--quiet",
                "--no-ff",
                "--no-edit",
                "-m",
                message,
                branch,
            ],
        )
    };
    if let Err(e) = merged {
        let _ = run(dir, &["reset", "--quiet", "--merge"]);
        return Err(e);
    }
    head(dir)
}

/// Puts the worktree `dir` back at `commit`: its branch, index and files; untracked files that
/// are not ignored are removed too (ignored ones, such as installed dependencies, stay).
pub fn discard_to(dir: &Path, commit: &str) -> Result<(), GitError> {
    run(dir, &["reset", "--quiet", "--hard", commit])?;
    run(dir, &["clean", "--quiet", "--force", "-d"]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        run(path, &["init", "--quiet", "-b", "main"]).unwrap();
        run(path, &["config", "user.email", "t@example.com"]).unwrap();
        run(path, &["config", "user.name", "t"]).unwrap();
        std::fs::write(path.join("a.txt"), "one\nshared\n").unwrap();
        run(path, &["add", "a.txt"]).unwrap();
        run(path, &["commit", "--quiet", "-m", "base"]).unwrap();
        dir
    }

    #[test]
    fn a_snapshot_holds_uncommitted_and_untracked_files_and_touches_nothing() {
        let dir = repo();
        let path = dir.path();
        let before = tree_of(path, "HEAD").unwrap();
        assert_eq!(snapshot_tree(path).unwrap(), before);
        std::fs::write(path.join("a.txt"), "one\nchanged\n").unwrap();
        std::fs::write(path.join("new.txt"), "new\n").unwrap();
        let tree = snapshot_tree(path).unwrap();
        assert_ne!(tree, before);
        let files = changed_paths(path, "HEAD", &tree).unwrap();
        assert_eq!(files.into_iter().collect::<Vec<_>>(), ["a.txt", "new.txt"]);
        // The worktree's own index still stages nothing.
        assert_eq!(uncommitted(path).unwrap(), [" M a.txt", "?? new.txt"]);
    }

    #[test]
    fn a_conflicting_tree_is_named_and_a_clean_one_gives_its_merge() {
        let dir = repo();
        let path = dir.path();
        let base = head(path).unwrap();
        std::fs::write(path.join("a.txt"), "one\nmine\n").unwrap();
        let mine = snapshot_tree(path).unwrap();
        run(path, &["commit", "--quiet", "-am", "theirs"]).unwrap();
        std::fs::write(path.join("a.txt"), "one\nyours\n").unwrap();
        let yours = snapshot_tree(path).unwrap();
        let check = merge_check(path, "HEAD", &yours, Some(&head(path).unwrap())).unwrap();
        assert!(matches!(check, MergeCheck::Clean { .. }), "{check:?}");
        let check = merge_check(path, "HEAD", &yours, Some(&base)).unwrap();
        assert_eq!(check, MergeCheck::Conflicts(vec!["a.txt".into()]));
        assert!(matches!(
            merge_check(path, "HEAD", &mine, Some(&base)).unwrap(),
            MergeCheck::Clean { .. }
        ));
    }

    #[test]
    fn a_directory_outside_any_repository_has_no_toplevel() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(toplevel(dir.path()).unwrap(), None);
        let repo = repo();
        assert!(toplevel(repo.path()).unwrap().is_some());
        assert_eq!(
            current_branch(repo.path()).unwrap().as_deref(),
            Some("main")
        );
        assert!(commit_of(repo.path(), "main").unwrap().is_some());
        assert_eq!(commit_of(repo.path(), "no-such-branch").unwrap(), None);
    }
}
