//! The built-in detectors and the checks that keep ordinary content from being taken for a
//! value (Luhn, mod-97, SSN rules).

use super::*;

/// What makes a regex match a value, beyond the regex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
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
pub(super) struct Detector {
    pub(super) name: String,
    pub(super) placeholder: String,
    pub(super) regex: Regex,
    pub(super) check: Check,
}

/// The built-in rules, in the order that decides between two values found at the same place.
pub(super) const BUILTIN: &[(&str, &str, Check)] = &[
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
pub(super) fn builtin() -> &'static [Detector] {
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

pub(super) fn pem_begin() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"(?-u)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"))
}

pub(super) fn pem_end() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"(?-u)-----END [A-Z0-9 ]*PRIVATE KEY-----"))
}

/// A built-in pattern. Cannot fail: the patterns are constants of this module, and the test
/// `every_builtin_pattern_compiles` builds each one, so a typo fails the tests, not a run.
pub(super) fn constant(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .build()
        .expect("built-in redaction patterns are checked by the tests")
}

/// Whether `line` may hold a match of a digit-based detector. A superset test in one pass:
/// every card or SSN match has a run of at least 9 digits with at most one space or dash
/// between two of them, every IPv4 match three dots between digits, every IBAN match two
/// upper-case letters then two digits, every IPv6 match `::` or seven colons.
pub(super) fn digit_candidate(line: &[u8]) -> bool {
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
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) rank: usize,
}

impl Detector {
    /// Whether this is one of the detectors [`digit_candidate`] screens lines for.
    pub(super) fn digit_based(&self) -> bool {
        matches!(
            self.check,
            Check::Luhn | Check::Iban | Check::Ssn | Check::Ipv4 | Check::Ipv6
        )
    }

    /// Adds the values in `hay[from..]` to `spans`, as detector `rank`.
    pub(super) fn collect(&self, hay: &[u8], from: usize, rank: usize, spans: &mut Vec<Span>) {
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
    pub(super) fn find(&self, hay: &[u8], at: usize) -> Option<(usize, usize)> {
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
    pub(super) fn value(&self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
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
pub(super) fn longest_valid(text: &[u8], ok: impl Fn(&[u8]) -> bool) -> Option<usize> {
    let cuts = std::iter::once(text.len()).chain(
        (1..text.len())
            .rev()
            .filter(|&i| text[i] == b' ' || text[i] == b'-'),
    );
    cuts.into_iter().find(|&len| ok(&text[..len]))
}

/// The Luhn checksum of a card number's digits (ASCII).
pub(super) fn luhn(digits: &[u8]) -> bool {
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
pub(super) fn iban_ok(text: &[u8]) -> bool {
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
pub(super) fn ssn_ok(text: &[u8]) -> bool {
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
