//! Rex's process SDK, gated: `ps()` and `ProcessManager()` results as typed `ProcessInfo`
//! objects, `kill` in both of Rex's forms returning what it signalled, the option builders,
//! open files, IPC tables, CPU monitoring, and the calls a confined worker refuses.
//! Real child processes, real /proc.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const ALL_PROCESS: &str =
    r#"permit(principal, action in process_system::Action::"ProcessAction", resource);"#;
const LIST_SLEEP: &str = r#"permit(principal, action == process_system::Action::"list", resource is process_system::Process) when { resource.name == "sleep" };"#;

fn json(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap()
}

#[test]
fn ps_returns_process_info_objects_with_rex_getters() {
    let sleeper = Sleeper::start("301");
    let s = Sandbox::new();
    let script = format!(
        r#"
        let p = ps().filter(|p| p.pid == {pid})[0];
        #{{
            type: type_of(p), text: p.to_string(), map: p.to_map(),
            pid: p.pid, name: p.name, ppid: p.ppid, uid: p.uid, username: p.username,
            memory_usage: p.memory_usage, memory_percent: p.memory_percent, state: p.state,
            command: p.command, recent: p.recent_cpu_usage, historical: p.historical_cpu_usage,
            ns: p.pid_namespace
        }}
        "#,
        pid = sleeper.pid()
    );
    let out = json(&s.run(LIST_SLEEP, &script));
    assert_eq!(out["type"], "rust_safe_process_mgmt::ProcessInfo");
    assert_eq!(out["text"], "rust_safe_process_mgmt::ProcessInfo");
    assert_eq!(out["pid"], sleeper.pid());
    assert_eq!(out["name"], "sleep");
    assert_eq!(out["ppid"], std::process::id());
    assert_eq!(out["uid"], unsafe { libc::getuid() });
    assert!(out["username"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(out["memory_usage"].as_i64().unwrap() > 0);
    assert!(out["memory_percent"].as_f64().unwrap() >= 0.0);
    assert!(
        ["Sleep", "Run"].contains(&out["state"].as_str().unwrap()),
        "{out}"
    );
    assert_eq!(out["command"], "sleep 301");
    assert_eq!(out["recent"], Value::Null);
    assert!(out["historical"].as_f64().unwrap() >= 0.0);
    assert_eq!(out["ns"], Value::Null);
    // The map has the getters' fields, and nothing else.
    let map = out["map"].as_object().unwrap();
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "command",
            "historical_cpu_usage",
            "memory_percent",
            "memory_usage",
            "name",
            "pid",
            "pid_namespace",
            "ppid",
            "recent_cpu_usage",
            "state",
            "uid",
            "username"
        ]
    );
    assert_eq!(map["command"], "sleep 301");
}

#[test]
fn ps_without_list_permits_returns_nothing_and_records_the_denials() {
    let _sleeper = Sleeper::start("302");
    let s = Sandbox::new();
    assert_eq!(s.run("", "ps()").ok(), "[]");
    assert_eq!(s.run("", "ProcessManager().processes()").ok(), "[]");
}

#[test]
fn process_manager_lists_with_options_namespaces_and_threads() {
    let sleeper = Sleeper::start("303");
    let s = Sandbox::new();
    let script = format!(
        r#"
        let pm = ProcessManager();
        let plain = pm.processes().filter(|p| p.pid == {pid});
        let opts = ProcessOptions().load_namespace_info(true).include_threads(true).build();
        let full = pm.processes(opts).filter(|p| p.pid == {pid});
        [type_of(pm), type_of(ProcessOptions()), type_of(opts), plain.len(), full.len(),
         type_of(full[0].pid_namespace)]
        "#,
        pid = sleeper.pid()
    );
    let out = json(&s.run(LIST_SLEEP, &script));
    assert_eq!(out[0], "rust_safe_process_mgmt::RcProcessManager");
    assert_eq!(
        out[1],
        "rust_safe_process_mgmt::options::ProcessOptionsBuilder"
    );
    assert_eq!(out[2], "rust_safe_process_mgmt::options::ProcessOptions");
    assert_eq!(out[3], 1);
    assert_eq!(out[4], 1);
    // The worker may read its own child's namespace only when the kernel lets it: either a
    // PidNamespace or (), never anything else.
    assert!(
        ["rust_safe_process_mgmt::PidNamespace", "()"].contains(&out[5].as_str().unwrap()),
        "{out}"
    );
}

#[test]
fn threads_are_listed_after_their_process_with_it_as_ppid() {
    // The test process has threads (the harness runs each test on one of its own); the
    // policy lists it alone.
    let s = Sandbox::new();
    let me = std::process::id();
    let policy = format!(
        r#"permit(principal, action == process_system::Action::"list", resource == process_system::Process::"{me}");"#
    );
    let script = r#"
        let opts = ProcessOptions().include_threads(true).build();
        let rows = ProcessManager().processes(opts);
        let owner = rows[0].pid;
        [rows.len(), rows.filter(|p| p.ppid == owner).len()]
    "#;
    let out = json(&s.run(&policy, script));
    // The process, then its threads, each with the process as its ppid.
    assert!(out[1].as_i64().unwrap() >= 1, "{out}");
    assert_eq!(
        out[0].as_i64().unwrap(),
        out[1].as_i64().unwrap() + 1,
        "{out}"
    );
}

#[test]
fn kill_returns_what_it_signalled_in_both_rex_forms() {
    let mut a = Sleeper::start("304");
    let mut b = Sleeper::start("305");
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == process_system::Action::"kill", resource is process_system::Process) when { resource.name == "sleep" };"#;
    let r = s.run(policy, &format!("kill([Signal::SIGKILL], {})", a.pid()));
    assert_eq!(
        json(&r),
        serde_json::json!([{"name": "sleep", "pid": a.pid()}])
    );
    assert_eq!(a.ended_by(), Some(libc::SIGKILL));

    let script = format!(
        "ProcessManager().kill(KillOptions().pid({}).signal(Signal::SIGTERM).build())",
        b.pid()
    );
    assert_eq!(
        json(&s.run(policy, &script)),
        serde_json::json!([{"name": "sleep", "pid": b.pid()}])
    );
    assert_eq!(b.ended_by(), Some(libc::SIGTERM));
}

#[test]
fn kill_by_command_signals_every_match_and_names_them_by_command() {
    let mut a = Sleeper::start("306.5");
    let mut b = Sleeper::start("306.5");
    let mut other = Sleeper::start("307");
    let s = Sandbox::new();
    let policy = r#"permit(principal, action in [process_system::Action::"kill", process_system::Action::"list"], resource is process_system::Process) when { resource.name == "sleep" };"#;
    let script = r#"
        let o = KillOptions().command("sleep 306.5").exact_match(true).signal(Signal::SIGTERM).build();
        ProcessManager().kill(o)
    "#;
    let killed = json(&s.run(policy, script));
    let mut pids: Vec<u64> = killed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["name"], "sleep 306.5");
            k["pid"].as_u64().unwrap()
        })
        .collect();
    pids.sort_unstable();
    let mut want = vec![u64::from(a.pid()), u64::from(b.pid())];
    want.sort_unstable();
    assert_eq!(pids, want);
    assert_eq!(a.ended_by(), Some(libc::SIGTERM));
    assert_eq!(b.ended_by(), Some(libc::SIGTERM));
    assert!(other.running());
}

#[test]
fn kill_by_pattern_signals_nothing_when_one_match_is_denied() {
    let mut mine = Sleeper::start("308.5");
    let mut theirs = Sleeper::start("308.5");
    let s = Sandbox::new();
    let policy = format!(
        r#"permit(principal, action == process_system::Action::"kill", resource == process_system::Process::"{}");
           permit(principal, action == process_system::Action::"list", resource is process_system::Process);"#,
        mine.pid()
    );
    let r = s.run(
        &policy,
        r#"ProcessManager().kill(KillOptions().command("308.5").signal(Signal::SIGKILL).build())"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains(r#"process_system::Action::"kill""#),
        "{}",
        r.message()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(mine.running());
    assert!(theirs.running());
}

#[test]
fn kill_by_pattern_never_matches_a_process_the_script_may_not_list() {
    let mut listed = Sleeper::start("310.5");
    let mut hidden = Sleeper::start("310.5");
    let s = Sandbox::new();
    // `kill` on every process, `list` only on one: the other is never matched, so neither a
    // denial nor the result tells the script it exists.
    let policy = format!(
        r#"permit(principal, action == process_system::Action::"kill", resource is process_system::Process);
           permit(principal, action == process_system::Action::"list", resource == process_system::Process::"{}");"#,
        listed.pid()
    );
    let killed = json(&s.run(
        &policy,
        r#"ProcessManager().kill(KillOptions().command("310.5").signal(Signal::SIGTERM).build())"#,
    ));
    let pids: Vec<u64> = killed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, vec![u64::from(listed.pid())]);
    assert_eq!(listed.ended_by(), Some(libc::SIGTERM));
    std::thread::sleep(Duration::from_millis(100));
    assert!(hidden.running());
}

#[test]
fn hup_through_kill_options_needs_interrupt() {
    let mut sleeper = Sleeper::start("309");
    let s = Sandbox::new();
    let script = format!(
        "ProcessManager().kill(KillOptions().pid({}).signal(Signal::SIGHUP).build())",
        sleeper.pid()
    );
    let kill_only = r#"permit(principal, action == process_system::Action::"kill", resource);"#;
    let r = s.run(kill_only, &script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("interrupt"), "{}", r.message());
    assert!(sleeper.running());
    let interrupt =
        r#"permit(principal, action == process_system::Action::"interrupt", resource);"#;
    s.run(interrupt, &script).ok();
    assert_eq!(sleeper.ended_by(), Some(libc::SIGHUP));
}

#[test]
fn kill_options_are_checked_when_built() {
    let s = Sandbox::new();
    for (script, says) in [
        ("KillOptions().pid(1).build()", "signal is required"),
        ("KillOptions().signal(Signal::SIGTERM).build()", "give pid"),
        (
            r#"KillOptions().pid(1).process_name("x").signal(Signal::SIGTERM).build()"#,
            "cannot be used together",
        ),
        (
            r#"KillOptions().process_name("x").command("y").signal(Signal::SIGTERM).build()"#,
            "process_name and command",
        ),
        (
            "KillOptions().pid(-1).signal(Signal::SIGTERM).build()",
            "negative",
        ),
        ("LsofOptions().build()", "either path or pid"),
        (
            r#"LsofOptions().path("/").pid(1).build()"#,
            "mutually exclusive",
        ),
        (
            "MonitorProcessesCpuOptions().pids_to_monitor([]).build()",
            "cannot be empty",
        ),
        ("TraceOptions().build()", "ns_pid is required"),
    ] {
        let r = s.run(ALL_PROCESS, script);
        assert_eq!(r.code, 5, "{script}: {:#}", r.json);
        assert!(r.message().contains(says), "{script}: {}", r.message());
    }
}

#[test]
fn signals_compare_and_print_by_name() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        "[type_of(Signal::SIGTERM), Signal::SIGKILL == Signal::SIGKILL, Signal::SIGHUP != Signal::SIGQUIT, Signal::SIGQUIT.to_string()]",
    );
    assert_eq!(r.ok(), r#"["Signal",true,true,"SIGQUIT"]"#);
}

#[test]
fn list_open_files_of_a_process_reports_its_descriptors() {
    let s = Sandbox::new();
    let file = s.write("held.txt", "x");
    // A shell holding the file open on descriptor 3 while it sleeps.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3<'{file}'; exec sleep 310"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = holder.id();
    let policy = r#"
        permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource == file_system::Dir::"/proc");
        permit(principal, action == process_system::Action::"list_fds", resource is process_system::Process) when { resource.name == "sleep" };
    "#;
    let script = format!(
        r#"
        let files = ProcessManager().list_open_files(LsofOptions().pid({pid}).build());
        let f = files.filter(|f| f.file_path == "{file}")[0];
        [type_of(f), f.pid, f.process_name, f.command, f.access, f.file_type, f.to_map().access_type]
        "#
    );
    let out = json(&s.run(policy, &script));
    assert_eq!(
        out,
        serde_json::json!([
            "rust_safe_process_mgmt::OpenFileInfo",
            pid,
            "sleep",
            "sleep 310",
            "File descriptor",
            "REG",
            "File descriptor"
        ])
    );

    // By path: the directory and what is beneath it.
    let script = format!(
        r#"ProcessManager().list_open_files(LsofOptions().path("{}").include_subdir(true).build()).map(|f| f.pid)"#,
        s.path("")
    );
    assert_eq!(json(&s.run(policy, &script)), serde_json::json!([pid]));

    // fuser: who holds the file.
    let script = format!(
        r#"let u = ProcessManager().processes_using_inode("{file}"); [u.len(), type_of(u[0]), u[0].pid, u[0].access, u[0].command]"#
    );
    assert_eq!(
        json(&s.run(policy, &script)),
        serde_json::json!([
            1,
            "rust_safe_process_mgmt::FuserInfo",
            pid,
            "File descriptor",
            "sleep 310"
        ])
    );

    // Without list_fds on the process: a denial naming the action; by path, left out.
    let proc_only = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource == file_system::Dir::"/proc");"#;
    let r = s.run(
        proc_only,
        &format!("ProcessManager().list_open_files(LsofOptions().pid({pid}).build())"),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("list_fds"), "{}", r.message());
    let r = s.run(
        proc_only,
        &format!(r#"ProcessManager().processes_using_inode("{file}")"#),
    );
    assert_eq!(r.ok(), "[]");

    // Without open and read on /proc: denied before any process is looked at.
    let r = s.run(
        r#"permit(principal, action == process_system::Action::"list_fds", resource);"#,
        &format!("ProcessManager().list_open_files(LsofOptions().pid({pid}).build())"),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("/proc"), "{}", r.message());
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn ipcs_info_reads_the_kernel_ipc_tables() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/proc/sysvipc");"#;
    let script = r#"
        let i = ProcessManager().ipcs_info();
        [type_of(i), i.shared_memory.contains("key"), i.semaphores.contains("semid"), i.queues.contains("msqid"),
         i.to_string().starts_with("Shared Memory Segments:\n"), i.to_string().contains("\n\nMessage Queues:\n"),
         i.to_map().keys().len()]
    "#;
    assert_eq!(
        s.run(policy, script).ok(),
        r#"["rust_safe_process_mgmt::IpcsInfo",true,true,true,true,true,3]"#
    );
    let r = s.run("", "ProcessManager().ipcs_info()");
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("/proc/sysvipc/shm"), "{}", r.message());
}

#[test]
fn monitor_processes_cpu_measures_batches_of_permitted_processes() {
    // A busy shell loop and an idle sleep.
    let mut busy = Command::new("sh")
        .arg("-c")
        .arg("while :; do :; done")
        .spawn()
        .unwrap();
    let idle = Sleeper::start("311");
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == process_system::Action::"list", resource);"#;
    let script = format!(
        r#"
        let o = MonitorProcessesCpuOptions().pids_to_monitor([{busy}, {idle}, 999999999]).batches(2).build();
        let batches = ProcessManager().monitor_processes_cpu(o);
        batches.map(|b| b.map(|p| [p.pid, p.recent_cpu_usage]))
        "#,
        busy = busy.id(),
        idle = idle.pid()
    );
    let out = json(&s.run(policy, &script));
    let batches = out.as_array().unwrap();
    assert_eq!(batches.len(), 2, "{out}");
    for batch in batches {
        let rows = batch.as_array().unwrap();
        assert_eq!(
            rows.len(),
            2,
            "the pid that does not exist is left out: {out}"
        );
        assert_eq!(rows[0][0], busy.id());
        assert!(rows[0][1].as_f64().unwrap() > 20.0, "{out}");
        assert_eq!(rows[1][0], idle.pid());
        assert!(rows[1][1].as_f64().unwrap() < 5.0, "{out}");
    }
    // Without list permits, each batch is empty.
    let r = s.run("", &script);
    assert_eq!(json(&r), serde_json::json!([[], []]));
    let _ = busy.kill();
    let _ = busy.wait();
}

#[test]
fn trace_with_trace_options_and_nsenter_are_refused_with_the_reason() {
    let s = Sandbox::new();
    for (script, reason) in [
        (
            "ProcessManager().trace(1, TraceOptions().ns_pid(1).build())",
            "pid namespace",
        ),
        (
            "ProcessManager().nsenter(NamespaceOptions().pid(1).mount(true).build(), || 1)",
            "setns",
        ),
        (
            r#"ProcessManager().nsenter(NamespaceOptions().net_ns_name("blue").build(), || 1)"#,
            "the supervisor cannot enter the namespace for it",
        ),
    ] {
        let r = s.run(ALL_PROCESS, script);
        assert_ne!(r.code, 0, "{script}");
        assert!(r.message().contains("refused"), "{script}: {}", r.message());
        assert!(r.message().contains(reason), "{script}: {}", r.message());
    }
}

/// The `trace` decisions the run's log holds, as (resource id, decision).
fn trace_decisions(s: &Sandbox) -> Vec<(String, String)> {
    s.records()
        .into_iter()
        .filter(|r| r["kind"] == "decision" && r["action"] == r#"process_system::Action::"trace""#)
        .map(|r| {
            (
                r["resource_id"].as_str().unwrap().to_owned(),
                r["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const TRACE_SLEEP: &str = r#"permit(principal, action == process_system::Action::"trace", resource is process_system::Process) when { resource.name == "sleep" };
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource == file_system::File::"/usr/bin/gdb");"#;

#[test]
fn trace_returns_a_traced_process_with_every_thread_and_its_frames() {
    let mut sleeper = Sleeper::start("320");
    let s = Sandbox::new();
    let script = format!(
        r#"
        let t = ProcessManager().trace({pid});
        let th = t.threads[0];
        let f = th.frames[0];
        #{{
            type: type_of(t), text: t.to_string(), pid: t.pid, threads: t.threads.len(),
            thread_type: type_of(th), id: th.id, tid: th.tid, frames: th.frames.len(),
            frame_type: type_of(f), number: f.frame_number, names: th.frames.map(|f| f.function_name),
            map: t.to_map()
        }}
        "#,
        pid = sleeper.pid()
    );
    let out = json(&s.run(TRACE_SLEEP, &script));
    assert_eq!(
        out["type"],
        "rust_safe_io::core_dump_analysis::TracedProcess"
    );
    assert_eq!(
        out["text"],
        "rust_safe_io::core_dump_analysis::TracedProcess"
    );
    assert_eq!(out["pid"], sleeper.pid());
    assert_eq!(out["threads"], 1, "{out:#}");
    assert_eq!(
        out["thread_type"],
        "rust_safe_io::core_dump_analysis::TracedThread"
    );
    assert_eq!(out["id"], 1);
    assert_eq!(out["tid"], sleeper.pid());
    assert!(out["frames"].as_u64().unwrap() >= 2, "{out:#}");
    assert_eq!(out["frame_type"], "rust_safe_io::core_dump_analysis::Frame");
    assert_eq!(out["number"], 0);
    let names: Vec<&str> = out["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("sleep")),
        "a sleeping process is in a sleep call: {names:?}"
    );
    let thread = &out["map"]["threads"][0];
    assert_eq!(thread["tid"], sleeper.pid());
    for key in [
        "frame_number",
        "function_name",
        "instruction_ptr",
        "source",
        "line_number",
    ] {
        assert!(thread["frames"][0].get(key).is_some(), "{key}: {thread:#}");
    }
    // Decided twice: by the worker's gate, then by the supervisor before it attached.
    let pid = sleeper.pid().to_string();
    assert_eq!(
        trace_decisions(&s),
        vec![(pid.clone(), "permit".into()), (pid, "permit".into())]
    );
    // Detached: the process goes on sleeping, and ends by its own signal.
    assert!(sleeper.running());
    let _ = Command::new("kill").arg(sleeper.pid().to_string()).status();
    assert_eq!(sleeper.ended_by(), Some(libc::SIGTERM));
}

#[test]
fn trace_without_the_permit_is_denied_and_nothing_attaches() {
    let mut sleeper = Sleeper::start("321");
    let s = Sandbox::new();
    let r = s.run(
        LIST_SLEEP,
        &format!("ProcessManager().trace({})", sleeper.pid()),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains(r#"process_system::Action::"trace""#),
        "{}",
        r.message()
    );
    // Only the worker's denial: nothing reached the supervisor.
    assert_eq!(
        trace_decisions(&s),
        vec![(sleeper.pid().to_string(), "deny".into())]
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", sleeper.pid())).unwrap();
    assert!(status.contains("TracerPid:\t0"), "{status}");
    assert!(sleeper.running());
}

#[test]
fn a_policy_that_keeps_scripts_from_the_debugger_keeps_them_from_tracing() {
    let mut sleeper = Sleeper::start("322");
    let s = Sandbox::new();
    let policy = format!(
        "{TRACE_SLEEP}\nforbid(principal, action == file_system::Action::\"read\", resource == file_system::File::\"/usr/bin/gdb\");"
    );
    let r = s.run(
        &policy,
        &format!("ProcessManager().trace({})", sleeper.pid()),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("/usr/bin/gdb"), "{}", r.message());
    // Nothing reached the supervisor: only the worker's trace decision is recorded.
    assert_eq!(
        trace_decisions(&s),
        vec![(sleeper.pid().to_string(), "permit".into())]
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", sleeper.pid())).unwrap();
    assert!(status.contains("TracerPid:\t0"), "{status}");
    assert!(sleeper.running());
}

#[test]
fn the_supervisor_refuses_a_trace_the_workers_gate_let_through_for_tollgates_own_processes() {
    // A policy that permits tracing every process: the worker's gate lets the call through
    // to the supervisor, whose own decision keeps Tollgate's processes (the supervisor and
    // its worker) from any script, whatever the policy says. The supervisor is the process
    // started here; the worker is its child.
    let s = Sandbox::new();
    let policy = s.policy_file(
        r#"permit(principal, action in [process_system::Action::"trace", process_system::Action::"list"], resource);
           permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/usr/bin");"#,
    );
    let mut child = Command::new(binary())
        .args([
            "run",
            "-",
            "--policy",
            &policy,
            "--audit-log",
            &s.audit_dir(),
        ])
        .env("TOLLGATE_STATE_DIR", s.state_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let supervisor = child.id();
    let script = format!(
        r#"
        let worker = ps().filter(|p| p.ppid == {supervisor} && p.name == "tollgate")[0].pid;
        let refused = [];
        for pid in [{supervisor}, worker] {{
            try {{ ProcessManager().trace(pid); }} catch (e) {{ refused.push(e.message); }}
        }}
        refused
        "#
    );
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "SUCCESS", "{result:#}");
    let refused: Value = serde_json::from_str(result["output"].as_str().unwrap()).unwrap();
    let refused = refused.as_array().unwrap();
    assert_eq!(refused.len(), 2, "{refused:?}");
    for message in refused {
        assert!(
            message.as_str().unwrap().contains("Tollgate's own"),
            "{message}"
        );
    }
    // The worker's gate permitted both; the supervisor refused them before deciding.
    let decisions = trace_decisions(&s);
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(decisions.iter().all(|(_, d)| d == "permit"));
}
