//! Opening files for reading, and `stat`.

use std::fs::File;
use std::io::Seek;
use std::os::fd::OwnedFd;

use rustix::fs::FileType;
use tollgate_policy::sdk_actions::{READ, READ_REDACTED};
use tollgate_policy::{AbsPath, Action, Resource};

use super::root::OpenMode;
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
    /// decisions are recorded, as every decision is. As in Rex, the path may not end in a
    /// symlink (see [`Host::open_file_checked`]).
    pub fn open_text(&self, raw_path: &str) -> HostResult<File> {
        let path = parse_path(raw_path)?;
        let (opened, redacted) =
            self.reading(|actions| self.open_file_checked(&path, actions, OpenMode::Read))?;
        let mut file = regular_file(opened.fd, &opened.path)?;
        if redacted {
            return self.redacted_copy(&mut file, &opened.path);
        }
        Ok(file)
    }

    /// Asks `authorize` for a read (`open` + `read`); if the gate denies `read` itself, asks
    /// again for `open` + `redacted_read`. Says whether the redacted form was permitted. When
    /// both are denied, the error is the denial of `read`, the action a Rex policy names.
    pub(super) fn reading<T>(
        &self,
        authorize: impl Fn(&[Action]) -> HostResult<T>,
    ) -> HostResult<(T, bool)> {
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
}

/// Only regular files are read or written: a FIFO would block and a device may never end.
pub(crate) fn regular_file(fd: OwnedFd, path: &AbsPath) -> HostResult<File> {
    let st = rustix::fs::fstat(&fd).map_err(|e| HostError::io("stat", path, e.into()))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(File::from(fd)),
        // Rex's kind for an argument that is not a file.
        FileType::Directory => Err(HostError::Rex {
            kind: "ValidationError",
            message: format!("{path} is a directory, not a file; use ls to list it"),
        }),
        other => Err(HostError::Rex {
            kind: "ValidationError",
            message: format!(
                "{path} is not a regular file ({other:?}); only regular files can be read or written"
            ),
        }),
    }
}
