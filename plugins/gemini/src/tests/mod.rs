//! Unit tests of the Gemini CLI provider, called directly (the conformance test in `tests/`
//! loads the built library the way the host does).

use std::path::Path;
use std::sync::OnceLock;

use crate::Gemini;

/// The provider with the built-in rules only, whatever the developer's own config holds; one
/// for all tests, since compiling the rule book is the slow part.
fn gemini() -> &'static Gemini {
    static GEMINI: OnceLock<Gemini> = OnceLock::new();
    GEMINI.get_or_init(|| Gemini::with_rules(Gemini::builtin_rules()))
}

/// A fixture from `fixtures/` by file name.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

mod capture;
mod hooks;
mod launch;
mod screens;
mod turns;
