/*! A provider's fixture directory (feature `fixture-dir`): `NAME.expect.json`, each beside a
`NAME.screen.txt` (a captured pane) or a `NAME.transcript.jsonl` (a transcript tail), or both.
Other files (the `NAME.ansi.txt` colour twins a plugin's own tests compare) are not fixtures.

[`embed`] compiles a plugin crate's `fixtures/` into its library, so the fixtures travel with the
plugin and `team-agent plugins check` finds them wherever it is installed. A provider's
`build.rs` is one call:

```no_run
// The body of `fn main` in build.rs, with `team-agent-plugin-api` (feature `fixture-dir`)
// among its [build-dependencies]:
team_agent_plugin_api::fixture_dir::embed();
```

and its `fixtures()` reads them back with [`embedded_fixtures!`](crate::embedded_fixtures).
*/

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

/// The suffix that names a fixture.
pub const EXPECT: &str = ".expect.json";
/// The captured pane of a screen fixture.
pub const SCREEN: &str = ".screen.txt";
/// The transcript tail of a transcript fixture.
pub const TRANSCRIPT: &str = ".transcript.jsonl";

/// The names of the fixtures in `dir` (each `NAME` of a `NAME.expect.json`), sorted.
pub fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let file = entry?.file_name();
        if let Some(name) = file.to_str().and_then(|f| f.strip_suffix(EXPECT)) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// For a build script: writes the fixtures of the crate's `fixtures/` directory (none when there
/// is no such directory) as a table of `include_str!`s into `OUT_DIR`, and tells cargo to run the
/// script again when the directory changes. A fixture whose expectation is not JSON, or that has
/// neither a screen nor a transcript, fails the build, naming the file.
pub fn embed() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=fixtures");
    let table = match table(&manifest_dir.join("fixtures")) {
        Ok(table) => table,
        Err(problem) => panic!("cannot embed the fixtures: {problem}"),
    };
    // The name `embedded_fixtures!` includes.
    let out = out_dir.join("team-agent-fixtures.rs");
    if let Err(e) = std::fs::write(&out, table) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// The table `embed` writes: `&[EmbeddedFixture { … }, …]`, every file by its absolute path.
fn table(dir: &Path) -> Result<String, String> {
    let names = match names(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut table = String::from("&[\n");
    for name in &names {
        let expect = dir.join(format!("{name}{EXPECT}"));
        let text =
            std::fs::read_to_string(&expect).map_err(|e| format!("{}: {e}", expect.display()))?;
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
            return Err(format!("{}: not JSON: {e}", expect.display()));
        }
        let screen = optional_include(dir, name, SCREEN);
        let transcript = optional_include(dir, name, TRANSCRIPT);
        if screen == "None" && transcript == "None" {
            return Err(format!(
                "{}: no {name}{SCREEN} or {name}{TRANSCRIPT} beside it",
                expect.display()
            ));
        }
        let _ = writeln!(
            table,
            "    EmbeddedFixture {{ name: {name:?}, screen: {screen}, transcript: {transcript}, expect: include_str!({:?}) }},",
            expect.display().to_string(),
        );
    }
    table.push(']');
    Ok(table)
}

/// `Some(include_str!(…))` for a fixture file that exists, `None` otherwise.
fn optional_include(dir: &Path, name: &str, suffix: &str) -> String {
    let path = dir.join(format!("{name}{suffix}"));
    if path.is_file() {
        format!("Some(include_str!({:?}))", path.display().to_string())
    } else {
        String::from("None")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn a_fixture_is_named_by_its_expectation_and_embeds_what_is_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.expect.json", "{\"turn_state\": \"idle\"}");
        write(dir.path(), "b.transcript.jsonl", "{}\n");
        write(dir.path(), "a.expect.json", "{\"screen\": \"idle\"}");
        write(dir.path(), "a.screen.txt", "› ");
        write(dir.path(), "a.ansi.txt", "\u{1b}[1m› ");
        assert_eq!(names(dir.path()).unwrap(), ["a", "b"]);
        let table = table(dir.path()).unwrap();
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.contains("EmbeddedFixture"))
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].contains("name: \"a\", screen: Some(include_str!(")
                && rows[0].contains("transcript: None")
        );
        assert!(rows[1].contains("name: \"b\", screen: None, transcript: Some(include_str!("));
        assert!(!table.contains("ansi"));
    }

    #[test]
    fn no_directory_is_no_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(table(&dir.path().join("fixtures")).unwrap(), "&[\n]");
    }

    #[test]
    fn a_broken_fixture_fails_naming_its_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.expect.json", "{not json");
        write(dir.path(), "x.screen.txt", "› ");
        let problem = table(dir.path()).unwrap_err();
        assert!(problem.contains("x.expect.json: not JSON"), "{problem}");
        write(dir.path(), "x.expect.json", "{}");
        std::fs::remove_file(dir.path().join("x.screen.txt")).unwrap();
        let problem = table(dir.path()).unwrap_err();
        assert!(
            problem.contains("no x.screen.txt or x.transcript.jsonl"),
            "{problem}"
        );
    }
}
