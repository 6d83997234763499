//! Reading the files a run is given (scripts, arguments, the host owner's files) within a
//! size bound, and their digests for the audit trail.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, in hex, as records carry it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The text of `path`, refused if it is larger than `max` bytes (read no further than that).
pub(crate) fn read_bounded(path: &Path, max: usize) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(max as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(text)
}
