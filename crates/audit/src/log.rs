//! The audit log on disk: segments of records, their hash tiles, signed checkpoints, and the
//! writer that appends to them safely from several processes at once.
//!
//! Layout of a log directory (format 2; see [`LogConfig::format`]):
//!
//! ```text
//! config.json            origin, signing key path, segment size, checkpoint interval, format
//! verifier.vkey          the public key that verifies checkpoints
//! lock                   flock(2) target: one appender at a time, across processes
//! waiting                flock(2) target: writers waiting for `lock` (keeps it fair)
//! publish.lock           flock(2) target: one publisher at a time, across processes
//! segments/NNNNNN.jsonl  records, one canonical JSON object per line
//! tile/L/N[.p/W]         the records' Merkle tree as C2SP tlog-tiles hash tiles
//! checkpoints.notes      signed checkpoints (C2SP tlog-checkpoint notes), appended in order
//! tiled.json             where in the segments the newest checkpoint's records end
//! ```
//!
//! A log of format 1 also has `state.json` and `checkpoints/SIZE.note` (one file per
//! checkpoint), and its records name their predecessor's hash in `prev`; the first writer
//! that opens one upgrades it to format 2, and its old records and checkpoints still verify.
//!
//! The private key (mode 0600) lives outside the directory (see [`default_key_path`]), so
//! that a grant on the directory never reaches it; logs made before keep theirs where
//! `config.json` says.
//!
//! Appending is the only thing on a decision's path: a writer takes the lock, counts the
//! lines other writers added while it did not hold it (so sequence numbers stay one), and
//! writes its lines with one `write` to an `O_APPEND` file before the decision they record
//! takes effect; nothing is hashed. It keeps the lock through a burst of appends and lets go
//! after a millisecond of holding or idling. Every [`LogConfig::checkpoint_every`] records,
//! and at the end of a run, the writer that holds the key publishes a checkpoint on a thread
//! of its own (see `publish`): it reads the new records back, hashes them, writes their
//! tiles and signs. `fdatasync` comes per checkpoint, or per record with [`SyncMode::Every`],
//! after the lock is released, since on a busy disk it can take seconds. A writer killed
//! mid-line leaves a torn final line: the next writer cuts it off and records an
//! [`Event::Repair`], so no complete record is ever lost and the log still verifies.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, SigningKey, Verifier};
use crate::record::{Event, EventRef, Record, RecordRef};

mod init;
mod layout;
mod lock;
mod notes;
mod publish;

use init::*;
pub use init::{default_key_path, host_name, init, read_config, read_verifier, InitOptions};
pub(crate) use layout::{
    checkpoint_name, hex, published_size, read_tiled, segment_name, Layout, Tiled,
};
use lock::*;
pub(crate) use notes::read_notes;
use notes::*;
use publish::*;

/// How long an append waits for another writer's lock before it fails (and so denies).
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a writer keeps the cross-process lock through a burst of appends. Keeping it
/// saves two `flock` calls and a `stat` per append; another writer waits at most about this
/// long, and an idle writer lets go after it (see [`AuditLog::open`]).
const HOLD: Duration = Duration::from_millis(1);

/// How long a writer that ended a burst waits at most for a waiting writer to take its turn.
const GIVE_WAY: Duration = Duration::from_millis(20);

/// Why the log could not do what was asked. Every one of these denies the decision at hand.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {what}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("audit log {0} is not initialized; run `tollgate audit init --dir {0}`")]
    NotInitialized(String),
    #[error("audit log {path}: {message}")]
    Corrupt { path: String, message: String },
    #[error("audit log {0}: another writer held the lock for more than 5 s")]
    LockTimeout(String),
    #[error("audit log {path}: bad signing key: {message}")]
    Key { path: String, message: String },
    #[error("audit log {path}: a checkpoint could not be published: {message}")]
    Publish { path: String, message: String },
}

fn io_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> AuditError + 'p {
    move |source| AuditError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// When records reach the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// `fdatasync` at every checkpoint and at the end of a run (group commit).
    #[default]
    Batch,
    /// `fdatasync` after every record.
    Every,
}

/// The settings of a log, fixed at `init`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogConfig {
    /// The checkpoint origin line, e.g. `tollgate/web-1/audit`.
    pub origin: String,
    /// Path of the signing key file.
    pub key: PathBuf,
    /// A segment is closed once it grows past this many bytes.
    pub segment_bytes: u64,
    /// A checkpoint is written every this many records (and at the end of every run).
    pub checkpoint_every: u64,
    /// The on-disk format. 1: each record names its predecessor's hash (`prev`), each
    /// checkpoint is a file of its own, `state.json` saves the tree. 2: the tree is kept in
    /// hash tiles and the checkpoints in one file. A log without this field is of format 1.
    #[serde(default = "format_1")]
    pub format: u32,
    /// For a log upgraded from format 1: how many records it held then. Those carry `prev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgraded_at: Option<u64>,
}

/// The format this version writes.
pub(crate) const FORMAT: u32 = 2;

fn format_1() -> u32 {
    1
}

impl LogConfig {
    /// How many of the log's first records carry a `prev` hash that `verify` checks.
    pub(crate) fn chained_records(&self) -> u64 {
        match self.format {
            1 => u64::MAX,
            _ => self.upgraded_at.unwrap_or(0),
        }
    }
}

/// How an appender tells the writer that holds the key that a checkpoint fell due, or says
/// why it could not.
pub type CheckpointRequest = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// An open log that this process appends to.
pub struct AuditLog {
    layout: Layout,
    config: LogConfig,
    host: String,
    sync: SyncMode,
    lock: Lock,
    writer: Mutex<Writer>,
    /// Hashes, tiles and signs checkpoints; `None` for an [`AuditLog::open_appender`], which
    /// never holds the key and leaves due checkpoints to the process that does.
    publisher: Option<Publisher>,
    /// For an appender: asks the writer that holds the key to publish a checkpoint that has
    /// fallen due, and waits until it has (see [`AuditLog::open_appender`]).
    request_checkpoint: Option<CheckpointRequest>,
    /// The thread that lets go of the lock when this writer is idle, started by the first
    /// append so that opening a log starts no thread (a worker opens its log before it is
    /// confined, and a confined process must not have threads that are not).
    idle: std::sync::Once,
}

struct Writer {
    segment: File,
    segment_index: u64,
    offset: u64,
    /// Records in the log as far as this writer has read it: the next sequence number.
    size: u64,
    /// Log size at the last checkpoint this writer took or asked for.
    checkpointed: u64,
    /// When this writer took the cross-process lock, while it holds it.
    held_since: Option<Instant>,
    /// When this writer ended a burst while another was waiting, until it has given way.
    gave_way: Option<Instant>,
    last_append: Instant,
    /// Kept from one append to the next so that appending allocates nothing.
    scratch: Scratch,
}

/// The buffers an append encodes into.
#[derive(Default)]
struct Scratch {
    time: String,
    lines: String,
}

impl AuditLog {
    /// Opens an initialized log for appending, repairing a torn final line if a writer died.
    /// This writer holds the signing key and publishes checkpoints.
    pub fn open(dir: &Path, sync: SyncMode) -> Result<Arc<AuditLog>, AuditError> {
        let config = read_config(dir)?;
        let key = load_key(dir, &config.key)?;
        check_key_matches(dir, &key, &config.key)?;
        let signer = Signer::new(dir, key, config.key.clone(), config.origin.clone());
        let publisher = Publisher::start(signer, dir)?;
        Self::open_with(dir, sync, Some(publisher), None)
    }

    /// Opens an initialized log for appending records only: the key is never read, no
    /// checkpoint is signed and no thread is started until the first append. A script's
    /// worker appends through one of these; its supervisor, which opened the log with
    /// [`AuditLog::open`], publishes the checkpoints that fall due: at the append that
    /// crosses one, the appender lets go of the lock and calls `request` to tell it; if the
    /// request cannot be made, that append fails (and so denies).
    pub fn open_appender(
        dir: &Path,
        sync: SyncMode,
        request: CheckpointRequest,
    ) -> Result<Arc<AuditLog>, AuditError> {
        read_config(dir)?;
        Self::open_with(dir, sync, None, Some(request))
    }

    fn open_with(
        dir: &Path,
        sync: SyncMode,
        publisher: Option<Publisher>,
        request_checkpoint: Option<CheckpointRequest>,
    ) -> Result<Arc<AuditLog>, AuditError> {
        let layout = Layout {
            dir: dir.to_owned(),
        };
        let lock = Lock::open(&layout)?;
        lock.acquire()?;
        let opened = find_end(&layout).and_then(|end| {
            let config = upgrade(&layout, end.size)?;
            Ok((end, config))
        });
        let (end, config) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                lock.release();
                return Err(e);
            }
        };
        let log = Arc::new(AuditLog {
            host: host_name(),
            layout,
            config,
            sync,
            lock,
            publisher,
            request_checkpoint,
            idle: std::sync::Once::new(),
            writer: Mutex::new(Writer {
                segment: end.segment,
                segment_index: end.index,
                offset: end.offset,
                size: end.size,
                checkpointed: end.size,
                held_since: Some(Instant::now()),
                gave_way: None,
                last_append: Instant::now(),
                scratch: Scratch::default(),
            }),
        });
        {
            let mut w = log.writer()?;
            // What follows the last complete line is a torn one.
            let repaired = log.catch_up(&mut w);
            log.unlock(&mut w);
            repaired?;
        }
        Ok(log)
    }

    /// Lets go of the lock when this writer has been idle for HOLD, so that a run busy with
    /// something else (a long grep) does not keep other runs from the log.
    fn start_idle_release(self: &Arc<Self>) {
        self.idle.call_once(|| {
            let weak = Arc::downgrade(self);
            std::thread::spawn(move || loop {
                std::thread::sleep(HOLD);
                let Some(log) = weak.upgrade() else { return };
                log.unlock_if_idle();
            });
        });
    }

    fn publisher(&self) -> Result<&Publisher, AuditError> {
        self.publisher.as_ref().ok_or_else(|| AuditError::Publish {
            path: self.layout.dir.display().to_string(),
            message:
                "this writer does not hold the signing key (a worker's log); its supervisor signs"
                    .to_owned(),
        })
    }

    /// Whether this writer can publish: a full log whose publisher has not failed; an
    /// appender always can append.
    fn healthy(&self) -> Result<(), AuditError> {
        match &self.publisher {
            Some(p) => p.healthy(),
            None => Ok(()),
        }
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Writer>, AuditError> {
        // A panic while appending leaves the writer's position unknown: fail closed.
        self.writer.lock().map_err(|_| AuditError::Corrupt {
            path: self.layout.dir.display().to_string(),
            message: "a previous append panicked; reopen the log".to_owned(),
        })
    }

    /// Takes the cross-process lock unless this writer holds it already, and then counts
    /// what other writers appended meanwhile.
    fn lock_for_append(&self, w: &mut Writer) -> Result<(), AuditError> {
        if w.held_since.is_some() {
            return Ok(());
        }
        self.give_way(w);
        self.lock.acquire()?;
        w.held_since = Some(Instant::now());
        let caught_up = w
            .segment
            .metadata()
            .map_err(io_err("stat segment", &self.layout.dir))
            .and_then(|m| {
                if m.len() < w.offset {
                    // Records this writer counted were cut off by the writer that failed to
                    // write them: its position is no longer the log's.
                    Err(AuditError::Corrupt {
                        path: self.layout.dir.display().to_string(),
                        message: format!(
                            "the segment is {} bytes, shorter than the {} this writer had read; reopen the log",
                            m.len(),
                            w.offset
                        ),
                    })
                } else if m.len() != w.offset {
                    self.catch_up(w)
                } else {
                    Ok(())
                }
            });
        if caught_up.is_err() {
            self.unlock(w);
        }
        caught_up
    }

    /// After a burst that kept another writer waiting, lets that writer append before this
    /// one asks for the lock again: until the segment grows, nobody waits any more, or
    /// [`GIVE_WAY`] has passed (a waiter may be descheduled).
    fn give_way(&self, w: &mut Writer) {
        let Some(since) = w.gave_way.take() else {
            return;
        };
        while since.elapsed() < GIVE_WAY
            && w.segment.metadata().is_ok_and(|m| m.len() == w.offset)
            && self.lock.contended()
        {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn unlock_if_idle(&self) {
        if let Ok(mut w) = self.writer.try_lock() {
            if w.held_since.is_some() && w.last_append.elapsed() >= HOLD {
                self.unlock(&mut w);
            }
        }
    }

    fn unlock(&self, w: &mut Writer) {
        if w.held_since.take().is_some() {
            self.lock.release();
        }
    }

    /// Appends one record and returns its sequence number. When this returns `Ok`, the line
    /// is in the file (in the page cache, or on disk with [`SyncMode::Every`]).
    pub fn append(self: &Arc<Self>, run: &str, event: Event) -> Result<u64, AuditError> {
        self.append_all(run, &[EventRef::Event(&event)])
    }

    /// Appends records together, with one write, and returns the first one's sequence
    /// number: all of them are in the log when this returns `Ok`, none if it fails.
    pub fn append_all(
        self: &Arc<Self>,
        run: &str,
        events: &[EventRef<'_>],
    ) -> Result<u64, AuditError> {
        self.healthy()?;
        self.start_idle_release();
        let mut w = self.writer()?;
        self.lock_for_append(&mut w)?;
        let result = self.append_locked(&mut w, run, events);
        w.last_append = Instant::now();
        let (first, due) = match result {
            Ok(done) => done,
            Err(e) => {
                self.unlock(&mut w);
                return Err(e);
            }
        };
        // Syncing can take seconds on a busy disk: never make other writers wait for it.
        let syncs = self.sync == SyncMode::Every || !matches!(due, Falling::No);
        let now = w.last_append;
        if syncs || w.held_since.is_some_and(|t| now.duration_since(t) >= HOLD) {
            if self.lock.contended() {
                w.gave_way = Some(Instant::now());
            }
            self.unlock(&mut w);
        }
        if self.sync == SyncMode::Every {
            self.sync_segment(&w)?;
        }
        match (due, &self.publisher, &self.request_checkpoint) {
            (Falling::Publish(due), Some(publisher), _) => {
                publisher.submit(due, None)?;
            }
            (Falling::Ask, _, Some(request)) => {
                drop(w);
                request().map_err(|message| AuditError::Publish {
                    path: self.layout.dir.display().to_string(),
                    message,
                })?;
            }
            _ => {}
        }
        Ok(first)
    }

    /// Writes the records, rotates a full segment, and notes a checkpoint when one is due
    /// (to be published once the lock is released).
    fn append_locked(
        &self,
        w: &mut Writer,
        run: &str,
        events: &[EventRef<'_>],
    ) -> Result<(u64, Falling), AuditError> {
        let first = self.write_records(w, run, events)?;
        if w.offset > self.config.segment_bytes {
            self.rotate(w)?;
        }
        let every = self.config.checkpoint_every;
        let due = if w.size / every <= w.checkpointed / every {
            Falling::No
        } else if self.publisher.is_some() {
            Falling::Publish(self.take_checkpoint(w))
        } else {
            w.checkpointed = w.size;
            Falling::Ask
        };
        Ok((first, due))
    }

    /// Has a checkpoint covering everything appended so far, by this writer and others,
    /// published in the background: what a supervisor does when its worker's appender says
    /// one fell due, without making the worker wait for the hashing or the disk. Fails if a
    /// checkpoint published earlier failed.
    pub fn checkpoint_in_background(&self) -> Result<(), AuditError> {
        let publisher = self.publisher()?;
        publisher.healthy()?;
        let due = self.due_now()?;
        publisher.submit(due, None)
    }

    /// Whether checkpoints published in the background have all been written.
    pub fn publishing(&self) -> Result<(), AuditError> {
        self.publisher()?.healthy()
    }

    /// Syncs and writes a checkpoint covering everything appended so far (end of a run),
    /// and lets go of the lock.
    pub fn checkpoint(&self) -> Result<Checkpoint, AuditError> {
        let publisher = self.publisher()?;
        publisher.healthy()?;
        let due = self.due_now()?;
        let (done, result) = mpsc::channel();
        publisher.submit(due, Some(done))?;
        // The publisher answers every job it receives; no answer means it is gone.
        result.recv().unwrap_or_else(|_| Err(publisher.gone()))
    }

    /// Where the log ends now, read under the lock (which is let go of).
    fn due_now(&self) -> Result<Due, AuditError> {
        let mut w = self.writer()?;
        self.lock_for_append(&mut w)?;
        let due = self.take_checkpoint(&mut w);
        self.unlock(&mut w);
        Ok(due)
    }

    /// Writes records at the end of the current segment with one `write`; on failure the
    /// partial tail is cut off so the log stays well formed (if even that fails, the next
    /// writer repairs it).
    fn write_records(
        &self,
        w: &mut Writer,
        run: &str,
        events: &[EventRef<'_>],
    ) -> Result<u64, AuditError> {
        let first = w.size;
        let Scratch { time, lines } = &mut w.scratch;
        time.clear();
        // Writing to a String cannot fail.
        let _ = write!(
            time,
            "{}",
            humantime::format_rfc3339_micros(SystemTime::now())
        );
        lines.clear();
        for (i, &event) in events.iter().enumerate() {
            RecordRef {
                seq: first + i as u64,
                time,
                host: &self.host,
                run,
                prev: "",
                event,
            }
            .write_line(lines);
            lines.push('\n');
        }
        if let Err(e) = w.segment.write_all(lines.as_bytes()) {
            let _ = w.segment.set_len(w.offset);
            return Err(io_err("append", &self.layout.segment(w.segment_index))(e));
        }
        w.size += events.len() as u64;
        w.offset += lines.len() as u64;
        Ok(first)
    }

    /// Syncs the current segment: this writer's records and any other writer's before them.
    fn sync_segment(&self, w: &Writer) -> Result<(), AuditError> {
        w.segment
            .sync_data()
            .map_err(io_err("sync", &self.layout.segment(w.segment_index)))
    }

    /// Counts what other writers appended since our last look, following rotations, and
    /// cuts off a torn final line (a writer died mid-line), saying so in the log. Called
    /// under the lock, so a partial last line cannot be one still being written.
    fn catch_up(&self, w: &mut Writer) -> Result<(), AuditError> {
        loop {
            let path = self.layout.segment(w.segment_index);
            let mut reader = File::open(&path).map_err(io_err("open segment", &path))?;
            reader
                .seek(SeekFrom::Start(w.offset))
                .map_err(io_err("read segment", &path))?;
            let mut rest = Vec::new();
            reader
                .read_to_end(&mut rest)
                .map_err(io_err("read segment", &path))?;
            let complete = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let lines = memchr::memchr_iter(b'\n', &rest[..complete]).count() as u64;
            let mut next_segment = None;
            if lines > 0 {
                // The lines' count is checked against the last one's sequence number, which
                // is all a writer needs to know; a rotation is always a segment's last line.
                let start = rest[..complete - 1]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let at = w.offset + start as u64;
                let last = glance(&rest[start..complete - 1]).map_err(|e| AuditError::Corrupt {
                    path: path.display().to_string(),
                    message: format!("at byte {at}: the line is not a valid record: {e}"),
                })?;
                if last.seq + 1 != w.size + lines {
                    return Err(AuditError::Corrupt {
                        path: path.display().to_string(),
                        message: format!(
                            "record at byte {at} has sequence number {}, expected {}",
                            last.seq,
                            w.size + lines - 1
                        ),
                    });
                }
                if last.kind == "rotate" {
                    next_segment = Some(rotation_target(&path, last.next.as_deref())?);
                }
            }
            w.size += lines;
            w.offset += complete as u64;
            if let Some(next) = next_segment {
                w.segment_index = next;
                w.segment = open_segment(&self.layout.segment(next))?;
                w.offset = 0;
                continue;
            }
            let torn = &rest[complete..];
            if !torn.is_empty() {
                // A writer died mid-line. Cut the partial line off and say so in the log.
                w.segment
                    .set_len(w.offset)
                    .map_err(io_err("repair segment", &path))?;
                let torn_sha256 = hex(&Sha256::digest(torn).into());
                let event = Event::Repair {
                    torn_bytes: torn.len() as u64,
                    torn_sha256,
                };
                self.write_records(w, "", &[EventRef::Event(&event)])?;
                self.sync_segment(w)?;
            }
            return Ok(());
        }
    }

    fn rotate(&self, w: &mut Writer) -> Result<(), AuditError> {
        let next_index = w.segment_index + 1;
        let next_path = self.layout.segment(next_index);
        let next = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&next_path)
            .map_err(io_err("create segment", &next_path))?;
        let rotate = Event::Rotate {
            next: segment_name(next_index),
        };
        self.write_records(w, "", &[EventRef::Event(&rotate)])?;
        self.sync_segment(w)?;
        w.segment = next;
        w.segment_index = next_index;
        w.offset = 0;
        Ok(())
    }

    /// Notes where the log has reached, under the lock: what the next checkpoint covers.
    fn take_checkpoint(&self, w: &mut Writer) -> Due {
        w.checkpointed = w.size;
        Due {
            size: w.size,
            segment: w.segment_index,
            offset: w.offset,
            note: 0,
        }
    }
}

/// Where a log ends: its last segment, open to append, and the records before its end.
struct End {
    segment: File,
    index: u64,
    offset: u64,
    size: u64,
}

/// Finds the end of the log from its last segment's last complete line, without reading the
/// rest of the log. Whatever follows that line is a torn one, left to the caller to repair.
fn find_end(layout: &Layout) -> Result<End, AuditError> {
    let segments = layout.dir.join("segments");
    let mut indexes: Vec<u64> = fs::read_dir(&segments)
        .map_err(io_err("list segments", &segments))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            name.to_str()?.strip_suffix(".jsonl")?.parse().ok()
        })
        .collect();
    indexes.sort_unstable();
    // The newest segment with a record holds the log's end, or its last record is the
    // rotation into the next. Newer, empty ones were created by a rotation that never wrote
    // its record (the writer died) or were left there; `verify` names the latter.
    for &index in indexes.iter().rev() {
        let path = layout.segment(index);
        let Some((offset, line)) = last_line(&path)? else {
            continue;
        };
        let last = glance(&line).map_err(|e| AuditError::Corrupt {
            path: path.display().to_string(),
            message: format!("its last record is not a valid record: {e}"),
        })?;
        let size = last.seq + 1;
        if last.kind != "rotate" {
            return Ok(End {
                segment: open_segment(&path)?,
                index,
                offset,
                size,
            });
        }
        let next = rotation_target(&path, last.next.as_deref())?;
        return Ok(End {
            segment: open_segment(&layout.segment(next))?,
            index: next,
            offset: 0,
            size,
        });
    }
    // No record yet (or only a torn one, repaired by the caller).
    open_segment(&layout.segment(1)).map(|segment| End {
        segment,
        index: 1,
        offset: 0,
        size: 0,
    })
}

/// The last complete line of a segment (without its newline) and the offset after it.
fn last_line(path: &Path) -> Result<Option<(u64, Vec<u8>)>, AuditError> {
    let mut file = File::open(path).map_err(io_err("open segment", path))?;
    let len = file.metadata().map_err(io_err("stat segment", path))?.len();
    // Read backwards in growing chunks until a line's start is in view.
    let mut chunk = 64 << 10;
    loop {
        let start = len.saturating_sub(chunk);
        file.seek(SeekFrom::Start(start))
            .map_err(io_err("read segment", path))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)
            .map_err(io_err("read segment", path))?;
        let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
            if start == 0 {
                return Ok(None);
            }
            chunk *= 4;
            continue;
        };
        match tail[..end].iter().rposition(|&b| b == b'\n') {
            Some(before) => {
                return Ok(Some((
                    start + end as u64 + 1,
                    tail[before + 1..end].to_vec(),
                )))
            }
            None if start == 0 => return Ok(Some((end as u64 + 1, tail[..end].to_vec()))),
            None => chunk *= 4,
        }
    }
}

/// Upgrades a log of format 1 to this version's format (under the lock, at `size` records),
/// and returns its config.
fn upgrade(layout: &Layout, size: u64) -> Result<LogConfig, AuditError> {
    let mut config = read_config(&layout.dir)?;
    if config.format >= FORMAT {
        return Ok(config);
    }
    config.format = FORMAT;
    config.upgraded_at = Some(size);
    let text = serde_json::to_string_pretty(&config).map_err(|e| AuditError::Corrupt {
        path: layout.config().display().to_string(),
        message: e.to_string(),
    })?;
    write_atomic(&layout.config(), text.as_bytes())?;
    Ok(config)
}

/// The segment a rotation record names.
fn rotation_target(path: &Path, next: Option<&str>) -> Result<u64, AuditError> {
    let next = next.ok_or_else(|| AuditError::Corrupt {
        path: path.display().to_string(),
        message: "a rotation names no next segment".to_owned(),
    })?;
    next.trim_end_matches(".jsonl")
        .parse()
        .map_err(|_| AuditError::Corrupt {
            path: path.display().to_string(),
            message: format!("rotation names an invalid segment {next:?}"),
        })
}

/// Opens a segment to append to; one that is missing is never made anew, since the records
/// it held would be gone without a trace.
fn open_segment(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                AuditError::Corrupt {
                    path: path.display().to_string(),
                    message: "the segment this log continues in is missing (the log's history was cut), so nothing can be appended; restore it from a backup, and run `tollgate audit verify` to see what else is gone".to_owned(),
                }
            } else {
                io_err("open segment", path)(e)
            }
        })
}

/// What the writer, the publisher and `verify` need of a record: its place, its kind, where
/// a rotation leads, its run and (format 1) its predecessor's hash. Decoding only these is
/// several times cheaper than a whole [`Record`].
#[derive(Deserialize)]
pub(crate) struct Glance<'a> {
    pub(crate) seq: u64,
    #[serde(borrow)]
    pub(crate) kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    pub(crate) next: Option<String>,
    #[serde(default, borrow)]
    pub(crate) run: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) prev: std::borrow::Cow<'a, str>,
}

pub(crate) fn glance(line: &[u8]) -> Result<Glance<'_>, serde_json::Error> {
    serde_json::from_slice(line)
}

/// Parses one line as a record.
pub(crate) fn parse_line(line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|_| "the line is not UTF-8".to_owned())?;
    Record::parse(text).map_err(|e| format!("the line is not a valid record: {e}"))
}
