//! What a script can call, for an agent about to write one: every SDK function with its
//! calls, flags, return shape and the Cedar actions the gate asks for. The flags come from
//! the flag tables the engine registers (`bindings::flags`), the actions from the policy
//! crate's table of what each function asks (`tollgate_policy::sdk_actions`, which the host
//! asks by), and a test holds this list to the functions the engine actually registers, so
//! the description cannot drift from the bindings or the host.

use serde_json::{json, Value};
use tollgate_policy::sdk_actions;

use crate::bindings::flags;

/// One script function (all its overloads). What it asks the gate is in
/// [`sdk_actions::TABLE`].
pub struct SdkFunction {
    pub name: &'static str,
    /// The forms it can be called in, in Rhai syntax.
    pub calls: &'static [&'static str],
    /// The module its flags come from (`ls::all`), if it takes flags.
    pub flags: Option<&'static str>,
    pub returns: &'static str,
    pub summary: &'static str,
}

macro_rules! f {
    ($name:literal, [$($call:literal),*], $flags:expr, $returns:literal, $summary:literal) => {
        SdkFunction {
            name: $name,
            calls: &[$($call),*],
            flags: $flags,
            returns: $returns,
            summary: $summary,
        }
    };
}

/// Every script function, by area.
pub const SDK: &[SdkFunction] = &[
    // Files: reading.
    f!("cat", ["cat(path)", "cat([cat::n], path)"], Some("cat"), "string: the file's text (with cat::n, each line numbered, joined by newlines)", "The whole file."),
    f!("tail", ["tail(path)", "tail([tail::n(-20)], path)", "tail([tail::from(5), tail::n(2)], path)", "tail([tail::range(5, 9)], path)"], Some("tail"), "array of strings: the lines without line ends (the last 10 by default; tail::n(k): k > 0 the first k from the start line, k < 0 the last -k)", "The end of a file, or a range of lines."),
    f!("wc", ["wc(path)", "wc([wc::l], path)"], Some("wc"), "map {lines, words, bytes}", "Counts of lines, words and bytes."),
    f!("grep", ["grep(pattern, path)", "grep([grep::i, grep::n], pattern, path)"], Some("grep"), "array of strings: the matching lines (with grep::c, one line holding the count)", "Lines matching a regular expression."),
    f!("sed", ["sed(pattern, replacement, path)", "sed([sed::regex, sed::g], pattern, replacement, path)"], Some("sed"), "string: the edited text; the file is one text, and without sed::g only its first match is replaced (with sed::i the file is rewritten)", "Replace text."),
    f!("awk_filter", ["awk_filter(text, path)"], None, "array of strings: the lines containing the text (literal, not a regex)", "Lines containing a text."),
    f!("awk_field", ["awk_field(n, delimiter, path)"], None, "array of strings: field n (from 1) of each line", "One column."),
    f!("awk_filter_field", ["awk_filter_field(n, delimiter, text, path)"], None, "array of strings: the lines whose field n (from 1) contains the text", "Lines by the text of one field."),
    f!("awk_filter_range", ["awk_filter_range(first_line, last_line, path)"], None, "array of strings", "Lines first..=last (first from 1, last not before first)."),
    f!("awk_sum", ["awk_sum(n, delimiter, path)"], None, "float: the sum of field n", "Sum of a numeric column."),
    f!("awk_count_unique", ["awk_count_unique(n, delimiter, path)"], None, "map: value -> count", "How often each value of field n occurs."),
    f!("awk_split", ["awk_split(text, delimiter)"], None, "array of strings (an empty delimiter splits between characters, with an empty piece at each end)", "Split a string; touches nothing."),
    // Files: directories and metadata.
    f!("ls", ["ls(path)", "ls([ls::a, ls::l, ls::R], path)"], Some("ls"), "map: name -> DirEntry (.name, .inode, .type(), .metadata(), to_map() {inode, name, type}); ls::a adds hidden entries; ls::l and ls::R change nothing, as in Rex", "List a directory."),
    f!("find_files", ["find_files(glob, dir)", "find_files([glob::r], glob, dir)"], Some("glob"), "array of strings: the names (not paths) of the files and directories whose name matches", "Entries matching a glob."),
    f!("du", ["du(path)", "du([du::s, du::d(1)], path)"], Some("du"), "map {entries: array of {path, size_bytes, inode_count}, the walked directory last; total_size_bytes, total_inode_count: the sums over the entries, as Rex adds them}", "Disk usage."),
    f!("stat", ["stat(path)"], Some("stat"), "map {name, path, type, size, mode, permissions, uid, gid, nlink, inode, mtime}", "Metadata of one path."),
    // Files: changes.
    f!("write", ["write(path, text)", "write([write::a], path, text)"], Some("write"), "()", "Write (or append to) a file."),
    f!("touch", ["touch(path)"], Some("touch"), "()", "Create a file or update its time."),
    f!("mkdir", ["mkdir(path)", "mkdir([mkdir::p], path)"], Some("mkdir"), "() (a directory that already exists is fine)", "Make a directory."),
    f!("cp", ["cp(source, destination)", "cp([cp::f], source, destination)"], Some("cp"), "()", "Copy a file."),
    f!("mv", ["mv(source, destination)", "mv([mv::v], source, destination)"], Some("mv"), "() (with mv::v, an INFO log line says what moved)", "Move or rename."),
    f!("rm", ["rm(path)", "rm([rm::r, rm::f], path)"], Some("rm"), "() (an empty directory needs no flag; one with entries needs rm::r)", "Delete."),
    f!("seq", ["seq(first, last)", "seq([seq::step(2)], first, last)"], Some("seq"), "array of integers (the step is 1 unless seq::step says otherwise, so seq(5, 1) is empty)", "A range of numbers; touches nothing."),
    f!("sleep", ["sleep(seconds)"], None, "()", "Wait 0 to 86400 seconds (a float or an integer); the run's --timeout still ends it."),
    f!("pad", ["text.pad(length, padding)", "array.pad(length, item)"], None, "() (padded in place)", "Pad a string (with a non-empty padding string) or an array to a length; a length past --max-string-size or --max-array-size is refused before padding."),
    // Rhai built-ins replaced by versions that stay within the limits (bindings::builtins).
    f!("replace", ["text.replace(find, substitute)"], None, "() (the string is changed in place)", "Replace every occurrence; a result past --max-string-size is refused before it is built."),
    f!("split", ["text.split()", "text.split(delimiter)", "text.split(delimiter, segments)"], None, "array of strings", "Split at whitespace or a delimiter; more pieces than --max-array-size are refused before they are made."),
    f!("split_rev", ["text.split_rev(delimiter)", "text.split_rev(delimiter, segments)"], None, "array of strings, last first", "Split from the end, as split."),
    f!("to_chars", ["text.to_chars()"], None, "array of characters", "The characters of a string, as split."),
    f!("sort", ["array.sort()", "array.sort(|a, b| a - b)"], None, "() (sorted in place)", "Sort; the comparer returns a number (or true for less), and its first error ends the sort."),
    f!("sort_by", ["array.sort_by(|a, b| a - b)"], None, "() (sorted in place)", "Sort with a comparer, as sort."),
    f!("order", ["array.order()", "array.order(|a, b| a - b)"], None, "array: a sorted copy", "A sorted copy, as sort."),
    f!("order_by", ["array.order_by(|a, b| a - b)"], None, "array: a sorted copy", "A sorted copy with a comparer, as sort."),
    f!("dedup", ["array.dedup()", "array.dedup(|a, b| a == b)"], None, "() (changed in place)", "Remove consecutive duplicates; the comparer's first error ends the call."),
    // Open handles.
    f!("DirConfig", ["DirConfig().path(dir).build()"], None, "DirConfig", "Names a directory to open."),
    f!("path", ["DirConfig().path(dir)"], None, "DirConfig builder", "The directory of a DirConfig."),
    f!("OpenDirOptions", ["OpenDirOptions().build()"], None, "OpenDirOptions", "Options of open."),
    f!("OpenFileOptions", ["OpenFileOptions().read(true).build()"], None, "OpenFileOptions", "Options of open_file."),
    f!("read", ["OpenFileOptions().read(true)"], None, "OpenFileOptions builder", "Ask for read access (file.read() is RcFileHandle.read)."),
    f!("build", ["ExecuteOptions().build()", "DirConfig().path(dir).build()", "OpenDirOptions().build()", "OpenFileOptions().build()"], None, "the built options", "Finish a builder."),
    f!("DirConfig.open", ["config.open(OpenDirOptions().build())"], None, "Dir handle", "Open a directory."),
    f!("RcDirHandle.open_file", ["dir.open_file(name, OpenFileOptions().read(true).build())"], None, "File handle", "Open a file below an open directory."),
    f!("ReadLinesOptions", ["ReadLinesOptions().count(-10).build()", "ReadLinesOptions().start(5).count(2).build()"], None, "ReadLinesOptions builder", "Which lines file.read_lines returns."),
    f!("ReadPageOptions", ["ReadPageOptions().num_lines(100).build()"], None, "ReadPageOptions builder", "Page size of file.read_page."),
    f!("WriteOptions", ["WriteOptions().preserve_ownership(true).build()"], None, "WriteOptions builder", "Options of file.write."),
    f!("CopyFileOptions", ["CopyFileOptions().force(true).preserve(true).build()"], None, "CopyFileOptions builder", "Options of file.copy."),
    f!("MoveOptions", ["MoveOptions().build()"], None, "MoveOptions builder", "Options of file.move."),
    f!("DeleteFileOptions", ["DeleteFileOptions().force(true).build()"], None, "DeleteFileOptions builder", "Options of file.delete."),
    f!("DeleteDirOptions", ["DeleteDirOptions().recursive(true).build()"], None, "DeleteDirOptions builder", "Options of dir.delete."),
    f!("ChmodDirOptions", ["ChmodDirOptions().permissions(0o750).recursive(true).build()"], None, "ChmodDirOptions builder", "Options of dir.chmod."),
    f!("SetOwnershipOptions", ["SetOwnershipOptions().user(\"app\").group(\"app\").build()"], None, "SetOwnershipOptions builder", "Options of set_ownership."),
    f!("SetXAttrOptions", ["SetXAttrOptions().selinux_user(u).selinux_role(r).selinux_type(t).selinux_level(l).build()"], None, "SetXAttrOptions builder", "The SELinux context file.set_extended_attr sets."),
    f!("TruncateOptions", ["TruncateOptions().size(4).format(SizeUnit::KIBIBYTES).build()"], None, "TruncateOptions builder", "The size file.truncate cuts to."),
    f!("FallocateOptions", ["FallocateOptions().length(1).format(SizeUnit::MEBIBYTES).build()"], None, "FallocateOptions builder", "The size file.fallocate allocates."),
    f!("CreateSymlinkOptions", ["CreateSymlinkOptions().force(true).build()"], None, "CreateSymlinkOptions builder", "Options of dir.create_symlink."),
    f!("FindOptions", ["FindOptions().name(\"*.log\").max_depth(2).build()"], None, "FindOptions builder", "What dir.find selects."),
    f!("DiskUsageOptions", ["DiskUsageOptions().apparent_size(true).build()"], None, "DiskUsageOptions builder", "Options of disk_usage."),
    f!("ReplacementOptions", ["ReplacementOptions().is_regex(true).replace_all(true).build()"], None, "ReplacementOptions builder", "Options of replace_text."),
    f!("replace_text", ["replace_text(text, old, new, ReplacementOptions().build())"], None, "string", "Replace the first (or every) occurrence of a string or regex in a text."),
    f!("SizeRange::min_only", ["SizeRange::min_only(1, SizeUnit::MEBIBYTES)"], None, "SizeRange", "Sizes from a minimum, for FindOptions().size_range."),
    f!("SizeRange::max_only", ["SizeRange::max_only(1, SizeUnit::MEBIBYTES)"], None, "SizeRange", "Sizes up to a maximum."),
    f!("SizeRange::between", ["SizeRange::between(1, 2, SizeUnit::KIBIBYTES)"], None, "SizeRange", "Sizes between two bounds, inclusive."),
    f!("RcDirHandle.open_symlink", ["dir.open_symlink(name)"], None, "RcSymlinkHandle", "Open a symlink below an open directory (never followed)."),
    f!("RcDirHandle.read_link_target", ["dir.read_link_target(name)"], None, "string", "Where a symlink in the open directory points."),
    f!("RcDirHandle.list_entries", ["dir.list_entries()"], None, "map: name -> DirEntry", "The entries of an open directory."),
    f!("RcDirHandle.metadata", ["dir.metadata()"], None, "Metadata", "The open directory's metadata."),
    f!("RcDirHandle.get_ownership", ["dir.get_ownership()"], None, "Ownership {user, group}", "The open directory's owner."),
    f!("RcDirHandle.chmod", ["dir.chmod(ChmodDirOptions().permissions(0o750).build())"], None, "()", "Change the open directory's mode (and with recursive, below it)."),
    f!("RcDirHandle.set_ownership", ["dir.set_ownership(SetOwnershipOptions().user(u).group(g).build())"], None, "()", "Change the open directory's owner (and with recursive, below it)."),
    f!("RcDirHandle.delete", ["dir.delete(DeleteDirOptions().build())"], None, "()", "Delete the open directory (with recursive, its entries too)."),
    f!("RcDirHandle.create_symlink", ["dir.create_symlink(target, name, CreateSymlinkOptions().build())"], None, "()", "Make a symlink in the open directory."),
    f!("RcDirHandle.find", ["dir.find(FindOptions().name(\"*.log\").max_depth(2).build(), |entry| { ... })"], None, "() (the callback is called with each DirEntry selected; what it returns is not used, its first error ends the walk)", "Walk the tree below an open directory, calling a function with each entry the options select; symlinks are listed, never followed."),
    f!("RcDirHandle.disk_usage", ["dir.disk_usage(DiskUsageOptions().build())", "dir.disk_usage(DiskUsageOptions().summarize(true).track_largest_subdir(true).build())"], None, "DiskUsageResult {entries: array of DiskUsageEntry {path, size_bytes, inode_count}, the open directory last; largest_subdir_handle: RcDirHandle with track_largest_subdir, else ()}", "Disk usage of the tree below an open directory, as du."),
    f!("RcDirHandle.move", ["parent.move(src, dest, name, MoveOptions().build())"], None, "RcDirHandle: the moved directory, opened where it landed", "Move the directory src, an entry of parent, to name in dest: an empty directory there is replaced, into one with entries it moves under its own name; within one file system."),
    f!("RcFileHandle.read", ["file.read()"], None, "string", "The open file's text."),
    f!("RcFileHandle.read_lines", ["file.read_lines(ReadLinesOptions().count(-10).build())"], None, "array of strings", "Lines of the open file, as tail."),
    f!("RcFileHandle.read_page", ["file.read_page(ReadPageOptions().num_lines(100).build())"], None, "array of strings", "The next page of lines."),
    f!("RcFileHandle.search", ["file.search(pattern)"], None, "array of Match {line_number, line_content}", "Lines matching a regex."),
    f!("RcFileHandle.counts", ["file.counts()"], None, "WordCount {line_count, word_count, byte_count}", "Counts of lines, words and bytes."),
    f!("RcFileHandle.write", ["file.write(text)", "file.write(text, WriteOptions().build())"], None, "RcFileHandle", "Replace the open file's content."),
    f!("RcFileHandle.write_in_place", ["file.write_in_place(text)"], None, "()", "Replace the open file's content, as write."),
    f!("RcFileHandle.truncate", ["file.truncate(TruncateOptions().size(0).build())"], None, "()", "Cut (or extend) the open file to a size."),
    f!("RcFileHandle.fallocate", ["file.fallocate(FallocateOptions().length(1).build())"], None, "()", "Allocate space for the open file."),
    f!("RcFileHandle.chmod", ["file.chmod(0o640)"], None, "()", "Change the open file's mode."),
    f!("RcFileHandle.set_ownership", ["file.set_ownership(SetOwnershipOptions().user(u).build())"], None, "()", "Change the open file's owner."),
    f!("RcFileHandle.set_extended_attr", ["file.set_extended_attr(SetXAttrOptions()...build())"], None, "()", "Set the open file's SELinux context."),
    f!("RcFileHandle.delete", ["file.delete(DeleteFileOptions().build())"], None, "()", "Delete the open file."),
    f!("RcFileHandle.copy", ["file.copy(dest, CopyFileOptions().build())"], None, "RcFileHandle: the destination", "Copy into another open file (opened with write)."),
    f!("RcFileHandle.move", ["file.move(dir, name, MoveOptions().build())"], None, "RcFileHandle", "Move the open file into an open directory."),
    f!("RcFileHandle.metadata", ["file.metadata()"], None, "Metadata", "The open file's metadata."),
    f!("RcFileHandle.get_ownership", ["file.get_ownership()"], None, "Ownership {user, group}", "The open file's owner."),
    f!("RcFileHandle.get_last_modified_time", ["file.get_last_modified_time()"], None, "integer: nanoseconds since the epoch", "When the open file was last changed."),
    f!("RcFileHandle.disk_usage", ["file.disk_usage(DiskUsageOptions().build())"], None, "DiskUsageEntry {path, size_bytes, inode_count}", "The open file's size."),
    f!("RcFileHandle.execute", ["file.execute(ExecuteOptions().build())"], None, "ExecuteResult, as execute", "Run the open file."),
    f!("RcSymlinkHandle.metadata", ["symlink.metadata()"], None, "Metadata (with symlink_target)", "The link's own metadata."),
    f!("RcSymlinkHandle.set_ownership", ["symlink.set_ownership(SetOwnershipOptions().user(u).build())"], None, "()", "The link's own owner."),
    f!("DirEntry.metadata", ["entry.metadata()"], None, "Metadata", "A listed entry's metadata."),
    f!("DirEntry.open_as_file", ["entry.open_as_file(OpenFileOptions().read(true).build())"], None, "RcFileHandle", "Open a listed entry as a file."),
    f!("DirEntry.open_as_dir", ["entry.open_as_dir(OpenDirOptions().build())"], None, "RcDirHandle", "Open a listed entry as a directory."),
    // File formats through handles (bindings::formats).
    f!("RcFileHandle.read_gzip_lines", ["file.read_gzip_lines(ReadLinesOptions().count(-10).build())"], None, "array of strings", "Lines of a gzip file, as zcat | head or tail."),
    f!("RcFileHandle.search_gzip", ["file.search_gzip(pattern, SearchGzipOptions().build())"], None, "array of Match {line_number, line_content}", "Lines of a gzip file matching a regex (zgrep)."),
    f!("RcFileHandle.search_gzip_exists", ["file.search_gzip_exists(pattern, SearchGzipOptions().build())"], None, "bool", "Whether a line of a gzip file matches (zgrep -q)."),
    f!("RcFileHandle.gzip_info", ["file.gzip_info()"], None, "GzipInfo {compressed_size_bytes, uncompressed_size_bytes, compression_ratio}", "The sizes of a gzip file."),
    f!("RcFileHandle.compress_gzip", ["source.compress_gzip(dest, CompressGzipOptions().level(6).build())"], None, "()", "Gzip a file into another (opened with write)."),
    f!("SearchGzipOptions", ["SearchGzipOptions().case_insensitive(true).exclude_pattern(\"DEBUG\").max_results(-10).build()"], None, "SearchGzipOptions builder", "How search_gzip matches; a negative max_results keeps the last matches."),
    f!("CompressGzipOptions", ["CompressGzipOptions().level(9).build()"], None, "CompressGzipOptions builder", "The level of compress_gzip, 1 to 9 (6 by default)."),
    f!("RcFileHandle.extract_archive", ["archive.extract_archive(dir, ExtractArchiveOptions().build())"], None, "()", "Unpack a tar or tar.gz below an open directory; entries that would land outside it are refused."),
    f!("ExtractArchiveOptions", ["ExtractArchiveOptions().preserve_permissions(true).preserve_timestamps(true).preserve_ownership(false).build()"], None, "ExtractArchiveOptions builder", "What extract_archive keeps from the archive."),
    f!("RcFileHandle.elf_info", ["file.elf_info()"], None, "ElfInfo {is_64bit, interpreter, execfn, platform}", "What file(1) says of an ELF binary or core dump."),
    f!("RcFileHandle.extract_strings", ["file.extract_strings()"], None, "array of strings", "Printable runs of 4 or more characters (strings)."),
    f!("RcFileHandle.verify_cert", ["cert.verify_cert(root)"], None, "() or an error saying why", "Whether a PEM certificate chains to a root, for TLS server use."),
    f!("RcFileHandle.verify_cert_chain", ["cert.verify_cert_chain(root, [intermediate])"], None, "() or an error saying why", "As verify_cert, through intermediates."),
    f!("CoreDump", ["CoreDump(exe_path, core_path)"], None, "CoreDump", "A core dump and its executable, read with /usr/bin/gdb."),
    f!("CoreDump.backtrace", ["CoreDump(exe, core).backtrace()"], None, "TracedProcess {pid, threads: [TracedThread {id, tid, frames: [Frame {frame_number, function_name, instruction_ptr, source, line_number}]}]}", "Every thread's stack in a core dump."),
    f!("CoreDump.get_variables", ["CoreDump(exe, core).get_variables(frame, [\"name\"])", "CoreDump(exe, core).get_variables(thread, frame, [\"s.field\"])"], None, "map name -> value (unknown names left out)", "Variables of a frame, as gdb prints them; names are variable paths, never gdb expressions."),
    // Programs.
    f!("execute", ["execute(path)", "execute(path, [\"-n\", [\"--lines\", \"5\"]])", "execute(path, ExecuteOptions().args([...]).env(#{...}).user(u).build())"], None, "ExecuteResult {exit_code, stdout, stderr, truncated}", "Run a program, without a shell; the child is confined to what the policy permits."),
    f!("ExecuteOptions", ["ExecuteOptions()"], None, "ExecuteOptions builder", "Options of execute."),
    f!("args", ["ExecuteOptions().args([\"-n\", [\"--lines\", \"5\"]])"], None, "ExecuteOptions", "Arguments: strings, or [flag, value] pairs."),
    f!("env", ["ExecuteOptions().env(#{LANG: \"C\"})"], None, "ExecuteOptions", "Environment variables."),
    f!("user", ["ExecuteOptions().user(\"nobody\")"], None, "ExecuteOptions", "Run as this user."),
    f!("group", ["ExecuteOptions().group(\"nogroup\")"], None, "ExecuteOptions", "Run as this group."),
    f!("timeout_ms", ["ExecuteOptions().timeout_ms(5000)"], None, "ExecuteOptions", "Time limit of the child."),
    f!("capabilities", ["ExecuteOptions().capabilities([])"], None, "ExecuteOptions", "Rex's ambient capabilities for the child: only an empty list runs (a confined worker cannot raise them)."),
    f!("namespace", ["ExecuteOptions().namespace(ChildNamespaceOptions().target_process(pid).build())"], None, "ExecuteOptions", "Rex's namespace of another process: refused when run (a confined worker may not call setns)."),
    f!("ChildNamespaceOptions", ["ChildNamespaceOptions().target_process(pid).build()"], None, "ChildNamespaceOptions builder", "The process whose namespaces a child would enter."),
    // Processes and the system.
    f!("ps", ["ps()"], None, "array of ProcessInfo {pid, name, ppid, uid, username, memory_usage, memory_percent, state, command, recent_cpu_usage, historical_cpu_usage, pid_namespace}", "Processes."),
    f!("kill", ["kill(pid)", "kill([kill::KILL], pid)", "kill([Signal::SIGKILL], pid)"], Some("kill"), "array of maps {name, pid}: the processes signalled", "Send a signal (TERM by default)."),
    f!("ProcessManager", ["ProcessManager()"], None, "RcProcessManager", "Rex's process object: processes, kill, list_open_files, processes_using_inode, ipcs_info, monitor_processes_cpu, trace (nsenter is refused)."),
    f!("RcProcessManager.processes", ["ProcessManager().processes()", "ProcessManager().processes(ProcessOptions().include_threads(true).build())"], None, "array of ProcessInfo, as ps()", "Processes, with threads or pid namespaces if asked."),
    f!("RcProcessManager.list_open_files", ["ProcessManager().list_open_files(LsofOptions().pid(pid).build())", "ProcessManager().list_open_files(LsofOptions().path(dir).include_subdir(true).build())"], None, "array of OpenFileInfo {pid, process_name, user, command, access, file_type, file_path}", "Open descriptors of a process, or of every process under a path (lsof)."),
    f!("RcProcessManager.processes_using_inode", ["ProcessManager().processes_using_inode(path)"], None, "array of FuserInfo {user, pid, access, command}", "Processes holding a path open (fuser)."),
    f!("RcProcessManager.ipcs_info", ["ProcessManager().ipcs_info()"], None, "IpcsInfo {shared_memory, semaphores, queues}", "The System V IPC tables (ipcs)."),
    f!("RcProcessManager.monitor_processes_cpu", ["ProcessManager().monitor_processes_cpu(MonitorProcessesCpuOptions().pids_to_monitor([pid]).batches(3).build())"], None, "array of batches, each an array of ProcessInfo with recent_cpu_usage", "CPU use of given processes over time (top)."),
    f!("RcProcessManager.kill", ["ProcessManager().kill(KillOptions().process_name(\"sleep\").signal(Signal::SIGTERM).build())"], None, "array of maps {name, pid}: the processes signalled", "Signal a process, or every one that matches."),
    f!("RcProcessManager.trace", ["ProcessManager().trace(pid)"], None, "TracedProcess {pid, threads: array of TracedThread {id, tid, frames: array of Frame {frame_number, function_name, instruction_ptr, source, line_number}}}", "Every thread's stack of a running process (pstack), taken by the supervisor with gdb; TraceOptions (a pid in another pid namespace) is refused."),
    f!("ProcessOptions", ["ProcessOptions().load_namespace_info(true).include_threads(true).build()"], None, "ProcessOptions", "Options of ProcessManager().processes(options)."),
    f!("KillOptions", ["KillOptions().pid(pid).signal(Signal::SIGKILL).build()", "KillOptions().process_name(name).username(user).exact_match(true).signal(Signal::SIGTERM).build()"], None, "KillOptions", "Which processes ProcessManager().kill(options) signals, and with what."),
    f!("LsofOptions", ["LsofOptions().pid(pid).build()", "LsofOptions().path(dir).include_subdir(true).build()"], None, "LsofOptions", "Options of ProcessManager().list_open_files(options), which returns OpenFileInfo {pid, process_name, user, command, access, file_type, file_path}."),
    f!("MonitorProcessesCpuOptions", ["MonitorProcessesCpuOptions().pids_to_monitor([pid]).batches(2).delay_in_seconds(1).include_threads(false).build()"], None, "MonitorProcessesCpuOptions", "Options of ProcessManager().monitor_processes_cpu(options), which returns an array of batches of ProcessInfo with recent_cpu_usage."),
    f!("TraceOptions", ["TraceOptions().ns_pid(pid).build()"], None, "TraceOptions", "Options of ProcessManager().trace(pid, options), which is refused (ptrace)."),
    f!("NamespaceOptions", ["NamespaceOptions().pid(pid).mount(true).net(true).build()", "NamespaceOptions().net_ns_name(name).build()"], None, "NamespaceOptions", "Options of ProcessManager().nsenter(options, callback), which is refused (setns)."),
    f!("uname", ["uname()"], None, "UnameInfo {kernel_name, nodename, kernel_release, kernel_version, machine, processor, hardware_platform, operating_system}; to_string() is uname -a", "Kernel and machine."),
    f!("hostname", ["hostname()"], None, "string", "This host's name."),
    f!("nproc", ["nproc()"], None, "integer", "Processors."),
    f!("free", ["free()"], None, "map {memory: Meminfo {total, free, available, used, buffers, cached, shared_mem}, swap: Swapinfo {total, free, used}}, in bytes", "Memory and swap."),
    f!("uptime", ["uptime()"], None, "float: seconds", "Time since boot."),
    f!("loadavg", ["loadavg()"], None, "map {one, five, fifteen}", "Load averages."),
    f!("resolve", ["resolve(name)"], None, "array of address strings", "DNS lookup."),
    f!("dmesg", ["dmesg()"], None, "array of DmesgEntry {timestamp_from_system_start, message}", "Kernel messages."),
    f!("sysctl_read", ["sysctl_read(key)"], None, "string", "A kernel parameter."),
    f!("sysctl_write", ["sysctl_write(key, value)"], None, "()", "Set a kernel parameter."),
    f!("sysctl_find", ["sysctl_find(regex)"], None, "array of maps {key, value}", "The kernel parameters whose /proc/sys path matches."),
    f!("SysctlManager", ["SysctlManager().read(key)", "SysctlManager().write(key, value)", "SysctlManager().find(regex)"], None, "SysctlManager; find gives SysctlEntry {key, value}", "Kernel parameters, as the sysctl_* commands."),
    f!("SysctlManager.read", ["SysctlManager().read(key)"], None, "string", "As sysctl_read."),
    f!("SysctlManager.write", ["SysctlManager().write(key, value)"], None, "()", "As sysctl_write."),
    f!("SysctlManager.find", ["SysctlManager().find(regex)"], None, "array of SysctlEntry {key, value}", "As sysctl_find."),
    f!("SystemInfo.hostname", ["SystemInfo().hostname()"], None, "string", "This host's name."),
    f!("SystemInfo", ["SystemInfo().memory_info()", "SystemInfo().kernel_stats()"], None, "SystemInfo", "System information by method: uname_info, hostname, cpu_count, memory_info, swap_info, dmesg_info, kernel_stats, slab_info, resolve_hostname."),
    f!("SystemInfo.uname_info", ["SystemInfo().uname_info()"], None, "UnameInfo, as uname()", "Kernel and machine."),
    f!("SystemInfo.cpu_count", ["SystemInfo().cpu_count()"], None, "integer", "Processors."),
    f!("SystemInfo.memory_info", ["SystemInfo().memory_info()"], None, "Meminfo {total, free, available, used, buffers, cached, shared_mem}", "Memory, in bytes."),
    f!("SystemInfo.swap_info", ["SystemInfo().swap_info()"], None, "Swapinfo {total, free, used}", "Swap, in bytes."),
    f!("SystemInfo.dmesg_info", ["SystemInfo().dmesg_info(DmesgOptions().human_readable_time(true).build())"], None, "array of DmesgEntry", "Kernel messages, times since boot or as local dates."),
    f!("DmesgOptions", ["DmesgOptions().human_readable_time(true).build()"], None, "DmesgOptions", "Options of dmesg_info."),
    f!("SystemInfo.kernel_stats", ["SystemInfo().kernel_stats()"], None, "RhaiKernelStats {total_cpu_time, cpu_time, procs_running, procs_blocked, context_switches, boot_time, forks}", "The kernel's counters (/proc/stat)."),
    f!("SystemInfo.slab_info", ["SystemInfo().slab_info()"], None, "SlabInfo {slabs: array of SlabEntry, summary: SlabSummary}", "Slab caches (/proc/slabinfo, root's)."),
    f!("SystemInfo.resolve_hostname", ["SystemInfo().resolve_hostname(ResolveOptions().hostname(name).build())"], None, "array of address strings", "DNS lookup through the system's resolver."),
    f!("ResolveOptions", ["ResolveOptions().hostname(name).timeout(Duration::from_secs(3)).build()"], None, "ResolveConfig", "Options of resolve_hostname; the lookup is bounded by timeout; resolver(address) and a protocol other than AUTO are refused."),
    f!("df", ["df()"], None, "array of Filesystem {fs_device, fs_kind, mounted_on, mount_options, size, block_used, block_available, block_use_percent, kb_blocks, mb_blocks, inodes, iused, ifree, iuse_percent}", "Mounted file systems (storage, not /proc, /sys, /run)."),
    f!("lsblk", ["lsblk()"], None, "map: name -> {name, type, maj, min, size_kib, removable, read_only, mount_point, children}", "Block devices."),
    f!("iostat", ["iostat()"], None, "IoStatSnapshot {cpu_stats: CpuStats, device_stats: array of DeviceStats}; to_string() is iostat -x", "CPU shares and disk I/O rates since boot."),
    f!("Filesystems", ["Filesystems(FilesystemOptions().targets([\"/\"]).local(true).build()).filesystems()", "Filesystems(FilesystemOptions().build()).iostat()"], None, "Filesystems; filesystems() as df(), iostat() as iostat()", "The mounts a FilesystemOptions selects."),
    f!("FilesystemOptions", ["FilesystemOptions().targets([mount_point]).local(true).build()"], None, "FilesystemOptions", "Which mounts Filesystems lists: at or below targets, local only."),
    f!("Filesystems.filesystems", ["Filesystems(FilesystemOptions().build()).filesystems()"], None, "array of Filesystem, as df()", "The selected mounts' usage."),
    f!("Filesystems.iostat", ["Filesystems(FilesystemOptions().build()).iostat()"], None, "IoStatSnapshot, as iostat()", "CPU shares and disk I/O rates."),
    f!("format_bytes", ["format_bytes(bytes, Unit::MEGABYTES)"], None, "integer", "Bytes in Unit::BYTES, KILOBYTES or MEGABYTES; touches nothing."),
    f!("UnmountOptions", ["UnmountOptions().path(mount_point).build()"], None, "UnmountOptions", "What unmount unmounts."),
    f!("unmount", ["unmount(UnmountOptions().path(mount_point).build())"], None, "()", "Unmount the file system mounted at a path (the mount point itself, reached without a symlink); done by the supervisor after it decides again."),
    // Services.
    f!("service_status", ["service_status(unit)"], None, "ServiceInfo {name, description, load_state, load_path, unit_file_state, unit_file_preset, active_state (a State), sub_state, main_pid, tasks, memory, documentation, need_daemon_reload}", "A unit's state."),
    f!("service_start", ["service_start(unit)"], None, "()", "Start a unit."),
    f!("service_stop", ["service_stop(unit)"], None, "()", "Stop a unit."),
    f!("service_restart", ["service_restart(unit)"], None, "()", "Restart a unit."),
    f!("service_try_restart", ["service_try_restart(unit)"], None, "()", "Restart a unit if it runs."),
    f!("daemon_reload", ["daemon_reload()"], None, "()", "Reload unit files."),
    f!("SystemctlManager.daemon_reload", ["SystemctlManager().daemon_reload()"], None, "()", "Reload unit files."),
    f!("SystemctlManager", ["SystemctlManager()"], None, "SystemctlManager", "Rex's service object; its methods are the service_* functions."),
    f!("SystemctlManager.start", ["SystemctlManager().start(unit)"], None, "()", "Start a unit."),
    f!("SystemctlManager.stop", ["SystemctlManager().stop(unit)"], None, "()", "Stop a unit."),
    f!("SystemctlManager.restart", ["SystemctlManager().restart(unit)"], None, "()", "Restart a unit."),
    f!("SystemctlManager.try_restart", ["SystemctlManager().try_restart(unit)"], None, "()", "Restart a unit if it runs."),
    f!("SystemctlManager.status", ["SystemctlManager().status(unit)"], None, "ServiceInfo, as service_status", "A unit's state."),
    // Network.
    f!("curl", ["curl(url)"], None, "Response {status, text, headers, url}", "HTTP GET."),
    f!("Client", ["Client().get(url).send()", "Client().max_text_bytes(n).get(url).send()"], None, "Client", "An HTTP client; get(url) makes a Request {url, method, max_text_size}."),
    f!("Request.send", ["Client().get(url).send()"], None, "Response {status, text, headers, url}", "Sends a Request (a GET, as curl); with max_text_bytes(n), only the first n bytes of the body are kept."),
    f!("http_get", ["http_get(url)", "http_get(url, #{timeout_ms: 5000, max_bytes: 1048576})"], None, "map {status, headers, text, url}", "HTTP GET."),
    f!("connect", ["connect(host, port)", "connect(host, port, #{timeout_ms: 2000})"], None, "map {url, connected, address, time_ms, error}", "TCP reachability check."),
    f!("netstat", ["netstat()"], None, "map {internet: array of {protocol, local_address, remote_address, state, recv_queue, send_queue}, unix: array of {protocol, state, ref_count, path}}", "Sockets, as Rex's netstat map (network_stats() adds each socket's inode and owner)."),
    f!("network_stats", ["network_stats()"], None, "NetworkStats {internet_connections: array of InternetConnection, unix_sockets: array of UnixSocket}", "Sockets as typed objects (NetworkProtocol, TcpState, UnixProtocol, UnixSocketState, SocketAddr, ProcessInfo)."),
    f!("ip_addr", ["ip_addr()"], None, "array of Network {interface_name, addresses, networks, mac, up, loopback}", "Network interfaces."),
    f!("ip_addresses", ["ip_addresses()"], None, "array of Network {interface_name, addresses, networks, mac, up, loopback}", "Network interfaces (as ip_addr)."),
    // Dates, random strings, JSON (touch nothing).
    f!("DateTime", ["DateTime(2024, 2, 29, 13, 5, 9, 0)"], None, "DateTime {year, month, day, hour, minute, second, nanosecond}", "A date and time in UTC; + and - seconds, - another DateTime, comparisons; to_string(DateTimeFormat::RFC3339 or RFC2822)."),
    f!("from_epoch_seconds", ["from_epoch_seconds(seconds)"], None, "DateTime", "The moment that many seconds after 1970-01-01T00:00:00Z."),
    f!("from_epoch_nanos", ["from_epoch_nanos(seconds, nanoseconds)"], None, "DateTime", "As from_epoch_seconds, with nanoseconds (0 to 999999999)."),
    f!("now", ["now()"], None, "DateTime", "Now, to the second."),
    f!("now_nanos", ["now_nanos()"], None, "DateTime", "Now, to the nanosecond."),
    f!("parse_datetime", ["parse_datetime(text, DateTimeFormat::RFC3339)"], None, "DateTime", "Parses RFC 3339 or RFC 2822 text; an offset is converted to UTC."),
    f!("Duration::from_secs", ["Duration::from_secs(3)"], None, "Duration", "A length of time, for options that take one (a negative count is none)."),
    f!("random_alphanumeric", ["random_alphanumeric(length)"], None, "string", "Random letters and digits (16 for a negative length)."),
    f!("to_json", ["to_json(map)", "map.to_json()"], None, "string", "A map as JSON text."),
    // Metrics and alarms, reported in the run's output.
    f!("MetricBuilder", ["MetricBuilder().name(n).value(1.0).unit(MetricUnitType::COUNT).dimensions(MetricDimensionsBuilder().add(k, v).build()).publish()"], None, "MetricBuilder", "A metric for the run's output (metrics); the same name again replaces it; at most 1000 metrics, 30 dimensions each."),
    f!("MetricDimensionsBuilder", ["MetricDimensionsBuilder().add(name, value).build()"], None, "MetricDimensions", "Dimensions of a metric."),
    f!("AlarmBuilder", ["AlarmBuilder().type(t).details(d).publish()"], None, "AlarmBuilder", "An alarm for the run's output (alarms); at most 1000."),
    // Logging.
    f!("info", ["info(message)"], None, "()", "Log at INFO (print() also logs)."),
    f!("warn", ["warn(message)"], None, "()", "Log at WARN."),
    f!("error", ["error(message)"], None, "()", "Log at ERROR."),
    f!("debug", ["debug(message)"], None, "()", "Log at DEBUG."),
    f!("trace", ["trace(message)"], None, "()", "Log at TRACE."),
    f!("to_string", ["flag.to_string()"], None, "string, e.g. \"ls::all\"", "A flag's name."),
];

/// The description `describe_sdk` returns.
pub fn describe() -> Value {
    let functions: Vec<Value> = SDK
        .iter()
        .map(|f| {
            let actions = sdk_actions::actions(f.name);
            json!({
                "name": f.name,
                "calls": f.calls,
                "flags": f.flags.map(flags::names).unwrap_or_default(),
                "returns": f.returns,
                "actions": actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "asks": sdk_actions::asks(f.name).iter().map(|a| a.describe()).collect::<Vec<_>>(),
                "summary": f.summary,
            })
        })
        .collect();
    json!({
        "language": "Rhai (https://rhai.rs); no eval, no imports, strict variables",
        "errors": "A denied call throws a map {kind: \"PermissionDenied\", message, action, resource, principal, reason, policies}; other failures {kind, message}. try { ... } catch (e) { ... } catches them; limits cannot be caught.",
        "output": "The script's final value is the run's output.",
        "arguments": "Each argument of run_script's args is a variable of the script.",
        "functions": functions,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The names of every function the engine registers beyond Rhai's standard package.
    /// The names of the engine's functions, without the methods, getters and operators of
    /// result objects and handles (a first parameter `&mut T` of a named type): those are
    /// described by their type, not as functions.
    fn registered() -> BTreeSet<String> {
        signatures()
            .filter(|s| !is_object_method(s))
            .map(|s| s[..s.find('(').unwrap()].to_owned())
            .filter(|name| !is_operator(name))
            .collect()
    }

    /// Every name the engine registers, methods included, and each method also as
    /// `Receiver.method`, its receiver being the last segment of its first parameter's type
    /// (`RcFileHandle.write` for `write(&mut rust_safe_io::file::common::RcFileHandle, ...)`).
    fn registered_all() -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for s in signatures() {
            let name = s[..s.find('(').unwrap()].to_owned();
            if is_object_method(&s) {
                let ty = receiver_type(&s);
                let receiver = ty.rsplit("::").next().unwrap_or(ty);
                out.insert(format!("{receiver}.{name}"));
            }
            out.insert(name);
        }
        out
    }

    /// The type of a signature's first parameter, without `&mut `.
    fn receiver_type(signature: &str) -> &str {
        let params = &signature[signature.find('(').unwrap() + 1..];
        let first = params.split([',', ')']).next().unwrap_or_default();
        let ty = first.split_once(": ").map_or(first, |(_, t)| t).trim();
        ty.strip_prefix("&mut ").unwrap_or(ty)
    }

    fn signatures() -> impl Iterator<Item = String> {
        crate::testing::engine()
            .gen_fn_signatures(false)
            .into_iter()
    }

    /// `==`, `+`, ...: operators on result types, which are not SDK functions.
    fn is_operator(name: &str) -> bool {
        let name = name.rsplit("::").next().unwrap_or(name);
        !name.starts_with(|c: char| c.is_alphabetic() || c == '_')
    }

    fn is_object_method(signature: &str) -> bool {
        let ty = receiver_type(signature);
        // A result or handle type: capitalized, or named by its Rust path as Rex names it
        // (`rust_safe_io::dir_entry::DirEntry`).
        ty.contains("::") || ty.starts_with(|c: char| c.is_ascii_uppercase())
    }

    #[test]
    fn describes_every_function_the_engine_registers() {
        let described: BTreeSet<&str> = SDK.iter().map(|f| f.name).collect();
        let mut missing = Vec::new();
        for name in registered() {
            let known = match name.split_once("::") {
                // A flag that takes numbers, e.g. `tail::n`: listed under its command.
                Some((module, flag)) => {
                    described.contains(name.as_str())
                        || flags::names(module)
                            .iter()
                            .any(|n| n.contains(&format!("{module}::{flag}(")))
                }
                None => described.contains(name.as_str()),
            };
            if !known {
                missing.push(name);
            }
        }
        assert!(
            missing.is_empty(),
            "not in the SDK description: {missing:?}"
        );
    }

    #[test]
    fn describes_only_functions_the_engine_registers() {
        let registered = registered_all();
        for f in SDK {
            assert!(
                registered.contains(f.name),
                "{} is described but not registered",
                f.name
            );
        }
    }

    #[test]
    fn lists_flags_and_actions_of_a_command() {
        let d = describe();
        let ls = d["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "ls")
            .unwrap();
        let flags: Vec<&str> = ls["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(flags.contains(&"ls::all (ls::a)"), "{flags:?}");
        assert!(ls["actions"]
            .as_array()
            .unwrap()
            .contains(&json!(r#"file_system::Action::"read""#)));
    }

    #[test]
    fn every_function_of_the_actions_table_is_described() {
        for f in sdk_actions::TABLE {
            assert!(
                SDK.iter().any(|d| d.name == f.function),
                "{} is in tollgate_policy::sdk_actions::TABLE but not described",
                f.function
            );
        }
    }

    #[test]
    fn renders_actions_and_asks_from_the_actions_table() {
        let d = describe();
        let function = |name: &str| {
            d["functions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(
            function("free")["actions"],
            json!([r#"file_system::Action::"read""#])
        );
        assert_eq!(
            function("free")["asks"],
            json!([r#"read on file_system::File::"/proc/meminfo""#])
        );
        assert_eq!(
            function("du")["actions"],
            json!([
                r#"file_system::Action::"open""#,
                r#"file_system::Action::"read""#,
                r#"file_system::Action::"stat""#
            ])
        );
        assert_eq!(function("seq")["actions"], json!([]));
    }
}
