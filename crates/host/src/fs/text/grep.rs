//! `grep`: the lines that match a regex, through ripgrep's searcher.

use super::*;

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

/// ripgrep's searcher scans whole buffers for the pattern and only then finds the line around
/// a match, which a line-at-a-time loop cannot match for speed.
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
        .map_err(|e| invalid_regex(pattern, e))?;
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
pub(super) struct GrepSink {
    pub(super) count_only: bool,
    pub(super) count: u64,
    pub(super) lines: LineList,
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
pub(super) enum SearchError {
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

/// A pattern that does not compile, under Rex's kind for it.
fn invalid_regex(pattern: &str, e: impl std::fmt::Display) -> HostError {
    HostError::Rex {
        kind: "ValidationError",
        message: format!("invalid regex {pattern:?}: {e}"),
    }
}

pub(super) fn compile(pattern: &str) -> HostResult<Regex> {
    Regex::new(pattern).map_err(|e| invalid_regex(pattern, e))
}
