//! Running binaries, gated: real binaries from /usr/bin, real users, a real Landlock kernel.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Lets `/usr/bin/NAME` be opened and executed under `condition`, and everything in the
/// sandbox be read and written.
fn policy(name: &str, condition: &str) -> String {
    format!(
        r#"permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/{name}") when {{ {condition} }};
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{{ROOT}}");"#
    )
}

/// The map `execute` returned.
fn result(run: &Run) -> Value {
    serde_json::from_str(run.ok()).unwrap()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_permitted_binary_runs_with_its_arguments_and_only_the_given_environment() {
    let s = Sandbox::new();
    let r = s.run(
        &policy("env", "true"),
        r#"execute("/usr/bin/env", ExecuteOptions().env(#{LANG: "C"}).build())"#,
    );
    let out = result(&r);
    assert_eq!(out["exit_code"], 0);
    // Nothing of the runner's environment reaches the child.
    assert_eq!(out["stdout"], "LANG=C\n");
    let r = s.run(
        &policy("printf", "true"),
        r#"execute("/usr/bin/printf", ["%s-%s", "a b", "$HOME;*"])"#,
    );
    // No shell: each argument arrives as it is.
    assert_eq!(result(&r)["stdout"], "a b-$HOME;*");
}

#[test]
fn a_denied_binary_never_runs() {
    let s = Sandbox::new();
    let marker = s.path("marker");
    let r = s.run(
        &policy("id", "true"),
        &format!(r#"execute("/usr/bin/touch", ["{marker}"])"#),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains(r#"file_system::Action::"execute""#));
    assert!(!exists(&marker));
}

#[test]
fn arguments_are_tags_and_a_repeated_key_cannot_smuggle_a_value() {
    let s = Sandbox::new();
    let p = policy(
        "printf",
        r#"context.arguments.hasTag("-v") && context.arguments.getTag("-v") == "ok" && context.arguments.hasTag("$ARG0") && context.arguments.getTag("$ARG0") == "%s""#,
    );
    // printf reuses its format for each word after it: `-v`, then `ok`.
    let r = s.run(&p, r#"execute("/usr/bin/printf", ["%s", ["-v", "ok"]])"#);
    assert_eq!(result(&r)["stdout"], "-vok");
    let r = s.run(&p, r#"execute("/usr/bin/printf", ["%s", ["-v", "bad"]])"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    let r = s.run(
        &p,
        r#"execute("/usr/bin/printf", ["%s", ["-v", "ok"], ["-v", "bad"]])"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    // Both readings were asked, and both are in the audit trail.
    let asked: Vec<String> = s
        .records()
        .iter()
        .filter(|r| r["action"] == r#"file_system::Action::"execute""#)
        .map(|r| r["decision"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(asked, ["permit", "deny", "permit", "deny"]);
}

#[test]
fn environment_names_are_checked() {
    let s = Sandbox::new();
    let p = policy("env", r#"["LANG"].containsAll(context.environment.names)"#);
    let r = s.run(
        &p,
        r#"execute("/usr/bin/env", ExecuteOptions().env(#{LANG: "C"}).build())"#,
    );
    assert_eq!(result(&r)["exit_code"], 0);
    let r = s.run(
        &p,
        r#"execute("/usr/bin/env", ExecuteOptions().env(#{LD_PRELOAD: "/tmp/x.so"}).build())"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
}

#[test]
fn switching_user_sets_the_group_and_drops_supplementary_groups() {
    let s = Sandbox::new();
    let p = policy(
        "id",
        r#"context.user.username == "nobody" && context.group.groupname == "nogroup""#,
    );
    let r = s.run(
        &p,
        r#"execute("/usr/bin/id", ExecuteOptions().user("nobody").build())"#,
    );
    if is_root() {
        assert_eq!(
            result(&r)["stdout"],
            "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
        );
    } else {
        assert_eq!(r.code, 5, "{:#}", r.json);
        assert!(r.message().contains("may not switch"), "{}", r.message());
    }
    // The policy sees who the binary would run as: as the runner's own user, denied.
    let r = s.run(&p, r#"execute("/usr/bin/id")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
}

#[test]
fn the_child_has_no_new_privs() {
    let s = Sandbox::new();
    let r = s.run(
        &policy("grep", "true"),
        r#"execute("/usr/bin/grep", ["NoNewPrivs", "/proc/self/status"])"#,
    );
    assert_eq!(result(&r)["stdout"], "NoNewPrivs:\t1\n");
}

#[test]
fn landlock_keeps_the_child_to_where_the_policy_lets_scripts_write() {
    let s = Sandbox::new();
    let outside = tempfile::tempdir().unwrap();
    let outside_file = outside.path().join("x").display().to_string();
    let inside_file = s.path("x");
    let r = s.run(
        &policy("touch", "true"),
        &format!(
            r#"[execute("/usr/bin/touch", ["{inside_file}"]), execute("/usr/bin/touch", ["{outside_file}"])]"#
        ),
    );
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out[0]["exit_code"], 0, "{out:#}");
    assert!(exists(&inside_file));
    assert_eq!(out[1]["exit_code"], 1, "{out:#}");
    assert!(out[1]["stderr"]
        .as_str()
        .unwrap()
        .contains("Permission denied"));
    assert!(!exists(&outside_file));
}

#[test]
fn a_symlinked_write_scope_does_not_open_its_target_to_the_child() {
    let s = Sandbox::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), s.path("link")).unwrap();
    let target = outside.path().join("x").display().to_string();
    let p = r#"permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/touch");
permit(principal, action in [file_system::Action::"write", file_system::Action::"create"], resource in file_system::Dir::"{ROOT}/link");"#;
    let r = s.run(p, &format!(r#"execute("/usr/bin/touch", ["{target}"])"#));
    assert_eq!(result(&r)["exit_code"], 1, "{:#}", r.json);
    assert!(!exists(&target));
}

#[test]
fn large_output_is_read_while_the_child_runs_and_cut_at_the_limit() {
    let s = Sandbox::new();
    let p = policy("seq", "true");
    // 1.2 MB, far above a pipe's 64 KB: a runner that waited before reading would hang.
    let r = s.run(&p, r#"execute("/usr/bin/seq", ["1", "200000"])"#);
    let out = result(&r);
    assert_eq!(out["exit_code"], 0);
    assert_eq!(out["stdout"].as_str().unwrap().len(), 1_288_895);
    assert_eq!(out["truncated"], false);
    let r = s.run_with(
        &p,
        r#"execute("/usr/bin/seq", ["1", "200000"])"#,
        &["--max-string-size", "100000"],
    );
    let out = result(&r);
    assert_eq!(out["exit_code"], 0);
    assert_eq!(out["stdout"].as_str().unwrap().len(), 100_000);
    assert_eq!(out["truncated"], true);
}

#[test]
fn the_time_limit_kills_the_whole_process_group() {
    let s = Sandbox::new();
    let pid_file = s.path("pid");
    let started = Instant::now();
    let r = s.run(
        &policy("dash", "true"),
        &format!(
            r#"execute("/usr/bin/dash", ExecuteOptions().args(["-c", "sleep 30 & echo $! > {pid_file}; sleep 30"]).timeout_ms(500).build())"#
        ),
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("time limit of 500 ms"),
        "{}",
        r.message()
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background sleep was in the group.
    assert_gone(pid);
    // The run's own limit stops the child as well, and it is not left running.
    let r = s.run_with(
        &policy("dash", "true"),
        &format!(r#"execute("/usr/bin/dash", ["-c", "echo $$ > {pid_file}; sleep 30"])"#),
        &["--timeout", "1s"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_gone(pid);
    // A child that writes without pause is stopped at its limit too.
    let started = Instant::now();
    let r = s.run(
        &policy("yes", "true"),
        r#"execute("/usr/bin/yes", ExecuteOptions().timeout_ms(300).build())"#,
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(started.elapsed() < Duration::from_secs(10));
    // A catchable error: the script can go on.
    let r = s.run(
        &policy("sleep", "true"),
        r#"let kind = "ran"; try { execute("/usr/bin/sleep", ExecuteOptions().args(["5"]).timeout_ms(100).build()); } catch (e) { kind = e.kind; } kind"#,
    );
    assert_eq!(r.ok(), "TimedOut");
}

/// Waits up to 5 s for `pid` to be gone (or a zombie about to be reaped).
fn assert_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.contains(") Z ") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} outlived the limit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_handle_api_runs_the_file_it_opened() {
    let s = Sandbox::new();
    let p = format!(
        "{}\npermit(principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource == file_system::File::\"/usr/bin/echo\");",
        policy("echo", "true")
    );
    let r = s.run(
        &p,
        r#"let dir = DirConfig().path("/usr/bin").build().open(OpenDirOptions().build());
           let file = dir.open_file("echo", OpenFileOptions().read(true).build());
           file.execute(ExecuteOptions().args(["hi"]).build()).stdout"#,
    );
    assert_eq!(r.ok(), "hi\n");
}

#[test]
fn bad_input_gives_clear_errors() {
    let s = Sandbox::new();
    let script = s.write("script.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let all = r#"permit(principal, action, resource);"#;
    let cases = [
        (
            r#"execute("/usr/bin/no-such-binary")"#,
            "IoError",
            "no such file",
        ),
        (
            r#"execute("/usr/bin/id", ExecuteOptions().user("no-such-user").build())"#,
            "InvalidArguments",
            "no such user",
        ),
        (
            r#"execute("/usr/bin/id", ExecuteOptions().group("no-such-group").build())"#,
            "InvalidArguments",
            "no such group",
        ),
        (
            r#"execute("/usr/bin/echo", ["a\x00b"])"#,
            "InvalidArguments",
            "NUL",
        ),
        (
            r#"execute("/usr/bin/echo", [42])"#,
            "InvalidArguments",
            "must be a string",
        ),
        (
            r#"execute("/usr/bin")"#,
            "InvalidArguments",
            "not a regular file",
        ),
        (
            &format!(r#"execute("{script}")"#),
            "InvalidArguments",
            "interpreter",
        ),
    ];
    for (call, kind, text) in cases {
        let r = s.run(
            all,
            &format!(
                "let out = \"ran\"; try {{ {call}; }} catch (e) {{ out = e.kind + \": \" + e.message; }} out"
            ),
        );
        let out = r.ok();
        assert!(out.starts_with(kind) && out.contains(text), "{call}: {out}");
    }
}

#[test]
fn the_readmes_execute_policy_permits_exactly_the_call_it_shows() {
    // The README's example, on a binary every host has: the same policy text but the path.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("// Exactly `iptables -L -t nat`")
        .expect("the README's execute example");
    let block = &readme[start..];
    let policy = &block[..block.find("```").unwrap()];
    let policy = format!(
        "{}\npermit(principal, action == file_system::Action::\"open\", resource == file_system::Dir::\"/usr/bin\");",
        policy.replace("/usr/sbin/iptables", "/usr/bin/true")
    );
    let s = Sandbox::new();
    let call = |args: &str, extra: &str| {
        s.run(
            &policy,
            &format!(
                r#"execute("/usr/bin/true", ExecuteOptions().args({args}).env(#{{LANG: "C"}}).user("nobody"){extra}.build()).exit_code"#
            ),
        )
    };
    assert_eq!(call(r#"["-L", ["-t", "nat"]]"#, "").ok(), "0");
    for (args, extra) in [
        (r#"["-L", "-F", ["-t", "nat"]]"#, ""),
        (r#"["-L", ["-t", "nat"], "INPUT"]"#, ""),
        (r#"["-L", ["-t", "nat"], ["-j", "DROP"]]"#, ""),
        (r#"["-L", ["-t", "nat"]]"#, r#".group("root")"#),
        (r#"["-F", ["-t", "nat"]]"#, ""),
    ] {
        let r = call(args, extra);
        assert_eq!(r.code, 4, "{args}{extra}: {:#}", r.json);
    }
}
