//! Commands that change the file system: write, touch, mkdir, cp, mv, rm, and the in-place
//! rewrite behind `sed -i`. Each asks for every resource it will change before changing any,
//! and a failure part-way undoes what it can (a half-copied new file is removed).

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, Mode, Timespec, Timestamps, UTIME_NOW};
use tollgate_policy::sdk_actions::{OVERWRITE, READ, TOUCH, WRITE};
use tollgate_policy::{AbsPath, Action, Context, Permit, Resource};

use super::read::regular_file;
use super::root::{OpenDir, OpenMode};
use super::walk::{lstat_at, EntryKind, Listed};
use super::{parse_path, Kind, Opened, MAX_LINK_HOPS};
use crate::error::{HostError, HostResult};
use crate::Host;

/// How `write` treats existing content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Add to the end (the default). Never truncates, and needs no read permission.
    #[default]
    Append,
    /// Replace the whole content.
    Replace,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CpOptions {
    /// Overwrite an existing destination.
    pub force: bool,
    /// Keep the source's mode and times.
    pub preserve: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MvOptions {
    /// Keep an existing destination as `NAME~`.
    pub backup: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RmOptions {
    /// A missing path is not an error (for `dir.delete`; the `rm` command, as Rex's, fails
    /// on a missing path with or without `rm::force`).
    pub force: bool,
    /// Remove a directory and everything below it.
    pub recursive: bool,
}

/// A file command refused because its path ends in a symlink, under Rex's kind for it.
pub(super) fn ends_in_link_error(path: &AbsPath) -> HostError {
    HostError::Rex {
        kind: "FileError",
        message: format!(
            "{path} is a symbolic link; file commands do not follow a link at the end of a path (name its target instead)"
        ),
    }
}

/// The error of a copy or move onto a directory, as the kernel reports it (`EISDIR`).
fn is_a_directory(op: &'static str, path: &AbsPath) -> HostError {
    HostError::io(
        op,
        path,
        io::Error::from_raw_os_error(rustix::io::Errno::ISDIR.raw_os_error()),
    )
}

fn kind_of(mode: u32) -> Kind {
    if EntryKind::of_mode(mode) == EntryKind::Dir {
        Kind::Dir
    } else {
        Kind::File
    }
}

impl Host {
    /// Whether the last component of `path` is a symlink, the directories above it resolved
    /// as [`Host::open_checked`] resolves them. A failure to resolve is `false`: opening
    /// then reports it.
    pub(super) fn ends_in_link(&self, path: &AbsPath) -> bool {
        let Some(mut dir) = path.parent() else {
            return false;
        };
        for _ in 0..=MAX_LINK_HOPS {
            match self.root.find_link(&dir) {
                Ok(Some(target)) => dir = target,
                Ok(None) => {
                    // `dir` has no link on it, so a link found below it is the last component.
                    return dir
                        .join(path.file_name())
                        .is_ok_and(|p| matches!(self.root.find_link(&p), Ok(Some(_))));
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// [`Host::open_checked`] for the file a file command (cat, grep, tail, wc, sed, awk,
    /// write, touch, cp) works on. As in Rex, a symlink among the directories on the way is
    /// followed (each target authorized too), but the file itself may not be one: a path
    /// whose last component is a link is refused with `FileError`, after the gate has decided
    /// on the path as it would for the open, so that only whom the open is permitted learns
    /// what the path is. Nothing is created through the link.
    pub(crate) fn open_file_checked(
        &self,
        path: &AbsPath,
        actions: &[Action],
        mode: OpenMode,
    ) -> HostResult<Opened> {
        self.open_resolving(
            path,
            Kind::File,
            actions,
            &[Context::Empty],
            mode,
            super::FinalLink::Refuse,
        )
    }

    /// `write`: needs `open` on the directory and `open` + `create` + `write` on the file.
    pub fn write(&self, raw_path: &str, content: &str, mode: WriteMode) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let open_mode = match mode {
            WriteMode::Append => OpenMode::Append,
            WriteMode::Replace => OpenMode::Truncate,
        };
        let opened = self.open_file_checked(&path, WRITE, open_mode)?;
        let path = opened.path.clone();
        writable(opened, mode == WriteMode::Replace)?
            .write_all(content.as_bytes())
            .map_err(|e| HostError::io("write", &path, e))
    }

    /// The rewrite behind `sed -i`: replaces an existing file's content. Needs `open` +
    /// `write` (the caller has already read it with `read`).
    pub fn overwrite(&self, raw_path: &str, content: &str) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let opened = self.open_file_checked(&path, OVERWRITE, OpenMode::Overwrite)?;
        let path = opened.path.clone();
        writable(opened, true)?
            .write_all(content.as_bytes())
            .map_err(|e| HostError::io("write", &path, e))
    }

    /// `touch`: creates the file if missing and sets its times to now. Needs `open` on the
    /// directory and `open` + `create` + `write` on the file.
    pub fn touch(&self, raw_path: &str) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let opened = self.open_file_checked(&path, TOUCH, OpenMode::Touch)?;
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        };
        rustix::fs::futimens(
            &opened.fd,
            &Timestamps {
                last_access: now,
                last_modification: now,
            },
        )
        .map_err(|e| HostError::io("touch", &opened.path, e.into()))
    }

    /// `mkdir`: needs `open` on the parent and `create` on each directory it makes. With
    /// `parents`, missing ancestors are made first, nearest-existing first. A directory that
    /// already exists is not an error (as in Rex, with or without `parents`); another kind of
    /// file there is.
    pub fn mkdir(&self, raw_path: &str, parents: bool) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        self.mkdir_path(&path, parents)
    }

    fn mkdir_path(&self, path: &AbsPath, parents: bool) -> HostResult<()> {
        if path.is_root() {
            return Ok(());
        }
        let parent = match self.open_parent_checked(path) {
            Err(HostError::NotFound { .. }) if parents => {
                let parent = path.parent().unwrap_or_else(AbsPath::root);
                self.mkdir_path(&parent, true)?;
                self.open_parent_checked(path)?
            }
            other => other?,
        };
        let permit = self.authorize_in(
            &[Action::FsCreate],
            Resource::Dir(path.clone()),
            &Context::Empty,
        )?;
        match parent.make_dir(&permit) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let st = lstat_at(parent.fd(), path.file_name(), path)?;
                if EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                    Ok(())
                } else {
                    Err(HostError::io("mkdir", path, e))
                }
            }
            Err(e) => Err(HostError::io("mkdir", path, e)),
        }
    }

    /// `cp`: needs read on the source and `open` + `create` + `write` on the destination
    /// (with `preserve`, `chmod` on it too: the copy takes the source's mode). As in Rex,
    /// both are files: a directory source is a `ValidationError`, a destination that is a
    /// directory an I/O error ("Is a directory"; the copy does not go into it), and neither
    /// may be a symlink. A copy onto the source itself is an error, found before anything is
    /// written. A new file that fails to copy completely is removed, after `delete` on it.
    pub fn cp(&self, raw_src: &str, raw_dst: &str, opts: CpOptions) -> HostResult<()> {
        let src = parse_path(raw_src)?;
        let opened = self.open_file_checked(&src, READ, OpenMode::Read)?;
        let mut from = regular_file(opened.fd, &opened.path)?;
        let dst = parse_path(raw_dst)?;
        let dst_dir = self.open_parent_checked(&dst)?;
        let dst_is_dir = lstat_at(dst_dir.fd(), dst.file_name(), &dst)
            .is_ok_and(|st| EntryKind::of_mode(st.st_mode) == EntryKind::Dir);
        let mode = if opts.force {
            OpenMode::Truncate
        } else {
            OpenMode::CreateNew
        };
        let actions: &[Action] = if opts.preserve {
            &[
                Action::FsOpen,
                Action::FsCreate,
                Action::FsWrite,
                Action::FsChmod,
            ]
        } else {
            &[Action::FsOpen, Action::FsCreate, Action::FsWrite]
        };
        if dst_is_dir {
            // Decided as the open would be, then refused as opening it for writing fails.
            let _decided =
                self.authorize_in(actions, Resource::File(dst.clone()), &Context::Empty)?;
            return Err(is_a_directory("open for writing", &dst));
        }
        let mut created = mode == OpenMode::CreateNew;
        let opened = match self.open_file_checked(&dst, actions, mode) {
            // As in Rex, without `force` an existing empty file is copied onto, and one with
            // content is refused (it is opened, not emptied, to find out).
            Err(HostError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                created = false;
                let opened = self.open_file_checked(&dst, actions, OpenMode::Overwrite)?;
                let st = rustix::fs::fstat(&opened.fd)
                    .map_err(|e| HostError::io("stat", &dst, e.into()))?;
                if st.st_size > 0 {
                    return Err(HostError::Rex {
                        kind: "DestinationFileNotEmptyError",
                        message: format!(
                            "{dst} already exists and is not empty; use cp::force to overwrite it"
                        ),
                    });
                }
                opened
            }
            other => other?,
        };
        let dst = opened.path.clone();
        let source =
            rustix::fs::fstat(from.as_fd()).map_err(|e| HostError::io("stat", &src, e.into()))?;
        let target =
            rustix::fs::fstat(&opened.fd).map_err(|e| HostError::io("stat", &dst, e.into()))?;
        if (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino) {
            return Err(HostError::InvalidInput(format!(
                "{src} and {dst} are the same file; nothing was copied"
            )));
        }
        let chmod = opts.preserve.then(|| opened.permit.allows(Action::FsChmod));
        let mut to = writable(opened, true)?;
        let copied = io::copy(&mut from, &mut to).and_then(|_| match chmod {
            Some(true) => preserve_metadata(&from, &to),
            // Asked for with the mode, so never without `chmod` on it.
            Some(false) => Err(io::Error::other("internal error: no chmod permit")),
            None => Ok(()),
        });
        if let Err(e) = copied {
            if created {
                self.remove_incomplete(&to, &dst);
            }
            return Err(HostError::io("copy to", &dst, e));
        }
        Ok(())
    }

    /// Removes the incomplete new file `file` that a failed copy made at `path`: after
    /// `delete` on it, and only if `path` still names that file (not one swapped in since).
    /// Best effort: the copy's own error is what the script gets.
    fn remove_incomplete(&self, file: &File, path: &AbsPath) {
        let Ok(ours) = rustix::fs::fstat(file.as_fd()) else {
            return;
        };
        let Ok(dir) = self.open_parent_checked(path) else {
            return;
        };
        let delete = &[Action::FsDelete];
        let Ok(permit) = self.authorize_in(delete, Resource::File(path.clone()), &Context::Empty)
        else {
            return;
        };
        let named = rustix::fs::statat(dir.fd(), path.file_name(), AtFlags::SYMLINK_NOFOLLOW);
        if named.is_ok_and(|st| (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino)) {
            if let Ok(name) = CString::new(path.file_name()) {
                let _ = dir.remove(&name, &permit, false);
            }
        }
    }

    /// `mv`: needs `move` on the source (context: the destination) and `create` on the
    /// destination. As in Rex, it moves a file: a directory source is an I/O error ("Is a
    /// directory"), a source that is a symlink or a destination that is a directory a
    /// `FileError` (the file does not go into it), each after the gate has decided on the
    /// move. Replacing an existing destination also needs `delete` on it, or with `backup`,
    /// `move` and `create` to keep it as `NAME~`, which must not exist. Returns the line
    /// `mv::verbose` logs, naming the source and where it went.
    pub fn mv(&self, raw_src: &str, raw_dst: &str, opts: MvOptions) -> HostResult<String> {
        let src = parse_path(raw_src)?;
        let dst = parse_path(raw_dst)?;
        let src_dir = self.open_parent_checked(&src)?;
        let src_st = match lstat_at(src_dir.fd(), src.file_name(), &src) {
            // Whether it exists is told only to whom the move would be permitted.
            Err(e @ HostError::NotFound { .. }) => {
                let _decided = self.authorize_in(
                    &[Action::FsMove],
                    Resource::File(src.clone()),
                    &Context::Move {
                        destination: dst.clone(),
                    },
                )?;
                return Err(e);
            }
            other => other?,
        };
        let src_kind = kind_of(src_st.st_mode);
        let dst_dir = self.open_parent_checked(&dst)?;
        let existing = lstat_at(dst_dir.fd(), dst.file_name(), &dst).ok();
        let moving = self.authorize_in(
            &[Action::FsMove],
            src_kind.resource(src.clone()),
            &Context::Move {
                destination: dst.clone(),
            },
        )?;
        let creating = self.authorize_in(
            &[Action::FsCreate],
            src_kind.resource(dst.clone()),
            &Context::Empty,
        )?;
        if src_kind == Kind::Dir {
            return Err(is_a_directory("move", &src));
        }
        if EntryKind::of_mode(src_st.st_mode) == EntryKind::Symlink {
            return Err(ends_in_link_error(&src));
        }
        if existing.as_ref().map(|st| kind_of(st.st_mode)) == Some(Kind::Dir) {
            return Err(HostError::Rex {
                kind: "FileError",
                message: format!(
                    "cannot move {src} to {dst}: {dst} is a directory, and mv does not move a file into one (name the new path inside it)"
                ),
            });
        }
        let mut replacing = None;
        if existing.is_some() {
            if opts.backup {
                let backup = dst
                    .parent()
                    .unwrap_or_else(AbsPath::root)
                    .join(&format!("{}~", dst.file_name()))?;
                let keeping = self.authorize_in(
                    &[Action::FsMove],
                    Resource::File(dst.clone()),
                    &Context::Move {
                        destination: backup.clone(),
                    },
                )?;
                let kept = self.authorize_in(
                    &[Action::FsCreate],
                    Resource::File(backup.clone()),
                    &Context::Empty,
                )?;
                // Never over an existing backup: that would delete it without a decision.
                dst_dir
                    .rename(&keeping, &dst_dir, &kept, None, &[])
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::AlreadyExists => HostError::InvalidInput(format!(
                            "{backup} already exists, and mv::backup does not replace it; remove it first"
                        )),
                        _ => HostError::io("back up", &dst, e),
                    })?;
            } else {
                replacing = Some(self.authorize_in(
                    &[Action::FsDelete],
                    Resource::File(dst.clone()),
                    &Context::Empty,
                )?);
            }
        }
        src_dir
            .rename(&moving, &dst_dir, &creating, replacing.as_ref(), &[])
            .map_err(|e| HostError::io("move", &src, e))?;
        Ok(format!("Moved from '{src}' to '{dst}'"))
    }

    /// `rm`: needs `delete` on what it removes. An empty directory is removed without flags;
    /// one with entries needs `recursive` (else `DirectoryNotEmpty`, as in Rex), and then
    /// every entry below is authorized before anything is deleted, so a forbidden descendant
    /// leaves the tree whole. A path that is itself a symlink is refused (`FileError`, as Rex
    /// refuses a link to a file; Rex follows a link to a directory and removes what it points
    /// to, which Tollgate does not); links below a removed directory are removed, never
    /// followed. Returns how many entries were removed.
    pub fn rm(&self, raw_path: &str, opts: RmOptions) -> HostResult<u64> {
        let path = parse_path(raw_path)?;
        let missing = |e: HostError| {
            // Whether it exists is told only to whom its removal would be permitted: a
            // decision with nothing to act on.
            let _decided = self.authorize_in(
                &[Action::FsDelete],
                Resource::File(path.clone()),
                &Context::Empty,
            )?;
            if opts.force {
                Ok(0)
            } else {
                Err(e)
            }
        };
        let dir = match self.open_parent_checked(&path) {
            Err(e @ HostError::NotFound { .. }) => return missing(e),
            other => other?,
        };
        let st = match lstat_at(dir.fd(), path.file_name(), &path) {
            Err(e @ HostError::NotFound { .. }) => return missing(e),
            other => other?,
        };
        let kind = kind_of(st.st_mode);
        let permit = self.authorize_in(
            &[Action::FsDelete],
            kind.resource(path.clone()),
            &Context::Empty,
        )?;
        if EntryKind::of_mode(st.st_mode) == EntryKind::Symlink {
            return Err(ends_in_link_error(&path));
        }
        let name = CString::new(path.file_name())
            .map_err(|e| HostError::io("remove", &path, io::Error::other(e)))?;
        if kind == Kind::File {
            dir.remove(&name, &permit, false)
                .map_err(|e| HostError::io("remove", &path, e))?;
            return Ok(1);
        }
        if !opts.recursive {
            return match dir.remove(&name, &permit, true) {
                Ok(()) => Ok(1),
                Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Err(HostError::Rex {
                    kind: "DirectoryNotEmpty",
                    message: format!(
                        "{path} is a directory with entries; use rm::recursive to remove it and its contents"
                    ),
                }),
                Err(e) => Err(HostError::io("remove", &path, e)),
            };
        }
        let top = dir
            .open_dir(&name, &permit)
            .map_err(|e| HostError::io("open", &path, e))?;
        let mut permitted = HashMap::new();
        self.authorize_tree(&top, &mut permitted)?;
        let removed = self.remove_tree(&top, &mut permitted)?;
        dir.remove(&name, &permit, true)
            .map_err(|e| HostError::io("remove", &path, e))?;
        Ok(removed + 1)
    }

    /// First pass of `rm -r`: `delete` on every entry below `dir`, without removing
    /// anything; the permits are kept for the second pass.
    fn authorize_tree(
        &self,
        dir: &OpenDir,
        permitted: &mut HashMap<AbsPath, Permit>,
    ) -> HostResult<()> {
        let path = dir.path();
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let child = path.join(&name)?;
            let kind = kind_of(st.st_mode);
            let permit = self.authorize_in(
                &[Action::FsDelete],
                kind.resource(child.clone()),
                &Context::Empty,
            )?;
            if kind == Kind::Dir {
                let sub = dir
                    .open_dir(&raw, &permit)
                    .map_err(|e| HostError::io("open", &child, e))?;
                self.authorize_tree(&sub, permitted)?;
            }
            permitted.insert(child, permit);
            if permitted.len() > self.limits.max_items {
                return Err(self.too_many_items(path));
            }
        }
        Ok(())
    }

    /// Before the directory `dir` moves to `to`: `move` on every entry below it, each with
    /// where it will be. Nothing moves until all are permitted; the permits go with the
    /// rename.
    pub(super) fn authorize_move_tree(
        &self,
        dir: &OpenDir,
        to: &AbsPath,
        below: &mut Vec<Permit>,
    ) -> HostResult<()> {
        let from = dir.path();
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let (child, destination) = (from.join(&name)?, to.join(&name)?);
            let kind = kind_of(st.st_mode);
            let permit = self.authorize_in(
                &[Action::FsMove],
                kind.resource(child.clone()),
                &Context::Move {
                    destination: destination.clone(),
                },
            )?;
            if kind == Kind::Dir {
                let sub = dir
                    .open_dir(&raw, &permit)
                    .map_err(|e| HostError::io("open", &child, e))?;
                self.authorize_move_tree(&sub, &destination, below)?;
            }
            below.push(permit);
            if below.len() > self.limits.max_items {
                return Err(self.too_many_items(from));
            }
        }
        Ok(())
    }

    /// Second pass of `rm -r`, depth first. An entry that appeared after the first pass is
    /// authorized on the spot.
    fn remove_tree(
        &self,
        dir: &OpenDir,
        permitted: &mut HashMap<AbsPath, Permit>,
    ) -> HostResult<u64> {
        let path = dir.path();
        let mut removed = 0;
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let child = path.join(&name)?;
            let kind = kind_of(st.st_mode);
            let permit = match permitted.remove(&child) {
                Some(permit) => permit,
                None => self.authorize_in(
                    &[Action::FsDelete],
                    kind.resource(child.clone()),
                    &Context::Empty,
                )?,
            };
            if kind == Kind::Dir {
                let sub = dir
                    .open_dir(&raw, &permit)
                    .map_err(|e| HostError::io("open", &child, e))?;
                removed += self.remove_tree(&sub, permitted)?;
            }
            dir.remove(&raw, &permit, kind == Kind::Dir)
                .map_err(|e| HostError::io("remove", &child, e))?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// The file `opened` is, ready to be written: a regular file with one name only, emptied
/// first when `truncate`. A file with more than one hard link is also reachable by paths
/// the policy never decided on, so Tollgate does not write through it.
fn writable(opened: super::Opened, truncate: bool) -> HostResult<File> {
    let path = opened.path;
    let file = regular_file(opened.fd, &path)?;
    let st = rustix::fs::fstat(&file).map_err(|e| HostError::io("stat", &path, e.into()))?;
    if st.st_nlink > 1 {
        return Err(HostError::InvalidInput(format!(
            "{path} has {} hard links, so it is also reachable by paths the policy did not decide on; Tollgate does not write through it (remove the other links, or write a new file)",
            st.st_nlink
        )));
    }
    if truncate {
        file.set_len(0)
            .map_err(|e| HostError::io("truncate", &path, e))?;
    }
    Ok(file)
}

/// Gives `to` the source's permission bits (setuid, setgid and sticky never: a copy must
/// not become a privileged program) and times.
fn preserve_metadata(from: &File, to: &File) -> io::Result<()> {
    let st = rustix::fs::fstat(from.as_fd())?;
    rustix::fs::fchmod(to.as_fd(), Mode::from_raw_mode(st.st_mode & 0o777))?;
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    };
    rustix::fs::futimens(to.as_fd(), &times)?;
    Ok(())
}
