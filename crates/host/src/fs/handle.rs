//! The handle API (Rex's `DirConfig().path(p).build().open(...)`, `dir.open_file(...)`,
//! `file.read_lines(...)`, `file.chmod(...)`, ...): a script holds open descriptors and acts
//! on them. Every call asks the gate for the action Rex checks, on the handle's path, and
//! then acts on the descriptor it already holds; nothing resolves the path again, so what a
//! handle changes is the object that was opened, whatever was renamed meanwhile. A file
//! handle keeps the directory it was opened in, for what acts on its entry (delete, move).

use std::ffi::CString;
use std::fs::File;
use std::io::Seek;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType};
use tollgate_policy::sdk_actions::{LIST, MEASURE_DIR, OPEN};
use tollgate_policy::{AbsPath, Action, Context, Resource};

use super::read::regular_file;
use super::root::{held, is_link_error, Access, Attrs, OpenDir};
use super::text::{self, GrepOptions, GrepOutput, TailLines, WcCounts};
use super::walk::{DuEntry, DuOptions, Entry, EntryKind};
use super::{parse_path, RmOptions, MAX_LINK_HOPS};
use crate::error::{HostError, HostResult};
use crate::Host;

/// An open directory.
#[derive(Debug)]
pub struct DirHandle {
    pub(crate) dir: Rc<OpenDir>,
}

impl DirHandle {
    pub fn path(&self) -> &AbsPath {
        self.dir.path()
    }
}

/// An open file, with the directory it was opened in.
#[derive(Debug)]
pub struct FileHandle {
    pub(crate) file: File,
    pub(crate) path: AbsPath,
    pub(crate) parent: Rc<OpenDir>,
    pub(crate) access: Access,
    /// Opened under `redacted_read`: reads return the redacted text.
    pub(crate) redacted: bool,
    /// The first line the next `read_page` returns (1-based).
    pub(crate) next_page_line: u64,
}

impl FileHandle {
    pub fn path(&self) -> &AbsPath {
        &self.path
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Whether it was opened for writing.
    pub fn writable(&self) -> bool {
        self.access.write
    }
}

/// A symlink, held by its directory and name: a link has no descriptor of its own to act on.
#[derive(Debug)]
pub struct SymlinkHandle {
    pub(crate) parent: Rc<OpenDir>,
    pub(crate) path: AbsPath,
}

impl SymlinkHandle {
    pub fn path(&self) -> &AbsPath {
        &self.path
    }
}

/// `OpenDirOptions`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirOptions {
    /// Make the directory when it is missing.
    pub create: bool,
    /// With `create`, make the missing directories above it too.
    pub recursive: bool,
    /// Open through symlinks (each link and its target must be permitted).
    pub follow_symlinks: bool,
}

/// `OpenFileOptions`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileOptions {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    /// Permission bits of a file it creates (`0o644` when not given).
    pub permissions: Option<u32>,
    pub follow_symlinks: bool,
}

/// `DiskUsageOptions`: `du`'s flags and the three only the handle call has.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskUsageOptions {
    pub du: DuOptions,
    /// Count a file at each of its hard links (by default once, at the first met).
    pub count_hard_links: bool,
    /// Leave out what is on another file system than the directory.
    pub one_file_system: bool,
    /// Keep the largest reported subdirectory open for the result.
    pub track_largest_subdir: bool,
}

/// What `dir.disk_usage` found.
#[derive(Debug)]
pub struct DiskUsage {
    /// As `du` reports them: each directory after what is below it, the walked one last.
    pub entries: Vec<DuEntry>,
    pub largest_subdir: Option<DirHandle>,
}

/// A file's or directory's metadata, with the owner's names and a symlink's target.
#[derive(Clone, Debug)]
pub struct HandleMetadata {
    pub mode: u32,
    pub size: u64,
    pub nlink: u64,
    pub mtime: i64,
    pub mtime_nanos: i64,
    pub blocks: u64,
    pub owner: Owner,
    pub symlink_target: Option<String>,
}

/// The owning user and group by name (their number when the name is unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub user: String,
    pub group: String,
}

impl Owner {
    fn of(uid: u32, gid: u32) -> Owner {
        use nix::unistd::{Gid, Group, Uid, User};
        let user = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name);
        let group = Group::from_gid(Gid::from_raw(gid))
            .ok()
            .flatten()
            .map_or_else(|| gid.to_string(), |g| g.name);
        Owner { user, group }
    }
}

impl HandleMetadata {
    fn of(st: &rustix::fs::Stat, symlink_target: Option<String>) -> HandleMetadata {
        HandleMetadata {
            mode: st.st_mode,
            size: st.st_size as u64,
            nlink: st.st_nlink,
            mtime: st.st_mtime,
            mtime_nanos: i64::try_from(st.st_mtime_nsec).unwrap_or(0),
            blocks: st.st_blocks as u64,
            owner: Owner::of(st.st_uid, st.st_gid),
            symlink_target,
        }
    }
}

/// One line a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineMatch {
    pub line_number: u64,
    pub line: String,
}

/// Which lines `read_lines` returns (`ReadLinesOptions`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LinesWanted {
    /// How many: forwards from `start` when positive, backwards (ending at `start`, or at the
    /// end) when negative.
    pub count: Option<i64>,
    /// 1-based first line (or last, counting backwards).
    pub start: Option<u64>,
}

/// Names for user and group ids, as `SetOwnershipOptions` gives them.
fn ids(user: Option<&str>, group: Option<&str>) -> HostResult<(Option<u32>, Option<u32>)> {
    use nix::unistd::{Group, User};
    let uid = match user {
        Some(name) => Some(
            User::from_name(name)
                .map_err(|e| HostError::InvalidInput(format!("user {name}: {e}")))?
                .ok_or_else(|| HostError::InvalidInput(format!("no such user: {name}")))?
                .uid
                .as_raw(),
        ),
        None => None,
    };
    let gid = match group {
        Some(name) => Some(
            Group::from_name(name)
                .map_err(|e| HostError::InvalidInput(format!("group {name}: {e}")))?
                .ok_or_else(|| HostError::InvalidInput(format!("no such group: {name}")))?
                .gid
                .as_raw(),
        ),
        None => None,
    };
    if uid.is_none() && gid.is_none() {
        return Err(HostError::InvalidInput(
            "SetOwnershipOptions needs a user or a group".to_owned(),
        ));
    }
    Ok((uid, gid))
}

fn c_name(name: &str) -> HostResult<CString> {
    CString::new(name).map_err(|e| HostError::InvalidInput(e.to_string()))
}

/// A name of one component, as `open_file` and the other entry calls take it.
fn entry_path(dir: &OpenDir, name: &str) -> HostResult<AbsPath> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(HostError::InvalidInput(format!(
            "{name:?} is not a name in a directory: give one path component"
        )));
    }
    Ok(dir.path().join(name)?)
}

fn fstat(fd: BorrowedFd<'_>, path: &AbsPath) -> HostResult<rustix::fs::Stat> {
    rustix::fs::fstat(fd).map_err(|e| HostError::io("stat", path, e.into()))
}

impl Host {
    fn permit(
        &self,
        actions: &[Action],
        resource: Resource,
    ) -> HostResult<tollgate_policy::Permit> {
        self.interrupt.check()?;
        Ok(self.gate.authorize(actions, &resource)?)
    }

    /// `DirConfig().path(p).build().open(options)`: needs `open` on the directory; with
    /// `create`, `create` on each directory it makes.
    pub fn open_dir(&self, raw_path: &str, options: DirOptions) -> HostResult<DirHandle> {
        let path = parse_path(raw_path)?;
        if options.create {
            // `mkdir` asks `create` on each directory it makes and accepts one that exists.
            self.mkdir(raw_path, options.recursive)?;
        }
        let dir = self.open_dir_checked(&path, OPEN)?;
        if dir.path() != &path && !options.follow_symlinks {
            return Err(HostError::InvalidInput(format!(
                "{path} is reached through a symlink; open it with OpenDirOptions().follow_symlinks(true)"
            )));
        }
        Ok(DirHandle { dir: Rc::new(dir) })
    }

    /// `dir.open_file(name, options)`: needs `open` on the file, `create` + `write` with
    /// `create` (a file opened to be made is opened for writing, as in Rex), and
    /// (Tollgate asks at the open what the descriptor will be able to do) `read` (or
    /// `redacted_read`, and reads then return redacted text) with `read`, `write` with
    /// `write`. `name` is one component, opened beneath the directory's descriptor; a
    /// symlink is followed only with `follow_symlinks`, and then its target is asked the same
    /// and opened beneath its own directory.
    pub fn open_file(
        &self,
        dir: &DirHandle,
        name: &str,
        options: FileOptions,
    ) -> HostResult<FileHandle> {
        if !options.read && !options.write && !options.create {
            return Err(HostError::InvalidInput(
                "OpenFileOptions needs read(true) or write(true)".to_owned(),
            ));
        }
        let access = Access {
            read: options.read,
            // As in Rex, a file opened to be created is opened for writing.
            write: options.write || options.create,
            create: options.create,
            mode: options.permissions.unwrap_or(0o644),
        };
        let mut parent = Rc::clone(&dir.dir);
        let mut path = entry_path(&parent, name)?;
        for _ in 0..=MAX_LINK_HOPS {
            let (permit, redacted) = self.file_permit(&path, access)?;
            match parent.open_file(&permit, access) {
                Ok(fd) => {
                    // Its age, for retention, and its hash, for lineage, from the
                    // descriptor just opened.
                    let _opened = self.opened(permit, fd.as_fd(), &path, &[])?;
                    return Ok(FileHandle {
                        file: regular_file(fd, &path)?,
                        path,
                        parent,
                        access,
                        redacted,
                        next_page_line: 1,
                    });
                }
                Err(e) if is_link_error(&e) && options.follow_symlinks => {
                    let link = self.permit(&[Action::FsOpen], Resource::File(path.clone()))?;
                    let target = parent
                        .read_link(&link)
                        .map_err(|e| HostError::io("read the symlink", &path, e))?;
                    path = resolve_link(parent.path(), &target)?;
                    parent = Rc::new(self.open_parent_checked(&path)?);
                }
                Err(e) if is_link_error(&e) => {
                    return Err(HostError::InvalidInput(format!(
                        "{path} is a symlink; open it with OpenFileOptions().follow_symlinks(true)"
                    )))
                }
                Err(e) => return Err(HostError::io("open", &path, e)),
            }
        }
        Err(HostError::InvalidInput(format!(
            "{path}: more than {MAX_LINK_HOPS} symlinks to follow"
        )))
    }

    /// The permit to open `path` with `access`, and whether reads will be redacted.
    fn file_permit(
        &self,
        path: &AbsPath,
        access: Access,
    ) -> HostResult<(tollgate_policy::Permit, bool)> {
        let mut actions = vec![Action::FsOpen];
        if access.write {
            actions.push(Action::FsWrite);
        }
        if access.create {
            actions.push(Action::FsCreate);
        }
        let resource = Resource::File(path.clone());
        if !access.read {
            return Ok((self.permit(&actions, resource)?, false));
        }
        self.reading(|read| {
            let mut all = actions.clone();
            all.extend(read.iter().filter(|a| !actions.contains(a)));
            self.permit(&all, resource.clone())
        })
    }

    /// Asks `action` on a handle's file again, as every use of a handle does (remembered, so
    /// cheap): a handle opened before `tollgate freeze` does nothing after it.
    fn on_file(&self, h: &FileHandle, actions: &[Action]) -> HostResult<tollgate_policy::Permit> {
        self.permit(actions, Resource::File(h.path.clone()))
    }

    /// The file's content from its start, for the reading calls: under `read` (or
    /// `redacted_read` for a handle opened under it, then redacted).
    fn readable(&self, h: &mut FileHandle) -> HostResult<File> {
        if !h.access.read {
            return Err(HostError::Rex {
                kind: "IoError",
                message: format!(
                    "{} was opened without read(true) in its OpenFileOptions",
                    h.path
                ),
            });
        }
        let action = if h.redacted {
            Action::FsRedactedRead
        } else {
            Action::FsRead
        };
        let resource = Resource::File(h.path.clone());
        let permit = self.permit(&[action], resource.clone())?;
        // The file may have aged past its retention, or been changed, since it was opened:
        // its age and hash are the handle's descriptor's now.
        let permit = self.opened(permit, h.file.as_fd(), &h.path, &[])?;
        crate::effect::check(&permit, &[action], &resource)
            .map_err(|e| HostError::io("read", &h.path, e))?;
        let mut copy = h
            .file
            .try_clone()
            .map_err(|e| HostError::io("read", &h.path, e))?;
        if h.redacted {
            return self.redacted_copy(&mut copy, &h.path);
        }
        copy.rewind()
            .map_err(|e| HostError::io("seek", &h.path, e))?;
        Ok(copy)
    }

    /// `file.read()`: the whole content, within the string limit.
    pub fn read_handle(&self, h: &mut FileHandle) -> HostResult<String> {
        let mut file = self.readable(h)?;
        text::cat(&mut file, false, &self.text_ctx())
    }

    /// `file.read_lines(options)`: the lines `wanted` selects, without their line ends.
    pub fn read_lines(&self, h: &mut FileHandle, wanted: LinesWanted) -> HostResult<Vec<String>> {
        if wanted.count.is_none() && wanted.start.is_none() {
            return Err(HostError::InvalidInput(
                "ReadLinesOptions needs count(n) or start(line)".to_owned(),
            ));
        }
        if wanted.start == Some(0) {
            return Err(HostError::InvalidInput(
                "ReadLinesOptions: lines are numbered from 1".to_owned(),
            ));
        }
        if wanted.count == Some(0) {
            return Ok(Vec::new());
        }
        let range = TailLines {
            count: wanted.count,
            start: wanted.start,
        };
        self.lines_of(h, range)
    }

    /// `file.read_page(options)`: the next `n` lines after those the previous pages gave.
    pub fn read_page(&self, h: &mut FileHandle, n: u64) -> HostResult<Vec<String>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let first = h.next_page_line;
        let count = i64::try_from(n).unwrap_or(i64::MAX);
        let lines = self.lines_of(
            h,
            TailLines {
                count: Some(count),
                start: Some(first),
            },
        )?;
        h.next_page_line = first + lines.len() as u64;
        Ok(lines)
    }

    /// The selected lines, within the run's limits (`tail` refuses past them).
    fn lines_of(&self, h: &mut FileHandle, range: TailLines) -> HostResult<Vec<String>> {
        let mut file = self.readable(h)?;
        text::tail(&mut file, range, &self.text_ctx())
    }

    /// `file.search(pattern)`: each line matching the regex, with its 1-based number.
    pub fn search_handle(&self, h: &mut FileHandle, pattern: &str) -> HostResult<Vec<LineMatch>> {
        let mut file = self.readable(h)?;
        let opts = GrepOptions {
            line_number: true,
            ..GrepOptions::default()
        };
        let GrepOutput::Lines(lines) = text::grep(&mut file, pattern, &opts, &self.text_ctx())?
        else {
            return Ok(Vec::new());
        };
        let mut found = Vec::with_capacity(lines.len());
        for numbered in lines {
            // grep's `line_number` writes `N:` before each line.
            let (n, line) = numbered.split_once(':').unwrap_or(("0", numbered.as_str()));
            found.push(LineMatch {
                line_number: n.parse().unwrap_or(0),
                line: line.to_owned(),
            });
        }
        Ok(found)
    }

    /// `file.counts()`: lines, words and bytes.
    pub fn counts_handle(&self, h: &mut FileHandle) -> HostResult<WcCounts> {
        let mut file = self.readable(h)?;
        text::wc(&mut file, &self.text_ctx())
    }

    /// `file.metadata()`: needs `stat` on the file.
    pub fn file_metadata(&self, h: &FileHandle) -> HostResult<HandleMetadata> {
        let permit = self.on_file(h, &[Action::FsStat])?;
        let st =
            held::stat(&permit, &h.path, h.fd()).map_err(|e| HostError::io("stat", &h.path, e))?;
        Ok(HandleMetadata::of(&st, None))
    }

    /// `file.write(content)`: the content replaced by `content`, under `write`. Tollgate
    /// writes into the descriptor it holds (the file keeps its inode, owner and mode)
    /// instead of renaming a new file over the name, which would make an entry the policy
    /// was never asked about.
    pub fn write_handle(&self, h: &mut FileHandle, content: &str) -> HostResult<()> {
        let permit = self.writing(h)?;
        let io = |e| HostError::io("write", &h.path, e);
        h.file.rewind().map_err(io)?;
        held::set_len(&permit, &h.path, h.file.as_fd(), 0).map_err(io)?;
        held::write_all(&permit, &h.path, h.file.as_fd(), content.as_bytes()).map_err(io)?;
        h.file.rewind().map_err(io)?;
        h.next_page_line = 1;
        Ok(())
    }

    /// `file.write(content, WriteOptions().preserve_ownership(false).build())`: Rex writes a
    /// new file owned by the runner in place of the old. Tollgate writes into the descriptor
    /// it holds, which keeps the file's owner, so that is the same only for a file the runner
    /// owns already; any other is refused (after `write` is permitted, before anything is
    /// written) rather than left with an owner the script asked to change.
    pub fn write_handle_as_runner(&self, h: &mut FileHandle, content: &str) -> HostResult<()> {
        let _permit = self.writing(h)?;
        let st = fstat(h.fd(), &h.path)?;
        let runner = (rustix::process::geteuid(), rustix::process::getegid());
        if (st.st_uid, st.st_gid) != (runner.0.as_raw(), runner.1.as_raw()) {
            return Err(HostError::InvalidInput(format!(
                "WriteOptions().preserve_ownership(false): {} is not owned by the user and group this runs as, and Tollgate writes a file in place, keeping its owner; write it with preserve_ownership(true) (the default), or change its owner with set_ownership",
                h.path
            )));
        }
        self.write_handle(h, content)
    }

    /// `file.write_in_place(content)`: Rex's in-place write, which is what
    /// [`Host::write_handle`] does too.
    pub fn write_in_place(&self, h: &mut FileHandle, content: &str) -> HostResult<()> {
        self.write_handle(h, content)
    }

    fn writing(&self, h: &FileHandle) -> HostResult<tollgate_policy::Permit> {
        let permit = self.on_file(h, &[Action::FsWrite])?;
        if !h.access.write {
            return Err(HostError::InvalidInput(format!(
                "{} was opened without write(true) in its OpenFileOptions",
                h.path
            )));
        }
        Ok(permit)
    }

    /// `file.truncate(options)`: the file cut (or extended with zeros) to `len` bytes.
    pub fn truncate_handle(&self, h: &FileHandle, len: u64) -> HostResult<()> {
        let permit = self.writing(h)?;
        held::set_len(&permit, &h.path, h.fd(), len)
            .map_err(|e| HostError::io("truncate", &h.path, e))
    }

    /// `file.fallocate(options)`: `len` bytes from the start allocated on disk.
    pub fn fallocate_handle(&self, h: &FileHandle, len: u64) -> HostResult<()> {
        let permit = self.writing(h)?;
        held::allocate(&permit, &h.path, h.fd(), len)
            .map_err(|e| HostError::io("allocate", &h.path, e))
    }

    /// `file.chmod(mode)`: needs `chmod` on the file.
    pub fn chmod_handle(&self, h: &FileHandle, mode: u32) -> HostResult<()> {
        let permit = self.on_file(h, &[Action::FsChmod])?;
        held::set_mode(&permit, &h.path, h.fd(), mode)
            .map_err(|e| HostError::io("chmod", &h.path, e))
    }

    /// `file.set_ownership(options)`: needs `chown` on the file.
    pub fn chown_handle(
        &self,
        h: &FileHandle,
        user: Option<&str>,
        group: Option<&str>,
    ) -> HostResult<()> {
        let (uid, gid) = ids(user, group)?;
        let permit = self.on_file(h, &[Action::FsChown])?;
        held::set_owner(&permit, &h.path, h.fd(), uid, gid)
            .map_err(|e| HostError::io("chown", &h.path, e))
    }

    /// `file.get_ownership()`: needs `stat` on the file.
    pub fn file_owner(&self, h: &FileHandle) -> HostResult<Owner> {
        Ok(self.file_metadata(h)?.owner)
    }

    /// `file.set_extended_attr(options)`: needs `set_x_attr` on the file.
    pub fn set_xattr_handle(&self, h: &FileHandle, name: &str, value: &str) -> HostResult<()> {
        let permit = self.on_file(h, &[Action::FsSetXattr])?;
        held::set_xattr(&permit, &h.path, h.fd(), name, value.as_bytes())
            .map_err(|e| HostError::io("set an extended attribute of", &h.path, e))
    }

    /// `file.delete(options)`: needs `delete` on the file. The entry is removed from the
    /// directory the handle was opened in, and only while it is still the file the handle
    /// holds.
    pub fn delete_file_handle(&self, h: &FileHandle, force: bool) -> HostResult<()> {
        let permit = self.on_file(h, &[Action::FsDelete])?;
        let name = c_name(h.path.file_name())?;
        let held = fstat(h.fd(), &h.path)?;
        match rustix::fs::statat(h.parent.fd(), &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_ino == held.st_ino && st.st_dev == held.st_dev => {}
            Ok(_) => {
                return Err(HostError::InvalidInput(format!(
                    "{} is no longer the file this handle opened; nothing was deleted",
                    h.path
                )))
            }
            Err(rustix::io::Errno::NOENT) if force => return Ok(()),
            Err(e) => return Err(HostError::io("delete", &h.path, e.into())),
        }
        h.parent
            .remove(&name, &permit, false)
            .map_err(|e| HostError::io("delete", &h.path, e))
    }

    /// `file.move(dest_dir, name, options)`: needs `move` on the file (its context naming the
    /// destination) and `create` on the destination. Refuses to replace an existing entry;
    /// with `backup` it keeps it as `NAME~` instead (as `mv::backup`, under `move` and
    /// `create`; never over an existing `NAME~`).
    pub fn move_file_handle(
        &self,
        h: &mut FileHandle,
        dest: &DirHandle,
        name: &str,
        backup: bool,
    ) -> HostResult<String> {
        let to = entry_path(&dest.dir, name)?;
        let from = self.authorize_in(
            &[Action::FsMove],
            Resource::File(h.path.clone()),
            &Context::Move {
                destination: to.clone(),
            },
        )?;
        let creating = self.permit(&[Action::FsCreate], Resource::File(to.clone()))?;
        let kept = match (backup, existing(&dest.dir, &to)?) {
            (true, Some(st)) => Some(self.backup_permits(&to, &st)?),
            _ => None,
        };
        if let Some(kept) = &kept {
            keep_backup(&dest.dir, &to, kept)?;
        }
        h.parent
            .rename(&from, &dest.dir, &creating, None, &[])
            .map_err(|e| move_error(e, &h.path, &to))?;
        let line = format!("Moved from '{}' to '{to}'", h.path);
        h.path = to;
        h.parent = Rc::clone(&dest.dir);
        Ok(line)
    }

    /// `parent.move(src, dest, name, options)`: the directory `src`, an entry of `parent`,
    /// renamed to `name` in `dest`, by the descriptors held (and only while `src`'s name in
    /// `parent` is still the directory `src` holds). Needs `move` on it (context: where it
    /// goes), `move` on every entry below it (each with where it will be, as `mv` asks),
    /// and `create` on the destination; the moved directory is opened again there (`open`).
    /// As in Rex, an existing empty directory at `name` is replaced (under `delete` on it),
    /// and into a non-empty one the directory moves under its own name; with `backup`, what
    /// would be replaced is kept as `NAME~` instead. Returns the line `verbose` logs.
    pub fn move_dir_handle(
        &self,
        parent: &DirHandle,
        src: &DirHandle,
        dest: &DirHandle,
        name: &str,
        backup: bool,
    ) -> HostResult<(DirHandle, String)> {
        let from = src.path();
        let src_name = from.file_name();
        if from.parent().as_ref() != Some(parent.path()) {
            return Err(HostError::InvalidInput(format!(
                "{from} is not an entry of {}: call move on the directory that holds it",
                parent.path()
            )));
        }
        let held = fstat(src.dir.fd(), from)?;
        let raw = c_name(src_name)?;
        match rustix::fs::statat(parent.dir.fd(), &raw, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino) => {}
            Ok(_) | Err(rustix::io::Errno::NOENT) => {
                return Err(HostError::InvalidInput(format!(
                    "{from} is no longer the directory this handle opened; nothing was moved"
                )))
            }
            Err(e) => return Err(HostError::io("stat", from, e.into())),
        }
        let landing = self.landing(Rc::clone(&dest.dir), name, Some(src_name), backup)?;
        let to = landing.path.clone();
        let moving = self.authorize_in(
            &[Action::FsMove],
            Resource::Dir(from.clone()),
            &Context::Move {
                destination: to.clone(),
            },
        )?;
        let creating = self.permit(&[Action::FsCreate], Resource::Dir(to.clone()))?;
        let mut below = Vec::new();
        self.authorize_move_tree(&src.dir, &to, &mut below)?;
        if let Some(kept) = &landing.backup {
            keep_backup(&landing.dir, &to, kept)?;
        }
        parent
            .dir
            .rename(
                &moving,
                &landing.dir,
                &creating,
                landing.replacing.as_ref(),
                &below,
            )
            .map_err(|e| move_error(e, from, &to))?;
        let line = format!("Moved from '{from}' to '{to}'");
        let open = self.permit(OPEN, Resource::Dir(to.clone()))?;
        let moved = landing
            .dir
            .open_dir(c_name(to.file_name())?, &open)
            .map_err(|e| HostError::io("open", &to, e))?;
        let now = fstat(moved.fd(), &to)?;
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino) {
            return Err(HostError::InvalidInput(format!(
                "{from} was moved to {to}, but {to} was replaced right after; open it again"
            )));
        }
        Ok((
            DirHandle {
                dir: Rc::new(moved),
            },
            line,
        ))
    }

    /// Where a directory moving to `name` in `dir` lands, and what that needs: nothing when
    /// `name` is free; an empty directory there is replaced (`delete` on it) and a non-empty
    /// one entered (`open` on it) to land under `inner`, the source's own name; anything else
    /// there is kept as `NAME~` with `backup`, and refused without.
    fn landing(
        &self,
        dir: Rc<OpenDir>,
        name: &str,
        inner: Option<&str>,
        backup: bool,
    ) -> HostResult<Landing> {
        let path = entry_path(&dir, name)?;
        let free = |dir, path| Landing {
            dir,
            path,
            replacing: None,
            backup: None,
        };
        let Some(st) = existing(&dir, &path)? else {
            return Ok(free(dir, path));
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let empty = if is_dir {
            // Listing it tells what is in it: `read`, as Rex asks, besides `open`.
            let open = self.permit(
                &[Action::FsOpen, Action::FsRead],
                Resource::Dir(path.clone()),
            )?;
            let there = dir
                .open_dir(c_name(name)?, &open)
                .map_err(|e| HostError::io("open", &path, e))?;
            let empty = self.read_dir(&there)?.is_empty();
            if let (false, Some(inner)) = (empty, inner) {
                return self.landing(Rc::new(there), inner, None, backup);
            }
            empty
        } else {
            false
        };
        if backup {
            let kept = self.backup_permits(&path, &st)?;
            let mut landing = free(dir, path);
            landing.backup = Some(kept);
            return Ok(landing);
        }
        if empty {
            let delete = self.permit(&[Action::FsDelete], Resource::Dir(path.clone()))?;
            return Ok(Landing {
                dir,
                path,
                replacing: Some(delete),
                backup: None,
            });
        }
        Err(HostError::InvalidInput(if is_dir {
            format!("{path} is a directory with entries; a move does not replace it (MoveOptions().backup(true) keeps it as {name}~)")
        } else {
            format!("{path} exists and is not a directory; a directory does not replace it (MoveOptions().backup(true) keeps it as {name}~)")
        }))
    }

    /// The permits to keep the existing `path` (described by `st`) as `NAME~`: `move` on it
    /// with that destination, and `create` on `NAME~`.
    fn backup_permits(&self, path: &AbsPath, st: &rustix::fs::Stat) -> HostResult<Backup> {
        let kind = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            super::Kind::Dir
        } else {
            super::Kind::File
        };
        let to = path
            .parent()
            .unwrap_or_else(AbsPath::root)
            .join(&format!("{}~", path.file_name()))?;
        let moving = self.authorize_in(
            &[Action::FsMove],
            kind.resource(path.clone()),
            &Context::Move {
                destination: to.clone(),
            },
        )?;
        let creating =
            self.authorize_in(&[Action::FsCreate], kind.resource(to), &Context::Empty)?;
        Ok(Backup { moving, creating })
    }

    /// `src.copy(dest, options)`: the source's bytes into the destination handle. Needs
    /// `read` on the source and `write` on the destination; an existing content is replaced
    /// only with `force`; `preserve` also copies the permission bits (under `chmod`).
    pub fn copy_handle(
        &self,
        src: &mut FileHandle,
        dest: &mut FileHandle,
        force: bool,
        preserve: bool,
    ) -> HostResult<()> {
        let mut input = self.readable(src)?;
        let permit = self.writing(dest)?;
        let st = fstat(dest.fd(), &dest.path)?;
        if st.st_size > 0 && !force {
            return Err(HostError::InvalidInput(format!(
                "{} is not empty; copy with CopyFileOptions().force(true) to replace it",
                dest.path
            )));
        }
        let io = |e| HostError::io("copy to", &dest.path, e);
        held::set_len(&permit, &dest.path, dest.fd(), 0).map_err(io)?;
        dest.file.rewind().map_err(io)?;
        let mut buf = vec![0u8; 256 << 10];
        let mut polled = text::Polled::new(&mut input, &self.text_ctx());
        loop {
            let n = polled.fill(&mut buf)?;
            if n == 0 {
                break;
            }
            held::write_all(&permit, &dest.path, dest.file.as_fd(), &buf[..n]).map_err(io)?;
        }
        dest.file.rewind().map_err(io)?;
        if preserve {
            let mode = fstat(src.fd(), &src.path)?.st_mode;
            self.chmod_handle(dest, mode & 0o7777)?;
        }
        Ok(())
    }

    /// `file.get_last_modified_time()`: nanoseconds since the epoch; needs `stat`.
    pub fn modified_nanos(&self, h: &FileHandle) -> HostResult<i64> {
        let m = self.file_metadata(h)?;
        Ok(m.mtime
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nanos))
    }

    /// `file.disk_usage(options)`: the file's size (apparent or on disk) and its inode count.
    pub fn file_disk_usage(&self, h: &FileHandle, apparent: bool) -> HostResult<(u64, u64)> {
        let m = self.file_metadata(h)?;
        Ok((if apparent { m.size } else { m.blocks * 512 }, 1))
    }

    /// `dir.disk_usage(options)`: `du` of the tree below the open directory, asking what
    /// `du` asks (`open` + `read` + `stat` on the directory and on each directory below it
    /// before entering it, `open` + `stat` on each other entry); it never follows a
    /// symlink, and reports at most the run's item limit of entries. With
    /// `track_largest_subdir`, the largest reported subdirectory comes back open (under
    /// `open` on it, asked last), by the descriptor the walk held.
    pub fn disk_usage_handle(
        &self,
        dir: &DirHandle,
        options: DiskUsageOptions,
    ) -> HostResult<DiskUsage> {
        let resource = Resource::Dir(dir.path().clone());
        let permit = self.permit(MEASURE_DIR, resource.clone())?;
        crate::effect::check(&permit, MEASURE_DIR, &resource)
            .map_err(|e| HostError::io("list", dir.path(), e))?;
        let mut walk = super::walk::DuWalk::new(
            !options.count_hard_links,
            options.one_file_system,
            options.track_largest_subdir,
        );
        let report = self.du_of(&dir.dir, options.du, &mut walk)?;
        let largest_subdir = match walk.largest {
            Some((_, largest)) => {
                // The walk opened it under `open` + `read` + `stat` (`MEASURE_DIR`); handed
                // out, it is an open handle, so `open` is asked again for it.
                let _opened = self.permit(OPEN, Resource::Dir(largest.path().clone()))?;
                Some(DirHandle {
                    dir: Rc::new(largest),
                })
            }
            None => None,
        };
        Ok(DiskUsage {
            entries: report.entries,
            largest_subdir,
        })
    }

    /// `dir.list_entries()`: every entry with its `lstat`, by name; needs `read` on the
    /// directory.
    pub fn list_handle(&self, dir: &DirHandle) -> HostResult<Vec<Entry>> {
        let permit = self.permit(&[Action::FsRead], Resource::Dir(dir.path().clone()))?;
        crate::effect::check(
            &permit,
            &[Action::FsRead],
            &Resource::Dir(dir.path().clone()),
        )
        .map_err(|e| HostError::io("list", dir.path(), e))?;
        let listed = self.read_dir(&dir.dir)?;
        listed
            .iter()
            .map(|l| Ok(Entry::from_stat(&l.name, &dir.path().join(&l.name)?, &l.st)))
            .collect()
    }

    /// `dir.metadata()`: needs `stat` on the directory.
    pub fn dir_metadata(&self, dir: &DirHandle) -> HostResult<HandleMetadata> {
        let path = dir.path();
        let permit = self.permit(&[Action::FsStat], Resource::Dir(path.clone()))?;
        let st =
            held::stat(&permit, path, dir.dir.fd()).map_err(|e| HostError::io("stat", path, e))?;
        Ok(HandleMetadata::of(&st, None))
    }

    /// `dir.get_ownership()`: needs `stat` on the directory.
    pub fn dir_owner(&self, dir: &DirHandle) -> HostResult<Owner> {
        Ok(self.dir_metadata(dir)?.owner)
    }

    /// `dir.chmod(options)`: needs `chmod` on the directory (and, with `recursive`, on
    /// every entry below it that it changes; a symlink is never followed or changed).
    pub fn chmod_dir_handle(&self, dir: &DirHandle, mode: u32, recursive: bool) -> HostResult<()> {
        let path = dir.path().clone();
        let permit = self.permit(&[Action::FsChmod], Resource::Dir(path.clone()))?;
        held::set_mode(&permit, &path, dir.dir.fd(), mode)
            .map_err(|e| HostError::io("chmod", &path, e))?;
        if recursive {
            self.below(&dir.dir, Action::FsChmod, &mut |permit, fd, path| {
                held::set_mode(permit, path, fd, mode).map_err(|e| HostError::io("chmod", path, e))
            })?;
        }
        Ok(())
    }

    /// `dir.set_ownership(options)`: needs `chown` on the directory (and with `recursive`
    /// on every entry below it).
    pub fn chown_dir_handle(
        &self,
        dir: &DirHandle,
        user: Option<&str>,
        group: Option<&str>,
        recursive: bool,
    ) -> HostResult<()> {
        let (uid, gid) = ids(user, group)?;
        let path = dir.path().clone();
        let permit = self.permit(&[Action::FsChown], Resource::Dir(path.clone()))?;
        held::set_owner(&permit, &path, dir.dir.fd(), uid, gid)
            .map_err(|e| HostError::io("chown", &path, e))?;
        if recursive {
            self.below(&dir.dir, Action::FsChown, &mut |permit, fd, path| {
                held::set_owner(permit, path, fd, uid, gid)
                    .map_err(|e| HostError::io("chown", path, e))
            })?;
        }
        Ok(())
    }

    /// Calls `each` on every file and directory below `dir` (symlinks and other kinds are
    /// left alone), each under a permit for `action` on it and opened beneath its parent
    /// without following anything.
    fn below(
        &self,
        dir: &OpenDir,
        action: Action,
        each: &mut dyn FnMut(&tollgate_policy::Permit, BorrowedFd<'_>, &AbsPath) -> HostResult<()>,
    ) -> HostResult<()> {
        for l in self.read_dir(dir)? {
            let path = dir.path().join(&l.name)?;
            let resource = match FileType::from_raw_mode(l.st.st_mode) {
                FileType::Directory => Resource::Dir(path.clone()),
                FileType::RegularFile => Resource::File(path.clone()),
                _ => continue,
            };
            let permit = self.permit(&[action], resource)?;
            let opened = dir
                .open_for_attrs(&l.raw, &permit, action)
                .map_err(|e| HostError::io("open", &path, e))?;
            match opened {
                Attrs::File(fd) => each(&permit, fd.as_fd(), &path)?,
                Attrs::Dir(child) => {
                    each(&permit, child.fd(), &path)?;
                    self.below(&child, action, each)?;
                }
            }
        }
        Ok(())
    }

    /// `dir.delete(options)`: needs `delete` on the directory and `open` on its parent,
    /// where the name is removed; with `recursive`, as `rm -r`: `delete` on every entry below
    /// it too, each checked before anything is removed. Without `recursive` the directory
    /// must be empty.
    pub fn delete_dir_handle(
        &self,
        dir: &DirHandle,
        recursive: bool,
        force: bool,
    ) -> HostResult<()> {
        let path = dir.path();
        if recursive {
            self.rm(path.as_str(), RmOptions { force, recursive })?;
            return Ok(());
        }
        let permit = self.permit(&[Action::FsDelete], Resource::Dir(path.clone()))?;
        let parent = self.open_parent_checked(path)?;
        let name = c_name(path.file_name())?;
        let held = fstat(dir.dir.fd(), path)?;
        match rustix::fs::statat(parent.fd(), &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_ino == held.st_ino && st.st_dev == held.st_dev => {}
            Ok(_) => {
                return Err(HostError::InvalidInput(format!(
                    "{path} is no longer the directory this handle opened; nothing was deleted"
                )))
            }
            Err(rustix::io::Errno::NOENT) if force => return Ok(()),
            Err(e) => return Err(HostError::io("delete", path, e.into())),
        }
        parent
            .remove(&name, &permit, true)
            .map_err(|e| HostError::io("delete", path, e))
    }

    /// `dir.create_symlink(target, name, options)`: needs `create` on the link (and `delete`
    /// on what is there with `force`). The target is written as given; following the link
    /// later asks about the target as any path.
    pub fn create_symlink(
        &self,
        dir: &DirHandle,
        target: &str,
        name: &str,
        force: bool,
    ) -> HostResult<()> {
        let path = entry_path(&dir.dir, name)?;
        let permit = self.permit(&[Action::FsCreate], Resource::File(path.clone()))?;
        let io = |e| HostError::io("create the symlink", &path, e);
        match dir.dir.symlink(target, &permit) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && force => {
                let delete = self.permit(&[Action::FsDelete], Resource::File(path.clone()))?;
                let raw = c_name(name)?;
                let st = rustix::fs::statat(dir.dir.fd(), &raw, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io(e.into()))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(HostError::InvalidInput(format!(
                        "{path} is a directory; a symlink does not replace it"
                    )));
                }
                dir.dir.remove(&raw, &delete, false).map_err(io)?;
                dir.dir.symlink(target, &permit).map_err(io)
            }
            other => other.map_err(io),
        }
    }

    /// `dir.open_symlink(name)`: needs `open` on the link, which must be one.
    pub fn open_symlink(&self, dir: &DirHandle, name: &str) -> HostResult<SymlinkHandle> {
        let path = entry_path(&dir.dir, name)?;
        let permit = self.permit(&[Action::FsOpen], Resource::File(path.clone()))?;
        let kind = dir
            .dir
            .entry_type(&permit)
            .map_err(|e| HostError::io("open", &path, e))?;
        if kind != FileType::Symlink {
            return Err(HostError::InvalidInput(format!("{path} is not a symlink")));
        }
        Ok(SymlinkHandle {
            parent: Rc::clone(&dir.dir),
            path,
        })
    }

    /// `dir.read_link_target(name)`: where the symlink points; needs `read` on the link.
    pub fn read_link_target(&self, dir: &DirHandle, name: &str) -> HostResult<String> {
        let path = entry_path(&dir.dir, name)?;
        let permit = self.permit(&[Action::FsRead], Resource::File(path.clone()))?;
        dir.dir
            .read_link(&permit)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == rustix::io::Errno::INVAL.raw_os_error() => {
                    HostError::InvalidInput(format!("{path} is not a symlink"))
                }
                _ => HostError::io("read the symlink", &path, e),
            })
    }

    /// `symlink.metadata()`: the link's own metadata and target; needs `stat` (and `read`,
    /// for the target) on the link.
    pub fn symlink_metadata(&self, s: &SymlinkHandle) -> HostResult<HandleMetadata> {
        let permit = self.permit(
            &[Action::FsStat, Action::FsRead],
            Resource::File(s.path.clone()),
        )?;
        let st = s
            .parent
            .stat(&permit)
            .map_err(|e| HostError::io("stat", &s.path, e))?;
        let target = s
            .parent
            .read_link(&permit)
            .map_err(|e| HostError::io("read the symlink", &s.path, e))?;
        Ok(HandleMetadata::of(&st, Some(target)))
    }

    /// `symlink.set_ownership(options)`: the link's own owner; needs `chown` on it.
    pub fn chown_symlink(
        &self,
        s: &SymlinkHandle,
        user: Option<&str>,
        group: Option<&str>,
    ) -> HostResult<()> {
        let (uid, gid) = ids(user, group)?;
        let permit = self.permit(&[Action::FsChown], Resource::File(s.path.clone()))?;
        s.parent
            .chown_entry(&permit, uid, gid)
            .map_err(|e| HostError::io("chown", &s.path, e))
    }

    /// A listed entry's current metadata (a symlink described, not followed, with its
    /// target); needs `stat` on it. `dir` is the handle it was listed from; without one its
    /// directory is opened afresh (needs `open` on it).
    pub fn entry_metadata(
        &self,
        dir: Option<&DirHandle>,
        path: &AbsPath,
    ) -> HostResult<HandleMetadata> {
        let parent = match dir {
            Some(d) => Rc::clone(&d.dir),
            None => Rc::new(self.open_parent_checked(path)?),
        };
        let permit = self.permit(&[Action::FsStat], Resource::File(path.clone()))?;
        let st = parent
            .stat(&permit)
            .map_err(|e| HostError::io("stat", path, e))?;
        let target = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            Some(
                parent
                    .read_link(&permit)
                    .map_err(|e| HostError::io("read the symlink", path, e))?,
            )
        } else {
            None
        };
        Ok(HandleMetadata::of(&st, target))
    }

    /// A listed entry opened as a file: beneath the handle it was listed from, or through
    /// its directory opened afresh (needs `open` on it). Refused unless it is still the
    /// object that was listed (same inode).
    pub fn open_entry_as_file(
        &self,
        dir: Option<&DirHandle>,
        path: &AbsPath,
        inode: u64,
        options: FileOptions,
    ) -> HostResult<FileHandle> {
        let fresh;
        let dir = match dir {
            Some(d) => d,
            None => {
                let parent = path
                    .parent()
                    .ok_or_else(|| HostError::InvalidInput("/ is not a file".to_owned()))?;
                fresh = self.open_dir(parent.as_str(), DirOptions::default())?;
                &fresh
            }
        };
        let h = self.open_file(dir, path.file_name(), options)?;
        if !options.follow_symlinks && fstat(h.fd(), &h.path)?.st_ino != inode {
            return Err(HostError::InvalidInput(format!(
                "{path} was replaced since it was listed; list the directory again"
            )));
        }
        Ok(h)
    }

    /// A listed entry opened as a directory: needs `open` on it; refused unless it is still
    /// the directory that was listed.
    pub fn open_entry_as_dir(
        &self,
        dir: Option<&DirHandle>,
        path: &AbsPath,
        inode: u64,
    ) -> HostResult<DirHandle> {
        let opened = match dir {
            Some(d) => {
                let permit = self.permit(OPEN, Resource::Dir(path.clone()))?;
                let raw = c_name(path.file_name())?;
                d.dir.open_dir(&raw, &permit).map_err(|e| {
                    if is_link_error(&e) {
                        HostError::InvalidInput(format!("{path} is a symlink, not a directory"))
                    } else {
                        HostError::io("open", path, e)
                    }
                })?
            }
            None => self.open_dir_checked(path, OPEN)?,
        };
        if fstat(opened.fd(), path)?.st_ino != inode || opened.path() != path {
            return Err(HostError::InvalidInput(format!(
                "{path} was replaced since it was listed; list the directory again"
            )));
        }
        Ok(DirHandle {
            dir: Rc::new(opened),
        })
    }
}

/// Where a moved directory lands: in `dir` at `path`, replacing an empty directory there
/// under `replacing`, or after keeping what is there as `NAME~` under `backup`.
struct Landing {
    dir: Rc<OpenDir>,
    path: AbsPath,
    replacing: Option<tollgate_policy::Permit>,
    backup: Option<Backup>,
}

/// The permits to keep an existing destination as `NAME~`.
struct Backup {
    moving: tollgate_policy::Permit,
    creating: tollgate_policy::Permit,
}

/// What is at `path`, an entry of `dir`, described without following it; `None` if nothing.
fn existing(dir: &OpenDir, path: &AbsPath) -> HostResult<Option<rustix::fs::Stat>> {
    match rustix::fs::statat(
        dir.fd(),
        c_name(path.file_name())?.as_c_str(),
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(HostError::io("stat", path, e.into())),
    }
}

/// Renames the entry at `path` in `dir` to `NAME~` beside it, never over an existing one
/// (that would delete it without a decision).
fn keep_backup(dir: &OpenDir, path: &AbsPath, kept: &Backup) -> HostResult<()> {
    dir.rename(&kept.moving, dir, &kept.creating, None, &[])
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => HostError::InvalidInput(format!(
                "{path}~ already exists, and a backup does not replace it; remove it first"
            )),
            _ => HostError::io("back up", path, e),
        })
}

/// A failed rename, told as what to do about it.
fn move_error(e: std::io::Error, from: &AbsPath, to: &AbsPath) -> HostError {
    match e.raw_os_error() {
        Some(code) if code == rustix::io::Errno::XDEV.raw_os_error() => HostError::InvalidInput(
            format!("{from} and {to} are on different file systems; Tollgate moves only within one (copy, then delete)"),
        ),
        Some(code) if code == rustix::io::Errno::EXIST.raw_os_error() => HostError::InvalidInput(
            format!("{to} already exists; a move does not replace it (MoveOptions().backup(true) keeps it as NAME~)"),
        ),
        _ => HostError::io("move", from, e),
    }
}

/// Where a symlink in `dir` pointing at `target` leads.
fn resolve_link(dir: &AbsPath, target: &str) -> HostResult<AbsPath> {
    let joined = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("{dir}/{target}")
    };
    Ok(AbsPath::parse(&joined)?)
}

/// What `dir.find(options, ...)` selects (`FindOptions`): each test that is set must pass.
#[derive(Clone, Debug, Default)]
pub struct FindFilter {
    /// A glob on the entry's name.
    pub name: Option<String>,
    /// A glob on the entry's name, ignoring case.
    pub iname: Option<String>,
    /// A regex on the entry's full path.
    pub regex: Option<String>,
    /// Select the entries the name tests reject instead.
    pub negate_name: bool,
    /// Inclusive size bounds in bytes.
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Depth below the directory: its entries are at depth 1. Entries above `min_depth`
    /// are walked through but not selected.
    pub min_depth: Option<u64>,
    /// The deepest directories entered are at `max_depth - 1`, so nothing deeper than
    /// `max_depth` is read; as in Rex, the directory's own entries are always read (a
    /// `max_depth` of 0 acts as 1).
    pub max_depth: Option<u64>,
    /// Inclusive modification time bounds, in whole seconds since the epoch.
    pub min_mtime: Option<i64>,
    pub max_mtime: Option<i64>,
    /// Inclusive "creation time" bounds, in whole seconds since the epoch. Rex compares the
    /// inode's change time (`st_ctime`) under that name, and so does Tollgate, so a filter
    /// selects the same files on both.
    pub min_ctime: Option<i64>,
    pub max_ctime: Option<i64>,
}

impl FindFilter {
    /// Whether a test reads the entry's metadata, which then needs `stat` on each entry.
    fn reads_metadata(&self) -> bool {
        self.min_size.is_some()
            || self.max_size.is_some()
            || self.min_mtime.is_some()
            || self.max_mtime.is_some()
            || self.reads_change_time()
    }

    fn reads_change_time(&self) -> bool {
        self.min_ctime.is_some() || self.max_ctime.is_some()
    }
}

/// A find's name tests, compiled once for the walk.
struct FindTests<'f> {
    filter: &'f FindFilter,
    name: Option<globset::GlobMatcher>,
    iname: Option<globset::GlobMatcher>,
    regex: Option<regex::Regex>,
}

impl<'f> FindTests<'f> {
    fn new(filter: &'f FindFilter) -> HostResult<FindTests<'f>> {
        let glob = |pattern: &str, case_insensitive: bool| {
            globset::GlobBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| HostError::InvalidInput(format!("invalid pattern {pattern:?}: {e}")))
        };
        let regex = filter
            .regex
            .as_deref()
            .map(|r| {
                regex::Regex::new(r)
                    .map_err(|e| HostError::InvalidInput(format!("invalid regex {r:?}: {e}")))
            })
            .transpose()?;
        Ok(FindTests {
            filter,
            name: filter.name.as_deref().map(|p| glob(p, false)).transpose()?,
            iname: filter.iname.as_deref().map(|p| glob(p, true)).transpose()?,
            regex,
        })
    }

    fn named(&self, base: &str, path: &AbsPath) -> bool {
        let named = self.name.as_ref().is_none_or(|g| g.is_match(base))
            && self.iname.as_ref().is_none_or(|g| g.is_match(base))
            && self
                .regex
                .as_ref()
                .is_none_or(|r| r.is_match(path.as_str()));
        named != self.filter.negate_name
    }

    fn measured(&self, m: &Measured) -> bool {
        let f = self.filter;
        f.min_size.is_none_or(|b| m.size >= b)
            && f.max_size.is_none_or(|b| m.size <= b)
            && f.min_mtime.is_none_or(|t| m.mtime >= t)
            && f.max_mtime.is_none_or(|t| m.mtime <= t)
            && f.min_ctime.is_none_or(|t| m.ctime.is_some_and(|b| b >= t))
            && f.max_ctime.is_none_or(|t| m.ctime.is_some_and(|b| b <= t))
    }
}

/// What `find`'s size and time tests read of an entry, under a `stat` permit for it.
struct Measured {
    size: u64,
    mtime: i64,
    /// Read only for a creation-time test.
    ctime: Option<i64>,
}

impl Host {
    /// `dir.find(options, callback)`'s walk: every entry below the directory that `filter`
    /// selects, in walk order (each directory's entry before what is below it). It walks
    /// from the descriptor the handle holds, never from its path, so it walks the directory
    /// that was opened whatever has been renamed or put in its place since: `read` on the
    /// open directory, then each directory below it (down to `max_depth - 1`) opened beneath
    /// its parent's descriptor, never through a symlink, after `open` + `read` on it, as in
    /// Rex's walk. With a size or time test, each entry at a selected depth is asked `stat`
    /// (as a File, as `DirEntry.metadata` asks) and tested on what is read of it under that
    /// permit; a creation-time test on a file system that records no creation time is
    /// refused. Where Rex skips a directory or entry it may not read, this fails with the
    /// denial, so a result never silently leaves out a part.
    pub fn find_handle(&self, dir: &DirHandle, filter: &FindFilter) -> HostResult<Vec<Entry>> {
        let tests = FindTests::new(filter)?;
        let resource = Resource::Dir(dir.path().clone());
        let permit = self.permit(&[Action::FsRead], resource.clone())?;
        crate::effect::check(&permit, &[Action::FsRead], &resource)
            .map_err(|e| HostError::io("list", dir.path(), e))?;
        let mut out = Vec::new();
        self.find_below(&dir.dir, "", 1, &tests, &mut out)?;
        Ok(out)
    }

    /// Adds to `out` what `tests` select in `dir` (its entries at `depth`) and below it.
    fn find_below(
        &self,
        dir: &OpenDir,
        prefix: &str,
        depth: u64,
        tests: &FindTests<'_>,
        out: &mut Vec<Entry>,
    ) -> HostResult<()> {
        let filter = tests.filter;
        let path = dir.path();
        for listed in self.read_dir(dir)? {
            let child = path.join(&listed.name)?;
            let shown = format!("{prefix}{}", listed.name);
            let entry = Entry::from_stat(&shown, &child, &listed.st);
            if filter.min_depth.is_none_or(|m| depth >= m) {
                let named = tests.named(&listed.name, &child);
                // As in Rex, every entry at a selected depth is measured when a size or time
                // test is set, before the name tests are combined with the others.
                let measured = if filter.reads_metadata() {
                    let m = self.measure_found(dir, &listed.raw, &child, filter)?;
                    tests.measured(&m)
                } else {
                    true
                };
                if named && measured {
                    out.push(entry.clone());
                    if out.len() > self.limits.max_items {
                        return Err(self.too_many_items(path));
                    }
                }
            }
            let descend =
                entry.kind == EntryKind::Dir && filter.max_depth.is_none_or(|m| depth < m);
            if descend {
                let sub = self.open_walk_child(dir, &listed.raw, &child, LIST)?;
                self.find_below(&sub, &format!("{shown}/"), depth + 1, tests, out)?;
            }
        }
        Ok(())
    }

    /// The entry `raw` of `dir` (at `path`) as `find`'s size and time tests see it: read by
    /// `statx`, without following a symlink, under a `stat` permit for it. The listing's own
    /// metadata (read under the directory's permit, for the entry's type) is not used for
    /// them.
    fn measure_found(
        &self,
        dir: &OpenDir,
        raw: &std::ffi::CStr,
        path: &AbsPath,
        filter: &FindFilter,
    ) -> HostResult<Measured> {
        use rustix::fs::StatxFlags;
        let resource = Resource::File(path.clone());
        let permit = self.permit(&[Action::FsStat], resource.clone())?;
        crate::effect::check(&permit, &[Action::FsStat], &resource)
            .map_err(|e| HostError::io("stat", path, e))?;
        let mut wanted = StatxFlags::SIZE | StatxFlags::MTIME;
        if filter.reads_change_time() {
            wanted |= StatxFlags::CTIME;
        }
        let st = rustix::fs::statx(dir.fd(), raw, AtFlags::SYMLINK_NOFOLLOW, wanted)
            .map_err(|e| HostError::io("stat", path, e.into()))?;
        let got = StatxFlags::from_bits_retain(st.stx_mask);
        // A test on a value the file system did not report would compare against zero:
        // refused instead, so a filter is never silently ignored.
        for (flag, what, option) in [
            (StatxFlags::SIZE, "size", "size_range"),
            (
                StatxFlags::MTIME,
                "modification time",
                "min/max_modification_time",
            ),
            (StatxFlags::CTIME, "change time", "min/max_creation_time"),
        ] {
            if wanted.contains(flag) && !got.contains(flag) {
                return Err(HostError::InvalidInput(format!(
                    "FindOptions {option} cannot be applied to {path}: its file system does not record a {what}"
                )));
            }
        }
        Ok(Measured {
            size: st.stx_size,
            mtime: st.stx_mtime.tv_sec,
            ctime: filter.reads_change_time().then_some(st.stx_ctime.tv_sec),
        })
    }
}

/// `replace_text(text, old, new, options)`: `old` (a regex with `is_regex`, then `new` may
/// name its groups as `$1`) replaced by `new`, the first occurrence or, with `all`, every one.
pub fn replace_text(
    text: &str,
    old: &str,
    new: &str,
    is_regex: bool,
    all: bool,
) -> HostResult<String> {
    if is_regex {
        let re = regex::Regex::new(old)
            .map_err(|e| HostError::InvalidInput(format!("invalid regex {old:?}: {e}")))?;
        let out = if all {
            re.replace_all(text, new)
        } else {
            re.replace(text, new)
        };
        return Ok(out.into_owned());
    }
    if old.is_empty() {
        return Err(HostError::InvalidInput(
            "replace_text: the text to replace is empty".to_owned(),
        ));
    }
    Ok(if all {
        text.replace(old, new)
    } else {
        text.replacen(old, new, 1)
    })
}
