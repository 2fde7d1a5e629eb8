/*! Team definitions: a team directory (`TEAM.md` + `agents/<name>.md`) or a full spec file
(`team.spec.yaml`, YAML or JSON), validated completely before anything is launched.

Loading is two stages with clear names (STYLE.md): a document is parsed and checked against
`schemas/team.schema.json` (structure), then the semantic checks run (unique ids, installed
providers, assignees, dependencies and cycles, prompt and profile files, and for workers with
`isolation: worktree` a git repository and a base that exist). Every problem of every file is
reported at once, each with its file, JSON pointer and line.
*/

mod diagnostic;
mod locate;
mod model;
mod parse;
pub mod schema;
mod semantic;
pub mod starter;
mod team_dir;
mod worktrees;

pub use diagnostic::{Diagnostic, Severity};
pub use model::*;
pub use parse::{MAX_FILE_BYTES, read_text};
pub use semantic::Catalog;
pub use team_dir::is_team_dir;

use std::path::{Path, PathBuf};

use serde_json::Value;

use schema::Shape;

/// A file the spec was read from, kept to locate errors by line.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The YAML text (the front matter of a Markdown file).
    pub text: String,
    /// The line of `text`'s first line in the file.
    pub first_line: usize,
}

impl SourceFile {
    fn line_of(&self, pointer: &str) -> Option<usize> {
        locate::line_of(&self.text, pointer).map(|l| l + self.first_line - 1)
    }
}

/// Where a team was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    TeamDir(PathBuf),
    SpecFile(PathBuf),
}

impl Origin {
    pub fn path(&self) -> &Path {
        match self {
            Self::TeamDir(p) | Self::SpecFile(p) => p,
        }
    }
}

/// A valid team definition, ready to run.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: TeamSpec,
    pub origin: Origin,
    /// The directory relative paths of the spec are resolved from.
    pub spec_dir: PathBuf,
    /// The team's workspace as the spec names it, made absolute.
    pub workspace: PathBuf,
    pub warnings: Vec<Diagnostic>,
}

impl LoadedSpec {
    /// An agent's working directory, made absolute.
    pub fn working_directory(&self, agent: &Agent) -> PathBuf {
        let dir = self.workspace.join(&agent.working_directory);
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// An agent's system prompt text: inline, or the prompt file's contents.
    pub fn role_prompt(&self, agent: &Agent) -> String {
        if let Some(text) = &agent.system_prompt.inline {
            return text.clone();
        }
        agent
            .system_prompt
            .file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(self.spec_dir.join(f)).ok())
            .unwrap_or_default()
    }
}

/// Loads and validates a team directory or spec file. `workspace` is where a team directory's
/// team works; a spec file names its own (`team.workspace`).
pub fn load(
    path: &Path,
    workspace: &Path,
    catalog: &Catalog,
) -> Result<LoadedSpec, Vec<Diagnostic>> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if !path.exists() {
        return Err(vec![Diagnostic::error(
            &path,
            "",
            "no such file or directory: give a team directory (TEAM.md + agents/*.md) or a team.spec.yaml",
        )]);
    }
    if path.is_dir() {
        if !is_team_dir(&path) {
            return Err(vec![Diagnostic::error(
                &path,
                "",
                "not a team directory: it needs agents/*.md (and usually TEAM.md); `team-agent init DIR` writes a starter",
            )]);
        }
        load_team_dir(&path, workspace, catalog)
    } else {
        load_spec_file(&path, catalog)
    }
}

fn finish(
    spec: Value,
    origin: Origin,
    spec_dir: PathBuf,
    workspace: PathBuf,
    mut diagnostics: Vec<Diagnostic>,
    locate_origin: &dyn Fn(&str, &str, bool) -> Diagnostic,
) -> Result<LoadedSpec, Vec<Diagnostic>> {
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let typed = serde_json::from_value::<TeamSpec>(spec).map_err(|e| {
        vec![locate_origin(
            "",
            &format!("cannot read the spec: {e}"),
            false,
        )]
    })?;
    let warnings = std::mem::take(&mut diagnostics);
    Ok(LoadedSpec {
        spec: typed,
        origin,
        spec_dir,
        workspace,
        warnings,
    })
}

fn load_spec_file(path: &Path, catalog: &Catalog) -> Result<LoadedSpec, Vec<Diagnostic>> {
    let text = parse::read_text(path).map_err(|e| vec![e])?;
    let source = SourceFile {
        path: path.to_path_buf(),
        text,
        first_line: 1,
    };
    let value = parse::parse_document(&source.text, path, 1).map_err(|e| vec![e])?;
    let locate = |pointer: &str, message: &str, warning: bool| {
        let d = if warning {
            Diagnostic::warning(path, pointer, message)
        } else {
            Diagnostic::error(path, pointer, message)
        };
        d.at(source.line_of(pointer), None)
    };
    let mut diagnostics: Vec<Diagnostic> = schema::validate(Shape::TeamSpec, &value, path)
        .into_iter()
        .map(|d| locate(&d.path, &d.message, false))
        .collect();
    let spec_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let workspace = value["team"]["workspace"]
        .as_str()
        .map(|w| spec_dir.join(w))
        .map(|w| std::fs::canonicalize(&w).unwrap_or(w))
        .unwrap_or_else(|| spec_dir.clone());
    if value.is_object() {
        for finding in semantic::check(&value, catalog, &spec_dir, &workspace) {
            diagnostics.push(locate(&finding.pointer, &finding.message, finding.warning));
        }
    }
    finish(
        value,
        Origin::SpecFile(path.to_path_buf()),
        spec_dir,
        workspace,
        diagnostics,
        &locate,
    )
}

fn load_team_dir(
    dir: &Path,
    workspace: &Path,
    catalog: &Catalog,
) -> Result<LoadedSpec, Vec<Diagnostic>> {
    let compiled = team_dir::compile(dir, workspace)?;
    let team_file = dir.join(team_dir::TEAM_FILE);
    let locate = |pointer: &str, message: &str, warning: bool| {
        let (file, field, line) = match compiled.origin(pointer) {
            Some((source, field)) => (source.path.clone(), field.clone(), source.line_of(&field)),
            None => (team_file.clone(), pointer.to_string(), None),
        };
        let d = if warning {
            Diagnostic::warning(&file, field, message)
        } else {
            Diagnostic::error(&file, field, message)
        };
        d.at(line, None)
    };
    // With problems in the files, the compiled spec is incomplete: report those, plus what the
    // semantic checks can still see (duplicate ids, unknown providers, …).
    let mut diagnostics = compiled.file_errors.clone();
    if diagnostics.is_empty() {
        diagnostics.extend(
            schema::validate(Shape::TeamSpec, &compiled.spec, &team_file)
                .into_iter()
                .map(|d| locate(&d.path, &d.message, false)),
        );
    }
    for finding in semantic::check(&compiled.spec, catalog, dir, workspace) {
        diagnostics.push(locate(&finding.pointer, &finding.message, finding.warning));
    }
    finish(
        compiled.spec.clone(),
        Origin::TeamDir(dir.to_path_buf()),
        dir.to_path_buf(),
        workspace.to_path_buf(),
        diagnostics,
        &locate,
    )
}

/// Writes `loaded` as a standalone spec file at `out`: prompts inlined, the workspace relative to
/// the output file when it can be, atomically (never a half-written file).
pub fn write_standalone(loaded: &LoadedSpec, out: &Path) -> std::io::Result<()> {
    let mut spec = loaded.spec.clone();
    let out = std::path::absolute(out)?;
    let out_dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&out_dir)?;
    spec.team.workspace = relative_to(&loaded.workspace, &out_dir)
        .to_string_lossy()
        .into_owned();
    for agent in &mut spec.agents {
        if agent.system_prompt.inline.is_none() && agent.system_prompt.file.is_some() {
            agent.system_prompt.inline = Some(loaded.role_prompt(agent));
            agent.system_prompt.file = None;
        }
    }
    let yaml = serde_norway::to_string(&spec).map_err(std::io::Error::other)?;
    let header = format!(
        "# Compiled by team-agent from {}. Validate with `team-agent validate {}`.\n",
        loaded.origin.path().display(),
        out.display()
    );
    crate::state::write_atomically(&out, format!("{header}{yaml}").as_bytes(), 0o644)
}

/// `path` relative to `base` when `path` is inside or beside it, else absolute.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix(base) {
        return if rest.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rest.to_path_buf()
        };
    }
    if let Some(parent) = base.parent()
        && let Ok(rest) = path.strip_prefix(parent)
    {
        return Path::new("..").join(rest);
    }
    path.to_path_buf()
}

/// Parses a result envelope (JSON, or YAML for people writing one by hand).
pub fn parse_result(text: &str, file: &Path) -> Result<Value, Diagnostic> {
    parse::parse_document(text, file, 1)
}

/// Every problem of a result envelope against `schemas/result-envelope.schema.json`; `text` is
/// the source it was parsed from, to give line numbers.
pub fn check_result(value: &Value, file: &Path, text: Option<&str>) -> Vec<Diagnostic> {
    schema::validate(Shape::ResultEnvelope, value, file)
        .into_iter()
        .map(|mut d| {
            if d.path == "/schema" {
                d.message = "unknown field \"schema\": the field is called schema_version".into();
            }
            d.line = text.and_then(|t| locate::line_of(t, &d.path));
            d
        })
        .collect()
}

/// The `name:` a role file's front matter gives, if it has one.
pub fn role_name(path: &Path) -> Option<String> {
    let text = parse::read_text(path).ok()?;
    let front = parse::split_front_matter(&text)?;
    let value = parse::parse_document(front.yaml, path, front.yaml_line).ok()?;
    value.get("name")?.as_str().map(str::to_string)
}
