//! `cat`: a whole file, optionally with numbered lines.

use super::*;

/// `cat`: the whole file. With `number`, each line is prefixed with its number right-aligned in
/// six columns and a tab, as `cat -n` does, and the lines are joined by `\n` without one after
/// the last (Rex's numbered form, which drops `\r` line ends as well).
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
        if line.number > 1 {
            out.push("\n")?;
        }
        out.push(&format!("{:>6}\t", line.number))?;
        out.push(&line.text())?;
    }
    Ok(out.text)
}
