//! Red-team tests of the Rex SDK surface: what a prompt-injected script would try through
//! handles, archives, compressed files, core dumps, processes and the common helpers, each
//! asserting the safe outcome (refused, bounded, or ended with a well-formed error), on real
//! files in temp dirs and real processes.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// A script prelude: `attempt(f)` is `f`'s value, or its caught error as `kind: message`.
const ATTEMPT: &str = r#"
fn attempt(f) { try { return f.call(); } catch (e) { return `${e.kind}: ${e.message}`; } }
"#;

fn script(body: &str) -> String {
    format!("{ATTEMPT}\n{body}")
}

fn json(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("{e}: {}", r.output()))
}

/// `in/` is what the policy opens; `out/` beside it holds a secret; `in/link` and `in/dlink`
/// point out of `in/`.
fn two_dirs(s: &Sandbox) {
    s.write("in/a", "inside");
    s.write("out/secret", "TOP-SECRET");
    std::os::unix::fs::symlink("../out/secret", s.root().join("in/link")).unwrap();
    std::os::unix::fs::symlink("../out", s.root().join("in/dlink")).unwrap();
}

const ONLY_IN: &str = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}/in");"#;

#[test]
fn handle_names_are_one_component_and_symlinks_out_of_scope_are_denied() {
    let s = Sandbox::new();
    two_dirs(&s);
    let r = s.run(
        ONLY_IN,
        &script(
            r#"let d = DirConfig().path("{ROOT}/in").build().open(OpenDirOptions().build());
               let read = OpenFileOptions().read(true).build();
               let follow = OpenFileOptions().read(true).follow_symlinks(true).build();
               #{ dotdot: attempt(|| d.open_file("../out/secret", read).read()),
                  parent: attempt(|| d.open_file("..", read).read()),
                  link: attempt(|| d.open_file("link", read).read()),
                  followed: attempt(|| d.open_file("link", follow).read()),
                  symlink_name: attempt(|| d.open_symlink("../out/secret").to_string()),
                  new_link_name: attempt(|| { d.create_symlink("{ROOT}/out/secret", "../out/x", CreateSymlinkOptions().build()); "made" }),
                  dir_link: attempt(|| DirConfig().path("{ROOT}/in/dlink").build().open(OpenDirOptions().build()).list_entries().keys()),
                  dir_link_followed: attempt(|| DirConfig().path("{ROOT}/in/dlink").build().open(OpenDirOptions().follow_symlinks(true).build()).list_entries().keys()),
                  lexical_dotdot: attempt(|| DirConfig().path("{ROOT}/in/../out").build().open(OpenDirOptions().build()).list_entries().keys()) }"#,
        ),
    );
    let out = json(&r);
    assert!(!r.output().contains("TOP-SECRET"), "{}", r.output());
    for key in ["dotdot", "parent", "symlink_name", "new_link_name"] {
        let v = out[key].as_str().unwrap();
        assert!(
            v.starts_with("InvalidArguments") && v.contains("one path component"),
            "{key}: {v}"
        );
    }
    assert!(out["link"].as_str().unwrap().contains("is a symlink"));
    for key in [
        "followed",
        "dir_link",
        "dir_link_followed",
        "lexical_dotdot",
    ] {
        let v = out[key].as_str().unwrap();
        assert!(
            v.starts_with("PermissionDenied") && v.contains(&format!("{}/out", s.path(""))),
            "{key}: {v}"
        );
    }
    assert!(!exists(&s.path("out/x")));
}

#[test]
fn a_listed_entry_swapped_for_a_symlink_is_not_opened() {
    let s = Sandbox::new();
    two_dirs(&s);
    s.write("in/victim", "listed");
    std::fs::create_dir(s.root().join("in/sub")).unwrap();
    // The script lists, then replaces each entry by a link out of scope (as a concurrent
    // process would), then opens the entries it listed.
    let r = s.run(
        ONLY_IN,
        &script(
            r#"let d = DirConfig().path("{ROOT}/in").build().open(OpenDirOptions().build());
               let listed = d.list_entries();
               let file = listed["victim"];
               let dir = listed["sub"];
               d.open_file("victim", OpenFileOptions().write(true).build()).delete(DeleteFileOptions().build());
               d.create_symlink("../out/secret", "victim", CreateSymlinkOptions().build());
               DirConfig().path("{ROOT}/in/sub").build().open(OpenDirOptions().build()).delete(DeleteDirOptions().build());
               d.create_symlink("../out", "sub", CreateSymlinkOptions().build());
               #{ entry_as_file: attempt(|| file.open_as_file(OpenFileOptions().read(true).build()).read()),
                  entry_as_dir: attempt(|| dir.open_as_dir(OpenDirOptions().build()).list_entries().keys()),
                  by_name: attempt(|| d.open_file("victim", OpenFileOptions().read(true).build()).read()) }"#,
        ),
    );
    let out = json(&r);
    assert!(!r.output().contains("TOP-SECRET"), "{}", r.output());
    for key in ["entry_as_file", "entry_as_dir", "by_name"] {
        let v = out[key].as_str().unwrap();
        assert!(
            v.starts_with("InvalidArguments") && v.contains("symlink"),
            "{key}: {v}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.path("out/secret")).unwrap(),
        "TOP-SECRET"
    );
}

/// One entry of a hand-made tar archive: its name, its type flag, and its data (a regular
/// file) or link target (a link).
type TarEntry<'a> = (&'a str, u8, &'a str);

/// Writes a tar archive at `path`, with headers built by hand so that names the tar crate's
/// builder would refuse can be written.
fn tar(path: &Path, entries: &[TarEntry]) {
    let mut out = Vec::new();
    for (name, kind, data) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000755");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        let size = if *kind == b'0' { data.len() } else { 0 };
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = *kind;
        if *kind == b'1' || *kind == b'2' {
            h[157..157 + data.len()].copy_from_slice(data.as_bytes());
        }
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        if size > 0 {
            out.extend_from_slice(data.as_bytes());
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
    }
    out.resize(out.len() + 1024, 0);
    std::fs::write(path, out).unwrap();
}

#[test]
fn extract_archive_refuses_every_entry_that_would_land_outside_and_makes_no_links() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.root().join("arc")).unwrap();
    std::fs::create_dir_all(s.root().join("dest")).unwrap();
    let outside = s.path("escaped");
    let cases: Vec<(&str, Vec<TarEntry>)> = vec![
        (
            "dotdot",
            vec![("ok", b'0', "ok"), ("../escaped", b'0', "bad")],
        ),
        ("absolute", vec![(outside.as_str(), b'0', "bad")]),
        (
            "inner_dotdot",
            vec![("a/./b/../../../escaped", b'0', "bad")],
        ),
        (
            "symlink_out",
            vec![("l", b'2', "/"), ("l/escaped", b'0', "bad")],
        ),
        (
            "symlink_up",
            vec![("l", b'2', ".."), ("l/escaped", b'0', "bad")],
        ),
        ("hardlink_out", vec![("h", b'1', "../../etc/passwd")]),
    ];
    let mut body = String::from(
        r#"let a = DirConfig().path("{ROOT}/arc").build().open(OpenDirOptions().build());
           let r = #{};"#,
    );
    for (name, entries) in &cases {
        tar(&s.root().join(format!("arc/{name}.tar")), entries);
        body.push_str(&format!(
            r#"r["{name}"] = attempt(|| {{
                 let dest = DirConfig().path("{{ROOT}}/dest/{name}").build().open(OpenDirOptions().create(true).build());
                 a.open_file("{name}.tar", OpenFileOptions().read(true).build()).extract_archive(dest, ExtractArchiveOptions().build());
                 "extracted" }});"#
        ));
    }
    // Links and special files inside the destination are checked, never made: a file
    // "through" a link to a sibling directory lands in a real directory of that name.
    tar(
        &s.root().join("arc/inside.tar"),
        &[
            ("sub/", b'5', ""),
            ("l", b'2', "sub"),
            ("l/x", b'0', "via link"),
            ("h", b'1', "l/x"),
            ("fifo", b'6', ""),
            ("null", b'3', ""),
        ],
    );
    body.push_str(
        r#"r["inside"] = attempt(|| {
             let dest = DirConfig().path("{ROOT}/dest/inside").build().open(OpenDirOptions().create(true).build());
             a.open_file("inside.tar", OpenFileOptions().read(true).build()).extract_archive(dest, ExtractArchiveOptions().build());
             "extracted" });
           r"#,
    );
    let r = s.run(ALL_IN_ROOT, &script(&body));
    let out = json(&r);
    for (name, _) in &cases {
        let v = out[*name].as_str().unwrap();
        assert!(
            v.starts_with("InvalidArguments") && v.contains("refused"),
            "{name}: {v}"
        );
        // Refused before anything was written: not even the harmless first entry.
        assert_eq!(
            std::fs::read_dir(s.root().join(format!("dest/{name}")))
                .unwrap()
                .count(),
            0,
            "{name}"
        );
    }
    assert!(!exists(&outside));
    assert!(!Path::new("/escaped").exists());
    assert_eq!(out["inside"], "extracted");
    let inside = s.root().join("dest/inside");
    let l = inside.join("l").symlink_metadata().unwrap();
    assert!(l.is_dir(), "l is made a real directory, not a link");
    assert_eq!(
        std::fs::read_to_string(inside.join("l/x")).unwrap(),
        "via link"
    );
    for absent in ["h", "fifo", "null"] {
        assert!(
            !exists(&inside.join(absent).display().to_string()),
            "{absent}"
        );
    }
    assert_eq!(std::fs::read_dir(inside.join("sub")).unwrap().count(), 0);
}

#[test]
fn extract_archive_does_not_write_through_a_symlink_already_in_the_destination() {
    let s = Sandbox::new();
    s.write("out/keep", "original");
    std::fs::create_dir_all(s.root().join("in/dest")).unwrap();
    std::os::unix::fs::symlink(s.root().join("out"), s.root().join("in/dest/d")).unwrap();
    std::os::unix::fs::symlink(s.root().join("out/keep"), s.root().join("in/dest/f")).unwrap();
    tar(&s.root().join("in/d.tar"), &[("d/keep", b'0', "replaced")]);
    tar(&s.root().join("in/f.tar"), &[("f", b'0', "replaced")]);
    // Everything is permitted below the sandbox, `out` included: the refusal is the
    // extraction's own (it never follows a link), not the policy's.
    let r = s.run(
        ALL_IN_ROOT,
        &script(
            r#"let d = DirConfig().path("{ROOT}/in").build().open(OpenDirOptions().build());
               let dest = DirConfig().path("{ROOT}/in/dest").build().open(OpenDirOptions().build());
               let x = |n| attempt(|| { d.open_file(n, OpenFileOptions().read(true).build()).extract_archive(dest, ExtractArchiveOptions().build()); "extracted" });
               #{ dir_link: x.call("d.tar"), file_link: x.call("f.tar") }"#,
        ),
    );
    let out = json(&r);
    for key in ["dir_link", "file_link"] {
        assert!(
            out[key].as_str().unwrap().contains("is a symlink"),
            "{key}: {}",
            out[key]
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.path("out/keep")).unwrap(),
        "original"
    );
}

#[test]
fn a_gzip_bomb_is_refused_by_the_limits_without_holding_it_in_memory() {
    let s = Sandbox::new();
    // 256 MiB of zeros (one endless line) in a quarter of a megabyte.
    let made = Command::new("sh")
        .arg("-c")
        .arg("head -c 268435456 /dev/zero | gzip -9 > bomb.gz")
        .current_dir(s.root())
        .status()
        .unwrap();
    assert!(made.success());
    for call in [
        "f.read_gzip_lines(ReadLinesOptions().count(1).build()).len()",
        "f.search_gzip(\"x\", SearchGzipOptions().build()).len()",
    ] {
        let r = s.run_with(
            ALL_IN_ROOT,
            &script(&format!(
                r#"let d = DirConfig().path("{{ROOT}}").build().open(OpenDirOptions().build());
                   let f = d.open_file("bomb.gz", OpenFileOptions().read(true).build());
                   {call}"#
            )),
            &["--max-string-size", "1MiB", "--max-memory", "128MiB"],
        );
        assert_eq!(
            r.error_type(),
            "RESOURCE_LIMIT_EXCEEDED",
            "{call}: {:#}",
            r.json
        );
        assert_ne!(r.code, 0);
        assert!(r.max_rss_kib < 200 * 1024, "{call}: {} KiB", r.max_rss_kib);
    }
}

#[test]
fn compress_gzip_refuses_to_write_onto_the_file_it_reads() {
    let s = Sandbox::new();
    s.write("log", &"some text\n".repeat(1000));
    let r = s.run(
        ALL_IN_ROOT,
        &script(
            r#"let d = DirConfig().path("{ROOT}").build().open(OpenDirOptions().build());
               let src = d.open_file("log", OpenFileOptions().read(true).build());
               let same = d.open_file("log", OpenFileOptions().read(true).write(true).build());
               attempt(|| { src.compress_gzip(same, CompressGzipOptions().build()); "compressed" })"#,
        ),
    );
    assert!(
        r.ok().starts_with("InvalidArguments") && r.output().contains("being compressed"),
        "{}",
        r.output()
    );
    assert_eq!(
        std::fs::read_to_string(s.path("log")).unwrap(),
        "some text\n".repeat(1000)
    );
}

#[test]
fn core_dump_variables_are_names_never_gdb_commands() {
    let s = Sandbox::new();
    s.write("crash", "");
    s.write("crash.core", "");
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
permit(principal, action in [file_system::Action::"open", file_system::Action::"execute"], resource in file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr");
"#;
    for name in [
        "x\nshell touch {ROOT}/pwned",
        "$_shell(\"touch {ROOT}/pwned\")",
        "python import os",
        "x; shell id",
        "a[1]@2",
        "func()",
        "$pc",
    ] {
        let literal = serde_json::to_string(name).unwrap();
        let r = s.run(
            policy,
            &script(&format!(
                r#"attempt(|| CoreDump("{{ROOT}}/crash", "{{ROOT}}/crash.core").get_variables(0, [{literal}]))"#
            )),
        );
        assert!(
            r.ok().starts_with("InvalidArguments") && r.output().contains("not a variable path"),
            "{name}: {}",
            r.output()
        );
    }
    assert!(!exists(&s.path("pwned")));
}

/// A policy that permits every process action on processes whose command line holds
/// `marker`: the run's own supervisor and worker, whose command line names the policy file.
fn own_processes_policy(marker: &str) -> String {
    format!(
        r#"permit(principal, action, resource is process_system::Process) when {{ resource.command like "*{marker}*" }};"#
    )
}

#[test]
fn no_policy_lets_a_script_signal_its_own_supervisor_or_worker() {
    let s = Sandbox::new();
    let marker = s.policy_file("").replace('\\', "");
    let r = s.run(
        &own_processes_policy(&marker),
        &script(&format!(
            r#"let own = ps().filter(|p| p.command.contains("{marker}")).map(|p| p.pid);
               #{{ own: own,
                  by_pid: own.map(|pid| attempt(|| kill(pid))),
                  by_command: attempt(|| ProcessManager().kill(KillOptions().command("{marker}").signal(Signal::SIGKILL).build())) }}"#
        )),
    );
    // The run ended on its own, with its result: the supervisor was not signalled.
    let out = json(&r);
    let own = out["own"].as_array().unwrap();
    assert_eq!(own.len(), 2, "the supervisor and the worker: {out}");
    for refusal in out["by_pid"].as_array().unwrap() {
        assert!(
            refusal.as_str().unwrap().contains("Tollgate's own"),
            "{refusal}"
        );
    }
    // A pattern never matches them: nothing else matches, so nothing is found.
    assert!(
        out["by_command"]
            .as_str()
            .unwrap()
            .contains("a process matching"),
        "{}",
        out["by_command"]
    );
    let records = s.records();
    assert_eq!(
        records.last().map(|r| r["kind"].clone()),
        Some(Value::from("run_end")),
        "the supervisor recorded the run's end"
    );
}

#[test]
fn monitor_processes_cpu_with_an_endless_delay_stops_at_the_timeout() {
    let s = Sandbox::new();
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let policy = format!(
        r#"permit(principal, action, resource == process_system::Process::"{pid}");
permit(principal, action == sysinfo::Action::"list", resource);"#
    );
    let started = std::time::Instant::now();
    let r = s.run_with(
        &policy,
        &format!(
            r#"ProcessManager().monitor_processes_cpu(MonitorProcessesCpuOptions().pids_to_monitor([{pid}]).batches(3).delay_in_seconds(9223372036854775807).build())"#
        ),
        &["--timeout", "2s"],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let r = s.run(
        &policy,
        &script(&format!(
            r#"attempt(|| ProcessManager().monitor_processes_cpu(MonitorProcessesCpuOptions().pids_to_monitor([{pid}]).batches(9223372036854775807).build()))"#
        )),
    );
    assert!(
        r.ok().starts_with("InvalidArguments") && r.output().contains("batches"),
        "{}",
        r.output()
    );
}

#[test]
fn date_arithmetic_at_the_edges_of_i64_is_a_caught_error_never_a_panic() {
    let s = Sandbox::new();
    let r = s.run(
        ALL_IN_ROOT,
        &script(
            r#"[attempt(|| from_epoch_seconds(9223372036854775807).to_string()),
                attempt(|| from_epoch_seconds(-9223372036854775808).to_string()),
                attempt(|| from_epoch_nanos(0, -1).to_string()),
                attempt(|| (from_epoch_seconds(0) + 9223372036854775807).to_string()),
                attempt(|| (from_epoch_seconds(0) - (-9223372036854775807 - 1)).to_string()),
                attempt(|| parse_datetime("9999-12-31T23:59:59-23:59", DateTimeFormat::RFC3339).to_string()),
                attempt(|| parse_datetime("Thu, 29 Feb 99999999999999999999 13:05:09 +0000", DateTimeFormat::RFC2822).to_string()),
                attempt(|| parse_datetime("2024-02-29T13:05:0\u00fc", DateTimeFormat::RFC3339).to_string()),
                attempt(|| DateTime(0, 1, 1, 0, 0, 0, 0).to_string(DateTimeFormat::RFC2822)),
                attempt(|| Duration::from_secs(9223372036854775807).to_string()),
                attempt(|| random_alphanumeric(-5).len())]"#,
        ),
    );
    let out = json(&r);
    let out = out.as_array().unwrap();
    for (i, v) in out[..9].iter().enumerate() {
        let v = v.as_str().unwrap();
        assert!(
            ["InvalidArguments:", "ParseError:", "FormatError:"]
                .iter()
                .any(|k| v.starts_with(k)),
            "{i}: {v}"
        );
    }
    assert_eq!(out[10], 16);
    let r = s.run(ALL_IN_ROOT, "random_alphanumeric(9223372036854775807)");
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
}

#[test]
fn published_reports_and_client_sizes_are_bounded() {
    let s = Sandbox::new();
    let r = s.run(
        ALL_IN_ROOT,
        r#"for i in 0..1001 { MetricBuilder().name(`m${i}`).value(1.0).unit(MetricUnitType::COUNT).publish(); } 1"#,
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    let r = s.run(
        ALL_IN_ROOT,
        r#"for i in 0..1001 { AlarmBuilder().type("t").details("d").publish(); } 1"#,
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    let r = s.run(
        ALL_IN_ROOT,
        r#"let d = "x"; d.pad(5000, "x"); AlarmBuilder().type("t").details(d).publish(); 1"#,
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    let r = s.run(
        ALL_IN_ROOT,
        &script(r#"attempt(|| Client().max_text_bytes(-1).to_string())"#),
    );
    assert!(r.ok().starts_with("InvalidArguments"), "{}", r.output());
}

#[test]
fn deeply_nested_values_end_the_run_with_a_well_formed_error() {
    // Rhai builds, measures, prints and drops nested arrays and maps recursively, and puts no
    // limit on the depth a loop can nest them to: a deep enough value overflows the worker's
    // stack. The run must still end with one well-formed error result and a failing exit.
    let s = Sandbox::new();
    for body in [
        "let m = #{}; for i in 0..200000 { m = #{a: m}; } m.to_json().len()",
        "let m = []; for i in 0..200000 { m = [m]; } m",
    ] {
        let r = s.run(ALL_IN_ROOT, body);
        assert_ne!(r.code, 0, "{body}");
        assert!(r.json.is_object(), "{body}: {:?}", r.json);
        assert_eq!(r.json["status"], "ERROR", "{body}");
        assert!(!r.error_type().is_empty(), "{body}: {:#}", r.json);
    }
}

#[test]
fn core_dump_variables_of_a_thread_or_frame_the_dump_lacks_are_refused_not_taken_elsewhere() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
permit(principal, action in [file_system::Action::"open", file_system::Action::"execute"], resource in file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr");
"#;
    s.write(
        "crash.c",
        "int crash(int *p) { int local = 42; *p = local; return local; }\n\
         int main(void) { return crash(0); }\n",
    );
    let made = Command::new("sh")
        .arg("-c")
        .arg("cc -g -O0 -o crash crash.c && { ulimit -c unlimited; ./crash; for c in core core.*; do [ -f \"$c\" ] && mv \"$c\" crash.core; done; true; }")
        .current_dir(s.root())
        .status()
        .unwrap();
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let have_dump = made.success()
        && !pattern.starts_with('|')
        && s.root().join("crash.core").is_file()
        && Path::new("/usr/bin/gdb").exists();
    let r = s.run(
        policy,
        &script(
            r#"let c = CoreDump("{ROOT}/crash", "{ROOT}/crash.core");
               #{ no_thread: attempt(|| c.get_variables(99, 0, ["local"])),
                  frame: attempt(|| c.get_variables(99, ["local"])),
                  right: attempt(|| c.get_variables(0, ["local"])) }"#,
        ),
    );
    let out = json(&r);
    if !have_dump {
        // Without a dump or gdb, each call says what is missing.
        for key in ["no_thread", "frame", "right"] {
            assert!(out[key].is_string(), "{key}: {}", out[key]);
        }
        return;
    }
    assert_eq!(out["right"], serde_json::json!({"local": "42"}));
    assert!(
        out["no_thread"]
            .as_str()
            .unwrap()
            .contains("has no thread 99"),
        "{}",
        out["no_thread"]
    );
    assert!(
        out["frame"].as_str().unwrap().contains("has no frame 99"),
        "{}",
        out["frame"]
    );
}
