//! Drawing whole frames and keeping what the user is typing: the parts both personas share.

use team_agent_scripted::terminal::{Input, print_flush};

/// The pane's width in columns (80 when it cannot be read).
pub fn width() -> usize {
    // SAFETY: TIOCGWINSZ fills the `winsize` it is given and touches nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// The pane's height in rows (24 when it cannot be read).
pub fn height() -> usize {
    // SAFETY: as in `width`.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_row > 0 {
        usize::from(size.ws_row)
    } else {
        24
    }
}

/// Draws `lines` over the pane, row by row from the top, and clears the rows below them
/// (redrawing in place rather than clearing the screen, which tmux would push into the
/// scrollback). A line wider than the pane goes on in the next row, as the terminal would wrap
/// it; when the frame is taller than the pane its bottom is kept.
pub fn draw(lines: &[String]) {
    let width = width();
    let mut rows: Vec<String> = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            rows.push(String::new());
        }
        rows.extend(chars.chunks(width).map(|row| row.iter().collect()));
    }
    let rows = tail(&rows, height());
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push_str(&format!("\x1b[{};1H\x1b[K{row}", i + 1));
    }
    if rows.len() < height() {
        out.push_str(&format!("\x1b[{};1H\x1b[J", rows.len() + 1));
    }
    print_flush(&out);
}

/// The last `rows` lines of `lines` (a frame's history scrolls off the top).
pub fn tail(lines: &[String], rows: usize) -> &[String] {
    &lines[lines.len().saturating_sub(rows)..]
}

/// One piece of the text being typed.
enum Piece {
    Typed(String),
    /// The `number`th paste since the CLI started.
    Pasted {
        number: usize,
        text: String,
    },
}

/// What the user has typed and pasted since the last message was sent.
#[derive(Default)]
pub struct Editor {
    pieces: Vec<Piece>,
    pastes: usize,
}

/// A paste longer than this many lines is shown as a placeholder, as both CLIs do.
const FOLDED_PASTE_LINES: usize = 40;

impl Editor {
    /// Takes a key or a paste; false for inputs that are not editing.
    pub fn take(&mut self, input: &Input) -> bool {
        match input {
            Input::Char(c) => match self.pieces.last_mut() {
                Some(Piece::Typed(text)) => text.push(*c),
                _ => self.pieces.push(Piece::Typed(c.to_string())),
            },
            Input::Paste(text) => {
                self.pastes += 1;
                self.pieces.push(Piece::Pasted {
                    number: self.pastes,
                    text: text.clone(),
                });
            }
            Input::Backspace => {
                let emptied = match self.pieces.last_mut() {
                    Some(Piece::Typed(text)) => {
                        text.pop();
                        text.is_empty()
                    }
                    Some(Piece::Pasted { .. }) => true,
                    None => false,
                };
                if emptied {
                    self.pieces.pop();
                }
            }
            _ => return false,
        }
        true
    }

    pub fn is_blank(&self) -> bool {
        self.text().trim().is_empty()
    }

    /// Everything typed and pasted, as it will be sent.
    pub fn text(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Typed(text) | Piece::Pasted { text, .. } => text.as_str(),
            })
            .collect()
    }

    /// The text as the input box shows it: long pastes folded into `placeholder(n, lines,
    /// chars)`.
    pub fn shown(&self, placeholder: impl Fn(usize, usize, usize) -> String) -> String {
        let mut shown = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Typed(text) => shown.push_str(text),
                Piece::Pasted { number, text } => {
                    let lines = text.lines().count();
                    if lines > FOLDED_PASTE_LINES {
                        shown.push_str(&placeholder(*number, lines, text.chars().count()));
                    } else {
                        shown.push_str(text);
                    }
                }
            }
        }
        shown
    }

    /// Empties the input (the message was sent); paste numbers go on counting.
    pub fn clear(&mut self) {
        self.pieces.clear();
    }
}

/// `text` as the lines of a prompt: `first` before its first line, `rest` before the others.
pub fn prompt_lines(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| format!("{}{line}", if i == 0 { first } else { rest }))
        .collect();
    if lines.is_empty() {
        lines.push(first.to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_paste_is_folded_and_sent_whole() {
        let mut editor = Editor::default();
        let long: String = (0..50).map(|i| format!("line {i}\n")).collect();
        editor.take(&Input::Char('>'));
        editor.take(&Input::Paste(long.clone()));
        let shown = editor.shown(|n, lines, _| format!("[Pasted text #{n} +{lines} lines]"));
        assert_eq!(shown, ">[Pasted text #1 +50 lines]");
        assert_eq!(editor.text(), format!(">{long}"));
        editor.take(&Input::Backspace);
        assert_eq!(editor.text(), ">");
    }

    #[test]
    fn a_short_paste_is_shown_as_it_is() {
        let mut editor = Editor::default();
        editor.take(&Input::Paste("a\nb".into()));
        assert_eq!(editor.shown(|_, _, _| String::new()), "a\nb");
        assert_eq!(prompt_lines("a\nb", "❯ ", "  "), ["❯ a", "  b"]);
    }
}
