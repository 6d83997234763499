//! Where a log's files are, their names, and the saved state of its tree.

use super::*;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) segment: u64,
    pub(super) offset: u64,
    pub(super) size: u64,
    pub(super) frontier: Vec<String>,
    pub(super) prev: String,
}

/// The saved state, if a checkpoint was ever published.
pub(super) fn read_state(layout: &Layout) -> Result<Option<State>, AuditError> {
    match fs::read_to_string(layout.state()) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AuditError::Corrupt {
                path: layout.state().display().to_string(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read state", &layout.dir)(e)),
    }
}

/// The size of a checkpoint that was published, as the saved state says (the newest, or
/// one shortly before it: publishers race to write the state), or `None` when none was
/// saved. The state is written after its checkpoint, so that checkpoint must exist.
pub(crate) fn published_size(dir: &Path) -> Result<Option<u64>, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    Ok(read_state(&layout)?.map(|s| s.size))
}

/// Paths inside a log directory.
pub(crate) struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn vkey(&self) -> PathBuf {
        self.dir.join("verifier.vkey")
    }
    pub(super) fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub(super) fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn segment(&self, index: u64) -> PathBuf {
        self.dir.join("segments").join(segment_name(index))
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
}

pub(crate) fn segment_name(index: u64) -> String {
    format!("{index:06}.jsonl")
}

/// A checkpoint's file name: its size, zero-padded so that names sort by size.
pub(crate) fn checkpoint_name(size: u64) -> String {
    format!("{size:020}.note")
}

pub(crate) fn hex(h: &Hash) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(hex_in(h, &mut [0; 64]));
    out
}

/// A hash in lower-case hex, written into `buf`: the writer names each record's predecessor
/// this way without allocating.
pub(super) fn hex_in<'b>(h: &Hash, buf: &'b mut [u8; 64]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in buf.chunks_exact_mut(2).zip(h) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 15) as usize];
    }
    // Only ASCII digits were written, so this cannot fail.
    std::str::from_utf8(buf).unwrap_or_default()
}

pub(super) fn unhex(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}
