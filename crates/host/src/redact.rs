//! Minimization: sensitive values in text replaced by typed placeholders.
//!
//! A [`Redactor`] holds the built-in detectors ([EMAIL], [CARD], [SSN], [IBAN], [IPV4], [IPV6],
//! [JWT], [AWS_KEY], [PRIVATE_KEY], [BEARER_TOKEN], [PASSWORD]) and the host owner's custom
//! rules. It works on bytes, a chunk of whole lines at a time, so a file of any size is
//! redacted in bounded memory; only a PEM private key block is followed across lines (and
//! across chunks). No other match ever spans a line.
//!
//! Detectors validate what they can, so that ordinary log content survives: a card number
//! must pass Luhn, an IBAN its mod-97 check, an SSN the area/group/serial rules, an address
//! std's parser, a JWT header must be base64url JSON. Where a value cannot be validated the
//! detector errs toward redaction: a dotted quad that parses as an address is redacted even
//! when it is a version number (`v1.2.3.4` and longer dotted runs such as `1.2.3.4.5` are
//! kept).
//!
//! A file is redacted as text: UTF-8 as it is, UTF-16 decoded to UTF-8 first, anything whose
//! encoding cannot be told refused (see the `encoding` submodule).
//!
//! What this module must never do: let a value it recognised through unchanged, leave a
//! private key's body in the output because its END line is missing (an unterminated block is
//! redacted to the end of the text), or pass on bytes it could not read as text.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use memchr::{memchr, memchr_iter, memmem};
use regex::bytes::{Regex, RegexBuilder};

use crate::error::{HostError, HostResult};

mod detect;
mod encoding;
mod stream;
#[cfg(test)]
mod tests;

use detect::*;
use encoding::{Decoder, Encoding};
use stream::*;

/// How many values of each kind were replaced, by rule name (`EMAIL`, ..., or a custom rule's
/// name).
pub type Counts = BTreeMap<String, u64>;

/// A host owner's rule: matches of `pattern` (Rust regex syntax) become `placeholder`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomRule {
    pub name: String,
    pub pattern: String,
    pub placeholder: String,
}

/// The built-in detectors and the custom rules, compiled. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    custom: Arc<Vec<Detector>>,
}

/// Placeholder of a private key block.
const PRIVATE_KEY: &str = "PRIVATE_KEY";

/// Read size while streaming: up to this many bytes of whole lines are redacted at once (the
/// same size the text commands read in); a longer line grows the buffer up to the caller's
/// line limit.
const CHUNK: usize = 256 << 10;

impl Redactor {
    /// The built-in detectors plus `rules`. A rule whose pattern does not compile, matches
    /// the empty string, or reuses a name, is refused with a message naming it.
    pub fn new(rules: &[CustomRule]) -> HostResult<Redactor> {
        let mut custom = Vec::with_capacity(rules.len());
        for rule in rules {
            let bad = |why: String| {
                HostError::InvalidInput(format!("redaction rule {:?}: {why}", rule.name))
            };
            if rule.name.is_empty() {
                return Err(HostError::InvalidInput(
                    "a redaction rule has an empty name; give every rule a name".to_owned(),
                ));
            }
            if rule.placeholder.is_empty() {
                return Err(bad(
                    "its placeholder is empty; e.g. \"[EMPLOYEE_ID]\"".into()
                ));
            }
            let taken = BUILTIN.iter().any(|&(name, ..)| name == rule.name)
                || rule.name == PRIVATE_KEY
                || custom.iter().any(|d: &Detector| d.name == rule.name);
            if taken {
                return Err(bad("the name is already used; rename the rule".into()));
            }
            let regex = Regex::new(&rule.pattern)
                .map_err(|e| bad(format!("invalid pattern {:?}: {e}", rule.pattern)))?;
            if regex.is_match(b"") {
                return Err(bad(format!(
                    "the pattern {:?} matches the empty string, so it would match everywhere",
                    rule.pattern
                )));
            }
            custom.push(Detector {
                name: rule.name.clone(),
                placeholder: rule.placeholder.clone(),
                regex,
                check: Check::Any,
            });
        }
        Ok(Redactor {
            custom: Arc::new(custom),
        })
    }

    /// `text` with every value replaced, and the counts.
    pub fn redact_text(&self, text: &str) -> (String, Counts) {
        let mut counts = Counts::new();
        let mut out = Vec::with_capacity(text.len());
        let mut in_pem = false;
        self.redact_chunk(text.as_bytes(), &mut in_pem, &mut out, &mut counts);
        // Placeholders are ASCII and cuts fall on ASCII bytes (line ends, matches of ASCII
        // patterns) or at custom matches, which the regex crate ends on char boundaries of
        // valid UTF-8; the lossy conversion only guards the proof of that.
        let text = match String::from_utf8(out) {
            Ok(t) => t,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        (text, counts)
    }

    /// Copies `input` to `output` redacted, a chunk of whole lines at a time. `fill` reads
    /// into the buffer (0 at the end); a line longer than `max_line` bytes of the file is
    /// refused.
    ///
    /// The encoding is told first (see the `encoding` submodule): UTF-8 is redacted as it is;
    /// UTF-16, with a byte order mark or told by its NUL bytes, is decoded, and `output`
    /// receives the redacted text as UTF-8, without the byte order mark. Anything else
    /// (Latin-1, binary, UTF-32, UTF-16 holding single-byte text too) is refused with an
    /// [`HostError::InvalidInput`] that says so; what was written to `output` by then must be
    /// thrown away.
    pub fn redact_stream(
        &self,
        mut fill: impl FnMut(&mut [u8]) -> HostResult<usize>,
        output: &mut impl Write,
        max_line: usize,
    ) -> HostResult<Counts> {
        let mut counts = Counts::new();
        let mut buf = vec![0u8; CHUNK.min(max_line.max(1))];
        let mut out = Vec::with_capacity(buf.len());
        let mut end = 0;
        let mut eof = false;
        let sniff = encoding::SNIFF.min(buf.len());
        while end < sniff && !eof {
            let n = fill(&mut buf[end..])?;
            eof = n == 0;
            end += n;
        }
        let (found, bom) = Encoding::sniff(&buf[..end])?;
        buf.copy_within(bom..end, 0);
        end -= bom;
        let mut decoder = Decoder::new(found, bom);
        let mut stream = Stream::default();
        // Bytes of `buf[..end]` already searched for a line end.
        let mut searched = 0;
        loop {
            if let Some(last) = found.line_end(&buf[..end], searched) {
                stream.redact(self, &mut decoder, &buf[..last], &mut out, &mut counts)?;
                write_out(&mut out, output)?;
                buf.copy_within(last..end, 0);
                end -= last;
            }
            searched = end;
            if eof {
                stream.redact(self, &mut decoder, &buf[..end], &mut out, &mut counts)?;
                write_out(&mut out, output)?;
                return Ok(counts);
            }
            if end == buf.len() {
                if buf.len() >= max_line {
                    return Err(HostError::TooLarge {
                        what: "a line of the file".to_owned(),
                        limit: format!("{max_line} bytes (max_string_bytes)"),
                    });
                }
                buf.resize((buf.len() * 2).min(max_line), 0);
            }
            let n = fill(&mut buf[end..])?;
            eof = n == 0;
            end += n;
        }
    }

    /// Redacts `chunk` (whole lines, or the end of the text) into `out`. `in_pem` says that a
    /// private key block began in an earlier chunk and has not ended.
    fn redact_chunk(
        &self,
        chunk: &[u8],
        in_pem: &mut bool,
        out: &mut Vec<u8>,
        counts: &mut Counts,
    ) {
        let mut pos = 0;
        loop {
            if *in_pem {
                match pem_end().find_at(chunk, pos) {
                    // The END line goes with the block; what follows it on that line stays.
                    Some(m) => {
                        *in_pem = false;
                        pos = m.end();
                    }
                    None => return,
                }
                continue;
            }
            let begin = pem_begin().find_at(chunk, pos);
            let segment_end = begin.map_or(chunk.len(), |m| m.start());
            self.redact_segment(&chunk[..segment_end], pos, out, counts);
            let Some(m) = begin else { return };
            out.extend_from_slice(b"[PRIVATE_KEY]");
            *counts.entry(PRIVATE_KEY.to_owned()).or_default() += 1;
            *in_pem = true;
            pos = m.end();
        }
    }

    /// Custom rules first, then the built-in ones: the order that settles ties.
    fn detectors(&self) -> impl Iterator<Item = &Detector> {
        self.custom.iter().chain(builtin())
    }

    /// Redacts `hay[from..]` into `out`; `hay[..from]` is context for word boundaries only.
    ///
    /// Detectors led by a literal (`@`, `eyJ`, `AKIA`, `bearer`, ...) search the whole segment
    /// at once, which the regex crate's literal search makes cheap. The digit-based ones
    /// (card, SSN, IBAN, addresses) have no such literal, and their automata cost far more
    /// per byte, so they run only on the lines that [`digit_candidate`] lets through.
    fn redact_segment(&self, hay: &[u8], from: usize, out: &mut Vec<u8>, counts: &mut Counts) {
        let mut spans: Vec<Span> = Vec::new();
        for (rank, d) in self.detectors().enumerate() {
            if !d.digit_based() {
                d.collect(hay, from, rank, &mut spans);
            }
        }
        let mut start = from;
        while start < hay.len() {
            let end = memchr(b'\n', &hay[start..]).map_or(hay.len(), |i| start + i);
            if digit_candidate(&hay[start..end]) {
                for (rank, d) in self.detectors().enumerate() {
                    if d.digit_based() {
                        d.collect(&hay[..end], start, rank, &mut spans);
                    }
                }
            }
            start = end + 1;
        }
        spans.sort_unstable_by_key(|s| (s.start, s.rank));
        let mut copied = from;
        let all: Vec<&Detector> = self.detectors().collect();
        for s in spans {
            if s.start < copied {
                continue;
            }
            let d = all[s.rank];
            out.extend_from_slice(&hay[copied..s.start]);
            out.extend_from_slice(d.placeholder.as_bytes());
            *counts.entry(d.name.clone()).or_default() += 1;
            copied = s.end;
        }
        out.extend_from_slice(&hay[copied..]);
    }
}
