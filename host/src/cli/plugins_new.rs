//! `team-agent plugins new`: a standalone plugin crate to start from, written outside any
//! workspace. As written it builds, loads and passes the structural conformance checks; the
//! fixture it ships fails until its author captures the real CLI and teaches the plugin.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::cli::{Reply, UserError};

/// Which kind of plugin to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Provider,
    Display,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Display => "display",
        }
    }
}

/// What the user asked for.
pub struct Request<'a> {
    pub name: &'a str,
    pub dir: Option<&'a Path>,
    pub kind: Kind,
    pub api_path: Option<&'a Path>,
}

/// The words the templates are filled with.
struct Words {
    pairs: Vec<(&'static str, String)>,
}

impl Words {
    fn fill(&self, template: &str) -> String {
        self.pairs
            .iter()
            .fold(template.to_string(), |text, (key, value)| {
                text.replace(&format!("{{{{{key}}}}}"), value)
            })
    }
}

pub fn run(request: &Request<'_>) -> anyhow::Result<Reply> {
    check_name(request.name)?;
    let parent = match request.dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()?,
    };
    let root = std::path::absolute(parent.join(request.name))?;
    if root.exists() {
        return Err(UserError::new(format!("{} already exists", root.display()))
            .action("pick another name or --dir, or remove it first")
            .into());
    }
    let words = words(request)?;
    let files = files(request.kind, &words);
    std::fs::create_dir_all(&parent).map_err(|e| {
        UserError::new(format!("cannot create {}: {e}", parent.display()))
            .action("check the --dir path and its permissions")
    })?;
    // Written into a scratch directory beside it, then renamed: a failure leaves nothing half
    // made under the plugin's name.
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{}-", request.name))
        .tempdir_in(&parent)?;
    for (path, text) in &files {
        let file = scratch.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text)?;
    }
    std::fs::rename(scratch.path(), &root).map_err(|e| {
        UserError::new(format!("cannot create {}: {e}", root.display()))
            .action("check the --dir path and its permissions")
    })?;
    let _ = scratch.keep();
    Ok(reply(request, &root, &files))
}

/// A plugin's name becomes a crate name, a library name and a spec's `provider:`; it must suit
/// all three.
fn check_name(name: &str) -> Result<(), UserError> {
    let mut chars = name.chars();
    let good = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 40;
    if good {
        Ok(())
    } else {
        Err(UserError::new(format!("'{name}' cannot name a plugin"))
            .action("use lowercase letters, digits and dashes, starting with a letter (for example: my-agent)"))
    }
}

fn words(request: &Request<'_>) -> anyhow::Result<Words> {
    let name = request.name;
    let lib = format!("team_agent_{}", name.replace('-', "_"));
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    let (api, conformance) = dependencies(request.api_path)?;
    let display = request.kind == Kind::Display;
    let serde = if display {
        "\nserde = { version = \"1\", features = [\"derive\"] }"
    } else {
        ""
    };
    let mut pairs = vec![
        ("name", name.to_string()),
        ("kind", request.kind.as_str().to_string()),
        (
            "spec_key",
            if display {
                "display_backend"
            } else {
                "provider"
            }
            .to_string(),
        ),
        ("type", type_name),
        ("crate", format!("team-agent-{name}")),
        ("lib", lib.clone()),
        ("api_dep", format!("team-agent-plugin-api = {api}{serde}")),
        (
            "api_build_dep",
            if display {
                String::new()
            } else {
                format!(
                    "team-agent-plugin-api = {}",
                    with_feature(&api, "fixture-dir")
                )
            },
        ),
        (
            "conformance_dep",
            format!("team-agent-conformance = {conformance}"),
        ),
    ];
    pairs.extend(guide_words(name, display));
    Ok(Words { pairs })
}

/// The README's and the conformance test's words that differ between a provider and a display.
fn guide_words(name: &str, display: bool) -> Vec<(&'static str, String)> {
    vec![
        (
            "fixture_note",
            if display {
                "`display.probe` answers \"not available\" until step 2.".to_string()
            } else {
                format!(
                    "only `fixture.{name}-idle` fails, naming `fixtures/{name}-idle.expect.json`, until you do steps 1 and 2."
                )
            },
        ),
        (
            "step1",
            if display {
                "Note what your display needs (a program on PATH, a variable) and what it creates (windows, processes).".to_string()
            } else {
                format!(
                    "Run `{name}` in tmux and save its screens with `tmux capture-pane -p`: waiting for input into `fixtures/{name}-idle.screen.txt`, then busy, an approval, an error, each with a `NAME.expect.json` (see the one given)."
                )
            },
        ),
        (
            "step2",
            if display {
                "Make `probe` look for what it needs, `open` return the steps that show the workers, and `close` the steps that destroy exactly what `open` created (`src/lib.rs`, every `SCAFFOLD` part).".to_string()
            } else {
                "In `src/lib.rs`, replace every `SCAFFOLD` part: recognise the fixtures in `handle_startup_prompts` and `classify_screen`, then the launch plan (model, system prompt, the team's MCP server), approvals, the transcript, resume.".to_string()
            },
        ),
        (
            "conformance_options",
            if display {
                "team_agent_conformance::Options::default()".to_string()
            } else {
                "team_agent_conformance::Options::with_fixtures(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/fixtures\"))".to_string()
            },
        ),
        (
            "check_fixtures",
            if display {
                String::new()
            } else {
                " --fixtures fixtures".to_string()
            },
        ),
        (
            "probe_hint",
            if display {
                "`team-agent plugins probe NAME` says whether the display can work here."
                    .to_string()
            } else {
                format!(
                    "`team-agent plugins probe {name} --screen FILE` says what the plugin decides for one screen, and by which rule."
                )
            },
        ),
    ]
}

/// The plugin API and the conformance suite as dependencies: by version, or by path into a local
/// checkout of team-agent (`--api-path DIR` names its `plugin-api`; the suite is beside it).
fn dependencies(api_path: Option<&Path>) -> anyhow::Result<(String, String)> {
    let version = env!("CARGO_PKG_VERSION");
    let Some(path) = api_path else {
        return Ok((format!("\"{version}\""), format!("\"{version}\"")));
    };
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        UserError::new(format!(
            "--api-path {}: cannot read {}: {e}",
            path.display(),
            manifest.display()
        ))
        .action("give the plugin-api directory of a team-agent checkout")
    })?;
    if !text.contains("name = \"team-agent-plugin-api\"") {
        return Err(UserError::new(format!(
            "--api-path {}: {} is not the team-agent-plugin-api crate",
            path.display(),
            manifest.display()
        ))
        .action("give the plugin-api directory of a team-agent checkout")
        .into());
    }
    let api = std::fs::canonicalize(path)?;
    let suite = api.parent().map(|p| p.join("tests/conformance"));
    let conformance = match suite.filter(|s| s.join("Cargo.toml").exists()) {
        Some(suite) => format!("{{ path = {} }}", toml_string(&suite)),
        None => format!("\"{version}\""),
    };
    Ok((format!("{{ path = {} }}", toml_string(&api)), conformance))
}

fn toml_string(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("a string encodes")
}

/// `"1.0"` or `{ path = "…" }` with a feature added.
fn with_feature(dependency: &str, feature: &str) -> String {
    match dependency.strip_suffix(" }") {
        Some(table) => format!("{table}, features = [\"{feature}\"] }}"),
        None => format!("{{ version = {dependency}, features = [\"{feature}\"] }}"),
    }
}

fn files(kind: Kind, words: &Words) -> Vec<(PathBuf, String)> {
    let name = words
        .pairs
        .iter()
        .find(|(k, _)| *k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut files = vec![
        (
            "Cargo.toml".into(),
            include_str!("scaffold/Cargo.toml.tmpl"),
        ),
        ("README.md".into(), include_str!("scaffold/README.md.tmpl")),
        (".gitignore".into(), include_str!("scaffold/gitignore.tmpl")),
        (
            "tests/conformance.rs".into(),
            include_str!("scaffold/conformance.rs.tmpl"),
        ),
    ];
    match kind {
        Kind::Provider => files.extend([
            (
                "src/lib.rs".into(),
                include_str!("scaffold/provider_lib.rs.tmpl"),
            ),
            ("build.rs".into(), include_str!("scaffold/build.rs.tmpl")),
            (
                format!("fixtures/{name}-idle.screen.txt"),
                include_str!("scaffold/idle.screen.txt.tmpl"),
            ),
            (
                format!("fixtures/{name}-idle.expect.json"),
                include_str!("scaffold/idle.expect.json.tmpl"),
            ),
        ]),
        Kind::Display => files.push((
            "src/lib.rs".into(),
            include_str!("scaffold/display_lib.rs.tmpl"),
        )),
    }
    files
        .into_iter()
        .map(|(path, template): (String, &str)| (PathBuf::from(path), words.fill(template)))
        .collect()
}

fn reply(request: &Request<'_>, root: &Path, files: &[(PathBuf, String)]) -> Reply {
    let lib = format!("libteam_agent_{}.so", request.name.replace('-', "_"));
    let manifest = root.join("Cargo.toml");
    let mut next = vec![format!(
        "cargo build --release --manifest-path {}",
        manifest.display()
    )];
    let built = root.join("target/release").join(&lib);
    next.push(match request.kind {
        Kind::Provider => format!(
            "team-agent plugins check {} --fixtures {}",
            built.display(),
            root.join("fixtures").display()
        ),
        Kind::Display => format!("team-agent plugins check {}", built.display()),
    });
    let mut text = format!(
        "created the {} plugin '{}' in {}\n",
        request.kind.as_str(),
        request.name,
        root.display()
    );
    for (path, _) in files {
        text.push_str(&format!("  {}\n", path.display()));
    }
    text.push_str("next:\n");
    for step in &next {
        text.push_str(&format!("  {step}\n"));
    }
    text.push_str(&format!(
        "then follow {}\n",
        root.join("README.md").display()
    ));
    Reply::ok(
        json!({
            "name": request.name,
            "kind": request.kind.as_str(),
            "dir": root,
            "files": files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "library": lib,
            "next": next,
        }),
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_crates_are_refused() {
        for bad in ["", "Echo", "9lives", "my_agent", "trailing-", "has space"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["echo", "my-agent2"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_feature_is_added_to_either_form_of_dependency() {
        assert_eq!(
            with_feature("\"0.1.0\"", "fixture-dir"),
            "{ version = \"0.1.0\", features = [\"fixture-dir\"] }"
        );
        assert_eq!(
            with_feature("{ path = \"/x/plugin-api\" }", "fixture-dir"),
            "{ path = \"/x/plugin-api\", features = [\"fixture-dir\"] }"
        );
    }
}
