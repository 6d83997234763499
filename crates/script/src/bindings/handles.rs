//! The handle API, as Rex has it: `DirConfig().path(p).build().open(OpenDirOptions().build())`
//! gives a directory handle (`RcDirHandle`), `dir.open_file(name, OpenFileOptions()...)` a
//! file handle (`RcFileHandle`), `dir.open_symlink(name)` a symlink handle; their methods act
//! on the descriptors they hold (see `tollgate_host::fs::handle`), each asking the gate for
//! the action Rex checks. The option builders are in `handle_options`, the entry and metadata
//! types in `entries`.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};
use tollgate_host::fs::{
    replace_text, DirHandle, DirOptions, DiskUsageOptions, DuOptions, FileHandle, FileOptions,
    FindFilter, HandleMetadata, LinesWanted, Owner, SymlinkHandle,
};
use tollgate_host::Host;

use super::entries::{clamp, DirEntry, EntryType, Metadata, Ownership};
use super::exec::{self, ExecuteOptions};
use super::handle_options::{self as opts, Built};
use super::objects::{object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The result object types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    Match::KIND,
    WordCount::KIND,
    DiskUsageEntry::KIND,
    DiskUsageResult::KIND,
    HANDLES,
];

/// Open handles as plain data (in `to_map()` results and the run's JSON output): their
/// paths. Their types are registered in [`register`].
const HANDLES: Kind = Kind {
    register: |_| {},
    plain: |v| {
        let path = if let Some(d) = v.read_lock::<Dir>() {
            d.0.path().to_string()
        } else if let Some(f) = v.read_lock::<File>() {
            f.0.try_borrow().ok()?.path().to_string()
        } else {
            v.read_lock::<Symlink>()?.0.path().to_string()
        };
        Some(Dynamic::from(path))
    },
};

/// An open directory, as scripts hold it (Rex's `RcDirHandle`).
#[derive(Clone, Debug)]
pub(crate) struct Dir(pub(crate) Rc<DirHandle>);

/// An open file, as scripts hold it (Rex's `RcFileHandle`).
#[derive(Clone, Debug)]
pub(crate) struct File(pub(crate) Rc<RefCell<FileHandle>>);

/// An open symlink (Rex's `RcSymlinkHandle`).
#[derive(Clone, Debug)]
pub(crate) struct Symlink(pub(crate) Rc<SymlinkHandle>);

const DIR_TYPE: &str = "rust_safe_io::dir::common::RcDirHandle";
const FILE_TYPE: &str = "rust_safe_io::file::common::RcFileHandle";
const SYMLINK_TYPE: &str = "rust_safe_io::symlink::common::RcSymlinkHandle";

object! {
    /// One line `file.search(pattern)` found.
    pub(crate) struct Match as "rust_safe_io::file::search::Match" {
        line_number: i64,
        line_content: String,
    }
}

object! {
    /// What `file.counts()` counts.
    pub(crate) struct WordCount as "rust_safe_io::file::counts::WordCount" {
        line_count: i64,
        word_count: i64,
        byte_count: i64,
    }
}

object! {
    /// One entry of a disk usage report.
    pub(crate) struct DiskUsageEntry as "rust_safe_io::dir::unix::disk_usage::DiskUsageEntry" {
        path: String,
        size_bytes: i64,
        inode_count: i64,
    }
}

object! {
    /// What `dir.disk_usage(options)` found: the entries, and with `track_largest_subdir` the
    /// largest reported subdirectory as an open directory handle (else `()`).
    pub(crate) struct DiskUsageResult as "rust_safe_io::dir::unix::disk_usage::DiskUsageResult" {
        entries: Array,
        largest_subdir_handle: Dynamic,
    }
}

super::objects::display_as_type_name!(Match, WordCount, DiskUsageEntry, DiskUsageResult);

/// Rex's `Metadata` from the host's.
pub(crate) fn metadata(m: HandleMetadata) -> Metadata {
    Metadata {
        kind: EntryType::of_mode(m.mode),
        file_size: m.size,
        mode: m.mode,
        num_hardlinks: m.nlink,
        mtime: m.mtime,
        mtime_nanos: m.mtime_nanos,
        blocks: m.blocks,
        owner: ownership(m.owner),
        symlink_target: m.symlink_target,
    }
}

fn ownership(o: Owner) -> Ownership {
    Ownership {
        user: o.user,
        group: o.group,
    }
}

fn file_options(o: &opts::OpenFile) -> Result<FileOptions> {
    let permissions = match o.permissions {
        Some(p) => Some(
            u32::try_from(p)
                .ok()
                .filter(|p| *p <= 0o7777)
                .ok_or_else(|| invalid(format!("{p} is not a permission mode")))?,
        ),
        None => None,
    };
    Ok(FileOptions {
        read: o.read,
        write: o.write,
        create: o.create,
        permissions,
        follow_symlinks: o.follow_symlinks,
    })
}

fn mode(p: i64) -> Result<u32> {
    u32::try_from(p)
        .ok()
        .filter(|p| *p <= 0o7777)
        .ok_or_else(|| invalid(format!("{p} is not a permission mode")))
}

fn file(f: FileHandle) -> File {
    File(Rc::new(RefCell::new(f)))
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    opts::register(engine);
    engine
        .register_type_with_name::<Dir>(DIR_TYPE)
        .register_type_with_name::<File>(FILE_TYPE)
        .register_type_with_name::<Symlink>(SYMLINK_TYPE);
    engine.register_fn("to_string", |_: &mut Dir| DIR_TYPE.to_owned());
    engine.register_fn("to_string", |_: &mut File| FILE_TYPE.to_owned());
    engine.register_fn("to_string", |_: &mut Symlink| SYMLINK_TYPE.to_owned());
    register_opening(engine, &host);
    register_reading(engine, &host);
    register_changing(engine, &host);
    register_directories(engine, &host);
    register_entries(engine, &host);
    engine.register_fn(
        "replace_text",
        |text: &str, old: &str, new: &str, o: Built<opts::Replacement>| {
            replace_text(text, old, new, o.0.is_regex, o.0.replace_all).map_err(host_error)
        },
    );
}

fn register_opening(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "open",
        with_host!(
            host,
            move |c: &mut Built<opts::DirConfig>, o: Built<opts::OpenDir>| {
                let host = host.call("DirConfig.open");
                let path = c.0.path.clone().unwrap_or_default();
                let options = DirOptions {
                    create: o.0.create,
                    recursive: o.0.recursive,
                    follow_symlinks: o.0.follow_symlinks,
                };
                host.open_dir(&path, options)
                    .map(|d| Dir(Rc::new(d)))
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "open_file",
        with_host!(
            host,
            move |d: &mut Dir, name: &str, o: Built<opts::OpenFile>| {
                let host = host.call("RcDirHandle.open_file");
                host.open_file(&d.0, name, file_options(&o.0)?)
                    .map(file)
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "open_symlink",
        with_host!(host, move |d: &mut Dir, name: &str| {
            let host = host.call("RcDirHandle.open_symlink");
            host.open_symlink(&d.0, name)
                .map(|s| Symlink(Rc::new(s)))
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "execute",
        with_host!(host, move |f: &mut File, o: ExecuteOptions| {
            let host = host.call("RcFileHandle.execute");
            host.execute_handle(&f.0.borrow(), &o.for_host(&host)?)
                .map(exec::result)
                .map_err(host_error)
        }),
    );
}

fn strings(lines: Vec<String>) -> Array {
    lines.into_iter().map(Dynamic::from).collect()
}

fn register_reading(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "read",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.read");
            host.read_handle(&mut f.0.borrow_mut()).map_err(host_error)
        }),
    );
    engine.register_fn(
        "read_lines",
        with_host!(host, move |f: &mut File, o: Built<opts::ReadLines>| {
            let host = host.call("RcFileHandle.read_lines");
            let wanted = LinesWanted {
                count: o.0.count,
                start: o.0.start,
            };
            host.read_lines(&mut f.0.borrow_mut(), wanted)
                .map(strings)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "read_page",
        with_host!(host, move |f: &mut File, o: Built<opts::ReadPage>| {
            let host = host.call("RcFileHandle.read_page");
            host.read_page(&mut f.0.borrow_mut(), o.0.num_lines)
                .map(strings)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "search",
        with_host!(host, move |f: &mut File, pattern: &str| {
            let host = host.call("RcFileHandle.search");
            let found = host
                .search_handle(&mut f.0.borrow_mut(), pattern)
                .map_err(host_error)?;
            Ok::<Array, Box<EvalAltResult>>(
                found
                    .into_iter()
                    .map(|m| {
                        Dynamic::from(Match {
                            line_number: clamp(m.line_number),
                            line_content: m.line,
                        })
                    })
                    .collect(),
            )
        }),
    );
    engine.register_fn(
        "counts",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.counts");
            let c = host
                .counts_handle(&mut f.0.borrow_mut())
                .map_err(host_error)?;
            Ok::<WordCount, Box<EvalAltResult>>(WordCount {
                line_count: clamp(c.lines),
                word_count: clamp(c.words),
                byte_count: clamp(c.bytes),
            })
        }),
    );
    engine.register_fn(
        "metadata",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.metadata");
            host.file_metadata(&f.0.borrow())
                .map(metadata)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "get_ownership",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.get_ownership");
            host.file_owner(&f.0.borrow())
                .map(ownership)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "get_last_modified_time",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.get_last_modified_time");
            host.modified_nanos(&f.0.borrow()).map_err(host_error)
        }),
    );
    engine.register_fn(
        "disk_usage",
        with_host!(host, move |f: &mut File, o: Built<opts::DiskUsage>| {
            let host = host.call("RcFileHandle.disk_usage");
            // One file is one entry whatever the other options say, as `du FILE` is: it is
            // its own summary and its only file (`summarize`, `all_files`), at depth 0
            // (`max_depth`), counted once (`count_hard_links`), on its own file system
            // (`one_file_system`), with no subdirectory to track (`track_largest_subdir`).
            // Only the size it reports depends on them: `apparent_size`.
            max_depth(o.0.max_depth)?;
            let h = f.0.borrow();
            let (size, inodes) = host
                .file_disk_usage(&h, o.0.apparent_size)
                .map_err(host_error)?;
            Ok::<DiskUsageEntry, Box<EvalAltResult>>(DiskUsageEntry {
                path: h.path().to_string(),
                size_bytes: clamp(size),
                inode_count: clamp(inodes),
            })
        }),
    );
}

fn register_changing(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "write",
        with_host!(host, move |f: &mut File, content: &str| {
            let host = host.call("RcFileHandle.write");
            host.write_handle(&mut f.0.borrow_mut(), content)
                .map_err(host_error)?;
            Ok::<File, Box<EvalAltResult>>(f.clone())
        }),
    );
    engine.register_fn(
        "write",
        with_host!(host, move |f: &mut File,
                               content: &str,
                               o: Built<opts::Write>| {
            let host = host.call("RcFileHandle.write");
            // Written in place, the file keeps its owner: `preserve_ownership(true)` always
            // holds, and `false` (the runner's file) only where it is the runner's already.
            let mut h = f.0.borrow_mut();
            if o.0.preserve_ownership {
                host.write_handle(&mut h, content)
            } else {
                host.write_handle_as_runner(&mut h, content)
            }
            .map_err(host_error)?;
            drop(h);
            Ok::<File, Box<EvalAltResult>>(f.clone())
        }),
    );
    engine.register_fn(
        "write_in_place",
        with_host!(host, move |f: &mut File, content: &str| {
            let host = host.call("RcFileHandle.write_in_place");
            host.write_in_place(&mut f.0.borrow_mut(), content)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "truncate",
        with_host!(host, move |f: &mut File, o: Built<opts::Sized>| {
            let host = host.call("RcFileHandle.truncate");
            host.truncate_handle(&f.0.borrow(), o.0.bytes()?)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "fallocate",
        with_host!(host, move |f: &mut File, o: Built<opts::Allocate>| {
            let host = host.call("RcFileHandle.fallocate");
            host.fallocate_handle(&f.0.borrow(), o.0 .0.bytes()?)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "chmod",
        with_host!(host, move |f: &mut File, m: i64| {
            let host = host.call("RcFileHandle.chmod");
            host.chmod_handle(&f.0.borrow(), mode(m)?)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "set_ownership",
        with_host!(host, move |f: &mut File, o: Built<opts::SetOwnership>| {
            let host = host.call("RcFileHandle.set_ownership");
            host.chown_handle(&f.0.borrow(), o.0.user.as_deref(), o.0.group.as_deref())
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "set_extended_attr",
        with_host!(host, move |f: &mut File, o: Built<opts::SetXAttr>| {
            let host = host.call("RcFileHandle.set_extended_attr");
            let (name, value) = xattr(&o.0)?;
            host.set_xattr_handle(&f.0.borrow(), &name, &value)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "delete",
        with_host!(host, move |f: &mut File, o: Built<opts::DeleteFile>| {
            let host = host.call("RcFileHandle.delete");
            host.delete_file_handle(&f.0.borrow(), o.0.force)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "copy",
        with_host!(
            host,
            move |f: &mut File, dest: File, o: Built<opts::CopyFile>| {
                let host = host.call("RcFileHandle.copy");
                if Rc::ptr_eq(&f.0, &dest.0) {
                    return Err(invalid("a file cannot be copied onto itself"));
                }
                host.copy_handle(
                    &mut f.0.borrow_mut(),
                    &mut dest.0.borrow_mut(),
                    o.0.force,
                    o.0.preserve,
                )
                .map_err(host_error)?;
                Ok(dest)
            }
        ),
    );
    engine.register_fn(
        "move",
        with_host!(host, move |ctx: NativeCallContext,
                               f: &mut File,
                               dest: Dir,
                               name: &str,
                               o: Built<opts::Move>|
              -> Result<File> {
            let host = host.call("RcFileHandle.move");
            let line = host
                .move_file_handle(&mut f.0.borrow_mut(), &dest.0, name, o.0.backup)
                .map_err(host_error)?;
            log_move(&ctx, &o.0, line)?;
            Ok(f.clone())
        }),
    );
}

/// With `MoveOptions().verbose(true)`, logs where it moved (as Rex does).
fn log_move(ctx: &NativeCallContext, o: &opts::Move, line: String) -> Result<()> {
    if o.verbose {
        ctx.call_native_fn::<()>("info", (line,))?;
    }
    Ok(())
}

/// The attribute a `SetXAttrOptions` sets and its value: the SELinux context its four parts
/// make, under its `name` (`security.selinux` when not given). All four parts are needed
/// (Rex keeps the file's own for a missing one, which this does not read), and a part may not
/// hold the `:` between parts, a space or a control character.
fn xattr(o: &opts::SetXAttr) -> Result<(String, String)> {
    let parts = [
        &o.selinux_user,
        &o.selinux_role,
        &o.selinux_type,
        &o.selinux_level,
    ];
    if parts.iter().all(|p| p.is_some()) {
        let context: Vec<&str> = parts.iter().filter_map(|p| p.as_deref()).collect();
        if context.iter().any(|c| {
            c.is_empty()
                || c.contains(|ch: char| ch.is_whitespace() || ch.is_control() || ch == ':')
        }) {
            return Err(invalid(
                "an SELinux context part is empty or has a ':', a space or a control character",
            ));
        }
        return Ok((
            o.name
                .clone()
                .unwrap_or_else(|| "security.selinux".to_owned()),
            context.join(":"),
        ));
    }
    Err(invalid(
        "SetXAttrOptions needs selinux_user, selinux_role, selinux_type and selinux_level",
    ))
}

fn register_directories(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "list_entries",
        with_host!(host, move |d: &mut Dir| {
            let host = host.call("RcDirHandle.list_entries");
            let entries = host.list_handle(&d.0).map_err(host_error)?;
            Ok::<Map, Box<EvalAltResult>>(
                entries
                    .iter()
                    .map(|e| {
                        (
                            e.name.clone().into(),
                            Dynamic::from(DirEntry::in_handle(e, &d.0)),
                        )
                    })
                    .collect(),
            )
        }),
    );
    engine.register_fn(
        "metadata",
        with_host!(host, move |d: &mut Dir| {
            let host = host.call("RcDirHandle.metadata");
            host.dir_metadata(&d.0).map(metadata).map_err(host_error)
        }),
    );
    engine.register_fn(
        "get_ownership",
        with_host!(host, move |d: &mut Dir| {
            let host = host.call("RcDirHandle.get_ownership");
            host.dir_owner(&d.0).map(ownership).map_err(host_error)
        }),
    );
    engine.register_fn(
        "chmod",
        with_host!(host, move |d: &mut Dir, o: Built<opts::ChmodDir>| {
            let host = host.call("RcDirHandle.chmod");
            let m = mode(o.0.permissions.unwrap_or(0))?;
            host.chmod_dir_handle(&d.0, m, o.0.recursive)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "set_ownership",
        with_host!(host, move |d: &mut Dir, o: Built<opts::SetOwnership>| {
            let host = host.call("RcDirHandle.set_ownership");
            host.chown_dir_handle(
                &d.0,
                o.0.user.as_deref(),
                o.0.group.as_deref(),
                o.0.recursive,
            )
            .map_err(host_error)
        }),
    );
    engine.register_fn(
        "delete",
        with_host!(host, move |d: &mut Dir, o: Built<opts::DeleteDir>| {
            let host = host.call("RcDirHandle.delete");
            host.delete_dir_handle(&d.0, o.0.recursive, o.0.force)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "move",
        with_host!(host, move |ctx: NativeCallContext,
                               parent: &mut Dir,
                               src: Dir,
                               dest: Dir,
                               name: &str,
                               o: Built<opts::Move>|
              -> Result<Dir> {
            let host = host.call("RcDirHandle.move");
            let (moved, line) = host
                .move_dir_handle(&parent.0, &src.0, &dest.0, name, o.0.backup)
                .map_err(host_error)?;
            log_move(&ctx, &o.0, line)?;
            Ok(Dir(Rc::new(moved)))
        }),
    );
    engine.register_fn(
        "disk_usage",
        with_host!(host, move |d: &mut Dir, o: Built<opts::DiskUsage>| {
            let host = host.call("RcDirHandle.disk_usage");
            disk_usage(&host, &d.0, &o.0)
        }),
    );
    engine.register_fn(
        "create_symlink",
        with_host!(
            host,
            move |d: &mut Dir, target: &str, name: &str, o: Built<opts::CreateSymlink>| {
                let host = host.call("RcDirHandle.create_symlink");
                host.create_symlink(&d.0, target, name, o.0.force)
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "read_link_target",
        with_host!(host, move |d: &mut Dir, name: &str| {
            let host = host.call("RcDirHandle.read_link_target");
            host.read_link_target(&d.0, name).map_err(host_error)
        }),
    );
    engine.register_fn(
        "metadata",
        with_host!(host, move |s: &mut Symlink| {
            let host = host.call("RcSymlinkHandle.metadata");
            host.symlink_metadata(&s.0)
                .map(metadata)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "set_ownership",
        with_host!(
            host,
            move |s: &mut Symlink, o: Built<opts::SetOwnership>| {
                let host = host.call("RcSymlinkHandle.set_ownership");
                host.chown_symlink(&s.0, o.0.user.as_deref(), o.0.group.as_deref())
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "find",
        with_host!(host, move |ctx: NativeCallContext,
                               d: &mut Dir,
                               o: Built<opts::Find>,
                               f: FnPtr| {
            let host = host.call("RcDirHandle.find");
            find(&host, &ctx, &d.0, &o.0, &f)
        }),
    );
}

/// `DiskUsageOptions().max_depth(d)`: a depth, 0 or more.
fn max_depth(d: Option<i64>) -> Result<Option<usize>> {
    d.map(|d| {
        usize::try_from(d).map_err(|_| {
            invalid(format!(
                "DiskUsageOptions: max_depth must be 0 or more, got {d}"
            ))
        })
    })
    .transpose()
}

/// `dir.disk_usage(options)`.
fn disk_usage(host: &Host, dir: &DirHandle, o: &opts::DiskUsage) -> Result<DiskUsageResult> {
    let max_depth = max_depth(o.max_depth)?;
    let options = DiskUsageOptions {
        du: DuOptions {
            summarize: o.summarize,
            all_files: o.all_files,
            apparent_size: o.apparent_size,
            max_depth,
        },
        count_hard_links: o.count_hard_links,
        one_file_system: o.one_file_system,
        track_largest_subdir: o.track_largest_subdir,
    };
    let found = host.disk_usage_handle(dir, options).map_err(host_error)?;
    Ok(DiskUsageResult {
        entries: found
            .entries
            .into_iter()
            .map(|e| {
                Dynamic::from(DiskUsageEntry {
                    path: e.path.to_string(),
                    size_bytes: clamp(e.size_bytes),
                    inode_count: clamp(e.inode_count),
                })
            })
            .collect(),
        largest_subdir_handle: found
            .largest_subdir
            .map_or(Dynamic::UNIT, |d| Dynamic::from(Dir(Rc::new(d)))),
    })
}

/// `dir.find(options, callback)`: calls `callback` with each entry below the directory that
/// the options select (see `Host::find_handle`); the callback's first error ends the walk.
fn find(
    host: &Host,
    ctx: &NativeCallContext,
    dir: &Rc<DirHandle>,
    o: &opts::Find,
    f: &FnPtr,
) -> Result<()> {
    if o.follow_symlinks {
        return Err(invalid(
            "FindOptions().follow_symlinks(true) is not supported: a walk never follows links",
        ));
    }
    // As in Rex, a negative depth is refused rather than read as 0.
    let depth = |d: Option<i64>, what: &str| {
        d.map(|d| {
            u64::try_from(d)
                .map_err(|_| invalid(format!("FindOptions: {what} must be 0 or more, got {d}")))
        })
        .transpose()
    };
    let filter = FindFilter {
        name: o.name.clone(),
        iname: o.iname.clone(),
        regex: o.regex.clone(),
        negate_name: o.negate_name,
        min_size: o.size_range.and_then(|r| r.min),
        max_size: o.size_range.and_then(|r| r.max),
        min_depth: depth(o.min_depth, "min_depth")?,
        max_depth: depth(o.max_depth, "max_depth")?,
        min_mtime: o.min_modification_time,
        max_mtime: o.max_modification_time,
        min_ctime: o.min_creation_time,
        max_ctime: o.max_creation_time,
    };
    for e in host.find_handle(dir, &filter).map_err(host_error)? {
        let entry = DirEntry::listed(&e, dir.path());
        // What the callback returns is not used, as in Rex.
        let _ = f.call_within_context::<Dynamic>(ctx, (entry,))?;
    }
    Ok(())
}

fn register_entries(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "metadata",
        with_host!(host, move |e: &mut DirEntry| {
            let host = host.call("DirEntry.metadata");
            let dir = e.dir.as_deref();
            host.entry_metadata(dir, &e.path)
                .map(metadata)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "open_as_file",
        with_host!(host, move |e: &mut DirEntry,
                               o: Built<opts::OpenFile>|
              -> Result<File> {
            let host = host.call("DirEntry.open_as_file");
            if let Some(opened) = e.opened.borrow().as_ref() {
                if let Some(f) = opened.clone().try_cast::<File>() {
                    return Ok(f);
                }
            }
            let f = host
                .open_entry_as_file(e.dir.as_deref(), &e.path, e.inode, file_options(&o.0)?)
                .map(file)
                .map_err(host_error)?;
            *e.opened.borrow_mut() = Some(Dynamic::from(f.clone()));
            Ok(f)
        }),
    );
    engine.register_fn(
        "open_as_dir",
        with_host!(host, move |e: &mut DirEntry,
                               o: Built<opts::OpenDir>|
              -> Result<Dir> { let host = host.call("DirEntry.open_as_dir"); 
            // The entry exists (it was listed), so `create` and `recursive` have nothing to
            // make; a symlink is never followed from an entry (its target is opened by path,
            // `DirConfig().path(target)`, and asked as that), so `follow_symlinks` is refused
            // rather than dropped where it would matter.
            if o.0.follow_symlinks && e.kind == EntryType::Symlink {
                return Err(invalid(format!(
                    "open_as_dir: OpenDirOptions().follow_symlinks(true) is not supported for an entry: {} is a symlink, and an entry is opened as it was listed; open its target with DirConfig().path(target).build().open(OpenDirOptions().follow_symlinks(true).build())",
                    e.path
                )));
            }
            if let Some(opened) = e.opened.borrow().as_ref() {
                if let Some(d) = opened.clone().try_cast::<Dir>() {
                    return Ok(d);
                }
            }
            let d = host
                .open_entry_as_dir(e.dir.as_deref(), &e.path, e.inode)
                .map(|d| Dir(Rc::new(d)))
                .map_err(host_error)?;
            *e.opened.borrow_mut() = Some(Dynamic::from(d.clone()));
            Ok(d)
        }),
    );
}
