//! Path resolution through descriptors, and every effect on the file system: each takes
//! the [`Permit`] the gate gave for the exact path it touches and checks that the permit's
//! actions cover what it does (an open mode, a removal, a rename), so nothing here can act
//! on what the gate did not decide. The descriptor helpers that open, create or remove are
//! private to this module.
//!
//! Every path is opened relative to a descriptor of `/` with `openat2` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel resolves the
//! whole path in one step and refuses if any component is a symlink, so a concurrent swap of
//! a directory for a link cannot redirect the open. Because `AbsPath` has no `..` and no
//! symlink is crossed, the object opened is the one at the path the gate saw.

// This module is where the file system is touched: each call below is behind a Permit check.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use std::ffi::CStr;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags};
use tollgate_policy::{AbsPath, Action, Permit};

use crate::effect::not_covered;

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
    /// The actions of which a permit must hold one (and all of `needs_all`) to open in this
    /// mode. A directory is also opened to list what is below it before removing or moving
    /// it, which its `delete` or `move` permit covers.
    fn needs_any(self) -> &'static [Action] {
        match self {
            OpenMode::Read => &[Action::FsRead, Action::FsRedactedRead],
            OpenMode::Dir => &[
                Action::FsOpen,
                Action::FsRead,
                Action::FsDelete,
                Action::FsMove,
            ],
            OpenMode::Append | OpenMode::Truncate | OpenMode::CreateNew => &[Action::FsCreate],
            OpenMode::Overwrite => &[Action::FsWrite],
            OpenMode::Touch => &[Action::FsCreate],
            OpenMode::Exec => &[Action::FsExecute],
            // A reference gives no access to the content: what `open` permits.
            OpenMode::Stat => &[Action::FsStat, Action::FsOpen],
        }
    }

    fn needs_all(self) -> &'static [Action] {
        match self {
            OpenMode::Append | OpenMode::Truncate | OpenMode::CreateNew | OpenMode::Touch => {
                &[Action::FsWrite]
            }
            _ => &[],
        }
    }

    /// `Err` unless `permit` covers opening in this mode.
    fn check(self, permit: &Permit) -> io::Result<()> {
        let any = self.needs_any().iter().any(|a| permit.allows(*a));
        let all = self.needs_all().iter().all(|a| permit.allows(*a));
        if any && all {
            Ok(())
        } else {
            Err(not_covered(permit, &format!("{self:?}")))
        }
    }

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
        mode.check(permit)?;
        open_beneath(self.fd.as_fd(), permit_path(permit)?.relative(), mode)
    }

    /// Opens the permitted directory, to act on its entries.
    pub(crate) fn open_dir(&self, permit: &Permit) -> io::Result<OpenDir> {
        let fd = self.open(permit, OpenMode::Dir)?;
        Ok(OpenDir {
            fd,
            path: permit_path(permit)?.clone(),
        })
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

/// A directory opened under a permit: the only way to act on its entries, each under a
/// permit for that entry's own path.
#[derive(Debug)]
pub(crate) struct OpenDir {
    fd: OwnedFd,
    path: AbsPath,
}

impl OpenDir {
    /// The directory `opened` is, opened by [`Root::open`] under its permit in `Dir` mode.
    pub(crate) fn from_opened(opened: super::Opened) -> io::Result<OpenDir> {
        OpenMode::Dir.check(&opened.permit)?;
        let st = rustix::fs::fstat(&opened.fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory
            || permit_path(&opened.permit)? != &opened.path
        {
            return Err(not_covered(&opened.permit, "a directory"));
        }
        Ok(OpenDir {
            fd: opened.fd,
            path: opened.path,
        })
    }

    pub(crate) fn path(&self) -> &AbsPath {
        &self.path
    }

    /// For listing the directory and reading its entries' metadata, which opening it
    /// permitted.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The entry `raw` (its name as the kernel knows it) opened in `mode`, under a permit for
    /// its path.
    pub(crate) fn open<P: AsRef<CStr>>(
        &self,
        raw: P,
        permit: &Permit,
        mode: OpenMode,
    ) -> io::Result<OwnedFd> {
        self.entry(raw.as_ref(), permit)?;
        mode.check(permit)?;
        open_beneath(self.fd.as_fd(), raw.as_ref(), mode)
    }

    /// The subdirectory `raw`, under a permit for its path.
    pub(crate) fn open_dir<P: AsRef<CStr>>(&self, raw: P, permit: &Permit) -> io::Result<OpenDir> {
        let fd = self.open(raw, permit, OpenMode::Dir)?;
        Ok(OpenDir {
            fd,
            path: permit_path(permit)?.clone(),
        })
    }

    /// Removes the entry `raw` (a directory with `dir`, which must be empty), under a
    /// permit for `delete` on it.
    pub(crate) fn remove<P: AsRef<CStr>>(
        &self,
        raw: P,
        permit: &Permit,
        dir: bool,
    ) -> io::Result<()> {
        self.entry(raw.as_ref(), permit)?;
        require(permit, Action::FsDelete)?;
        let flags = if dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rustix::fs::unlinkat(&self.fd, raw.as_ref(), flags)?;
        Ok(())
    }

    /// Makes the directory the permit (for `create`) names, in this one.
    pub(crate) fn make_dir(&self, permit: &Permit) -> io::Result<()> {
        let name = self.entry_name(permit)?;
        require(permit, Action::FsCreate)?;
        rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755))?;
        Ok(())
    }

    /// Renames the entry `from` names (a permit for `move`) in this directory to what `to`
    /// names (a permit for `create`) in `to_dir`. It replaces what is there only under
    /// `replacing`, a permit for `delete` on it; else an existing entry makes it fail
    /// (`AlreadyExists`). A directory moves with what is below it, for which `below` holds
    /// a `move` permit each.
    pub(crate) fn rename(
        &self,
        from: &Permit,
        to_dir: &OpenDir,
        to: &Permit,
        replacing: Option<&Permit>,
        below: &[Permit],
    ) -> io::Result<()> {
        let from_name = self.entry_name(from)?;
        let to_name = to_dir.entry_name(to)?;
        require(from, Action::FsMove)?;
        require(to, Action::FsCreate)?;
        let source = permit_path(from)?;
        for permit in below {
            require(permit, Action::FsMove)?;
            if !permit_path(permit)?.starts_with(source) {
                return Err(not_covered(permit, &format!("an entry below {source}")));
            }
        }
        let flags = match replacing {
            Some(permit) => {
                require(permit, Action::FsDelete)?;
                if permit_path(permit)? != permit_path(to)? {
                    return Err(not_covered(permit, &permit_path(to)?.to_string()));
                }
                RenameFlags::empty()
            }
            None => RenameFlags::NOREPLACE,
        };
        rustix::fs::renameat_with(&self.fd, from_name, &to_dir.fd, to_name, flags)?;
        Ok(())
    }

    /// The entry the permit (for `stat`) names, described without following a symlink.
    pub(crate) fn stat(&self, permit: &Permit) -> io::Result<rustix::fs::Stat> {
        let name = self.entry_name(permit)?;
        require(permit, Action::FsStat)?;
        Ok(rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// `Err` unless `permit` is for the entry `raw` of this directory (by the name the
    /// policy sees).
    fn entry(&self, raw: &CStr, permit: &Permit) -> io::Result<()> {
        let name = crate::fs::walk::shown_name(raw.to_bytes());
        match self.path.join(&name) {
            Ok(path) if Some(&path) == permit.resource().path() => Ok(()),
            _ => Err(not_covered(permit, &format!("{}/{name}", self.path))),
        }
    }

    /// The name, in this directory, of the path `permit` is for.
    fn entry_name<'p>(&self, permit: &'p Permit) -> io::Result<&'p str> {
        let path = permit_path(permit)?;
        if path.parent().as_ref() != Some(&self.path) {
            return Err(not_covered(permit, &format!("an entry of {}", self.path)));
        }
        Ok(path.file_name())
    }
}

/// What a handle opens a file for (`OpenFileOptions`): the access mode, whether a missing file
/// is made, and with which permission bits. The open never empties the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    /// Permission bits of a file it creates (masked to `0o777`, then by the umask).
    pub mode: u32,
}

impl Access {
    /// `Err` unless `permit` covers this access: `open`, and `read` (or `redacted_read`),
    /// `write` and `create` as asked.
    fn check(self, permit: &Permit) -> io::Result<()> {
        require(permit, Action::FsOpen)?;
        if self.read && !(permit.allows(Action::FsRead) || permit.allows(Action::FsRedactedRead)) {
            return Err(not_covered(permit, "reading"));
        }
        if self.write {
            require(permit, Action::FsWrite)?;
        }
        if self.create {
            require(permit, Action::FsCreate)?;
        }
        Ok(())
    }

    fn flags(self) -> OFlags {
        let base = OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let rw = match (self.read, self.write) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            // Neither is refused by the caller; read-only is the least a descriptor can do.
            _ => OFlags::RDONLY,
        };
        let create = if self.create {
            OFlags::CREATE
        } else {
            OFlags::empty()
        };
        base | rw | create
    }

    fn open(self, dir: BorrowedFd<'_>, relative: &CStr) -> io::Result<OwnedFd> {
        let mode = if self.create {
            Mode::from_raw_mode(self.mode & 0o777)
        } else {
            Mode::empty()
        };
        Ok(rustix::fs::openat2(
            dir,
            relative,
            self.flags(),
            mode,
            RESOLVE,
        )?)
    }
}

impl OpenDir {
    /// The entry the permit names, opened with `access` beneath this directory and never
    /// through a symlink (`ELOOP` when it is one).
    pub(crate) fn open_file(&self, permit: &Permit, access: Access) -> io::Result<OwnedFd> {
        let name = std::ffi::CString::new(self.entry_name(permit)?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        access.check(permit)?;
        access.open(self.fd.as_fd(), &name)
    }

    /// The type of the entry the permit (for `open`) names, not following it.
    pub(crate) fn entry_type(&self, permit: &Permit) -> io::Result<FileType> {
        let name = self.entry_name(permit)?;
        require(permit, Action::FsOpen)?;
        let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(FileType::from_raw_mode(st.st_mode))
    }

    /// Makes the symlink the permit (for `create`) names, pointing at `target`.
    pub(crate) fn symlink(&self, target: &str, permit: &Permit) -> io::Result<()> {
        let name = self.entry_name(permit)?;
        require(permit, Action::FsCreate)?;
        rustix::fs::symlinkat(target, &self.fd, name)?;
        Ok(())
    }

    /// Where the symlink the permit (for `read`, `stat` or `open`) names points, as written in it.
    pub(crate) fn read_link(&self, permit: &Permit) -> io::Result<String> {
        let name = self.entry_name(permit)?;
        // A link's target is part of what `stat` describes, and what `open` follows.
        if ![Action::FsRead, Action::FsStat, Action::FsOpen]
            .iter()
            .any(|a| permit.allows(*a))
        {
            return Err(not_covered(permit, "reading a symlink"));
        }
        let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())?;
        Ok(target.to_string_lossy().into_owned())
    }

    /// Sets the owner of the entry the permit (for `chown`) names, without following it
    /// when it is a symlink (the link itself changes owner).
    pub(crate) fn chown_entry(
        &self,
        permit: &Permit,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let name = self.entry_name(permit)?;
        require(permit, Action::FsChown)?;
        rustix::fs::chownat(
            &self.fd,
            name,
            uid.map(rustix::fs::Uid::from_raw),
            gid.map(rustix::fs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }
}

/// An entry opened to change its attributes (`chmod`, `chown` below a directory).
pub(crate) enum Attrs {
    File(OwnedFd),
    Dir(OpenDir),
}

impl OpenDir {
    /// The entry `raw` opened read-only, under a permit for `action` on it, to change its
    /// mode or owner through the descriptor; a directory comes back as one, to go below it.
    /// Anything but a regular file or directory (swapped in since it was listed) is refused.
    pub(crate) fn open_for_attrs(
        &self,
        raw: &CStr,
        permit: &Permit,
        action: Action,
    ) -> io::Result<Attrs> {
        self.entry(raw, permit)?;
        require(permit, action)?;
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = rustix::fs::openat2(&self.fd, raw, flags, Mode::empty(), RESOLVE)?;
        match FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) {
            FileType::RegularFile => Ok(Attrs::File(fd)),
            FileType::Directory => Ok(Attrs::Dir(OpenDir {
                fd,
                path: permit_path(permit)?.clone(),
            })),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file or directory",
            )),
        }
    }
}

/// The effects on an object through a descriptor already held (a file or directory handle):
/// each under a permit for that object's path, which the handle passes with its descriptor.
pub(crate) mod held {
    use super::*;

    fn check(permit: &Permit, path: &AbsPath, action: Action) -> io::Result<()> {
        if permit_path(permit)? != path {
            return Err(not_covered(permit, &path.to_string()));
        }
        require(permit, action)
    }

    /// `fstat`, under `stat`.
    pub(crate) fn stat(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
    ) -> io::Result<rustix::fs::Stat> {
        check(permit, path, Action::FsStat)?;
        Ok(rustix::fs::fstat(fd)?)
    }

    /// `fchmod`, under `chmod`.
    pub(crate) fn set_mode(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        mode: u32,
    ) -> io::Result<()> {
        check(permit, path, Action::FsChmod)?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & 0o7777))?;
        Ok(())
    }

    /// `fchown`, under `chown`; `None` leaves that id as it is.
    pub(crate) fn set_owner(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        check(permit, path, Action::FsChown)?;
        rustix::fs::fchown(
            fd,
            uid.map(rustix::fs::Uid::from_raw),
            gid.map(rustix::fs::Gid::from_raw),
        )?;
        Ok(())
    }

    /// `ftruncate`, under `write`.
    pub(crate) fn set_len(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        len: u64,
    ) -> io::Result<()> {
        check(permit, path, Action::FsWrite)?;
        rustix::fs::ftruncate(fd, len)?;
        Ok(())
    }

    /// `fallocate` of `len` bytes from the start (the file grows to at least `len`), under
    /// `write`.
    pub(crate) fn allocate(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        len: u64,
    ) -> io::Result<()> {
        check(permit, path, Action::FsWrite)?;
        rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, len)?;
        Ok(())
    }

    /// Writes `bytes` at the descriptor's offset, under `write`.
    pub(crate) fn write_all(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        mut bytes: &[u8],
    ) -> io::Result<()> {
        check(permit, path, Action::FsWrite)?;
        while !bytes.is_empty() {
            match rustix::io::write(fd, bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `fsetxattr`, under `set_x_attr`.
    pub(crate) fn set_xattr(
        permit: &Permit,
        path: &AbsPath,
        fd: BorrowedFd<'_>,
        name: &str,
        value: &[u8],
    ) -> io::Result<()> {
        check(permit, path, Action::FsSetXattr)?;
        rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty())?;
        Ok(())
    }
}

fn permit_path(permit: &Permit) -> io::Result<&AbsPath> {
    permit
        .resource()
        .path()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the permit is not for a path"))
}

fn require(permit: &Permit, action: Action) -> io::Result<()> {
    if permit.allows(action) {
        Ok(())
    } else {
        Err(not_covered(permit, &action.to_string()))
    }
}

/// Opens `relative` beneath `dir` without crossing any symlink.
fn open_beneath<P: rustix::path::Arg>(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tollgate_policy::{Gate, Policies, Recorder, Resource, Schema};

    use super::*;

    /// A gate that permits exactly `actions` on everything.
    fn gate(actions: &str) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let text = format!("permit(principal, action in [{actions}], resource);");
        let policies = Policies::parse("p.cedar", &text, &schema).unwrap();
        Gate::new(schema, policies, "t", Recorder::Unaudited, Arc::default())
    }

    fn dir_of(tmp: &tempfile::TempDir) -> AbsPath {
        AbsPath::parse(&tmp.path().canonicalize().unwrap().display().to_string()).unwrap()
    }

    fn is_not_covered(e: io::Error) -> bool {
        e.kind() == io::ErrorKind::PermissionDenied && e.to_string().contains("does not cover")
    }

    #[test]
    fn an_open_needs_a_permit_whose_actions_cover_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), "x").unwrap();
        let file = Resource::File(dir_of(&tmp).join("f").unwrap());
        let root = Root::new().unwrap();
        let stat_only = gate(r#"file_system::Action::"stat""#)
            .authorize(&[Action::FsStat], &file)
            .unwrap();
        for mode in [
            OpenMode::Read,
            OpenMode::Append,
            OpenMode::Truncate,
            OpenMode::Overwrite,
            OpenMode::CreateNew,
            OpenMode::Touch,
            OpenMode::Exec,
        ] {
            let e = root.open(&stat_only, mode).unwrap_err();
            assert!(is_not_covered(e), "{mode:?}");
        }
        root.open(&stat_only, OpenMode::Stat).unwrap();
        // Writing needs create and write both; reading, read.
        let create_only = gate(r#"file_system::Action::"create""#)
            .authorize(&[Action::FsCreate], &file)
            .unwrap();
        assert!(is_not_covered(
            root.open(&create_only, OpenMode::Append).unwrap_err()
        ));
        let read = gate(r#"file_system::Action::"read""#)
            .authorize(&[Action::FsRead], &file)
            .unwrap();
        root.open(&read, OpenMode::Read).unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("f")).unwrap(), "x");
    }

    #[test]
    fn a_directory_acts_only_on_its_own_entries_and_only_as_their_permits_say() {
        let tmp = tempfile::tempdir().unwrap();
        let here = dir_of(&tmp);
        std::fs::write(tmp.path().join("a"), "a").unwrap();
        std::fs::write(tmp.path().join("b"), "b").unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/c"), "c").unwrap();
        let all = gate(
            r#"file_system::Action::"open", file_system::Action::"delete", file_system::Action::"move", file_system::Action::"create""#,
        );
        let root = Root::new().unwrap();
        let dir = root
            .open_dir(
                &all.authorize(&[Action::FsOpen], &Resource::Dir(here.clone()))
                    .unwrap(),
            )
            .unwrap();
        let file = |name: &str| Resource::File(here.join(name).unwrap());
        let delete_a = all.authorize(&[Action::FsDelete], &file("a")).unwrap();
        // The permit for `a` removes `a`, never `b`, nor `sub/c` through another directory.
        assert!(is_not_covered(
            dir.remove(c"b", &delete_a, false).unwrap_err()
        ));
        let sub = dir
            .open_dir(
                c"sub",
                &all.authorize(&[Action::FsOpen], &Resource::Dir(here.join("sub").unwrap()))
                    .unwrap(),
            )
            .unwrap();
        assert!(is_not_covered(
            sub.remove(c"a", &delete_a, false).unwrap_err()
        ));
        // A permit without `delete` removes nothing.
        let move_b = all.authorize(&[Action::FsMove], &file("b")).unwrap();
        assert!(is_not_covered(
            dir.remove(c"b", &move_b, false).unwrap_err()
        ));
        // A rename over an existing entry needs `delete` on it; without one, nothing moves.
        let create_a = all.authorize(&[Action::FsCreate], &file("a")).unwrap();
        let e = dir.rename(&move_b, &dir, &create_a, None, &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(is_not_covered(
            dir.rename(&move_b, &dir, &create_a, Some(&move_b), &[])
                .unwrap_err()
        ));
        assert_eq!(std::fs::read_to_string(tmp.path().join("a")).unwrap(), "a");
        dir.rename(&move_b, &dir, &create_a, Some(&delete_a), &[])
            .unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("a")).unwrap(), "b");
        // A directory moves only with `move` permits for what is below it.
        let sub_dir = Resource::Dir(here.join("sub").unwrap());
        let move_sub = all.authorize(&[Action::FsMove], &sub_dir).unwrap();
        let create_new = all
            .authorize(
                &[Action::FsCreate],
                &Resource::Dir(here.join("new").unwrap()),
            )
            .unwrap();
        let outside = all.authorize(&[Action::FsMove], &file("a")).unwrap();
        assert!(is_not_covered(
            dir.rename(&move_sub, &dir, &create_new, None, &[outside])
                .unwrap_err()
        ));
        assert!(tmp.path().join("sub/c").exists());
    }
}
