//! Opening files for reading, `stat`, and the handle API (`DirConfig`/`open_file`/`read`).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType};
use tollgate_policy::{AbsPath, Action, Resource};

use super::root::{is_link_error, open_beneath, OpenMode};
use super::text::TextCtx;
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

    /// Opens a regular file for reading after the gate permits `open` on its directory and
    /// `open` + `read` on the file. This is what cat, grep, tail, wc, sed and awk read from.
    pub fn open_read(&self, raw_path: &str) -> HostResult<File> {
        let path = parse_path(raw_path)?;
        let opened = self.open_checked(
            &path,
            Kind::File,
            &[Action::FsOpen, Action::FsRead],
            OpenMode::Read,
        )?;
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
                .open(&permit, OpenMode::Dir)
                .map_err(|e| HostError::io("stat", &path, e))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| HostError::io("stat", &path, e.into()))?;
            return Ok(Entry::from_stat("/", &path, &st));
        }
        let (dir, _) = self.open_parent_checked(&path)?;
        self.gate
            .authorize(&[Action::FsStat], &Resource::File(path.clone()))?;
        Entry::stat_at(dir.as_fd(), path.file_name(), &path)
    }

    /// `DirConfig().path(p).build().open(...)`: a directory handle, after `open` on it.
    pub fn open_dir(&self, raw_path: &str) -> HostResult<DirHandle> {
        let path = parse_path(raw_path)?;
        let opened = self.open_checked(&path, Kind::Dir, &[Action::FsOpen], OpenMode::Dir)?;
        Ok(DirHandle {
            fd: opened.fd,
            path: opened.path,
        })
    }

    /// `dir.open_file(name, OpenFileOptions().read(true)...)`: needs `open` on the file (and
    /// `read` when reading is asked for). `name` is one component, opened beneath the
    /// directory descriptor, never through a symlink.
    pub fn open_file(&self, dir: &DirHandle, name: &str, read: bool) -> HostResult<FileHandle> {
        let path = dir.path.join(name)?;
        let actions: &[Action] = if read {
            &[Action::FsOpen, Action::FsRead]
        } else {
            &[Action::FsOpen]
        };
        let permit = self
            .gate
            .authorize(actions, &Resource::File(path.clone()))?;
        debug_assert_eq!(permit.resource().path(), Some(&path));
        let fd = open_beneath(dir.fd.as_fd(), name, OpenMode::Read).map_err(|e| {
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
        super::text::cat(&mut handle.file, false, &self.text_ctx())
    }
}

/// An open directory, from the handle API.
#[derive(Debug)]
pub struct DirHandle {
    fd: OwnedFd,
    path: AbsPath,
}

impl DirHandle {
    pub fn path(&self) -> &AbsPath {
        &self.path
    }
}

/// An open file, from the handle API.
#[derive(Debug)]
pub struct FileHandle {
    file: File,
    path: AbsPath,
    readable: bool,
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

/// `statat` without following, for `Entry`.
pub(crate) fn lstat_at(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &str,
    path: &AbsPath,
) -> HostResult<rustix::fs::Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| HostError::io("stat", path, e.into()))
}
