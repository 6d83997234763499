//! `wc`: lines, words and bytes, counted a chunk at a time.

use super::*;

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

/// wc's whitespace: space, `\t`, `\n`, `\v`, `\f`, `\r`. Branch-free so that the counting
/// loop vectorizes.
#[inline(always)]
pub(super) fn is_space(b: u8) -> bool {
    (b == b' ') | (b.wrapping_sub(b'\t') < 5)
}

/// The newlines in `chunk` and the bytes of it that start a word (a non-space after a space);
/// `after_space` says whether the byte before `chunk` was a space.
pub(super) fn newlines_and_word_starts(chunk: &[u8], after_space: bool) -> (u64, u64) {
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
pub(super) fn count(chunk: &[u8], after_space: bool) -> (u64, u64) {
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
