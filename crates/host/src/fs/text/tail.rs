//! `tail`: the last lines of a file, or a range of lines, read backwards from the end.

use super::*;

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

/// Where the last `n` lines of `file` start, and where the file ends, found by reading
/// backwards from the end. Refuses as soon as those lines would be longer than the string
/// limit, so a large `n` on a huge file does not scan it all.
pub(super) fn start_of_last_lines(
    file: &mut File,
    n: u64,
    ctx: &TextCtx,
) -> HostResult<(u64, u64)> {
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
