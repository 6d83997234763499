//! Commands that change the file system: write, touch, mkdir, cp, mv, rm, and the in-place
//! rewrite behind `sed -i`. Each asks for every resource it will change before changing any,
//! and a failure part-way undoes what it can (a half-copied new file is removed).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, RenameFlags, Timespec, Timestamps, UTIME_NOW};
use tollgate_policy::sdk_actions::{OVERWRITE, TOUCH, WRITE};
use tollgate_policy::{AbsPath, Action, Context, Resource};

use super::read::regular_file;
use super::root::{open_beneath, OpenMode};
use super::walk::{lstat_at, EntryKind, Listed};
use super::{parse_path, Kind};
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
    /// A missing path is not an error.
    pub force: bool,
    /// Remove a directory and everything below it.
    pub recursive: bool,
}

fn kind_of(mode: u32) -> Kind {
    if EntryKind::of_mode(mode) == EntryKind::Dir {
        Kind::Dir
    } else {
        Kind::File
    }
}

impl Host {
    /// `write`: needs `open` on the directory and `open` + `create` + `write` on the file.
    pub fn write(&self, raw_path: &str, content: &str, mode: WriteMode) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let open_mode = match mode {
            WriteMode::Append => OpenMode::Append,
            WriteMode::Replace => OpenMode::Truncate,
        };
        let opened = self.open_checked(&path, Kind::File, WRITE, open_mode)?;
        let path = opened.path.clone();
        writable(opened, mode == WriteMode::Replace)?
            .write_all(content.as_bytes())
            .map_err(|e| HostError::io("write", &path, e))
    }

    /// The rewrite behind `sed -i`: replaces an existing file's content. Needs `open` +
    /// `write` (the caller has already read it with `read`).
    pub fn overwrite(&self, raw_path: &str, content: &str) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let opened = self.open_checked(&path, Kind::File, OVERWRITE, OpenMode::Overwrite)?;
        let path = opened.path.clone();
        writable(opened, true)?
            .write_all(content.as_bytes())
            .map_err(|e| HostError::io("write", &path, e))
    }

    /// `touch`: creates the file if missing and sets its times to now. Needs `open` on the
    /// directory and `open` + `create` + `write` on the file.
    pub fn touch(&self, raw_path: &str) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        let opened = self.open_checked(&path, Kind::File, TOUCH, OpenMode::Touch)?;
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
    /// `parents`, missing ancestors are made first, nearest-existing first.
    pub fn mkdir(&self, raw_path: &str, parents: bool) -> HostResult<()> {
        let path = parse_path(raw_path)?;
        self.mkdir_path(&path, parents)
    }

    fn mkdir_path(&self, path: &AbsPath, parents: bool) -> HostResult<()> {
        if path.is_root() {
            return if parents {
                Ok(())
            } else {
                Err(HostError::InvalidInput("'/' already exists".to_owned()))
            };
        }
        let parent_fd = match self.open_parent_checked(path) {
            Err(HostError::NotFound { .. }) if parents => {
                let parent = path.parent().unwrap_or_else(AbsPath::root);
                self.mkdir_path(&parent, true)?;
                self.open_parent_checked(path)?.0
            }
            other => other?.0,
        };
        self.authorize_in(
            &[Action::FsCreate],
            Resource::Dir(path.clone()),
            &Context::Empty,
        )?;
        match rustix::fs::mkdirat(&parent_fd, path.file_name(), Mode::from_raw_mode(0o755)) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) if parents => {
                let st = lstat_at(parent_fd.as_fd(), path.file_name(), path)?;
                if EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                    Ok(())
                } else {
                    Err(HostError::InvalidInput(format!(
                        "{path} exists and is not a directory"
                    )))
                }
            }
            Err(rustix::io::Errno::EXIST) => Err(HostError::InvalidInput(format!(
                "{path} already exists; use mkdir::parents to accept an existing directory"
            ))),
            Err(e) => Err(HostError::io("mkdir", path, e.into())),
        }
    }

    /// `cp`: needs read on the source and `open` + `create` + `write` on the destination
    /// (with `preserve`, `chmod` on it too: the copy takes the source's mode). A destination
    /// that is a directory receives the file under the source's name. A copy onto the source
    /// itself is an error, found before anything is written. A new file that fails to copy
    /// completely is removed, after `delete` on it.
    pub fn cp(&self, raw_src: &str, raw_dst: &str, opts: CpOptions) -> HostResult<()> {
        let mut from = self.open_read(raw_src)?;
        let src = parse_path(raw_src)?;
        let mut dst = parse_path(raw_dst)?;
        let (dst_dir, _) = self.open_parent_checked(&dst)?;
        if let Ok(st) = lstat_at(dst_dir.as_fd(), dst.file_name(), &dst) {
            if EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                dst = dst.join(src.file_name())?;
            }
        }
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
        let opened = self
            .open_checked(&dst, Kind::File, actions, mode)
            .map_err(|e| match e {
                HostError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists => {
                    HostError::InvalidInput(format!(
                        "{dst} already exists; use cp::force to overwrite it"
                    ))
                }
                other => other,
            })?;
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
        let mut to = writable(opened, true)?;
        let copied = io::copy(&mut from, &mut to).and_then(|_| {
            if opts.preserve {
                preserve_metadata(&from, &to)
            } else {
                Ok(())
            }
        });
        if let Err(e) = copied {
            if mode == OpenMode::CreateNew {
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
        let Ok((dir, _)) = self.open_parent_checked(path) else {
            return;
        };
        if self
            .authorize_in(
                &[Action::FsDelete],
                Resource::File(path.clone()),
                &Context::Empty,
            )
            .is_err()
        {
            return;
        }
        let named = rustix::fs::statat(&dir, path.file_name(), AtFlags::SYMLINK_NOFOLLOW);
        if named.is_ok_and(|st| (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino)) {
            let _ = rustix::fs::unlinkat(&dir, path.file_name(), AtFlags::empty());
        }
    }

    /// `mv`: needs `move` on the source (context: the destination) and `create` on the
    /// destination; a directory also needs `move` on every entry below it, each with where it
    /// will be, so a forbid or a legal hold anywhere below keeps the whole tree in place (as
    /// `rm -r` needs `delete` on each). Replacing an existing destination also needs `delete`
    /// on it, or with `backup`, `move` and `create` to keep it as `NAME~`, which must not
    /// exist. Returns a line describing the move.
    pub fn mv(&self, raw_src: &str, raw_dst: &str, opts: MvOptions) -> HostResult<String> {
        let src = parse_path(raw_src)?;
        let mut dst = parse_path(raw_dst)?;
        let (src_dir, _) = self.open_parent_checked(&src)?;
        let src_st = match lstat_at(src_dir.as_fd(), src.file_name(), &src) {
            // Whether it exists is told only to whom the move would be permitted.
            Err(e @ HostError::NotFound { .. }) => {
                self.authorize_in(
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
        let (mut dst_dir, _) = self.open_parent_checked(&dst)?;
        let mut existing = lstat_at(dst_dir.as_fd(), dst.file_name(), &dst).ok();
        if existing.as_ref().map(|st| kind_of(st.st_mode)) == Some(Kind::Dir) {
            dst = dst.join(src.file_name())?;
            dst_dir = self.open_parent_checked(&dst)?.0;
            existing = lstat_at(dst_dir.as_fd(), dst.file_name(), &dst).ok();
        }
        self.authorize_in(
            &[Action::FsMove],
            src_kind.resource(src.clone()),
            &Context::Move {
                destination: dst.clone(),
            },
        )?;
        self.authorize_in(
            &[Action::FsCreate],
            src_kind.resource(dst.clone()),
            &Context::Empty,
        )?;
        if src_kind == Kind::Dir {
            let top = open_beneath(src_dir.as_fd(), src.file_name(), OpenMode::Dir)
                .map_err(|e| HostError::io("open", &src, e))?;
            let mut count = 0;
            self.authorize_move_tree(top.as_fd(), &src, &dst, &mut count)?;
        }
        let mut flags = RenameFlags::NOREPLACE;
        if let Some(st) = existing {
            let dst_kind = kind_of(st.st_mode);
            if opts.backup {
                let backup = dst
                    .parent()
                    .unwrap_or_else(AbsPath::root)
                    .join(&format!("{}~", dst.file_name()))?;
                self.authorize_in(
                    &[Action::FsMove],
                    dst_kind.resource(dst.clone()),
                    &Context::Move {
                        destination: backup.clone(),
                    },
                )?;
                self.authorize_in(
                    &[Action::FsCreate],
                    dst_kind.resource(backup.clone()),
                    &Context::Empty,
                )?;
                // Never over an existing backup: that would delete it without a decision.
                rustix::fs::renameat_with(
                    &dst_dir,
                    dst.file_name(),
                    &dst_dir,
                    backup.file_name(),
                    RenameFlags::NOREPLACE,
                )
                .map_err(|e| match e {
                    rustix::io::Errno::EXIST => HostError::InvalidInput(format!(
                        "{backup} already exists, and mv::backup does not replace it; remove it first"
                    )),
                    e => HostError::io("back up", &dst, e.into()),
                })?;
            } else {
                self.authorize_in(
                    &[Action::FsDelete],
                    dst_kind.resource(dst.clone()),
                    &Context::Empty,
                )?;
                flags = RenameFlags::empty();
            }
        }
        rustix::fs::renameat_with(&src_dir, src.file_name(), &dst_dir, dst.file_name(), flags)
            .map_err(|e| HostError::io("move", &src, e.into()))?;
        Ok(format!("renamed '{src}' -> '{dst}'"))
    }

    /// `rm`: needs `delete` on what it removes. With `recursive`, every entry below is
    /// authorized before anything is deleted, so a forbidden descendant leaves the tree whole.
    /// Symlinks are removed, never followed. Returns how many entries were removed.
    pub fn rm(&self, raw_path: &str, opts: RmOptions) -> HostResult<u64> {
        let path = parse_path(raw_path)?;
        let missing = |e: HostError| {
            // Whether it exists is told only to whom its removal would be permitted.
            self.authorize_in(
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
        let (dir, _) = match self.open_parent_checked(&path) {
            Err(e @ HostError::NotFound { .. }) => return missing(e),
            other => other?,
        };
        let st = match lstat_at(dir.as_fd(), path.file_name(), &path) {
            Err(e @ HostError::NotFound { .. }) => return missing(e),
            other => other?,
        };
        let kind = kind_of(st.st_mode);
        self.authorize_in(
            &[Action::FsDelete],
            kind.resource(path.clone()),
            &Context::Empty,
        )?;
        if kind == Kind::File {
            rustix::fs::unlinkat(&dir, path.file_name(), AtFlags::empty())
                .map_err(|e| HostError::io("remove", &path, e.into()))?;
            return Ok(1);
        }
        if !opts.recursive {
            return Err(HostError::InvalidInput(format!(
                "{path} is a directory; use rm::recursive to remove it and its contents"
            )));
        }
        let top = open_beneath(dir.as_fd(), path.file_name(), OpenMode::Dir)
            .map_err(|e| HostError::io("open", &path, e))?;
        let mut permitted = HashSet::new();
        self.authorize_tree(top.as_fd(), &path, &mut permitted)?;
        let removed = self.remove_tree(top.as_fd(), &path, &mut permitted)?;
        rustix::fs::unlinkat(&dir, path.file_name(), AtFlags::REMOVEDIR)
            .map_err(|e| HostError::io("remove", &path, e.into()))?;
        Ok(removed + 1)
    }

    /// First pass of `rm -r`: `delete` on every entry, without removing anything.
    fn authorize_tree(
        &self,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
        permitted: &mut HashSet<AbsPath>,
    ) -> HostResult<()> {
        for Listed { name, raw, st } in self.read_dir(fd, path)? {
            let child = path.join(&name)?;
            let kind = kind_of(st.st_mode);
            self.authorize_in(
                &[Action::FsDelete],
                kind.resource(child.clone()),
                &Context::Empty,
            )?;
            if kind == Kind::Dir {
                let sub = open_beneath(fd, raw.as_c_str(), OpenMode::Dir)
                    .map_err(|e| HostError::io("open", &child, e))?;
                self.authorize_tree(sub.as_fd(), &child, permitted)?;
            }
            permitted.insert(child);
            if permitted.len() > self.limits.max_items {
                return Err(self.too_many_items(path));
            }
        }
        Ok(())
    }

    /// Before a directory `from` moves to `to`: `move` on every entry below it, each with
    /// where it will be. Nothing moves until all are permitted.
    fn authorize_move_tree(
        &self,
        fd: BorrowedFd<'_>,
        from: &AbsPath,
        to: &AbsPath,
        count: &mut usize,
    ) -> HostResult<()> {
        for Listed { name, raw, st } in self.read_dir(fd, from)? {
            let (child, destination) = (from.join(&name)?, to.join(&name)?);
            let kind = kind_of(st.st_mode);
            self.authorize_in(
                &[Action::FsMove],
                kind.resource(child.clone()),
                &Context::Move {
                    destination: destination.clone(),
                },
            )?;
            *count += 1;
            if *count > self.limits.max_items {
                return Err(self.too_many_items(from));
            }
            if kind == Kind::Dir {
                let sub = open_beneath(fd, raw.as_c_str(), OpenMode::Dir)
                    .map_err(|e| HostError::io("open", &child, e))?;
                self.authorize_move_tree(sub.as_fd(), &child, &destination, count)?;
            }
        }
        Ok(())
    }

    /// Second pass of `rm -r`, depth first. An entry that appeared after the first pass is
    /// authorized on the spot.
    fn remove_tree(
        &self,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
        permitted: &mut HashSet<AbsPath>,
    ) -> HostResult<u64> {
        let mut removed = 0;
        for Listed { name, raw, st } in self.read_dir(fd, path)? {
            let child = path.join(&name)?;
            let kind = kind_of(st.st_mode);
            if !permitted.contains(&child) {
                self.authorize_in(
                    &[Action::FsDelete],
                    kind.resource(child.clone()),
                    &Context::Empty,
                )?;
            }
            let flags = if kind == Kind::Dir {
                let sub = open_beneath(fd, raw.as_c_str(), OpenMode::Dir)
                    .map_err(|e| HostError::io("open", &child, e))?;
                removed += self.remove_tree(sub.as_fd(), &child, permitted)?;
                AtFlags::REMOVEDIR
            } else {
                AtFlags::empty()
            };
            rustix::fs::unlinkat(fd, raw.as_c_str(), flags)
                .map_err(|e| HostError::io("remove", &child, e.into()))?;
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
