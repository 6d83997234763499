//! `file.extract_strings()`: the runs of printable characters in a file, as `strings` finds
//! them.

use std::io::Read;

use super::{io_error, Collect, CHUNK};
use crate::error::HostResult;
use crate::fs::FileHandle;
use crate::Host;

/// Shorter runs are noise in a binary, and `strings` leaves them out too.
const MIN_LEN: usize = 4;

/// Printable ASCII and tab.
fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) || b == b'\t'
}

impl Host {
    /// Every run of at least four printable ASCII characters (or tabs), in file order. Needs
    /// `read` on the file.
    pub fn extract_strings(&self, handle: &FileHandle) -> HostResult<Vec<String>> {
        let path = handle.path();
        let mut input = self.format_reader(handle)?;
        let mut out = Collect::head(self.limits, format!("the strings of {path}"));
        let mut buf = vec![0u8; CHUNK];
        let mut run: Vec<u8> = Vec::new();
        let max = self.limits.max_string_bytes;
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| io_error("read", path, e))?;
            for &b in &buf[..n] {
                if printable(b) {
                    if run.len() >= max {
                        return Err(super::too_large(
                            format!("a string in {path}"),
                            super::bytes_limit(&self.limits),
                        ));
                    }
                    run.push(b);
                } else {
                    flush(&mut run, &mut out)?;
                }
            }
            if n == 0 {
                flush(&mut run, &mut out)?;
                return out.finish();
            }
        }
    }
}

fn flush(run: &mut Vec<u8>, out: &mut Collect<String>) -> HostResult<()> {
    if run.len() >= MIN_LEN {
        // Printable ASCII is UTF-8.
        out.push(String::from_utf8_lossy(run).into_owned())?;
    }
    run.clear();
    Ok(())
}
