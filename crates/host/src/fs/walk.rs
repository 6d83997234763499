//! Directory walks: ls, find_files, du. A walk descends only into real directories, opened
//! beneath their parent's descriptor; a symlink is listed as a symlink and never entered.
//! Every directory a walk reads is authorized (`read` and `stat`) before it is opened.

use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;

use globset::GlobBuilder;
use rustix::fs::{AtFlags, Dir, FileType};
use tollgate_policy::sdk_actions::WALK;
use tollgate_policy::{AbsPath, Resource};

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

/// The result of `du`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DuReport {
    /// (path, bytes) for each reported directory (and file, with `all_files`), deepest first.
    pub entries: Vec<(AbsPath, u64)>,
    pub total_size_bytes: u64,
    pub total_inode_count: u64,
}

impl Host {
    /// Opens a directory for walking after `read` + `stat` on it (and nothing on its parent:
    /// a directory is asked about by itself, see [`Host::open_checked`]).
    fn open_walk_root(&self, raw_path: &str) -> HostResult<OpenDir> {
        let path = parse_path(raw_path)?;
        self.open_dir_checked(&path, WALK)
    }

    /// Authorizes and opens a subdirectory found during a walk, beneath its parent's
    /// descriptor and without following links.
    fn open_walk_child(
        &self,
        parent: &OpenDir,
        name: &CStr,
        path: &AbsPath,
    ) -> HostResult<OpenDir> {
        let permit = self.authorize_in(
            WALK,
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

    /// `ls`: the entries of a directory (recursively with `recursive`, hidden ones with `all`).
    pub fn ls(&self, raw_path: &str, opts: LsOptions) -> HostResult<Vec<Entry>> {
        let dir = self.open_walk_root(raw_path)?;
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
                let sub = self.open_walk_child(dir, &listed.raw, &child)?;
                self.ls_into(&sub, &format!("{shown}/"), opts, out)?;
            }
        }
        Ok(())
    }

    /// `find_files`: paths of entries whose name matches `glob`, in `dir` (and below it with
    /// `recursive`).
    pub fn find_files(
        &self,
        glob: &str,
        raw_dir: &str,
        recursive: bool,
    ) -> HostResult<Vec<String>> {
        let matcher = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| HostError::InvalidInput(format!("invalid glob {glob:?}: {e}")))?
            .compile_matcher();
        let dir = self.open_walk_root(raw_dir)?;
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
                out.push(child.to_string());
                if out.len() > self.limits.max_items {
                    return Err(self.too_many_items(path));
                }
            }
            if recursive && EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                let sub = self.open_walk_child(dir, &raw, &child)?;
                self.find_into(&sub, matcher, recursive, out)?;
            }
        }
        Ok(())
    }

    /// `du`: disk usage of a tree, per directory, never crossing a symlink.
    pub fn du(&self, raw_path: &str, opts: DuOptions) -> HostResult<DuReport> {
        let dir = self.open_walk_root(raw_path)?;
        let path = dir.path().clone();
        let mut report = DuReport::default();
        let st = rustix::fs::fstat(dir.fd()).map_err(|e| HostError::io("stat", &path, e.into()))?;
        let own = size_of(&st, opts.apparent_size);
        let total = own + self.du_into(&dir, 0, opts, &mut report)?;
        report.total_inode_count += 1;
        report.total_size_bytes = total;
        report.entries.push((path, total));
        if opts.summarize {
            let last = report.entries.pop();
            report.entries = last.into_iter().collect();
        }
        Ok(report)
    }

    fn du_into(
        &self,
        dir: &OpenDir,
        depth: usize,
        opts: DuOptions,
        report: &mut DuReport,
    ) -> HostResult<u64> {
        let mut total = 0;
        let shown = |d: usize| opts.max_depth.is_none_or(|m| d <= m);
        let path = dir.path();
        for Listed { name, raw, st } in self.read_dir(dir)? {
            let child = path.join(&name)?;
            let own = size_of(&st, opts.apparent_size);
            report.total_inode_count += 1;
            if EntryKind::of_mode(st.st_mode) == EntryKind::Dir {
                let sub = self.open_walk_child(dir, &raw, &child)?;
                let size = own + self.du_into(&sub, depth + 1, opts, report)?;
                if shown(depth + 1) {
                    report.entries.push((child, size));
                }
                total += size;
            } else {
                if opts.all_files && shown(depth + 1) {
                    report.entries.push((child, own));
                }
                total += own;
            }
            if report.entries.len() > self.limits.max_items {
                return Err(self.too_many_items(path));
            }
        }
        Ok(total)
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
