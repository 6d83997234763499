//! Publishing checkpoints: signing on a thread of its own, in order, and telling a failure.

use super::*;

/// What publishing a checkpoint needs, owned by the publisher's thread.
pub(super) struct Signer {
    pub(super) layout: Layout,
    pub(super) key: SigningKey,
    pub(super) key_path: PathBuf,
}

impl Signer {
    /// Makes a checkpoint's records durable, then signs and writes it and the saved state.
    /// Runs without the cross-process lock: the records it covers are already in place, the
    /// note is named by its size, and a state file that another writer overwrites with an
    /// older one still describes a prefix of the log, which `open` catches up from.
    pub(super) fn publish(&self, segment: &File, due: Due) -> Result<Checkpoint, AuditError> {
        // Segments before this one were synced when they were rotated.
        segment
            .sync_data()
            .map_err(io_err("sync segment", &self.layout.dir))?;
        let note = due
            .checkpoint
            .sign(&self.key)
            .map_err(|e| AuditError::Key {
                path: self.key_path.display().to_string(),
                message: e.to_string(),
            })?;
        let path = self
            .layout
            .checkpoints()
            .join(checkpoint_name(due.checkpoint.size));
        write_atomic(&path, note.as_bytes())?;
        let text = serde_json::to_string(&due.state).map_err(|e| AuditError::Corrupt {
            path: self.layout.state().display().to_string(),
            message: e.to_string(),
        })?;
        write_atomic(&self.layout.state(), text.as_bytes())?;
        Ok(due.checkpoint)
    }
}

/// One checkpoint for the publisher: what to sign, the segment to sync first, and where to
/// send the result when the caller waits for it.
pub(super) struct Job {
    pub(super) due: Due,
    pub(super) segment: File,
    pub(super) done: Option<mpsc::Sender<Result<Checkpoint, AuditError>>>,
}

/// Publishes checkpoints on a thread of its own, in the order they were taken. Syncing and
/// the two atomic writes cost milliseconds on a busy disk, and a run that appends a decision
/// every few microseconds must not wait for them; the checkpoint at the end of a run is
/// waited for. A checkpoint that could not be published makes every later append fail, so
/// the gate denies from then on.
pub(super) struct Publisher {
    pub(super) jobs: mpsc::Sender<Job>,
    pub(super) failed: Arc<Mutex<Option<String>>>,
    pub(super) dir: PathBuf,
}

impl Publisher {
    pub(super) fn start(signer: Signer, dir: &Path) -> Result<Publisher, AuditError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let failed = Arc::new(Mutex::new(None));
        let failed_in_thread = Arc::clone(&failed);
        std::thread::Builder::new()
            .name("audit-publisher".to_owned())
            .spawn(move || {
                // Ends when the log, and with it the sender, is dropped.
                for job in queue {
                    let result = signer.publish(&job.segment, job.due);
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
        segment: File,
        done: Option<mpsc::Sender<Result<Checkpoint, AuditError>>>,
    ) -> Result<(), AuditError> {
        self.jobs
            .send(Job { due, segment, done })
            .map_err(|_| self.gone())
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

/// A checkpoint taken under the lock and not yet published.
pub(super) struct Due {
    pub(super) checkpoint: Checkpoint,
    pub(super) state: State,
}
