//! gzip files: `read_gzip_lines` (zcat | head/tail), `search_gzip` (zgrep), `gzip_info`
//! (the sizes in the trailer) and `compress_gzip`.
//!
//! Every member of a multi-member file is read, as zcat does. Lines are split on `\n` (a
//! `\r` before it is dropped); bytes that are not UTF-8 become U+FFFD.

use std::io::{BufReader, Read, Seek, SeekFrom};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use regex::{Regex, RegexBuilder};

use super::{io_error, next_line, same_file, At, Collect, Weighed, WriteAt, CHUNK};
use crate::error::{HostError, HostResult};
use crate::fs::FileHandle;
use crate::Host;

/// The sizes of a gzip file: on disk, and decompressed as its trailer records it (modulo
/// 2^32, as the format stores it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GzipInfo {
    pub compressed_size_bytes: u64,
    pub uncompressed_size_bytes: u64,
    /// Uncompressed over compressed; 0 for an empty file.
    pub compression_ratio: f64,
}

/// Which lines `read_gzip_lines` returns, as Rex's `ReadLinesOptions` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRange {
    /// `n >= 0`: the first `n` lines (from `start`); `n < 0`: the last `-n` (up to `start`).
    pub count: Option<i64>,
    /// The first line (from 1) to read, or with a negative count the last.
    pub start: Option<u64>,
}

/// How `search_gzip` matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchGzip {
    /// Lines that also match this are left out.
    pub exclude_pattern: Option<String>,
    pub case_insensitive: bool,
    /// `0`: every match; `n > 0`: the first `n`; `n < 0`: the last `-n`.
    pub max_results: i64,
}

/// One matching line, numbered from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GzipMatch {
    pub line_number: u64,
    pub line_content: String,
}

impl Weighed for GzipMatch {
    fn bytes(&self) -> usize {
        self.line_content.len()
    }
}

/// The two bytes every gzip member starts with.
const MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Host {
    /// `file.gzip_info()`: needs `read` on the file.
    pub fn gzip_info(&self, handle: &FileHandle) -> HostResult<GzipInfo> {
        let path = handle.path();
        let mut file = self.format_reader(handle)?;
        let size = file.len().map_err(|e| io_error("stat", path, e))?;
        let mut magic = [0u8; 2];
        let mut trailer = [0u8; 4];
        let read = (|| {
            file.read_exact(&mut magic)?;
            file.seek(SeekFrom::End(-4))?;
            file.read_exact(&mut trailer)
        })();
        // A gzip file is at least a header (10 bytes) and a trailer (8).
        if size < 18 || read.is_err() || magic != MAGIC {
            return Err(HostError::InvalidInput(format!(
                "{path} is not a gzip file"
            )));
        }
        let uncompressed = u64::from(u32::from_le_bytes(trailer));
        Ok(GzipInfo {
            compressed_size_bytes: size,
            uncompressed_size_bytes: uncompressed,
            compression_ratio: uncompressed as f64 / size as f64,
        })
    }

    /// `file.read_gzip_lines(ReadLinesOptions()...)`: needs `read` on the file.
    pub fn read_gzip_lines(
        &self,
        handle: &FileHandle,
        range: LineRange,
    ) -> HostResult<Vec<String>> {
        let path = handle.path();
        let what = format!("the lines read from {path}");
        let mut input = self.gzip_lines(handle)?;
        let mut line = Vec::new();
        let limits = self.limits;
        match (range.count, range.start) {
            (None, None) => Err(HostError::InvalidInput(
                "ReadLinesOptions needs count or start".to_owned(),
            )),
            (Some(n), end) if n < 0 => {
                let want = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                let mut out = Collect::tail(want, limits, what);
                let mut number = 0u64;
                while end.is_none_or(|end| number < end)
                    && next_line(&mut input, &mut line, &limits, path)?
                {
                    number += 1;
                    out.push(String::from_utf8_lossy(&line).into_owned())?;
                }
                out.finish()
            }
            (count, start) => {
                let skip = start.unwrap_or(1).saturating_sub(1);
                let take = count.map(|n| n.unsigned_abs());
                let mut out = Collect::head(limits, what);
                let mut number = 0u64;
                let mut taken = 0u64;
                while take.is_none_or(|t| taken < t)
                    && next_line(&mut input, &mut line, &limits, path)?
                {
                    number += 1;
                    if number > skip {
                        taken += 1;
                        out.push(String::from_utf8_lossy(&line).into_owned())?;
                    }
                }
                out.finish()
            }
        }
    }

    /// `file.search_gzip(pattern, SearchGzipOptions()...)`: needs `read` on the file.
    pub fn search_gzip(
        &self,
        handle: &FileHandle,
        pattern: &str,
        options: &SearchGzip,
    ) -> HostResult<Vec<GzipMatch>> {
        let path = handle.path();
        let matcher = RegexBuilder::new(pattern)
            .case_insensitive(options.case_insensitive)
            .size_limit(self.limits.max_string_bytes.min(10 << 20))
            .build()
            .map_err(|e| HostError::InvalidInput(format!("invalid pattern {pattern:?}: {e}")))?;
        let exclude = options
            .exclude_pattern
            .as_deref()
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    HostError::InvalidInput(format!("invalid exclude_pattern {p:?}: {e}"))
                })
            })
            .transpose()?;
        let what = format!("the matches in {path}");
        let mut out = if options.max_results < 0 {
            let want = usize::try_from(options.max_results.unsigned_abs()).unwrap_or(usize::MAX);
            Collect::tail(want, self.limits, what)
        } else {
            Collect::head(self.limits, what)
        };
        let first = u64::try_from(options.max_results).ok().filter(|n| *n > 0);
        let mut input = self.gzip_lines(handle)?;
        let mut line = Vec::new();
        let mut number = 0u64;
        let mut found = 0u64;
        while first.is_none_or(|n| found < n)
            && next_line(&mut input, &mut line, &self.limits, path)?
        {
            number += 1;
            let text = String::from_utf8_lossy(&line);
            if !matcher.is_match(&text) || exclude.as_ref().is_some_and(|x| x.is_match(&text)) {
                continue;
            }
            found += 1;
            out.push(GzipMatch {
                line_number: number,
                line_content: text.into_owned(),
            })?;
        }
        out.finish()
    }

    /// `file.search_gzip_exists(pattern, options)`: whether one line matches; stops at the
    /// first. Needs `read` on the file.
    pub fn search_gzip_exists(
        &self,
        handle: &FileHandle,
        pattern: &str,
        options: &SearchGzip,
    ) -> HostResult<bool> {
        let first = SearchGzip {
            max_results: 1,
            ..options.clone()
        };
        Ok(!self.search_gzip(handle, pattern, &first)?.is_empty())
    }

    /// `source.compress_gzip(dest, CompressGzipOptions().level(n).build())`: the source's
    /// content, gzip-compressed at `level` (1 to 9), replaces the destination's. Needs `read`
    /// on the source and `write` on the destination.
    pub fn compress_gzip(
        &self,
        source: &FileHandle,
        dest: &FileHandle,
        level: u32,
    ) -> HostResult<()> {
        if !(1..=9).contains(&level) {
            return Err(HostError::InvalidInput(format!(
                "the compression level must be from 1 to 9, not {level}"
            )));
        }
        let mut input = self.format_reader(source)?;
        let out = self.format_writer(dest)?;
        let dest_path = dest.path();
        // Emptying the destination first would destroy a source that is the same file.
        if same_file(&input.file, &out).map_err(|e| io_error("stat", dest_path, e))? {
            return Err(HostError::InvalidInput(format!(
                "{dest_path} is the file being compressed; write to another file"
            )));
        }
        out.set_len(0)
            .map_err(|e| io_error("write", dest_path, e))?;
        let writer = WriteAt {
            file: &out,
            pos: 0,
            interrupt: &self.interrupt,
        };
        let mut encoder = GzEncoder::new(writer, Compression::new(level));
        std::io::copy(&mut input, &mut encoder)
            .map_err(|e| io_error("compress", source.path(), e))?;
        encoder
            .finish()
            .map_err(|e| io_error("write", dest_path, e))?;
        Ok(())
    }

    /// The decompressed lines of a gzip file, after `read` is permitted on it.
    fn gzip_lines(&self, handle: &FileHandle) -> HostResult<BufReader<MultiGzDecoder<At>>> {
        let input = self.format_reader(handle)?;
        Ok(BufReader::with_capacity(CHUNK, MultiGzDecoder::new(input)))
    }
}
