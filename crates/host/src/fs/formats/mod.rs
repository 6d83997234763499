//! Files read in other formats through a handle the gate already let the script open: gzip
//! (`gzip`), tar archives (`archive`), ELF binaries and core dumps (`elf`, `core_dump`),
//! printable strings (`strings`), X.509 certificate chains (`cert`).
//!
//! Each operation asks the gate again for `read` on the file it reads (as `file.read()`
//! does: a handle opened before a freeze reads nothing after it), and for `write` or `create`
//! on what it writes. Every reader here reads by position through a copy of the handle's
//! descriptor, so the handle's own offset never moves, polls the run's interrupt before each
//! read, and builds its result under the run's [`Limits`](crate::Limits): a decompressed
//! stream is consumed line by line and never held whole, so a gzip bomb costs time (which the
//! run's time limit bounds), not memory.
//!
//! These formats are attacker input: a line, a string, an ELF segment or a certificate file
//! larger than the string limit is refused, and an archive entry that would land outside its
//! destination is refused before anything is written.

mod archive;
mod cert;
mod core_dump;
mod elf;
mod gzip;
mod strings;

pub use archive::ExtractOptions;
pub(crate) use core_dump::{parse_backtrace, GDB};
pub use core_dump::{Frame, TracedProcess, TracedThread};
pub use elf::ElfInfo;
pub use gzip::{GzipInfo, GzipMatch, LineRange, SearchGzip};

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use rustix::fs::OFlags;
use tollgate_policy::{AbsPath, Action, Resource};

use super::FileHandle;
use crate::error::{HostError, HostResult};
use crate::{Host, Interrupt, Limits};

/// Read size of every reader here.
const CHUNK: usize = 64 << 10;

/// A handle's file read by position: reads start at 0 and never move the handle's offset.
pub(crate) struct At {
    file: File,
    pos: u64,
    interrupt: Interrupt,
}

/// The interrupt was raised during a read: carried inside an `io::Error` through the
/// decoders, and turned back into [`HostError::Interrupted`] by [`io_error`].
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Stopped {}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt.is_raised() {
            return Err(io::Error::other(Stopped));
        }
        loop {
            match self.file.read_at(buf, self.pos) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
            }
        }
    }
}

impl Seek for At {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }
}

impl At {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

/// `e` from reading or writing `path`, with an interruption as its own error.
pub(crate) fn io_error(op: &'static str, path: &AbsPath, e: io::Error) -> HostError {
    if e.get_ref().is_some_and(|inner| inner.is::<Stopped>()) {
        return HostError::Interrupted;
    }
    HostError::io(op, path, e)
}

fn too_large(what: impl Into<String>, limit: String) -> HostError {
    HostError::TooLarge {
        what: what.into(),
        limit,
    }
}

fn bytes_limit(limits: &Limits) -> String {
    format!("{} bytes (max_string_bytes)", limits.max_string_bytes)
}

fn items_limit(limits: &Limits) -> String {
    format!("{} items (max_items)", limits.max_items)
}

/// Reads one line (without its `\n` or `\r\n`) into `line`; `false` at the end of the input.
/// A line longer than the string limit is refused before it is held whole.
fn next_line(
    input: &mut impl io::BufRead,
    line: &mut Vec<u8>,
    limits: &Limits,
    path: &AbsPath,
) -> HostResult<bool> {
    line.clear();
    let max = limits.max_string_bytes as u64;
    let n = io::BufRead::read_until(&mut input.by_ref().take(max + 1), b'\n', line)
        .map_err(|e| io_error("decompress", path, e))?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if n as u64 > max {
        return Err(too_large(format!("a line of {path}"), bytes_limit(limits)));
    }
    Ok(true)
}

/// Something a result holds, with its size in bytes against the string limit.
pub(crate) trait Weighed {
    fn bytes(&self) -> usize;
}

impl Weighed for String {
    fn bytes(&self) -> usize {
        self.len()
    }
}

/// A result list built under the item and byte limits: the first items (`Head`) or the last
/// `want` of them (`Tail`, a ring that keeps no more than the limits allow, and refuses at
/// the end if what it had to drop was part of the answer).
pub(crate) struct Collect<T> {
    items: VecDeque<T>,
    bytes: usize,
    /// `None`: keep the first ones (up to the limits); `Some(n)`: the last `n`.
    tail: Option<usize>,
    seen: usize,
    limits: Limits,
    what: String,
}

impl<T: Weighed> Collect<T> {
    fn head(limits: Limits, what: String) -> Collect<T> {
        Collect {
            items: VecDeque::new(),
            bytes: 0,
            tail: None,
            seen: 0,
            limits,
            what,
        }
    }

    fn tail(n: usize, limits: Limits, what: String) -> Collect<T> {
        Collect {
            tail: Some(n),
            ..Collect::head(limits, what)
        }
    }

    fn push(&mut self, item: T) -> HostResult<()> {
        self.seen += 1;
        self.bytes += item.bytes();
        self.items.push_back(item);
        match self.tail {
            None => {
                if self.items.len() > self.limits.max_items {
                    return Err(too_large(self.what.clone(), items_limit(&self.limits)));
                }
                if self.bytes > self.limits.max_string_bytes {
                    return Err(too_large(self.what.clone(), bytes_limit(&self.limits)));
                }
            }
            Some(n) => {
                while self.items.len() > n.min(self.limits.max_items + 1)
                    || (self.bytes > self.limits.max_string_bytes && !self.items.is_empty())
                {
                    if let Some(old) = self.items.pop_front() {
                        self.bytes -= old.bytes();
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> HostResult<Vec<T>> {
        if let Some(n) = self.tail {
            // Fewer kept than the answer has: the limits made the ring drop some of it.
            if self.items.len() < n.min(self.seen) {
                let limit = if self.bytes + 1 > self.limits.max_string_bytes / 2 {
                    bytes_limit(&self.limits)
                } else {
                    items_limit(&self.limits)
                };
                return Err(too_large(self.what, limit));
            }
            if self.items.len() > self.limits.max_items {
                return Err(too_large(self.what, items_limit(&self.limits)));
            }
        }
        Ok(self.items.into())
    }
}

impl Host {
    /// The content of `handle`'s file for a format reader, after the gate permits `read` on
    /// it again. A handle opened without `read(true)` holds no readable descriptor.
    pub(crate) fn format_reader(&self, handle: &FileHandle) -> HostResult<At> {
        self.interrupt.check()?;
        let path = handle.path();
        let resource = Resource::File(path.clone());
        let permit = self.gate.authorize(&[Action::FsRead], &resource)?;
        crate::effect::check(&permit, &[Action::FsRead], &resource)
            .map_err(|e| HostError::io("read", path, e))?;
        let flags = rustix::fs::fcntl_getfl(handle.fd())
            .map_err(|e| HostError::io("read", path, e.into()))?;
        if flags.contains(OFlags::PATH) || flags & OFlags::RWMODE == OFlags::WRONLY {
            return Err(HostError::Rex {
                kind: "IoError",
                message: format!("{path} was opened without read(true) in its OpenFileOptions"),
            });
        }
        let file = File::from(
            handle
                .fd()
                .try_clone_to_owned()
                .map_err(|e| HostError::io("read", path, e))?,
        );
        Ok(At {
            file,
            pos: 0,
            interrupt: self.interrupt.clone(),
        })
    }

    /// `handle`'s file, to be written by position, after the gate permits `write` on it (what
    /// Rex asks of a destination handle). A handle opened without `write(true)` holds no
    /// writable descriptor.
    pub(crate) fn format_writer(&self, handle: &FileHandle) -> HostResult<File> {
        self.interrupt.check()?;
        let path = handle.path();
        let resource = Resource::File(path.clone());
        let permit = self.gate.authorize(&[Action::FsWrite], &resource)?;
        crate::effect::check(&permit, &[Action::FsWrite], &resource)
            .map_err(|e| HostError::io("write", path, e))?;
        let flags = rustix::fs::fcntl_getfl(handle.fd())
            .map_err(|e| HostError::io("write", path, e.into()))?;
        let mode = flags & OFlags::RWMODE;
        if flags.contains(OFlags::PATH) || (mode != OFlags::WRONLY && mode != OFlags::RDWR) {
            return Err(HostError::InvalidInput(format!(
                "{path} was opened without write(true) in its OpenFileOptions"
            )));
        }
        let file = File::from(
            handle
                .fd()
                .try_clone_to_owned()
                .map_err(|e| HostError::io("write", path, e))?,
        );
        Ok(file)
    }
}

/// Writes to a file by position from its start, polling the interrupt: the handle's offset
/// does not move.
struct WriteAt<'a> {
    file: &'a File,
    pos: u64,
    interrupt: &'a Interrupt,
}

impl Write for WriteAt<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.interrupt.is_raised() {
            return Err(io::Error::other(Stopped));
        }
        let n = self.file.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether two open files are the same file.
fn same_file(a: &File, b: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (a.metadata()?, b.metadata()?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}
