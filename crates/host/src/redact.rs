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

mod encoding;

use encoding::{Decoder, Encoding};

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

/// What makes a regex match a value, beyond the regex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The match is the value.
    Any,
    Luhn,
    Iban,
    Ssn,
    Ipv4,
    Ipv6,
    Jwt,
    /// Only the first capture group that took part is the value; the rest (a key, `Bearer `,
    /// quotes) stays.
    Group,
    /// As `Group`, and the token must hold a digit or a symbol, so `bearer authentication`
    /// in prose is kept.
    Token,
}

#[derive(Debug)]
struct Detector {
    name: String,
    placeholder: String,
    regex: Regex,
    check: Check,
}

/// The built-in rules, in the order that decides between two values found at the same place.
const BUILTIN: &[(&str, &str, Check)] = &[
    (
        "BEARER_TOKEN",
        r"(?-u)\b(?:[Bb]earer|BEARER)[ \t]+([A-Za-z0-9\-._~+/]{8,}=*)",
        Check::Token,
    ),
    (
        "PASSWORD",
        r#"(?-u)(?:[Pp]ass(?:word|wd|phrase)|PASS(?:WORD|WD|PHRASE)|[Pp]wd|PWD)[A-Za-z0-9_\-]*["']?[ \t]*[=:][ \t]*(?:"([^"\n]+)"|'([^'\n]+)'|([^ \t\r\n,;&"']+))"#,
        Check::Group,
    ),
    (
        "JWT",
        r"(?-u)\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*",
        Check::Jwt,
    ),
    ("AWS_KEY", r"(?-u)\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", Check::Any),
    (
        "EMAIL",
        r"(?-u)[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
        Check::Any,
    ),
    (
        "IBAN",
        r"(?-u)\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b",
        Check::Iban,
    ),
    ("CARD", r"(?-u)\b[0-9](?:[ \-]?[0-9]){12,18}\b", Check::Luhn),
    ("SSN", r"(?-u)\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", Check::Ssn),
    (
        "IPV6",
        r"(?i-u)(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?",
        Check::Ipv6,
    ),
    (
        "IPV4",
        r"(?-u)\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b",
        Check::Ipv4,
    ),
];

/// Compiled once per process, on first use: a run that never redacts never pays for it.
fn builtin() -> &'static [Detector] {
    static DETECTORS: OnceLock<Vec<Detector>> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        BUILTIN
            .iter()
            .map(|&(name, pattern, check)| Detector {
                name: name.to_owned(),
                placeholder: format!("[{name}]"),
                regex: constant(pattern),
                check,
            })
            .collect()
    })
}

fn pem_begin() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"(?-u)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"))
}

fn pem_end() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"(?-u)-----END [A-Z0-9 ]*PRIVATE KEY-----"))
}

/// A built-in pattern. Cannot fail: the patterns are constants of this module, and the test
/// `every_builtin_pattern_compiles` builds each one, so a typo fails the tests, not a run.
fn constant(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .build()
        .expect("built-in redaction patterns are checked by the tests")
}

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

/// Writes what `out` holds to `output`, and empties it.
fn write_out(out: &mut Vec<u8>, output: &mut impl Write) -> HostResult<()> {
    output
        .write_all(out)
        .map_err(|e| HostError::io("write", "<redacted copy>", e))?;
    out.clear();
    Ok(())
}

/// A redaction of a stream under way: what carries over from one chunk to the next.
#[derive(Default)]
struct Stream {
    /// A private key block began in an earlier chunk and has not ended.
    in_pem: bool,
    /// The same, in the undecoded bytes of a UTF-16 file.
    raw_in_pem: bool,
    /// Where the undecoded bytes are redacted to, only to learn whether they hold a value.
    raw_out: Vec<u8>,
}

impl Stream {
    /// Redacts `raw`, the next chunk of the file, into `out`, as `decoder` makes text of it.
    ///
    /// The bytes of a UTF-16 file are searched undecoded too: a value found there is
    /// single-byte text inside the file, which decoding would turn into CJK-looking characters
    /// that give the value back once encoded again; such a file is refused.
    fn redact(
        &mut self,
        redactor: &Redactor,
        decoder: &mut Decoder,
        raw: &[u8],
        out: &mut Vec<u8>,
        counts: &mut Counts,
    ) -> HostResult<()> {
        if decoder.encoding() != Encoding::Utf8 {
            let mut found = Counts::new();
            self.raw_out.clear();
            redactor.redact_chunk(raw, &mut self.raw_in_pem, &mut self.raw_out, &mut found);
            if let Some(name) = found.keys().next() {
                return Err(encoding::undecodable(format!(
                    "it is UTF-16 but holds single-byte text as well, with a value to redact \
                     ({name}) in it"
                )));
            }
        }
        let text = decoder.text(raw)?;
        redactor.redact_chunk(text, &mut self.in_pem, out, counts);
        Ok(())
    }
}

/// Whether `line` may hold a match of a digit-based detector. A superset test in one pass:
/// every card or SSN match has a run of at least 9 digits with at most one space or dash
/// between two of them, every IPv4 match three dots between digits, every IBAN match two
/// upper-case letters then two digits, every IPv6 match `::` or seven colons.
fn digit_candidate(line: &[u8]) -> bool {
    // memchr's vector search settles the colon test at a fraction of a byte loop's cost.
    if memmem::find(line, b"::").is_some() || memchr_iter(b':', line).nth(6).is_some() {
        return true;
    }
    let n = line.len();
    let digit = |i: usize| i < n && line[i].is_ascii_digit();
    let mut i = 0;
    while i < n {
        // Most bytes of a log line are not digits; this loop is the cost of the test.
        while i < n && !line[i].is_ascii_digit() {
            i += 1;
        }
        if i == n {
            break;
        }
        if i >= 2
            && line[i - 1].is_ascii_uppercase()
            && line[i - 2].is_ascii_uppercase()
            && digit(i + 1)
        {
            return true;
        }
        // One run: digits, with single spaces or dashes (a card, an SSN) or dots (an IPv4
        // address) between them.
        let (mut run, mut dots) = (0usize, 0usize);
        loop {
            let start = i;
            while digit(i) {
                i += 1;
            }
            run += i - start;
            if run >= 9 {
                return true;
            }
            match line.get(i) {
                Some(b' ' | b'-') if digit(i + 1) => dots = 0,
                Some(b'.') if digit(i + 1) => {
                    dots += 1;
                    if dots >= 3 {
                        return true;
                    }
                    run = 0;
                }
                _ => break,
            }
            i += 1;
        }
    }
    false
}

/// A value found: `hay[start..end]` becomes the placeholder of detector `rank`.
struct Span {
    start: usize,
    end: usize,
    rank: usize,
}

impl Detector {
    /// Whether this is one of the detectors [`digit_candidate`] screens lines for.
    fn digit_based(&self) -> bool {
        matches!(
            self.check,
            Check::Luhn | Check::Iban | Check::Ssn | Check::Ipv4 | Check::Ipv6
        )
    }

    /// Adds the values in `hay[from..]` to `spans`, as detector `rank`.
    fn collect(&self, hay: &[u8], from: usize, rank: usize, spans: &mut Vec<Span>) {
        let mut at = from;
        while let Some((start, end)) = self.find(hay, at) {
            match self.value(hay, start, end) {
                Some((s, e)) => {
                    spans.push(Span {
                        start: s,
                        end: e,
                        rank,
                    });
                    at = end.max(start + 1);
                }
                // A rejected candidate may hide a value that starts inside it (an order
                // number before a card number), so the search resumes just after its
                // start; the patterns' leading word boundaries keep that cheap.
                None => at = start + 1,
            }
            if at > hay.len() {
                break;
            }
        }
    }

    /// The next match at or after `at` that stays within one line.
    fn find(&self, hay: &[u8], at: usize) -> Option<(usize, usize)> {
        let mut at = at;
        loop {
            let m = self.regex.find_at(hay, at)?;
            if memchr(b'\n', m.as_bytes()).is_none() {
                return Some((m.start(), m.end()));
            }
            // Searched again within the line the match starts on: a match there starts no
            // earlier, and one that does not exist there would have needed the newline.
            let line_end = m.start() + memchr(b'\n', &hay[m.start()..]).unwrap_or(0);
            if let Some(m) = self.regex.find_at(&hay[..line_end], m.start()) {
                return Some((m.start(), m.end()));
            }
            at = line_end + 1;
            if at > hay.len() {
                return None;
            }
        }
    }

    /// The part of the match `hay[start..end]` to replace, if it is a value.
    fn value(&self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
        let text = &hay[start..end];
        match self.check {
            Check::Any => Some((start, end)),
            Check::Luhn => longest_valid(text, |t| {
                let digits: Vec<u8> = t.iter().filter(|b| b.is_ascii_digit()).copied().collect();
                (13..=19).contains(&digits.len()) && luhn(&digits)
            })
            .map(|len| (start, start + len)),
            Check::Iban => longest_valid(text, iban_ok).map(|len| (start, start + len)),
            Check::Ssn => ssn_ok(text).then_some((start, end)),
            Check::Ipv4 => {
                let before = start.checked_sub(1).map(|i| hay[i]);
                let after = hay.get(end..end + 2).unwrap_or(&[]);
                // Part of a longer dotted run (`1.2.3.4.5`, `x.1.2.3.4`): a version, an OID.
                let dotted_run = before == Some(b'.')
                    || (after.first() == Some(&b'.')
                        && after.get(1).is_some_and(u8::is_ascii_digit));
                let parses = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<Ipv4Addr>().ok())
                    .is_some();
                (parses && !dotted_run).then_some((start, end))
            }
            Check::Ipv6 => {
                let word = |b: Option<&u8>| {
                    b.is_some_and(|b| b.is_ascii_alphanumeric() || b"_:.".contains(b))
                };
                let bounded =
                    !word(start.checked_sub(1).and_then(|i| hay.get(i))) && !word(hay.get(end));
                // `a::b` in code is a valid address and not worth hiding; addresses met in logs
                // hold a decimal digit.
                let digit = text.iter().any(u8::is_ascii_digit);
                let parses = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<Ipv6Addr>().ok())
                    .is_some();
                (bounded && digit && parses).then_some((start, end))
            }
            Check::Jwt => {
                let header = text.split(|&b| b == b'.').next()?;
                let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(header)
                    .ok()?;
                let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
                value.get("alg")?;
                Some((start, end))
            }
            Check::Group | Check::Token => {
                let caps = self.regex.captures_at(&hay[..end], start)?;
                let group = caps.iter().skip(1).flatten().next()?;
                let token_like = self.check == Check::Group
                    || group.as_bytes().iter().any(|b| !b.is_ascii_alphabetic());
                token_like.then_some((group.start(), group.end()))
            }
        }
    }
}

/// The length of the longest prefix of `text` that is the whole text or ends just before a
/// separator (space or dash) and passes `ok`: a greedy match that took a trailing group is cut
/// back to the value.
fn longest_valid(text: &[u8], ok: impl Fn(&[u8]) -> bool) -> Option<usize> {
    let cuts = std::iter::once(text.len()).chain(
        (1..text.len())
            .rev()
            .filter(|&i| text[i] == b' ' || text[i] == b'-'),
    );
    cuts.into_iter().find(|&len| ok(&text[..len]))
}

/// The Luhn checksum of a card number's digits (ASCII).
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616: 15 to 34 characters once spaces are removed, and the number made of the
/// rearranged characters (letters as 10..35) is 1 modulo 97.
fn iban_ok(text: &[u8]) -> bool {
    let compact: Vec<u8> = text.iter().filter(|&&b| b != b' ').copied().collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// A US social security number `AAA-GG-SSSS` as issued: area not 000, 666 or 900-999, group
/// not 00, serial not 0000.
fn ssn_ok(text: &[u8]) -> bool {
    let num = |r: std::ops::Range<usize>| {
        text.get(r)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse::<u32>().ok())
    };
    match (num(0..3), num(4..6), num(7..11)) {
        (Some(area), Some(group), Some(serial)) => {
            area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> (String, Counts) {
        Redactor::default().redact_text(text)
    }

    fn redacted(text: &str) -> String {
        redact(text).0
    }

    fn counts(pairs: &[(&str, u64)]) -> Counts {
        pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn every_builtin_pattern_compiles() {
        assert_eq!(builtin().len(), BUILTIN.len());
        assert!(pem_begin().is_match(b"-----BEGIN PRIVATE KEY-----"));
        assert!(pem_end().is_match(b"-----END RSA PRIVATE KEY-----"));
    }

    #[test]
    fn replaces_emails_and_counts_them() {
        let (text, c) =
            redact("login ok user=alice.smith+ops@example.co.uk from web; cc bob@corp.io\n");
        assert_eq!(text, "login ok user=[EMAIL] from web; cc [EMAIL]\n");
        assert_eq!(c, counts(&[("EMAIL", 2)]));
        // An @ without a domain is not an address.
        assert_eq!(
            redacted("@here ping user@localhost"),
            "@here ping user@localhost"
        );
    }

    #[test]
    fn replaces_card_numbers_that_pass_luhn_only() {
        assert_eq!(
            redacted("paid with 4111 1111 1111 1111 ok"),
            "paid with [CARD] ok"
        );
        assert_eq!(redacted("card=5500-0000-0000-0004;"), "card=[CARD];");
        assert_eq!(redacted("amex 378282246310005."), "amex [CARD].");
        // A 16-digit order number that fails Luhn is kept, as is a short number.
        assert_eq!(
            redacted("order 4111111111111112 shipped, id 123456789012"),
            "order 4111111111111112 shipped, id 123456789012"
        );
        // A trailing group the regex took greedily is cut back to the valid number.
        assert_eq!(redacted("4111111111111111 7 items"), "[CARD] 7 items");
        // A number before the card does not hide it.
        assert_eq!(redacted("ref 1234 4111111111111111"), "ref 1234 [CARD]");
    }

    #[test]
    fn replaces_ibans_that_pass_mod_97_only() {
        assert_eq!(
            redacted("refund to DE89 3704 0044 0532 0130 00 EUR 20"),
            "refund to [IBAN] EUR 20"
        );
        assert_eq!(redacted("GB82WEST12345698765432"), "[IBAN]");
        // One digit changed: the checksum fails.
        assert_eq!(redacted("GB82WEST12345698765433"), "GB82WEST12345698765433");
    }

    #[test]
    fn replaces_ssns_that_follow_the_issuing_rules() {
        assert_eq!(redacted("ssn 123-45-6789."), "ssn [SSN].");
        for kept in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert_eq!(redacted(kept), kept);
        }
        // A date is not an SSN.
        assert_eq!(redacted("2026-11-20"), "2026-11-20");
    }

    #[test]
    fn replaces_ipv4_addresses_but_not_timestamps_or_dotted_runs() {
        assert_eq!(
            redacted("client 10.0.12.7:443 via 192.168.1.1"),
            "client [IPV4]:443 via [IPV4]"
        );
        for kept in [
            "2026-11-20T08:00:01.123Z",
            "12:30:45.250",
            "256.1.1.1",
            "v1.2.3.4",
            "1.2.3.4.5",
            "oid 1.3.6.1.4.1",
            "010.1.1.1",
        ] {
            assert_eq!(redacted(kept), kept);
        }
        // A bare dotted quad could be an address: redacted, even in a version sentence.
        assert_eq!(redacted("release 1.2.3.4 out"), "release [IPV4] out");
    }

    #[test]
    fn replaces_ipv6_addresses_but_not_times_macs_or_paths() {
        assert_eq!(
            redacted("from 2001:db8::8a2e:370:7334 and [fe80::1]:22 and ::1"),
            "from [IPV6] and [[IPV6]]:22 and [IPV6]"
        );
        assert_eq!(
            redacted("2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
            "[IPV6]"
        );
        for kept in [
            "at 12:30:45",
            "mac 00:1a:2b:3c:4d:5e",
            "std::io::Error",
            "use a::b;",
            "x :: y",
        ] {
            assert_eq!(redacted(kept), kept);
        }
    }

    #[test]
    fn replaces_jwts_with_a_json_header() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(redacted(&format!("token={jwt} next")), "token=[JWT] next");
        // eyJ... that is not base64 of JSON with alg.
        let fake = "eyJnotjson.eyJabc.def";
        assert_eq!(redacted(fake), fake);
    }

    #[test]
    fn replaces_aws_access_key_ids() {
        assert_eq!(
            redacted("key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A"),
            "key [AWS_KEY] and [AWS_KEY]"
        );
        assert_eq!(redacted("AKIA1234"), "AKIA1234");
        assert_eq!(redacted("XAKIAIOSFODNN7EXAMPLE"), "XAKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn replaces_bearer_tokens_keeping_the_scheme() {
        assert_eq!(
            redacted("Authorization: Bearer abc123.def-456_ghi"),
            "Authorization: Bearer [BEARER_TOKEN]"
        );
        // A bearer JWT is one bearer token, not two values.
        let (text, c) = redact("authorization: bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig");
        assert_eq!(text, "authorization: bearer [BEARER_TOKEN]");
        assert_eq!(c, counts(&[("BEARER_TOKEN", 1)]));
        assert_eq!(
            redacted("the bearer authentication scheme"),
            "the bearer authentication scheme"
        );
    }

    #[test]
    fn replaces_password_values_keeping_the_key() {
        assert_eq!(
            redacted("db_password=hunter2 user=app"),
            "db_password=[PASSWORD] user=app"
        );
        assert_eq!(
            redacted(r#"{"password": "s3cr3t pass", "user": "x"}"#),
            r#"{"password": "[PASSWORD]", "user": "x"}"#
        );
        assert_eq!(redacted("PASSWD: 'abc'"), "PASSWD: '[PASSWORD]'");
        assert_eq!(
            redacted("password reset requested"),
            "password reset requested"
        );
    }

    #[test]
    fn replaces_a_private_key_block_spanning_lines() {
        let text = "before\nkey: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY----- tail\nafter 10.0.0.1\n";
        let (out, c) = redact(text);
        assert_eq!(out, "before\nkey: [PRIVATE_KEY] tail\nafter [IPV4]\n");
        assert_eq!(c, counts(&[("IPV4", 1), ("PRIVATE_KEY", 1)]));
        // Without its END line, the rest of the text goes.
        assert_eq!(
            redacted("a\n-----BEGIN PRIVATE KEY-----\nMIIE\nb@example.com\n"),
            "a\n[PRIVATE_KEY]"
        );
    }

    #[test]
    fn digit_prefilter_lets_through_every_line_a_digit_detector_matches() {
        // Lines from an alphabet rich in what the digit-based patterns are made of, from a
        // fixed pseudo-random sequence: whenever a pattern matches, the prefilter must pass.
        const ALPHABET: &[u8] = b"0123456789  --..::ABZaf";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut matched = 0;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 8 + (seed % 40) as usize;
            let line: Vec<u8> = (0..len)
                .map(|i| ALPHABET[((seed >> (i % 58)) as usize + i * 7) % ALPHABET.len()])
                .collect();
            let any = builtin()
                .iter()
                .filter(|d| d.digit_based())
                .any(|d| d.regex.is_match(&line));
            if any {
                matched += 1;
                assert!(digit_candidate(&line), "{}", String::from_utf8_lossy(&line));
            }
        }
        assert!(
            matched > 1000,
            "only {matched} lines matched; the test proves little"
        );
        for line in [
            "4111 1111 1111 1111",
            "123-45-6789",
            "10.0.0.1",
            "GB82WEST12345698765432",
            "fe80::1",
            "1:2:3:4:5:6:7:8",
        ] {
            assert!(digit_candidate(line.as_bytes()), "{line}");
        }
        assert!(!digit_candidate(
            b"2026-11-20T08:00:01.123Z INFO GET /api/v2/items/42 latency=12.5ms"
        ));
    }

    #[test]
    fn leaves_ordinary_log_lines_alone() {
        let line = "2026-11-20T08:00:01.123Z INFO [worker-3] GET /api/v2/items?page=4 200 12.5ms req=8f14e45f\n";
        assert_eq!(redacted(line), line);
    }

    #[test]
    fn streams_with_the_same_result_as_whole_text_across_chunk_ends() {
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("2026-11-20 line {i} user{i}@example.com ok\n"));
            if i == 20_000 {
                text.push_str("-----BEGIN PRIVATE KEY-----\n");
                for _ in 0..20_000 {
                    text.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n");
                }
                text.push_str("-----END PRIVATE KEY-----\n");
            }
        }
        let r = Redactor::default();
        let (whole, whole_counts) = r.redact_text(&text);
        let mut input = text.as_bytes();
        let mut out = Vec::new();
        let streamed = r
            .redact_stream(
                |buf| Ok(std::io::Read::read(&mut input, buf).unwrap()),
                &mut out,
                1 << 20,
            )
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), whole);
        assert_eq!(streamed, whole_counts);
        assert_eq!(streamed, counts(&[("EMAIL", 40_000), ("PRIVATE_KEY", 1)]));
        assert!(!whole.contains("MIIE"));
    }

    /// `bytes` streamed through the default redactor, `step` bytes per read at most.
    fn streamed(bytes: &[u8], step: usize) -> HostResult<(String, Counts)> {
        let mut input = bytes;
        let mut out = Vec::new();
        let counts = Redactor::default().redact_stream(
            |buf| {
                let n = buf.len().min(step);
                Ok(std::io::Read::read(&mut input, &mut buf[..n]).unwrap())
            },
            &mut out,
            1 << 20,
        )?;
        Ok((String::from_utf8(out).unwrap(), counts))
    }

    #[test]
    fn stream_decodes_utf16_and_redacts_it_as_utf8() {
        let text = "login alice@example.com key AKIAIOSFODNN7EXAMPLE\r\ndb_password=hunter2\r\npaid 4111 1111 1111 1111\r\n";
        let want = "login [EMAIL] key [AWS_KEY]\r\ndb_password=[PASSWORD]\r\npaid [CARD]\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let with_bom = |bom: &[u8], body: &[u8]| [bom, body].concat();
        for (input, what) in [
            (with_bom(b"\xFF\xFE", &le), "UTF-16LE with BOM"),
            (with_bom(b"\xFE\xFF", &be), "UTF-16BE with BOM"),
            (le.clone(), "UTF-16LE without BOM"),
            (be.clone(), "UTF-16BE without BOM"),
        ] {
            // Odd read sizes cut code units and lines in two.
            for step in [1 << 20, 7, 1] {
                let (out, found) = streamed(&input, step).unwrap();
                assert_eq!(out, want, "{what}, {step} bytes a read");
                assert_eq!(
                    found,
                    counts(&[("AWS_KEY", 1), ("CARD", 1), ("EMAIL", 1), ("PASSWORD", 1)])
                );
            }
        }
    }

    #[test]
    fn stream_refuses_what_it_cannot_read_as_text() {
        let refused = |bytes: &[u8]| match streamed(bytes, 1 << 20) {
            Err(HostError::InvalidInput(m)) => m,
            other => panic!("{other:?}"),
        };
        // Latin-1 with a high byte, far past the first chunk.
        let mut latin1 = "user bob@example.com\n".repeat(20_000).into_bytes();
        latin1.extend_from_slice(b"caf\xE9 carol@example.com\n");
        let m = refused(&latin1);
        assert!(m.contains("is not UTF-8"), "{m}");
        assert!(m.contains("encoding could not be told"), "{m}");
        assert!(!m.contains("carol"), "{m}");
        // Binary data, and UTF-32.
        assert!(refused(b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe\x03\0").contains("could not be told"));
        let utf32: Vec<u8> = "a@example.com\n"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert!(refused(&utf32).contains("NUL bytes between its letters"));
        // UTF-16 that holds a single-byte AWS key: decoding would hide it, not remove it.
        let mut mixed: Vec<u8> = "ok\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        mixed.extend_from_slice(b"AKIAIOSFODNN7EXAMPLE");
        let m = refused(&[b"\xFF\xFE".as_slice(), &mixed].concat());
        assert!(
            m.contains("single-byte text") && m.contains("AWS_KEY"),
            "{m}"
        );
    }

    #[test]
    fn stream_refuses_a_line_longer_than_the_limit() {
        let text = "x".repeat(5000);
        let mut input = text.as_bytes();
        let result = Redactor::default().redact_stream(
            |buf| Ok(std::io::Read::read(&mut input, buf).unwrap()),
            &mut Vec::new(),
            1000,
        );
        assert!(
            matches!(result, Err(HostError::TooLarge { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn applies_custom_rules_before_the_builtin_ones() {
        let r = Redactor::new(&[CustomRule {
            name: "employee_id".into(),
            pattern: r"EMP-\d{3}-\d{2}-\d{4}".into(),
            placeholder: "[EMPLOYEE]".into(),
        }])
        .unwrap();
        let (text, c) = r.redact_text("by EMP-123-45-6789 for 123-45-6789\n");
        assert_eq!(text, "by [EMPLOYEE] for [SSN]\n");
        assert_eq!(c, counts(&[("SSN", 1), ("employee_id", 1)]));
    }

    #[test]
    fn custom_matches_never_span_lines() {
        let r = Redactor::new(&[CustomRule {
            name: "pair".into(),
            pattern: r"a\s+b".into(),
            placeholder: "[PAIR]".into(),
        }])
        .unwrap();
        assert_eq!(r.redact_text("a\nb a b\n").0, "a\nb [PAIR]\n");
    }

    #[test]
    fn refuses_invalid_custom_rules() {
        let rule = |name: &str, pattern: &str, placeholder: &str| CustomRule {
            name: name.into(),
            pattern: pattern.into(),
            placeholder: placeholder.into(),
        };
        for (bad, why) in [
            (rule("x", "(", "[X]"), "invalid pattern"),
            (rule("x", "a*", "[X]"), "empty string"),
            (rule("x", "a", ""), "placeholder is empty"),
            (rule("", "a", "[X]"), "empty name"),
            (rule("EMAIL", "a", "[X]"), "already used"),
        ] {
            let err = Redactor::new(&[bad]).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
