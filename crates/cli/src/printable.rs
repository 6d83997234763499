//! Text that came from a script, a file, a token or a record, made safe to print for people.
//!
//! A terminal obeys what it is sent: an escape sequence can retitle the window, clear the
//! screen or write the clipboard (OSC 52), a carriage return or newline can draw a line that
//! looks like one of ours (a log line, an audit record), and bidirectional overrides can show
//! text in another order than it is. So every human-facing print passes what it did not write
//! itself through [`line`] (one line, table cell or record field) or [`text`] (text of many
//! lines, such as a file's content), which spell such characters out instead: `\x1b`, `\r`,
//! `\u{202e}`.
//!
//! The escapes are for reading, not a reversible encoding: a backslash is printed as it is,
//! so a name that holds the four characters `\x1b` looks like one that holds ESC. The JSON
//! outputs are the exact form, and need none of this (JSON escapes every C0 control).
//!
//! What this module must never do: let a control character (C0, DEL, C1) or a line or
//! direction override through, but for the newlines and tabs that [`text`] keeps.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` for one line, one table cell or one record field: newlines, carriage returns and tabs
/// are escaped too, so that a value can neither start a line of its own nor shift columns.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// `s` as multi-line text (a file's content, a result): newlines and tabs are kept, every
/// other control character is escaped.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_lines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| needs_escape(c) && !(keep_lines && matches!(c, '\n' | '\t'));
    let Some(first) = s.find(unsafe_char) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if !unsafe_char(c) {
            out.push(c);
            continue;
        }
        // Writing to a String cannot fail.
        let _ = match c {
            '\n' => write!(out, "\\n"),
            '\r' => write!(out, "\\r"),
            '\t' => write!(out, "\\t"),
            '\0'..='\x1f' | '\x7f' => write!(out, "\\x{:02x}", c as u32),
            _ => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// Whether a terminal could act on `c` or misplace text around it: C0 controls, DEL, C1
/// controls, the line and paragraph separators, and the bidirectional marks, embeddings,
/// overrides and isolates.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences_visibly() {
        assert_eq!(line("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(line("\x1b[2J"), "\\x1b[2J");
        assert_eq!(
            text("\x1b]52;c;aGk=\x07 and \u{9b}2J"),
            "\\x1b]52;c;aGk=\\x07 and \\u{9b}2J"
        );
        assert_eq!(line("a\x7fb\0"), "a\\x7fb\\x00");
    }

    #[test]
    fn one_line_escapes_line_breaks_and_tabs_and_text_keeps_newlines_and_tabs() {
        assert_eq!(line("a\nb\r\nc\td"), "a\\nb\\r\\nc\\td");
        assert_eq!(text("a\nb\r\nc\td"), "a\nb\\r\nc\td");
        assert_eq!(text("x\u{2028}y\u{2029}"), "x\\u{2028}y\\u{2029}");
    }

    #[test]
    fn escapes_bidirectional_overrides_and_isolates() {
        assert_eq!(line("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        assert_eq!(
            line("\u{2066}\u{2069}\u{200f}\u{61c}"),
            "\\u{2066}\\u{2069}\\u{200f}\\u{61c}"
        );
    }

    #[test]
    fn leaves_printable_text_as_it_is_without_copying() {
        for s in [
            "plain",
            "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}",
            "back\\slash \"q\"",
            "",
        ] {
            assert!(matches!(line(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }
}
