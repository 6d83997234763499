//! The streaming text readers behind cat, grep, tail, wc, sed and awk.
//!
//! Every function here receives a file that the gate already permitted and that the caller
//! already opened: nothing here resolves a path. Each reads the whole file from its start,
//! whatever the descriptor's offset, through a bounded buffer, so memory does not grow with the
//! file; it polls the run's interrupt before every read, and refuses a result with `TooLarge` as
//! soon as building it would cross the run's [`Limits`].
//!
//! Lines are split on `\n`. Results that are lists of lines (grep, awk) drop the terminator and
//! a `\r` just before it, as Rex does; results that are text (cat, tail, sed) keep the file's
//! bytes, `\r` and final newline included. Bytes that are not UTF-8 become U+FFFD.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use grep_matcher::LineTerminator;
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{
    BinaryDetection, MmapChoice, Searcher, SearcherBuilder, Sink, SinkError, SinkMatch,
};
use memchr::{memchr, memrchr_iter};
use regex::Regex;

use crate::error::{HostError, HostResult};
use crate::{Interrupt, Limits};

/// Stands for the file in error messages: these functions receive a descriptor, not a path.
const FILE: &str = "<file>";

/// Read size for wc, cat and the line reader: large enough that a read system call costs
/// little next to the bytes it brings, small enough to stay in L2.
const CHUNK: usize = 256 << 10;

/// Read size when tail scans backwards: the last lines of a file are usually near its end.
const TAIL_CHUNK: usize = 64 << 10;

/// The limits and stop flag every reader obeys.
#[derive(Clone, Copy, Debug)]
pub struct TextCtx<'a> {
    pub limits: Limits,
    pub interrupt: &'a Interrupt,
}

/// `cat`: the whole file. With `number`, each line is prefixed with its number right-aligned in
/// six columns and a tab, as `cat -n` does; the file's line ends are kept either way.
pub fn cat(file: &mut File, number: bool, ctx: &TextCtx) -> HostResult<String> {
    let max = ctx.limits.max_string_bytes;
    let size = file
        .metadata()
        .map_err(|e| HostError::io("stat", FILE, e))?
        .len();
    // Refused before reading, but the read below is capped as well: /proc files and files
    // that grow meanwhile do not report their real size.
    if size > max as u64 {
        return Err(too_large("the file", bytes(max)));
    }
    if !number {
        rewind(file)?;
        let content = read_up_to(file, ctx, (max as u64).saturating_add(1), size)?;
        if content.len() > max {
            return Err(too_large("the file", bytes(max)));
        }
        return into_text(content, max, "the file");
    }
    let mut out = TextOut::new(max, "cat's numbered output");
    let mut lines = Lines::new(file, ctx)?;
    while let Some(line) = lines.next()? {
        out.push(&format!("{:>6}\t", line.number))?;
        out.push(&String::from_utf8_lossy(line.bytes))?;
    }
    Ok(out.text)
}

/// Flags of [`grep`], named after grep's own.
#[derive(Clone, Debug, Default)]
pub struct GrepOptions {
    pub ignore_case: bool,
    /// Return how many lines were selected instead of the lines.
    pub count: bool,
    /// Select the lines that do not match.
    pub invert: bool,
    /// Prefix each line with its 1-based number and a colon.
    pub line_number: bool,
    /// Stop after this many selected lines. `Some(0)` means no cap, as in Rex.
    pub max_count: Option<u64>,
}

/// What [`grep`] found: the selected lines, or only their number when `count` was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrepOutput {
    Lines(Vec<String>),
    Count(u64),
}

/// `grep`: the lines matching `pattern` (Rust regex syntax), without their line ends.
///
/// `$` matches before a `\r\n` line end as well as before `\n`, so that a CRLF file behaves as
/// Rex, which matches against lines with the `\r\n` removed.
pub fn grep(
    file: &mut File,
    pattern: &str,
    opts: &GrepOptions,
    ctx: &TextCtx,
) -> HostResult<GrepOutput> {
    let found = search(file, pattern, opts, ctx, "grep's result")?;
    Ok(if opts.count {
        GrepOutput::Count(found.count)
    } else {
        GrepOutput::Lines(found.lines.lines)
    })
}

/// Which lines [`tail`] returns. Line numbers are 1-based and ranges inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailRange {
    /// The last n lines.
    Last(u64),
    /// From line k to the end.
    From(u64),
    /// Lines a to b.
    Range(u64, u64),
}

/// `tail`: the selected lines as the file has them, so the result ends with a newline exactly
/// when the last selected line had one (`str::lines` on it gives Rex's array of lines).
///
/// `Last` seeks to the end and scans backwards, so its cost depends on the lines returned,
/// not on the file's size.
pub fn tail(file: &mut File, range: TailRange, ctx: &TextCtx) -> HostResult<String> {
    let max = ctx.limits.max_string_bytes;
    let (first, last) = match range {
        TailRange::Last(n) => {
            let (start, end) = start_of_last_lines(file, n, ctx)?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| HostError::io("seek", FILE, e))?;
            let content = read_up_to(file, ctx, end - start, end - start)?;
            return into_text(content, max, "tail's result");
        }
        TailRange::From(k) => (k, u64::MAX),
        TailRange::Range(a, b) => (a, b),
    };
    let mut out = Vec::new();
    for_lines_between(file, first, last, ctx, |line| {
        if out.len() + line.bytes.len() > max {
            return Err(too_large("tail's result", bytes(max)));
        }
        out.extend_from_slice(line.bytes);
        Ok(())
    })?;
    into_text(out, max, "tail's result")
}

/// What [`wc`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WcCounts {
    /// Newline characters, as `wc -l` counts them.
    pub lines: u64,
    /// Maximal runs of bytes other than space, `\t`, `\n`, `\v`, `\f` and `\r`.
    pub words: u64,
    pub bytes: u64,
}

/// `wc`: lines, words and bytes, in one pass over a fixed buffer.
pub fn wc(file: &mut File, ctx: &TextCtx) -> HostResult<WcCounts> {
    rewind(file)?;
    let mut input = Polled::new(file, ctx);
    let mut buf = vec![0u8; CHUNK];
    let mut counts = WcCounts::default();
    // The byte before the file counts as a space, so a leading word is counted.
    let mut after_space = true;
    loop {
        let n = input.fill(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let (newlines, word_starts) = newlines_and_word_starts(chunk, after_space);
        counts.bytes += n as u64;
        counts.lines += newlines;
        counts.words += word_starts;
        after_space = chunk.last().is_some_and(|&b| is_space(b));
    }
    Ok(counts)
}

/// Flags of [`sed`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SedOptions {
    /// The pattern is a regex and the replacement may refer to its groups (`$1`, `${name}`);
    /// otherwise both are literal text.
    pub regex: bool,
    /// Replace every occurrence on a line, not only the first.
    pub all: bool,
}

/// `sed 's/pattern/replacement/'`: the whole file with the replacement applied on each line.
/// A match never spans lines; line ends are kept as they are.
pub fn sed(
    file: &mut File,
    pattern: &str,
    replacement: &str,
    opts: &SedOptions,
    ctx: &TextCtx,
) -> HostResult<String> {
    let regex = opts.regex.then(|| compile(pattern)).transpose()?;
    let mut out = TextOut::new(ctx.limits.max_string_bytes, "sed's result");
    let mut lines = Lines::new(file, ctx)?;
    while let Some(line) = lines.next()? {
        let body = String::from_utf8_lossy(line.without_newline());
        let replaced: Cow<str> = match (&regex, opts.all) {
            (Some(re), true) => re.replace_all(&body, replacement),
            (Some(re), false) => re.replace(&body, replacement),
            // Checked first so that lines without the pattern are not copied.
            (None, _) if !body.contains(pattern) => Cow::Borrowed(&body),
            (None, true) => Cow::Owned(body.replace(pattern, replacement)),
            (None, false) => Cow::Owned(body.replacen(pattern, replacement, 1)),
        };
        out.push(&replaced)?;
        if line.has_newline() {
            out.push("\n")?;
        }
    }
    Ok(out.text)
}

/// Splits `text` on every occurrence of `delim`, taken literally as Rex does: `" "` is one
/// space, so two spaces in a row make an empty field. An empty `delim` splits into characters.
pub fn awk_split(text: &str, delim: &str) -> Vec<String> {
    fields(text, delim).map(str::to_owned).collect()
}

/// Field `n` (1-based; 0 is the whole line) of every line; lines with fewer fields are skipped.
pub fn awk_field(file: &mut File, n: usize, delim: &str, ctx: &TextCtx) -> HostResult<Vec<String>> {
    let mut out = LineList::new(ctx.limits, "awk_field's result");
    for_each_field(file, n, delim, ctx, |_, value| out.push(value.to_owned()))?;
    Ok(out.lines)
}

/// The lines matching the regex `pattern`, as [`grep`] with no flags returns them.
pub fn awk_filter(file: &mut File, pattern: &str, ctx: &TextCtx) -> HostResult<Vec<String>> {
    let found = search(
        file,
        pattern,
        &GrepOptions::default(),
        ctx,
        "awk_filter's result",
    )?;
    Ok(found.lines.lines)
}

/// The lines whose field `n` (1-based; 0 is the whole line) matches the regex `pattern`.
pub fn awk_filter_field(
    file: &mut File,
    n: usize,
    delim: &str,
    pattern: &str,
    ctx: &TextCtx,
) -> HostResult<Vec<String>> {
    let re = compile(pattern)?;
    let mut out = LineList::new(ctx.limits, "awk_filter_field's result");
    for_each_field(file, n, delim, ctx, |line, value| {
        if re.is_match(value) {
            out.push(line.to_owned())?;
        }
        Ok(())
    })?;
    Ok(out.lines)
}

/// The sum of field `n` over all lines. A field counts when, trimmed, it parses as a finite
/// number (`12`, `-3.5`, `1e3`); others are skipped, so a header line does no harm and a stray
/// `nan` does not poison the sum.
pub fn awk_sum(file: &mut File, n: usize, delim: &str, ctx: &TextCtx) -> HostResult<f64> {
    let mut total = 0.0;
    for_each_field(file, n, delim, ctx, |_, value| {
        if let Some(v) = value.trim().parse::<f64>().ok().filter(|v| v.is_finite()) {
            total += v;
        }
        Ok(())
    })?;
    Ok(total)
}

/// How many lines have each value of field `n`; lines without the field are skipped.
pub fn awk_count_unique(
    file: &mut File,
    n: usize,
    delim: &str,
    ctx: &TextCtx,
) -> HostResult<BTreeMap<String, i64>> {
    const WHAT: &str = "awk_count_unique's distinct values";
    let Limits {
        max_string_bytes,
        max_items,
    } = ctx.limits;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut key_bytes = 0usize;
    for_each_field(file, n, delim, ctx, |_, value| {
        if let Some(count) = counts.get_mut(value) {
            *count += 1;
            return Ok(());
        }
        if counts.len() >= max_items {
            return Err(too_large(WHAT, items(max_items)));
        }
        key_bytes += value.len();
        if key_bytes > max_string_bytes {
            return Err(too_large(WHAT, bytes(max_string_bytes)));
        }
        counts.insert(value.to_owned(), 1);
        Ok(())
    })?;
    Ok(counts)
}

/// Lines `start` to `end` (1-based, inclusive), as Rex's `awk_filter_range` takes them.
pub fn awk_filter_range(
    file: &mut File,
    start: u64,
    end: u64,
    ctx: &TextCtx,
) -> HostResult<Vec<String>> {
    let mut out = LineList::new(ctx.limits, "awk_filter_range's result");
    for_lines_between(file, start, end, ctx, |line| {
        out.push(line.text().into_owned())
    })?;
    Ok(out.lines)
}

/// grep and awk_filter: ripgrep's searcher scans whole buffers for the pattern and only then
/// finds the line around a match, which a line-at-a-time loop cannot match for speed.
fn search(
    file: &mut File,
    pattern: &str,
    opts: &GrepOptions,
    ctx: &TextCtx,
    what: &'static str,
) -> HostResult<GrepSink> {
    let matcher = RegexMatcherBuilder::new()
        .case_insensitive(opts.ignore_case)
        .crlf(true)
        .build(pattern)
        .map_err(|e| HostError::InvalidInput(format!("invalid regex {pattern:?}: {e}")))?;
    let max = ctx.limits.max_string_bytes;
    let mut searcher = SearcherBuilder::new()
        .line_terminator(LineTerminator::crlf())
        // Numbering costs a pass over every buffer, and a count shows no numbers.
        .line_number(opts.line_number && !opts.count)
        .invert_match(opts.invert)
        .max_matches(opts.max_count.filter(|&n| n > 0))
        .binary_detection(BinaryDetection::none())
        .bom_sniffing(false)
        .memory_map(MmapChoice::never())
        // Bounds the buffer a long line makes the searcher grow.
        .heap_limit(Some(max))
        .build();
    let mut sink = GrepSink {
        count_only: opts.count,
        count: 0,
        lines: LineList::new(ctx.limits, what),
    };
    rewind(file)?;
    searcher
        .search_reader(&matcher, Polled::new(file, ctx), &mut sink)
        .map_err(|e| match e {
            SearchError::Host(e) => e,
            SearchError::LineTooLong => too_large("a line of the file", bytes(max)),
        })?;
    Ok(sink)
}

/// Receives the lines the searcher selects.
struct GrepSink {
    count_only: bool,
    count: u64,
    lines: LineList,
}

impl Sink for GrepSink {
    type Error = SearchError;

    fn matched(&mut self, _: &Searcher, m: &SinkMatch<'_>) -> Result<bool, SearchError> {
        self.count += 1;
        if !self.count_only {
            let text = String::from_utf8_lossy(without_line_end(m.bytes()));
            // The searcher numbers lines only when `line_number` was asked.
            let line = match m.line_number() {
                Some(n) => format!("{n}:{text}"),
                None => text.into_owned(),
            };
            self.lines.push(line).map_err(SearchError::Host)?;
        }
        Ok(true)
    }
}

/// Why a search stopped.
#[derive(Debug)]
enum SearchError {
    /// The sink refused a result, or a read through [`Polled`] failed or was interrupted.
    Host(HostError),
    /// With this module's configuration (no memory map, no multi-line search, no transcoding)
    /// the searcher raises an I/O error of its own only when a line would grow its buffer past
    /// the heap limit.
    LineTooLong,
}

impl SinkError for SearchError {
    fn error_message<T: fmt::Display>(message: T) -> Self {
        SearchError::Host(HostError::Io {
            op: "search",
            path: FILE.to_owned(),
            source: io::Error::other(message.to_string()),
        })
    }

    fn error_io(err: io::Error) -> Self {
        match ReadFailure::recover(err) {
            Ok(host) => SearchError::Host(host),
            Err(_) => SearchError::LineTooLong,
        }
    }
}

/// A file read that polls the interrupt first, so that every loop here stops within one read
/// of the flag being raised, including the searcher's, which only sees an `io::Read`.
pub(crate) struct Polled<'a> {
    file: &'a mut File,
    interrupt: &'a Interrupt,
}

impl<'a> Polled<'a> {
    pub(crate) fn new(file: &'a mut File, ctx: &TextCtx<'a>) -> Polled<'a> {
        Polled {
            file,
            interrupt: ctx.interrupt,
        }
    }

    /// One read, with failures as host errors; 0 means end of file (or an empty `buf`).
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        self.read(buf).map_err(ReadFailure::into_host)
    }
}

impl Read for Polled<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt.is_raised() {
            return Err(io::Error::other(ReadFailure::Interrupted));
        }
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::other(ReadFailure::Io(e))),
                Ok(n) => return Ok(n),
            }
        }
    }
}

/// Why a [`Polled`] read failed, carried inside an `io::Error` so that it comes back intact
/// through readers this module does not control, and is told apart from their own errors.
#[derive(Debug)]
enum ReadFailure {
    Interrupted,
    Io(io::Error),
}

impl ReadFailure {
    /// The host error a [`Polled`] failure stands for; `Err` gives back an error that did not
    /// come from a [`Polled`] read.
    fn recover(err: io::Error) -> Result<HostError, io::Error> {
        err.downcast::<ReadFailure>().map(|failure| match failure {
            ReadFailure::Interrupted => HostError::Interrupted,
            ReadFailure::Io(e) => HostError::io("read", FILE, e),
        })
    }

    fn into_host(err: io::Error) -> HostError {
        ReadFailure::recover(err).unwrap_or_else(|e| HostError::io("read", FILE, e))
    }
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::Interrupted => f.write_str("interrupted"),
            ReadFailure::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadFailure {}

/// The line reader that cat -n, tail, sed and awk share: lines come out of one buffer, which
/// grows only while a single line is longer than it, and never past the string limit.
struct Lines<'a> {
    input: Polled<'a>,
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    start: usize,
    /// `buf[start..scanned]` is known to hold no newline, so a long line is scanned once.
    scanned: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    eof: bool,
    /// Number of the last line returned.
    number: u64,
    max_line: usize,
}

/// One line, numbered from 1, with its `\n` when it has one.
struct Line<'b> {
    number: u64,
    bytes: &'b [u8],
}

impl Line<'_> {
    fn has_newline(&self) -> bool {
        self.bytes.last() == Some(&b'\n')
    }

    /// The line as sed edits it: a `\r` before the newline stays, as in sed.
    fn without_newline(&self) -> &[u8] {
        self.bytes.strip_suffix(b"\n").unwrap_or(self.bytes)
    }

    /// The line as a list result holds it: without `\n` or `\r\n`, like Rust's `lines()`.
    fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(without_line_end(self.bytes))
    }
}

impl<'a> Lines<'a> {
    fn new(file: &'a mut File, ctx: &TextCtx<'a>) -> HostResult<Lines<'a>> {
        rewind(file)?;
        Ok(Lines {
            input: Polled::new(file, ctx),
            buf: vec![0; CHUNK],
            start: 0,
            scanned: 0,
            end: 0,
            eof: false,
            number: 0,
            max_line: ctx.limits.max_string_bytes,
        })
    }

    /// The next line, or `None` at the end of the file. A last line without a newline is
    /// still a line; an empty file has none.
    fn next(&mut self) -> HostResult<Option<Line<'_>>> {
        loop {
            let from = self.start;
            let to = if let Some(i) = memchr(b'\n', &self.buf[self.scanned..self.end]) {
                self.scanned + i + 1
            } else if self.eof && self.start < self.end {
                self.end
            } else if self.eof {
                return Ok(None);
            } else {
                self.scanned = self.end;
                self.refill()?;
                continue;
            };
            self.start = to;
            self.scanned = to;
            self.number += 1;
            return Ok(Some(Line {
                number: self.number,
                bytes: &self.buf[from..to],
            }));
        }
    }

    /// Moves the partial line to the front and reads after it, growing the buffer when that
    /// line already fills it.
    fn refill(&mut self) -> HostResult<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= self.max_line {
                return Err(too_large("a line of the file", bytes(self.max_line)));
            }
            let grown = (self.buf.len() * 2).min(self.max_line);
            self.buf.resize(grown, 0);
        }
        let n = self.input.fill(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }
}

/// Calls `each` on lines `first` to `last` (1-based, inclusive) and stops reading after `last`.
fn for_lines_between(
    file: &mut File,
    first: u64,
    last: u64,
    ctx: &TextCtx,
    mut each: impl FnMut(&Line) -> HostResult<()>,
) -> HostResult<()> {
    if first == 0 || last < first {
        return Err(HostError::InvalidInput(format!(
            "invalid line range {first}..{last}: lines are numbered from 1 and the range \
             must not end before it starts"
        )));
    }
    let mut lines = Lines::new(file, ctx)?;
    while let Some(line) = lines.next()? {
        if line.number >= first {
            each(&line)?;
        }
        if line.number >= last {
            break;
        }
    }
    Ok(())
}

/// Calls `each` with every line that has field `n` (as a list result holds the line) and with
/// that field.
fn for_each_field(
    file: &mut File,
    n: usize,
    delim: &str,
    ctx: &TextCtx,
    mut each: impl FnMut(&str, &str) -> HostResult<()>,
) -> HostResult<()> {
    let mut lines = Lines::new(file, ctx)?;
    while let Some(line) = lines.next()? {
        let text = line.text();
        if let Some(value) = field(&text, n, delim) {
            each(&text, value)?;
        }
    }
    Ok(())
}

/// Where the last `n` lines of `file` start, and where the file ends, found by reading
/// backwards from the end. Refuses as soon as those lines would be longer than the string
/// limit, so a large `n` on a huge file does not scan it all.
fn start_of_last_lines(file: &mut File, n: u64, ctx: &TextCtx) -> HostResult<(u64, u64)> {
    let limit = ctx.limits.max_string_bytes;
    let max = limit as u64;
    let end = file
        .seek(SeekFrom::End(0))
        .map_err(|e| HostError::io("seek", FILE, e))?;
    if n == 0 {
        return Ok((end, end));
    }
    let mut buf = vec![0u8; TAIL_CHUNK];
    let mut needed = n;
    // `[0, unscanned)` is still to be searched for newlines.
    let mut unscanned = end;
    while unscanned > 0 {
        if end - unscanned > max {
            return Err(too_large("tail's result", bytes(limit)));
        }
        let from = unscanned.saturating_sub(TAIL_CHUNK as u64);
        // At most TAIL_CHUNK, which is a usize.
        let len = (unscanned - from) as usize;
        let chunk = &mut buf[..len];
        file.seek(SeekFrom::Start(from))
            .map_err(|e| HostError::io("seek", FILE, e))?;
        Polled::new(file, ctx)
            .read_exact(chunk)
            .map_err(ReadFailure::into_host)?;
        // The newline that ends the file ends the last line; it does not start another.
        let haystack = match chunk.split_last() {
            Some((b'\n', rest)) if unscanned == end => rest,
            _ => chunk,
        };
        for i in memrchr_iter(b'\n', haystack) {
            needed -= 1;
            if needed == 0 {
                let start = from + i as u64 + 1;
                if end - start > max {
                    return Err(too_large("tail's result", bytes(limit)));
                }
                return Ok((start, end));
            }
        }
        unscanned = from;
    }
    if end > max {
        return Err(too_large("tail's result", bytes(limit)));
    }
    Ok((0, end))
}

/// Reads at most `cap` bytes from the file's current offset; `expected` sizes the buffer.
fn read_up_to(file: &mut File, ctx: &TextCtx, cap: u64, expected: u64) -> HostResult<Vec<u8>> {
    let mut content = Vec::with_capacity(usize::try_from(expected.min(cap)).unwrap_or(0));
    Polled::new(file, ctx)
        .take(cap)
        .read_to_end(&mut content)
        .map_err(ReadFailure::into_host)?;
    Ok(content)
}

/// Bytes as text, refused if replacing invalid UTF-8 (1 byte becomes 3) crosses the limit.
fn into_text(content: Vec<u8>, max: usize, what: &str) -> HostResult<String> {
    let text = match String::from_utf8(content) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    if text.len() > max {
        return Err(too_large(what, bytes(max)));
    }
    Ok(text)
}

fn rewind(file: &mut File) -> HostResult<()> {
    file.rewind().map_err(|e| HostError::io("seek", FILE, e))
}

fn compile(pattern: &str) -> HostResult<Regex> {
    Regex::new(pattern)
        .map_err(|e| HostError::InvalidInput(format!("invalid regex {pattern:?}: {e}")))
}

/// A line without its `\n`, and without a `\r` before that `\n`.
fn without_line_end(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(body) => body.strip_suffix(b"\r").unwrap_or(body),
        None => line,
    }
}

/// The fields of `text`: pieces between literal `delim`s, or characters if `delim` is empty.
fn fields<'t>(text: &'t str, delim: &'t str) -> impl Iterator<Item = &'t str> {
    let (chars, pieces) = if delim.is_empty() {
        (Some(text.matches(|_: char| true)), None)
    } else {
        (None, Some(text.split(delim)))
    };
    chars
        .into_iter()
        .flatten()
        .chain(pieces.into_iter().flatten())
}

/// Field `n` of a line (1-based; 0 is the whole line, as awk's `$0`).
fn field<'t>(text: &'t str, n: usize, delim: &'t str) -> Option<&'t str> {
    match n {
        0 => Some(text),
        n => fields(text, delim).nth(n - 1),
    }
}

/// wc's whitespace: space, `\t`, `\n`, `\v`, `\f`, `\r`. Branch-free so that the counting
/// loop vectorizes.
#[inline(always)]
fn is_space(b: u8) -> bool {
    (b == b' ') | (b.wrapping_sub(b'\t') < 5)
}

/// The newlines in `chunk` and the bytes of it that start a word (a non-space after a space);
/// `after_space` says whether the byte before `chunk` was a space.
fn newlines_and_word_starts(chunk: &[u8], after_space: bool) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the only requirement of `count_avx2` is a CPU with AVX2, checked just above.
        return unsafe { count_avx2(chunk, after_space) };
    }
    count(chunk, after_space)
}

/// [`count`] compiled for AVX2, which the x86-64 baseline this crate is built for lacks: with
/// 16-byte vectors the count costs about as much as reading the file from the page cache, with
/// 32-byte ones about half, which keeps wc clearly under twice the cost of the read.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn count_avx2(chunk: &[u8], after_space: bool) -> (u64, u64) {
    count(chunk, after_space)
}

/// See [`newlines_and_word_starts`]. Each byte is compared with the one before it, so that the
/// loop has no state from one iteration to the next and vectorizes; counters are `u8` over
/// blocks of 128 bytes, so that they use the narrowest (most numerous) vector lanes and still
/// cannot overflow.
#[inline(always)]
fn count(chunk: &[u8], after_space: bool) -> (u64, u64) {
    const BLOCK: usize = 128;
    let Some((&first, rest)) = chunk.split_first() else {
        return (0, 0);
    };
    let mut newlines = u64::from(first == b'\n');
    let mut starts = u64::from(after_space && !is_space(first));
    let before = &chunk[..rest.len()];
    let mut before_blocks = before.chunks_exact(BLOCK);
    let mut rest_blocks = rest.chunks_exact(BLOCK);
    for (prev, cur) in (&mut before_blocks).zip(&mut rest_blocks) {
        let (mut block_newlines, mut block_starts) = (0u8, 0u8);
        for (&p, &c) in prev.iter().zip(cur) {
            block_newlines += u8::from(c == b'\n');
            block_starts += u8::from(is_space(p) & !is_space(c));
        }
        newlines += u64::from(block_newlines);
        starts += u64::from(block_starts);
    }
    for (&p, &c) in before_blocks
        .remainder()
        .iter()
        .zip(rest_blocks.remainder())
    {
        newlines += u64::from(c == b'\n');
        starts += u64::from(is_space(p) & !is_space(c));
    }
    (newlines, starts)
}

/// A list of lines being built under the item and byte limits.
struct LineList {
    lines: Vec<String>,
    bytes: usize,
    limits: Limits,
    what: &'static str,
}

impl LineList {
    fn new(limits: Limits, what: &'static str) -> LineList {
        LineList {
            lines: Vec::new(),
            bytes: 0,
            limits,
            what,
        }
    }

    fn push(&mut self, line: String) -> HostResult<()> {
        if self.lines.len() >= self.limits.max_items {
            return Err(too_large(self.what, items(self.limits.max_items)));
        }
        self.bytes += line.len();
        if self.bytes > self.limits.max_string_bytes {
            return Err(too_large(self.what, bytes(self.limits.max_string_bytes)));
        }
        self.lines.push(line);
        Ok(())
    }
}

/// Text being built under the string limit.
struct TextOut {
    text: String,
    max: usize,
    what: &'static str,
}

impl TextOut {
    fn new(max: usize, what: &'static str) -> TextOut {
        TextOut {
            text: String::new(),
            max,
            what,
        }
    }

    fn push(&mut self, piece: &str) -> HostResult<()> {
        if self.text.len() + piece.len() > self.max {
            return Err(too_large(self.what, bytes(self.max)));
        }
        self.text.push_str(piece);
        Ok(())
    }
}

fn too_large(what: &str, limit: String) -> HostError {
    HostError::TooLarge {
        what: what.to_owned(),
        limit,
    }
}

fn bytes(n: usize) -> String {
    format!("{n} bytes (max_string_bytes)")
}

fn items(n: usize) -> String {
    format!("{n} items (max_items)")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::*;

    /// An unnamed temporary file holding `content`, left positioned at its end so that the
    /// readers' own rewinding is exercised.
    fn file_with(content: impl AsRef<[u8]>) -> File {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(content.as_ref()).expect("write temp file");
        file
    }

    fn limits(max_string_bytes: usize, max_items: usize) -> Limits {
        Limits {
            max_string_bytes,
            max_items,
        }
    }

    fn ctx(interrupt: &Interrupt) -> TextCtx<'_> {
        TextCtx {
            limits: Limits::default(),
            interrupt,
        }
    }

    fn ctx_with(interrupt: &Interrupt, limits: Limits) -> TextCtx<'_> {
        TextCtx { limits, interrupt }
    }

    fn is_too_large<T>(result: &HostResult<T>) -> bool {
        matches!(result, Err(HostError::TooLarge { .. }))
    }

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// `n` numbered log lines, "WORD" on every third; about 40 bytes each.
    fn log(n: usize) -> String {
        (1..=n)
            .map(|i| {
                let tag = if i % 3 == 0 { "WORD" } else { "info" };
                format!("2024-01-01 line {i:07} {tag} some text\n")
            })
            .collect()
    }

    #[test]
    fn cat_returns_the_whole_file_from_its_start() {
        let i = Interrupt::new();
        let mut f = file_with("one\r\ntwo\nthree");
        assert_eq!(cat(&mut f, false, &ctx(&i)).unwrap(), "one\r\ntwo\nthree");
        // A second read of the same descriptor sees the whole file again.
        assert_eq!(cat(&mut f, false, &ctx(&i)).unwrap(), "one\r\ntwo\nthree");
    }

    #[test]
    fn cat_numbers_lines_like_cat_n() {
        let i = Interrupt::new();
        let mut f = file_with("a\n\nb");
        assert_eq!(
            cat(&mut f, true, &ctx(&i)).unwrap(),
            "     1\ta\n     2\t\n     3\tb"
        );
        let mut f = file_with("a\n");
        assert_eq!(cat(&mut f, true, &ctx(&i)).unwrap(), "     1\ta\n");
    }

    #[test]
    fn cat_replaces_invalid_utf8() {
        let i = Interrupt::new();
        let mut f = file_with(b"ok \xff\xfe end");
        assert_eq!(
            cat(&mut f, false, &ctx(&i)).unwrap(),
            "ok \u{fffd}\u{fffd} end"
        );
    }

    #[test]
    fn cat_refuses_file_larger_than_limit() {
        let i = Interrupt::new();
        let mut f = file_with("x".repeat(101));
        assert!(is_too_large(&cat(
            &mut f,
            false,
            &ctx_with(&i, limits(100, 10))
        )));
        let mut f = file_with("x".repeat(100));
        assert_eq!(
            cat(&mut f, false, &ctx_with(&i, limits(100, 10)))
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn cat_refuses_numbered_output_larger_than_limit() {
        let i = Interrupt::new();
        // 60 bytes of input become 20 * 10 = 200 bytes once numbered.
        let mut f = file_with("ab\n".repeat(20));
        assert!(is_too_large(&cat(
            &mut f,
            true,
            &ctx_with(&i, limits(100, 10))
        )));
    }

    #[test]
    fn cat_caps_files_that_report_size_zero() {
        let i = Interrupt::new();
        let mut status = File::open("/proc/self/status").unwrap();
        assert_eq!(status.metadata().unwrap().len(), 0);
        assert!(is_too_large(&cat(
            &mut status,
            false,
            &ctx_with(&i, limits(64, 10))
        )));
        assert!(cat(&mut status, false, &ctx(&i)).unwrap().contains("Name:"));
    }

    #[test]
    fn grep_returns_matching_lines_without_line_ends() {
        let i = Interrupt::new();
        let mut f = file_with("hello world\r\nfoo bar\nhello again");
        let out = grep(&mut f, "hel+o", &GrepOptions::default(), &ctx(&i)).unwrap();
        assert_eq!(
            out,
            GrepOutput::Lines(lines(&["hello world", "hello again"]))
        );
    }

    #[test]
    fn grep_anchors_end_of_line_before_crlf() {
        let i = Interrupt::new();
        let mut f = file_with("end\r\nnot end here\nend");
        let out = grep(&mut f, "end$", &GrepOptions::default(), &ctx(&i)).unwrap();
        assert_eq!(out, GrepOutput::Lines(lines(&["end", "end"])));
    }

    #[test]
    fn grep_prefixes_line_numbers() {
        let i = Interrupt::new();
        let mut f = file_with("a\nb\na\n");
        let opts = GrepOptions {
            line_number: true,
            ..Default::default()
        };
        let out = grep(&mut f, "a", &opts, &ctx(&i)).unwrap();
        assert_eq!(out, GrepOutput::Lines(lines(&["1:a", "3:a"])));
    }

    #[test]
    fn grep_ignore_case_matches_any_case() {
        let i = Interrupt::new();
        let mut f = file_with("Error\nERROR\nerr\n");
        let opts = GrepOptions {
            ignore_case: true,
            ..Default::default()
        };
        let out = grep(&mut f, "error", &opts, &ctx(&i)).unwrap();
        assert_eq!(out, GrepOutput::Lines(lines(&["Error", "ERROR"])));
    }

    #[test]
    fn grep_invert_selects_non_matching_lines() {
        let i = Interrupt::new();
        let mut f = file_with("a\nb\nc\na");
        let opts = GrepOptions {
            invert: true,
            line_number: true,
            ..Default::default()
        };
        let out = grep(&mut f, "a", &opts, &ctx(&i)).unwrap();
        assert_eq!(out, GrepOutput::Lines(lines(&["2:b", "3:c"])));
    }

    #[test]
    fn grep_count_respects_max_count() {
        let i = Interrupt::new();
        let mut f = file_with("x\nx\ny\nx\n");
        let mut opts = GrepOptions {
            count: true,
            ..Default::default()
        };
        assert_eq!(
            grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
            GrepOutput::Count(3)
        );
        opts.max_count = Some(2);
        assert_eq!(
            grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
            GrepOutput::Count(2)
        );
        opts.invert = true;
        assert_eq!(
            grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
            GrepOutput::Count(1)
        );
        // As in Rex, zero is no cap rather than "select nothing".
        opts.invert = false;
        opts.max_count = Some(0);
        assert_eq!(
            grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
            GrepOutput::Count(3)
        );
    }

    #[test]
    fn grep_max_count_stops_the_line_list() {
        let i = Interrupt::new();
        let mut f = file_with("x1\nx2\nx3\n");
        let opts = GrepOptions {
            max_count: Some(2),
            ..Default::default()
        };
        let out = grep(&mut f, "x", &opts, &ctx(&i)).unwrap();
        assert_eq!(out, GrepOutput::Lines(lines(&["x1", "x2"])));
    }

    #[test]
    fn grep_rejects_invalid_regex() {
        let i = Interrupt::new();
        let mut f = file_with("a\n");
        match grep(&mut f, "a(", &GrepOptions::default(), &ctx(&i)) {
            Err(HostError::InvalidInput(msg)) => assert!(msg.contains("a("), "{msg}"),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn grep_is_correct_on_a_file_larger_than_its_buffer() {
        let i = Interrupt::new();
        let content = log(200_000); // about 8 MB, many searcher buffers
        let expected = content.lines().filter(|l| l.contains("WORD")).count() as u64;
        let mut f = file_with(&content);
        let opts = GrepOptions {
            count: true,
            ..Default::default()
        };
        assert_eq!(
            grep(&mut f, "WORD", &opts, &ctx(&i)).unwrap(),
            GrepOutput::Count(expected)
        );
        let opts = GrepOptions {
            line_number: true,
            ..Default::default()
        };
        let GrepOutput::Lines(found) = grep(&mut f, "line 0199998 ", &opts, &ctx(&i)).unwrap()
        else {
            panic!("expected lines");
        };
        assert_eq!(
            found,
            lines(&["199998:2024-01-01 line 0199998 WORD some text"])
        );
    }

    #[test]
    fn grep_refuses_more_lines_than_max_items() {
        let i = Interrupt::new();
        let mut f = file_with("a\n".repeat(11));
        let result = grep(
            &mut f,
            "a",
            &GrepOptions::default(),
            &ctx_with(&i, limits(1000, 10)),
        );
        assert!(is_too_large(&result));
        // Counting returns no lines, so it is not bound by max_items.
        let opts = GrepOptions {
            count: true,
            ..Default::default()
        };
        let out = grep(&mut f, "a", &opts, &ctx_with(&i, limits(1000, 10))).unwrap();
        assert_eq!(out, GrepOutput::Count(11));
    }

    #[test]
    fn grep_refuses_result_larger_than_max_string_bytes() {
        let i = Interrupt::new();
        let mut f = file_with("abcdefghij\n".repeat(20));
        let result = grep(
            &mut f,
            "a",
            &GrepOptions::default(),
            &ctx_with(&i, limits(100, 1000)),
        );
        assert!(is_too_large(&result));
    }

    #[test]
    fn grep_refuses_a_line_longer_than_the_string_limit() {
        let i = Interrupt::new();
        let mut f = file_with(format!("{}\n", "a".repeat(1 << 20)));
        let opts = GrepOptions {
            count: true,
            ..Default::default()
        };
        let result = grep(&mut f, "b", &opts, &ctx_with(&i, limits(1000, 10)));
        assert!(is_too_large(&result), "{result:?}");
    }

    #[test]
    fn interrupt_stops_grep() {
        let i = Interrupt::new();
        i.raise();
        let mut f = file_with(log(10));
        let result = grep(&mut f, "WORD", &GrepOptions::default(), &ctx(&i));
        assert!(matches!(result, Err(HostError::Interrupted)), "{result:?}");
    }

    #[test]
    fn interrupt_stops_wc_and_line_readers() {
        let i = Interrupt::new();
        i.raise();
        let mut f = file_with(log(10));
        assert!(matches!(wc(&mut f, &ctx(&i)), Err(HostError::Interrupted)));
        assert!(matches!(
            awk_field(&mut f, 1, " ", &ctx(&i)),
            Err(HostError::Interrupted)
        ));
        assert!(matches!(
            tail(&mut f, TailRange::Last(1), &ctx(&i)),
            Err(HostError::Interrupted)
        ));
        assert!(matches!(
            cat(&mut f, false, &ctx(&i)),
            Err(HostError::Interrupted)
        ));
    }

    #[test]
    fn tail_last_keeps_the_trailing_newline() {
        let i = Interrupt::new();
        let mut f = file_with("1\n2\n3\n");
        assert_eq!(
            tail(&mut f, TailRange::Last(2), &ctx(&i)).unwrap(),
            "2\n3\n"
        );
        let mut f = file_with("1\n2\n3");
        assert_eq!(tail(&mut f, TailRange::Last(2), &ctx(&i)).unwrap(), "2\n3");
        assert_eq!(tail(&mut f, TailRange::Last(0), &ctx(&i)).unwrap(), "");
        assert_eq!(
            tail(&mut f, TailRange::Last(9), &ctx(&i)).unwrap(),
            "1\n2\n3"
        );
        let mut f = file_with("\n\n\n");
        assert_eq!(tail(&mut f, TailRange::Last(1), &ctx(&i)).unwrap(), "\n");
    }

    #[test]
    fn tail_last_finds_lines_across_chunks() {
        let i = Interrupt::new();
        let content = log(20_000);
        let mut f = file_with(&content);
        let all: Vec<&str> = content.lines().collect();
        let got = tail(&mut f, TailRange::Last(5000), &ctx(&i)).unwrap();
        assert_eq!(got.lines().collect::<Vec<_>>(), all[all.len() - 5000..]);
        assert!(got.ends_with('\n'));
    }

    #[test]
    fn tail_last_reads_from_the_end_of_a_large_file() {
        let i = Interrupt::new();
        // 64 GiB of hole before two lines: reading it from the start would take minutes.
        let mut f = tempfile::tempfile().unwrap();
        f.set_len(64 << 30).unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"\nsecond to last\nlast\n").unwrap();
        let started = Instant::now();
        let got = tail(&mut f, TailRange::Last(2), &ctx(&i)).unwrap();
        assert_eq!(got, "second to last\nlast\n");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Asking for more lines than fit in the string limit stops the backwards scan early
        // instead of reading the hole.
        let result = tail(
            &mut f,
            TailRange::Last(3),
            &ctx_with(&i, limits(1 << 20, 10)),
        );
        assert!(is_too_large(&result));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tail_from_and_range_are_one_based_and_inclusive() {
        let i = Interrupt::new();
        let mut f = file_with("1\n2\n3\n4");
        assert_eq!(tail(&mut f, TailRange::From(3), &ctx(&i)).unwrap(), "3\n4");
        assert_eq!(
            tail(&mut f, TailRange::Range(2, 3), &ctx(&i)).unwrap(),
            "2\n3\n"
        );
        assert_eq!(tail(&mut f, TailRange::Range(4, 9), &ctx(&i)).unwrap(), "4");
        assert_eq!(tail(&mut f, TailRange::From(9), &ctx(&i)).unwrap(), "");
    }

    #[test]
    fn tail_rejects_line_zero_and_reversed_ranges() {
        let i = Interrupt::new();
        let mut f = file_with("1\n2\n");
        for range in [
            TailRange::From(0),
            TailRange::Range(0, 1),
            TailRange::Range(2, 1),
        ] {
            let result = tail(&mut f, range, &ctx(&i));
            assert!(
                matches!(result, Err(HostError::InvalidInput(_))),
                "{range:?}"
            );
        }
    }

    #[test]
    fn tail_refuses_a_result_above_the_limit() {
        let i = Interrupt::new();
        let mut f = file_with("0123456789\n".repeat(20));
        let small = ctx_with(&i, limits(50, 10));
        assert!(is_too_large(&tail(&mut f, TailRange::Last(5), &small)));
        assert!(is_too_large(&tail(&mut f, TailRange::From(1), &small)));
        assert_eq!(tail(&mut f, TailRange::Last(4), &small).unwrap().len(), 44);
    }

    /// wc's definition, one byte at a time, to check the vectorized count against.
    fn naive_wc(data: &[u8]) -> WcCounts {
        let mut counts = WcCounts {
            bytes: data.len() as u64,
            ..Default::default()
        };
        let mut in_word = false;
        for &b in data {
            let space = b" \t\n\x0b\x0c\r".contains(&b);
            counts.lines += u64::from(b == b'\n');
            counts.words += u64::from(!in_word && !space);
            in_word = !space;
        }
        counts
    }

    #[test]
    fn wc_counts_like_coreutils() {
        let i = Interrupt::new();
        let mut f = file_with("hello world\nfoo bar baz\n");
        let expected = WcCounts {
            lines: 2,
            words: 5,
            bytes: 24,
        };
        assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), expected);
        let mut f = file_with(" a\x0bb\x0cc\rd\te  \u{e9}\n\nlast");
        let got = wc(&mut f, &ctx(&i)).unwrap();
        assert_eq!((got.lines, got.words, got.bytes), (2, 7, 20));
        let mut f = file_with("");
        assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), WcCounts::default());
    }

    #[test]
    fn wc_counts_words_across_buffer_boundaries() {
        let i = Interrupt::new();
        // Word and space lengths that drift against the buffer size, so words straddle
        // every boundary, plus one word placed exactly across the first boundary.
        let mut data = Vec::new();
        let mut k = 0usize;
        while data.len() < 3 * CHUNK + 1234 {
            data.extend(std::iter::repeat_n(b'w', 1 + k % 7));
            data.extend_from_slice(&b" \n\t  \r\n"[..1 + k % 5]);
            k += 1;
        }
        data[CHUNK - 2..CHUNK + 2].copy_from_slice(b"abcd");
        let mut f = file_with(&data);
        assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), naive_wc(&data));
    }

    #[test]
    fn portable_word_count_matches_the_definition_at_every_length() {
        // Lengths around the 128-byte blocks, with every kind of space and a UTF-8 letter.
        let pattern = b"ab \t\ncd\x0b\x0ce\rf  \xc3\xa9g\n\nhij ";
        let data: Vec<u8> = pattern.iter().copied().cycle().take(700).collect();
        for len in 0..data.len() {
            let chunk = &data[..len];
            for after_space in [false, true] {
                let mut expected = naive_wc(chunk);
                if !after_space && chunk.first().is_some_and(|&b| !is_space(b)) {
                    expected.words -= 1;
                }
                let got = count(chunk, after_space);
                assert_eq!(got, (expected.lines, expected.words), "{len} {after_space}");
                assert_eq!(newlines_and_word_starts(chunk, after_space), got);
            }
        }
    }

    #[test]
    fn sed_replaces_the_first_occurrence_on_each_line() {
        let i = Interrupt::new();
        let mut f = file_with("a a\nb\r\na a");
        let opts = SedOptions::default();
        assert_eq!(
            sed(&mut f, "a", "x", &opts, &ctx(&i)).unwrap(),
            "x a\nb\r\nx a"
        );
    }

    #[test]
    fn sed_all_replaces_every_occurrence() {
        let i = Interrupt::new();
        let mut f = file_with("a.a\na.a\n");
        let opts = SedOptions {
            all: true,
            ..Default::default()
        };
        // Literal: the dot is only a dot, and `$1` is only text.
        assert_eq!(
            sed(&mut f, ".", "$1", &opts, &ctx(&i)).unwrap(),
            "a$1a\na$1a\n"
        );
    }

    #[test]
    fn sed_regex_expands_capture_groups() {
        let i = Interrupt::new();
        let mut f = file_with("key=1 key=2\nother\n");
        let opts = SedOptions {
            regex: true,
            all: true,
        };
        let got = sed(&mut f, r"(\w+)=(\d)", "${2}:$1", &opts, &ctx(&i)).unwrap();
        assert_eq!(got, "1:key 2:key\nother\n");
        let result = sed(&mut f, "(", "", &opts, &ctx(&i));
        assert!(matches!(result, Err(HostError::InvalidInput(_))));
    }

    #[test]
    fn sed_refuses_a_result_above_the_limit() {
        let i = Interrupt::new();
        let mut f = file_with("a\n".repeat(10));
        let opts = SedOptions::default();
        let result = sed(
            &mut f,
            "a",
            "aaaaaaaaaa",
            &opts,
            &ctx_with(&i, limits(50, 10)),
        );
        assert!(is_too_large(&result));
    }

    #[test]
    fn awk_split_takes_the_delimiter_literally() {
        assert_eq!(awk_split("a  b c", " "), lines(&["a", "", "b", "c"]));
        assert_eq!(awk_split("a::b", "::"), lines(&["a", "b"]));
        assert_eq!(awk_split("a.b", "."), lines(&["a", "b"]));
        assert_eq!(awk_split("né", ""), lines(&["n", "é"]));
        assert_eq!(awk_split("", ","), lines(&[""]));
    }

    #[test]
    fn awk_field_returns_field_n_and_skips_lines_without_it() {
        let i = Interrupt::new();
        let mut f = file_with("a 10 x\r\nb\nc 30 z\n");
        assert_eq!(
            awk_field(&mut f, 2, " ", &ctx(&i)).unwrap(),
            lines(&["10", "30"])
        );
        assert_eq!(
            awk_field(&mut f, 0, " ", &ctx(&i)).unwrap(),
            lines(&["a 10 x", "b", "c 30 z"])
        );
        assert_eq!(
            awk_field(&mut f, 3, " ", &ctx(&i)).unwrap(),
            lines(&["x", "z"])
        );
    }

    #[test]
    fn awk_filter_returns_lines_matching_the_regex() {
        let i = Interrupt::new();
        let mut f = file_with("ERROR 1\nok\nWARN 2\r\n");
        assert_eq!(
            awk_filter(&mut f, "ERROR|WARN", &ctx(&i)).unwrap(),
            lines(&["ERROR 1", "WARN 2"])
        );
    }

    #[test]
    fn awk_filter_field_tests_only_that_field() {
        let i = Interrupt::new();
        let mut f = file_with("GET,/a,200\nPOST,/GET,500\nGET,/b,404\n");
        let got = awk_filter_field(&mut f, 1, ",", "^GET$", &ctx(&i)).unwrap();
        assert_eq!(got, lines(&["GET,/a,200", "GET,/b,404"]));
        let got = awk_filter_field(&mut f, 3, ",", "^[45]", &ctx(&i)).unwrap();
        assert_eq!(got, lines(&["POST,/GET,500", "GET,/b,404"]));
    }

    #[test]
    fn awk_sum_adds_numeric_fields_and_skips_others() {
        let i = Interrupt::new();
        let mut f = file_with("name value\na 10\nb 2.5\nc x\nd nan\ne -1e1\nf\n");
        assert_eq!(awk_sum(&mut f, 2, " ", &ctx(&i)).unwrap(), 2.5);
    }

    #[test]
    fn awk_count_unique_counts_each_value() {
        let i = Interrupt::new();
        let mut f = file_with("a 1\nb 2\na 3\nb 4\nc 5\nlonely\n");
        let counts = awk_count_unique(&mut f, 1, " ", &ctx(&i)).unwrap();
        let expected: BTreeMap<String, i64> = [("a", 2), ("b", 2), ("c", 1), ("lonely", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into();
        assert_eq!(counts, expected);
        let counts = awk_count_unique(&mut f, 2, " ", &ctx(&i)).unwrap();
        assert_eq!(counts.len(), 5);
    }

    #[test]
    fn awk_count_unique_refuses_more_keys_than_max_items() {
        let i = Interrupt::new();
        let mut f = file_with("a\nb\nc\na\n");
        let result = awk_count_unique(&mut f, 1, " ", &ctx_with(&i, limits(100, 2)));
        assert!(is_too_large(&result));
        let counts = awk_count_unique(&mut f, 1, " ", &ctx_with(&i, limits(100, 3))).unwrap();
        assert_eq!(counts.get("a"), Some(&2));
    }

    #[test]
    fn awk_filter_range_returns_lines_start_to_end_inclusive() {
        let i = Interrupt::new();
        let mut f = file_with("1\n2\r\n3\n4\n");
        assert_eq!(
            awk_filter_range(&mut f, 2, 3, &ctx(&i)).unwrap(),
            lines(&["2", "3"])
        );
        assert_eq!(
            awk_filter_range(&mut f, 4, 10, &ctx(&i)).unwrap(),
            lines(&["4"])
        );
        let result = awk_filter_range(&mut f, 3, 2, &ctx(&i));
        assert!(matches!(result, Err(HostError::InvalidInput(_))));
    }

    #[test]
    fn line_reader_joins_lines_longer_than_its_buffer() {
        let i = Interrupt::new();
        let long = "y".repeat(CHUNK * 3 + 17);
        let mut f = file_with(format!("short\n{long}\nend"));
        let got = awk_field(&mut f, 0, " ", &ctx(&i)).unwrap();
        assert_eq!(got, vec!["short".to_owned(), long, "end".to_owned()]);
    }

    #[test]
    fn line_reader_refuses_a_line_longer_than_the_string_limit() {
        let i = Interrupt::new();
        let mut f = file_with(format!("{}\n", "y".repeat(CHUNK * 3)));
        let result = awk_sum(&mut f, 1, " ", &ctx_with(&i, limits(CHUNK * 2, 10)));
        assert!(is_too_large(&result), "{result:?}");
    }
}
