//! Every SDK function, called from a script under a gate whose log records each decision, asks
//! the gate what `tollgate_policy::sdk_actions::TABLE` says it asks: every decision is one the
//! table lists for that call, and every ask the table lists for it is made.
//!
//! Calls run on real files in a temp dir, real processes, and servers on localhost. Calls
//! that would change the system (service jobs, `daemon_reload`, `sysctl_write`) are forbidden
//! by the policy: the gate decides, and records, before anything happens, so the decision is
//! still compared while nothing changes. Calls that need what a test host may lack (systemd,
//! `/dev/kmsg`, a core dump where gcore may not trace) may fail after their decisions.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use rhai::Scope;
use tollgate_host::{Host, Interrupt};
use tollgate_policy::sdk_actions::{self, Which};
use tollgate_policy::{
    Action, DecisionEntry, DecisionLog, Gate, Policies, Recorder, Resource, Schema,
};
use tollgate_script::sdk::SDK;
use tollgate_script::Limits;

use common::*;

/// Everything is permitted but what would change the system outside the temp dir.
const POLICY: &str = r#"
permit(principal, action, resource);
forbid(principal, action in [systemd::Action::"start", systemd::Action::"stop", systemd::Action::"restart", systemd::Action::"daemon_reload"], resource);
forbid(principal, action == file_system::Action::"write", resource in file_system::Dir::"/proc/sys");
"#;

/// Added for a call made where the policy permits only `redacted_read` on the temp dir.
const NO_READ: &str = r#"forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"{dir}");"#;

/// The cases of the table no call here makes, and why.
const NOT_CALLED: &[(&str, &str)] = &[
    (
        "DirEntry.open_as_file",
        // An entry comes from listing its directory, which needs the read NO_READ forbids.
        "when read is denied (the text then comes back redacted)",
    ),
    (
        "RcProcessManager.kill",
        // Matching by name or command would signal whatever else on the test host matches.
        "without KillOptions().pid(p)",
    ),
    (
        "cp",
        // A copy that fails part-way needs a source that opens but fails to read, which a
        // test host does not reliably have.
        "when a new file fails to copy completely (it is removed)",
    ),
];

/// A log that keeps each decision's action and resource, and the SDK call it names.
#[derive(Clone, Default)]
struct KeptDecisions(Arc<Mutex<Vec<Seen>>>);

/// A decision: its action, its resource, and the SDK call its record names.
type Seen = (Action, Resource, Option<&'static str>);

impl DecisionLog for KeptDecisions {
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(
            entries
                .iter()
                .map(|e| (e.action, e.resource.clone(), e.call)),
        );
        Ok(())
    }
}

/// One call of an SDK function.
struct Call {
    function: &'static str,
    /// Run before `call`, and alone first, so its decisions can be told from the call's.
    setup: String,
    call: String,
    /// The cases of the table (`Ask::when`) this call is in.
    cases: Vec<&'static str>,
    /// The policy forbids `read` on the temp dir.
    no_read: bool,
    /// The environment may lack what it needs once the gate has decided.
    may_fail: bool,
}

fn call(function: &'static str, call: &str) -> Call {
    Call {
        function,
        setup: String::new(),
        call: call.to_owned(),
        cases: Vec::new(),
        no_read: false,
        may_fail: false,
    }
}

impl Call {
    fn after(mut self, setup: &str) -> Call {
        self.setup = setup.to_owned();
        self
    }

    fn case(mut self, when: &'static str) -> Call {
        self.cases.push(when);
        self
    }

    fn without_read(mut self) -> Call {
        self.no_read = true;
        self
    }

    fn may_fail(mut self) -> Call {
        self.may_fail = true;
        self
    }
}

const DENIED_READ: &str = "when read is denied (the text then comes back redacted)";
const OPEN_DIR: &str =
    r#"let d = DirConfig().path("{dir}").build().open(OpenDirOptions().build());"#;
const UNIT: &str = "tollgate-sdk-table-test.service";
const READABLE: &str = "OpenFileOptions().read(true).build()";

/// The case of a `DirEntry` from `ls`, whose directory is opened again.
const ENTRY_NOT_IN_HANDLE: &str =
    "for an entry ls or find gave (one from list_entries is in its open directory)";
/// Opens the temp dir's `sub` (which has entries) as `s`.
const SUB_DIR: &str =
    r#"let s = DirConfig().path("{dir}/sub").build().open(OpenDirOptions().build());"#;

/// Opens the temp dir as `d` and its file `name` for writing as `w`.
fn open_write(name: &str) -> String {
    format!(r#"{OPEN_DIR} let w = d.open_file("{name}", OpenFileOptions().write(true).build());"#)
}

/// Opens the temp dir as `d` and its file `name` for reading as `f`.
fn open_read(name: &str) -> String {
    format!(r#"{OPEN_DIR} let f = d.open_file("{name}", {READABLE});"#)
}

/// A call that reads the core dump `made` makes: without one (gcore needs ptrace, which a
/// test host may not allow), gdb still runs after every decision, then finds no stack.
fn core_dump_call(function: &'static str, script: &str, core_made: bool) -> Call {
    let c = call(function, script);
    if core_made {
        c
    } else {
        c.may_fail()
    }
}

/// Whether this thread has a mount namespace of its own, with nothing shared back, where the
/// test mounts the tmpfs `unmount` takes away (`{mnt}`): only root can make one. Made at the
/// first call; the calls all run on the test's thread, and threads it starts inherit it.
fn private_mounts() -> bool {
    thread_local! {
        // SAFETY: geteuid, unshare and mount take integers and NUL-terminated strings.
        static PRIVATE: bool = unsafe {
            libc::geteuid() == 0
                && libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
        };
    }
    PRIVATE.with(|p| *p)
}

/// `unmount` of a tmpfs mounted for it; without root there is none, and the call fails after
/// its decision (the directory is not a mount point).
fn unmount_call() -> Call {
    let c = call(
        "unmount",
        r#"unmount(UnmountOptions().path("{mnt}").build())"#,
    );
    if private_mounts() {
        c
    } else {
        c.may_fail()
    }
}

/// Every call this test makes: each SDK function at least once, and each case of the table.
fn calls() -> Vec<Call> {
    let core_made = made().core_dump.is_some();
    let mut out = Vec::new();
    // The reading methods of a file handle, each also on one opened under redacted_read.
    for (function, script) in [
        ("RcFileHandle.read", "f.read()"),
        (
            "RcFileHandle.read_lines",
            "f.read_lines(ReadLinesOptions().count(-2).build())",
        ),
        (
            "RcFileHandle.read_page",
            "f.read_page(ReadPageOptions().num_lines(2).build())",
        ),
        ("RcFileHandle.search", r#"f.search("gamma")"#),
        ("RcFileHandle.counts", "f.counts()"),
    ] {
        out.push(
            call(function, script)
                .after(&open_read("a.txt"))
                .case("for a file opened with read"),
        );
        out.push(
            call(function, script)
                .after(&open_read("a.txt"))
                .without_read()
                .case("for a file opened under redacted_read (its text comes back redacted)"),
        );
    }
    // Reading commands, each also where only a redacted read is permitted.
    for (function, script) in [
        ("cat", r#"cat("{dir}/a.txt")"#),
        ("tail", r#"tail("{dir}/a.txt")"#),
        ("wc", r#"wc("{dir}/a.txt")"#),
        ("grep", r#"grep("gamma", "{dir}/a.txt")"#),
        ("awk_filter", r#"awk_filter("gamma", "{dir}/a.txt")"#),
        ("awk_field", r#"awk_field(1, ",", "{dir}/a.txt")"#),
        (
            "awk_filter_field",
            r#"awk_filter_field(1, ",", "gamma", "{dir}/a.txt")"#,
        ),
        (
            "awk_filter_range",
            r#"awk_filter_range(1, 2, "{dir}/a.txt")"#,
        ),
        ("awk_sum", r#"awk_sum(2, ",", "{dir}/a.txt")"#),
        (
            "awk_count_unique",
            r#"awk_count_unique(1, ",", "{dir}/a.txt")"#,
        ),
    ] {
        out.push(call(function, script));
        out.push(call(function, script).without_read().case(DENIED_READ));
    }
    out.extend([
        call("sed", r#"sed("alpha", "omega", "{dir}/a.txt")"#),
        call("sed", r#"sed("alpha", "omega", "{dir}/a.txt")"#)
            .without_read()
            .case("when read is denied, without sed::in_place (the text then comes back redacted)"),
        call("sed", r#"sed([sed::in_place], "alpha", "omega", "{dir}/a.txt")"#)
            .case("with sed::in_place"),
        call("awk_split", r#"awk_split("a b", " ")"#),
        // Directories and metadata.
        call("ls", r#"ls("{dir}")"#),
        call("ls", r#"ls([ls::all, ls::recursive], "{dir}")"#),
        call("find_files", r#"find_files("*.txt", "{dir}")"#),
        call("find_files", r#"find_files([glob::recursive], "*.txt", "{dir}")"#),
        call("du", r#"du("{dir}")"#),
        call("du", r#"du([du::all_files, du::max_depth(1)], "{dir}")"#),
        call("stat", r#"stat("{dir}/a.txt")"#),
        // Changes.
        call("write", r#"write("{dir}/new.txt", "x")"#),
        call("write", r#"write([write::replace], "{dir}/a.txt", "x")"#),
        call("touch", r#"touch("{dir}/new.txt")"#),
        call("touch", r#"touch("{dir}/a.txt")"#),
        call("mkdir", r#"mkdir("{dir}/made")"#),
        call("mkdir", r#"mkdir([mkdir::parents], "{dir}/made/deeper/deepest")"#),
        call("cp", r#"cp("{dir}/a.txt", "{dir}/copy.txt")"#),
        call("cp", r#"cp("{dir}/a.txt", "{dir}/sub/copy.txt")"#),
        call("cp", r#"cp([cp::preserve], "{dir}/a.txt", "{dir}/copy.txt")"#)
            .case("with cp::preserve"),
        call("mv", r#"mv("{dir}/a.txt", "{dir}/moved.txt")"#),
        call("mv", r#"mv("{dir}/a.txt", "{dir}/b.txt")"#)
            .case("when replacing an existing destination"),
        call("mv", r#"mv([mv::backup], "{dir}/a.txt", "{dir}/b.txt")"#)
            .case("with mv::backup over an existing destination"),
        call("rm", r#"rm("{dir}/a.txt")"#),
        call("rm", r#"rm([rm::recursive], "{dir}/sub")"#).case("with rm::recursive"),
        // Touch nothing.
        call("seq", "seq(1, 3)"),
        call("sleep", "sleep(0)"),
        call("pad", r#"let s = "ab"; s.pad(4, "-"); s"#),
        call("replace", r#"let s = "abc"; s.replace("b", "x"); s"#),
        call("split", r#""a b".split()"#),
        call("split_rev", r#""a.b".split_rev(".")"#),
        call("to_chars", r#""ab".to_chars()"#),
        call("sort", "let a = [2, 1]; a.sort(); a"),
        call("sort_by", "let a = [2, 1]; a.sort_by(|x, y| x - y); a"),
        call("order", "[2, 1].order()"),
        call("order_by", "[2, 1].order_by(|x, y| x - y)"),
        call("dedup", "let a = [1, 1, 2]; a.dedup(); a"),
        // Open handles.
        call("DirConfig", "DirConfig()"),
        call("path", r#"DirConfig().path("{dir}")"#),
        call("build", "OpenDirOptions().build()"),
        call("OpenDirOptions", "OpenDirOptions()"),
        call("OpenFileOptions", "OpenFileOptions()"),
        call("ReadLinesOptions", "ReadLinesOptions().count(-10).build()"),
        call("ReadPageOptions", "ReadPageOptions().num_lines(100).build()"),
        call("WriteOptions", "WriteOptions().preserve_ownership(true).build()"),
        call(
            "CopyFileOptions",
            "CopyFileOptions().force(true).preserve(true).build()",
        ),
        call("MoveOptions", "MoveOptions().backup(true).build()"),
        call("DeleteFileOptions", "DeleteFileOptions().force(true).build()"),
        call(
            "DeleteDirOptions",
            "DeleteDirOptions().recursive(true).build()",
        ),
        call(
            "ChmodDirOptions",
            "ChmodDirOptions().permissions(0o750).recursive(true).build()",
        ),
        call(
            "SetOwnershipOptions",
            r#"SetOwnershipOptions().user("root").group("root").build()"#,
        ),
        call(
            "SetXAttrOptions",
            r#"SetXAttrOptions().selinux_user("system_u").selinux_role("object_r").selinux_type("tmp_t").selinux_level("s0").build()"#,
        ),
        call(
            "TruncateOptions",
            "TruncateOptions().size(4).format(SizeUnit::KIBIBYTES).build()",
        ),
        call(
            "FallocateOptions",
            "FallocateOptions().length(1).format(SizeUnit::MEBIBYTES).build()",
        ),
        call(
            "CreateSymlinkOptions",
            "CreateSymlinkOptions().force(true).build()",
        ),
        call(
            "FindOptions",
            r#"FindOptions().name("*.txt").max_depth(2).build()"#,
        ),
        call(
            "DiskUsageOptions",
            "DiskUsageOptions().apparent_size(true).build()",
        ),
        call(
            "ReplacementOptions",
            "ReplacementOptions().is_regex(true).replace_all(true).build()",
        ),
        call(
            "replace_text",
            r#"replace_text("abcb", "b", "x", ReplacementOptions().replace_all(true).build())"#,
        ),
        call(
            "SizeRange::min_only",
            "SizeRange::min_only(1, SizeUnit::MEBIBYTES)",
        ),
        call(
            "SizeRange::max_only",
            "SizeRange::max_only(1, SizeUnit::MEBIBYTES)",
        ),
        call(
            "SizeRange::between",
            "SizeRange::between(1, 2, SizeUnit::KIBIBYTES)",
        ),
        call("read", "OpenFileOptions().read(true)"),
        call(
            "DirConfig.open",
            r#"DirConfig().path("{dir}").build().open(OpenDirOptions().build())"#,
        ),
        call(
            "RcDirHandle.open_file",
            r#"d.open_file("a.txt", OpenFileOptions().write(true).build())"#,
        )
        .after(OPEN_DIR)
        .case("with OpenFileOptions().write(true) or .create(true)"),
        call(
            "RcDirHandle.open_file",
            r#"d.open_file("new.txt", OpenFileOptions().create(true).build())"#,
        )
        .after(OPEN_DIR)
        .case("with OpenFileOptions().write(true) or .create(true)")
        .case("with OpenFileOptions().create(true)"),
        call(
            "RcDirHandle.open_file",
            r#"d.open_file("a.txt", OpenFileOptions().read(true).build())"#,
        )
        .after(OPEN_DIR)
        .case("with OpenFileOptions().read(true)"),
        call(
            "RcDirHandle.open_file",
            r#"d.open_file("a.txt", OpenFileOptions().read(true).build())"#,
        )
        .after(OPEN_DIR)
        .without_read()
        .case("with OpenFileOptions().read(true)")
        .case(DENIED_READ),
        // Handle methods.
        call("Filesystems.iostat", "Filesystems(FilesystemOptions().build()).iostat()"),
        call("SystemInfo.hostname", "SystemInfo().hostname()"),
        call("SysctlManager.read", r#"SysctlManager().read("kernel.ostype")"#),
        call("SysctlManager.write", r#"SysctlManager().write("vm.swappiness", "60")"#).may_fail(),
        call("SysctlManager.find", r#"SysctlManager().find("kernel/ostype$")"#),
        call("RcDirHandle.open_symlink", r#"d.open_symlink("link")"#).after(OPEN_DIR),
        call("RcDirHandle.read_link_target", r#"d.read_link_target("link")"#).after(OPEN_DIR),
        call("RcDirHandle.list_entries", "d.list_entries()").after(OPEN_DIR),
        call("RcDirHandle.metadata", "d.metadata()").after(OPEN_DIR),
        call("RcDirHandle.get_ownership", "d.get_ownership()").after(OPEN_DIR),
        call("RcDirHandle.chmod", "s.chmod(ChmodDirOptions().permissions(0o755).build())").after(SUB_DIR),
        call("RcDirHandle.chmod", "s.chmod(ChmodDirOptions().permissions(0o755).recursive(true).build())").after(SUB_DIR).case("with ChmodDirOptions().recursive(true)"),
        call("RcDirHandle.set_ownership", "s.set_ownership(SetOwnershipOptions().user(\"root\").build())").after(SUB_DIR).may_fail(),
        call("RcDirHandle.set_ownership", "s.set_ownership(SetOwnershipOptions().user(\"root\").recursive(true).build())").after(SUB_DIR).case("with SetOwnershipOptions().recursive(true)").may_fail(),
        call("RcDirHandle.delete", "e.delete(DeleteDirOptions().build())").after(&format!(r#"{OPEN_DIR} mkdir("{{dir}}/empty"); let e = DirConfig().path("{{dir}}/empty").build().open(OpenDirOptions().build());"#)),
        call("RcDirHandle.delete", "s.delete(DeleteDirOptions().recursive(true).build())").after(SUB_DIR).case("with DeleteDirOptions().recursive(true)"),
        call("RcDirHandle.create_symlink", r#"d.create_symlink("a.txt", "new-link", CreateSymlinkOptions().build())"#).after(OPEN_DIR),
        call("RcDirHandle.create_symlink", r#"d.create_symlink("a.txt", "link", CreateSymlinkOptions().force(true).build())"#).after(OPEN_DIR).case("with CreateSymlinkOptions().force(true) over an existing entry"),
        // dir.find walks from the open directory: a callback that calls nothing asks nothing
        // more; a size or time filter asks stat of each entry, and max_depth(2) enters only
        // the directories just below.
        call("RcDirHandle.find", "d.find(FindOptions().build(), |e| {})").after(OPEN_DIR),
        call("RcDirHandle.find", r#"d.find(FindOptions().name("*.txt").max_depth(2).size_range(SizeRange::max_only(1, SizeUnit::MEBIBYTES)).build(), |e| {})"#).after(OPEN_DIR).case("with a size or time filter"),
        call("RcDirHandle.find", r#"d.find(FindOptions().min_depth(2).max_modification_time(DateTime(9999, 12, 31, 23, 59, 59, 0)).build(), |e| {})"#).after(OPEN_DIR).case("with a size or time filter"),
        call("RcDirHandle.disk_usage", "d.disk_usage(DiskUsageOptions().build())").after(OPEN_DIR),
        call("RcDirHandle.disk_usage", "d.disk_usage(DiskUsageOptions().all_files(true).track_largest_subdir(true).build())").after(OPEN_DIR).case("with DiskUsageOptions().track_largest_subdir(true), when a subdirectory is reported"),
        // dir.move: `sub` (which has entries) to a free name, over the empty `vacant`, into
        // `full` (which has entries), and with backup over a file and over `vacant`; and the
        // empty `vacant` itself to a free name.
        call("RcDirHandle.move", r#"d.move(s, d, "moved", MoveOptions().build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).case("when the source has entries"),
        call("RcDirHandle.move", r#"d.move(s, d, "vacant", MoveOptions().build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).case("when the source has entries").case("when the destination is an existing directory").case("when replacing an empty directory, without MoveOptions().backup(true)"),
        call("RcDirHandle.move", r#"d.move(s, d, "full", MoveOptions().build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).case("when the source has entries").case("when the destination is an existing directory"),
        call("RcDirHandle.move", r#"d.move(s, d, "b.txt", MoveOptions().backup(true).build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).case("when the source has entries").case("with MoveOptions().backup(true) over an existing destination"),
        call("RcDirHandle.move", r#"d.move(s, d, "vacant", MoveOptions().backup(true).build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).case("when the source has entries").case("when the destination is an existing directory").case("with MoveOptions().backup(true) over an existing destination"),
        call("RcDirHandle.move", r#"d.move(v, d, "moved", MoveOptions().build())"#).after(&format!(r#"{OPEN_DIR} let v = DirConfig().path("{{dir}}/vacant").build().open(OpenDirOptions().build());"#)),
        call("RcSymlinkHandle.metadata", "l.metadata()").after(&format!(r#"{OPEN_DIR} let l = d.open_symlink("link");"#)),
        call("RcSymlinkHandle.set_ownership", "l.set_ownership(SetOwnershipOptions().user(\"root\").build())").after(&format!(r#"{OPEN_DIR} let l = d.open_symlink("link");"#)).may_fail(),
        call("DirEntry.metadata", "e.metadata()").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["a.txt"];"#)),
        call("DirEntry.metadata", "e.metadata()").after(r#"let e = ls("{dir}")["a.txt"];"#).case(ENTRY_NOT_IN_HANDLE),
        call("DirEntry.open_as_file", "e.open_as_file(OpenFileOptions().read(true).build())").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["a.txt"];"#)).case("with OpenFileOptions().read(true)"),
        call("DirEntry.open_as_file", "e.open_as_file(OpenFileOptions().write(true).build())").after(r#"let e = ls("{dir}")["a.txt"];"#).case(ENTRY_NOT_IN_HANDLE).case("with OpenFileOptions().write(true) or .create(true)"),
        call("DirEntry.open_as_dir", "e.open_as_dir(OpenDirOptions().build())").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["sub"];"#)),
        call("DirEntry.open_as_dir", "e.open_as_dir(OpenDirOptions().build())").after(r#"let e = ls("{dir}")["sub"];"#),
        call("RcFileHandle.write", r#"w.write("x")"#).after(&open_write("a.txt")),
        call("RcFileHandle.write_in_place", r#"w.write_in_place("x")"#).after(&open_write("a.txt")),
        call("RcFileHandle.truncate", "w.truncate(TruncateOptions().size(1).build())").after(&open_write("a.txt")),
        call("RcFileHandle.fallocate", "w.fallocate(FallocateOptions().length(1).build())").after(&open_write("a.txt")),
        call("RcFileHandle.chmod", "w.chmod(0o640)").after(&open_write("a.txt")),
        call("RcFileHandle.set_ownership", "w.set_ownership(SetOwnershipOptions().user(\"root\").build())").after(&open_write("a.txt")).may_fail(),
        call("RcFileHandle.set_extended_attr", r#"w.set_extended_attr(SetXAttrOptions().selinux_user("system_u").selinux_role("object_r").selinux_type("tmp_t").selinux_level("s0").build())"#).after(&open_write("a.txt")).may_fail(),
        call("RcFileHandle.delete", "w.delete(DeleteFileOptions().build())").after(&open_write("a.txt")),
        call("RcFileHandle.copy", "f.copy(w, CopyFileOptions().force(true).build())").after(&format!(r#"{} let w = d.open_file("b.txt", OpenFileOptions().write(true).build());"#, open_read("a.txt"))).case("for a source opened with read"),
        call("RcFileHandle.copy", "f.copy(w, CopyFileOptions().force(true).preserve(true).build())").after(&format!(r#"{} let w = d.open_file("b.txt", OpenFileOptions().write(true).build());"#, open_read("a.txt"))).case("for a source opened with read").case("with CopyFileOptions().preserve(true)"),
        call("RcFileHandle.copy", "f.copy(w, CopyFileOptions().force(true).build())").after(&format!(r#"{} let w = d.open_file("b.txt", OpenFileOptions().write(true).build());"#, open_read("a.txt"))).without_read().case("for a source opened under redacted_read (the copy is its redacted text)"),
        call("RcFileHandle.move", r#"w.move(d, "moved.txt", MoveOptions().build())"#).after(&open_write("a.txt")),
        call("RcFileHandle.move", r#"w.move(d, "b.txt", MoveOptions().backup(true).build())"#).after(&open_write("a.txt")).case("with MoveOptions().backup(true) over an existing destination"),
        call("RcFileHandle.metadata", "f.metadata()").after(&open_read("a.txt")),
        call("RcFileHandle.get_ownership", "f.get_ownership()").after(&open_read("a.txt")),
        call("RcFileHandle.get_last_modified_time", "f.get_last_modified_time()").after(&open_read("a.txt")),
        call("RcFileHandle.disk_usage", "f.disk_usage(DiskUsageOptions().build())").after(&open_read("a.txt")),
        // File formats through handles, on the files `fixture` makes.
        call(
            "SearchGzipOptions",
            r#"SearchGzipOptions().case_insensitive(true).exclude_pattern("beta").max_results(-10).build()"#,
        ),
        call("CompressGzipOptions", "CompressGzipOptions().level(9).build()"),
        call("ExtractArchiveOptions", "ExtractArchiveOptions().build()"),
        call(
            "RcFileHandle.read_gzip_lines",
            "f.read_gzip_lines(ReadLinesOptions().count(-10).build())",
        )
        .after(&open_read("a.txt.gz")),
        call(
            "RcFileHandle.search_gzip",
            r#"f.search_gzip("GAMMA", SearchGzipOptions().case_insensitive(true).build())"#,
        )
        .after(&open_read("a.txt.gz")),
        call(
            "RcFileHandle.search_gzip_exists",
            r#"f.search_gzip_exists("alpha", SearchGzipOptions().build())"#,
        )
        .after(&open_read("a.txt.gz")),
        call("RcFileHandle.gzip_info", "f.gzip_info()").after(&open_read("a.txt.gz")),
        call(
            "RcFileHandle.compress_gzip",
            "f.compress_gzip(out, CompressGzipOptions().build())",
        )
        .after(&format!(
            r#"{} let out = d.open_file("b.txt", OpenFileOptions().write(true).build());"#,
            open_read("a.txt")
        )),
        call(
            "RcFileHandle.extract_archive",
            "f.extract_archive(d, ExtractArchiveOptions().build())",
        )
        .after(&open_read("archive.tar"))
        .case("with preserve_permissions (the default)"),
        call(
            "RcFileHandle.extract_archive",
            "f.extract_archive(d, ExtractArchiveOptions().preserve_permissions(false).preserve_ownership(true).build())",
        )
        .after(&open_read("archive.tar"))
        .case("with preserve_ownership"),
        call("RcFileHandle.elf_info", "f.elf_info()").after(
            r#"let f = DirConfig().path("/usr/bin").build().open(OpenDirOptions().build()).open_file("true", OpenFileOptions().read(true).build());"#,
        ),
        call("RcFileHandle.extract_strings", "f.extract_strings()").after(&open_read("a.txt")),
        call("RcFileHandle.verify_cert", "leaf.verify_cert(root)").after(&format!(
            r#"{OPEN_DIR} let leaf = d.open_file("leaf.pem", {READABLE}); let root = d.open_file("root.pem", {READABLE});"#
        )),
        call(
            "RcFileHandle.verify_cert_chain",
            "leaf.verify_cert_chain(root, [inter])",
        )
        .after(&format!(
            r#"{OPEN_DIR} let leaf = d.open_file("leaf2.pem", {READABLE}); let root = d.open_file("root.pem", {READABLE}); let inter = d.open_file("inter.pem", {READABLE});"#
        )),
        call("CoreDump", r#"CoreDump("/usr/bin/sleep", "{core}")"#),
        core_dump_call(
            "CoreDump.backtrace",
            r#"CoreDump("/usr/bin/sleep", "{core}").backtrace()"#,
            core_made,
        ),
        core_dump_call(
            "CoreDump.get_variables",
            r#"CoreDump("/usr/bin/sleep", "{core}").get_variables(0, ["argc"])"#,
            core_made,
        ),
        core_dump_call(
            "CoreDump.get_variables",
            r#"CoreDump("/usr/bin/sleep", "{core}").get_variables(1, 0, ["argc"])"#,
            core_made,
        ),
        // Programs.
        call("execute", r#"execute("/usr/bin/true")"#),
        call(
            "execute",
            r#"execute("/usr/bin/true", ExecuteOptions().args(["-a", ["-p", "1"], ["-p", "2"]]).build())"#,
        )
        ,
        call("RcFileHandle.execute", "f.execute(ExecuteOptions().build())").after(
            r#"let f = DirConfig().path("/usr/bin").build().open(OpenDirOptions().build()).open_file("true", OpenFileOptions().read(true).build());"#,
        ),
        call("ExecuteOptions", "ExecuteOptions()"),
        call("args", r#"ExecuteOptions().args(["-n"])"#),
        call("env", r#"ExecuteOptions().env(#{LANG: "C"})"#),
        call("user", r#"ExecuteOptions().user("nobody")"#),
        call("group", r#"ExecuteOptions().group("nogroup")"#),
        call("timeout_ms", "ExecuteOptions().timeout_ms(100)"),
        call("capabilities", "ExecuteOptions().capabilities([])"),
        call(
            "ChildNamespaceOptions",
            "ChildNamespaceOptions().target_process(1).build()",
        ),
        call(
            "namespace",
            "ExecuteOptions().namespace(ChildNamespaceOptions().target_process(1).build())",
        ),
        // Processes and the system.
        call("ps", "ps()"),
        call("kill", "kill({pid})").case("for any signal but HUP and INT (TERM by default)"),
        call("kill", "kill([kill::KILL], {pid})")
            .case("for any signal but HUP and INT (TERM by default)"),
        call("kill", "kill([kill::INT], {pid})").case("for kill::HUP or kill::INT"),
        call("uname", "uname()"),
        call("hostname", "hostname()"),
        call("nproc", "nproc()"),
        call("free", "free()"),
        call("uptime", "uptime()"),
        call("loadavg", "loadavg()"),
        call("resolve", r#"resolve("localhost")"#),
        call("dmesg", "dmesg()").may_fail(),
        call("sysctl_read", r#"sysctl_read("kernel.ostype")"#),
        call("sysctl_write", r#"sysctl_write("vm.swappiness", "60")"#).may_fail(),
        call("df", "df()"),
        call("lsblk", "lsblk()"),
        call("iostat", "iostat()"),
        call("sysctl_find", r#"sysctl_find("kernel/ostype$")"#),
        call("SysctlManager", "SysctlManager()"),
        call("SystemInfo", "SystemInfo()"),
        call("SystemInfo.uname_info", "SystemInfo().uname_info()"),
        call("SystemInfo.cpu_count", "SystemInfo().cpu_count()"),
        call("SystemInfo.memory_info", "SystemInfo().memory_info()"),
        call("SystemInfo.swap_info", "SystemInfo().swap_info()"),
        call("SystemInfo.dmesg_info", "SystemInfo().dmesg_info(DmesgOptions().build())").may_fail(),
        call("DmesgOptions", "DmesgOptions()"),
        call("SystemInfo.kernel_stats", "SystemInfo().kernel_stats()"),
        call("SystemInfo.slab_info", "SystemInfo().slab_info()").may_fail(),
        call(
            "SystemInfo.resolve_hostname",
            r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").build())"#,
        ),
        call("ResolveOptions", "ResolveOptions()"),
        call("Filesystems", "Filesystems(FilesystemOptions().build())"),
        call("FilesystemOptions", "FilesystemOptions()"),
        call(
            "Filesystems.filesystems",
            "Filesystems(FilesystemOptions().build()).filesystems()",
        ),
        call("format_bytes", "format_bytes(2048, Unit::KILOBYTES)"),
        call("UnmountOptions", "UnmountOptions()"),
        unmount_call(),
        call("ProcessManager", "ProcessManager()"),
        call("RcProcessManager.processes", "ProcessManager().processes()"),
        call(
            "RcProcessManager.processes",
            "ProcessManager().processes(ProcessOptions().include_threads(true).load_namespace_info(true).build())",
        ),
        call(
            "RcProcessManager.kill",
            "ProcessManager().kill(KillOptions().pid({pid}).signal(Signal::SIGTERM).build())",
        )
        .case("for any signal but Signal::SIGHUP"),
        call(
            "RcProcessManager.kill",
            "ProcessManager().kill(KillOptions().pid({pid}).signal(Signal::SIGHUP).build())",
        )
        .case("for Signal::SIGHUP"),
        call("ProcessOptions", "ProcessOptions().build()"),
        call(
            "KillOptions",
            "KillOptions().pid(1).signal(Signal::SIGTERM).build()",
        ),
        call("LsofOptions", "LsofOptions().pid(1).build()"),
        call(
            "MonitorProcessesCpuOptions",
            "MonitorProcessesCpuOptions().build()",
        ),
        call("TraceOptions", "TraceOptions().ns_pid(1).build()"),
        call("NamespaceOptions", "NamespaceOptions().build()"),
        call("RcProcessManager.ipcs_info", "ProcessManager().ipcs_info()"),
        call("RcProcessManager.trace", "ProcessManager().trace({pid})"),
        call(
            "RcProcessManager.list_open_files",
            "ProcessManager().list_open_files(LsofOptions().pid({pid}).build())",
        )
        .may_fail(),
        call(
            "RcProcessManager.processes_using_inode",
            r#"ProcessManager().processes_using_inode("{dir}/a.txt")"#,
        )
        .may_fail(),
        call(
            "RcProcessManager.monitor_processes_cpu",
            "ProcessManager().monitor_processes_cpu(MonitorProcessesCpuOptions().pids_to_monitor([{pid}]).build())",
        )
        .may_fail(),
        // Services: jobs are forbidden, status needs a service manager.
        call("service_status", &format!(r#"service_status("{UNIT}")"#)).may_fail(),
        call("service_start", &format!(r#"service_start("{UNIT}")"#)).may_fail(),
        call("service_stop", &format!(r#"service_stop("{UNIT}")"#)).may_fail(),
        call("service_restart", &format!(r#"service_restart("{UNIT}")"#)).may_fail(),
        call(
            "service_try_restart",
            &format!(r#"service_try_restart("{UNIT}")"#),
        )
        .may_fail(),
        call("daemon_reload", "daemon_reload()").may_fail(),
        call("SystemctlManager.daemon_reload", "SystemctlManager().daemon_reload()").may_fail(),
        call("SystemctlManager", "SystemctlManager()"),
        call("SystemctlManager.start", &format!(r#"SystemctlManager().start("{UNIT}")"#)).may_fail(),
        call("SystemctlManager.stop", &format!(r#"SystemctlManager().stop("{UNIT}")"#)).may_fail(),
        call("SystemctlManager.restart", &format!(r#"SystemctlManager().restart("{UNIT}")"#)).may_fail(),
        call(
            "SystemctlManager.try_restart",
            &format!(r#"SystemctlManager().try_restart("{UNIT}")"#),
        )
        .may_fail(),
        call("SystemctlManager.status", &format!(r#"SystemctlManager().status("{UNIT}")"#)).may_fail(),
        // Network.
        call("curl", r#"curl("http://127.0.0.1:{port}/")"#),
        call("http_get", r#"http_get("http://127.0.0.1:{port}/")"#),
        call("http_get", r#"http_get("http://127.0.0.1:{port}/moved")"#),
        call("connect", r#"connect("127.0.0.1", {port})"#),
        call("netstat", "netstat()"),
        call("ip_addr", "ip_addr()"),
        call("ip_addresses", "ip_addresses()"),
        call("network_stats", "network_stats()"),
        call("Client", "Client().max_text_bytes(10)"),
        call("Request.send", r#"Client().get("http://127.0.0.1:{port}/").send()"#),
        call("Request.send", r#"Client().get("http://127.0.0.1:{port}/moved").send()"#),
        // Dates, random strings, JSON, metrics and alarms: they touch nothing.
        call("DateTime", "DateTime(2024, 2, 29, 13, 5, 9, 0)"),
        call("from_epoch_seconds", "from_epoch_seconds(1709211909)"),
        call("from_epoch_nanos", "from_epoch_nanos(1709211909, 5)"),
        call("now", "now()"),
        call("now_nanos", "now_nanos()"),
        call(
            "parse_datetime",
            r#"parse_datetime("2024-02-29T13:05:09Z", DateTimeFormat::RFC3339)"#,
        ),
        call("Duration::from_secs", "Duration::from_secs(3)"),
        call("random_alphanumeric", "random_alphanumeric(8)"),
        call("to_json", "to_json(#{a: 1})"),
        call(
            "MetricBuilder",
            r#"MetricBuilder().name("n").value(1.0).unit(MetricUnitType::COUNT).dimensions(MetricDimensionsBuilder().add("k", "v").build()).publish()"#,
        ),
        call(
            "MetricDimensionsBuilder",
            r#"MetricDimensionsBuilder().add("k", "v").build()"#,
        ),
        call(
            "AlarmBuilder",
            r#"AlarmBuilder().type("t").details("d").publish()"#,
        ),
        // Logging.
        call("info", r#"info("x")"#),
        call("warn", r#"warn("x")"#),
        call("error", r#"error("x")"#),
        // debug(message) logs, then fails: Rhai's `debug` wants a registered `debug` to
        // return a string, and the logging binding returns `()`.
        call("debug", r#"debug("x")"#).may_fail(),
        call("trace", r#"trace("x")"#),
        call("to_string", "ls::all.to_string()"),
    ]);
    out
}

/// The temp dir every file call works in: two files, a tree below `sub`, the empty
/// directory `vacant` and `full`, which holds one file.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "gamma,1\ngamma,2\nalpha beta,3\n").unwrap();
    std::fs::write(p.join("b.txt"), "old\n").unwrap();
    std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
    std::fs::write(p.join("sub/c.txt"), "c\n").unwrap();
    std::fs::write(p.join("sub/deeper/d.txt"), "d\n").unwrap();
    // Where `dir.move` lands: an empty directory it replaces, and one with entries it enters.
    std::fs::create_dir(p.join("vacant")).unwrap();
    std::fs::create_dir(p.join("full")).unwrap();
    std::fs::write(p.join("full/x.txt"), "x\n").unwrap();
    std::os::unix::fs::symlink("a.txt", p.join("link")).unwrap();
    copy_made(p);
    dir
}

/// Runs `script` and returns the decisions the gate made, and the run's error if any.
fn run(script: &str, policy: &str) -> (Vec<Seen>, Option<String>) {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("sdk_table.cedar", policy, &schema).unwrap();
    let kept = KeptDecisions::default();
    let recorder = Recorder::Log(Box::new(kept.clone()));
    let gate = Gate::new(schema, policies, "root", recorder, Arc::default());
    let limits = Limits::default();
    let host = Host::new(gate, limits.host(), Interrupt::new()).unwrap();
    let outcome = tollgate_script::run(host, script, Scope::new(), limits);
    // Every run ends with the release of its answer, which is no function's ask.
    let seen = kept
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(action, _, _)| *action != Action::OutputRelease)
        .cloned()
        .collect();
    (seen, outcome.error.map(|e| e.to_string()))
}

/// What is wrong with the decisions `seen` of `c`, measured against the table.
fn mismatches(c: &Call, seen: &[Seen]) -> Vec<String> {
    let expected: Vec<_> = sdk_actions::asks(c.function)
        .iter()
        .filter(|ask| ask.when.is_none_or(|w| c.cases.contains(&w)))
        .collect();
    let fits = |ask: &sdk_actions::Ask, action: Action, resource: &Resource| {
        ask.actions.contains(&action)
            && ask.entity.matches(resource)
            && match ask.which {
                Which::Id(id) => resource.id() == id,
                Which::Only | Which::Role(_) => true,
            }
    };
    let mut out = Vec::new();
    for (action, resource, call) in seen {
        if !expected.iter().any(|ask| fits(ask, *action, resource)) {
            out.push(format!(
                "asked {action} on {resource}, which the table does not list"
            ));
        }
        // The record names the call it served, as the SDK table names it.
        if *call != Some(c.function) {
            out.push(format!(
                "the decision of {action} on {resource} names the call {call:?}"
            ));
        }
    }
    for ask in &expected {
        for &action in ask.actions {
            if !seen
                .iter()
                .any(|(a, r, _)| fits(ask, action, r) && *a == action)
            {
                out.push(format!("never asked {action} of `{}`", ask.describe()));
            }
        }
    }
    out
}

#[test]
fn every_sdk_function_asks_the_gate_what_the_table_says() {
    let port = http_server();
    let calls = calls();

    // Each function is called, and each case of the table is made, by some call.
    let called: BTreeSet<&str> = calls.iter().map(|c| c.function).collect();
    for f in SDK {
        assert!(called.contains(f.name), "{} is never called", f.name);
    }
    for c in &calls {
        assert!(
            SDK.iter().any(|f| f.name == c.function),
            "{} is not an SDK function",
            c.function
        );
        for case in &c.cases {
            assert!(
                sdk_actions::asks(c.function)
                    .iter()
                    .any(|a| a.when == Some(*case)),
                "{}: the table has no case {case:?}",
                c.function
            );
        }
    }
    for f in sdk_actions::TABLE {
        for when in f.asks.iter().filter_map(|a| a.when) {
            let made = calls
                .iter()
                .any(|c| c.function == f.function && c.cases.contains(&when));
            assert!(
                made || NOT_CALLED.contains(&(f.function, when)),
                "{}: no call makes the case {when:?}",
                f.function
            );
        }
    }

    // Without a core dump, the calls that read one are given a file that is not one.
    let core = core_or_stand_in();
    let mut failures = Vec::new();
    for c in &calls {
        let dir = fixture();
        let dir_path = dir.path().to_str().unwrap().to_owned();
        let mut child: Option<Child> = None;
        let mnt = format!("{dir_path}/mnt");
        if c.call.contains("{mnt}") {
            std::fs::create_dir(&mnt).unwrap();
            if private_mounts() {
                let status = Command::new("mount")
                    .args(["-t", "tmpfs", "tollgate-sdk-table", &mnt])
                    .status()
                    .unwrap();
                assert!(status.success(), "mount a tmpfs on {mnt}");
            }
        }
        let fill = |text: &str, pid: u32| {
            text.replace("{mnt}", &mnt)
                .replace("{dir}", &dir_path)
                .replace("{port}", &port.to_string())
                .replace("{pid}", &pid.to_string())
                .replace("{core}", &core)
        };
        let pid = if c.call.contains("{pid}") {
            let sleeper = Command::new("sleep").arg("60").spawn().unwrap();
            let pid = sleeper.id();
            child = Some(sleeper);
            pid
        } else {
            0
        };
        let mut policy = POLICY.to_owned();
        if c.no_read {
            policy.push_str(&fill(NO_READ, pid));
        }
        let setup = fill(&c.setup, pid);
        let skip = if setup.is_empty() {
            0
        } else {
            let (seen, error) = run(&setup, &policy);
            assert_eq!(error, None, "{}: the setup failed", c.function);
            seen.len()
        };
        let script = format!("{setup}\n{}", fill(&c.call, pid));
        let (seen, error) = run(&script, &policy);
        if let Some(mut sleeper) = child {
            let _ = sleeper.kill();
            let _ = sleeper.wait();
        }
        let mut wrong = mismatches(c, &seen[skip.min(seen.len())..]);
        if let (Some(e), false) = (&error, c.may_fail) {
            wrong.push(format!("failed: {e}"));
        }
        if !wrong.is_empty() {
            failures.push(format!("{}:\n    {}", c.call, wrong.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "calls that do not ask what tollgate_policy::sdk_actions::TABLE says:\n{}",
        failures.join("\n")
    );
}
