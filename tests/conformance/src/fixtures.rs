//! Reading fixture directories (`NAME.screen.txt` / `NAME.transcript.jsonl` + `NAME.expect.json`).

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
