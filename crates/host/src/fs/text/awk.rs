//! The `awk_*` functions: fields, filters, sums and counts over lines.

use super::*;

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

/// The fields of `text`: pieces between literal `delim`s, or characters if `delim` is empty.
pub(super) fn fields<'t>(text: &'t str, delim: &'t str) -> impl Iterator<Item = &'t str> {
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
pub(super) fn field<'t>(text: &'t str, n: usize, delim: &'t str) -> Option<&'t str> {
    match n {
        0 => Some(text),
        n => fields(text, delim).nth(n - 1),
    }
}
