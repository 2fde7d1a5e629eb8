//! The host's shape, checked from its source (docs/ARCHITECTURE.md, "The host's modules"): no
//! two modules (the folders of `host/src`) use each other, and only `tmux/` runs tmux. A new
//! mutual import or a stray `tmux` command fails here, naming the files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The host's modules: the folders of `host/src`.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's code: comments removed, and the `#[cfg(test)]` module at its end (tests may reach
/// anywhere).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut out = String::new();
    let mut block = 0usize;
    for line in text.lines() {
        let mut rest = line;
        let mut kept = String::new();
        loop {
            if block > 0 {
                match rest.find("*/") {
                    Some(end) => {
                        block -= 1;
                        rest = &rest[end + 2..];
                    }
                    None => break,
                }
            } else {
                let line_comment = rest.find("//");
                let block_start = rest.find("/*");
                match (line_comment, block_start) {
                    (Some(l), b) if b.is_none_or(|b| l < b) => {
                        kept.push_str(&rest[..l]);
                        break;
                    }
                    (_, Some(b)) => {
                        kept.push_str(&rest[..b]);
                        block += 1;
                        rest = &rest[b + 2..];
                    }
                    _ => {
                        kept.push_str(rest);
                        break;
                    }
                }
            }
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The modules a piece of code names: `crate::NAME` paths and the names inside
/// `use crate::{…}` groups.
fn named_modules(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    found.insert(name);
                    item.clear();
                    if depth == 0 {
                        break;
                    }
                } else if depth == 1 {
                    item.push(c);
                } else {
                    item.push(' ');
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

/// (module, module it uses) → the files that use it.
fn uses() -> BTreeMap<(String, String), Vec<String>> {
    let modules = modules();
    let mut uses: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for module in &modules {
        let mut files = Vec::new();
        rust_files(&src().join(module), &mut files);
        for file in files {
            if file.components().any(|c| c.as_os_str() == "tests") || file.ends_with("tests.rs") {
                continue;
            }
            for other in named_modules(&code(&file), &modules) {
                if &other != module {
                    let shown = file.strip_prefix(src()).unwrap().display().to_string();
                    uses.entry((module.clone(), other)).or_default().push(shown);
                }
            }
        }
    }
    uses
}

#[test]
fn no_two_host_modules_use_each_other() {
    let uses = uses();
    let mutual: Vec<String> = uses
        .iter()
        .filter(|((a, b), _)| a < b && uses.contains_key(&(b.clone(), a.clone())))
        .map(|((a, b), files)| {
            format!(
                "{a} ↔ {b} ({a} in {}; {b} in {})",
                files.join(", "),
                uses[&(b.clone(), a.clone())].join(", ")
            )
        })
        .collect();
    assert!(
        mutual.is_empty(),
        "host modules that use each other (move what both need to a module below them): {mutual:#?}"
    );
    // The check sees what it should: the module map has arrows.
    assert!(uses.contains_key(&("daemon".into(), "messaging".into())));
    assert!(uses.contains_key(&("cli".into(), "lifecycle".into())));
}

/// The module arrows docs/ARCHITECTURE.md draws are the ones the code has.
#[test]
fn the_architecture_document_draws_the_arrows_the_code_has() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ARCHITECTURE.md"),
    )
    .unwrap();
    let uses = uses();
    let mut drawn = 0;
    for line in doc.lines() {
        let Some((module, targets)) = line.split_once(" → ") else {
            continue;
        };
        let module = module.trim();
        if !modules().contains(module) || targets.starts_with("every") {
            continue;
        }
        drawn += 1;
        let said: BTreeSet<&str> = targets.split_whitespace().collect();
        let real: BTreeSet<&str> = uses
            .keys()
            .filter(|(from, _)| from == module)
            .map(|(_, to)| to.as_str())
            .collect();
        assert_eq!(said, real, "docs/ARCHITECTURE.md: what {module} uses");
    }
    assert!(
        drawn >= 10,
        "the document draws the module arrows ({drawn} found)"
    );
}

#[test]
fn only_the_tmux_module_runs_tmux() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src().join("tmux")))
        .filter(|f| {
            let code = code(f);
            code.contains("Command::new(\"tmux\")") || code.contains("Command::new(TMUX)")
        })
        .map(|f| f.strip_prefix(src()).unwrap().display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "tmux run outside host/src/tmux (use tmux::Server or a tmux:: function): {outside:?}"
    );
}

#[test]
fn the_import_reader_sees_groups_and_ignores_comments() {
    let modules: BTreeSet<String> = ["store", "spec", "tmux", "events"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.rs");
    std::fs::write(
        &file,
        "//! crate::events is only mentioned\nuse crate::{store::{A, B}, spec};\n/* crate::tmux */ fn f() { crate::tmux::x(); }\n",
    )
    .unwrap();
    let named = named_modules(&code(&file), &modules);
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["spec", "store", "tmux"]
    );
}
