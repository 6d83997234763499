//! `archive.extract_archive(dest_dir, ExtractArchiveOptions()...)`: a tar archive, gzipped
//! or not, unpacked below an open directory.
//!
//! An archive is attacker input. The whole archive is read once before anything is written:
//! every entry's name must stay below the destination (no absolute name, no `..`, UTF-8),
//! every link's target too, the sizes must add up to no more than [`MAX_EXPANSION`] times the
//! archive's own size, and the gate must permit `create` + `write` on every file. Only then
//! is it read again and unpacked, each directory made under its own `create`, nothing opened
//! through a symlink already in the destination, and each entry checked to be the one the
//! first reading saw (an archive that changes in between is refused). Regular files and
//! directories are made; links, devices and FIFOs are not (as in Rex).

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{self, BufReader, Read};
use std::os::fd::AsFd;

use flate2::read::MultiGzDecoder;
use rustix::fs::{Gid, Mode, Timespec, Timestamps, Uid};
use tar::EntryType;
use tollgate_policy::sdk_actions::OPEN;
use tollgate_policy::{AbsPath, Action, Resource};

use super::{io_error, CHUNK};
use crate::error::{HostError, HostResult};
use crate::fs::root::{is_link_error, OpenDir, OpenMode};
use crate::fs::{DirHandle, FileHandle};
use crate::Host;

/// What the extracted files may add up to, as a multiple of the archive's size: more than
/// gzip achieves on logs and binaries (10 to 50 times), less than a crafted bomb of zeros
/// (about 1000 times, deflate's limit). The destination's free space bounds it too.
pub const MAX_EXPANSION: u64 = 200;

/// Rex's `ExtractArchiveOptions`: what to carry over from the archive's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The mode bits, where the gate permits `chmod` on the entry (else the default mode).
    pub preserve_permissions: bool,
    /// The numeric owner and group, under `chown` on the entry.
    pub preserve_ownership: bool,
    /// The modification times.
    pub preserve_timestamps: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            preserve_permissions: true,
            preserve_ownership: false,
            preserve_timestamps: true,
        }
    }
}

/// One entry as the first reading saw it.
#[derive(Debug, PartialEq, Eq)]
struct Planned {
    /// The components of its name below the destination.
    parts: Vec<String>,
    kind: Kind,
    size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// A link or a special file: checked, not made.
    Skipped,
}

impl Host {
    /// Needs `read` on the archive, `create` + `write` on every file it holds, `create` on
    /// every directory it makes, and `open` on each directory a file is written in; `chmod`
    /// (asked per entry, skipped where denied) with `preserve_permissions`, `chown` with
    /// `preserve_ownership`.
    pub fn extract_archive(
        &self,
        archive: &FileHandle,
        dest: &DirHandle,
        options: ExtractOptions,
    ) -> HostResult<()> {
        let path = archive.path();
        let size = self
            .format_reader(archive)?
            .len()
            .map_err(|e| io_error("stat", path, e))?;
        let budget = size.saturating_mul(MAX_EXPANSION);
        let plan = self.plan(archive, dest.path(), budget)?;
        let mut dirs = Dirs {
            host: self,
            open: HashMap::new(),
        };
        let top = self.open_dir_checked(dest.path(), OPEN)?;
        let free = rustix::fs::fstatvfs(top.fd())
            .map(|st| st.f_bavail.saturating_mul(st.f_frsize))
            .map_err(|e| HostError::io("stat", dest.path(), e.into()))?;
        let total: u64 = plan.iter().map(|e| e.size).sum();
        if total > free {
            return Err(HostError::TooLarge {
                what: format!("the content of {path} ({total} bytes)"),
                limit: format!("the free space of {} ({free} bytes)", dest.path()),
            });
        }
        dirs.open.insert(Vec::new(), top);
        // Every file is authorized before the first is written.
        for entry in plan.iter().filter(|e| e.kind == Kind::File) {
            let file = target(dest.path(), &entry.parts)?;
            // The permit is asked for again (a remembered decision) where the file is opened.
            let _ = self
                .gate
                .authorize(&[Action::FsCreate, Action::FsWrite], &Resource::File(file))?;
        }
        let mut dirs = Dirs {
            host: self,
            open: HashMap::new(),
        };
        dirs.open
            .insert(Vec::new(), self.open_dir_checked(dest.path(), OPEN)?);
        let mut made_dirs = Vec::new();
        let mut tar = tar::Archive::new(self.archive_stream(archive)?);
        let entries = tar.entries().map_err(|e| io_error("read", path, e))?;
        let mut planned = plan.iter();
        for entry in entries {
            let mut entry = entry.map_err(|e| io_error("read", path, e))?;
            let seen = planned_entry(&entry, dest.path())?;
            if planned.next() != Some(&seen) {
                return Err(changed(path));
            }
            match seen.kind {
                Kind::Skipped => {}
                Kind::Dir => {
                    dirs.dir(&seen.parts)?;
                    made_dirs.push((seen.parts, header_attrs(entry.header())));
                }
                Kind::File => {
                    let (name, parent) = seen.parts.split_last().ok_or_else(|| changed(path))?;
                    let file_path = target(dest.path(), &seen.parts)?;
                    let dir = dirs.dir(parent)?;
                    let file = self.create_in(dir, name, &file_path)?;
                    let written = std::io::copy(&mut (&mut entry).take(seen.size), &mut &file)
                        .map_err(|e| io_error("extract", &file_path, e))?;
                    // A short entry is a truncated archive.
                    if written != seen.size {
                        return Err(HostError::InvalidInput(format!(
                            "{path}: the archive ends inside {file_path}"
                        )));
                    }
                    let attrs = header_attrs(entry.header());
                    self.apply_attrs(&file, &Resource::File(file_path), attrs, options)?;
                }
            }
        }
        if planned.next().is_some() {
            return Err(changed(path));
        }
        // Directories last, deepest first: writing into one changes its time, and a mode
        // without write permission would stop what goes into it.
        made_dirs.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
        for (parts, attrs) in made_dirs {
            let dir_path = target(dest.path(), &parts)?;
            let dir = dirs.dir(&parts)?;
            let fd = dir
                .fd()
                .try_clone_to_owned()
                .map_err(|e| HostError::io("open", &dir_path, e))?;
            self.apply_attrs(
                &std::fs::File::from(fd),
                &Resource::Dir(dir_path),
                attrs,
                options,
            )?;
        }
        Ok(())
    }

    /// Reads the whole archive once: each entry, checked to stay below the destination, with
    /// the sizes held to `budget` bytes and the count to the item limit.
    fn plan(&self, archive: &FileHandle, dest: &AbsPath, budget: u64) -> HostResult<Vec<Planned>> {
        let path = archive.path();
        let mut tar = tar::Archive::new(self.archive_stream(archive)?);
        let mut plan = Vec::new();
        let mut total = 0u64;
        for entry in tar.entries().map_err(|e| io_error("read", path, e))? {
            let entry = entry.map_err(|e| io_error("read", path, e))?;
            let planned = planned_entry(&entry, dest)?;
            total = total.saturating_add(planned.size);
            if total > budget {
                return Err(HostError::TooLarge {
                    what: format!("the content of {path}"),
                    limit: format!("{MAX_EXPANSION} times the archive's size ({budget} bytes)"),
                });
            }
            if plan.len() >= self.limits.max_items {
                return Err(HostError::TooLarge {
                    what: format!("the entries of {path}"),
                    limit: format!("{} items (max_items)", self.limits.max_items),
                });
            }
            plan.push(planned);
        }
        Ok(plan)
    }

    /// The tar stream of the archive: gunzipped when it starts as gzip does.
    fn archive_stream(&self, archive: &FileHandle) -> HostResult<Box<dyn Read>> {
        let mut probe = self.format_reader(archive)?;
        let mut magic = [0u8; 2];
        let gzipped = probe.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        let input = BufReader::with_capacity(CHUNK, self.format_reader(archive)?);
        Ok(if gzipped {
            Box::new(MultiGzDecoder::new(input))
        } else {
            Box::new(input)
        })
    }

    /// The file `name` in `dir`, created or emptied, under `create` + `write` on it; never
    /// through a symlink.
    fn create_in(&self, dir: &OpenDir, name: &str, path: &AbsPath) -> HostResult<std::fs::File> {
        let permit = self.gate.authorize(
            &[Action::FsCreate, Action::FsWrite],
            &Resource::File(path.clone()),
        )?;
        let raw = CString::new(name).map_err(|e| HostError::InvalidInput(e.to_string()))?;
        let fd = dir
            .open(&raw, &permit, OpenMode::Truncate)
            .map_err(|e| refuse_link(path, e, "open for writing"))?;
        let file = crate::fs::read::regular_file(fd, path)?;
        file.set_len(0)
            .map_err(|e| HostError::io("write", path, e))?;
        Ok(file)
    }

    /// The archive's mode, owner and time on an extracted entry, as the options ask.
    fn apply_attrs(
        &self,
        file: &std::fs::File,
        resource: &Resource,
        attrs: Attrs,
        options: ExtractOptions,
    ) -> HostResult<()> {
        let path = resource.to_string();
        if options.preserve_permissions {
            // As in Rex, a denied chmod leaves the default mode rather than failing.
            if let Ok(permit) = self.gate.authorize(&[Action::FsChmod], resource) {
                crate::effect::check(&permit, &[Action::FsChmod], resource)
                    .map_err(|e| HostError::io("chmod", &path, e))?;
                rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(attrs.mode & 0o7777))
                    .map_err(|e| HostError::io("chmod", &path, e.into()))?;
            }
        }
        if options.preserve_ownership {
            let permit = self.gate.authorize(&[Action::FsChown], resource)?;
            crate::effect::check(&permit, &[Action::FsChown], resource)
                .map_err(|e| HostError::io("chown", &path, e))?;
            let (uid, gid) = (attrs.uid, attrs.gid);
            // Ids from the archive: those that do not fit are not kept.
            if let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) {
                rustix::fs::fchown(
                    file.as_fd(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                )
                .map_err(|e| HostError::io("chown", &path, e.into()))?;
            }
        }
        if options.preserve_timestamps {
            let mtime = Timespec {
                tv_sec: i64::try_from(attrs.mtime).unwrap_or(i64::MAX),
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: Timespec {
                    tv_sec: 0,
                    tv_nsec: rustix::fs::UTIME_OMIT,
                },
                last_modification: mtime,
            };
            rustix::fs::futimens(file.as_fd(), &times)
                .map_err(|e| HostError::io("set the time of", &path, e.into()))?;
        }
        Ok(())
    }
}

/// The directories below the destination, opened (or made) once each.
struct Dirs<'h> {
    host: &'h Host,
    open: HashMap<Vec<String>, OpenDir>,
}

impl Dirs<'_> {
    /// The directory at `parts` below the destination, each missing one made under `create`
    /// on it; an existing symlink on the way is refused, not followed.
    fn dir(&mut self, parts: &[String]) -> HostResult<&OpenDir> {
        for depth in 1..=parts.len() {
            let key = &parts[..depth];
            if self.open.contains_key(key) {
                continue;
            }
            let parent = &self.open[&parts[..depth - 1]];
            let name = &parts[depth - 1];
            let path = parent.path().join(name)?;
            let opened = self.open_or_make(parent, name, &path)?;
            self.open.insert(key.to_vec(), opened);
        }
        Ok(&self.open[parts])
    }

    fn open_or_make(&self, parent: &OpenDir, name: &str, path: &AbsPath) -> HostResult<OpenDir> {
        let gate = &self.host.gate;
        let raw = CString::new(name).map_err(|e| HostError::InvalidInput(e.to_string()))?;
        let resource = Resource::Dir(path.clone());
        let permit = gate.authorize(OPEN, &resource)?;
        match parent.open_dir(&raw, &permit) {
            Ok(dir) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(refuse_link(path, e, "open")),
        }
        let create = gate.authorize(&[Action::FsCreate], &resource)?;
        parent
            .make_dir(&create)
            .map_err(|e| HostError::io("create", path, e))?;
        parent
            .open_dir(&raw, &permit)
            .map_err(|e| refuse_link(path, e, "open"))
    }
}

#[derive(Clone, Copy, Debug)]
struct Attrs {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

fn header_attrs(header: &tar::Header) -> Attrs {
    Attrs {
        mode: header.mode().unwrap_or(0o644),
        uid: header.uid().unwrap_or(u64::MAX),
        gid: header.gid().unwrap_or(u64::MAX),
        mtime: header.mtime().unwrap_or(0),
    }
}

/// An entry's name and kind, refused if it would land outside the destination.
fn planned_entry<R: Read>(entry: &tar::Entry<'_, R>, dest: &AbsPath) -> HostResult<Planned> {
    let raw = entry.path_bytes();
    let name = std::str::from_utf8(&raw).map_err(|_| {
        HostError::InvalidInput(format!(
            "archive entry {:?} has a name that is not UTF-8; refused",
            String::from_utf8_lossy(&raw)
        ))
    })?;
    let parts = below(name, &[]).ok_or_else(|| escapes(name, dest))?;
    let header = entry.header();
    let kind = match header.entry_type() {
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink | EntryType::Link => {
            let target = entry.link_name_bytes().ok_or_else(|| escapes(name, dest))?;
            let target = String::from_utf8_lossy(&target);
            // A symlink's target is relative to its directory; a hard link's to the root.
            let base = if header.entry_type() == EntryType::Symlink {
                &parts[..parts.len().saturating_sub(1)]
            } else {
                &[][..]
            };
            if target.starts_with('/') || below(&target, base).is_none() {
                return Err(HostError::InvalidInput(format!(
                    "archive entry {name} links to {target}, outside {dest}; the archive is refused"
                )));
            }
            Kind::Skipped
        }
        _ => Kind::Skipped,
    };
    if parts.is_empty() && kind != Kind::Dir {
        return Err(escapes(name, dest));
    }
    let size = if kind == Kind::File { entry.size() } else { 0 };
    Ok(Planned { parts, kind, size })
}

/// The components of the relative name `name` resolved from `base`, or `None` if it is
/// absolute or climbs above the destination.
fn below(name: &str, base: &[String]) -> Option<Vec<String>> {
    if name.starts_with('/') {
        return None;
    }
    let mut parts = base.to_vec();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p.to_owned()),
        }
    }
    // `..` inside a name is refused even when it stays below: nothing legitimate needs it.
    if name.split('/').any(|p| p == "..") && base.is_empty() {
        return None;
    }
    Some(parts)
}

fn target(dest: &AbsPath, parts: &[String]) -> HostResult<AbsPath> {
    let mut path = dest.clone();
    for part in parts {
        path = path.join(part)?;
    }
    Ok(path)
}

fn escapes(name: &str, dest: &AbsPath) -> HostError {
    HostError::InvalidInput(format!(
        "archive entry {name:?} would be written outside {dest}; the archive is refused"
    ))
}

fn changed(path: &AbsPath) -> HostError {
    HostError::InvalidInput(format!(
        "{path} changed while it was being extracted; nothing more was written"
    ))
}

fn refuse_link(path: &AbsPath, e: io::Error, op: &'static str) -> HostError {
    if is_link_error(&e) {
        HostError::InvalidInput(format!(
            "{path} is a symlink; extraction does not write through symlinks"
        ))
    } else {
        HostError::io(op, path, e)
    }
}
