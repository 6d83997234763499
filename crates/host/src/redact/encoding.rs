//! What a file's bytes are as text, told before they are redacted.
//!
//! The detectors match ASCII patterns in UTF-8 text. Text in another encoding slips past them
//! (UTF-16 puts a NUL between the letters of every address and key), so a redacted read first
//! tells the encoding: UTF-8 (a byte order mark, if any, is kept as text), UTF-16 with a byte
//! order mark, or UTF-16 without one where the NUL bytes of mostly-Latin text give it away.
//! UTF-16 is decoded to UTF-8 before redaction. Anything else is refused, never passed on.
//!
//! What this module must never do: hand the redactor bytes that are not UTF-8 text, or text
//! whose letters are kept apart by NUL bytes (UTF-16 or UTF-32 taken for UTF-8).

use memchr::memchr_iter;

use crate::error::HostError;

/// How many bytes at the start of a file are looked at to tell UTF-16 without a byte order
/// mark.
pub(super) const SNIFF: usize = 4096;

/// The encodings a redacted read takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    /// The encoding of a file that begins with `head` (up to [`SNIFF`] bytes, fewer only when
    /// the file is shorter), and how many bytes of byte order mark to skip.
    pub(super) fn sniff(head: &[u8]) -> Result<(Encoding, usize), HostError> {
        // Before the UTF-16 marks, which they begin with.
        if head.starts_with(&[0xFF, 0xFE, 0, 0]) || head.starts_with(&[0, 0, 0xFE, 0xFF]) {
            return Err(undecodable(
                "it begins with a UTF-32 byte order mark, and UTF-32 is not decoded".to_owned(),
            ));
        }
        if head.starts_with(&[0xFF, 0xFE]) {
            return Ok((Encoding::Utf16Le, 2));
        }
        if head.starts_with(&[0xFE, 0xFF]) {
            return Ok((Encoding::Utf16Be, 2));
        }
        // Text of Latin letters in UTF-16 has a zero in one byte of (nearly) every pair and in
        // (nearly) none of the other; UTF-32 has zeros in both, binary data no such order.
        let pairs = head.len() / 2;
        let zeros = |i: usize| head.chunks_exact(2).filter(|p| p[i] == 0).count();
        let (even, odd) = (zeros(0), zeros(1));
        let mostly = |many: usize, few: usize| many * 2 > pairs && few * 8 <= many;
        Ok(if mostly(odd, even) {
            (Encoding::Utf16Le, 0)
        } else if mostly(even, odd) {
            (Encoding::Utf16Be, 0)
        } else {
            (Encoding::Utf8, 0)
        })
    }

    /// The end of the last whole line in `bytes` (just past its newline) that ends after
    /// `from`. `bytes` starts at a character boundary.
    pub(super) fn line_end(self, bytes: &[u8], from: usize) -> Option<usize> {
        let newline = match self {
            Encoding::Utf8 => {
                return memchr::memrchr(b'\n', &bytes[from..]).map(|i| from + i + 1);
            }
            Encoding::Utf16Le => [b'\n', 0],
            Encoding::Utf16Be => [0, b'\n'],
        };
        // A newline unit may have begun in the byte before `from`.
        let start = from.saturating_sub(1) & !1;
        bytes[start..]
            .chunks_exact(2)
            .rposition(|unit| unit == newline)
            .map(|i| start + 2 * i + 2)
    }
}

/// Turns chunks of a file (whole lines, then the rest of the file) into the UTF-8 text that is
/// redacted, refusing what cannot be told.
pub(super) struct Decoder {
    encoding: Encoding,
    /// Where the next chunk begins in the file, for messages.
    offset: u64,
    /// The last chunk decoded from UTF-16.
    decoded: Vec<u8>,
}

impl Decoder {
    /// For a file in `encoding` whose first `skipped` bytes (its byte order mark) are not text.
    pub(super) fn new(encoding: Encoding, skipped: usize) -> Decoder {
        Decoder {
            encoding,
            offset: skipped as u64,
            decoded: Vec::new(),
        }
    }

    pub(super) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The chunk `raw` as UTF-8 text: itself if the file is UTF-8, decoded if UTF-16. Memory:
    /// UTF-16 takes 2 bytes for every 1 to 3 of UTF-8 (4 for 4 in a surrogate pair), so the
    /// text is at most half as large again as the chunk.
    pub(super) fn text<'a>(&'a mut self, raw: &'a [u8]) -> Result<&'a [u8], HostError> {
        let at = self.offset;
        self.offset += raw.len() as u64;
        let text = match self.encoding {
            Encoding::Utf8 => {
                if let Err(e) = std::str::from_utf8(raw) {
                    let pos = e.valid_up_to();
                    return Err(undecodable(match raw.get(pos) {
                        Some(b) if e.error_len().is_some() => {
                            format!("byte {b:#04x} at offset {} is not UTF-8", at + pos as u64)
                        }
                        _ => "it ends inside a UTF-8 character".to_owned(),
                    }));
                }
                raw
            }
            Encoding::Utf16Le | Encoding::Utf16Be => {
                self.decode_utf16(raw, at)?;
                &self.decoded
            }
        };
        if let Some(i) = interleaved(text) {
            return Err(undecodable(format!(
                "its text has NUL bytes between its letters (near offset {}), as UTF-16 or \
                 UTF-32 read as UTF-8 has, or binary data",
                at + i as u64
            )));
        }
        Ok(text)
    }

    fn decode_utf16(&mut self, raw: &[u8], at: u64) -> Result<(), HostError> {
        if raw.len() % 2 == 1 {
            return Err(undecodable(
                "it is UTF-16 but ends in the middle of a character".to_owned(),
            ));
        }
        let le = self.encoding == Encoding::Utf16Le;
        let units = raw.chunks_exact(2).map(|u| {
            let pair = [u[0], u[1]];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        });
        self.decoded.clear();
        self.decoded.reserve(raw.len() / 2 * 3);
        let mut units_read = 0u64;
        for c in char::decode_utf16(units) {
            let c = c.map_err(|e| {
                undecodable(format!(
                    "it is UTF-16 but holds a lone surrogate {:#06x} at offset {}",
                    e.unpaired_surrogate(),
                    at + 2 * units_read
                ))
            })?;
            units_read += c.len_utf16() as u64;
            let mut bytes = [0u8; 4];
            self.decoded
                .extend_from_slice(c.encode_utf8(&mut bytes).as_bytes());
        }
        Ok(())
    }
}

/// Where in `text` a byte other than NUL has a NUL on each side: letters kept apart by NULs
/// are no text the detectors can read. Runs of NULs (a log's zero-filled tail) and single NUL
/// separators (`a=1\0b=2`) pass.
fn interleaved(text: &[u8]) -> Option<usize> {
    memchr_iter(0, text).find(|&i| text.get(i + 2) == Some(&0) && text[i + 1] != 0)
}

/// The refusal of a redacted read whose text could not be told.
pub(super) fn undecodable(why: String) -> HostError {
    HostError::InvalidInput(format!(
        "the file cannot be read redacted: {why}, so its encoding could not be told and none \
         of its content is returned; a redacted read takes UTF-8 or UTF-16 text (convert the \
         file, or grant `read` where its raw bytes may be seen)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn tells_utf16_by_its_byte_order_mark_or_its_nul_bytes() {
        let sniff = |b: &[u8]| Encoding::sniff(b).unwrap();
        assert_eq!(sniff(b"\xFF\xFEa\0"), (Encoding::Utf16Le, 2));
        assert_eq!(sniff(b"\xFE\xFF\0a"), (Encoding::Utf16Be, 2));
        assert_eq!(sniff(&utf16le("user a@b.io\n")), (Encoding::Utf16Le, 0));
        assert_eq!(sniff(&utf16be("user a@b.io\n")), (Encoding::Utf16Be, 0));
        assert_eq!(
            sniff("plain \u{e9}t\u{e9}\n".as_bytes()),
            (Encoding::Utf8, 0)
        );
        assert_eq!(sniff(b"\xEF\xBB\xBFtext"), (Encoding::Utf8, 0));
        assert_eq!(sniff(b"a=1\0b=2\0"), (Encoding::Utf8, 0));
        assert_eq!(sniff(b""), (Encoding::Utf8, 0));
        // UTF-32 has zeros in both bytes of a pair: not taken for UTF-16.
        assert_eq!(sniff(b"a\0\0\0b\0\0\0c\0\0\0"), (Encoding::Utf8, 0));
        assert!(Encoding::sniff(b"\xFF\xFE\0\0a\0\0\0").is_err());
    }

    #[test]
    fn finds_utf16_line_ends_on_unit_boundaries_only() {
        let le = utf16le("ab\ncd\nef");
        assert_eq!(Encoding::Utf16Le.line_end(&le, 0), Some(12));
        assert_eq!(Encoding::Utf16Le.line_end(&le[..7], 0), Some(6));
        // A newline unit that straddles `from`.
        assert_eq!(Encoding::Utf16Le.line_end(&le, 5), Some(12));
        // U+0A0A holds 0x0A bytes but is no newline; nor is 0x0A 0x00 across two units.
        let odd = utf16le("\u{a0a}\u{a00}a");
        assert_eq!(Encoding::Utf16Le.line_end(&odd, 0), None);
        let be = utf16be("ab\ncd");
        assert_eq!(Encoding::Utf16Be.line_end(&be, 0), Some(6));
    }

    #[test]
    fn decodes_utf16_and_refuses_broken_utf16() {
        let mut d = Decoder::new(Encoding::Utf16Be, 2);
        assert_eq!(
            d.text(&utf16be("caf\u{e9} \u{1f600}\n")).unwrap(),
            "caf\u{e9} \u{1f600}\n".as_bytes()
        );
        let mut d = Decoder::new(Encoding::Utf16Le, 0);
        let err = d.text(&[0x00, 0xD8, b'a', 0]).unwrap_err().to_string();
        assert!(err.contains("lone surrogate 0xd800 at offset 0"), "{err}");
        let err = d.text(b"a\0b").unwrap_err().to_string();
        assert!(err.contains("middle of a character"), "{err}");
    }

    #[test]
    fn refuses_bytes_that_are_not_utf8_and_nul_interleaved_text() {
        let mut d = Decoder::new(Encoding::Utf8, 0);
        assert_eq!(d.text(b"ok\n").unwrap(), b"ok\n");
        let err = d.text(b"caf\xE9\n").unwrap_err().to_string();
        assert!(err.contains("byte 0xe9 at offset 6 is not UTF-8"), "{err}");
        assert!(err.contains("encoding could not be told"), "{err}");
        let err = d.text(b"x\xE2\x82").unwrap_err().to_string();
        assert!(err.contains("ends inside a UTF-8 character"), "{err}");
        let err = d.text(b"log\nA\0K\0I\0A\0").unwrap_err().to_string();
        assert!(err.contains("NUL bytes between its letters"), "{err}");
        // Zero-filled runs and single separators are text enough.
        assert!(d.text(b"a\n\0\0\0\0b=1\0c=2\0\n").is_ok());
    }
}
