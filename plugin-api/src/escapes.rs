//! Terminal escape sequences, read one way for everything that cleans text: the plugins' screen
//! reading (provider-kit's `strip_ansi`) and the host's sanitising of what goes into a pane or
//! to the operator's terminal.

/// Calls `keep` with every character of `text` that is not part of an escape sequence, in
/// order; what a sequence is (ECMA-48 and ECMA-35 shapes):
///
/// - CSI (`ESC [` or the 8-bit `0x9B`): parameter and intermediate bytes (`0x20`–`0x3F`) up to a
///   final byte (`0x40`–`0x7E`). A control character inside is executed by a terminal, so it is
///   dropped and the sequence goes on; `CAN` or `SUB` cancel it; `ESC` or a C1 control starts a
///   new one; any other character ends the malformed sequence and is kept, so text is never
///   swallowed up to the next letter.
/// - OSC, DCS, SOS, PM and APC (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _` or their 8-bit
///   forms): everything up to `BEL`, `ESC \`, `ST` (`0x9C`), `CAN` or `SUB`.
/// - Other escapes: intermediate bytes (`0x20`–`0x2F`, as in `ESC ( B` or `ESC $ ( C`) and one
///   final byte (`0x30`–`0x7E`, as in `ESC 7` or `ESC =`). An `ESC` followed by anything else is
///   dropped alone.
pub fn without_escapes(text: &str, mut keep: impl FnMut(char)) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => skip_escape(&mut chars),
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c => keep(c),
        }
    }
}

const ESC: char = '\u{1b}';
/// `CAN` and `SUB`: they cancel a sequence in progress.
const CANCEL: [char; 2] = ['\u{18}', '\u{1a}'];

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After `ESC`: the rest of the sequence it starts.
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            chars.next();
            skip_string(chars);
        }
        Some('\u{20}'..='\u{2f}') => {
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
        }
        Some('\u{30}'..='\u{7e}') => {
            chars.next();
        }
        _ => {}
    }
}

/// A control sequence's body, up to and including its final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\u{40}'..='\u{7e}' => {
                chars.next();
                return;
            }
            '\u{20}'..='\u{3f}' => {}
            c if CANCEL.contains(&c) => {
                chars.next();
                return;
            }
            // A new sequence begins: the caller reads it.
            ESC | '\u{80}'..='\u{9f}' => return,
            c if c.is_control() => {}
            _ => return,
        }
        chars.next();
    }
}

/// A string sequence's body (OSC, DCS, …), up to and including its terminator.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            c if CANCEL.contains(&c) => break,
            ESC => {
                chars.next_if_eq(&'\\');
                break;
            }
            _ => {}
        }
    }
}
