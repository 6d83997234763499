//! The checkpoints file: signed notes, one after another. Only a publisher appends to it,
//! under the publish lock, so its checkpoints grow in size from first to last.

use super::*;

/// The notes of a checkpoints file, each with the byte offset it starts at, and the offset of
/// a torn note at its end (a publisher died mid-write), if there is one.
pub(crate) struct Notes {
    pub(crate) notes: Vec<(u64, String)>,
    pub(crate) torn: Option<u64>,
}

/// Reads the notes from byte `from` on; a missing file holds none.
pub(crate) fn read_notes(layout: &Layout, from: u64) -> Result<Notes, AuditError> {
    let path = layout.notes();
    let mut text = String::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.seek(SeekFrom::Start(from))
                .and_then(|_| f.read_to_string(&mut text))
                .map_err(io_err("read checkpoints", &path))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("read checkpoints", &path)(e)),
    }
    let mut notes = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match note_end(&text[at..]) {
            Some(len) => {
                notes.push((from + at as u64, text[at..at + len].to_owned()));
                at += len;
            }
            None => {
                return Ok(Notes {
                    notes,
                    torn: Some(from + at as u64),
                })
            }
        }
    }
    Ok(Notes { notes, torn: None })
}

/// The length of the note at the start of `text`: its text up to the blank line, then its
/// signature lines, each starting with an em dash; the next note starts with its origin.
fn note_end(text: &str) -> Option<usize> {
    let mut end = text.find("\n\n")? + 2;
    let mut signatures = 0;
    while text[end..].starts_with("\u{2014} ") {
        end += text[end..].find('\n')? + 1;
        signatures += 1;
    }
    (signatures > 0).then_some(end)
}

/// Appends a note with one write and syncs it; a failed write is cut off again.
pub(super) fn append_note(layout: &Layout, note: &str) -> Result<(), AuditError> {
    let path = layout.notes();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(&path)
        .map_err(io_err("open checkpoints", &path))?;
    let len = f
        .metadata()
        .map_err(io_err("stat checkpoints", &path))?
        .len();
    if let Err(e) = f.write_all(note.as_bytes()) {
        let _ = f.set_len(len);
        return Err(io_err("append checkpoint", &path)(e));
    }
    f.sync_data().map_err(io_err("sync checkpoints", &path))
}

/// Cuts off a torn note at `offset`, under the publish lock.
pub(super) fn cut_torn_note(layout: &Layout, offset: u64) -> Result<(), AuditError> {
    let path = layout.notes();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(offset))
        .map_err(io_err("repair checkpoints", &path))
}
