//! What each SDK function asks the gate: the one table of it. The host's operations take
//! their action lists from the named sets here, `describe_sdk` renders its action lists from
//! [`TABLE`], the linter names the commands a grant enables from it, and tests hold the
//! README's table and the decisions a recording gate sees when every SDK function is called
//! (`crates/script/tests/sdk_table.rs`) to it. A function that is not in the table asks
//! nothing.

use crate::action::Action::{self, *};
use crate::resource::Resource;

/// `open`: a directory a file is reached through, or a directory handle.
pub const OPEN: &[Action] = &[FsOpen];
/// `open` + `read`: a file's bytes.
pub const READ: &[Action] = &[FsOpen, FsRead];
/// `open` + `redacted_read`: a file's text with its secrets replaced, where `read` is denied.
pub const READ_REDACTED: &[Action] = &[FsOpen, FsRedactedRead];
/// `read` + `stat`: a directory `sysctl_find` walks.
pub const WALK: &[Action] = &[FsRead, FsStat];
/// `open` + `read`: a directory `ls` or `find_files` lists (as in Rex, which opens each
/// directory it walks, then lists it).
pub const LIST: &[Action] = &[FsOpen, FsRead];
/// `open` + `read` + `stat`: a directory `du` measures: opened, listed, and its own size read.
pub const MEASURE_DIR: &[Action] = &[FsOpen, FsRead, FsStat];
/// `open` + `stat`: a file or symlink `du` measures (as in Rex, which opens an entry to read
/// its metadata).
pub const MEASURE: &[Action] = &[FsOpen, FsStat];
/// `read`: a kernel table read whole (`/proc/meminfo`, `/proc/mounts`, ...).
pub const KERNEL_TABLE: &[Action] = &[FsRead];
/// `open` + `create` + `write`: a file written, made when it is new.
pub const WRITE: &[Action] = &[FsOpen, FsCreate, FsWrite];
/// `open` + `write`: an existing file's content replaced (`sed -i`, `sysctl_write`).
pub const OVERWRITE: &[Action] = &[FsOpen, FsWrite];
/// `open` + `create` + `write`: a file made if missing, its times set (a change to the file,
/// so `write` as in Rex); no content is written.
pub const TOUCH: &[Action] = &[FsOpen, FsCreate, FsWrite];
/// `sysinfo::Action::"list"`: kernel, host name, processors, interfaces.
pub const SYSINFO: &[Action] = &[SysinfoList];

/// The type of entity an ask is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    File,
    Dir,
    /// A path asked about as a File, or as a Dir when it is a directory.
    FileOrDir,
    Process,
    Sysinfo,
    Hostname,
    Service,
    Systemd,
    Url,
}

impl Entity {
    /// The Cedar entity type, e.g. `file_system::File`.
    pub fn type_name(self) -> &'static str {
        match self {
            Entity::File => "file_system::File",
            Entity::Dir => "file_system::Dir",
            Entity::FileOrDir => "file_system::File or file_system::Dir",
            Entity::Process => "process_system::Process",
            Entity::Sysinfo => "sysinfo::Sysinfo",
            Entity::Hostname => "sysinfo::Hostname",
            Entity::Service => "systemd::Service",
            Entity::Systemd => "systemd::Systemd",
            Entity::Url => "network::url",
        }
    }

    /// Whether `resource` is an entity of this type.
    pub fn matches(self, resource: &Resource) -> bool {
        matches!(
            (self, resource),
            (Entity::File | Entity::FileOrDir, Resource::File(_))
                | (Entity::Dir | Entity::FileOrDir, Resource::Dir(_))
                | (Entity::Process, Resource::Process(_))
                | (Entity::Sysinfo, Resource::Sysinfo)
                | (Entity::Hostname, Resource::Hostname(_))
                | (Entity::Service, Resource::Service(_))
                | (Entity::Systemd, Resource::Systemd)
                | (Entity::Url, Resource::Url(_))
        )
    }
}

/// Which entities of the type an ask is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The one entity of a type that has one (`sysinfo::Sysinfo`, `systemd::Systemd`).
    Only,
    /// The entity with this id, always the same (`/proc/meminfo`).
    Id(&'static str),
    /// The entities the call names or reaches, described: "the file", "each directory walked".
    Role(&'static str),
}

/// One request an SDK function makes: every action in `actions`, on the entity `entity` and
/// `which` say, asked together.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    pub actions: &'static [Action],
    pub entity: Entity,
    pub which: Which,
    /// `None`: on every call. Otherwise the case in which it is asked (and only then), as a
    /// phrase that follows the rest: "with cp::preserve", "when read is denied (...)".
    pub when: Option<&'static str>,
}

impl Ask {
    /// `open + read on file_system::File (the file)`, then the case if there is one.
    pub fn describe(&self) -> String {
        let actions: Vec<&str> = self.actions.iter().map(|a| a.name()).collect();
        let on = match self.which {
            Which::Only => self.entity.type_name().to_owned(),
            Which::Id(id) => format!("{}::{id:?}", self.entity.type_name()),
            Which::Role(role) => format!("{} ({role})", self.entity.type_name()),
        };
        match self.when {
            Some(when) => format!("{} on {on}, {when}", actions.join(" + ")),
            None => format!("{} on {on}", actions.join(" + ")),
        }
    }
}

/// What one SDK function asks, in the order it asks.
#[derive(Clone, Copy, Debug)]
pub struct SdkActions {
    pub function: &'static str,
    pub asks: &'static [Ask],
}

impl SdkActions {
    /// Every action it can ask, once each, in the order they first appear.
    pub fn actions(&self) -> Vec<Action> {
        distinct(self.asks)
    }
}

fn distinct(asks: &[Ask]) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for &a in asks.iter().flat_map(|ask| ask.actions) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// What a function asks; empty for one that touches nothing (or is not in the table).
pub fn asks(function: &str) -> &'static [Ask] {
    TABLE
        .iter()
        .find(|f| f.function == function)
        .map_or(&[], |f| f.asks)
}

/// Every action a function can ask, once each, in the order they first appear.
pub fn actions(function: &str) -> Vec<Action> {
    distinct(asks(function))
}

/// The commands (free functions, not the methods keyed `Receiver.method`) that can ask
/// `action`, in table order: what a grant lets a script run by name.
pub fn functions_asking(action: Action) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|f| !f.function.contains('.'))
        .filter(|f| f.asks.iter().any(|ask| ask.actions.contains(&action)))
        .map(|f| f.function)
        .collect()
}

/// The case of a reading command where the policy permits only `redacted_read`.
const DENIED_READ: &str = "when read is denied (the text then comes back redacted)";

const fn ask(actions: &'static [Action], entity: Entity, which: Which) -> Ask {
    Ask {
        actions,
        entity,
        which,
        when: None,
    }
}

const fn ask_when(
    actions: &'static [Action],
    entity: Entity,
    which: Which,
    when: &'static str,
) -> Ask {
    Ask {
        actions,
        entity,
        which,
        when: Some(when),
    }
}

use Entity::{Dir, File, FileOrDir};
use Which::{Id, Only, Role};

/// cat, grep, tail, wc, sed and the awk commands.
const READS_TEXT: &[Ask] = &[
    ask(OPEN, Dir, Role("the file's directory")),
    ask(READ, File, Role("the file")),
    ask_when(READ_REDACTED, File, Role("the file"), DENIED_READ),
];

const SED: &[Ask] = &[
    ask(OPEN, Dir, Role("the file's directory")),
    ask(READ, File, Role("the file")),
    ask_when(
        READ_REDACTED,
        File,
        Role("the file"),
        "when read is denied, without sed::in_place (the text then comes back redacted)",
    ),
    ask_when(OVERWRITE, File, Role("the file"), "with sed::in_place"),
];

/// `ls` and `find_files`.
const LISTS: &[Ask] = &[ask(
    LIST,
    Dir,
    Role("the directory, and with glob::recursive each directory below it"),
)];

const DU: &[Ask] = &[
    ask(
        MEASURE_DIR,
        Dir,
        Role("the directory, and each directory below it"),
    ),
    ask(
        MEASURE,
        File,
        Role("each file and symlink below it (a socket, FIFO or device: stat alone)"),
    ),
];

const SYSINFO_LIST: &[Ask] = &[ask(SYSINFO, Entity::Sysinfo, Only)];
const MEMINFO: &[Ask] = &[ask(KERNEL_TABLE, File, Id("/proc/meminfo"))];
const KMSG: &[Ask] = &[ask(KERNEL_TABLE, File, Id("/dev/kmsg"))];
const RESOLVE: &[Ask] = &[ask(
    &[SysinfoResolveHostname],
    Entity::Hostname,
    Role("the name, in lower case"),
)];
const FILESYSTEMS: &[Ask] = &[
    ask(KERNEL_TABLE, File, Id("/proc/mounts")),
    ask(
        &[FsStat],
        Dir,
        Role("each mount point listed; a denied one fails the call"),
    ),
];
const IOSTAT: &[Ask] = &[
    ask(KERNEL_TABLE, File, Id("/proc/stat")),
    ask(KERNEL_TABLE, File, Id("/proc/diskstats")),
];

const SERVICE_STATUS: &[Ask] = &[ask(&[ServiceStatus], Entity::Service, Role("the unit"))];
const SERVICE_START: &[Ask] = &[ask(&[ServiceStart], Entity::Service, Role("the unit"))];
const SERVICE_STOP: &[Ask] = &[ask(&[ServiceStop], Entity::Service, Role("the unit"))];
const SERVICE_RESTART: &[Ask] = &[ask(&[ServiceRestart], Entity::Service, Role("the unit"))];
const DAEMON_RELOAD: &[Ask] = &[ask(&[SystemdDaemonReload], Entity::Systemd, Only)];

/// `sysctl_*` and `SysctlManager()`'s methods.
const SYSCTL_READ: &[Ask] = &[
    ask(OPEN, Dir, Role("the key's directory under /proc/sys")),
    ask(READ, File, Role("/proc/sys/<the key with dots as slashes>")),
];
const SYSCTL_WRITE: &[Ask] = &[
    ask(OPEN, Dir, Role("the key's directory under /proc/sys")),
    ask(
        OVERWRITE,
        File,
        Role("/proc/sys/<the key with dots as slashes>"),
    ),
];
const SYSCTL_FIND: &[Ask] = &[
    ask(WALK, Dir, Role("/proc/sys and each directory below it")),
    ask(
        OPEN,
        Dir,
        Role("the directory of each key whose path matches"),
    ),
    ask(READ, File, Role("the file of each key whose path matches")),
];

/// `netstat()` and `network_stats()`: the kernel's socket tables, and the processes whose
/// descriptors name a socket's owner.
/// `netstat()`: Rex's map, which names no owners.
const SOCKET_TABLES: &[Ask] = &[
    ask(KERNEL_TABLE, File, Id("/proc/net/tcp")),
    ask(KERNEL_TABLE, File, Id("/proc/net/tcp6")),
    ask(KERNEL_TABLE, File, Id("/proc/net/udp")),
    ask(KERNEL_TABLE, File, Id("/proc/net/udp6")),
    ask(KERNEL_TABLE, File, Id("/proc/net/unix")),
];

/// `network_stats()`: the tables, and each socket's owning process where `ps()` lists it.
const SOCKETS_WITH_OWNERS: &[Ask] = &[
    ask(KERNEL_TABLE, File, Id("/proc/net/tcp")),
    ask(KERNEL_TABLE, File, Id("/proc/net/tcp6")),
    ask(KERNEL_TABLE, File, Id("/proc/net/udp")),
    ask(KERNEL_TABLE, File, Id("/proc/net/udp6")),
    ask(KERNEL_TABLE, File, Id("/proc/net/unix")),
    ask(
        &[ProcList],
        Entity::Process,
        Role("each process, to name a socket's owner as ps() does"),
    ),
];

const HTTP_GET: &[Ask] = &[ask(
    &[NetGet],
    Entity::Url,
    Role("the canonical URL, and each URL a redirect leads to"),
)];

/// The reading methods of a file handle: asked again at each call, as the handle was opened.
const HANDLE_READ: &[Ask] = &[
    ask_when(
        &[FsRead],
        File,
        Role("the open file"),
        "for a file opened with read",
    ),
    ask_when(
        &[FsRedactedRead],
        File,
        Role("the open file"),
        "for a file opened under redacted_read (its text comes back redacted)",
    ),
];

/// The changing methods of a file handle (refused after the ask for one opened without
/// `write(true)`).
const HANDLE_WRITE: &[Ask] = &[ask(&[FsWrite], File, Role("the open file"))];

const HANDLE_STAT: &[Ask] = &[ask(&[FsStat], File, Role("the open file"))];
const DIR_HANDLE_STAT: &[Ask] = &[ask(&[FsStat], Dir, Role("the open directory"))];

/// The case of a `DirEntry` that `ls` or `dir.find` gave, whose directory is opened again.
const ENTRY_NOT_IN_HANDLE: &str =
    "for an entry ls or find gave (one from list_entries is in its open directory)";

/// `read` on an open handle's file, asked again when a format method reads it.
const FORMAT_READ: &[Ask] = &[ask(&[FsRead], File, Role("the open file"))];

/// A core dump read with gdb: the dump and its executable, then gdb run on them.
const CORE_DUMP: &[Ask] = &[
    ask(
        OPEN,
        Dir,
        Role("the directories of the executable and the core dump"),
    ),
    ask(READ, File, Role("the executable and the core dump")),
    ask(OPEN, Dir, Role("/usr/bin, gdb's directory")),
    ask(
        &[FsExecute],
        File,
        Role("/usr/bin/gdb, with its arguments as context"),
    ),
];

const fn entry(function: &'static str, asks: &'static [Ask]) -> SdkActions {
    SdkActions { function, asks }
}

/// Every SDK function that asks the gate anything.
pub const TABLE: &[SdkActions] = &[
    // Files: reading.
    entry("cat", READS_TEXT),
    entry("tail", READS_TEXT),
    entry("wc", READS_TEXT),
    entry("grep", READS_TEXT),
    entry("sed", SED),
    entry("awk_filter", READS_TEXT),
    entry("awk_field", READS_TEXT),
    entry("awk_filter_field", READS_TEXT),
    entry("awk_filter_range", READS_TEXT),
    entry("awk_sum", READS_TEXT),
    entry("awk_count_unique", READS_TEXT),
    // Files: directories and metadata.
    entry("ls", LISTS),
    entry("find_files", LISTS),
    entry("du", DU),
    entry(
        "stat",
        &[
            ask(OPEN, Dir, Role("the path's directory")),
            ask(
                &[FsStat],
                File,
                Role("the path; for / itself, stat on its Dir alone"),
            ),
        ],
    ),
    // Files: changes.
    entry(
        "write",
        &[
            ask(OPEN, Dir, Role("the file's directory")),
            ask(WRITE, File, Role("the file")),
        ],
    ),
    entry(
        "touch",
        &[
            ask(OPEN, Dir, Role("the file's directory")),
            ask(TOUCH, File, Role("the file")),
        ],
    ),
    entry(
        "mkdir",
        &[
            ask(OPEN, Dir, Role("the parent directory")),
            ask(
                &[FsCreate],
                Dir,
                Role("the new directory, and with mkdir::parents each missing one above it"),
            ),
        ],
    ),
    entry(
        "cp",
        &[
            ask(OPEN, Dir, Role("the source's and the destination's directories")),
            ask(READ, File, Role("the source; redacted_read is not enough")),
            ask(WRITE, File, Role("the destination")),
            ask_when(&[FsChmod], File, Role("the destination"), "with cp::preserve"),
            ask_when(
                &[FsDelete],
                File,
                Role("the destination"),
                "when a new file fails to copy completely (it is removed)",
            ),
        ],
    ),
    entry(
        "mv",
        &[
            ask(OPEN, Dir, Role("the source's and the destination's directories")),
            ask(
                &[FsMove],
                FileOrDir,
                Role("the source, with context destination {path, name, parent_path}"),
            ),
            // A directory source is refused after these two, as Rex refuses it.
            ask(&[FsCreate], FileOrDir, Role("the destination")),
            ask_when(
                &[FsDelete],
                FileOrDir,
                Role("the existing destination"),
                "when replacing an existing destination",
            ),
            ask_when(
                &[FsMove, FsCreate],
                FileOrDir,
                Role("the existing destination, moved to NAME~"),
                "with mv::backup over an existing destination",
            ),
        ],
    ),
    entry(
        "rm",
        &[
            ask(OPEN, Dir, Role("the path's directory")),
            ask(&[FsDelete], FileOrDir, Role("the path")),
            ask_when(
                &[FsDelete],
                FileOrDir,
                Role("every entry below it, all before any is removed"),
                "with rm::recursive",
            ),
        ],
    ),
    // Open handles.
    entry("RcFileHandle.read", HANDLE_READ),
    entry("RcFileHandle.read_lines", HANDLE_READ),
    entry("RcFileHandle.read_page", HANDLE_READ),
    entry("RcFileHandle.search", HANDLE_READ),
    entry("RcFileHandle.counts", HANDLE_READ),
    entry("RcFileHandle.write", HANDLE_WRITE),
    entry("RcFileHandle.write_in_place", HANDLE_WRITE),
    entry("RcFileHandle.truncate", HANDLE_WRITE),
    entry("RcFileHandle.fallocate", HANDLE_WRITE),
    entry("RcFileHandle.chmod", &[ask(&[FsChmod], File, Role("the open file"))]),
    entry("RcFileHandle.set_ownership", &[ask(&[FsChown], File, Role("the open file"))]),
    entry(
        "RcFileHandle.set_extended_attr",
        &[ask(&[FsSetXattr], File, Role("the open file"))],
    ),
    entry(
        "RcFileHandle.delete",
        &[ask(
            &[FsDelete],
            File,
            Role("the open file, removed only while its name is still that file"),
        )],
    ),
    entry(
        "RcFileHandle.copy",
        &[
            ask_when(
                &[FsRead],
                File,
                Role("the open source"),
                "for a source opened with read",
            ),
            ask_when(
                &[FsRedactedRead],
                File,
                Role("the open source"),
                "for a source opened under redacted_read (the copy is its redacted text)",
            ),
            ask(&[FsWrite], File, Role("the open destination")),
            ask_when(
                &[FsChmod],
                File,
                Role("the open destination"),
                "with CopyFileOptions().preserve(true)",
            ),
        ],
    ),
    entry(
        "RcFileHandle.move",
        &[
            ask(
                &[FsMove],
                File,
                Role("the open file, with context destination {path, name, parent_path}"),
            ),
            ask(&[FsCreate], File, Role("the destination in the open directory given")),
            ask_when(
                &[FsMove, FsCreate],
                FileOrDir,
                Role("the existing destination, moved to NAME~"),
                "with MoveOptions().backup(true) over an existing destination",
            ),
        ],
    ),
    entry("RcFileHandle.metadata", HANDLE_STAT),
    entry("RcFileHandle.get_ownership", HANDLE_STAT),
    entry("RcFileHandle.get_last_modified_time", HANDLE_STAT),
    entry("RcFileHandle.disk_usage", HANDLE_STAT),
    entry(
        "RcFileHandle.execute",
        &[ask(
            &[FsExecute],
            File,
            Role(
                "the open file, with context arguments, environment, user, group; once per combination of a repeated key's values",
            ),
        )],
    ),
    entry("DirConfig.open", &[ask(OPEN, Dir, Role("the directory"))]),
    entry(
        "RcDirHandle.open_file",
        &[
            ask(OPEN, File, Role("the file in the open directory")),
            ask_when(
                &[FsRead],
                File,
                Role("the file in the open directory"),
                "with OpenFileOptions().read(true)",
            ),
            ask_when(
                &[FsRedactedRead],
                File,
                Role("the file in the open directory"),
                DENIED_READ,
            ),
            ask_when(
                &[FsWrite],
                File,
                Role("the file in the open directory"),
                "with OpenFileOptions().write(true) or .create(true)",
            ),
            ask_when(
                &[FsCreate],
                File,
                Role("the file in the open directory"),
                "with OpenFileOptions().create(true)",
            ),
        ],
    ),
    entry(
        "RcDirHandle.open_symlink",
        &[ask(OPEN, File, Role("the symlink in the open directory"))],
    ),
    entry(
        "RcDirHandle.read_link_target",
        &[ask(&[FsRead], File, Role("the symlink in the open directory"))],
    ),
    entry(
        "RcDirHandle.list_entries",
        &[ask(&[FsRead], Dir, Role("the open directory"))],
    ),
    entry("RcDirHandle.metadata", DIR_HANDLE_STAT),
    entry("RcDirHandle.get_ownership", DIR_HANDLE_STAT),
    entry(
        "RcDirHandle.chmod",
        &[
            ask(&[FsChmod], Dir, Role("the open directory")),
            ask_when(
                &[FsChmod],
                FileOrDir,
                Role("each file and directory below it (symlinks are left alone)"),
                "with ChmodDirOptions().recursive(true)",
            ),
        ],
    ),
    entry(
        "RcDirHandle.set_ownership",
        &[
            ask(&[FsChown], Dir, Role("the open directory")),
            ask_when(
                &[FsChown],
                FileOrDir,
                Role("each file and directory below it (symlinks are left alone)"),
                "with SetOwnershipOptions().recursive(true)",
            ),
        ],
    ),
    entry(
        "RcDirHandle.delete",
        &[
            ask(OPEN, Dir, Role("the open directory's parent")),
            ask(
                &[FsDelete],
                Dir,
                Role("the open directory, removed only while its name is still that directory"),
            ),
            ask_when(
                &[FsDelete],
                FileOrDir,
                Role("every entry below it, all before any is removed"),
                "with DeleteDirOptions().recursive(true)",
            ),
        ],
    ),
    entry(
        "RcDirHandle.create_symlink",
        &[
            ask(&[FsCreate], File, Role("the new symlink in the open directory")),
            ask_when(
                &[FsDelete],
                File,
                Role("what is at the symlink's name (never a directory)"),
                "with CreateSymlinkOptions().force(true) over an existing entry",
            ),
        ],
    ),
    // The walk (`Host::find_handle`) starts from the descriptor the handle holds and opens
    // each directory beneath its parent's, as Rex's walk: `read` on the open directory,
    // `open` + `read` on each one it enters, never past max_depth. With a size or time
    // filter each entry at a selected depth is asked `stat`, as Rex reads its metadata.
    // What the callback calls asks for itself.
    entry(
        "RcDirHandle.find",
        &[
            ask(&[FsRead], Dir, Role("the open directory")),
            ask(
                LIST,
                Dir,
                Role("each directory below it that the walk enters (none deeper than FindOptions().max_depth(n) - 1)"),
            ),
            ask_when(
                &[FsStat],
                File,
                Role("each entry at a selected depth, as a File whatever its type"),
                "with a size or time filter",
            ),
        ],
    ),
    entry(
        "RcDirHandle.disk_usage",
        &[
            ask(
                MEASURE_DIR,
                Dir,
                Role("the open directory, and each directory below it"),
            ),
            ask(
                MEASURE,
                File,
                Role("each file and symlink below it (a socket, FIFO or device: stat alone)"),
            ),
            ask_when(
                OPEN,
                Dir,
                Role("the largest subdirectory reported, handed out as an open handle"),
                "with DiskUsageOptions().track_largest_subdir(true), when a subdirectory is reported",
            ),
        ],
    ),
    entry(
        "RcDirHandle.move",
        &[
            ask(
                &[FsMove],
                Dir,
                Role("the source, an entry of the directory called on, with context destination {path, name, parent_path}"),
            ),
            ask(
                &[FsCreate],
                Dir,
                Role("where it lands: NAME in the open directory given, or NAME/<the source's name> when NAME is a directory with entries"),
            ),
            ask_when(
                &[FsMove],
                FileOrDir,
                Role("each entry below the source, with context destination where it will be"),
                "when the source has entries",
            ),
            ask_when(
                &[FsOpen, FsRead],
                Dir,
                Role("the directory at NAME (and at NAME/<the source's name> inside one with entries), listed to tell whether it is empty"),
                "when the destination is an existing directory",
            ),
            ask_when(
                &[FsDelete],
                Dir,
                Role("the empty directory the source replaces"),
                "when replacing an empty directory, without MoveOptions().backup(true)",
            ),
            ask_when(
                &[FsMove, FsCreate],
                FileOrDir,
                Role("what would be replaced, moved to NAME~"),
                "with MoveOptions().backup(true) over an existing destination",
            ),
            ask(OPEN, Dir, Role("the moved directory, opened again where it landed")),
        ],
    ),
    entry(
        "RcSymlinkHandle.metadata",
        &[ask(
            &[FsStat, FsRead],
            File,
            Role("the symlink (read: for its target)"),
        )],
    ),
    entry(
        "RcSymlinkHandle.set_ownership",
        &[ask(&[FsChown], File, Role("the symlink itself, never its target"))],
    ),
    entry(
        "DirEntry.metadata",
        &[
            ask_when(OPEN, Dir, Role("the entry's directory"), ENTRY_NOT_IN_HANDLE),
            ask(
                &[FsStat],
                File,
                Role("the entry, as a File whatever its type (a symlink described, not followed)"),
            ),
        ],
    ),
    entry(
        "DirEntry.open_as_file",
        &[
            ask_when(OPEN, Dir, Role("the entry's directory"), ENTRY_NOT_IN_HANDLE),
            ask(OPEN, File, Role("the entry")),
            ask_when(
                &[FsRead],
                File,
                Role("the entry"),
                "with OpenFileOptions().read(true)",
            ),
            ask_when(&[FsRedactedRead], File, Role("the entry"), DENIED_READ),
            ask_when(
                &[FsWrite],
                File,
                Role("the entry"),
                "with OpenFileOptions().write(true) or .create(true)",
            ),
        ],
    ),
    entry("DirEntry.open_as_dir", &[ask(OPEN, Dir, Role("the entry"))]),
    // File formats through open handles (host fs::formats): each asks again on call.
    entry("RcFileHandle.read_gzip_lines", FORMAT_READ),
    entry("RcFileHandle.search_gzip", FORMAT_READ),
    entry("RcFileHandle.search_gzip_exists", FORMAT_READ),
    entry("RcFileHandle.gzip_info", FORMAT_READ),
    entry("RcFileHandle.elf_info", FORMAT_READ),
    entry("RcFileHandle.extract_strings", FORMAT_READ),
    entry(
        "RcFileHandle.verify_cert",
        &[ask(&[FsRead], File, Role("the certificate and the root"))],
    ),
    entry(
        "RcFileHandle.verify_cert_chain",
        &[ask(
            &[FsRead],
            File,
            Role("the certificate, the root and each intermediate"),
        )],
    ),
    entry(
        "RcFileHandle.compress_gzip",
        &[
            ask(&[FsRead], File, Role("the open source file")),
            ask(&[FsWrite], File, Role("the open destination file")),
        ],
    ),
    entry(
        "RcFileHandle.extract_archive",
        &[
            ask(&[FsRead], File, Role("the open archive")),
            ask(
                &[FsCreate, FsWrite],
                File,
                Role("every file in the archive, all before the first is written"),
            ),
            ask(OPEN, Dir, Role("the destination and each directory below it written in")),
            ask(&[FsCreate], Dir, Role("each directory it makes")),
            ask_when(
                &[FsChmod],
                FileOrDir,
                Role("each entry; where denied, the default mode is kept"),
                "with preserve_permissions (the default)",
            ),
            ask_when(&[FsChown], FileOrDir, Role("each entry"), "with preserve_ownership"),
        ],
    ),
    entry("CoreDump.backtrace", CORE_DUMP),
    entry("CoreDump.get_variables", CORE_DUMP),
    // Programs.
    entry(
        "execute",
        &[
            ask(OPEN, Dir, Role("the binary's directory")),
            ask(
                &[FsExecute],
                File,
                Role(
                    "the binary, with context arguments, environment, user, group; once per combination of a repeated key's values",
                ),
            ),
        ],
    ),
    // Processes and the system.
    entry(
        "ps",
        &[ask(
            &[ProcList],
            Entity::Process,
            Role("each process; those denied are left out"),
        )],
    ),
    entry(
        "kill",
        &[
            ask_when(
                &[ProcKill],
                Entity::Process,
                Role("the process"),
                "for any signal but HUP and INT (TERM by default)",
            ),
            ask_when(
                &[ProcInterrupt],
                Entity::Process,
                Role("the process"),
                "for kill::HUP or kill::INT",
            ),
        ],
    ),
    // Rex's ProcessManager methods.
    entry(
        "RcProcessManager.kill",
        &[
            ask_when(
                &[ProcList],
                Entity::Process,
                Role("each process, to match it; those denied are never matched"),
                "without KillOptions().pid(p)",
            ),
            ask_when(
                &[ProcKill],
                Entity::Process,
                Role("the process, or each matched, all before any is signalled"),
                "for any signal but Signal::SIGHUP",
            ),
            ask_when(
                &[ProcInterrupt],
                Entity::Process,
                Role("the process, or each matched, all before any is signalled"),
                "for Signal::SIGHUP",
            ),
        ],
    ),
    entry(
        "RcProcessManager.processes",
        &[ask(
            &[ProcList],
            Entity::Process,
            Role("each process; those denied are left out"),
        )],
    ),
    entry(
        "RcProcessManager.list_open_files",
        &[
            ask(READ, Dir, Id("/proc")),
            ask(
                &[ProcListFds],
                Entity::Process,
                Role("the process, or by path each process; those denied are left out of a listing by path"),
            ),
        ],
    ),
    entry(
        "RcProcessManager.processes_using_inode",
        &[
            ask(READ, Dir, Id("/proc")),
            ask(
                &[ProcListFds],
                Entity::Process,
                Role("each process; those denied are left out"),
            ),
        ],
    ),
    entry(
        "RcProcessManager.ipcs_info",
        &[
            ask(KERNEL_TABLE, File, Id("/proc/sysvipc/shm")),
            ask(KERNEL_TABLE, File, Id("/proc/sysvipc/sem")),
            ask(KERNEL_TABLE, File, Id("/proc/sysvipc/msg")),
        ],
    ),
    entry(
        "RcProcessManager.trace",
        &[
            ask(
                &[ProcTrace],
                Entity::Process,
                Role("the process; asked again by the supervisor, which traces it with gdb"),
            ),
            ask(OPEN, Dir, Id("/usr/bin")),
            ask(READ, File, Id("/usr/bin/gdb")),
        ],
    ),
    entry(
        "RcProcessManager.monitor_processes_cpu",
        &[ask(
            &[ProcList],
            Entity::Process,
            Role("each process measured, in each batch; those denied are left out"),
        )],
    ),
    entry("uname", SYSINFO_LIST),
    entry("hostname", SYSINFO_LIST),
    entry("nproc", SYSINFO_LIST),
    entry("free", MEMINFO),
    entry("uptime", &[ask(KERNEL_TABLE, File, Id("/proc/uptime"))]),
    entry("loadavg", &[ask(KERNEL_TABLE, File, Id("/proc/loadavg"))]),
    entry("resolve", RESOLVE),
    entry("dmesg", KMSG),
    entry("sysctl_read", SYSCTL_READ),
    entry("SysctlManager.read", SYSCTL_READ),
    entry("sysctl_write", SYSCTL_WRITE),
    entry("SysctlManager.write", SYSCTL_WRITE),
    entry("df", FILESYSTEMS),
    entry("Filesystems.filesystems", FILESYSTEMS),
    entry(
        "lsblk",
        &[
            ask(KERNEL_TABLE, File, Id("/proc/partitions")),
            ask(KERNEL_TABLE, File, Id("/proc/mounts")),
            ask(KERNEL_TABLE, File, Id("/proc/swaps")),
            ask(KERNEL_TABLE, Dir, Id("/sys/dev/block")),
        ],
    ),
    entry("iostat", IOSTAT),
    entry("Filesystems.iostat", IOSTAT),
    entry(
        "unmount",
        &[ask(
            &[FsUnmount],
            Dir,
            Role("the mount point; asked again by the supervisor, which unmounts it"),
        )],
    ),
    entry("SystemInfo.uname_info", SYSINFO_LIST),
    entry("SystemInfo.cpu_count", SYSINFO_LIST),
    entry("SystemInfo.memory_info", MEMINFO),
    entry("SystemInfo.swap_info", MEMINFO),
    entry("SystemInfo.dmesg_info", KMSG),
    entry("SystemInfo.hostname", SYSINFO_LIST),
    entry("SystemInfo.kernel_stats", &[ask(KERNEL_TABLE, File, Id("/proc/stat"))]),
    entry(
        "SystemInfo.slab_info",
        &[
            ask(OPEN, Dir, Id("/proc")),
            ask(READ, File, Id("/proc/slabinfo")),
        ],
    ),
    entry("SystemInfo.resolve_hostname", RESOLVE),
    entry("sysctl_find", SYSCTL_FIND),
    entry("SysctlManager.find", SYSCTL_FIND),
    // Services, as commands and as SystemctlManager's methods.
    entry("service_status", SERVICE_STATUS),
    entry("service_start", SERVICE_START),
    entry("service_stop", SERVICE_STOP),
    entry("service_restart", SERVICE_RESTART),
    entry("service_try_restart", SERVICE_RESTART),
    entry("daemon_reload", DAEMON_RELOAD),
    entry("SystemctlManager.status", SERVICE_STATUS),
    entry("SystemctlManager.start", SERVICE_START),
    entry("SystemctlManager.stop", SERVICE_STOP),
    entry("SystemctlManager.restart", SERVICE_RESTART),
    entry("SystemctlManager.try_restart", SERVICE_RESTART),
    entry("SystemctlManager.daemon_reload", DAEMON_RELOAD),
    // Network.
    entry("curl", HTTP_GET),
    entry("http_get", HTTP_GET),
    entry(
        "connect",
        &[ask(&[NetConnect], Entity::Url, Role("tcp://<host>:<port>"))],
    ),
    entry("netstat", SOCKET_TABLES),
    entry("network_stats", SOCKETS_WITH_OWNERS),
    entry("ip_addr", SYSINFO_LIST),
    entry("ip_addresses", SYSINFO_LIST),
    // Client().get(url).send(): the same GET as curl.
    entry("Request.send", HTTP_GET),
];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::action::CHANGING;

    #[test]
    fn names_each_function_once() {
        let mut seen = BTreeSet::new();
        for f in TABLE {
            assert!(
                seen.insert(f.function),
                "{} is in the table twice",
                f.function
            );
            assert!(
                !f.asks.is_empty(),
                "{} asks nothing: leave it out",
                f.function
            );
        }
    }

    #[test]
    fn entity_type_names_are_those_of_resources() {
        let path = crate::path::AbsPath::parse("/a").unwrap();
        for (entity, resource) in [
            (Entity::File, Resource::File(path.clone())),
            (Entity::Dir, Resource::Dir(path.clone())),
            (Entity::Sysinfo, Resource::Sysinfo),
            (Entity::Hostname, Resource::Hostname("h".into())),
            (Entity::Service, Resource::Service("s".into())),
            (Entity::Systemd, Resource::Systemd),
            (Entity::Url, Resource::Url("https://h:443/".into())),
        ] {
            assert_eq!(entity.type_name(), resource.type_name());
            assert!(entity.matches(&resource));
        }
        assert!(Entity::FileOrDir.matches(&Resource::Dir(path.clone())));
        assert!(!Entity::File.matches(&Resource::Dir(path)));
    }

    /// The linter and the own-files guard treat the actions in `CHANGING` as changes: an
    /// action a command asks must be one of them, or one that only reads, looks or runs,
    /// so that a new command's new action cannot slip past both unclassified.
    #[test]
    fn every_file_action_asked_is_classified_as_reading_or_changing() {
        const NOT_CHANGING: &[Action] = &[FsOpen, FsRead, FsRedactedRead, FsStat, FsExecute];
        for f in TABLE {
            for a in f.actions() {
                if a.namespace() != "file_system" {
                    continue;
                }
                assert!(
                    CHANGING.contains(&a) != NOT_CHANGING.contains(&a),
                    "{}: {a} is neither in action::CHANGING nor one that leaves the file as it is",
                    f.function
                );
            }
        }
    }

    /// One row of the README's table of what each command asks.
    struct Row {
        line: usize,
        functions: Vec<&'static str>,
        checks: String,
    }

    /// The words in backquotes.
    fn quoted(text: &str) -> Vec<&str> {
        text.split('`').skip(1).step_by(2).collect()
    }

    /// Whether some key of the table is a method of `word` (`RcFileHandle.write`).
    fn is_receiver(word: &str) -> bool {
        TABLE.iter().any(|f| {
            f.function
                .split_once('.')
                .is_some_and(|(receiver, _)| receiver == word)
        })
    }

    /// The receivers a row's first column names: a constructor in its code
    /// (`SystemctlManager().start(name)`), or types in parentheses after it
    /// (`` `file.write(text)` (RcFileHandle) ``).
    fn receivers(column: &str) -> Vec<&str> {
        fn words(text: &str) -> Vec<&str> {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| is_receiver(w))
                .collect()
        }
        let mut out = Vec::new();
        for code in quoted(column) {
            out.extend(words(code));
        }
        let prose: Vec<&str> = column.split('`').step_by(2).collect();
        for text in prose {
            for group in text.split('(').skip(1) {
                if let Some((inside, _)) = group.split_once(')') {
                    out.extend(words(inside));
                }
            }
        }
        out
    }

    /// The SDK functions a row's first column names: `cat`, `awk_*`, `SystemctlManager().start(name)`,
    /// `.stop` (methods of a receiver the row names, keyed `SystemctlManager.start`), and
    /// `` `file.write(text)`, `dir.chmod(options)` (RcFileHandle, RcDirHandle) ``: a method
    /// names the key of each receiver of the row that has it.
    fn named_functions(column: &str) -> Vec<&'static str> {
        let receivers = receivers(column);
        let mut out = Vec::new();
        for code in quoted(column) {
            if let Some(prefix) = code.strip_suffix('*') {
                out.extend(
                    TABLE
                        .iter()
                        .map(|f| f.function)
                        .filter(|f| f.starts_with(prefix)),
                );
                continue;
            }
            let bytes = code.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if i == start {
                    i += 1;
                    continue;
                }
                let word = &code[start..i];
                let called = bytes.get(i) == Some(&b'(');
                let method = start > 0 && bytes[start - 1] == b'.';
                let alone = start == 0 && i == bytes.len();
                if method {
                    let of_receivers: Vec<&'static str> = TABLE
                        .iter()
                        .map(|f| f.function)
                        .filter(|f| {
                            f.split_once('.')
                                .is_some_and(|(r, m)| m == word && receivers.contains(&r))
                        })
                        .collect();
                    if !of_receivers.is_empty() {
                        out.extend(of_receivers);
                        continue;
                    }
                }
                if called || method || alone {
                    if let Some(f) = TABLE.iter().find(|f| f.function == word) {
                        out.push(f.function);
                    }
                }
            }
        }
        out
    }

    /// The actions a row's second column names: `read`, `"stop"`, `systemd::Action::"start"`.
    fn named_actions(column: &str) -> BTreeSet<Action> {
        let mut out = BTreeSet::new();
        for code in quoted(column) {
            let name = match code.split_once("::Action::") {
                Some((namespace, name)) => {
                    let name = name.trim_matches('"');
                    out.extend(
                        Action::ALL
                            .iter()
                            .filter(|a| a.namespace() == namespace && a.name() == name),
                    );
                    continue;
                }
                None => code.trim_matches('"'),
            };
            out.extend(Action::ALL.iter().filter(|a| a.name() == name));
        }
        out
    }

    fn readme_rows() -> Vec<Row> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let mut lines = readme.lines().enumerate();
        lines
            .find(|(_, l)| l.starts_with("| command | checks |"))
            .expect(
                "the README has a table of what each command asks, headed | command | checks |",
            );
        lines
            .skip(1)
            .take_while(|(_, l)| l.starts_with('|'))
            .map(|(n, l)| {
                let cells: Vec<&str> = l.trim_matches('|').splitn(2, " | ").collect();
                Row {
                    line: n + 1,
                    functions: named_functions(cells[0]),
                    checks: cells[1].to_owned(),
                }
            })
            .collect()
    }

    /// The README keeps its prose, so the test reads what a row names: the actions in
    /// backquotes, the entity types, and the fixed ids. A row names only actions its
    /// functions can ask, and the rows naming a function say, together, every action it
    /// asks, each type of entity it asks about, and each fixed id.
    #[test]
    fn the_readme_table_says_what_the_table_says() {
        let mut said: BTreeMap<&str, (BTreeSet<Action>, String)> = BTreeMap::new();
        for row in readme_rows() {
            assert!(
                !row.functions.is_empty(),
                "README.md:{}: the row names no SDK function that asks anything",
                row.line
            );
            let mentioned = named_actions(&row.checks);
            // Action names are shared across namespaces (`list`): a bare name stands for
            // each action of that name.
            for a in &mentioned {
                assert!(
                    row.functions.iter().any(|f| asks(f)
                        .iter()
                        .any(|ask| ask.actions.iter().any(|b| b.name() == a.name()))),
                    "README.md:{}: names {a}, which none of {:?} asks",
                    row.line,
                    row.functions
                );
            }
            for f in &row.functions {
                let (actions, text) = said.entry(f).or_default();
                actions.extend(mentioned.iter().copied());
                text.push_str(&row.checks);
            }
        }
        for f in TABLE {
            let Some((actions, text)) = said.get(f.function) else {
                panic!("README.md: no row of the table names {}", f.function);
            };
            for a in f.actions() {
                assert!(
                    actions.contains(&a),
                    "README.md: no row says that {} asks {a}",
                    f.function
                );
            }
            for ask in f.asks {
                let types: Vec<&str> = match ask.entity {
                    Entity::FileOrDir => vec!["File", "Dir"],
                    e => e.type_name().rsplit("::").next().into_iter().collect(),
                };
                assert!(
                    types.iter().any(|t| text.contains(t)),
                    "README.md: {} asks about a {}, which its rows do not name",
                    f.function,
                    ask.entity.type_name()
                );
                if let Which::Id(id) = ask.which {
                    assert!(
                        text.contains(id),
                        "README.md: {} asks about {id}, which its rows do not name",
                        f.function
                    );
                }
            }
        }
    }

    #[test]
    fn describes_an_ask_with_its_entity_and_case() {
        assert_eq!(
            asks("free")[0].describe(),
            r#"read on file_system::File::"/proc/meminfo""#
        );
        assert_eq!(
            asks("cp")[3].describe(),
            "chmod on file_system::File (the destination), with cp::preserve"
        );
        assert_eq!(
            asks("ls")[0].describe(),
            "open + read on file_system::Dir (the directory, and with glob::recursive each directory below it)"
        );
        assert!(asks("seq").is_empty());
        assert_eq!(functions_asking(FsChmod), ["cp"]);
        assert_eq!(
            asks("RcDirHandle.chmod")[1].describe(),
            "chmod on file_system::File or file_system::Dir (each file and directory below it (symlinks are left alone)), with ChmodDirOptions().recursive(true)"
        );
    }
}
