//! Making a log (its directory, configuration and key) and reading what a log was made with.

use super::*;

/// Reads a log's config. A directory with a log's remains but no config is not a log that
/// was never made, and is not reported as one: `init` would refuse it.
pub fn read_config(dir: &Path) -> Result<LogConfig, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    let text = fs::read_to_string(layout.config()).map_err(|e| {
        if e.kind() != io::ErrorKind::NotFound {
            io_err("read config", dir)(e)
        } else if holds_remains(&layout) {
            config_gone(dir)
        } else {
            AuditError::NotInitialized(dir.display().to_string())
        }
    })?;
    serde_json::from_str(&text).map_err(|e| AuditError::Corrupt {
        path: layout.config().display().to_string(),
        message: e.to_string(),
    })
}

/// The verifier key of a log, as written at init.
pub fn read_verifier(dir: &Path) -> Result<Verifier, AuditError> {
    let path = Layout {
        dir: dir.to_owned(),
    }
    .vkey();
    let text = fs::read_to_string(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            // A log that is gone, or whose config is, is named as such first.
            if let Err(e) = read_config(dir) {
                return e;
            }
            AuditError::Corrupt {
                path: dir.display().to_string(),
                message: "its verifier key verifier.vkey is missing, so no checkpoint can be checked: restore it from a backup, or verify with the verifier key you kept (`tollgate audit verify --key FILE`)".to_owned(),
            }
        } else {
            io_err("read verifier key", &path)(e)
        }
    })?;
    Verifier::from_vkey(text.trim()).map_err(|e| AuditError::Key {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// This machine's host name.
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Choices made once, at `init`.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Where the signing key lives (created if missing); default [`default_key_path`]. A path
    /// outside the directories the runtime's policy can reach keeps scripts from it.
    pub key: Option<PathBuf>,
    /// Whether a signing key found at that path may sign the new log. Without a log beside
    /// it, an existing key is what is left of a log that was there (its directory deleted),
    /// so only an explicit `tollgate audit init` adopts it; a run's implicit init refuses.
    pub adopt_key: bool,
    pub segment_bytes: u64,
    pub checkpoint_every: u64,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            key: None,
            adopt_key: false,
            segment_bytes: 64 << 20,
            checkpoint_every: 4096,
        }
    }
}

/// Where a new log's signing key goes when `init` is not told: for the system log
/// (`/var/log/tollgate/audit`, as root) `/etc/tollgate/audit.key`, else beside the log
/// directory, as `DIR.key`. Never inside the directory.
pub fn default_key_path(dir: &Path) -> PathBuf {
    if dir == Path::new("/var/log/tollgate/audit") && rustix::process::geteuid().is_root() {
        return PathBuf::from("/etc/tollgate/audit.key");
    }
    let name = dir
        .file_name()
        .map_or_else(|| "audit".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.key"))
}

/// Creates a log directory and its signing key; an existing log is left as it is. A
/// directory that holds what is left of a log (segments, checkpoints, a verifier key)
/// without its `config.json` is refused: a new log there would hide the old one's history.
pub fn init(dir: &Path, options: &InitOptions) -> Result<LogConfig, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    if layout.config().exists() {
        return read_config(dir);
    }
    for sub in [dir.to_owned(), dir.join("segments")] {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&sub)
            .map_err(io_err("create directory", &sub))?;
    }
    // Several first runs may initialize at once: one does it, the others find it done.
    let lock = Lock::open(&layout)?;
    lock.acquire()?;
    let result = init_locked(dir, &layout, options);
    lock.release();
    result
}

/// Whether `layout` holds records, checkpoints, tiles, a verifier key or the saved state
/// (which exists only once a checkpoint was published).
pub(super) fn holds_remains(layout: &Layout) -> bool {
    let non_empty = |dir: PathBuf| {
        fs::read_dir(dir).is_ok_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| fs::metadata(e.path()).is_ok_and(|m| m.len() > 0)))
        })
    };
    layout.vkey().exists()
        || layout.state().exists()
        || layout.tiled().exists()
        || fs::metadata(layout.notes()).is_ok_and(|m| m.len() > 0)
        || layout.dir.join("tile").exists()
        || non_empty(layout.dir.join("segments"))
        || non_empty(layout.checkpoints())
}

pub(super) fn config_gone(dir: &Path) -> AuditError {
    AuditError::Corrupt {
        path: dir.display().to_string(),
        message: "a log was here (segments, checkpoints or its verifier key remain) but its config.json is gone, so no new log is made over it; restore config.json, or move the directory away and run `tollgate audit init`".to_owned(),
    }
}

pub(super) fn init_locked(
    dir: &Path,
    layout: &Layout,
    options: &InitOptions,
) -> Result<LogConfig, AuditError> {
    if layout.config().exists() {
        return read_config(dir);
    }
    if holds_remains(layout) {
        return Err(config_gone(dir));
    }
    let host = host_name();
    if options.segment_bytes == 0 || options.checkpoint_every == 0 {
        return Err(AuditError::Corrupt {
            path: dir.display().to_string(),
            message: "segment size and checkpoint interval must be at least 1".to_owned(),
        });
    }
    let key_path = options.key.clone().unwrap_or_else(|| default_key_path(dir));
    let key = if key_path.exists() {
        if !options.adopt_key {
            return Err(AuditError::Corrupt {
                path: dir.display().to_string(),
                message: format!(
                    "there is no log here, but its signing key {} is: a log was here and its directory was deleted or moved, so no new log is made over it; restore the directory, or run `tollgate audit init --dir {}` to start a new log signed by that key",
                    key_path.display(),
                    dir.display()
                ),
            });
        }
        load_key(dir, &key_path)?
    } else {
        if let Some(parent) = key_path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io_err("create the key's directory", parent))?;
        }
        let key =
            SigningKey::generate(&format!("tollgate-{host}")).map_err(|e| AuditError::Key {
                path: key_path.display().to_string(),
                message: e.to_string(),
            })?;
        write_private(&key_path, key.to_file_text().as_bytes())?;
        key
    };
    write_atomic(
        &layout.vkey(),
        format!("{}\n", key.verifier().to_vkey()).as_bytes(),
    )?;
    let config = LogConfig {
        origin: format!("tollgate/{host}/audit"),
        key: key_path,
        segment_bytes: options.segment_bytes,
        checkpoint_every: options.checkpoint_every,
        format: FORMAT,
        upgraded_at: None,
    };
    let text = serde_json::to_string_pretty(&config).map_err(|e| AuditError::Corrupt {
        path: layout.config().display().to_string(),
        message: e.to_string(),
    })?;
    File::create(layout.segment(1)).map_err(io_err("create segment", &layout.segment(1)))?;
    write_atomic(&layout.config(), text.as_bytes())?;
    Ok(config)
}

/// Reads the signing key of the log in `dir`.
pub(super) fn load_key(dir: &Path, path: &Path) -> Result<SigningKey, AuditError> {
    let text = fs::read_to_string(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            // Never replaced by a new key: the log's checkpoints would no longer verify.
            AuditError::Corrupt {
                path: dir.display().to_string(),
                message: format!(
                    "its signing key {} (named in config.json) is missing, so nothing can be appended; restore the key from a backup, or move the directory away and run `tollgate audit init` to start a new log",
                    path.display()
                ),
            }
        } else {
            io_err("read signing key", path)(e)
        }
    })?;
    SigningKey::from_file_text(text.trim()).map_err(|e| AuditError::Key {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Checks that `key` is the key this log's checkpoints are verified with, so that a
/// replaced key never signs on top of the old one's checkpoints. A missing verifier key is
/// left to `verify` to report: the checkpoints signed meanwhile are still good.
pub(super) fn check_key_matches(
    dir: &Path,
    key: &SigningKey,
    path: &Path,
) -> Result<(), AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    if !layout.vkey().exists() {
        return Ok(());
    }
    let verifier = read_verifier(dir)?;
    if verifier == key.verifier() {
        return Ok(());
    }
    Err(AuditError::Corrupt {
        path: dir.display().to_string(),
        message: format!(
            "its signing key {} (key id {}) is not the key its checkpoints are verified with (verifier.vkey, key id {}): the key was replaced, and a new key over an older log's history would hide where it was cut; restore the original key, or move the directory away and run `tollgate audit init` to start a new log",
            path.display(),
            crate::checkpoint::key_id_hex(&key.key_id()),
            crate::checkpoint::key_id_hex(&verifier.key_id())
        ),
    })
}

pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("create signing key", path))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io_err("write signing key", path))
}

/// Writes a whole file by rename, so readers see the old or the new content, never a mix.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    // Checkpoints are published outside the lock, and one process may have the log open
    // twice: the temporary name is unique per write, not only per process, so that two
    // writes of the state file never rename each other's file away.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io_err("write", &tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))
}
