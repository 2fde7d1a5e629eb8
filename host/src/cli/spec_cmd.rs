//! `team-agent validate | compile | init | validate-result`: team definitions and result
//! envelopes.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::{Reply, UserError};
use crate::plugins::Registry;
use crate::spec::{self, Diagnostic, LoadedSpec};
use crate::workspace::Workspace;

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

/// Loads a team definition, or fails with every diagnostic (the reply `validate` would give).
pub fn load_or_reply(
    path: &Path,
    workspace: &Workspace,
    registry: &Registry,
) -> Result<LoadedSpec, Reply> {
    spec::load(path, workspace.root(), &registry.catalog()).map_err(|diagnostics| {
        let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
            diagnostics.iter().partition(|d| d.is_error());
        let text = format!(
            "{}{} error{} in {}\n",
            render(&diagnostics),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            path.display()
        );
        Reply::new(
            false,
            json!({ "ok": false, "errors": errors, "warnings": warnings }),
            text,
        )
    })
}

fn summary(loaded: &LoadedSpec) -> Value {
    json!({
        "ok": true,
        "team": loaded.spec.team.name,
        "definition": loaded.origin.path().to_string_lossy(),
        "workspace": loaded.workspace.to_string_lossy(),
        "session_name": loaded.spec.runtime.session_name,
        "agents": loaded.spec.agents.iter().map(|a| json!({"id": a.id, "provider": a.provider, "role": a.role})).collect::<Vec<_>>(),
        "errors": [],
        "warnings": loaded.warnings,
    })
}

pub fn validate(path: &Path, workspace: &Workspace) -> anyhow::Result<Reply> {
    let registry = Registry::load(Some(workspace.root()));
    Ok(match load_or_reply(path, workspace, &registry) {
        Err(reply) => reply,
        Ok(loaded) => {
            let agents: Vec<String> = loaded
                .spec
                .agents
                .iter()
                .map(|a| format!("{} ({})", a.id, a.provider))
                .collect();
            let text = format!(
                "{}ok: team '{}' with {} agent{}: {}\n",
                render(&loaded.warnings),
                loaded.spec.team.name,
                agents.len(),
                if agents.len() == 1 { "" } else { "s" },
                agents.join(", ")
            );
            Reply::ok(summary(&loaded), text)
        }
    })
}

pub fn compile(dir: &Path, out: Option<&Path>, workspace: &Workspace) -> anyhow::Result<Reply> {
    if !spec::is_team_dir(dir) {
        return Err(UserError::new(format!(
            "{} is not a team directory (TEAM.md + agents/*.md)",
            dir.display()
        ))
        .action("give the directory that holds TEAM.md and agents/, or run `team-agent init DIR` for a starter")
        .into());
    }
    let registry = Registry::load(Some(workspace.root()));
    let loaded = match load_or_reply(dir, workspace, &registry) {
        Ok(l) => l,
        Err(reply) => return Ok(reply),
    };
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("team.spec.yaml"));
    spec::write_standalone(&loaded, &out)
        .map_err(|e| UserError::new(format!("cannot write {}: {e}", out.display())))?;
    let mut answer = summary(&loaded);
    answer["spec"] = json!(
        std::path::absolute(&out)
            .unwrap_or(out.clone())
            .to_string_lossy()
    );
    Ok(Reply::ok(
        answer,
        format!(
            "wrote {} (team '{}')\n",
            out.display(),
            loaded.spec.team.name
        ),
    ))
}

pub fn init(dir: Option<&Path>, force: bool) -> anyhow::Result<Reply> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("team"));
    let occupied = dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some());
    if occupied && !force {
        return Err(
            UserError::new(format!("{} already exists and is not empty", dir.display()))
                .action(format!(
                    "pick another directory, or pass --force to overwrite the starter files in {}",
                    dir.display()
                ))
                .into(),
        );
    }
    let name = std::path::absolute(&dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "team".into());
    let name = crate::workspace::safe_chars(&name);
    let mut written = Vec::new();
    for (relative, text) in spec::starter::files(&name) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| UserError::new(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| UserError::new(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    let text = format!(
        "wrote a starter team in {dir}: {files}\nnext: team-agent validate {dir} && team-agent up {dir}\n",
        dir = dir.display(),
        files = written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let files: Vec<String> = written
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(Reply::ok(
        json!({ "ok": true, "team_dir": dir.to_string_lossy(), "files": files }),
        text,
    ))
}

/// Reads a file or, for `-`, stdin (bounded like every team definition file).
pub fn read_input(path: &Path) -> Result<String, Diagnostic> {
    if path != Path::new("-") {
        return spec::read_text(path);
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(spec::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::error(path, "", format!("cannot read stdin: {e}")))?;
    if bytes.len() as u64 > spec::MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            path,
            "",
            "the input is larger than 4 MiB",
        ));
    }
    String::from_utf8(bytes).map_err(|_| Diagnostic::error(path, "", "not UTF-8 text"))
}

pub fn validate_result(path: &Path) -> anyhow::Result<Reply> {
    let label = if path == Path::new("-") {
        PathBuf::from("<stdin>")
    } else {
        path.to_path_buf()
    };
    let diagnostics = match read_input(path) {
        Err(d) => vec![d],
        Ok(text) => match spec::parse_result(&text, &label) {
            Err(d) => vec![d],
            Ok(value) => spec::check_result(&value, &label, Some(&text)),
        },
    };
    if diagnostics.is_empty() {
        return Ok(Reply::ok(
            json!({ "ok": true, "errors": [] }),
            "ok: a valid result_envelope_v1\n",
        ));
    }
    let text = format!(
        "{}{} error(s): not a valid result_envelope_v1\n",
        render(&diagnostics),
        diagnostics.len()
    );
    Ok(Reply::new(
        false,
        json!({ "ok": false, "errors": diagnostics }),
        text,
    ))
}
