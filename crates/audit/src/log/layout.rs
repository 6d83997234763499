//! Where a log's files are, their names, and what is saved of where checkpoints left it.

use super::*;
use crate::tiles::Hash;

/// What a format-1 log saved at each checkpoint (its tree's frontier, for its writers to
/// resume from): read now only for the size of the newest checkpoint it published.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct State {
    pub(super) size: u64,
}

/// Where in the segments the newest checkpoint's records end, saved after each checkpoint so
/// that a publisher resumes there without counting the log's lines; and, since it is written
/// after the checkpoint, evidence of one: a log whose newest checkpoint is older than this
/// lost its newest checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tiled {
    pub(crate) size: u64,
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    /// Where the checkpoint's note starts in `checkpoints.notes`: a publisher that starts
    /// reads from there, not every note the log ever had.
    #[serde(default)]
    pub(crate) note: u64,
}

/// The saved end of the newest checkpoint's records, if one was ever published (format 2).
pub(crate) fn read_tiled(layout: &Layout) -> Result<Option<Tiled>, AuditError> {
    read_saved(layout, &layout.tiled(), "read tiled.json")
}

/// The saved state, if a checkpoint was ever published (format 1).
pub(super) fn read_state(layout: &Layout) -> Result<Option<State>, AuditError> {
    read_saved(layout, &layout.state(), "read state")
}

/// A JSON file a publisher saved, if there is one.
fn read_saved<T: serde::de::DeserializeOwned>(
    layout: &Layout,
    path: &Path,
    what: &'static str,
) -> Result<Option<T>, AuditError> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AuditError::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(what, &layout.dir)(e)),
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
    /// Format 1's checkpoints, one file each.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
    /// The checkpoints, one signed note after another (format 2).
    pub fn notes(&self) -> PathBuf {
        self.dir.join("checkpoints.notes")
    }
    pub(crate) fn tiled(&self) -> PathBuf {
        self.dir.join("tiled.json")
    }
    pub(super) fn publish_lock(&self) -> PathBuf {
        self.dir.join("publish.lock")
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
    h.iter().fold(String::with_capacity(64), |mut out, b| {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
        out
    })
}
