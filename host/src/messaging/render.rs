//! What lands in a pane: a message rendered with its header and token line, after every control
//! character and escape sequence is removed, so no message can type keys into a terminal.

/// How every message's token line begins.
pub(super) const TOKEN_PREFIX: &str = "[team-agent-token:";

/// The line that ends every pasted message and proves its delivery.
pub fn token_line(message_id: &str) -> String {
    format!("{TOKEN_PREFIX}{message_id}]")
}

/// `Team Agent message from <sender>[ for <task>]:`, the content, and the token line.
pub fn render(sender: &str, task_id: Option<&str>, content: &str, message_id: &str) -> String {
    let task = task_id
        .map(|t| format!(" for {}", sanitize(t)))
        .unwrap_or_default();
    format!(
        "Team Agent message from {}{task}:\n\n{}\n\n{}",
        sanitize(sender),
        sanitize(content).trim_end(),
        token_line(message_id)
    )
}

/// Removes C0 and C1 control characters (but newline and tab), DEL, and whole escape sequences
/// (CSI, OSC, DCS and friends, including the bracketed-paste end marker `ESC [ 2 0 1 ~`).
/// Carriage returns become newlines.
pub fn sanitize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    team_agent_plugin_api::escapes::without_escapes(&text, |c| match c {
        '\n' | '\t' => out.push(c),
        '\r' => out.push('\n'),
        c if c.is_control() => {}
        c => out.push(c),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_escape_sequences_are_removed_newlines_and_tabs_stay() {
        assert_eq!(sanitize("a\x1b[201~\rtouch x\r"), "a\ntouch x\n");
        assert_eq!(sanitize("b \x1b]52;c;ZWNobw==\x07 clip"), "b  clip");
        assert_eq!(sanitize("c \x03\x04\x1a keys\x7f\x08"), "c  keys");
        assert_eq!(sanitize("d \x1bP+q544e\x1b\\ dcs"), "d  dcs");
        assert_eq!(sanitize("e \x1b[2J\x1b[H clear"), "e  clear");
        assert_eq!(sanitize("f \u{9b}8m C1 \u{9d}osc\u{9c} end"), "f  C1  end");
        assert_eq!(
            sanitize("tab\tand\nnewline \u{202e}rtl"),
            "tab\tand\nnewline \u{202e}rtl"
        );
    }

    #[test]
    fn a_rendered_message_has_a_header_and_ends_with_its_token() {
        let text = render("leader", Some("t1"), "do it\x1b[201~", "msg_1");
        assert_eq!(
            text,
            "Team Agent message from leader for t1:\n\ndo it\n\n[team-agent-token:msg_1]"
        );
    }
}
