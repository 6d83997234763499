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
    f!("cat", ["cat(path)", "cat([cat::n], path)"], Some("cat"), "string: the file's text", "The whole file."),
    f!("tail", ["tail(path)", "tail([tail::n(20)], path)"], Some("tail"), "string: the last lines (10 by default)", "The end of a file, or a range of lines."),
    f!("wc", ["wc(path)", "wc([wc::l], path)"], Some("wc"), "map {lines, words, bytes}", "Counts of lines, words and bytes."),
    f!("grep", ["grep(pattern, path)", "grep([grep::i, grep::n], pattern, path)"], Some("grep"), "array of strings: the matching lines (with grep::c, one line holding the count)", "Lines matching a regular expression."),
    f!("sed", ["sed(pattern, replacement, path)", "sed([sed::regex, sed::g], pattern, replacement, path)"], Some("sed"), "string: the edited text (with sed::i the file is rewritten)", "Replace text."),
    f!("awk_filter", ["awk_filter(pattern, path)"], None, "array of strings: matching lines", "Lines matching a pattern."),
    f!("awk_field", ["awk_field(n, delimiter, path)"], None, "array of strings: field n (from 1) of each line", "One column."),
    f!("awk_filter_field", ["awk_filter_field(n, delimiter, pattern, path)"], None, "array of strings", "Field n of the lines matching a pattern."),
    f!("awk_filter_range", ["awk_filter_range(first_line, last_line, path)"], None, "array of strings", "Lines first..=last."),
    f!("awk_sum", ["awk_sum(n, delimiter, path)"], None, "float: the sum of field n", "Sum of a numeric column."),
    f!("awk_count_unique", ["awk_count_unique(n, delimiter, path)"], None, "map: value -> count", "How often each value of field n occurs."),
    f!("awk_split", ["awk_split(text, delimiter)"], None, "array of strings", "Split a string; touches nothing."),
    // Files: directories and metadata.
    f!("ls", ["ls(path)", "ls([ls::a, ls::l, ls::R], path)"], Some("ls"), "map: name -> entry {name, path, type, size; with ls::l also mode, permissions, uid, gid, nlink, inode, mtime}", "List a directory."),
    f!("find_files", ["find_files(glob, dir)", "find_files([glob::r], glob, dir)"], Some("glob"), "array of paths", "Files matching a glob."),
    f!("du", ["du(path)", "du([du::s, du::d(1)], path)"], Some("du"), "map {entries: array of {path, size_bytes}, total_size_bytes, total_inode_count}", "Disk usage."),
    f!("stat", ["stat(path)"], Some("stat"), "map {name, path, type, size, mode, permissions, uid, gid, nlink, inode, mtime}", "Metadata of one path."),
    // Files: changes.
    f!("write", ["write(path, text)", "write([write::a], path, text)"], Some("write"), "()", "Write (or append to) a file."),
    f!("touch", ["touch(path)"], Some("touch"), "()", "Create a file or update its time."),
    f!("mkdir", ["mkdir(path)", "mkdir([mkdir::p], path)"], Some("mkdir"), "()", "Make a directory."),
    f!("cp", ["cp(source, destination)", "cp([cp::f], source, destination)"], Some("cp"), "()", "Copy a file."),
    f!("mv", ["mv(source, destination)", "mv([mv::v], source, destination)"], Some("mv"), "() (with mv::v, a line saying what moved)", "Move or rename."),
    f!("rm", ["rm(path)", "rm([rm::r, rm::f], path)"], Some("rm"), "integer: entries removed", "Delete."),
    f!("seq", ["seq(first, last)", "seq([seq::step(2)], first, last)"], Some("seq"), "array of integers", "A range of numbers; touches nothing."),
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
    f!("read", ["OpenFileOptions().read(true)", "file.read()"], None, "OpenFileOptions, or the file's text", "Ask for read access, or read an open file."),
    f!("build", ["ExecuteOptions().build()", "DirConfig().path(dir).build()", "OpenDirOptions().build()", "OpenFileOptions().build()"], None, "the built options", "Finish a builder."),
    f!("open", ["config.open(OpenDirOptions().build())"], None, "Dir handle", "Open a directory."),
    f!("open_file", ["dir.open_file(name, OpenFileOptions().read(true).build())"], None, "File handle", "Open a file below an open directory."),
    // Programs.
    f!("execute", ["execute(path)", "execute(path, [\"-n\", [\"--lines\", \"5\"]])", "execute(path, ExecuteOptions().args([...]).env(#{...}).user(u).build())", "file.execute(options)"], None, "map {exit_code, stdout, stderr, truncated}", "Run a program, without a shell; the child is confined to what the policy permits."),
    f!("ExecuteOptions", ["ExecuteOptions()"], None, "ExecuteOptions builder", "Options of execute."),
    f!("args", ["ExecuteOptions().args([\"-n\", [\"--lines\", \"5\"]])"], None, "ExecuteOptions", "Arguments: strings, or [flag, value] pairs."),
    f!("env", ["ExecuteOptions().env(#{LANG: \"C\"})"], None, "ExecuteOptions", "Environment variables."),
    f!("user", ["ExecuteOptions().user(\"nobody\")"], None, "ExecuteOptions", "Run as this user."),
    f!("group", ["ExecuteOptions().group(\"nogroup\")"], None, "ExecuteOptions", "Run as this group."),
    f!("timeout_ms", ["ExecuteOptions().timeout_ms(5000)"], None, "ExecuteOptions", "Time limit of the child."),
    // Processes and the system.
    f!("ps", ["ps()"], None, "array of maps {pid, ppid, uid, user, name, command, state, cpu, rss, start_time}", "Processes."),
    f!("kill", ["kill(pid)", "kill([kill::KILL], pid)"], Some("kill"), "()", "Send a signal (TERM by default)."),
    f!("uname", ["uname()"], None, "map {sysname, nodename, release, version, machine}", "Kernel and machine."),
    f!("hostname", ["hostname()"], None, "string", "This host's name."),
    f!("nproc", ["nproc()"], None, "integer", "Processors."),
    f!("free", ["free()"], None, "map {total_bytes, free_bytes, available_bytes, used_bytes, buffers_bytes, cached_bytes, swap_total_bytes, swap_free_bytes}", "Memory."),
    f!("uptime", ["uptime()"], None, "float: seconds", "Time since boot."),
    f!("loadavg", ["loadavg()"], None, "map {one, five, fifteen}", "Load averages."),
    f!("resolve", ["resolve(name)"], None, "array of address strings", "DNS lookup."),
    f!("dmesg", ["dmesg()"], None, "array of strings", "Kernel messages."),
    f!("sysctl_read", ["sysctl_read(key)"], None, "string", "A kernel parameter."),
    f!("sysctl_write", ["sysctl_write(key, value)"], None, "()", "Set a kernel parameter."),
    f!("df", ["df()"], None, "array of maps {filesystem, mount_point, type, size_bytes, used_bytes, available_bytes, use_percent, inodes, inodes_free}", "Mounted filesystems."),
    f!("lsblk", ["lsblk()"], None, "array of maps {name, size_bytes, removable, read_only}", "Block devices."),
    f!("iostat", ["iostat()"], None, "array of maps {device, reads_completed, read_bytes, read_ms, writes_completed, written_bytes, write_ms, io_in_progress, io_ms}", "Disk I/O counters."),
    // Services.
    f!("service_status", ["service_status(unit)", "SystemctlManager().status(unit)"], None, "map {name, description, load_state, active_state, sub_state, main_pid, ...}", "A unit's state."),
    f!("service_start", ["service_start(unit)"], None, "()", "Start a unit."),
    f!("service_stop", ["service_stop(unit)"], None, "()", "Stop a unit."),
    f!("service_restart", ["service_restart(unit)"], None, "()", "Restart a unit."),
    f!("service_try_restart", ["service_try_restart(unit)"], None, "()", "Restart a unit if it runs."),
    f!("daemon_reload", ["daemon_reload()", "SystemctlManager().daemon_reload()"], None, "()", "Reload unit files."),
    f!("SystemctlManager", ["SystemctlManager()"], None, "SystemctlManager", "Rex's service object; its methods are the service_* functions."),
    f!("start", ["SystemctlManager().start(unit)"], None, "()", "Start a unit."),
    f!("stop", ["SystemctlManager().stop(unit)"], None, "()", "Stop a unit."),
    f!("restart", ["SystemctlManager().restart(unit)"], None, "()", "Restart a unit."),
    f!("try_restart", ["SystemctlManager().try_restart(unit)"], None, "()", "Restart a unit if it runs."),
    f!("status", ["SystemctlManager().status(unit)"], None, "map, as service_status", "A unit's state."),
    // Network.
    f!("curl", ["curl(url)"], None, "string: the body", "HTTP GET, body only."),
    f!("http_get", ["http_get(url)", "http_get(url, #{timeout_ms: 5000, max_bytes: 1048576})"], None, "map {status, headers, text, url}", "HTTP GET."),
    f!("connect", ["connect(host, port)", "connect(host, port, #{timeout_ms: 2000})"], None, "map {url, connected, address, time_ms, error}", "TCP reachability check."),
    f!("netstat", ["netstat()"], None, "map {internet: array of sockets {protocol, local_address, remote_address, state, ..., process_info}}", "Sockets."),
    f!("ip_addr", ["ip_addr()"], None, "array of interface maps {interface_name, addresses, mac, up, loopback}", "Network interfaces."),
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

    /// Every name the engine registers, methods included.
    fn registered_all() -> BTreeSet<String> {
        signatures()
            .map(|s| s[..s.find('(').unwrap()].to_owned())
            .collect()
    }

    fn signatures() -> impl Iterator<Item = String> {
        crate::testing::engine()
            .gen_fn_signatures(false)
            .into_iter()
    }

    /// `==`, `+`, ...: operators on result types, which are not SDK functions.
    fn is_operator(name: &str) -> bool {
        !name.starts_with(|c: char| c.is_alphabetic() || c == '_')
    }

    fn is_object_method(signature: &str) -> bool {
        let params = &signature[signature.find('(').unwrap() + 1..];
        let first = params.split([',', ')']).next().unwrap_or_default();
        let ty = first.split_once(": ").map_or(first, |(_, t)| t).trim();
        ty.strip_prefix("&mut ")
            .or(Some(ty))
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))
    }

    #[test]
    fn describes_every_function_the_engine_registers() {
        let described: BTreeSet<&str> = SDK.iter().map(|f| f.name).collect();
        let mut missing = Vec::new();
        for name in registered() {
            let known = match name.split_once("::") {
                // A flag that takes numbers, e.g. `tail::n`: listed under its command.
                Some((module, flag)) => flags::names(module)
                    .iter()
                    .any(|n| n.contains(&format!("{module}::{flag}("))),
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
                r#"file_system::Action::"read""#,
                r#"file_system::Action::"stat""#
            ])
        );
        assert_eq!(function("seq")["actions"], json!([]));
    }
}
