//! Path resolution through descriptors.
//!
//! Every path is opened relative to a descriptor of `/` with `openat2` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel resolves the
//! whole path in one step and refuses if any component is a symlink, so a concurrent swap of
//! a directory for a link cannot redirect the open. Because `AbsPath` has no `..` and no
//! symlink is crossed, the object opened is the one at the path the gate saw.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use tollgate_policy::{AbsPath, Permit};

/// How to open a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Read a regular file's content.
    Read,
    /// A directory, for listing and for `*at` calls relative to it.
    Dir,
    /// Write at the end; create when missing.
    Append,
    /// Replace the content; create when missing. The open itself does not empty the file:
    /// the caller does, once it has checked what it opened.
    Truncate,
    /// Replace the content of an existing file; never create. Emptied by the caller too.
    Overwrite,
    /// Create a file that must not exist yet.
    CreateNew,
    /// Open (creating when missing) without reading or writing, to set times.
    Touch,
    /// A reference to a binary, to run with `execveat`; no read or write access.
    Exec,
    /// A reference for asking about the object (`fstatvfs`), with no access to its content:
    /// a sandbox that keeps the worker from reading a directory does not keep it from this.
    Stat,
}

impl OpenMode {
    fn flags(self) -> OFlags {
        if matches!(self, OpenMode::Exec | OpenMode::Stat) {
            // openat2 refuses O_PATH with any flag beyond these.
            return OFlags::PATH | OFlags::CLOEXEC;
        }
        // NONBLOCK keeps a FIFO from blocking the open (reading or writing); it changes
        // nothing for regular files, and callers refuse anything else.
        let base = OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        base | match self {
            OpenMode::Read => OFlags::RDONLY,
            OpenMode::Dir => OFlags::RDONLY | OFlags::DIRECTORY,
            OpenMode::Append => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE,
            OpenMode::Truncate => OFlags::WRONLY | OFlags::CREATE,
            OpenMode::Overwrite => OFlags::WRONLY,
            OpenMode::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            OpenMode::Touch => OFlags::RDONLY | OFlags::CREATE | OFlags::NONBLOCK,
            OpenMode::Exec | OpenMode::Stat => OFlags::PATH,
        }
    }
}

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// A descriptor of `/`, the base of every resolution.
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    pub fn new() -> io::Result<Root> {
        let fd = rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Opens the permitted resource. `ELOOP` means a symlink (or magic link) lies on the way;
    /// the caller may ask [`Root::find_link`] where it points and authorize that.
    pub(crate) fn open(&self, permit: &Permit, mode: OpenMode) -> io::Result<OwnedFd> {
        let path = permit.resource().path().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the permit is not for a path")
        })?;
        open_beneath(self.fd.as_fd(), path.relative(), mode)
    }

    /// A reference to `path` (`O_PATH`, no symlink followed) for naming it to the kernel, as
    /// a Landlock rule does; it gives no access to the content, so it needs no permit.
    pub(crate) fn reference(&self, path: &AbsPath) -> io::Result<OwnedFd> {
        open_beneath(self.fd.as_fd(), path.relative(), OpenMode::Exec)
    }

    /// The entries of the directory at `path` whose names are UTF-8 (no other name can be
    /// in a policy's scope), each as a reference (`O_PATH`) with whether it is a directory,
    /// for building a sandbox before a script runs; symlinks are left out, and no content is
    /// read.
    pub(crate) fn entries_in(&self, path: &AbsPath) -> io::Result<Vec<(String, OwnedFd, bool)>> {
        let dir = open_beneath(self.fd.as_fd(), path.relative(), OpenMode::Dir)?;
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(dir.as_fd())? {
            let entry = entry?;
            let raw = entry.file_name();
            if matches!(raw.to_bytes(), b"." | b"..") || entry.file_type() == FileType::Symlink {
                continue;
            }
            let Ok(name) = std::str::from_utf8(raw.to_bytes()) else {
                continue;
            };
            // Relative to the listed directory, not followed: one short lookup each.
            let fd = match rustix::fs::openat(
                &dir,
                raw,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(_) => continue,
            };
            let kind = match entry.file_type() {
                FileType::Unknown => FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode),
                known => known,
            };
            if kind != FileType::Symlink {
                entries.push((name.to_owned(), fd, kind == FileType::Directory));
            }
        }
        Ok(entries)
    }

    /// Walks `path` one component at a time without following anything, and at the first
    /// symlink returns the path it stands for: its target with the rest of `path` appended.
    /// `None` when no component is a link (it may have been swapped back meanwhile).
    pub(crate) fn find_link(&self, path: &AbsPath) -> io::Result<Option<AbsPath>> {
        let parts: Vec<&str> = path.relative().split('/').filter(|p| *p != ".").collect();
        let mut dir: Option<OwnedFd> = None;
        let mut here = AbsPath::root();
        for (i, name) in parts.iter().enumerate() {
            let dir_fd = dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            let st = rustix::fs::statat(dir_fd, *name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                let target = rustix::fs::readlinkat(dir_fd, *name, Vec::new())?;
                let target = target.to_string_lossy();
                let mut joined = if target.starts_with('/') {
                    target.into_owned()
                } else {
                    format!("{}/{}", here, target)
                };
                for rest in &parts[i + 1..] {
                    joined.push('/');
                    joined.push_str(rest);
                }
                return AbsPath::parse(&joined)
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
            }
            if i + 1 < parts.len() {
                let next = rustix::fs::openat(
                    dir_fd,
                    *name,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                dir = Some(next);
                here = here
                    .join(name)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            }
        }
        Ok(None)
    }
}

/// Opens `relative` beneath `dir` without crossing any symlink.
pub(crate) fn open_beneath<P: rustix::path::Arg>(
    dir: BorrowedFd<'_>,
    relative: P,
    mode: OpenMode,
) -> io::Result<OwnedFd> {
    // openat2 refuses a mode unless the call can create.
    let create_mode = match mode {
        OpenMode::Append | OpenMode::Truncate | OpenMode::CreateNew | OpenMode::Touch => {
            Mode::from_raw_mode(0o644)
        }
        OpenMode::Read | OpenMode::Dir | OpenMode::Overwrite | OpenMode::Exec | OpenMode::Stat => {
            Mode::empty()
        }
    };
    let fd = rustix::fs::openat2(dir, relative, mode.flags(), create_mode, RESOLVE)?;
    Ok(fd)
}

/// Whether an error from [`open_beneath`] means a symlink was in the way.
pub(crate) fn is_link_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}
