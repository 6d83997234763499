//! `sed`: a substitution over the whole text of a file.

use super::*;

/// Flags of [`sed`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SedOptions {
    /// The pattern is a regex and the replacement may refer to its groups (`$1`, `${name}`);
    /// otherwise both are literal text.
    pub regex: bool,
    /// Replace every occurrence, not only the first one in the file.
    pub all: bool,
}

/// `sed 's/pattern/replacement/'` over the whole file as one text, as Rex does: without `all`
/// only the first match in the file is replaced, a match may span lines, and `^`/`$` are the
/// text's start and end unless the pattern turns on `(?m)`.
///
/// The result is built under the string limit, so a replacement that multiplies the text is
/// refused before it grows past it.
pub fn sed(
    file: &mut File,
    pattern: &str,
    replacement: &str,
    opts: &SedOptions,
    ctx: &TextCtx,
) -> HostResult<String> {
    let regex = opts.regex.then(|| compile(pattern)).transpose()?;
    let text = cat(file, false, ctx)?;
    let mut out = TextOut::new(ctx.limits.max_string_bytes, "sed's result");
    let mut copied = 0;
    match regex {
        Some(re) => {
            // What one replacement can grow to: each `$` may bring in the whole match.
            let refs = replacement.matches('$').count();
            for caps in re.captures_iter(&text) {
                let Some(m) = caps.get(0) else { continue };
                let bound = replacement
                    .len()
                    .saturating_add(refs.saturating_mul(m.len()));
                if out.text.len() + (m.start() - copied) + bound > out.max {
                    return Err(too_large(out.what, bytes(out.max)));
                }
                out.push(&text[copied..m.start()])?;
                let mut expanded = String::new();
                caps.expand(replacement, &mut expanded);
                out.push(&expanded)?;
                copied = m.end();
                if !opts.all {
                    break;
                }
            }
        }
        None => {
            for (at, found) in text.match_indices(pattern) {
                out.push(&text[copied..at])?;
                out.push(replacement)?;
                copied = at + found.len();
                if !opts.all {
                    break;
                }
            }
        }
    }
    out.push(&text[copied..])?;
    Ok(out.text)
}
