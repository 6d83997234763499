//! Publishing checkpoints: reading the new records back, hashing them into their tiles, and
//! signing, on a thread of its own, in order, and telling a failure.

use std::io::BufRead;

use super::*;
use crate::tiles::{leaf_hash, tile_name, write_tile, Edge};

/// What publishing a checkpoint needs, owned by the publisher's thread, and what it knows of
/// the log from one checkpoint to the next.
pub(super) struct Signer {
    layout: Layout,
    key: SigningKey,
    verifier: Verifier,
    key_path: PathBuf,
    origin: String,
    /// `publish.lock`, opened at the first checkpoint.
    lock: Option<File>,
    /// How much of the checkpoints file was read, and the newest checkpoint in it.
    read: u64,
    newest: Option<Checkpoint>,
    /// The tree's right edge at `newest`, and where its records end, once known.
    edge: Option<(Edge, Tiled)>,
}

impl Signer {
    pub(super) fn new(dir: &Path, key: SigningKey, key_path: PathBuf, origin: String) -> Signer {
        Signer {
            layout: Layout {
                dir: dir.to_owned(),
            },
            verifier: key.verifier(),
            key,
            key_path,
            origin,
            lock: None,
            read: 0,
            newest: None,
            edge: None,
        }
    }

    /// Publishes a checkpoint covering at least `due`: unless another publisher has, hashes
    /// the records since the newest checkpoint into the tiles, makes them durable, signs,
    /// and appends the note. One publisher at a time, across processes (`publish.lock`), so
    /// that the tiles and the checkpoints file only ever grow, in order; the append lock is
    /// not taken: the records up to `due` were written under it and no writer changes them.
    pub(super) fn publish(&mut self, due: Due) -> Result<Checkpoint, AuditError> {
        let dir = self.layout.dir.clone();
        if self.lock.is_none() {
            let path = self.layout.publish_lock();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err("open publish lock", &path))?;
            self.lock = Some(file);
        }
        let lock = self.lock.as_ref().map(|f| f.try_clone());
        let Some(Ok(lock)) = lock else {
            return Err(io_err("open publish lock", &dir)(io::Error::other(
                "cannot duplicate its descriptor",
            )));
        };
        rustix::fs::flock(&lock, FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock for publishing", &dir)(e.into()))?;
        let result = self.publish_locked(due);
        let _ = rustix::fs::flock(&lock, FlockOperation::Unlock);
        if result.is_err() {
            // What was learned may be half of it: start afresh from the files next time.
            self.edge = None;
            self.read = 0;
            self.newest = None;
        }
        result
    }

    fn publish_locked(&mut self, due: Due) -> Result<Checkpoint, AuditError> {
        if self.newest.is_none() && self.read == 0 {
            // Start at the newest checkpoint a publisher saved, if any: the ones before it
            // were checked when they were built on.
            if let Some(t) = read_tiled(&self.layout)? {
                self.read = t.note;
            }
        }
        self.read_new_notes()?;
        if let Some(cp) = self.newest.as_ref().filter(|cp| cp.size >= due.size) {
            return Ok(cp.clone());
        }
        let (mut edge, mut at) = self.resume()?;
        let stale: Vec<(u8, u64, usize)> = edge
            .partials()
            .map(|(l, n, h)| (l, n, h.len() / 32))
            .collect();
        let dir = self.layout.dir.clone();
        advance(&self.layout, &mut at, due.size, |line| {
            edge.push(&leaf_hash(line), |(l, n, hashes)| {
                write_tile(&dir, l, n, hashes)
                    .map(|_| ())
                    .map_err(io_err("write tile", &dir))
            })
        })?;
        if (at.segment, at.offset) != (due.segment, due.offset) {
            return Err(AuditError::Corrupt {
                path: dir.display().to_string(),
                message: format!(
                    "record {} ends at byte {} of {}, not at byte {} of {} where its writer left it: the segments changed under the publisher; run `tollgate audit verify`",
                    due.size.saturating_sub(1),
                    at.offset,
                    segment_name(at.segment),
                    due.offset,
                    segment_name(due.segment)
                ),
            });
        }
        // Segments before this one were synced when they were rotated.
        let segment = self.layout.segment(due.segment);
        File::open(&segment)
            .and_then(|f| f.sync_data())
            .map_err(io_err("sync segment", &segment))?;
        for (l, n, hashes) in edge.partials() {
            write_tile(&dir, l, n, hashes).map_err(io_err("write tile", &dir))?;
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: edge.size(),
            root: edge.root(),
            extensions: Vec::new(),
        };
        let note = checkpoint.sign(&self.key).map_err(|e| AuditError::Key {
            path: self.key_path.display().to_string(),
            message: e.to_string(),
        })?;
        append_note(&self.layout, &note)?;
        at.note = self.read;
        self.read += note.len() as u64;
        let text = serde_json::to_string(&at).map_err(|e| AuditError::Corrupt {
            path: self.layout.tiled().display().to_string(),
            message: e.to_string(),
        })?;
        write_atomic(&self.layout.tiled(), text.as_bytes())?;
        // The narrower partial tiles are covered by the new ones (or by full tiles) now.
        let fresh: Vec<(u8, u64, usize)> = edge
            .partials()
            .map(|(l, n, h)| (l, n, h.len() / 32))
            .collect();
        for (l, n, w) in stale.into_iter().filter(|t| !fresh.contains(t)) {
            let _ = fs::remove_file(dir.join(tile_name(l, n, w)));
        }
        self.newest = Some(checkpoint.clone());
        self.edge = Some((edge, at));
        Ok(checkpoint)
    }

    /// Reads the checkpoints other publishers appended since this one last looked (all of
    /// them the first time), and cuts off a torn one: a publisher died writing it.
    fn read_new_notes(&mut self) -> Result<(), AuditError> {
        let notes = read_notes(&self.layout, self.read)?;
        for (offset, note) in &notes.notes {
            let cp = crate::checkpoint::open(note, &self.verifier).map_err(|e| {
                AuditError::Corrupt {
                    path: self.layout.notes().display().to_string(),
                    message: format!(
                        "the checkpoint at byte {offset} does not verify ({e}), so nothing is signed on top of it; run `tollgate audit verify`"
                    ),
                }
            })?;
            self.read = offset + note.len() as u64;
            self.newest = Some(cp);
        }
        if let Some(offset) = notes.torn {
            cut_torn_note(&self.layout, offset)?;
            self.read = offset;
        }
        Ok(())
    }

    /// The tree's edge at the newest checkpoint and where its records end: as this publisher
    /// left them, or read from the tiles and `tiled.json` (or, without it, by counting lines).
    fn resume(&mut self) -> Result<(Edge, Tiled), AuditError> {
        let (size, root) = match &self.newest {
            Some(cp) => (cp.size, cp.root),
            None => (0, crate::tiles::empty_root()),
        };
        if let Some((edge, at)) = self.edge.take() {
            if edge.size() == size {
                return Ok((edge, at));
            }
        }
        let dir = &self.layout.dir;
        let edge = Edge::load(dir, size).map_err(io_err("read tiles", dir))?;
        if edge.root() != root {
            return Err(AuditError::Corrupt {
                path: dir.display().to_string(),
                message: format!(
                    "the tiles do not match the newest checkpoint ({size} records), so nothing is signed on top of them; run `tollgate audit verify`"
                ),
            });
        }
        let start = Tiled {
            size: 0,
            segment: 1,
            offset: 0,
            note: 0,
        };
        let mut at = match read_tiled(&self.layout)? {
            Some(t) if t.size <= size => t,
            Some(t) => {
                return Err(AuditError::Corrupt {
                    path: self.layout.tiled().display().to_string(),
                    message: format!(
                        "it says a checkpoint covered {} records, but the newest one covers {size}: checkpoints were deleted; run `tollgate audit verify`",
                        t.size
                    ),
                })
            }
            None => start,
        };
        advance(&self.layout, &mut at, size, |_| Ok(()))?;
        Ok((edge, at))
    }
}

/// Reads records from `at` on, following rotations, until the log's first `size` are read,
/// calling `each` with every line (without its newline); `at` moves along. The first line's
/// sequence number and the last one's are checked: a wrong starting point, or lines that
/// are not the log's, are named rather than hashed.
fn advance(
    layout: &Layout,
    at: &mut Tiled,
    size: u64,
    mut each: impl FnMut(&[u8]) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let mut line = Vec::new();
    let mut last = Vec::new();
    let mut first = true;
    let check = |path: &Path, line: &[u8], seq: u64| -> Result<(), AuditError> {
        let found = glance(line).map(|g| g.seq);
        if found.as_ref().ok() == Some(&seq) {
            return Ok(());
        }
        Err(AuditError::Corrupt {
            path: path.display().to_string(),
            message: format!(
                "record {seq} is not where the log says ({}); run `tollgate audit verify`",
                match found {
                    Ok(s) => format!("sequence number {s} is"),
                    Err(e) => format!("the line is not a record: {e}"),
                }
            ),
        })
    };
    while at.size < size {
        let path = layout.segment(at.segment);
        let mut file = File::open(&path).map_err(io_err("open segment", &path))?;
        file.seek(SeekFrom::Start(at.offset))
            .map_err(io_err("read segment", &path))?;
        let mut reader = io::BufReader::with_capacity(1 << 20, file);
        let mut read_any = false;
        while at.size < size {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(io_err("read segment", &path))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let body = &line[..n - 1];
            if first {
                check(&path, body, at.size)?;
                first = false;
            }
            each(body)?;
            at.size += 1;
            at.offset += n as u64;
            read_any = true;
            std::mem::swap(&mut last, &mut line);
        }
        if at.size == size {
            let body = last.strip_suffix(b"\n").unwrap_or(&last);
            if read_any && size > 0 {
                check(&path, body, size - 1)?;
                // A rotation ends its segment: the records after it start in the next one,
                // where its writer went on.
                match glance(body) {
                    Ok(g) if g.kind == "rotate" => {
                        at.segment = rotation_target(&path, g.next.as_deref())?;
                        at.offset = 0;
                    }
                    _ => {}
                }
            }
            break;
        }
        // The segment ended before the records did: it must end with its rotation.
        let body = last.strip_suffix(b"\n").unwrap_or(&last);
        match glance(body) {
            Ok(g) if read_any && g.kind == "rotate" => {
                at.segment = rotation_target(&path, g.next.as_deref())?;
                at.offset = 0;
                last.clear();
            }
            _ => {
                return Err(AuditError::Corrupt {
                    path: path.display().to_string(),
                    message: format!(
                        "the log ends after {} records, before the {size} its writers counted; run `tollgate audit verify`",
                        at.size
                    ),
                })
            }
        }
    }
    Ok(())
}

/// One checkpoint for the publisher: where the records it covers end, and where to send the
/// result when the caller waits for it.
pub(super) struct Job {
    pub(super) due: Due,
    pub(super) done: Option<mpsc::Sender<Result<Checkpoint, AuditError>>>,
}

/// Publishes checkpoints on a thread of its own, in the order they were taken. Hashing the
/// records, writing their tiles, syncing and signing cost from microseconds a record to
/// milliseconds on a busy disk, and a run that appends a decision every few microseconds
/// must not wait for them; the checkpoint at the end of a run is waited for. A checkpoint
/// that could not be published makes every later append fail, so the gate denies from then
/// on.
pub(super) struct Publisher {
    pub(super) jobs: mpsc::Sender<Job>,
    pub(super) failed: Arc<Mutex<Option<String>>>,
    pub(super) dir: PathBuf,
}

impl Publisher {
    pub(super) fn start(mut signer: Signer, dir: &Path) -> Result<Publisher, AuditError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let failed = Arc::new(Mutex::new(None));
        let failed_in_thread = Arc::clone(&failed);
        std::thread::Builder::new()
            .name("audit-publisher".to_owned())
            .spawn(move || {
                // Ends when the log, and with it the sender, is dropped.
                for job in queue {
                    let result = signer.publish(job.due);
                    match job.done {
                        Some(done) => {
                            let _ = done.send(result);
                        }
                        None => {
                            if let Err(e) = result {
                                if let Ok(mut failed) = failed_in_thread.lock() {
                                    failed.get_or_insert(e.to_string());
                                }
                            }
                        }
                    }
                }
            })
            .map_err(io_err("start the checkpoint publisher", dir))?;
        Ok(Publisher {
            jobs,
            failed,
            dir: dir.to_owned(),
        })
    }

    pub(super) fn submit(
        &self,
        due: Due,
        done: Option<mpsc::Sender<Result<Checkpoint, AuditError>>>,
    ) -> Result<(), AuditError> {
        self.jobs.send(Job { due, done }).map_err(|_| self.gone())
    }

    /// Fails once a checkpoint published in the background has failed.
    pub(super) fn healthy(&self) -> Result<(), AuditError> {
        let failed = match self.failed.lock() {
            Ok(failed) => failed.clone(),
            Err(_) => Some("the publisher panicked".to_owned()),
        };
        match failed {
            None => Ok(()),
            Some(message) => Err(AuditError::Publish {
                path: self.dir.display().to_string(),
                message,
            }),
        }
    }

    pub(super) fn gone(&self) -> AuditError {
        AuditError::Publish {
            path: self.dir.display().to_string(),
            message: "the publisher thread stopped".to_owned(),
        }
    }
}

/// Whether an append made a checkpoint fall due, and who publishes it.
pub(super) enum Falling {
    No,
    /// This writer, once the lock is released.
    Publish(Due),
    /// The writer that holds the key, asked by this appender.
    Ask,
}

/// A checkpoint noted under the lock and not yet published: the log's size then, and where
/// in the segments its last record ends.
pub(super) type Due = Tiled;
