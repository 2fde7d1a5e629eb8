//! Embeds `fixtures/` into the plugin, so `team-agent plugins check` can check them wherever the
//! library is installed. The `NAME.ansi.txt` twins of screen fixtures are for the crate's own
//! tests and are not embedded.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = root.join("fixtures");
    println!("cargo:rerun-if-changed=fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".expect.json")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let include = |suffix: &str, name: &str| {
        let path = dir.join(format!("{name}{suffix}"));
        if path.exists() {
            format!("Some(include_str!({:?}))", path.display().to_string())
        } else {
            "None".to_string()
        }
    };
    let mut out = String::from("&[\n");
    for name in &names {
        let _ = writeln!(
            out,
            "    ({name:?}, {}, {}, include_str!({:?})),",
            include(".screen.txt", name),
            include(".transcript.jsonl", name),
            dir.join(format!("{name}.expect.json"))
                .display()
                .to_string()
        );
    }
    out.push(']');
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out_dir.join("fixtures.rs"), out).expect("OUT_DIR is writable");
}
