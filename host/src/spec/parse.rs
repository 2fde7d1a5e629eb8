//! Reading team definition files safely: a size limit, UTF-8, YAML or JSON into a JSON value with
//! syntax errors located, and Markdown front matter. Hostile input (binary garbage, huge files,
//! deep nesting, exploding aliases) ends in a clear error, never a panic or a hang.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::diagnostic::Diagnostic;

/// No team definition file is anywhere near this big; bigger input is refused before parsing.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How deep `[`/`{` may nest; YAML parsers take quadratic time on deep flow nesting (200 KB of
/// `[` took 37 s), so deeper text is refused before it is parsed.
const MAX_FLOW_DEPTH: usize = 64;

/// Where `text` first nests brackets or braces deeper than [`MAX_FLOW_DEPTH`] (line, column; from
/// 1). Quoted strings and comments are skipped, roughly as YAML reads them: a false alarm needs
/// 64 unquoted openers, which no definition has.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut after_space = true;
        for (column, c) in line.chars().enumerate() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if after_space => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((n + 1, column + 1));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            after_space = c.is_whitespace();
        }
    }
    None
}

/// Reads a whole file as UTF-8 text, refusing anything too big or not text.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let file = std::fs::File::open(path)
        .map_err(|e| Diagnostic::error(path, "", format!("cannot read the file: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::error(path, "", format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            path,
            "",
            format!(
                "the file is larger than {} MiB; a team definition is never this big",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Diagnostic::error(
            path,
            "",
            format!("not UTF-8 text (invalid byte at offset {at})"),
        )
        .at(Some(line), None)
    })
}

/// Parses YAML (or JSON, which starts with `{`/`[`) into a JSON value. `first_line` is the line of
/// `text` in its file (front matter does not start at line 1).
pub fn parse_document(text: &str, file: &Path, first_line: usize) -> Result<Value, Diagnostic> {
    if text.contains('\0') {
        let line = text[..text.find('\0').unwrap_or(0)].matches('\n').count() + first_line;
        return Err(
            Diagnostic::error(file, "", "binary content (a NUL byte): not YAML or JSON")
                .at(Some(line), None),
        );
    }
    if let Some((line, column)) = too_deep(text) {
        return Err(Diagnostic::error(
            file,
            "",
            format!(
                "nested more than {MAX_FLOW_DEPTH} levels deep in brackets or braces: no team definition is"
            ),
        )
        .at(Some(line + first_line - 1), Some(column)));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(text).map_err(|e| {
            Diagnostic::error(file, "", format!("JSON syntax error: {e}"))
                .at(Some(e.line() + first_line - 1), Some(e.column()))
        });
    }
    // Through YAML's own value first: it refuses a key given twice (`serde_json`'s map would keep
    // the last one silently).
    let yaml = serde_norway::from_str::<serde_norway::Value>(text).map_err(|e| {
        let (line, column) = match e.location() {
            Some(l) => (Some(l.line() + first_line - 1), Some(l.column())),
            None => (None, None),
        };
        let message = e.to_string();
        // serde_norway appends " at line L column C"; the location is reported separately.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let message = match message.strip_prefix("duplicate entry with key ") {
            Some(key) => format!(
                "the key {key} is given twice in one mapping: keep one, with the settings of both"
            ),
            None => format!("YAML syntax error: {message}"),
        };
        Diagnostic::error(file, "", message).at(line, column)
    })?;
    serde_json::to_value(yaml).map_err(|e| {
        Diagnostic::error(
            file,
            "",
            format!("YAML that is not a team definition: {e} (keys are plain strings)"),
        )
    })
}

/// A Markdown document with YAML front matter (`---` … `---`).
pub struct FrontMatter<'a> {
    pub yaml: &'a str,
    /// The line of the first YAML line in the file.
    pub yaml_line: usize,
    pub body: &'a str,
}

/// Splits `---\n<yaml>\n---\n<body>`; a document without front matter is all body.
pub fn split_front_matter(text: &str) -> Option<FrontMatter<'_>> {
    let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text_no_bom
        .strip_prefix("---\n")
        .or_else(|| text_no_bom.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some(FrontMatter {
                yaml,
                yaml_line: 2,
                body,
            });
        }
        offset += line.len();
    }
    None
}
