//! The hash of a labelled file a run reads, for lineage records (see
//! [`tollgate_policy::Taint`]): taken from the descriptor just opened, before the script
//! gets a byte of it, so that it is the hash of what was read.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{FileType, OFlags};
use sha2::{Digest, Sha256};
use tollgate_policy::{AbsPath, Permit, Stamp, HASH_LIMIT};

use crate::error::{HostError, HostResult};
use crate::Host;

/// Bytes read per `pread` while hashing.
const CHUNK: usize = 64 << 10;

impl Host {
    /// Hashes the file open on `fd` if `permit` reads it as a labelled source the gate has
    /// not hashed in this state, and gives the gate the hash. The descriptor's offset is
    /// left where it was (`pread`).
    pub(crate) fn hash_source(
        &self,
        permit: &Permit,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
    ) -> HostResult<()> {
        let Some(source) = self.gate.source_to_hash(permit) else {
            return Ok(());
        };
        let st = rustix::fs::fstat(fd).map_err(|e| HostError::io("stat", path, e.into()))?;
        let stamp = Stamp {
            device: st.st_dev,
            inode: st.st_ino,
            size: st.st_size.max(0) as u64,
            modified: nanos(st.st_mtime, st.st_mtime_nsec),
            changed: nanos(st.st_ctime, st.st_ctime_nsec),
        };
        if source.is_hashed(&stamp) {
            return Ok(());
        }
        // Only a regular file's content is hashed (a device or a pipe may never end, or give
        // other bytes to every read), and only from a descriptor that reads.
        let regular = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile;
        let sha256 = if !regular || !reads(fd) || stamp.size > HASH_LIMIT {
            None
        } else {
            self.sha256_of(fd, path)?
        };
        self.gate.note_hash(&source, stamp, sha256);
        Ok(())
    }

    /// The SHA-256 of the content on `fd` in hex, or `None` if it grew past [`HASH_LIMIT`]
    /// while being read.
    fn sha256_of(&self, fd: BorrowedFd<'_>, path: &AbsPath) -> HostResult<Option<String>> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut offset = 0u64;
        loop {
            self.interrupt.check()?;
            let n = match rustix::io::pread(fd, &mut buf, offset) {
                Ok(0) => break,
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(HostError::io("read", path, io::Error::from(e))),
            };
            hasher.update(&buf[..n]);
            offset += n as u64;
            if offset > HASH_LIMIT {
                return Ok(None);
            }
        }
        Ok(Some(format!("{:x}", hasher.finalize())))
    }
}

/// Whether `fd` was opened to read (not `O_PATH`, not write-only).
fn reads(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fcntl_getfl(fd).is_ok_and(|flags| {
        !flags.contains(OFlags::PATH) && (flags & OFlags::ACCMODE) != OFlags::WRONLY
    })
}

fn nanos(seconds: i64, nanos: impl TryInto<i128>) -> i128 {
    i128::from(seconds) * 1_000_000_000 + nanos.try_into().unwrap_or(0)
}
