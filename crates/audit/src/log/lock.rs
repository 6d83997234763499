//! The cross-process lock one appender holds at a time, handed on fairly.

use super::*;

/// The cross-process lock, and beside it a queue that makes it fair: `flock` hands the lock
/// to whoever asks first after it is released, and a writer in a burst asks again within
/// microseconds, so without the queue a polling waiter could starve until it times out.
/// Waiters hold a shared lock on `waiting`; a writer that ends a burst while someone waits
/// gives way until another writer has appended (see [`AuditLog::give_way`]).
pub(super) struct Lock {
    pub(super) file: File,
    pub(super) waiting: File,
    pub(super) dir: PathBuf,
}

impl Lock {
    pub(super) fn open(layout: &Layout) -> Result<Lock, AuditError> {
        let open = |path: PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err("open lock", &path))
        };
        Ok(Lock {
            file: open(layout.lock())?,
            waiting: open(layout.dir.join("waiting"))?,
            dir: layout.dir.clone(),
        })
    }

    /// Takes the lock, waiting up to [`LOCK_TIMEOUT`] for another writer.
    pub(super) fn acquire(&self) -> Result<(), AuditError> {
        let deadline = Instant::now() + LOCK_TIMEOUT;
        let mut queued = false;
        let result = loop {
            match rustix::fs::flock(&self.file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break Ok(()),
                Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                    // Fails only while a holder is checking the queue; the next round retries.
                    if !queued {
                        queued =
                            rustix::fs::flock(&self.waiting, FlockOperation::NonBlockingLockShared)
                                .is_ok();
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    break Err(AuditError::LockTimeout(self.dir.display().to_string()))
                }
                Err(e) => break Err(io_err("lock", &self.dir)(e.into())),
            }
        };
        if queued {
            let _ = rustix::fs::flock(&self.waiting, FlockOperation::Unlock);
        }
        result
    }

    pub(super) fn release(&self) {
        // Unlocking a lock we hold cannot fail in a way we could act on; closing the file
        // would release it anyway.
        let _ = rustix::fs::flock(&self.file, FlockOperation::Unlock);
    }

    /// Whether another writer is waiting for the lock.
    pub(super) fn contended(&self) -> bool {
        match rustix::fs::flock(&self.waiting, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                let _ = rustix::fs::flock(&self.waiting, FlockOperation::Unlock);
                false
            }
            Err(_) => true,
        }
    }
}
