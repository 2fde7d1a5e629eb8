/*!
Finding programs on the operator's `PATH` by looking at files, never by running anything.

*/

use std::path::{Path, PathBuf};

use team_agent_plugin_api::DisplayEnvironment;

/// The first executable file named `name` in the absolute directories of `path_dirs`. Relative
/// entries (`.`, an empty entry) are skipped: what they find depends on whichever directory the
/// host happens to run in.
pub fn find_executable(name: &str, path_dirs: &[PathBuf]) -> Option<PathBuf> {
    path_dirs
        .iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

/// A regular file (after symlinks) that someone may execute.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The tmux a viewer runs. A tmux client must speak the protocol of the team's server, so it is
/// the one the host itself finds first on `PATH`, named by its full path (a viewer may start
/// with another `PATH`, as apps launched on macOS do); plain `tmux` when that `PATH` holds none.
pub fn tmux(environment: &DisplayEnvironment) -> String {
    find_executable("tmux", &environment.path_dirs)
        .and_then(|path| path.to_str().map(String::from))
        .unwrap_or_else(|| "tmux".into())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn program(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_first_executable_on_path_wins() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        program(first.path(), "tmux", 0o644);
        let found = program(second.path(), "tmux", 0o755);
        let dirs = vec![first.path().to_path_buf(), second.path().to_path_buf()];
        assert_eq!(find_executable("tmux", &dirs), Some(found));
    }

    #[test]
    fn directories_and_relative_path_entries_are_not_programs() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("tmux")).unwrap();
        let dirs = vec![dir.path().to_path_buf(), PathBuf::from("."), PathBuf::new()];
        assert_eq!(find_executable("tmux", &dirs), None);
    }

    #[test]
    fn the_viewer_tmux_is_the_full_path_found_or_plain_tmux() {
        let dir = tempfile::tempdir().unwrap();
        let found = program(dir.path(), "tmux", 0o755);
        let mut environment = DisplayEnvironment {
            path_dirs: vec![dir.path().to_path_buf()],
            ..Default::default()
        };
        assert_eq!(tmux(&environment), found.to_str().unwrap());
        environment.path_dirs.clear();
        assert_eq!(tmux(&environment), "tmux");
    }
}
