//! Opening files for reading, `stat`, and the handle API (`DirConfig`/`open_file`/`read`).

use std::fs::File;
use std::io::Seek;
use std::os::fd::OwnedFd;

use rustix::fs::FileType;
use tollgate_policy::sdk_actions::{OPEN, READ, READ_REDACTED};
use tollgate_policy::{AbsPath, Action, Resource};

use super::root::{is_link_error, OpenDir, OpenMode};
use super::text::{Polled, TextCtx};
use super::walk::Entry;
use super::{parse_path, Kind};
use crate::error::{HostError, HostResult};
use crate::Host;

impl Host {
    /// The limits and stop flag that the streaming readers in [`super::text`] obey.
    pub fn text_ctx(&self) -> TextCtx<'_> {
        TextCtx {
            limits: self.limits,
            interrupt: &self.interrupt,
        }
    }

    /// What cat, grep, tail, wc, sed and awk read from: after `open` on the directory, the
    /// file itself under `open` + `read`; where the gate denies `read` but permits
    /// `open` + `redacted_read`, a redacted copy of it (see [`Host::redacted_copy`]). Both
    /// decisions are recorded, as every decision is.
    pub fn open_text(&self, raw_path: &str) -> HostResult<File> {
        let path = parse_path(raw_path)?;
        let (opened, redacted) =
            self.reading(|actions| self.open_checked(&path, Kind::File, actions, OpenMode::Read))?;
        let mut file = regular_file(opened.fd, &opened.path)?;
        if redacted {
            return self.redacted_copy(&mut file, &opened.path);
        }
        Ok(file)
    }

    /// Asks `authorize` for a read (`open` + `read`); if the gate denies `read` itself, asks
    /// again for `open` + `redacted_read`. Says whether the redacted form was permitted. When
    /// both are denied, the error is the denial of `read`, the action a Rex policy names.
    fn reading<T>(&self, authorize: impl Fn(&[Action]) -> HostResult<T>) -> HostResult<(T, bool)> {
        match authorize(READ) {
            // A decision that could not be recorded is a deny of its own: never retried.
            Err(HostError::Denied(d)) if d.action == Action::FsRead && d.unrecorded.is_none() => {
                match authorize(READ_REDACTED) {
                    Ok(t) => Ok((t, true)),
                    Err(HostError::Denied(e)) if e.unrecorded.is_none() => {
                        Err(HostError::Denied(d))
                    }
                    Err(e) => Err(e),
                }
            }
            other => other.map(|t| (t, false)),
        }
    }

    /// `file` redacted into an unlinked temporary file, rewound, so that every reading command
    /// works on it as on the original: grep matches the redacted text (a pattern cannot probe
    /// a hidden value), wc counts it, tail's last lines are its last lines. Memory stays
    /// bounded by the string limit per read; the copy lives in an anonymous memory file
    /// until the command is done. The counts are added to [`Host::redactions`] under `path`.
    pub(crate) fn redacted_copy(&self, file: &mut File, path: &AbsPath) -> HostResult<File> {
        let ctx = self.text_ctx();
        // An anonymous memory file: it needs no directory, so a worker that may write
        // nowhere (Landlock) can still redact.
        let mut copy =
            rustix::fs::memfd_create("tollgate-redacted", rustix::fs::MemfdFlags::CLOEXEC)
                .map(File::from)
                .map_err(|e| HostError::io("create a memory file to redact", path, e.into()))?;
        file.rewind().map_err(|e| HostError::io("seek", path, e))?;
        let mut input = Polled::new(file, &ctx);
        let counts = self
            .redactor
            .redact_stream(
                |buf| input.fill(buf),
                &mut copy,
                self.limits.max_string_bytes,
            )
            .map_err(|e| match e {
                // Say which file could not be read redacted.
                HostError::InvalidInput(why) => HostError::InvalidInput(format!("{path}: {why}")),
                other => other,
            })?;
        copy.rewind().map_err(|e| HostError::io("seek", path, e))?;
        let mut all = self.redactions.lock().unwrap_or_else(|p| p.into_inner());
        let total = all.entry(path.to_string()).or_default();
        for (name, n) in counts {
            *total.entry(name).or_default() += n;
        }
        Ok(copy)
    }

    /// Opens a regular file for reading after the gate permits `open` on its directory and
    /// `open` + `read` on the file: for commands that pass the bytes on unchanged (`cp`,
    /// `sysctl_read`), which a redacted read cannot serve.
    pub fn open_read(&self, raw_path: &str) -> HostResult<File> {
        let path = parse_path(raw_path)?;
        let opened = self.open_checked(&path, Kind::File, READ, OpenMode::Read)?;
        regular_file(opened.fd, &opened.path)
    }

    /// Metadata of `path` itself (a symlink is described, not followed). Needs `open` on the
    /// directory and `stat` on the path.
    pub fn stat(&self, raw_path: &str) -> HostResult<Entry> {
        let path = parse_path(raw_path)?;
        if path.is_root() {
            let permit = self
                .gate
                .authorize(&[Action::FsStat], &Resource::Dir(path.clone()))?;
            let fd = self
                .root
                .open(&permit, OpenMode::Stat)
                .map_err(|e| HostError::io("stat", &path, e))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| HostError::io("stat", &path, e.into()))?;
            return Ok(Entry::from_stat("/", &path, &st));
        }
        let dir = self.open_parent_checked(&path)?;
        let permit = self
            .gate
            .authorize(&[Action::FsStat], &Resource::File(path.clone()))?;
        let st = dir
            .stat(&permit)
            .map_err(|e| HostError::io("stat", &path, e))?;
        Ok(Entry::from_stat(path.file_name(), &path, &st))
    }

    /// `DirConfig().path(p).build().open(...)`: a directory handle, after `open` on it.
    pub fn open_dir(&self, raw_path: &str) -> HostResult<DirHandle> {
        let path = parse_path(raw_path)?;
        Ok(DirHandle {
            dir: self.open_dir_checked(&path, OPEN)?,
        })
    }

    /// `dir.open_file(name, OpenFileOptions().read(true)...)`: needs `open` on the file (and
    /// `read` when reading is asked for, or `redacted_read`, and then `file.read()` returns
    /// the redacted text). `name` is one component, opened beneath the directory descriptor,
    /// never through a symlink.
    pub fn open_file(&self, dir: &DirHandle, name: &str, read: bool) -> HostResult<FileHandle> {
        let path = dir.dir.path().join(name)?;
        let resource = Resource::File(path.clone());
        let (permit, redacted) = if read {
            self.reading(|actions| Ok(self.gate.authorize(actions, &resource)?))?
        } else {
            (self.gate.authorize(OPEN, &resource)?, false)
        };
        // A handle opened without `read` is a reference: it cannot read at all.
        let mode = if read { OpenMode::Read } else { OpenMode::Stat };
        let raw =
            std::ffi::CString::new(name).map_err(|e| HostError::InvalidInput(e.to_string()))?;
        let fd = dir.dir.open(&raw, &permit, mode).map_err(|e| {
            if is_link_error(&e) {
                HostError::InvalidInput(format!(
                    "{path} is a symlink; open its target's directory instead"
                ))
            } else {
                HostError::io("open", &path, e)
            }
        })?;
        Ok(FileHandle {
            file: regular_file(fd, &path)?,
            path,
            readable: read,
            redacted,
        })
    }

    /// `file.read()`: the whole content, within the string limit.
    pub fn read_handle(&self, handle: &mut FileHandle) -> HostResult<String> {
        if !handle.readable {
            return Err(HostError::InvalidInput(format!(
                "{} was opened without read(true) in its OpenFileOptions",
                handle.path
            )));
        }
        // Each read is a decision of its own (remembered, so cheap): a handle opened before
        // `tollgate freeze` reads nothing after it.
        let action = if handle.redacted {
            Action::FsRedactedRead
        } else {
            Action::FsRead
        };
        let resource = Resource::File(handle.path.clone());
        let permit = self.gate.authorize(&[action], &resource)?;
        crate::effect::check(&permit, &[action], &resource)
            .map_err(|e| HostError::io("read", &handle.path, e))?;
        if handle.redacted {
            let mut copy = self.redacted_copy(&mut handle.file, &handle.path)?;
            return super::text::cat(&mut copy, false, &self.text_ctx());
        }
        super::text::cat(&mut handle.file, false, &self.text_ctx())
    }
}

/// An open directory, from the handle API.
#[derive(Debug)]
pub struct DirHandle {
    dir: OpenDir,
}

impl DirHandle {
    pub fn path(&self) -> &AbsPath {
        self.dir.path()
    }
}

/// An open file, from the handle API.
#[derive(Debug)]
pub struct FileHandle {
    file: File,
    path: AbsPath,
    readable: bool,
    /// Opened under `redacted_read`: reads return the redacted text.
    redacted: bool,
}

impl FileHandle {
    pub fn path(&self) -> &AbsPath {
        &self.path
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.file)
    }
}

/// Only regular files are read or written: a FIFO would block and a device may never end.
pub(crate) fn regular_file(fd: OwnedFd, path: &AbsPath) -> HostResult<File> {
    let st = rustix::fs::fstat(&fd).map_err(|e| HostError::io("stat", path, e.into()))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(File::from(fd)),
        FileType::Directory => Err(HostError::InvalidInput(format!(
            "{path} is a directory; use ls to list it"
        ))),
        other => Err(HostError::InvalidInput(format!(
            "{path} is not a regular file ({other:?}); only regular files can be read or written"
        ))),
    }
}
