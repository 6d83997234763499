//! Directory entries and metadata as Rex returns them (`DirEntry`, `Metadata`, `EntryType`,
//! `Ownership`): what `ls` and a directory handle's `list_entries` give.
//!
//! `DirEntry` and `Metadata` are written out by hand rather than with `object!`: Rex reads
//! most of their values through methods (`m.file_size()`), not getters, and a `DirEntry`
//! carries, besides its fields, the directory it was listed from (to open it beneath that
//! descriptor), which `to_map` must not show. `EntryType`'s constants (`EntryType::FILE`)
//! are named otherwise than it prints (`File`), which `enumeration!` cannot say.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use rhai::{Dynamic, Engine, ImmutableString, Map, Module};
use tollgate_host::fs::{DirHandle, Entry};
use tollgate_policy::AbsPath;

use super::objects::{object, Kind};

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    EntryType::KIND,
    DirEntry::KIND,
    Metadata::KIND,
    Ownership::KIND,
];

/// What kind of file system object an entry is. Scripts see `EntryType::FILE`, ...; it
/// prints, and maps show it, as `File`, `Dir`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryType {
    File,
    Dir,
    Symlink,
    Unknown,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl EntryType {
    /// Each value with its constant's name.
    const ALL: &'static [(&'static str, EntryType)] = &[
        ("FILE", EntryType::File),
        ("DIR", EntryType::Dir),
        ("SYMLINK", EntryType::Symlink),
        ("UNKNOWN", EntryType::Unknown),
        ("FIFO", EntryType::Fifo),
        ("SOCKET", EntryType::Socket),
        ("CHAR_DEVICE", EntryType::CharDevice),
        ("BLOCK_DEVICE", EntryType::BlockDevice),
    ];

    /// The type of an `st_mode`.
    pub(crate) fn of_mode(mode: u32) -> EntryType {
        match mode & libc::S_IFMT {
            libc::S_IFREG => EntryType::File,
            libc::S_IFDIR => EntryType::Dir,
            libc::S_IFLNK => EntryType::Symlink,
            libc::S_IFIFO => EntryType::Fifo,
            libc::S_IFSOCK => EntryType::Socket,
            libc::S_IFCHR => EntryType::CharDevice,
            libc::S_IFBLK => EntryType::BlockDevice,
            _ => EntryType::Unknown,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            EntryType::File => "File",
            EntryType::Dir => "Dir",
            EntryType::Symlink => "Symlink",
            EntryType::Unknown => "Unknown",
            EntryType::Fifo => "Fifo",
            EntryType::Socket => "Socket",
            EntryType::CharDevice => "CharDevice",
            EntryType::BlockDevice => "BlockDevice",
        }
    }

    pub(crate) const KIND: Kind = Kind {
        register: |engine: &mut Engine| {
            engine.register_type_with_name::<EntryType>("EntryType");
            let mut module = Module::new();
            for (name, v) in EntryType::ALL {
                module.set_var(*name, *v);
            }
            engine.register_static_module("EntryType", module.into());
            engine.register_fn("==", |a: &mut EntryType, b: EntryType| *a == b);
            engine.register_fn("!=", |a: &mut EntryType, b: EntryType| *a != b);
            // Against a string by its printed name (`File`): Tollgate's addition, as for
            // every enum (see `objects::enumeration`).
            engine.register_fn("==", |a: &mut EntryType, b: ImmutableString| {
                a.name() == b.as_str()
            });
            engine.register_fn("!=", |a: &mut EntryType, b: ImmutableString| {
                a.name() != b.as_str()
            });
            engine.register_fn("to_string", |a: &mut EntryType| a.name().to_owned());
            engine.register_fn("to_debug", |a: &mut EntryType| a.name().to_owned());
        },
        plain: |v: &Dynamic| {
            v.read_lock::<EntryType>()
                .map(|t| Dynamic::from(t.name().to_owned()))
        },
    };
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of a directory listing: its name, inode and type, and where it was listed, so
/// that `open_as_file`, `open_as_dir` and `metadata` act on that same object.
#[derive(Clone, Debug)]
pub(crate) struct DirEntry {
    pub(crate) name: String,
    pub(crate) inode: u64,
    pub(crate) kind: EntryType,
    /// The entry's full path.
    pub(crate) path: AbsPath,
    /// The directory handle it was listed from, when it came from `list_entries`: the entry
    /// is then opened beneath that descriptor, never by resolving its path again.
    pub(crate) dir: Option<Rc<DirHandle>>,
    /// What the entry was opened as, once it was: as in Rex, opening it again (or asking its
    /// metadata) gives the same descriptor.
    pub(crate) opened: Rc<RefCell<Option<Dynamic>>>,
}

impl DirEntry {
    /// The entry `ls` listed in the directory at `dir` (a recursive listing's `sub/file` is
    /// named so, relative to `dir`).
    pub(crate) fn listed(entry: &Entry, _dir: &AbsPath) -> DirEntry {
        DirEntry {
            name: entry.name.clone(),
            inode: entry.inode,
            kind: EntryType::of_mode(entry.mode),
            path: entry.path.clone(),
            dir: None,
            opened: Rc::new(RefCell::new(None)),
        }
    }

    /// An entry a directory handle's `list_entries` gave.
    pub(crate) fn in_handle(entry: &Entry, dir: &Rc<DirHandle>) -> DirEntry {
        DirEntry {
            dir: Some(Rc::clone(dir)),
            ..DirEntry::listed(entry, dir.path())
        }
    }

    /// The script's `to_map()`: `{inode, name, type}`.
    pub(crate) fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("inode".into(), Dynamic::from(clamp(self.inode)));
        m.insert("name".into(), Dynamic::from(self.name.clone()));
        m.insert("type".into(), Dynamic::from(self.kind.name().to_owned()));
        m
    }

    /// The name `type_of` gives: Rex's.
    pub(crate) const TYPE_NAME: &'static str = "rust_safe_io::dir_entry::DirEntry";

    pub(crate) const KIND: Kind = Kind {
        register: |engine: &mut Engine| {
            engine.register_type_with_name::<DirEntry>(DirEntry::TYPE_NAME);
            engine.register_get("name", |e: &mut DirEntry| e.name.clone());
            engine.register_get("inode", |e: &mut DirEntry| clamp(e.inode));
            engine.register_fn("type", |e: &mut DirEntry| e.kind);
            engine.register_fn("to_map", |e: &mut DirEntry| e.to_map());
            engine.register_fn("to_string", |e: &mut DirEntry| e.to_string());
            engine.register_fn("to_debug", |e: &mut DirEntry| e.to_string());
        },
        plain: |v: &Dynamic| {
            v.read_lock::<DirEntry>()
                .map(|e| Dynamic::from_map(e.to_map()))
        },
    };
}

/// A file's metadata, as Rex's `Metadata`: read through methods (`file_size()`,
/// `permissions()`, ...) and the `owner` getter.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    pub(crate) kind: EntryType,
    pub(crate) file_size: u64,
    /// The whole `st_mode` (type and permission bits), as Rex gives it.
    pub(crate) mode: u32,
    pub(crate) num_hardlinks: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_nanos: i64,
    /// 512-byte blocks allocated.
    pub(crate) blocks: u64,
    pub(crate) owner: Ownership,
    /// Where a symlink points (`()` for anything else).
    pub(crate) symlink_target: Option<String>,
}

impl Metadata {
    /// The script's `to_map()`, with Rex's field names.
    pub(crate) fn to_map(&self) -> Map {
        let mut m = Map::new();
        let mut put = |k: &str, v: Dynamic| {
            m.insert(k.into(), v);
        };
        put(
            "allocated_size",
            Dynamic::from(clamp(self.blocks.saturating_mul(512))),
        );
        put("file_size", Dynamic::from(clamp(self.file_size)));
        put("last_modified_time", Dynamic::from(self.mtime));
        put("num_hardlinks", Dynamic::from(clamp(self.num_hardlinks)));
        put("owner_group", Dynamic::from(self.owner.group.clone()));
        put("owner_user", Dynamic::from(self.owner.user.clone()));
        put("permissions", Dynamic::from(i64::from(self.mode)));
        put(
            "symlink_target",
            self.symlink_target
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from),
        );
        put("type", Dynamic::from(self.kind.name().to_owned()));
        m
    }

    /// The name `type_of` gives: Rex's.
    pub(crate) const TYPE_NAME: &'static str = "rust_safe_io::dir_entry::Metadata";

    pub(crate) const KIND: Kind = Kind {
        register: |engine: &mut Engine| {
            engine.register_type_with_name::<Metadata>(Metadata::TYPE_NAME);
            engine.register_fn("type", |m: &mut Metadata| m.kind);
            engine.register_fn("file_size", |m: &mut Metadata| clamp(m.file_size));
            engine.register_fn("permissions", |m: &mut Metadata| i64::from(m.mode));
            engine.register_fn("num_hardlinks", |m: &mut Metadata| clamp(m.num_hardlinks));
            engine.register_fn("last_modified_time", |m: &mut Metadata| m.mtime);
            engine.register_fn("last_modified_time_nanos_component", |m: &mut Metadata| {
                m.mtime_nanos
            });
            engine.register_fn("blocks", |m: &mut Metadata| clamp(m.blocks));
            engine.register_fn("allocated_size", |m: &mut Metadata| {
                clamp(m.blocks.saturating_mul(512))
            });
            engine.register_fn("symlink_target", |m: &mut Metadata| {
                m.symlink_target
                    .clone()
                    .map_or(Dynamic::UNIT, Dynamic::from)
            });
            engine.register_get("owner", |m: &mut Metadata| m.owner.clone());
            engine.register_fn("to_map", |m: &mut Metadata| m.to_map());
            engine.register_fn("to_string", |m: &mut Metadata| m.to_string());
            engine.register_fn("to_debug", |m: &mut Metadata| m.to_string());
        },
        plain: |v: &Dynamic| {
            v.read_lock::<Metadata>()
                .map(|m| Dynamic::from_map(m.to_map()))
        },
    };
}

object! {
    /// The owning user and group of a file, by name (the number where the name is unknown).
    pub(crate) struct Ownership as "rust_safe_io::Ownership" {
        user: String,
        group: String,
    }
}

/// A count as a script integer. Rex fails on a value above `i64::MAX`; no file system count
/// reaches it, so it is clamped instead of failing a listing.
pub(crate) fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

super::objects::display_as_type_name!(DirEntry, Metadata, Ownership);
