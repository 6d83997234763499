//! `tail`: a selection of a file's lines, the last ones read backwards from the end.

use super::*;

/// Which lines [`tail`] returns, as Rex combines its `tail` flags: a count and a start line.
///
/// | `count` | `start` | lines |
/// |---|---|---|
/// | `-n` | none | the last `n` |
/// | `-n` | `s` | the `n` ending at line `s` (the last `n` when the file has fewer than `s` lines) |
/// | `n >= 0` | none or `s` | the first `n` from line `s` (from line 1 without a start) |
/// | none | `s` | from line `s` to the end |
/// | none | none | the last 10 |
///
/// Lines are numbered from 1; `start` is at least 1 (the caller refuses 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailLines {
    pub count: Option<i64>,
    pub start: Option<u64>,
}

/// How many lines `tail` returns when it is told neither a count nor a start.
const DEFAULT_LAST: u64 = 10;

/// `tail`: the selected lines, each without its line end (`\n` or `\r\n`).
///
/// The last lines are found by seeking to the end and scanning backwards, so their cost depends
/// on the lines returned, not on the file's size; a selection from the start reads only up to
/// its last line.
pub fn tail(file: &mut File, sel: TailLines, ctx: &TextCtx) -> HostResult<Vec<String>> {
    const WHAT: &str = "tail's result";
    let mut out = LineList::new(ctx.limits, WHAT);
    match (sel.count, sel.start) {
        (Some(count), start) if count < 0 => {
            let n = count.unsigned_abs();
            if let Some(last) = start {
                let first = last.saturating_sub(n - 1).max(1);
                let mut reached = false;
                for_lines_between(file, first, last, ctx, |line| {
                    reached = line.number == last;
                    out.push(line.text().into_owned())
                })?;
                if reached {
                    return Ok(out.lines);
                }
                // A start past the file's last line counts back from its end, as in Rex.
                out = LineList::new(ctx.limits, WHAT);
            }
            last_lines(file, n, ctx, &mut out)?;
        }
        (Some(0), _) => {}
        (Some(count), start) => {
            let first = start.unwrap_or(1);
            let last = first.saturating_add(count.unsigned_abs() - 1);
            for_lines_between(file, first, last, ctx, |line| {
                out.push(line.text().into_owned())
            })?;
        }
        (None, Some(first)) => {
            for_lines_between(file, first, u64::MAX, ctx, |line| {
                out.push(line.text().into_owned())
            })?;
        }
        (None, None) => last_lines(file, DEFAULT_LAST, ctx, &mut out)?,
    }
    Ok(out.lines)
}

/// The last `n` lines of `file`, into `out`.
fn last_lines(file: &mut File, n: u64, ctx: &TextCtx, out: &mut LineList) -> HostResult<()> {
    let (start, end) = start_of_last_lines(file, n, ctx)?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| HostError::io("seek", FILE, e))?;
    let content = read_up_to(file, ctx, end - start, end - start)?;
    if content.is_empty() {
        return Ok(());
    }
    let body = content.strip_suffix(b"\n").unwrap_or(&content);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.push(String::from_utf8_lossy(line).into_owned())?;
    }
    Ok(())
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
