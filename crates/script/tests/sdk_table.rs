//! Every SDK function, called from a script under a gate whose log records each decision, asks
//! the gate what `tollgate_policy::sdk_actions::TABLE` says it asks: every decision is one the
//! table lists for that call, and every ask the table lists for it is made.
//!
//! Calls run on real files in a temp dir, real processes, and servers on localhost. Calls
//! that would change the system (service jobs, `daemon_reload`, `sysctl_write`) are forbidden
//! by the policy: the gate decides, and records, before anything happens, so the decision is
//! still compared while nothing changes. Calls that need what a test host may lack (systemd,
//! `/dev/kmsg`) may fail after their decisions.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
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

/// Everything is permitted but what would change the system outside the temp dir.
const POLICY: &str = r#"
permit(principal, action, resource);
forbid(principal, action in [systemd::Action::"start", systemd::Action::"stop", systemd::Action::"restart", systemd::Action::"daemon_reload"], resource);
forbid(principal, action == file_system::Action::"write", resource in file_system::Dir::"/proc/sys");
"#;

/// Added for a call made where the policy permits only `redacted_read` on the temp dir.
const NO_READ: &str = r#"forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"{dir}");"#;

/// The cases of the table no call here makes, and why.
const NOT_CALLED: &[(&str, &str)] = &[(
    "cp",
    // A copy that fails part-way needs a source that opens but fails to read, which a
    // test host does not reliably have.
    "when a new file fails to copy completely (it is removed)",
)];

/// A log that keeps each decision's action and resource.
#[derive(Clone, Default)]
struct KeptDecisions(Arc<Mutex<Vec<(Action, Resource)>>>);

impl DecisionLog for KeptDecisions {
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(entries.iter().map(|e| (e.action, e.resource.clone())));
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

/// Every call this test makes: each SDK function at least once, and each case of the table.
fn calls() -> Vec<Call> {
    let mut out = Vec::new();
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
        call("cp", r#"cp("{dir}/a.txt", "{dir}/sub")"#),
        call("cp", r#"cp([cp::preserve], "{dir}/a.txt", "{dir}/copy.txt")"#)
            .case("with cp::preserve"),
        call("mv", r#"mv("{dir}/a.txt", "{dir}/moved.txt")"#),
        call("mv", r#"mv("{dir}/sub", "{dir}/moved")"#).case("for a directory"),
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
        call("read", "OpenFileOptions().read(true)"),
        call("read", "f.read()")
            .after(&format!(
                r#"{OPEN_DIR} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());"#
            ))
            .case("for a file opened with read"),
        call("read", "f.read()")
            .after(&format!(
                r#"{OPEN_DIR} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());"#
            ))
            .without_read()
            .case("for a file opened under redacted_read (its text comes back redacted)"),
        call(
            "open",
            r#"DirConfig().path("{dir}").build().open(OpenDirOptions().build())"#,
        ),
        call("open_file", r#"d.open_file("a.txt", OpenFileOptions().build())"#).after(OPEN_DIR),
        call(
            "open_file",
            r#"d.open_file("a.txt", OpenFileOptions().read(true).build())"#,
        )
        .after(OPEN_DIR)
        .case("with OpenFileOptions().read(true)"),
        call(
            "open_file",
            r#"d.open_file("a.txt", OpenFileOptions().read(true).build())"#,
        )
        .after(OPEN_DIR)
        .without_read()
        .case("with OpenFileOptions().read(true)")
        .case(DENIED_READ),
        // Programs.
        call("execute", r#"execute("/usr/bin/true")"#)
            .case("for execute(path, ...) (file.execute's directory is already open)"),
        call(
            "execute",
            r#"execute("/usr/bin/true", ExecuteOptions().args(["-a", ["-p", "1"], ["-p", "2"]]).build())"#,
        )
        .case("for execute(path, ...) (file.execute's directory is already open)"),
        call("execute", "f.execute(ExecuteOptions().build())").after(
            r#"let f = DirConfig().path("/usr/bin").build().open(OpenDirOptions().build()).open_file("true", OpenFileOptions().build());"#,
        ),
        call("ExecuteOptions", "ExecuteOptions()"),
        call("args", r#"ExecuteOptions().args(["-n"])"#),
        call("env", r#"ExecuteOptions().env(#{LANG: "C"})"#),
        call("user", r#"ExecuteOptions().user("nobody")"#),
        call("group", r#"ExecuteOptions().group("nogroup")"#),
        call("timeout_ms", "ExecuteOptions().timeout_ms(100)"),
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
        call("daemon_reload", "SystemctlManager().daemon_reload()").may_fail(),
        call("SystemctlManager", "SystemctlManager()"),
        call("start", &format!(r#"SystemctlManager().start("{UNIT}")"#)).may_fail(),
        call("stop", &format!(r#"SystemctlManager().stop("{UNIT}")"#)).may_fail(),
        call("restart", &format!(r#"SystemctlManager().restart("{UNIT}")"#)).may_fail(),
        call(
            "try_restart",
            &format!(r#"SystemctlManager().try_restart("{UNIT}")"#),
        )
        .may_fail(),
        call("status", &format!(r#"SystemctlManager().status("{UNIT}")"#)).may_fail(),
        // Network.
        call("curl", r#"curl("http://127.0.0.1:{port}/")"#),
        call("http_get", r#"http_get("http://127.0.0.1:{port}/")"#),
        call("http_get", r#"http_get("http://127.0.0.1:{port}/moved")"#),
        call("connect", r#"connect("127.0.0.1", {port})"#),
        call("netstat", "netstat()"),
        call("ip_addr", "ip_addr()"),
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

/// A server on localhost that answers every request with 200, or with a redirect to `/` for
/// `/moved`; its port.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let response: &[u8] = if request.starts_with(b"GET /moved ") {
                b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            };
            let _ = stream.write_all(response);
        }
    });
    port
}

/// The temp dir every file call works in: two files and a tree below `sub`.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "gamma,1\ngamma,2\nalpha beta,3\n").unwrap();
    std::fs::write(p.join("b.txt"), "old\n").unwrap();
    std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
    std::fs::write(p.join("sub/c.txt"), "c\n").unwrap();
    std::fs::write(p.join("sub/deeper/d.txt"), "d\n").unwrap();
    dir
}

/// Runs `script` and returns the decisions the gate made, and the run's error if any.
fn run(script: &str, policy: &str) -> (Vec<(Action, Resource)>, Option<String>) {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("sdk_table.cedar", policy, &schema).unwrap();
    let kept = KeptDecisions::default();
    let recorder = Recorder::Log(Box::new(kept.clone()));
    let gate = Gate::new(schema, policies, "root", recorder, Arc::default());
    let limits = Limits::default();
    let host = Host::new(gate, limits.host(), Interrupt::new()).unwrap();
    let outcome = tollgate_script::run(host, script, Scope::new(), limits);
    let seen = kept.0.lock().unwrap().clone();
    (seen, outcome.error.map(|e| e.to_string()))
}

/// What is wrong with the decisions `seen` of `c`, measured against the table.
fn mismatches(c: &Call, seen: &[(Action, Resource)]) -> Vec<String> {
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
    for (action, resource) in seen {
        if !expected.iter().any(|ask| fits(ask, *action, resource)) {
            out.push(format!(
                "asked {action} on {resource}, which the table does not list"
            ));
        }
    }
    for ask in &expected {
        for &action in ask.actions {
            if !seen
                .iter()
                .any(|(a, r)| fits(ask, action, r) && *a == action)
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

    let mut failures = Vec::new();
    for c in &calls {
        let dir = fixture();
        let dir_path = dir.path().to_str().unwrap().to_owned();
        let mut child: Option<Child> = None;
        let fill = |text: &str, pid: u32| {
            text.replace("{dir}", &dir_path)
                .replace("{port}", &port.to_string())
                .replace("{pid}", &pid.to_string())
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
