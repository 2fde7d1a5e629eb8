//! `team-agent install-skill`: the leader's instructions as a skill where each CLI reads skills
//! (`~/.claude/skills/team-agent/SKILL.md`, `~/.codex/skills/team-agent/SKILL.md`). Writing the
//! same text again changes nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Which CLIs get the skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SkillTarget {
    Claude,
    Codex,
    All,
}

/// One file `install-skill` wrote, would write, or left as it was.
#[derive(Debug, Clone, Serialize)]
pub struct SkillFile {
    pub target: &'static str,
    pub path: PathBuf,
    /// `created`, `updated`, `unchanged`, or with `--dry-run` `would_create` / `would_update`.
    pub action: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkillReport {
    pub ok: bool,
    pub dry_run: bool,
    pub files: Vec<SkillFile>,
    /// The text written (the same for every target).
    pub content: String,
}

/// The skill file: front matter the CLIs index skills by, then the instructions.
pub fn skill_text() -> String {
    format!(
        "---\nname: team-agent\ndescription: Lead a team of AI coding agents (Codex, Claude Code) with the team-agent CLI - build a team, start it, give tasks, collect results, stop and resume it.\n---\n\n# Leading a team with team-agent\n\n{}\n",
        super::instructions(None).replace('\n', "\n\n")
    )
}

/// Where each CLI reads skills under `home`, honouring `CLAUDE_CONFIG_DIR` and `CODEX_HOME`.
fn destinations(target: SkillTarget, home: &Path) -> Vec<(&'static str, PathBuf)> {
    let claude = std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".claude"));
    let codex = std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".codex"));
    let all = [("claude", claude), ("codex", codex)];
    all.into_iter()
        .filter(|(name, _)| match target {
            SkillTarget::All => true,
            SkillTarget::Claude => *name == "claude",
            SkillTarget::Codex => *name == "codex",
        })
        .map(|(name, dir)| (name, dir.join("skills").join("team-agent").join("SKILL.md")))
        .collect()
}

/// Writes (or with `dry_run` only reports) the skill for `target` under `home`.
pub fn install_skill(
    target: SkillTarget,
    home: &Path,
    dry_run: bool,
) -> std::io::Result<SkillReport> {
    let content = skill_text();
    let mut files = Vec::new();
    for (name, path) in destinations(target, home) {
        let existing = std::fs::read_to_string(&path).ok();
        let action = match (&existing, dry_run) {
            (Some(text), _) if *text == content => "unchanged",
            (Some(_), true) => "would_update",
            (None, true) => "would_create",
            (Some(_), false) => "updated",
            (None, false) => "created",
        };
        if !dry_run && existing.as_deref() != Some(content.as_str()) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            crate::state::write_atomically(&path, content.as_bytes(), 0o644).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
            })?;
        }
        files.push(SkillFile {
            target: name,
            path,
            action,
        });
    }
    Ok(SkillReport {
        ok: true,
        dry_run,
        files,
        content,
    })
}
