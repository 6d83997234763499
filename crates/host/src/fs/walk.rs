//! Directory walks: ls, find_files, du. A walk descends only into real directories, opened
//! beneath their parent's descriptor; a symlink is listed as a symlink and never entered.
//! Every directory a walk reads is authorized before it is opened, with what Rex's walk asks
//! of it: `open` + `read` (`LIST`), and for `du`, which also reads each directory's own size,
//! `stat` too (`MEASURE_DIR`). `du` asks `open` + `stat` (`MEASURE`) on each other entry it
//! measures, as Rex does; where Rex leaves out an entry it may not measure and reports the
//! rest, `du` fails with the denial, so a total never silently leaves out a part.

use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;

use globset::GlobBuilder;
use rustix::fs::{AtFlags, Dir, FileType};
use tollgate_policy::sdk_actions::{LIST, MEASURE, MEASURE_DIR};
use tollgate_policy::{AbsPath, Action, Resource};

use super::parse_path;
use super::root::OpenDir;
use crate::error::{HostError, HostResult};
use crate::Host;

/// What kind of object an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Other => "other",
        }
    }

    pub(crate) fn of_mode(mode: u32) -> EntryKind {
        match FileType::from_raw_mode(mode) {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Other,
        }
    }
}

/// One entry read from a directory.
pub(crate) struct Listed {
    /// The name as scripts and policies see it (see [`shown_name`]).
    pub name: String,
    /// The name as the kernel knows it, for every call on the entry.
    pub raw: CString,
    pub st: rustix::fs::Stat,
}

/// A file name as the SDK shows it and the policy decides on it: itself when it is UTF-8,
/// else with each byte that is not part of valid UTF-8 written `\xNN`, so that a walk lists
/// the entry instead of failing on it.
pub(crate) fn shown_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(name) => name.to_owned(),
        Err(_) => {
            let mut out = String::new();
            for chunk in raw.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

/// One directory entry with its metadata (from `lstat`).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Name relative to the listed directory (`sub/file` in a recursive listing).
    pub name: String,
    pub path: AbsPath,
    pub kind: EntryKind,
    pub size: u64,
    /// Permission bits and type, as in `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub inode: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Bytes of disk in use (`st_blocks * 512`).
    pub disk_bytes: u64,
}

impl Entry {
    pub(crate) fn from_stat(name: &str, path: &AbsPath, st: &rustix::fs::Stat) -> Entry {
        Entry {
            name: name.to_owned(),
            path: path.clone(),
            kind: EntryKind::of_mode(st.st_mode),
            size: st.st_size as u64,
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink,
            inode: st.st_ino,
            mtime: st.st_mtime,
            disk_bytes: (st.st_blocks as u64) * 512,
        }
    }
}

/// Flags of `ls`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LsOptions {
    pub all: bool,
    pub long: bool,
    pub recursive: bool,
}

/// Flags of `du`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DuOptions {
    pub summarize: bool,
    pub all_files: bool,
    pub apparent_size: bool,
    pub max_depth: Option<usize>,
}

/// One line of `du`: a directory (or, with `all_files`, a file) and what is under it.
#[derive(Clone, Debug, PartialEq)]
pub struct DuEntry {
    pub path: AbsPath,
    /// Bytes of the entry and everything below it.
    pub size_bytes: u64,
    /// Inodes of the entry and everything below it (1 for a file).
    pub inode_count: u64,
}

/// The result of `du`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DuReport {
    /// Each reported entry, every directory after what is below it, the walked one last.
    pub entries: Vec<DuEntry>,
    /// The sum of the entries' sizes, as Rex adds them: a directory's size already holds its
    /// subdirectories', so without `summarize` this counts nested bytes more than once.
    pub total_size_bytes: u64,
    /// The sum of the entries' inode counts, added up the same way.
    pub total_inode_count: u64,
}

impl Host {
    /// Opens a directory for walking after `actions` on it (and nothing on its parent: a
    /// directory is asked about by itself, see [`Host::open_checked`]).
    fn open_walk_root(&self, raw_path: &str, actions: &[Action]) -> HostResult<OpenDir> {
        let path = parse_path(raw_path)?;
        self.open_dir_checked(&path, actions)
    }

    /// Authorizes `actions` on a subdirectory found during a walk and opens it, beneath its
    /// parent's descriptor and without following links.
    pub(crate) fn open_walk_child(
        &self,
        parent: &OpenDir,
        name: &CStr,
        path: &AbsPath,
        actions: &[Action],
    ) -> HostResult<OpenDir> {
        let permit = self.authorize_in(
            actions,
            Resource::Dir(path.clone()),
            &tollgate_policy::Context::Empty,
        )?;
        parent
            .open_dir(name, &permit)
            .map_err(|e| HostError::io("open", path, e))
    }

    /// Reads one directory: each entry with its `lstat`, sorted by name.
    pub(crate) fn read_dir(&self, open: &OpenDir) -> HostResult<Vec<Listed>> {
        let (fd, path) = (open.fd(), open.path());
        let mut dir = Dir::read_from(fd).map_err(|e| HostError::io("list", path, e.into()))?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            self.interrupt.check()?;
            let entry = entry.map_err(|e| HostError::io("list", path, e.into()))?;
            let raw = entry.file_name();
            if raw.to_bytes() == b"." || raw.to_bytes() == b".." {
                continue;
            }
            let name = shown_name(raw.to_bytes());
            let child = path.join(&name)?;
            let st = rustix::fs::statat(fd, raw, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| HostError::io("stat", &child, e.into()))?;
            out.push(Listed {
                name,
                raw: raw.to_owned(),
                st,
            });
            if out.len() > self.limits.max_items {
                return Err(self.too_many_items(path));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(crate) fn too_many_items(&self, path: &AbsPath) -> HostError {
        HostError::TooLarge {
            what: format!("the listing of {path}"),
            limit: format!("{} entries", self.limits.max_items),
        }
    }

    /// The entries of a directory (recursively with `recursive`, hidden ones with `all`),
    /// each directory listed after `open` + `read` on it. The `ls` command lists one
    /// directory, as Rex's does; `dir.find` walks the tree.
    pub fn ls(&self, raw_path: &str, opts: LsOptions) -> HostResult<Vec<Entry>> {
        let dir = self.open_walk_root(raw_path, LIST)?;
        let mut out = Vec::new();
        self.ls_into(&dir, "", opts, &mut out)?;
        Ok(out)
    }

    fn ls_into(
        &self,
        dir: &OpenDir,
        prefix: &str,
        opts: LsOptions,
        out: &mut Vec<Entry>,
    ) -> HostResult<()> {
        let path = dir.path();
        for listed in self.read_dir(dir)? {
            let name = &listed.name;
            if !opts.all && name.starts_with('.') {
                continue;
            }
            let child = path.join(name)?;
            let shown = format!("{prefix}{name}");
            let entry = Entry::from_stat(&shown, &child, &listed.st);
            let descend = opts.recursive && entry.kind == EntryKind::Dir;
            out.push(entry);
            if out.len() > self.limits.max_items {
                return Err(self.too_many_items(path));
            }
            if descend {
                let sub = self.open_walk_child(dir, &listed.raw, &child, LIST)?;
                self.ls_into(&sub, &format!("{shown}/"), opts, out)?;
            }
        }
        Ok(())
    }

    /// `find_files`: the names (not paths, as in Rex) of the entries whose name matches
    /// `glob`, in `dir` (and below it with `recursive`), each directory's before those below.
    pub fn find_files(
        &self,
        glob: &str,
        raw_dir: &str,
        recursive: bool,
    ) -> HostResult<Vec<String>> {
        let matcher = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| HostError::Rex {
                kind: "ValidationError",
                message: format!("invalid glob {glob:?}: {e}"),
            })?
            .compile_matcher();
        let dir = self.open_walk_root(raw_dir, LIST)?;
        let mut out = Vec::new();
        self.find_into(&dir, &matcher, recursive, &mut out)?;
        Ok(out)
    }

    fn find_into(
        &self,
        dir: &OpenDir,
        matcher: &globset::GlobMatcher,
        recursive: bool,
        out: &mut Vec<String>,
    ) -> HostResult<()> {
        let path = dir.path();
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let child = path.join(&name)?;
            if matcher.is_match(&name) {
                out.push(name.clone());
                if out.len() > self.limits.max_items {
                    return Err(self.too_many_items(path));
                }
            }
            if recursive && EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                let sub = self.open_walk_child(dir, &raw, &child, LIST)?;
                self.find_into(&sub, matcher, recursive, out)?;
            }
        }
        Ok(())
    }

    /// `du`: disk usage of a tree, per directory, never crossing a symlink.
    pub fn du(&self, raw_path: &str, opts: DuOptions) -> HostResult<DuReport> {
        let dir = self.open_walk_root(raw_path, MEASURE_DIR)?;
        self.du_of(&dir, opts, &mut DuWalk::default())
    }

    /// The disk usage of the tree below `dir` (already authorized, and held open), each
    /// directory below asked `open` + `read` + `stat` before it is entered and each other
    /// entry `open` + `stat` (`stat` alone for a socket, FIFO or device, which Rex does not
    /// open) before it is counted.
    pub(crate) fn du_of(
        &self,
        dir: &OpenDir,
        opts: DuOptions,
        walk: &mut DuWalk,
    ) -> HostResult<DuReport> {
        let path = dir.path().clone();
        let st = rustix::fs::fstat(dir.fd()).map_err(|e| HostError::io("stat", &path, e.into()))?;
        if walk.one_file_system {
            walk.device = Some(st.st_dev);
        }
        let mut entries = Vec::new();
        let (size, inodes) = self.du_into(dir, 0, opts, walk, &mut entries)?;
        let top = DuEntry {
            path,
            size_bytes: size_of(&st, opts.apparent_size) + size,
            inode_count: 1 + inodes,
        };
        // With `summarize`, `du_into` reported nothing below.
        entries.push(top);
        Ok(DuReport {
            total_size_bytes: entries.iter().map(|e| e.size_bytes).sum(),
            total_inode_count: entries.iter().map(|e| e.inode_count).sum(),
            entries,
        })
    }

    /// Adds the entries below `dir` to `out`; returns the bytes and inodes below it.
    fn du_into(
        &self,
        dir: &OpenDir,
        depth: usize,
        opts: DuOptions,
        walk: &mut DuWalk,
        out: &mut Vec<DuEntry>,
    ) -> HostResult<(u64, u64)> {
        let (mut size, mut inodes) = (0, 0);
        let shown = |d: usize| !opts.summarize && opts.max_depth.is_none_or(|m| d <= m);
        let path = dir.path();
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let child = path.join(&name)?;
            let is_dir = EntryKind::of_mode(st.st_mode) == EntryKind::Dir;
            if !is_dir {
                // Measured before it is known to be left out (another file system, a hard
                // link met before), as Rex reads every entry's metadata.
                let measure: &[Action] = match EntryKind::of_mode(st.st_mode) {
                    EntryKind::Other => &[Action::FsStat],
                    _ => MEASURE,
                };
                // The metadata itself came with the listing (under the directory's permit):
                // this decision is what Rex's policies expect to govern measuring the entry.
                let _measured = self.authorize_in(
                    measure,
                    Resource::File(child.clone()),
                    &tollgate_policy::Context::Empty,
                )?;
            }
            if walk.device.is_some_and(|d| d != st.st_dev) {
                // Another file system (`one_file_system`): neither counted nor entered.
                continue;
            }
            if !is_dir && st.st_nlink > 1 && !walk.first_link(&st, self.limits.max_items, path)? {
                continue;
            }
            let mut entry = DuEntry {
                path: child,
                size_bytes: size_of(&st, opts.apparent_size),
                inode_count: 1,
            };
            let mut sub = None;
            if is_dir {
                let opened = self.open_walk_child(dir, &raw, &entry.path, MEASURE_DIR)?;
                let (below, below_inodes) = self.du_into(&opened, depth + 1, opts, walk, out)?;
                entry.size_bytes += below;
                entry.inode_count += below_inodes;
                sub = Some(opened);
            }
            // As in Rex, a directory's total holds its directories and regular files only:
            // a symlink, socket, FIFO or device is listed (with `all_files`) but not added.
            if matches!(
                EntryKind::of_mode(st.st_mode),
                EntryKind::Dir | EntryKind::File
            ) {
                size += entry.size_bytes;
                inodes += entry.inode_count;
            }
            if (is_dir || opts.all_files) && shown(depth + 1) {
                if let Some(opened) = sub {
                    walk.offer_largest(entry.size_bytes, opened);
                }
                out.push(entry);
                if out.len() > self.limits.max_items {
                    return Err(self.too_many_items(path));
                }
            }
        }
        Ok((size, inodes))
    }
}

/// What `dir.disk_usage` asks of a walk beyond `du`'s flags. The default is `du`'s walk:
/// every hard link counted, file systems crossed, nothing kept open.
#[derive(Debug, Default)]
pub(crate) struct DuWalk {
    /// Count a file with several hard links once (Rex's default), not at each link.
    once_per_inode: bool,
    /// Leave out what is on another file system than the walked directory.
    one_file_system: bool,
    /// Keep the largest reported subdirectory open.
    track_largest: bool,
    /// The largest reported subdirectory so far, with its size.
    pub(crate) largest: Option<(u64, OpenDir)>,
    device: Option<u64>,
    seen: std::collections::HashSet<(u64, u64)>,
}

impl DuWalk {
    pub(crate) fn new(once_per_inode: bool, one_file_system: bool, track_largest: bool) -> DuWalk {
        DuWalk {
            once_per_inode,
            one_file_system,
            track_largest,
            ..DuWalk::default()
        }
    }

    /// Whether this is the first link met of a file with several: only those need
    /// remembering, as in GNU du, and at most `limit` of them.
    fn first_link(
        &mut self,
        st: &rustix::fs::Stat,
        limit: usize,
        path: &AbsPath,
    ) -> HostResult<bool> {
        if !self.once_per_inode {
            return Ok(true);
        }
        let first = self.seen.insert((st.st_dev, st.st_ino));
        if self.seen.len() > limit {
            return Err(HostError::TooLarge {
                what: format!("the hard-linked files below {path}"),
                limit: format!("{limit} entries"),
            });
        }
        Ok(first)
    }

    /// Keeps `dir` when it is larger than every subdirectory reported before it, and not
    /// empty (as in Rex: the first of equal ones stays).
    fn offer_largest(&mut self, size: u64, dir: OpenDir) {
        if self.track_largest && size > self.largest.as_ref().map_or(0, |(s, _)| *s) {
            self.largest = Some((size, dir));
        }
    }
}

fn size_of(st: &rustix::fs::Stat, apparent: bool) -> u64 {
    if apparent {
        st.st_size as u64
    } else {
        st.st_blocks as u64 * 512
    }
}

/// `statat` without following, for `Entry`.
pub(crate) fn lstat_at(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &AbsPath,
) -> HostResult<rustix::fs::Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| HostError::io("stat", path, e.into()))
}
