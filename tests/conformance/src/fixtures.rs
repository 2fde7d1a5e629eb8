//! Reading fixture directories (`NAME.screen.txt` / `NAME.transcript.jsonl` + `NAME.expect.json`),
//! and the `NAME.ansi.txt` colour twins of screens a provider's own tests compare.

use std::path::Path;

use team_agent_plugin_api::Fixture;
use team_agent_plugin_api::fixture_dir::{self, EXPECT, SCREEN, TRANSCRIPT};

/// Every fixture of `dir`, sorted by name. A fixture whose expectation is missing its screen or
/// transcript, or is not JSON, is an error naming the file.
pub fn read_fixture_dir(dir: &Path) -> Result<Vec<Fixture>, String> {
    let names = fixture_dir::names(dir)
        .map_err(|e| format!("cannot read the fixture directory {}: {e}", dir.display()))?;
    let mut fixtures = Vec::new();
    for name in names {
        let expect_path = dir.join(format!("{name}{EXPECT}"));
        let expect_text = std::fs::read_to_string(&expect_path)
            .map_err(|e| format!("{}: {e}", expect_path.display()))?;
        let expect: serde_json::Value = serde_json::from_str(&expect_text)
            .map_err(|e| format!("{}: not JSON: {e}", expect_path.display()))?;
        let read = |suffix: &str| -> Option<String> {
            let bytes = std::fs::read(dir.join(format!("{name}{suffix}"))).ok()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        };
        let screen = read(SCREEN);
        let transcript = read(TRANSCRIPT);
        if screen.is_none() && transcript.is_none() {
            return Err(format!(
                "{}: no {name}{SCREEN} or {name}{TRANSCRIPT} beside it",
                expect_path.display()
            ));
        }
        fixtures.push(Fixture {
            name,
            screen,
            transcript,
            expect,
        });
    }
    Ok(fixtures)
}

/// A screen captured twice, with its escape sequences (`tmux capture-pane -e`, `NAME.ansi.txt`) and
/// without (`NAME.screen.txt`): a provider must read both alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsiTwin {
    pub name: String,
    pub ansi: String,
    pub plain: String,
}

/// Every colour twin of `dir`, sorted by name; one without its plain capture is an error naming it.
pub fn ansi_twins(dir: &Path) -> Result<Vec<AnsiTwin>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the fixture directory {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some(e.file_name().to_str()?.strip_suffix(ANSI)?.to_string()))
        .collect();
    names.sort();
    let read = |file: String| {
        let path = dir.join(file);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    names
        .into_iter()
        .map(|name| {
            Ok(AnsiTwin {
                ansi: read(format!("{name}{ANSI}"))?,
                plain: read(format!("{name}{SCREEN}"))?,
                name,
            })
        })
        .collect()
}

/// The colour twin of `NAME.screen.txt`.
const ANSI: &str = ".ansi.txt";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_twins_pair_with_their_plain_capture_and_a_lone_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.ansi.txt"), "\u{1b}[1m› \u{1b}[0m").unwrap();
        std::fs::write(dir.path().join("a.screen.txt"), "› ").unwrap();
        std::fs::write(dir.path().join("b.screen.txt"), "no twin").unwrap();
        let twins = ansi_twins(dir.path()).unwrap();
        assert_eq!(
            twins,
            [AnsiTwin {
                name: "a".into(),
                ansi: "\u{1b}[1m› \u{1b}[0m".into(),
                plain: "› ".into()
            }]
        );
        std::fs::write(dir.path().join("c.ansi.txt"), "x").unwrap();
        let error = ansi_twins(dir.path()).unwrap_err();
        assert!(error.contains("c.screen.txt"), "{error}");
    }
}
