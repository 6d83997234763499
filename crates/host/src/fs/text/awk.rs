//! The `awk_*` functions: fields, filters, sums and counts over lines.

use super::*;

/// Splits `text` on every occurrence of `delim`, taken literally as Rex does: `" "` is one
/// space, so two spaces in a row make an empty field. An empty `delim` splits between
/// characters, with an empty field at each end (`"ab"` gives `["", "a", "b", ""]`).
pub fn awk_split(text: &str, delim: &str) -> Vec<String> {
    text.split(delim).map(str::to_owned).collect()
}

/// Field `n` (1-based) of every line; lines with fewer fields are skipped.
pub fn awk_field(file: &mut File, n: usize, delim: &str, ctx: &TextCtx) -> HostResult<Vec<String>> {
    let mut out = LineList::new(ctx.limits, "awk_field's result");
    for_each_field(file, n, delim, ctx, |_, value| out.push(value.to_owned()))?;
    Ok(out.lines)
}

/// The lines that contain `pattern`, taken literally (unlike [`grep`], as in Rex).
pub fn awk_filter(file: &mut File, pattern: &str, ctx: &TextCtx) -> HostResult<Vec<String>> {
    let finder = memchr::memmem::Finder::new(pattern.as_bytes());
    let mut out = LineList::new(ctx.limits, "awk_filter's result");
    let mut lines = Lines::new(file, ctx)?;
    while let Some(line) = lines.next()? {
        if finder.find(without_line_end(line.bytes)).is_some() {
            out.push(line.text().into_owned())?;
        }
    }
    Ok(out.lines)
}

/// The lines whose field `n` (1-based) contains `pattern`, taken literally.
pub fn awk_filter_field(
    file: &mut File,
    n: usize,
    delim: &str,
    pattern: &str,
    ctx: &TextCtx,
) -> HostResult<Vec<String>> {
    let mut out = LineList::new(ctx.limits, "awk_filter_field's result");
    for_each_field(file, n, delim, ctx, |line, value| {
        if value.contains(pattern) {
            out.push(line.to_owned())?;
        }
        Ok(())
    })?;
    Ok(out.lines)
}

/// The sum of field `n` over all lines. A field counts when, trimmed, it parses as a number
/// (`12`, `-3.5`, `1e3`, and as in Rex also `inf` and `nan`); others are skipped, so a header
/// line does no harm.
pub fn awk_sum(file: &mut File, n: usize, delim: &str, ctx: &TextCtx) -> HostResult<f64> {
    let mut total = 0.0;
    for_each_field(file, n, delim, ctx, |_, value| {
        if let Ok(v) = value.trim().parse::<f64>() {
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

/// Calls `each` with every line that has field `n` (as a list result holds the line) and with
/// that field.
pub(super) fn for_each_field(
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

/// Field `n` of a line (1-based, as [`awk_split`] splits it); there is no field 0.
pub(super) fn field<'t>(text: &'t str, n: usize, delim: &'t str) -> Option<&'t str> {
    text.split(delim).nth(n.checked_sub(1)?)
}
