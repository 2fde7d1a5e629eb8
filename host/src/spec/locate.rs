//! Finding the line of a JSON pointer in block-style YAML (or one-key-per-line JSON) text, so an
//! error can say `agents/coder.md:4`. Best effort: the deepest segment found wins, and `None`
//! when not even the first is found.

/// The 1-based line of `pointer` in `text`.
pub fn line_of(text: &str, pointer: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut found: Option<usize> = None;
    // The block being searched: lines [start, end) deeper than `parent_indent`.
    let mut start = 0usize;
    let mut parent_indent: isize = -1;
    for segment in &segments {
        let block_end = block_end(&lines, start, parent_indent);
        let hit = match segment.parse::<usize>() {
            Ok(index) => nth_item(&lines, start, block_end, parent_indent, index),
            Err(_) => key_line(&lines, start, block_end, parent_indent, segment),
        };
        let Some((line, indent)) = hit else { break };
        found = Some(line + 1);
        // An item's first key may share its dash's line (`- name: x`): search from the item's
        // own line; a key's children start below it.
        start = if segment.parse::<usize>().is_ok() {
            line
        } else {
            line + 1
        };
        parent_indent = indent as isize;
    }
    found
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The end of the block of lines deeper than `parent_indent` starting at `start`.
fn block_end(lines: &[&str], start: usize, parent_indent: isize) -> usize {
    (start..lines.len())
        .find(|&i| i > start && is_content(lines[i]) && ends_block(lines[i], parent_indent))
        .unwrap_or(lines.len())
}

/// A line ends the block of a key at `parent_indent` when it is not deeper, except for the
/// items of a sequence written at the key's own indentation (`key:` then `- item`).
fn ends_block(line: &str, parent_indent: isize) -> bool {
    let indent = indent_of(line) as isize;
    indent < parent_indent || (indent == parent_indent && !is_dash(line))
}

fn is_dash(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("- ") || t == "-"
}

/// The line of `key:` in the block, and the indentation its children are deeper than.
fn key_line(
    lines: &[&str],
    start: usize,
    end: usize,
    parent_indent: isize,
    key: &str,
) -> Option<(usize, usize)> {
    let plain = format!("{key}:");
    let quoted = format!("\"{key}\":");
    let single = format!("'{key}':");
    (start..end).find_map(|i| {
        let line = lines[i];
        let mut indent = indent_of(line);
        let mut text = line.trim_start();
        if let Some(rest) = text.strip_prefix("- ") {
            indent += 2;
            text = rest.trim_start();
        }
        let matches =
            text.starts_with(&plain) || text.starts_with(&quoted) || text.starts_with(&single);
        (matches && indent as isize > parent_indent).then_some((i, indent))
    })
}

/// The line of the `index`-th `- ` item of the sequence in the block.
fn nth_item(
    lines: &[&str],
    start: usize,
    end: usize,
    parent_indent: isize,
    index: usize,
) -> Option<(usize, usize)> {
    let mut seen = 0;
    let mut item_indent: Option<usize> = None;
    for (i, line) in lines.iter().enumerate().take(end).skip(start) {
        if !is_content(line) {
            continue;
        }
        let indent = indent_of(line);
        if ends_block(line, parent_indent) {
            break;
        }
        if is_dash(line) && item_indent.is_none_or(|d| d == indent) {
            item_indent = Some(indent);
            if seen == index {
                return Some((i, indent));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn sequences_at_the_keys_own_indentation_are_found() {
        let text =
            "agents: []\ntasks:\n- id: t1\n  deps: [a]\n- id: t2\n  assignee: zed\nversion: 1\n";
        assert_eq!(line_of(text, "/tasks/1/assignee"), Some(6));
        assert_eq!(line_of(text, "/tasks/0/deps"), Some(4));
        assert_eq!(line_of(text, "/version"), Some(7));
    }

    const SPEC: &str = "version: 1\nteam:\n  name: x\nagents:\n  - id: a\n    provider: codex\n  - id: b\n    provider: nope\n    tools:\n      - fs_read\ntasks: []\n";

    #[test]
    fn finds_keys_and_sequence_items() {
        assert_eq!(line_of(SPEC, "/team/name"), Some(3));
        assert_eq!(line_of(SPEC, "/agents/1/provider"), Some(8));
        assert_eq!(line_of(SPEC, "/agents/0/id"), Some(5));
        assert_eq!(line_of(SPEC, "/agents/1/tools/0"), Some(10));
        assert_eq!(line_of(SPEC, "/tasks"), Some(11));
    }

    #[test]
    fn a_missing_field_points_at_its_parent() {
        assert_eq!(line_of(SPEC, "/agents/1/model"), Some(7));
        assert_eq!(line_of(SPEC, "/nothing"), None);
    }
}
