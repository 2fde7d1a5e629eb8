/*! Turning a captured pane into the lines rules look at.

A capture may carry colours and cursor movement (`tmux capture-pane -e`), a scrollback far taller
than the pane, or a single megabyte-long line. [`Screen::read`] keeps what a person reading the
bottom of the pane would see: escape sequences and control characters removed, blank lines
dropped, each line cut to a bounded width, and only the bottom lines kept.
*/

/// How a capture is reduced to the lines rules match against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenSettings {
    /// How many non-blank lines, counted from the bottom, rules look at.
    pub bottom_lines: usize,
    /// Longer lines are cut (in characters): no pane is this wide, so the rest is noise.
    pub max_line_chars: usize,
    /// Characters that mark the highlighted option of a menu (`›`, `❯`, `>`).
    pub menu_selectors: Vec<String>,
}

impl Default for ScreenSettings {
    fn default() -> Self {
        Self {
            bottom_lines: 40,
            max_line_chars: 1000,
            menu_selectors: vec!["›".into(), "❯".into(), ">".into()],
        }
    }
}

/// The bottom of a captured pane, normalised: top to bottom, no blank lines, no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    lines: Vec<String>,
}

impl Screen {
    pub fn read(capture: &str, settings: &ScreenSettings) -> Self {
        let mut lines = Vec::new();
        // From the bottom up, so a huge scrollback costs only what is kept.
        for raw in capture.rsplit('\n') {
            if lines.len() >= settings.bottom_lines {
                break;
            }
            let line = clean_line(raw, settings.max_line_chars);
            if !line.is_empty() {
                lines.push(line);
            }
        }
        lines.reverse();
        Self { lines }
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// One line without escapes or control characters, right-trimmed and cut to `max_chars`.
fn clean_line(raw: &str, max_chars: usize) -> String {
    let mut line = strip_ansi(raw);
    if let Some((cut, _)) = line.char_indices().nth(max_chars) {
        line.truncate(cut);
    }
    line.truncate(line.trim_end().len());
    line
}

/// `text` as a terminal would show it, without terminal escape sequences and control characters;
/// a tab becomes a space. The one reader of escapes in the plugins (ECMA-48 and ECMA-35 shapes):
///
/// Escape sequences are read by `team_agent_plugin_api::escapes` (CSI, OSC/DCS/SOS/PM/APC,
/// ECMA-35 escapes, their 8-bit forms).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    team_agent_plugin_api::escapes::without_escapes(text, |c| match c {
        '\t' => out.push(' '),
        c if c.is_control() => {}
        c => out.push(c),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_cursor_moves_and_titles_are_stripped() {
        let line = "\u{1b}[1;7m› 1. Trust\u{1b}[0m\u{1b}[39m \u{1b}]0;title\u{7}and\u{1b}P+q\u{1b}\\ continue\u{1b}(B";
        assert_eq!(strip_ansi(line), "› 1. Trust and continue");
    }

    #[test]
    fn control_characters_go_and_tabs_become_spaces() {
        assert_eq!(strip_ansi("a\tb\u{0}c\rd\u{7f}"), "a bcd");
    }

    /// Where the reader's rules changed: provider-kit's old stripper read any character after
    /// `ESC` as part of its escape, skipped everything up to a final byte inside a CSI (an `ESC`
    /// or a `CAN` too), knew only one 8-bit introducer and a fixed list of escapes with one
    /// intermediate byte; the scripted provider dropped control characters only, so every
    /// sequence's body stayed on its screen, and tabs went.
    #[test]
    fn sequences_the_two_old_readers_read_differently() {
        // An ESC inside an unfinished CSI starts a new sequence (was: "a0mb").
        assert_eq!(strip_ansi("a\u{1b}[12\u{1b}[0mb"), "ab");
        // CAN cancels a CSI; what follows it is text (was: "").
        assert_eq!(strip_ansi("\u{1b}[31\u{18}m"), "m");
        // A character no sequence can hold ends a broken one and stays (was: "").
        assert_eq!(strip_ansi("\u{1b}[1é m"), "é m");
        // After ESC, a character that starts no escape stays (was: "ab").
        assert_eq!(strip_ansi("a\u{1b}éb"), "aéb");
        // Escapes with several intermediate bytes (was: "(Cx").
        assert_eq!(strip_ansi("\u{1b}$(Cx"), "x");
        // The 8-bit OSC and DCS go with their bodies (was: "a0;titlebq").
        assert_eq!(strip_ansi("a\u{9d}0;title\u{9c}b\u{90}q\u{9c}"), "ab");
        // The scripted provider kept the bodies and dropped the tab (was: "[1m› ready[0mnow").
        assert_eq!(strip_ansi("\u{1b}[1m› ready\u{1b}[0m\tnow"), "› ready now");
    }

    #[test]
    fn an_unterminated_escape_at_the_end_is_dropped() {
        assert_eq!(strip_ansi("ready\u{1b}[38;5"), "ready");
        assert_eq!(strip_ansi("ready\u{1b}"), "ready");
    }

    #[test]
    fn only_the_bottom_non_blank_lines_are_kept_in_order() {
        let settings = ScreenSettings {
            bottom_lines: 2,
            ..Default::default()
        };
        let screen = Screen::read("one\ntwo\n\n  \nthree  \n\n", &settings);
        assert_eq!(screen.lines(), ["two", "three"]);
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let settings = ScreenSettings {
            max_line_chars: 3,
            ..Default::default()
        };
        let screen = Screen::read("ééééé", &settings);
        assert_eq!(screen.lines(), ["ééé"]);
    }

    #[test]
    fn a_blank_capture_is_an_empty_screen() {
        assert!(Screen::read("\n \n\u{1b}[0m\n", &ScreenSettings::default()).is_empty());
    }
}
