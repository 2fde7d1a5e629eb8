//! Finding plugin files in search directories, in order, each file once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One place to look for plugins, with a label saying where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    /// A directory to scan, or a single plugin file named explicitly.
    pub path: PathBuf,
    /// Where this entry came from (`TEAM_AGENT_PLUGIN_PATH`, `workspace`, …).
    pub source: String,
}

impl SearchDir {
    pub fn new(path: impl Into<PathBuf>, source: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            source: source.into(),
        }
    }
}

/// A file that looks like a plugin, not yet loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: String,
}

/// Plugin libraries are named `libteam_agent_<name>.so` (`.dylib` on macOS).
pub fn is_plugin_file_name(name: &str) -> bool {
    let stem = name
        .strip_suffix(".so")
        .or_else(|| name.strip_suffix(".dylib"));
    matches!(stem.and_then(|s| s.strip_prefix("libteam_agent_")), Some(rest) if !rest.is_empty())
}

/// Lists the plugin files of `dirs` in search order. A file reached through two entries (the
/// same device and inode) is listed once, where it was first found. Relative entries are
/// ignored: plugins are never loaded from the current directory.
pub fn discover(dirs: &[SearchDir]) -> Vec<Candidate> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut seen_missing: HashSet<PathBuf> = HashSet::new();
    let mut found = Vec::new();
    for dir in dirs {
        if !dir.path.is_absolute() {
            continue;
        }
        let names_a_file = dir.path.exists()
            || dir
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_plugin_file_name);
        let files = if dir.path.is_dir() {
            plugin_files_in(&dir.path)
        } else if names_a_file {
            // An explicit file entry: kept even when missing, so the error shows.
            vec![dir.path.clone()]
        } else {
            // A directory that does not exist (yet): nothing to find.
            Vec::new()
        };
        for path in files {
            match std::fs::metadata(&path) {
                Ok(meta) => {
                    if seen.insert((meta.dev(), meta.ino())) {
                        found.push(Candidate {
                            path,
                            source: dir.source.clone(),
                        });
                    }
                }
                Err(_) => {
                    if seen_missing.insert(path.clone()) {
                        found.push(Candidate {
                            path,
                            source: dir.source.clone(),
                        });
                    }
                }
            }
        }
    }
    found
}

fn plugin_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_plugin_file_name))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_file_names_need_the_prefix_and_a_library_suffix() {
        assert!(is_plugin_file_name("libteam_agent_scripted.so"));
        assert!(is_plugin_file_name("libteam_agent_codex.dylib"));
        assert!(!is_plugin_file_name("libteam_agent_.so"));
        assert!(!is_plugin_file_name("libteam_agent_scripted.rlib"));
        assert!(!is_plugin_file_name("libz.so"));
    }

    #[test]
    fn the_same_file_through_two_entries_is_listed_once() {
        let dir = std::env::temp_dir().join(format!("ta-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/libteam_agent_x.so"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("b")).unwrap();
        let found = discover(&[
            SearchDir::new(dir.join("a"), "first"),
            SearchDir::new(dir.join("b"), "second"),
            SearchDir::new("relative/dir", "ignored"),
            SearchDir::new(dir.join("missing-dir"), "missing"),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].source, "first");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
