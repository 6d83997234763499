//! Reading: the interrupt-polled file read every reader uses, and the line reader.

use super::*;

/// A file read that polls the interrupt first, so that every loop here stops within one read
/// of the flag being raised, including the searcher's, which only sees an `io::Read`.
pub(crate) struct Polled<'a> {
    pub(super) file: &'a mut File,
    pub(super) interrupt: &'a Interrupt,
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
pub(super) enum ReadFailure {
    Interrupted,
    Io(io::Error),
}

impl ReadFailure {
    /// The host error a [`Polled`] failure stands for; `Err` gives back an error that did not
    /// come from a [`Polled`] read.
    pub(super) fn recover(err: io::Error) -> Result<HostError, io::Error> {
        err.downcast::<ReadFailure>().map(|failure| match failure {
            ReadFailure::Interrupted => HostError::Interrupted,
            ReadFailure::Io(e) => HostError::io("read", FILE, e),
        })
    }

    pub(super) fn into_host(err: io::Error) -> HostError {
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

/// The line reader that cat -n, tail and awk share: lines come out of one buffer, which
/// grows only while a single line is longer than it, and never past the string limit.
pub(super) struct Lines<'a> {
    pub(super) input: Polled<'a>,
    pub(super) buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    pub(super) start: usize,
    /// `buf[start..scanned]` is known to hold no newline, so a long line is scanned once.
    pub(super) scanned: usize,
    /// End of the bytes read into `buf`.
    pub(super) end: usize,
    pub(super) eof: bool,
    /// Number of the last line returned.
    pub(super) number: u64,
    pub(super) max_line: usize,
}

/// One line, numbered from 1, with its `\n` when it has one.
pub(super) struct Line<'b> {
    pub(super) number: u64,
    pub(super) bytes: &'b [u8],
}

impl Line<'_> {
    /// The line as a list result holds it: without `\n` or `\r\n`, like Rust's `lines()`.
    pub(super) fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(without_line_end(self.bytes))
    }
}

impl<'a> Lines<'a> {
    pub(super) fn new(file: &'a mut File, ctx: &TextCtx<'a>) -> HostResult<Lines<'a>> {
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
    pub(super) fn next(&mut self) -> HostResult<Option<Line<'_>>> {
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
    pub(super) fn refill(&mut self) -> HostResult<()> {
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
pub(super) fn for_lines_between(
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

/// Reads at most `cap` bytes from the file's current offset; `expected` sizes the buffer.
pub(super) fn read_up_to(
    file: &mut File,
    ctx: &TextCtx,
    cap: u64,
    expected: u64,
) -> HostResult<Vec<u8>> {
    let mut content = Vec::with_capacity(usize::try_from(expected.min(cap)).unwrap_or(0));
    Polled::new(file, ctx)
        .take(cap)
        .read_to_end(&mut content)
        .map_err(ReadFailure::into_host)?;
    Ok(content)
}

/// Bytes as text, refused if replacing invalid UTF-8 (1 byte becomes 3) crosses the limit.
pub(super) fn into_text(content: Vec<u8>, max: usize, what: &str) -> HostResult<String> {
    let text = match String::from_utf8(content) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    if text.len() > max {
        return Err(too_large(what, bytes(max)));
    }
    Ok(text)
}

pub(super) fn rewind(file: &mut File) -> HostResult<()> {
    file.rewind().map_err(|e| HostError::io("seek", FILE, e))
}

/// A line without its `\n`, and without a `\r` before that `\n`.
pub(super) fn without_line_end(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(body) => body.strip_suffix(b"\r").unwrap_or(body),
        None => line,
    }
}
