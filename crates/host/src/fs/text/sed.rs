//! `sed`: a substitution over every line.

use super::*;

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
