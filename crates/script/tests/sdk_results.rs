//! What every SDK function returns: one call of each, on real files in a temp dir, real
//! processes and a server on localhost, and the result's type (as `type_of` names it), its
//! fields (an object's `to_map()` keys, a map's keys), the type and fields of an array's first
//! element (or a map's first value), and a few values where they are fixed by the fixture.
//!
//! The expected shapes are Rex's where the function is Rex's (checked against rex-runner
//! 0.1.0): a row whose Tollgate result differs in a way README.md's "Where Tollgate's SDK
//! deliberately differs from Rex" does not list says so in `known_difference`, and the test
//! prints those rows.
//!
//! Everything is permitted but what would change the system outside the temp dir, as in
//! `sdk_table.rs`. Calls that need what a test host may lack (systemd, `/dev/kmsg`, a core
//! dump) are made, and may fail, for the reason their row gives.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::Arc;

use rhai::{Dynamic, Map, Scope};
use tollgate_host::{Host, Interrupt};
use tollgate_policy::{Gate, Policies, Recorder, Schema};
use tollgate_script::sdk::SDK;
use tollgate_script::Limits;

use common::*;

/// Everything is permitted but what would change the system outside the temp dir.
const POLICY: &str = r#"
permit(principal, action, resource);
forbid(principal, action in [systemd::Action::"start", systemd::Action::"stop", systemd::Action::"restart", systemd::Action::"daemon_reload"], resource);
forbid(principal, action == file_system::Action::"write", resource in file_system::Dir::"/proc/sys");
"#;

/// One call of an SDK function and what it returns.
struct Row {
    function: &'static str,
    /// Statements run before the call (which may use what they bind).
    setup: String,
    call: String,
    ty: &'static str,
    fields: &'static [&'static str],
    /// The type and fields of the first element of an array (the first value of a map).
    first: Option<(&'static str, &'static [&'static str])>,
    /// Rhai expressions on the result `r`, and their `to_string()`.
    values: Vec<(&'static str, &'static str)>,
    /// Why the call may fail on a test host (it is still made).
    may_fail: Option<&'static str>,
    /// How Tollgate's result differs from Rex's (the expected shape above), where README.md
    /// does not list it, and Tollgate's result as `Seen::as_row` states it.
    known_difference: Option<(&'static str, &'static str)>,
    /// The result is a map keyed by what the host has (device names): its keys are not compared.
    host_keys: bool,
}

fn row(function: &'static str, call: &str) -> Row {
    Row {
        function,
        setup: String::new(),
        call: call.to_owned(),
        ty: "",
        fields: &[],
        first: None,
        values: Vec::new(),
        may_fail: None,
        known_difference: None,
        host_keys: false,
    }
}

impl Row {
    fn after(mut self, setup: &str) -> Row {
        self.setup = setup.to_owned();
        self
    }

    /// The result's type and fields (none for a value that is neither object nor map).
    fn is(mut self, ty: &'static str, fields: &'static [&'static str]) -> Row {
        self.ty = ty;
        self.fields = fields;
        self
    }

    fn first(mut self, ty: &'static str, fields: &'static [&'static str]) -> Row {
        self.first = Some((ty, fields));
        self
    }

    fn value(mut self, expression: &'static str, expected: &'static str) -> Row {
        self.values.push((expression, expected));
        self
    }

    fn may_fail(mut self, reason: &'static str) -> Row {
        self.may_fail = Some(reason);
        self
    }

    fn known_difference(mut self, note: &'static str, tollgate: &'static str) -> Row {
        self.known_difference = Some((note, tollgate));
        self
    }

    fn host_keys(mut self) -> Row {
        self.host_keys = true;
        self
    }
}

const OPEN_DIR: &str =
    r#"let d = DirConfig().path("{dir}").build().open(OpenDirOptions().build());"#;
const SUB_DIR: &str =
    r#"let s = DirConfig().path("{dir}/sub").build().open(OpenDirOptions().build());"#;
const READABLE: &str = "OpenFileOptions().read(true).build()";
const UNIT: &str = "tollgate-sdk-results-test.service";
const NO_SYSTEMD: &str = "needs a running systemd";
const NO_KMSG: &str = "needs a readable /dev/kmsg";
const NO_CORE: &str = "needs a core dump, which gcore makes only where ptrace is allowed";
const NO_CHOWN: &str = "needs CAP_CHOWN";
/// The policy forbids it: the call is made, and denied before it changes anything.
const CHANGES_SYSTEM: &str = "forbidden here: it would change the system";

/// Opens the temp dir as `d` and its file `name` for reading as `f`.
fn open_read(name: &str) -> String {
    format!(r#"{OPEN_DIR} let f = d.open_file("{name}", {READABLE});"#)
}

/// Opens the temp dir as `d` and its file `name` for writing as `w`.
fn open_write(name: &str) -> String {
    format!(r#"{OPEN_DIR} let w = d.open_file("{name}", OpenFileOptions().write(true).build());"#)
}

const USR_BIN_TRUE: &str = r#"let f = DirConfig().path("/usr/bin").build().open(OpenDirOptions().build()).open_file("true", OpenFileOptions().read(true).build());"#;

/// Every row: each SDK function at least once.
fn rows() -> Vec<Row> {
    vec![
        // Files: reading.
        row("cat", r#"cat("{dir}/a.txt")"#).value("r", "gamma,1\ngamma,2\nalpha beta,3\n").is("string", &[]),
        row("tail", r#"tail("{dir}/a.txt")"#).value("r.len()", "3").value("r[2]", "alpha beta,3").is("array", &[]).first("string", &[]),
        row("wc", r#"wc("{dir}/a.txt")"#).value("r.lines", "3").value("r.words", "4").value("r.bytes", "29").is("map", &["bytes", "lines", "words"]).first("i64", &[]),
        row("grep", r#"grep("gamma", "{dir}/a.txt")"#).value("r", r#"["gamma,1", "gamma,2"]"#).is("array", &[]).first("string", &[]),
        row("sed", r#"sed("alpha", "omega", "{dir}/a.txt")"#).value("r", "gamma,1\ngamma,2\nomega beta,3\n").is("string", &[]),
        row("awk_filter", r#"awk_filter("gamma", "{dir}/a.txt")"#).value("r.len()", "2").is("array", &[]).first("string", &[]),
        row("awk_field", r#"awk_field(1, ",", "{dir}/a.txt")"#).value("r", r#"["gamma", "gamma", "alpha beta"]"#).is("array", &[]).first("string", &[]),
        row("awk_filter_field", r#"awk_filter_field(1, ",", "gamma", "{dir}/a.txt")"#).value("r.len()", "2").is("array", &[]).first("string", &[]),
        row("awk_filter_range", r#"awk_filter_range(1, 2, "{dir}/a.txt")"#).value("r", r#"["gamma,1", "gamma,2"]"#).is("array", &[]).first("string", &[]),
        row("awk_sum", r#"awk_sum(2, ",", "{dir}/a.txt")"#).value("r", "6.0").is("f64", &[]),
        row("awk_count_unique", r#"awk_count_unique(1, ",", "{dir}/a.txt")"#).value("r", r#"#{"alpha beta": 1, "gamma": 2}"#).is("map", &["alpha beta", "gamma"]).first("i64", &[]),
        row("awk_split", r#"awk_split("a b", " ")"#).value("r", r#"["a", "b"]"#).is("array", &[]).first("string", &[]),
        // Directories and metadata.
        row("ls", r#"ls("{dir}/sub")"#).value(r#"r["c.txt"].name"#, "c.txt").is("map", &["c.txt", "deeper"]).first("rust_safe_io::dir_entry::DirEntry", &["inode", "name", "type"]),
        row("find_files", r#"find_files([glob::recursive], "*.txt", "{dir}/sub")"#).value("r.len()", "2").is("array", &[]).first("string", &[]),
        row("du", r#"du("{dir}/sub")"#).value("type_of(r.entries[0])", "map").value("fields_of(r.entries[0])", r#"["inode_count", "path", "size_bytes"]"#).value("r.entries.len()", "2").is("map", &["entries", "total_inode_count", "total_size_bytes"]).first("array", &[]),
        row("stat", r#"stat("{dir}/a.txt")"#).value("r.size", "29").value("r.name", "a.txt").is("map", &["gid", "inode", "mode", "mtime", "name", "nlink", "path", "permissions", "size", "type", "uid"]).first("i64", &[]),
        // Changes.
        row("write", r#"write("{dir}/new.txt", "x")"#).is("()", &[]),
        row("touch", r#"touch("{dir}/new.txt")"#).is("()", &[]),
        row("mkdir", r#"mkdir("{dir}/made")"#).is("()", &[]),
        row("cp", r#"cp("{dir}/a.txt", "{dir}/copy.txt")"#).is("()", &[]),
        row("mv", r#"mv("{dir}/a.txt", "{dir}/moved.txt")"#).is("()", &[]),
        row("rm", r#"rm("{dir}/b.txt")"#).is("()", &[]),
        // Touch nothing.
        row("seq", "seq(1, 3)").value("r", "[1, 2, 3]").is("array", &[]).first("i64", &[]),
        row("sleep", "sleep(0)").is("()", &[]),
        row("pad", r#"let s = "ab"; s.pad(4, "-"); s"#).value("r", "ab--").is("string", &[]),
        row("replace", r#"let s = "abc"; s.replace("b", "x"); s"#).value("r", "axc").is("string", &[]),
        row("split", r#""a b".split()"#).value("r", r#"["a", "b"]"#).is("array", &[]).first("string", &[]),
        row("split_rev", r#""a.b".split_rev(".")"#).value("r", r#"["b", "a"]"#).is("array", &[]).first("string", &[]),
        row("to_chars", r#""ab".to_chars()"#).value("r", "[a, b]").is("array", &[]).first("char", &[]),
        row("sort", "let a = [2, 1]; a.sort(); a").value("r", "[1, 2]").is("array", &[]).first("i64", &[]),
        row("sort_by", "let a = [2, 1]; a.sort_by(|x, y| x - y); a").value("r", "[1, 2]").is("array", &[]).first("i64", &[]),
        row("order", "[2, 1].order()").value("r", "[1, 2]").is("array", &[]).first("i64", &[]),
        row("order_by", "[2, 1].order_by(|x, y| x - y)").value("r", "[1, 2]").is("array", &[]).first("i64", &[]),
        row("dedup", "let a = [1, 1, 2]; a.dedup(); a").value("r", "[1, 2]").is("array", &[]).first("i64", &[]),
        // Open handles: options.
        row("DirConfig", "DirConfig()").is("rust_safe_io::dir::open_dir::DirConfigBuilder", &[]),
        row("path", r#"DirConfig().path("{dir}")"#).is("rust_safe_io::dir::open_dir::DirConfigBuilder", &[]),
        row("build", r#"DirConfig().path("{dir}").build()"#).is("rust_safe_io::dir::open_dir::DirConfig", &[]),
        row("OpenDirOptions", "OpenDirOptions()").is("rust_safe_io::options::OpenDirOptionsBuilder", &[]),
        row("OpenFileOptions", "OpenFileOptions()").is("rust_safe_io::options::OpenFileOptionsBuilder", &[]),
        row("read", "OpenFileOptions().read(true)").is("rust_safe_io::options::OpenFileOptionsBuilder", &[]),
        row("ReadLinesOptions", "ReadLinesOptions().count(-10).build()").is("rust_safe_io::options::ReadLinesOptions", &[]),
        row("ReadPageOptions", "ReadPageOptions().num_lines(100).build()").is("rust_safe_io::options::ReadPageOptions", &[]),
        row("WriteOptions", "WriteOptions().preserve_ownership(true).build()").is("rust_safe_io::options::WriteOptions", &[]),
        row("CopyFileOptions", "CopyFileOptions().force(true).preserve(true).build()").is("rust_safe_io::options::CopyFileOptions", &[]),
        row("MoveOptions", "MoveOptions().backup(true).build()").is("rust_safe_io::options::MoveOptions", &[]),
        row("DeleteFileOptions", "DeleteFileOptions().force(true).build()").is("rust_safe_io::options::DeleteFileOptions", &[]),
        row("DeleteDirOptions", "DeleteDirOptions().recursive(true).build()").is("rust_safe_io::options::DeleteDirOptions", &[]),
        row("ChmodDirOptions", "ChmodDirOptions().permissions(0o750).recursive(true).build()").is("rust_safe_io::options::ChmodDirOptions", &[]),
        row("SetOwnershipOptions", r#"SetOwnershipOptions().user("root").group("root").build()"#).is("rust_safe_io::options::SetOwnershipOptions", &[]),
        row("SetXAttrOptions", r#"SetXAttrOptions().name("security.selinux").selinux_user("system_u").selinux_role("object_r").selinux_type("tmp_t").selinux_level("s0").build()"#).is("rust_safe_io::options::SetXAttrOptions", &[]),
        row("TruncateOptions", "TruncateOptions().size(4).format(SizeUnit::KIBIBYTES).build()").is("rust_safe_io::file::unix::linux::truncate::TruncateOptions", &[]),
        row("FallocateOptions", "FallocateOptions().length(1).format(SizeUnit::MEBIBYTES).build()").is("rust_safe_io::options::DiskAllocationOptions", &[]),
        row("CreateSymlinkOptions", "CreateSymlinkOptions().force(true).build()").is("rust_safe_io::options::CreateSymlinkOptions", &[]),
        row("FindOptions", r#"FindOptions().name("*.txt").max_depth(2).build()"#).is("rust_safe_io::options::FindOptions", &[]),
        row("DiskUsageOptions", "DiskUsageOptions().apparent_size(true).build()").is("rust_safe_io::options::DiskUsageOptions", &[]),
        row("ReplacementOptions", "ReplacementOptions().is_regex(true).replace_all(true).build()").is("rust_safe_io::options::ReplacementOptions", &[]),
        row("replace_text", r#"replace_text("abcb", "b", "x", ReplacementOptions().replace_all(true).build())"#).value("r", "axcx").is("string", &[]),
        row("SizeRange::min_only", "SizeRange::min_only(1, SizeUnit::MEBIBYTES)").is("rust_safe_io::options::SizeRange", &[]),
        row("SizeRange::max_only", "SizeRange::max_only(1, SizeUnit::MEBIBYTES)").is("rust_safe_io::options::SizeRange", &[]),
        row("SizeRange::between", "SizeRange::between(1, 2, SizeUnit::KIBIBYTES)").is("rust_safe_io::options::SizeRange", &[]),
        // Directory handles.
        row("DirConfig.open", r#"DirConfig().path("{dir}").build().open(OpenDirOptions().build())"#).is("rust_safe_io::dir::common::RcDirHandle", &[]),
        row("RcDirHandle.open_file", r#"d.open_file("a.txt", OpenFileOptions().read(true).build())"#).after(OPEN_DIR).is("rust_safe_io::file::common::RcFileHandle", &[]),
        row("RcDirHandle.open_symlink", r#"d.open_symlink("link")"#).after(OPEN_DIR).is("rust_safe_io::symlink::common::RcSymlinkHandle", &[]),
        row("RcDirHandle.read_link_target", r#"d.read_link_target("link")"#).after(OPEN_DIR).value("r", "a.txt").is("string", &[]),
        row("RcDirHandle.list_entries", "s.list_entries()").after(SUB_DIR).value(r#"r["deeper"].name"#, "deeper").is("map", &["c.txt", "deeper"]).first("rust_safe_io::dir_entry::DirEntry", &["inode", "name", "type"]),
        row("RcDirHandle.metadata", "d.metadata()").after(OPEN_DIR).is("rust_safe_io::dir_entry::Metadata", &["allocated_size", "file_size", "last_modified_time", "num_hardlinks", "owner_group", "owner_user", "permissions", "symlink_target", "type"]),
        row("RcDirHandle.get_ownership", "d.get_ownership()").after(OPEN_DIR).value("r.user", "root").is("rust_safe_io::Ownership", &[]).known_difference("Rex's Ownership has no to_map(); Tollgate's gives {group, user}", r#".is("rust_safe_io::Ownership", &["group", "user"]) values ["root"]"#),
        row("RcDirHandle.chmod", "s.chmod(ChmodDirOptions().permissions(0o755).build())").after(SUB_DIR).is("()", &[]),
        row("RcDirHandle.set_ownership", r#"s.set_ownership(SetOwnershipOptions().user("root").build())"#).after(SUB_DIR).may_fail(NO_CHOWN).is("()", &[]),
        row("RcDirHandle.delete", "e.delete(DeleteDirOptions().build())").after(r#"let e = DirConfig().path("{dir}/vacant").build().open(OpenDirOptions().build());"#).is("()", &[]),
        row("RcDirHandle.create_symlink", r#"d.create_symlink("a.txt", "new-link", CreateSymlinkOptions().build())"#).after(OPEN_DIR).is("()", &[]),
        row("RcDirHandle.find", r#"s.find(FindOptions().name("*.txt").build(), |e| {})"#).after(SUB_DIR).is("()", &[]),
        // What the callback is given.
        row("RcDirHandle.find", r#"let seen = []; s.find(FindOptions().name("*.txt").build(), |e| seen.push(e)); seen"#).after(SUB_DIR).is("array", &[]).first("rust_safe_io::dir_entry::DirEntry", &["inode", "name", "type"]),
        row("RcDirHandle.disk_usage", "s.disk_usage(DiskUsageOptions().build())").after(SUB_DIR).value("type_of(r.entries[0])", "rust_safe_io::dir::unix::disk_usage::DiskUsageEntry").value("fields_of(r.entries[0])", r#"["inode_count", "path", "size_bytes"]"#).value("type_of(r.largest_subdir_handle)", "()").is("rust_safe_io::dir::unix::disk_usage::DiskUsageResult", &[]).known_difference("Rex's DiskUsageResult has no to_map(); Tollgate's gives {entries, largest_subdir_handle}", ".is(\"rust_safe_io::dir::unix::disk_usage::DiskUsageResult\", &[\"entries\", \"largest_subdir_handle\"]) values [\"rust_safe_io::dir::unix::disk_usage::DiskUsageEntry\", \"[\\\"inode_count\\\", \\\"path\\\", \\\"size_bytes\\\"]\", \"()\"]"),
        row("RcDirHandle.move", r#"d.move(s, d, "moved", MoveOptions().build())"#).after(&format!("{OPEN_DIR} {SUB_DIR}")).is("rust_safe_io::dir::common::RcDirHandle", &[]),
        // File handles.
        row("RcFileHandle.read", "f.read()").after(&open_read("a.txt")).value("r", "gamma,1\ngamma,2\nalpha beta,3\n").is("string", &[]),
        row("RcFileHandle.read_lines", "f.read_lines(ReadLinesOptions().count(-2).build())").after(&open_read("a.txt")).value("r", r#"["gamma,2", "alpha beta,3"]"#).is("array", &[]).first("string", &[]),
        row("RcFileHandle.read_page", "f.read_page(ReadPageOptions().num_lines(2).build())").after(&open_read("a.txt")).value("r", r#"["gamma,1", "gamma,2"]"#).is("array", &[]).first("string", &[]),
        row("RcFileHandle.search", r#"f.search("gamma")"#).after(&open_read("a.txt")).value("r.len()", "2").value("r[1].line_number", "2").value("r[1].line_content", "gamma,2").is("array", &[]).first("rust_safe_io::file::search::Match", &[]).known_difference("Rex's Match has no to_map(); Tollgate's gives {line_content, line_number}", r#".is("array", &[]).first("rust_safe_io::file::search::Match", &["line_content", "line_number"]) values ["2", "2", "gamma,2"]"#),
        row("RcFileHandle.counts", "f.counts()").after(&open_read("a.txt")).value("r.line_count", "3").value("r.word_count", "4").value("r.byte_count", "29").is("rust_safe_io::file::counts::WordCount", &["byte_count", "line_count", "word_count"]),
        row("RcFileHandle.write", r#"w.write("x")"#).after(&open_write("a.txt")).is("rust_safe_io::file::common::RcFileHandle", &[]),
        row("RcFileHandle.write_in_place", r#"w.write_in_place("x")"#).after(&open_write("a.txt")).is("()", &[]),
        row("RcFileHandle.truncate", "w.truncate(TruncateOptions().size(1).build())").after(&open_write("a.txt")).is("()", &[]),
        row("RcFileHandle.fallocate", "w.fallocate(FallocateOptions().length(1).build())").after(&open_write("a.txt")).is("()", &[]),
        row("RcFileHandle.chmod", "w.chmod(0o640)").after(&open_write("a.txt")).is("()", &[]),
        row("RcFileHandle.set_ownership", r#"w.set_ownership(SetOwnershipOptions().user("root").build())"#).after(&open_write("a.txt")).may_fail(NO_CHOWN).is("()", &[]),
        row("RcFileHandle.set_extended_attr", r#"w.set_extended_attr(SetXAttrOptions().name("security.selinux").selinux_user("system_u").selinux_role("object_r").selinux_type("tmp_t").selinux_level("s0").build())"#).after(&open_write("a.txt")).may_fail("needs a file system that takes security.selinux").is("()", &[]),
        row("RcFileHandle.delete", "w.delete(DeleteFileOptions().build())").after(&open_write("a.txt")).is("()", &[]),
        row("RcFileHandle.copy", "f.copy(w, CopyFileOptions().force(true).build())").after(&format!(r#"{} let w = d.open_file("b.txt", OpenFileOptions().write(true).build());"#, open_read("a.txt"))).is("rust_safe_io::file::common::RcFileHandle", &[]),
        row("RcFileHandle.move", r#"w.move(d, "moved.txt", MoveOptions().build())"#).after(&open_write("a.txt")).is("rust_safe_io::file::common::RcFileHandle", &[]),
        row("RcFileHandle.metadata", "f.metadata()").after(&open_read("a.txt")).value("r.file_size()", "29").value("r.num_hardlinks()", "1").is("rust_safe_io::dir_entry::Metadata", &["allocated_size", "file_size", "last_modified_time", "num_hardlinks", "owner_group", "owner_user", "permissions", "symlink_target", "type"]),
        row("RcFileHandle.get_ownership", "f.get_ownership()").after(&open_read("a.txt")).value("r.user", "root").value("r.group", "root").is("rust_safe_io::Ownership", &[]).known_difference("Rex's Ownership has no to_map(); Tollgate's gives {group, user}", r#".is("rust_safe_io::Ownership", &["group", "user"]) values ["root", "root"]"#),
        row("RcFileHandle.get_last_modified_time", "f.get_last_modified_time()").after(&open_read("a.txt")).is("i64", &[]),
        row("RcFileHandle.disk_usage", "f.disk_usage(DiskUsageOptions().build())").after(&open_read("a.txt")).value("r.inode_count", "1").is("rust_safe_io::dir::unix::disk_usage::DiskUsageEntry", &["inode_count", "path", "size_bytes"]),
        row("RcFileHandle.execute", "f.execute(ExecuteOptions().build())").after(USR_BIN_TRUE).value("r.exit_code", "0").value("r.stdout", "").is("rust_safe_io::execute::ExecuteResult", &["exit_code", "stderr", "stdout", "truncated"]),
        row("RcSymlinkHandle.metadata", "l.metadata()").after(&format!(r#"{OPEN_DIR} let l = d.open_symlink("link");"#)).value("r.symlink_target()", "a.txt").is("rust_safe_io::dir_entry::Metadata", &["allocated_size", "file_size", "last_modified_time", "num_hardlinks", "owner_group", "owner_user", "permissions", "symlink_target", "type"]),
        row("RcSymlinkHandle.set_ownership", r#"l.set_ownership(SetOwnershipOptions().user("root").build())"#).after(&format!(r#"{OPEN_DIR} let l = d.open_symlink("link");"#)).may_fail(NO_CHOWN).is("()", &[]),
        row("DirEntry.metadata", "e.metadata()").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["a.txt"];"#)).value("r.file_size()", "29").is("rust_safe_io::dir_entry::Metadata", &["allocated_size", "file_size", "last_modified_time", "num_hardlinks", "owner_group", "owner_user", "permissions", "symlink_target", "type"]),
        row("DirEntry.open_as_file", "e.open_as_file(OpenFileOptions().read(true).build())").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["a.txt"];"#)).is("rust_safe_io::file::common::RcFileHandle", &[]),
        row("DirEntry.open_as_dir", "e.open_as_dir(OpenDirOptions().build())").after(&format!(r#"{OPEN_DIR} let e = d.list_entries()["sub"];"#)).is("rust_safe_io::dir::common::RcDirHandle", &[]),
        // File formats.
        row("RcFileHandle.read_gzip_lines", "f.read_gzip_lines(ReadLinesOptions().count(-10).build())").after(&open_read("a.txt.gz")).value("r", r#"["gamma,1", "gamma,2", "alpha beta,3"]"#).is("array", &[]).first("string", &[]),
        row("RcFileHandle.search_gzip", r#"f.search_gzip("GAMMA", SearchGzipOptions().case_insensitive(true).build())"#).after(&open_read("a.txt.gz")).value("r.len()", "2").value("r[0].line_content", "gamma,1").is("array", &[]).first("rust_safe_io::file::search::Match", &[]).known_difference("Rex's Match has no to_map(); Tollgate's gives {line_content, line_number}", r#".is("array", &[]).first("rust_safe_io::file::search::Match", &["line_content", "line_number"]) values ["2", "gamma,1"]"#),
        row("RcFileHandle.search_gzip_exists", r#"f.search_gzip_exists("alpha", SearchGzipOptions().build())"#).after(&open_read("a.txt.gz")).value("r", "true").is("bool", &[]),
        row("RcFileHandle.gzip_info", "f.gzip_info()").after(&open_read("a.txt.gz")).value("r.uncompressed_size_bytes", "29").is("rust_safe_io::file::gzip::GzipInfo", &["compressed_size_bytes", "compression_ratio", "uncompressed_size_bytes"]),
        row("RcFileHandle.compress_gzip", "f.compress_gzip(out, CompressGzipOptions().build())").after(&format!(r#"{} let out = d.open_file("b.txt", OpenFileOptions().write(true).build());"#, open_read("a.txt"))).is("()", &[]),
        row("SearchGzipOptions", r#"SearchGzipOptions().case_insensitive(true).exclude_pattern("beta").max_results(-10).build()"#).is("rust_safe_io::options::SearchGzipOptions", &[]),
        row("CompressGzipOptions", "CompressGzipOptions().level(9).build()").is("rust_safe_io::options::CompressGzipOptions", &[]),
        row("RcFileHandle.extract_archive", "f.extract_archive(d, ExtractArchiveOptions().build())").after(&open_read("archive.tar")).is("()", &[]),
        // Rex's form: a tar.gz.
        row("RcFileHandle.extract_archive", "f.extract_archive(d, ExtractArchiveOptions().build())").after(&open_read("archive.tar.gz")).is("()", &[]),
        row("ExtractArchiveOptions", "ExtractArchiveOptions().build()").is("rust_safe_io::options::ExtractArchiveOptions", &[]),
        row("RcFileHandle.elf_info", "f.elf_info()").after(USR_BIN_TRUE).value("r.is_64bit", "true").is("rust_safe_io::file::unix::linux::elf_info::ElfInfo", &["execfn", "interpreter", "is_64bit", "platform"]),
        row("RcFileHandle.extract_strings", "f.extract_strings()").after(&open_read("a.txt")).value("r", r#"["gamma,1", "gamma,2", "alpha beta,3"]"#).is("array", &[]).first("string", &[]),
        row("RcFileHandle.verify_cert", "leaf.verify_cert(root)").after(&format!(r#"{OPEN_DIR} let leaf = d.open_file("leaf.pem", {READABLE}); let root = d.open_file("root.pem", {READABLE});"#)).is("()", &[]),
        row("RcFileHandle.verify_cert_chain", "leaf.verify_cert_chain(root, [inter])").after(&format!(r#"{OPEN_DIR} let leaf = d.open_file("leaf2.pem", {READABLE}); let root = d.open_file("root.pem", {READABLE}); let inter = d.open_file("inter.pem", {READABLE});"#)).is("()", &[]),
        row("CoreDump", r#"CoreDump("/usr/bin/sleep", "{core}")"#).value("r.to_map().exe_path", "/usr/bin/sleep").is("rust_safe_io::core_dump_analysis::core_dump::CoreDump", &["core_dump_path", "exe_path"]),
        row("CoreDump.backtrace", r#"CoreDump("/usr/bin/sleep", "{core}").backtrace()"#).may_fail(NO_CORE).value("type_of(r.threads[0])", "rust_safe_io::core_dump_analysis::TracedThread").value("fields_of(r.threads[0])", r#"["frames", "id", "tid"]"#).value("type_of(r.threads[0].frames[0])", "rust_safe_io::core_dump_analysis::Frame").value("fields_of(r.threads[0].frames[0])", r#"["frame_number", "function_name", "instruction_ptr", "line_number", "source"]"#).is("rust_safe_io::core_dump_analysis::TracedProcess", &["pid", "threads"]),
        row("CoreDump.get_variables", r#"CoreDump("/usr/bin/sleep", "{core}").get_variables(0, ["argc"])"#).may_fail(NO_CORE).is("map", &[]),
        // Programs.
        row("execute", r#"execute("/usr/bin/echo", ["hi"])"#).value("r.exit_code", "0").value("r.stdout", "hi\n").value("r.stderr", "").is("rust_safe_io::execute::ExecuteResult", &["exit_code", "stderr", "stdout", "truncated"]),
        row("ExecuteOptions", "ExecuteOptions()").is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("args", r#"ExecuteOptions().args(["-n"])"#).is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("env", r#"ExecuteOptions().env(#{LANG: "C"})"#).is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("user", r#"ExecuteOptions().user("nobody")"#).is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("group", r#"ExecuteOptions().group("nogroup")"#).is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("timeout_ms", "ExecuteOptions().timeout_ms(100)").is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("capabilities", "ExecuteOptions().capabilities([])").is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("namespace", "ExecuteOptions().namespace(ChildNamespaceOptions().target_process(1).build())").is("rust_safe_io::execute::ExecuteOptionsBuilder", &[]),
        row("ChildNamespaceOptions", "ChildNamespaceOptions().target_process(1).build()").is("rust_safe_io::execute::ChildNamespaceOptions", &[]),
        // Processes.
        row("ps", "ps()").is("array", &[]).first("rust_safe_process_mgmt::ProcessInfo", &["command", "historical_cpu_usage", "memory_percent", "memory_usage", "name", "pid", "pid_namespace", "ppid", "recent_cpu_usage", "state", "uid", "username"]),
        row("kill", "kill({pid})").value("r.len()", "1").value("r[0].name", "sleep").is("array", &[]).first("map", &["name", "pid"]),
        row("ProcessManager", "ProcessManager()").is("rust_safe_process_mgmt::RcProcessManager", &[]),
        row("RcProcessManager.processes", "ProcessManager().processes()").is("array", &[]).first("rust_safe_process_mgmt::ProcessInfo", &["command", "historical_cpu_usage", "memory_percent", "memory_usage", "name", "pid", "pid_namespace", "ppid", "recent_cpu_usage", "state", "uid", "username"]),
        row("RcProcessManager.list_open_files", "ProcessManager().list_open_files(LsofOptions().pid({pid}).build())").value("r.len() > 0", "true").is("array", &[]).first("rust_safe_process_mgmt::OpenFileInfo", &["access_type", "command", "file_path", "file_type", "pid", "process_name", "user"]),
        // Rex's form: every process holding a file below a path (the holder holds a.txt).
        row("RcProcessManager.list_open_files", r#"ProcessManager().list_open_files(LsofOptions().path("{dir}").include_subdir(true).build())"#).value("r.len() > 0", "true").is("array", &[]).first("rust_safe_process_mgmt::OpenFileInfo", &["access_type", "command", "file_path", "file_type", "pid", "process_name", "user"]),
        row("RcProcessManager.processes_using_inode", r#"ProcessManager().processes_using_inode("{dir}/a.txt")"#).value("r.len()", "1").is("array", &[]).first("rust_safe_process_mgmt::FuserInfo", &["access_types", "command", "pid", "user"]),
        row("RcProcessManager.ipcs_info", "ProcessManager().ipcs_info()").value("type_of(r.shared_memory)", "string").value("type_of(r.semaphores)", "string").value("type_of(r.queues)", "string").is("rust_safe_process_mgmt::IpcsInfo", &["queues", "semaphores", "shared_memory"]),
        row("RcProcessManager.monitor_processes_cpu", "ProcessManager().monitor_processes_cpu(MonitorProcessesCpuOptions().pids_to_monitor([{pid}]).batches(1).build())").value("r.len()", "1").value("type_of(r[0][0])", "rust_safe_process_mgmt::ProcessInfo").value("fields_of(r[0][0])", r#"["command", "historical_cpu_usage", "memory_percent", "memory_usage", "name", "pid", "pid_namespace", "ppid", "recent_cpu_usage", "state", "uid", "username"]"#).is("array", &[]).first("array", &[]),
        row("RcProcessManager.kill", "ProcessManager().kill(KillOptions().pid({pid}).signal(Signal::SIGTERM).build())").value("r.len()", "1").value("r[0].name", "sleep").is("array", &[]).first("map", &["name", "pid"]),
        row("RcProcessManager.trace", "ProcessManager().trace({pid})").value("type_of(r.threads[0])", "rust_safe_io::core_dump_analysis::TracedThread").value("fields_of(r.threads[0])", r#"["frames", "id", "tid"]"#).is("rust_safe_io::core_dump_analysis::TracedProcess", &["pid", "threads"]).may_fail("needs ptrace of the holder, which a test host may not allow"),
        row("ProcessOptions", "ProcessOptions().build()").is("rust_safe_process_mgmt::options::ProcessOptions", &[]),
        row("KillOptions", "KillOptions().pid(1).signal(Signal::SIGTERM).build()").is("rust_safe_process_mgmt::options::KillOptions", &[]),
        row("LsofOptions", "LsofOptions().pid(1).build()").is("rust_safe_process_mgmt::options::LsofOptions", &[]),
        row("MonitorProcessesCpuOptions", "MonitorProcessesCpuOptions().build()").is("rust_safe_process_mgmt::options::MonitorProcessesCpuOptions", &[]),
        row("TraceOptions", "TraceOptions().ns_pid(1).build()").is("rust_safe_process_mgmt::options::TraceOptions", &[]),
        row("NamespaceOptions", "NamespaceOptions().build()").is("rust_safe_process_mgmt::options::NamespaceOptions", &[]),
        // The system.
        row("uname", "uname()").value("r.kernel_name", "Linux").is("rust_safe_system_info::uname::common::UnameInfo", &["hardware_platform", "kernel_name", "kernel_release", "kernel_version", "machine", "nodename", "operating_system", "processor"]),
        row("hostname", "hostname()").is("string", &[]),
        row("nproc", "nproc()").value("r > 0", "true").is("i64", &[]),
        row("free", "free()").value("type_of(r.swap)", "rust_safe_system_info::memory::common::Swapinfo").value("fields_of(r.swap)", r#"["free", "total", "used"]"#).is("map", &["memory", "swap"]).first("rust_safe_system_info::memory::common::Meminfo", &["available", "buffers", "cached", "free", "shared_mem", "total", "used"]),
        row("uptime", "uptime()").is("f64", &[]),
        row("loadavg", "loadavg()").is("map", &["fifteen", "five", "one"]).first("f64", &[]),
        row("resolve", r#"resolve("localhost")"#).value(r#"r.contains("127.0.0.1")"#, "true").is("array", &[]).first("string", &[]),
        row("dmesg", "dmesg()").may_fail(NO_KMSG).is("array", &[]).first("rust_safe_system_info::dmesg::common::DmesgEntry", &["message", "timestamp_from_system_start"]),
        row("sysctl_read", r#"sysctl_read("kernel.ostype")"#).value("r", "Linux").is("string", &[]),
        // Forbidden by the policy: the row checks the call is made and denied.
        row("sysctl_write", r#"sysctl_write("vm.swappiness", "60")"#).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("sysctl_find", r#"sysctl_find("kernel/ostype$")"#).value("r", r#"[#{"key": "kernel.ostype", "value": "Linux"}]"#).is("array", &[]).first("map", &["key", "value"]),
        row("SysctlManager", "SysctlManager()").is("rust_safe_system_info::system::SysctlManager", &[]),
        row("SysctlManager.read", r#"SysctlManager().read("kernel.ostype")"#).value("r", "Linux").is("string", &[]),
        row("SysctlManager.write", r#"SysctlManager().write("vm.swappiness", "60")"#).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SysctlManager.find", r#"SysctlManager().find("kernel/ostype$")"#).value("r[0].key", "kernel.ostype").value("r[0].value", "Linux").is("array", &[]).first("rust_safe_system_info::sysctl::common::SysctlEntry", &["key", "value"]),
        row("SystemInfo", "SystemInfo()").is("rust_safe_system_info::system::SystemInfo", &[]),
        row("SystemInfo.hostname", "SystemInfo().hostname()").is("string", &[]),
        row("SystemInfo.uname_info", "SystemInfo().uname_info()").is("rust_safe_system_info::uname::common::UnameInfo", &["hardware_platform", "kernel_name", "kernel_release", "kernel_version", "machine", "nodename", "operating_system", "processor"]),
        row("SystemInfo.cpu_count", "SystemInfo().cpu_count()").value("r > 0", "true").is("i64", &[]),
        row("SystemInfo.memory_info", "SystemInfo().memory_info()").is("rust_safe_system_info::memory::common::Meminfo", &["available", "buffers", "cached", "free", "shared_mem", "total", "used"]),
        row("SystemInfo.swap_info", "SystemInfo().swap_info()").is("rust_safe_system_info::memory::common::Swapinfo", &["free", "total", "used"]),
        row("SystemInfo.dmesg_info", "SystemInfo().dmesg_info(DmesgOptions().build())").may_fail(NO_KMSG).is("array", &[]).first("rust_safe_system_info::dmesg::common::DmesgEntry", &["message", "timestamp_from_system_start"]),
        row("DmesgOptions", "DmesgOptions().build()").is("rust_safe_system_info::options::DmesgOptions", &[]),
        row("SystemInfo.kernel_stats", "SystemInfo().kernel_stats()").value("type_of(r.total_cpu_time)", "rhai_safe_system_info::kernel_stats::RhaiCpuTime").value("fields_of(r.total_cpu_time)", r#"["guest_ms", "guest_nice_ms", "guest_nice_ticks", "guest_ticks", "idle_ms", "idle_ticks", "iowait_ms", "iowait_ticks", "irq_ms", "irq_ticks", "nice_ms", "nice_ticks", "softirq_ms", "softirq_ticks", "stolen_ms", "stolen_ticks", "system_ms", "system_ticks", "user_ms", "user_ticks"]"#).value("type_of(r.cpu_time)", "array").is("rhai_safe_system_info::kernel_stats::RhaiKernelStats", &["boot_time", "context_switches", "cpu_time", "forks", "procs_blocked", "procs_running", "total_cpu_time"]),
        row("SystemInfo.slab_info", "SystemInfo().slab_info()").may_fail("needs a readable /proc/slabinfo").value("type_of(r.summary)", "rust_safe_system_info::slab::common::SlabSummary").value("fields_of(r.summary)", r#"["active_caches", "active_objects", "active_size_kb", "active_slabs", "avg_obj_size_kb", "caches_usage_percent", "max_obj_size_kb", "min_obj_size_kb", "objects_usage_percent", "size_usage_percent", "slabs_usage_percent", "total_caches", "total_objects", "total_size_kb", "total_slabs"]"#).value("type_of(r.slabs[0])", "rust_safe_system_info::slab::common::SlabEntry").value("fields_of(r.slabs[0])", r#"["active", "name", "obj_per_slab", "obj_size_bytes", "objs", "pages_per_slab", "slabs"]"#).is("rust_safe_system_info::slab::common::SlabInfo", &["slabs", "summary"]),
        row("SystemInfo.resolve_hostname", r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").build())"#).value(r#"r.contains("127.0.0.1")"#, "true").is("array", &[]).first("string", &[]),
        row("ResolveOptions", r#"ResolveOptions().hostname("localhost").build()"#).is("rust_safe_system_info::options::ResolveConfig", &[]),
        row("df", "df()").is("array", &[]).first("rust_safe_disk_info::df::common::Filesystem", &["block_available", "block_use_percent", "block_used", "fs_device", "fs_kind", "ifree", "inodes", "iuse_percent", "iused", "kb_blocks", "mb_blocks", "mount_options", "mounted_on", "size"]),
        row("lsblk", "lsblk()").host_keys().value("type_of(r.values()[0].children)", "array").is("map", &[]).first("map", &["children", "maj", "min", "mount_point", "name", "read_only", "removable", "size_kib", "type"]),
        row("iostat", "iostat()").value("type_of(r.cpu_stats)", "rust_safe_disk_info::iostat::common::CpuStats").value("fields_of(r.cpu_stats)", r#"["idle_percent", "iowait_percent", "nice_percent", "steal_percent", "system_percent", "user_percent"]"#).value("type_of(r.device_stats)", "array").is("rust_safe_disk_info::iostat::common::IoStatSnapshot", &["cpu_stats", "device_stats"]),
        row("Filesystems", "Filesystems(FilesystemOptions().build())").is("rust_safe_disk_info::diskinfo::Filesystems", &[]),
        row("FilesystemOptions", "FilesystemOptions().build()").is("rust_safe_disk_info::options::FilesystemOptions", &[]),
        row("Filesystems.filesystems", "Filesystems(FilesystemOptions().build()).filesystems()").is("array", &[]).first("rust_safe_disk_info::df::common::Filesystem", &["block_available", "block_use_percent", "block_used", "fs_device", "fs_kind", "ifree", "inodes", "iuse_percent", "iused", "kb_blocks", "mb_blocks", "mount_options", "mounted_on", "size"]),
        row("Filesystems.iostat", "Filesystems(FilesystemOptions().build()).iostat()").value("type_of(r.cpu_stats)", "rust_safe_disk_info::iostat::common::CpuStats").value("fields_of(r.cpu_stats)", r#"["idle_percent", "iowait_percent", "nice_percent", "steal_percent", "system_percent", "user_percent"]"#).is("rust_safe_disk_info::iostat::common::IoStatSnapshot", &["cpu_stats", "device_stats"]),
        row("format_bytes", "format_bytes(2048, Unit::KILOBYTES)").value("r", "2").is("i64", &[]),
        row("UnmountOptions", r#"UnmountOptions().path("{dir}").build()"#).is("rust_safe_disk_info::options::UnmountOptions", &[]),
        row("unmount", r#"unmount(UnmountOptions().path("{dir}").build())"#).may_fail("always refused once permitted: the worker may not call umount2").is("()", &[]),
        // Services: status needs systemd, jobs are forbidden here.
        row("service_status", &format!(r#"service_status("{UNIT}")"#)).may_fail(NO_SYSTEMD).is("rust_safe_process_mgmt::systemctl::ServiceInfo", &["active_state", "description", "documentation", "load_path", "load_state", "main_pid", "memory", "name", "need_daemon_reload", "sub_state", "tasks", "unit_file_preset", "unit_file_state"]),
        row("service_start", &format!(r#"service_start("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("service_stop", &format!(r#"service_stop("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("service_restart", &format!(r#"service_restart("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("service_try_restart", &format!(r#"service_try_restart("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("daemon_reload", "daemon_reload()").may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager", "SystemctlManager()").is("rust_safe_process_mgmt::systemctl::SystemctlManager", &[]),
        row("SystemctlManager.daemon_reload", "SystemctlManager().daemon_reload()").may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager.start", &format!(r#"SystemctlManager().start("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager.stop", &format!(r#"SystemctlManager().stop("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager.restart", &format!(r#"SystemctlManager().restart("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager.try_restart", &format!(r#"SystemctlManager().try_restart("{UNIT}")"#)).may_fail(CHANGES_SYSTEM).is("()", &[]),
        row("SystemctlManager.status", &format!(r#"SystemctlManager().status("{UNIT}")"#)).may_fail(NO_SYSTEMD).is("rust_safe_process_mgmt::systemctl::ServiceInfo", &["active_state", "description", "documentation", "load_path", "load_state", "main_pid", "memory", "name", "need_daemon_reload", "sub_state", "tasks", "unit_file_preset", "unit_file_state"]),
        // Network.
        row("curl", r#"curl("http://127.0.0.1:{port}/")"#).value("r.status", "200").value("r.text", "ok").is("rust_safe_network::client::Response", &["status", "text"]),
        row("Client", "Client()").is("rust_safe_network::client::Client", &[]),
        row("Request.send", r#"Client().get("http://127.0.0.1:{port}/").send()"#).value("r.status", "200").value("r.text", "ok").is("rust_safe_network::client::Response", &["status", "text"]),
        row("http_get", r#"http_get("http://127.0.0.1:{port}/")"#).value("r.status", "200").value("r.text", "ok").is("map", &["headers", "status", "text", "url"]).first("map", &["connection", "content-length", "content-type"]),
        row("connect", r#"connect("127.0.0.1", {port})"#).value("r.connected", "true").is("map", &["address", "connected", "error", "time_ms", "url"]).first("string", &[]),
        row("netstat", "netstat()").value("type_of(r.internet[0])", "map").value("fields_of(r.internet[0])", r#"["local_address", "protocol", "recv_queue", "remote_address", "send_queue", "state"]"#).is("map", &["internet", "unix"]).first("array", &[]),
        row("network_stats", "network_stats()").value("type_of(r.internet_connections[0])", "rust_safe_network::netstat::common::InternetConnection").value("fields_of(r.internet_connections[0])", r#"["inode", "local_address", "process_info", "protocol", "recv_queue", "remote_address", "send_queue", "state"]"#).value("type_of(r.unix_sockets)", "array").is("rust_safe_network::netstat::common::NetworkStats", &["internet_connections", "unix_sockets"]),
        row("ip_addr", "ip_addr()").value("type_of(r[0].addresses)", "array").is("array", &[]).first("rust_safe_network::network::Network", &["addresses", "interface_name"]),
        row("ip_addresses", "ip_addresses()").is("array", &[]).first("rust_safe_network::network::Network", &["addresses", "interface_name"]),
        // Dates, random strings, JSON.
        row("DateTime", "DateTime(2024, 2, 29, 13, 5, 9, 0)").value("r.year", "2024").value("r.month", "2").value("r.day", "29").value("r.hour", "13").value("r.minute", "5").value("r.second", "9").value("r.nanosecond", "0").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("from_epoch_seconds", "from_epoch_seconds(1709211909)").value("r.year", "2024").value("r.hour", "13").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("from_epoch_nanos", "from_epoch_nanos(1709211909, 5)").value("r.second", "9").value("r.nanosecond", "5").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("now", "now()").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("now_nanos", "now_nanos()").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("parse_datetime", r#"parse_datetime("2024-02-29T13:05:09Z", DateTimeFormat::RFC3339)"#).value("r.day", "29").value("r.second", "9").is("rust_sdk_common_utils::types::datetime::DateTime", &[]),
        row("Duration::from_secs", "Duration::from_secs(3)").is("core::time::Duration", &[]),
        row("random_alphanumeric", "random_alphanumeric(8)").value("r.len()", "8").is("string", &[]),
        row("to_json", "to_json(#{a: 1})").value("r", r#"{"a":1}"#).is("string", &[]),
        // Metrics, alarms, logging.
        row("MetricBuilder", r#"MetricBuilder().name("n").value(1.0).unit(MetricUnitType::COUNT).dimensions(MetricDimensionsBuilder().add("k", "v").build())"#).is("MetricBuilder", &[]),
        row("MetricDimensionsBuilder", r#"MetricDimensionsBuilder().add("k", "v").build()"#).value("r.to_string()", "MetricDimensions").is("MetricDimensions", &[]).known_difference("Rex's MetricDimensions has no to_map(); Tollgate's gives the dimensions by name", r#".is("MetricDimensions", &["k"]) values ["MetricDimensions"]"#),
        row("AlarmBuilder", r#"AlarmBuilder().type("t").details("d")"#).is("AlarmBuilder", &[]),
        row("info", r#"info("x")"#).is("()", &[]),
        row("warn", r#"warn("x")"#).is("()", &[]),
        row("error", r#"error("x")"#).is("()", &[]),
        row("debug", r#"debug("x")"#).is("()", &[]),
        row("trace", r#"trace("x")"#).is("()", &[]),
        row("to_string", "ls::all.to_string()").value("r", "LsFlag").is("string", &[]),
    ]
}

/// Script functions that report a value's type and fields.
const PROBE: &str = r#"
fn fields_of(v) {
    if type_of(v) == "map" { return v.keys(); }
    try { return v.to_map().keys(); } catch (e) { return []; }
}
fn first_of(v) {
    let t = type_of(v);
    if t == "array" && v.len() > 0 { v[0] } else if t == "map" && v.len() > 0 { v.values()[0] } else { () }
}
"#;

/// The script of `row`: its setup, its call as `r`, and a map of what it returned.
fn script(row: &Row) -> String {
    let values: Vec<String> = row
        .values
        .iter()
        .map(|(e, _)| format!("({e}).to_string()"))
        .collect();
    format!(
        "{PROBE}\n{}\nlet r = {{ {} }};\n#{{type: type_of(r), fields: fields_of(r), first_type: type_of(first_of(r)), first_fields: fields_of(first_of(r)), values: [{}]}}",
        row.setup,
        row.call,
        values.join(", ")
    )
}

/// What a call returned.
#[derive(Debug, PartialEq)]
struct Seen {
    ty: String,
    fields: Vec<String>,
    first: Option<(String, Vec<String>)>,
    values: Vec<String>,
}

impl Seen {
    fn expected(row: &Row) -> Seen {
        let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        Seen {
            ty: row.ty.to_owned(),
            fields: strings(row.fields),
            first: row.first.map(|(t, f)| (t.to_owned(), strings(f))),
            values: row.values.iter().map(|(_, v)| v.to_string()).collect(),
        }
    }

    fn from(value: Dynamic) -> Seen {
        let map = value.cast::<Map>();
        let text = |key: &str| map[key].to_string();
        let list = |key: &str| -> Vec<String> {
            map[key]
                .clone()
                .into_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect()
        };
        let first_type = text("first_type");
        Seen {
            ty: text("type"),
            fields: list("fields"),
            first: (first_type != "()").then(|| (first_type, list("first_fields"))),
            values: list("values"),
        }
    }

    /// As the row's builder calls would state it.
    fn as_row(&self) -> String {
        let quoted = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = format!(".is({:?}, &[{}])", self.ty, quoted(&self.fields));
        if let Some((t, f)) = &self.first {
            out.push_str(&format!(".first({t:?}, &[{}])", quoted(f)));
        }
        if !self.values.is_empty() {
            out.push_str(&format!(" values {:?}", self.values));
        }
        out
    }
}

/// The temp dir a call works in: `a.txt` (3 lines), `b.txt`, a tree below `sub`, the empty
/// directory `vacant`, the symlink `link` to `a.txt`, and the files `made` makes.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "gamma,1\ngamma,2\nalpha beta,3\n").unwrap();
    std::fs::write(p.join("b.txt"), "old\n").unwrap();
    std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
    std::fs::write(p.join("sub/c.txt"), "c\n").unwrap();
    std::fs::write(p.join("sub/deeper/d.txt"), "d\n").unwrap();
    std::fs::create_dir(p.join("vacant")).unwrap();
    std::os::unix::fs::symlink("a.txt", p.join("link")).unwrap();
    copy_made(p);
    dir
}

/// A `sleep` that holds `dir/a.txt` open, for the calls that list, find or signal a process.
fn hold(dir: &std::path::Path) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg("exec sleep 60 3< a.txt")
        .current_dir(dir)
        .spawn()
        .unwrap()
}

/// Runs `script`: its value, or its error.
fn run(script: &str) -> Result<Dynamic, String> {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("sdk_results.cedar", POLICY, &schema).unwrap();
    let gate = Gate::new(
        schema,
        policies,
        "root",
        Recorder::Unaudited,
        Arc::default(),
    );
    let limits = Limits::default();
    let host = Host::new(gate, limits.host(), Interrupt::new()).unwrap();
    let outcome = tollgate_script::run(host, script, Scope::new(), limits);
    match (outcome.value, outcome.error) {
        (_, Some(e)) => Err(e.to_string()),
        (Some(v), None) => Ok(v),
        (None, None) => Err("no value".to_owned()),
    }
}

#[test]
fn every_sdk_function_returns_the_type_and_fields_its_row_states() {
    let rows = rows();

    // Every SDK entry has a row, and every row names an SDK entry.
    let sdk: BTreeSet<&str> = SDK.iter().map(|f| f.name).collect();
    let covered: BTreeSet<&str> = rows.iter().map(|r| r.function).collect();
    let missing: Vec<&&str> = sdk.difference(&covered).collect();
    let unknown: Vec<&&str> = covered.difference(&sdk).collect();
    assert!(missing.is_empty(), "SDK entries without a row: {missing:?}");
    assert!(unknown.is_empty(), "rows naming no SDK entry: {unknown:?}");

    let port = http_server();
    let core = core_or_stand_in();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for row in &rows {
        let dir = fixture();
        let mut holder = hold(dir.path());
        let script = script(row)
            .replace("{dir}", dir.path().to_str().unwrap())
            .replace("{port}", &port.to_string())
            .replace("{core}", &core)
            .replace("{pid}", &holder.id().to_string());
        let result = run(&script);
        let _ = holder.kill();
        let _ = holder.wait();
        match (result, row.may_fail) {
            (Ok(value), _) => {
                let mut seen = Seen::from(value);
                if row.host_keys {
                    seen.fields.clear();
                }
                let expected = Seen::expected(row);
                if let Some((note, tollgate)) = row.known_difference {
                    if seen == expected {
                        failures.push(format!(
                            "{}: returns Rex's shape now; remove its known_difference",
                            row.function
                        ));
                    } else if seen.as_row() == tollgate {
                        notes.push(format!("{} differs from Rex: {note}", row.function));
                    } else {
                        failures.push(format!(
                            "{}: {}\n    Tollgate's known shape {tollgate}\n    returned {}",
                            row.function,
                            row.call,
                            seen.as_row()
                        ));
                    }
                } else if seen != expected {
                    failures.push(format!(
                        "{}: {}\n    expected {}\n    returned {}",
                        row.function,
                        row.call,
                        Seen::expected(row).as_row(),
                        seen.as_row()
                    ));
                }
            }
            (Err(e), Some(reason)) => {
                notes.push(format!("{} failed ({reason}): {e}", row.function))
            }
            (Err(e), None) => {
                failures.push(format!("{}: {}\n    failed: {e}", row.function, row.call))
            }
        }
    }
    for note in &notes {
        eprintln!("{note}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
