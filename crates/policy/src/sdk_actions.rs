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
/// `read` + `stat`: a directory a walk (`ls`, `find_files`, `du`) lists.
pub const WALK: &[Action] = &[FsRead, FsStat];
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

/// The functions that can ask `action`, in table order.
pub fn functions_asking(action: Action) -> Vec<&'static str> {
    TABLE
        .iter()
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

const WALKS: &[Ask] = &[ask(
    WALK,
    Dir,
    Role("the directory, and each directory below it that the walk enters"),
)];

const SYSINFO_LIST: &[Ask] = &[ask(SYSINFO, Entity::Sysinfo, Only)];

const SERVICE_STATUS: &[Ask] = &[ask(&[ServiceStatus], Entity::Service, Role("the unit"))];
const SERVICE_START: &[Ask] = &[ask(&[ServiceStart], Entity::Service, Role("the unit"))];
const SERVICE_STOP: &[Ask] = &[ask(&[ServiceStop], Entity::Service, Role("the unit"))];
const SERVICE_RESTART: &[Ask] = &[ask(&[ServiceRestart], Entity::Service, Role("the unit"))];
const DAEMON_RELOAD: &[Ask] = &[ask(&[SystemdDaemonReload], Entity::Systemd, Only)];

const HTTP_GET: &[Ask] = &[ask(
    &[NetGet],
    Entity::Url,
    Role("the canonical URL, and each URL a redirect leads to"),
)];

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
    entry("ls", WALKS),
    entry("find_files", WALKS),
    entry("du", WALKS),
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
            ask(&[FsCreate], FileOrDir, Role("the destination")),
            ask_when(
                &[FsMove],
                FileOrDir,
                Role("every entry below the source, each with its own destination"),
                "for a directory",
            ),
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
    entry(
        "read",
        &[
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
        ],
    ),
    entry("open", &[ask(OPEN, Dir, Role("the directory"))]),
    entry(
        "open_file",
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
        ],
    ),
    // Programs.
    entry(
        "execute",
        &[
            ask_when(
                OPEN,
                Dir,
                Role("the binary's directory"),
                "for execute(path, ...) (file.execute's directory is already open)",
            ),
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
    entry("uname", SYSINFO_LIST),
    entry("hostname", SYSINFO_LIST),
    entry("nproc", SYSINFO_LIST),
    entry("free", &[ask(KERNEL_TABLE, File, Id("/proc/meminfo"))]),
    entry("uptime", &[ask(KERNEL_TABLE, File, Id("/proc/uptime"))]),
    entry("loadavg", &[ask(KERNEL_TABLE, File, Id("/proc/loadavg"))]),
    entry(
        "resolve",
        &[ask(
            &[SysinfoResolveHostname],
            Entity::Hostname,
            Role("the name, in lower case"),
        )],
    ),
    entry("dmesg", &[ask(KERNEL_TABLE, File, Id("/dev/kmsg"))]),
    entry(
        "sysctl_read",
        &[
            ask(OPEN, Dir, Role("the key's directory under /proc/sys")),
            ask(
                READ,
                File,
                Role("/proc/sys/<the key with dots as slashes>"),
            ),
        ],
    ),
    entry(
        "sysctl_write",
        &[
            ask(OPEN, Dir, Role("the key's directory under /proc/sys")),
            ask(
                OVERWRITE,
                File,
                Role("/proc/sys/<the key with dots as slashes>"),
            ),
        ],
    ),
    entry(
        "df",
        &[
            ask(KERNEL_TABLE, File, Id("/proc/mounts")),
            ask(
                &[FsStat],
                Dir,
                Role("each mount point; those denied are left out"),
            ),
        ],
    ),
    entry("lsblk", &[ask(KERNEL_TABLE, Dir, Id("/sys/block"))]),
    entry("iostat", &[ask(KERNEL_TABLE, File, Id("/proc/diskstats"))]),
    // Services, as commands and as SystemctlManager's methods.
    entry("service_status", SERVICE_STATUS),
    entry("service_start", SERVICE_START),
    entry("service_stop", SERVICE_STOP),
    entry("service_restart", SERVICE_RESTART),
    entry("service_try_restart", SERVICE_RESTART),
    entry("daemon_reload", DAEMON_RELOAD),
    entry("status", SERVICE_STATUS),
    entry("start", SERVICE_START),
    entry("stop", SERVICE_STOP),
    entry("restart", SERVICE_RESTART),
    entry("try_restart", SERVICE_RESTART),
    // Network.
    entry("curl", HTTP_GET),
    entry("http_get", HTTP_GET),
    entry(
        "connect",
        &[ask(&[NetConnect], Entity::Url, Role("tcp://<host>:<port>"))],
    ),
    entry(
        "netstat",
        &[
            ask(KERNEL_TABLE, File, Id("/proc/net/tcp")),
            ask(KERNEL_TABLE, File, Id("/proc/net/tcp6")),
            ask(KERNEL_TABLE, File, Id("/proc/net/udp")),
            ask(KERNEL_TABLE, File, Id("/proc/net/udp6")),
            ask(
                &[ProcList],
                Entity::Process,
                Role("each process, to name a socket's owner as ps() does"),
            ),
        ],
    ),
    entry("ip_addr", SYSINFO_LIST),
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

    /// The SDK functions a row's first column names: `cat`, `awk_*`, `open_file(...).read()`
    /// (both), `SystemctlManager().start(name)`, `.stop`.
    fn named_functions(column: &str) -> Vec<&'static str> {
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
            "read + stat on file_system::Dir (the directory, and each directory below it that the walk enters)"
        );
        assert!(asks("seq").is_empty());
        assert_eq!(functions_asking(FsChmod), ["cp"]);
    }
}
