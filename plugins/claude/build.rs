//! Compiles `fixtures/` into the library (as `OUT_DIR/fixtures.rs`), so the fixtures travel with
//! the plugin and `team-agent plugins check` finds them wherever it is installed. A fixture is
//! named by its `NAME.expect.json`; the `NAME.ansi.txt` colour twins of screens are read by the
//! crate's own tests only.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let fixtures = manifest_dir.join("fixtures");
    println!("cargo:rerun-if-changed=fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            file.strip_suffix(".expect.json").map(str::to_owned)
        })
        .collect();
    names.sort();
    let mut table = String::from("&[\n");
    for name in &names {
        let _ = writeln!(
            table,
            "    ({name:?}, {}, {}, include_str!({:?})),",
            optional_include(&fixtures, name, ".screen.txt"),
            optional_include(&fixtures, name, ".transcript.jsonl"),
            fixtures
                .join(format!("{name}.expect.json"))
                .display()
                .to_string(),
        );
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("fixtures.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

/// `Some(include_str!(…))` for a capture file that exists, `None` otherwise.
fn optional_include(dir: &Path, name: &str, suffix: &str) -> String {
    let path = dir.join(format!("{name}{suffix}"));
    if path.is_file() {
        format!("Some(include_str!({:?}))", path.display().to_string())
    } else {
        String::from("None")
    }
}
