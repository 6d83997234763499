//! A run is a supervisor and a worker: what the worker does cannot outlast, outgrow or
//! silence its supervisor, and the kernel confines the worker.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The run's one end record.
fn run_end(s: &Sandbox) -> Value {
    let ends: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "run_end")
        .collect();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    ends[0].clone()
}

#[test]
fn native_calls_that_never_return_are_stopped_at_the_timeout() {
    for script in ["sleep(80000)", "sleep(100)", "loop { sleep(0.001); }"] {
        let s = Sandbox::new();
        let start = Instant::now();
        let r = s.run_with("", script, &["--timeout", "1s"]);
        let took = start.elapsed();
        assert_eq!(r.code, 6, "{script}: {:#}", r.json);
        assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{script}");
        assert!(r.message().contains("--timeout"), "{}", r.message());
        assert!(took < Duration::from_millis(1900), "{script} took {took:?}");
        let end = run_end(&s);
        assert_eq!(end["ended_by"], "timeout", "{script}: {end:#}");
        assert_eq!(end["error_type"], "RESOURCE_LIMIT_EXCEEDED");
    }
}

#[test]
fn one_native_call_cannot_allocate_past_the_memory_bound() {
    let s = Sandbox::new();
    // One 4 MB line: grep holds it whole.
    s.write("one-line.txt", &"x".repeat(4 << 20));
    // What a worker holds before the script allocates anything (the binary's pages, the
    // engine): the bound is on what the script makes on top of that.
    let idle = s.run_with(
        READ_IN_ROOT,
        "1",
        &["--max-memory", "32MiB", "--max-array-size", "100000000"],
    );
    assert_eq!(idle.code, 0, "{:#}", idle.json);
    for script in [
        // 4 M one-character strings from one call.
        r#"let s = "x"; for i in 0..22 { s += s; } s.split("").len()"#,
        r#"let s = "x"; for i in 0..22 { s += s; } s.to_chars().len()"#,
    ] {
        // The array limit raised out of the way: what is tried here is the memory bound.
        let r = s.run_with(
            READ_IN_ROOT,
            script,
            &["--max-memory", "32MiB", "--max-array-size", "100000000"],
        );
        assert_eq!(r.code, 6, "{script}: {:#}", r.json);
        assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{script}");
        assert!(
            r.message().contains("--max-memory"),
            "{script}: {}",
            r.message()
        );
        assert!(
            r.max_rss_kib < idle.max_rss_kib + (32 + 16) * 1024,
            "{script}: peak RSS {} KiB, {} KiB at rest",
            r.max_rss_kib,
            idle.max_rss_kib
        );
    }
}

#[test]
fn max_output_counts_the_bytes_as_printed_escapes_included() {
    // 12 Ki control characters: 72 KiB once escaped as JSON (`\u0001`), 48 KiB as human
    // text (`\x01`).
    let script = r#"let s = "\x01"; for i in 0..12 { s += s; } s + s + s"#;
    for (format, code) in [("json", 6), ("pretty-json", 6), ("human", 0)] {
        let out = Command::new(binary())
            .args([
                "run",
                "-",
                "--policy",
                "/dev/null",
                "--no-audit",
                "--max-output",
                "64KiB",
            ])
            .args(["--output", format])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(script.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{format}");
        let printed = out.stdout.len() + out.stderr.len();
        assert!(printed <= 64 << 10, "{format}: {printed} bytes");
        if code == 6 {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("--max-output"),
                "{format}"
            );
        }
    }
}

#[test]
fn sleep_refuses_what_is_not_a_duration_and_pad_refuses_an_empty_padding() {
    let s = Sandbox::new();
    for script in [
        "sleep(1e300)",
        "sleep(-1)",
        "sleep(0.0 / 0.0)",
        r#""abc".pad(10, "")"#,
    ] {
        let caught = s.run(
            "",
            &format!("let r = \"returned\"; try {{ {script}; }} catch (e) {{ r = e.kind; }} r"),
        );
        assert_eq!(caught.ok(), "InvalidArguments", "{script}");
    }
    let r = s.run(
        "",
        r#"let s = "ab"; s.pad(5, "xy"); [s, { sleep(0.05); "slept" }]"#,
    );
    assert_eq!(r.ok(), r#"["abxyx","slept"]"#);
}

#[test]
fn a_thrown_value_is_held_to_max_output() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"let s = "x"; for i in 0..18 { s += s; } throw s"#,
        &["--max-output", "64KiB"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json.to_string().len());
    assert!(r.json.to_string().len() < 64 << 10);
}

#[test]
fn sigterm_to_the_supervisor_kills_the_worker_and_records_the_end() {
    let s = Sandbox::new();
    let policy = s.policy_file("");
    let mut child = Command::new(binary())
        .args(["run", "-", "--policy"])
        .arg(&policy)
        .args(["--audit-log", &s.audit_dir(), "--max-operations", "0"])
        .env("TOLLGATE_STATE_DIR", s.state_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"loop {}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: kill takes two integers.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_ne!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "ERROR", "{json:#}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{json:#}"
    );
    assert_eq!(run_end(&s)["ended_by"], "cancelled");
    let (code, shown, err) = s.audit(&["show", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown
            .lines()
            .any(|l| l.contains(" end ") && l.ends_with(", cancelled")),
        "{shown}"
    );
}

#[test]
fn the_start_record_says_how_the_worker_is_confined() {
    let s = Sandbox::new();
    s.run("", "1").ok();
    let start = s
        .records()
        .into_iter()
        .find(|r| r["kind"] == "run_start")
        .unwrap();
    let sandbox = &start["sandbox"];
    assert_eq!(sandbox["no_new_privs"], true, "{start:#}");
    assert_eq!(sandbox["seccomp"], true, "{start:#}");
    assert_eq!(sandbox["landlock"], "enforced", "{start:#}");
    assert_eq!(
        sandbox["landlock_narrows"],
        serde_json::json!(["reads", "writes"]),
        "{start:#}"
    );
    assert!(sandbox["memory_bytes"].as_u64().unwrap() > 256 << 20);
    // A cgroup bounds the worker's memory where the host lets one be made; where not, the
    // record says why.
    let cgroup = sandbox["memory_cgroup"].as_str();
    let why = sandbox["memory_cgroup_unavailable"].as_str();
    assert!(cgroup.is_some() != why.is_some(), "{start:#}");
    if let Some(dir) = cgroup {
        assert!(
            !std::path::Path::new(dir).exists(),
            "the worker's cgroup is removed after the run: {dir}"
        );
    }
    assert_eq!(run_end(&s)["ended_by"], "returned");
}

#[test]
fn the_worker_cannot_make_the_system_calls_no_sdk_call_needs() {
    let s = Sandbox::new();
    let policy = format!(
        r#"permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/unshare");
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{}");"#,
        s.path("")
    );
    // As root, unshare(2) would succeed; the worker's filter (inherited by what it runs)
    // refuses it.
    for args in [
        r#"["--user", "true"]"#,
        r#"["--mount", "true"]"#,
        r#"["--net", "true"]"#,
    ] {
        let r = s.run(&policy, &format!(r#"execute("/usr/bin/unshare", {args})"#));
        let out: Value = serde_json::from_str(r.ok()).unwrap();
        assert_ne!(out["exit_code"], 0, "{args}: {out:#}");
        assert!(
            out["stderr"]
                .as_str()
                .unwrap()
                .contains("Operation not permitted"),
            "{args}: {out:#}"
        );
    }
}

#[test]
fn a_new_logs_signing_key_is_kept_outside_the_log_directory() {
    let s = Sandbox::new();
    s.run("", "1").ok();
    let dir = s.audit_dir();
    assert!(!std::path::Path::new(&dir).join("signing.key").exists());
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap())
            .unwrap();
    let key = config["key"].as_str().unwrap();
    assert!(!key.starts_with(&format!("{dir}/")), "{key}");
    assert!(std::path::Path::new(key).exists());
    let (code, out, err) = s.audit(&["verify", "--dir", &dir]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_log_whose_config_is_gone_is_never_replaced_by_a_new_one() {
    let s = Sandbox::new();
    s.run("", "1").ok();
    let dir = s.audit_dir();
    std::fs::remove_file(format!("{dir}/config.json")).unwrap();
    let r = s.run("", "1");
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains("config.json is gone"),
        "{}",
        r.message()
    );
    assert!(!std::path::Path::new(&format!("{dir}/config.json")).exists());
}

#[test]
fn checkpoints_that_fall_due_in_a_run_are_published_by_the_supervisor() {
    let s = Sandbox::new();
    s.write("a.txt", "a");
    let dir = s.audit_dir();
    let (code, _, err) = s.audit(&["init", "--dir", &dir, "--checkpoint-every", "5"]);
    assert_eq!(code, 0, "{err}");
    let r = s.run(
        READ_IN_ROOT,
        r#"for i in 0..300 { cat("{ROOT}/a.txt"); } 1"#,
    );
    assert_eq!(r.code, 0, "{:#}", r.json);
    let sizes: Vec<u64> = s
        .checkpoint_notes()
        .iter()
        .map(|note| note.lines().nth(1).unwrap().parse().unwrap())
        .collect();
    // 902 records: the supervisor takes one as soon as its worker says five more were
    // appended (by then the worker may have appended more, so one can cover several, and
    // how many depends on the machine's speed), and one at the end. At least one was taken
    // while the run went on: it covers fewer records than the last.
    let last = *sizes.iter().max().unwrap();
    assert!(
        sizes.iter().any(|&n| n < last),
        "no checkpoint taken during the run: {sizes:?}"
    );
    let (code, out, err) = s.audit(&["verify", "--dir", &dir]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn tollgate_own_files_are_out_of_reach_whatever_the_policy_says() {
    let s = Sandbox::new();
    let config = s.config(&serde_json::json!({}));
    let home = s.audit.path().canonicalize().unwrap().display().to_string();
    // The policy grants everything on the directory that holds the audit log, its key, the
    // kill switch's state and the host config.
    let parent = std::path::Path::new(&home)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let policy = format!(
        r#"permit(principal, action, resource in file_system::Dir::"{home}");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"{parent}");
permit(principal, action == file_system::Action::"create", resource == file_system::Dir::"{home}-moved");"#
    );
    s.run_with(&policy, "1", &["--config", &config]).ok();
    let attempts = [
        format!(r#"write("{home}/log/segments/000001.jsonl", "forged")"#),
        format!(r#"write([write::replace], "{home}/log/config.json", "{{}}")"#),
        format!(r#"rm("{home}/log/config.json")"#),
        format!(r#"rm([rm::recursive, rm::force], "{home}/log")"#),
        format!(r#"mv("{home}/log", "{home}/elsewhere")"#),
        format!(r#"cat("{home}/log.key")"#),
        format!(r#"write([write::replace], "{home}/config.json", "{{}}")"#),
        format!(r#"rm([rm::recursive], "{home}/state")"#),
        format!(r#"mkdir("{home}/state/runs/planted")"#),
        // Other spellings, another command, and the parent instead of the child.
        format!(r#"rm("{home}/log/../log/./config.json")"#),
        format!(r#"cp("{home}/log/config.json", "{home}/log/segments/000009.jsonl")"#),
        format!(r#"rm([rm::recursive, rm::force], "{home}")"#),
        format!(r#"mv("{home}", "{home}-moved")"#),
        format!(r#"tail("{home}/log.key")"#),
    ];
    for attempt in &attempts {
        let r = s.run_with(&policy, attempt, &["--config", &config]);
        assert_eq!(r.code, 4, "{attempt}: {:#}", r.json);
        assert!(
            r.message().contains("Tollgate's own file"),
            "{attempt}: {}",
            r.message()
        );
    }
    // What is not Tollgate's stays the policy's to grant (beneath a directory that holds no
    // own file: the kernel lets nothing new be made directly in one that does).
    std::fs::create_dir(format!("{home}/notes")).unwrap();
    let r = s.run_with(
        &policy,
        &format!(r#"write("{home}/notes/note.txt", "ok"); cat("{home}/notes/note.txt")"#),
        &["--config", &config],
    );
    assert_eq!(r.ok(), "ok");
    let (code, out, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{out}{err}");
    let denials = s
        .records()
        .into_iter()
        .filter(|r| r["decision"] == "deny")
        .filter(|r| {
            r["error"]
                .as_str()
                .unwrap_or("")
                .contains("Tollgate's own file")
        })
        .count();
    assert_eq!(denials, attempts.len());
}

/// Runs `binary ARGS` from a script under `policy` and returns its result object.
fn execute(s: &Sandbox, policy: &str, binary: &str, args: &[String]) -> Value {
    let args = serde_json::to_string(args).unwrap();
    let r = s.run(policy, &format!(r#"execute("{binary}", {args})"#));
    serde_json::from_str(r.ok()).unwrap()
}

#[test]
fn the_kernel_keeps_the_worker_to_what_the_policy_could_let_it_read() {
    let s = Sandbox::new();
    let open = s.write("open/ok.txt", "readable");
    let closed = s.write("closed/secret.txt", "hidden");
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("elsewhere.txt");
    std::fs::write(&outside, "far away").unwrap();
    let policy = format!(
        r#"permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/cat");
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{}");"#,
        s.path("open")
    );
    // The gate never sees what `cat` opens: only the kernel can refuse it.
    let args = [
        open.clone(),
        closed.clone(),
        outside.display().to_string(),
        "/etc/passwd".to_owned(),
    ];
    let out = execute(&s, &policy, "/usr/bin/cat", &args);
    let (stdout, stderr) = (
        out["stdout"].as_str().unwrap(),
        out["stderr"].as_str().unwrap(),
    );
    assert!(stdout.contains("readable"), "{out:#}");
    assert!(
        !stdout.contains("hidden") && !stdout.contains("far away"),
        "{out:#}"
    );
    assert!(
        stderr.contains(&format!("{closed}: Permission denied")),
        "{out:#}"
    );
    assert!(
        stderr.contains("elsewhere.txt: Permission denied"),
        "{out:#}"
    );
    // The system's configuration stays readable: what a permitted binary needs to work.
    assert!(stdout.contains("root:"), "{out:#}");
    // Listing a directory outside every scope is refused too.
    let out = execute(
        &s,
        &policy.replace("/usr/bin/cat", "/usr/bin/ls"),
        "/usr/bin/ls",
        &[s.path("closed")],
    );
    assert_ne!(out["exit_code"], 0, "{out:#}");
    assert!(
        out["stderr"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{out:#}"
    );
}

#[test]
fn the_kernel_keeps_tollgate_own_files_from_the_worker_whatever_the_policy_says() {
    let s = Sandbox::new();
    let home = s.audit.path().canonicalize().unwrap().display().to_string();
    let policy = format!(
        r#"permit(principal, action, resource in file_system::Dir::"{home}");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource in file_system::Dir::"/usr/bin");"#
    );
    s.run(&policy, "1").ok();
    std::fs::create_dir(format!("{home}/notes")).unwrap();
    std::fs::write(format!("{home}/notes/existing.txt"), "").unwrap();
    // The signing key cannot even be read; the log's other files can, as the policy says.
    let out = execute(&s, &policy, "/usr/bin/cat", &[format!("{home}/log.key")]);
    assert!(
        out["stderr"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{out:#}"
    );
    let out = execute(
        &s,
        &policy,
        "/usr/bin/cat",
        &[format!("{home}/log/config.json")],
    );
    assert_eq!(out["exit_code"], 0, "{out:#}");
    // Nothing below the log, the key or the kill switch's state can be changed, by any
    // binary, however it is asked. (Times are the exception: Landlock has no right for
    // them, and only the gate keeps `touch` from the log.)
    for (binary, args) in [
        (
            "/usr/bin/touch",
            vec![format!("{home}/log/segments/000009.jsonl")],
        ),
        (
            "/usr/bin/truncate",
            vec!["-s0".to_owned(), format!("{home}/log/config.json")],
        ),
        ("/usr/bin/rm", vec![format!("{home}/log/config.json")]),
        ("/usr/bin/rm", vec!["-rf".to_owned(), format!("{home}/log")]),
        (
            "/usr/bin/rm",
            vec!["-f".to_owned(), format!("{home}/log.key")],
        ),
        (
            "/usr/bin/mv",
            vec![format!("{home}/log"), format!("{home}/notes/log")],
        ),
        ("/usr/bin/mkdir", vec![format!("{home}/state/runs/planted")]),
        ("/usr/bin/touch", vec![format!("{home}/planted")]),
    ] {
        let out = execute(&s, &policy, binary, &args);
        assert_ne!(out["exit_code"], 0, "{binary} {args:?}: {out:#}");
        assert!(
            out["stderr"]
                .as_str()
                .unwrap()
                .contains("Permission denied"),
            "{binary} {args:?}: {out:#}"
        );
    }
    // What is not Tollgate's stays the policy's to grant.
    let out = execute(
        &s,
        &policy,
        "/usr/bin/touch",
        &[format!("{home}/notes/existing.txt")],
    );
    assert_eq!(out["exit_code"], 0, "{out:#}");
    let (code, out, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn the_descriptor_bound_leaves_room_for_walks_of_deep_trees() {
    let s = Sandbox::new();
    // 600 levels: a walk holds a descriptor for each.
    let deep = (0..600).map(|_| "d").collect::<Vec<_>>().join("/");
    s.write(&format!("{deep}/f.txt"), "x");
    let r = s.run(
        ALL_IN_ROOT,
        r#"let n = find_files([glob::recursive], "*", "{ROOT}").len(); rm([rm::recursive], "{ROOT}/d"); n"#,
    );
    assert_eq!(r.ok(), "601");
    assert!(!exists(&s.path("d")));
}

#[test]
fn a_confined_worker_rotates_segments_and_the_supervisor_signs_across_them() {
    let s = Sandbox::new();
    s.write("f.txt", "x");
    let dir = s.audit_dir();
    let (code, out, err) = s.audit(&[
        "init",
        "--audit-log",
        &dir,
        "--segment-size",
        "4096",
        "--checkpoint-every",
        "50",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let r = s.run(
        READ_IN_ROOT,
        r#"for i in 0..200 { cat("{ROOT}/f.txt"); } "done""#,
    );
    assert_eq!(r.ok(), "done");
    let segments = std::fs::read_dir(format!("{dir}/segments"))
        .unwrap()
        .count();
    assert!(segments > 5, "{segments} segments");
    let (code, out, err) = s.audit(&["verify", "--audit-log", &dir]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("checkpoints verified"), "{out}");
}

#[test]
fn the_supervisors_proc_directory_is_no_scripts_to_read_whatever_the_policy_says() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action, resource in file_system::Dir::"/proc");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/cat");"#;
    let script = r#"
let ppid = cat("/proc/self/stat").split(" ")[3];
let out = #{ self: cat("/proc/self/status").len() > 0 };
for f in ["environ", "maps", "status", "cmdline"] {
    try { cat(`/proc/${ppid}/${f}`); out[f] = "read"; } catch (e) { out[f] = e.message; }
}
try { ls(`/proc/${ppid}/fd`); out.fd = "listed"; } catch (e) { out.fd = e.message; }
// The memory of the process that holds the key, through a binary the gate does not see.
let r = execute("/usr/bin/cat", [`/proc/${ppid}/mem`]);
out.mem = r.exit_code;
out"#;
    let out: Value = serde_json::from_str(s.run(policy, script).ok()).unwrap();
    assert_eq!(out["self"], true, "{out:#}");
    for f in ["environ", "maps", "status", "cmdline", "fd"] {
        assert!(
            out[f].as_str().unwrap().contains("Tollgate's own file"),
            "{f}: {out:#}"
        );
    }
    assert_ne!(out["mem"], 0, "{out:#}");
}

#[test]
fn the_worker_forgets_its_callers_environment() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/proc");"#;
    let r = s.run_env(
        policy,
        r#"cat("/proc/self/environ")"#,
        &[],
        &[("SECRET_API_KEY", "hunter2-in-the-environment")],
    );
    let out = r.ok();
    assert!(!out.contains("hunter2"), "{out}");
    assert!(!out.contains("SECRET_API_KEY"), "{out}");
}
