/*! The user's own rule file for a provider: where it lives and how it is applied.

`$XDG_CONFIG_HOME/team-agent/providers/<provider>.toml`, or `~/.config/…` when `XDG_CONFIG_HOME`
is unset or not absolute. A missing file means the built-in rules. A file that cannot be read or
applied never stops the plugin: the built-in rules are used and every verdict names the problem.
*/

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::rules::RuleBook;

/// Where the user's rule file for `provider` lives, given `XDG_CONFIG_HOME` and `HOME`.
pub fn user_rules_path(
    provider: &str,
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let config = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".config"))
        })?;
    Some(
        config
            .join("team-agent")
            .join("providers")
            .join(format!("{provider}.toml")),
    )
}

/// The rule book for `provider`: `builtin` with the user's file (found from this process's
/// environment) applied when it exists and passes `check`.
pub fn load_rules(
    provider: &str,
    builtin: &str,
    check: impl Fn(&RuleBook) -> Result<(), String>,
) -> RuleBook {
    let path = user_rules_path(
        provider,
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    );
    load_rules_from(builtin, path.as_deref(), check)
}

/// [`load_rules`] with an explicit user file path.
pub fn load_rules_from(
    builtin: &str,
    user_path: Option<&Path>,
    check: impl Fn(&RuleBook) -> Result<(), String>,
) -> RuleBook {
    let builtin_book = match RuleBook::parse(builtin).map_err(|e| e.to_string()) {
        Ok(book) => match check(&book) {
            Ok(()) => book,
            Err(e) => return RuleBook::unusable(format!("the built-in rules are invalid: {e}")),
        },
        Err(e) => return RuleBook::unusable(format!("the built-in rules are invalid: {e}")),
    };
    let Some(path) = user_path else {
        return builtin_book;
    };
    let user = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return builtin_book,
        Err(e) => return builtin_book.with_user_error(format!("{}: {e}", path.display())),
    };
    let applied = RuleBook::parse_with_overrides(builtin, &user, path)
        .map_err(|e| e.to_string())
        .and_then(|book| {
            check(&book).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(book)
        });
    match applied {
        Ok(book) => book,
        Err(e) => builtin_book.with_user_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTIN: &str = r#"
[[rules.busy]]
name = "status_line"
contains = ["esc to interrupt"]
"#;

    fn no_check(_: &RuleBook) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn the_file_lives_under_xdg_config_home_or_dot_config() {
        let xdg = user_rules_path("codex", Some("/x".into()), Some("/h".into()));
        assert_eq!(
            xdg.unwrap(),
            Path::new("/x/team-agent/providers/codex.toml")
        );
        let home = user_rules_path("codex", None, Some("/h".into()));
        assert_eq!(
            home.unwrap(),
            Path::new("/h/.config/team-agent/providers/codex.toml")
        );
        let relative_xdg = user_rules_path("codex", Some("rel".into()), Some("/h".into()));
        assert_eq!(
            relative_xdg.unwrap(),
            Path::new("/h/.config/team-agent/providers/codex.toml")
        );
        assert_eq!(user_rules_path("codex", None, None), None);
    }

    #[test]
    fn a_missing_user_file_means_the_built_in_rules() {
        let book = load_rules_from(BUILTIN, Some(Path::new("/nonexistent/x.toml")), no_check);
        assert_eq!(book.user_error(), None);
        assert_eq!(book.group("busy").len(), 1);
    }

    #[test]
    fn a_broken_user_file_falls_back_and_says_so_in_every_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codex.toml");
        std::fs::write(&path, "[[rules.busy]]\nname = \"x\"\nregex = ['(']\n").unwrap();
        let book = load_rules_from(BUILTIN, Some(&path), no_check);
        assert_eq!(book.group("busy")[0].name(), "status_line");
        let label = book.label("status_line");
        assert!(
            label.starts_with("status_line (user rules ignored: "),
            "{label}"
        );
        assert!(label.contains("not a valid regex"), "{label}");
    }

    #[test]
    fn a_user_file_the_plugin_rejects_falls_back_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codex.toml");
        std::fs::write(&path, "[[rules.busy]]\nname = \"x\"\ncontains = ['y']\n").unwrap();
        let book = load_rules_from(BUILTIN, Some(&path), |book| {
            if book.group("busy").len() > 1 {
                Err("only one busy rule please".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(book.group("busy").len(), 1);
        assert!(
            book.user_error()
                .unwrap()
                .contains("only one busy rule please")
        );
    }

    #[test]
    fn a_valid_user_file_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codex.toml");
        std::fs::write(
            &path,
            "[[rules.busy]]\nname = \"spinner\"\ncontains = ['⠋']\n",
        )
        .unwrap();
        let book = load_rules_from(BUILTIN, Some(&path), no_check);
        assert_eq!(book.user_error(), None);
        assert_eq!(book.group("busy")[0].label(), "spinner (user rule)");
    }
}
