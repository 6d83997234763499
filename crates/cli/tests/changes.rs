//! Commands that change files, tried as an attacker would: what each must ask the gate for,
//! and what none of them may do whatever it is asked (move a forbidden subtree out from under
//! its forbid, make a setuid copy, replace a file silently, write through a second name,
//! truncate the file it copies, fail a walk on a name, tell what exists before a decision).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;
use serde_json::{json, Value};

/// Everything on the sandbox, but nothing at all on `{ROOT}/app/secret`.
const SECRET_FORBIDDEN: &str = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action, resource in file_system::Dir::"{ROOT}/app/secret");"#;

/// What a script catches from `body`, as `kind: message`, or `none`.
fn caught(body: &str) -> String {
    format!(
        r#"let r = "none"; try {{ {body}; }} catch (e) {{ r = e.kind.to_string() + ": " + e.message; }} r"#
    )
}

#[test]
fn mv_moves_no_directory_so_no_forbidden_subtree_moves_with_one() {
    let s = Sandbox::new();
    s.write("app/secret/key", "hunter2");
    s.write("app/config", "ok");
    std::fs::create_dir_all(s.path("elsewhere")).unwrap();
    // As in Rex, `mv` moves files: a directory is refused, whatever is below it.
    for (src, dst) in [
        ("app", "app2"),
        ("app", "elsewhere/app"),
        ("app/secret", "out"),
    ] {
        let r = s.run(
            SECRET_FORBIDDEN,
            &caught(&format!(r#"mv("{{ROOT}}/{src}", "{{ROOT}}/{dst}")"#)),
        );
        let out = r.ok();
        assert!(
            out.starts_with("IoError: ") || out.starts_with("PermissionDenied: "),
            "{src} -> {dst}: {out}"
        );
        assert_eq!(
            std::fs::read_to_string(s.path("app/secret/key")).unwrap(),
            "hunter2"
        );
        assert!(!exists(&s.path(dst)));
    }
    // Below the forbid, moving a file is denied.
    let r = s.run(
        SECRET_FORBIDDEN,
        r#"mv("{ROOT}/app/secret/key", "{ROOT}/key"); "moved""#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(exists(&s.path("app/secret/key")));
}

#[test]
fn a_legal_hold_below_a_directory_keeps_the_directory_in_place() {
    let s = Sandbox::new();
    s.write("cases/case-7/mail.eml", "From: counsel\n");
    let root = s.path("");
    let labels = s.audit.path().join("labels.json");
    std::fs::write(
        &labels,
        json!({"rules": [{"paths": [format!("{root}/cases/case-7")], "legal_hold": true}]})
            .to_string(),
    )
    .unwrap();
    let cfg = s.config(&json!({ "labels": labels.display().to_string() }));
    let policy = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}");
@id("legal-hold")
forbid(principal, action in [file_system::Action::"write", file_system::Action::"delete",
                             file_system::Action::"move"], resource)
when { resource.labels.legal_hold };"#;
    // The unlabelled parent moves nowhere (mv moves no directory), and removing it is
    // denied at the held evidence below it.
    let r = s.run_with(
        policy,
        &caught(r#"mv("{ROOT}/cases", "{ROOT}/old")"#),
        &["--config", &cfg],
    );
    assert!(r.ok().starts_with("IoError: "), "{:#}", r.json);
    let r = s.run_with(
        policy,
        r#"rm([rm::recursive], "{ROOT}/cases")"#,
        &["--config", &cfg],
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("legal-hold"), "{}", r.message());
    assert!(exists(&s.path("cases/case-7/mail.eml")));
}

#[test]
fn a_preserved_copy_never_becomes_setuid_and_its_mode_needs_chmod() {
    let s = Sandbox::new();
    let src = s.write("tool", "#!/bin/sh\n");
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o6755)).unwrap();
    let all = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read",
    file_system::Action::"stat", file_system::Action::"create", file_system::Action::"write"],
    resource in file_system::Dir::"{ROOT}");"#;
    let r = s.run(
        all,
        r#"cp([cp::preserve], "{ROOT}/tool", "{ROOT}/copy"); "ok""#,
    );
    // Without chmod, preserving the mode is refused, and nothing is made.
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("chmod"), "{}", r.message());
    assert!(!exists(&s.path("copy")));
    let with_chmod = format!(
        "{all}\npermit(principal, action == file_system::Action::\"chmod\", resource in file_system::Dir::\"{{ROOT}}\");"
    );
    s.run(
        &with_chmod,
        r#"cp([cp::preserve], "{ROOT}/tool", "{ROOT}/copy"); "ok""#,
    )
    .ok();
    let mode = std::fs::metadata(s.path("copy")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o755, "the copy is {mode:o}");
    // Forcing over an existing file keeps its mode when chmod is not permitted.
    let existing = s.write("existing", "old");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = s.run(
        all,
        r#"cp([cp::force, cp::preserve], "{ROOT}/tool", "{ROOT}/existing")"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    let meta = std::fs::metadata(&existing).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "old");
}

#[test]
fn a_copy_onto_itself_is_an_error_and_leaves_the_file_whole() {
    let s = Sandbox::new();
    s.write("f", "precious");
    std::fs::create_dir(s.path("d")).unwrap();
    for dst in ["{ROOT}/f", "{ROOT}/./f", "{ROOT}/d/../f", "{ROOT}//f"] {
        let r = s.run(
            ALL_IN_ROOT,
            &format!(r#"cp([cp::force], "{{ROOT}}/f", "{dst}")"#),
        );
        assert_eq!(r.code, 5, "{dst}: {:#}", r.json);
        assert!(r.message().contains("same file"), "{dst}: {}", r.message());
        assert_eq!(std::fs::read_to_string(s.path("f")).unwrap(), "precious");
    }
}

#[test]
fn a_backup_never_replaces_an_existing_backup() {
    let s = Sandbox::new();
    s.write("new", "new");
    s.write("cur", "current");
    s.write("cur~", "the only copy of last week's");
    let r = s.run(
        ALL_IN_ROOT,
        r#"mv([mv::backup], "{ROOT}/new", "{ROOT}/cur")"#,
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(r.message().contains("already exists"), "{}", r.message());
    let read = |p: &str| std::fs::read_to_string(s.path(p)).unwrap();
    assert_eq!(read("cur~"), "the only copy of last week's");
    assert_eq!(read("cur"), "current");
    assert_eq!(read("new"), "new");
}

#[test]
fn nothing_is_written_through_a_file_with_a_second_name() {
    let s = Sandbox::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("passwd");
    std::fs::write(&target, "root:x:0:0\n").unwrap();
    std::fs::hard_link(&target, s.path("link")).unwrap();
    s.write("src", "pwned\n");
    for script in [
        r#"write("{ROOT}/link", "pwned\n")"#,
        r#"write([write::replace], "{ROOT}/link", "pwned\n")"#,
        r#"cp([cp::force], "{ROOT}/src", "{ROOT}/link")"#,
        r#"sed([sed::in_place], "root", "pwned", "{ROOT}/link")"#,
    ] {
        let r = s.run(ALL_IN_ROOT, script);
        assert_ne!(r.code, 0, "{script}: {:#}", r.json);
        assert!(
            r.message().contains("hard links"),
            "{script}: {}",
            r.message()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0\n");
    }
}

#[test]
fn names_that_are_not_utf8_are_listed_escaped_and_never_fail_a_walk() {
    use std::os::unix::ffi::OsStrExt;
    let s = Sandbox::new();
    s.write("tree/ok.txt", "ok");
    let odd = s
        .root()
        .join("tree")
        .join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    std::fs::write(&odd, "x").unwrap();
    std::fs::create_dir(
        s.root()
            .join("tree")
            .join(std::ffi::OsStr::from_bytes(b"dir\xfe")),
    )
    .unwrap();
    let r = s.run(
        ALL_IN_ROOT,
        r#"#{ ls: ls([ls::recursive], "{ROOT}/tree").keys(),
             found: find_files("*", "{ROOT}/tree"),
             du: du("{ROOT}/tree").len() }"#,
    );
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    let listed = out["ls"].to_string();
    assert!(listed.contains(r"bad\\xffname"), "{out:#}");
    assert!(listed.contains(r"dir\\xfe"), "{out:#}");
    assert!(listed.contains("ok.txt"), "{out:#}");
    assert_eq!(out["found"].as_array().unwrap().len(), 3, "{out:#}");
    let r = s.run(ALL_IN_ROOT, r#"rm([rm::recursive], "{ROOT}/tree")"#);
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert!(!exists(&s.path("tree")));
}

#[test]
fn nothing_tells_whether_a_path_exists_before_a_decision_on_it() {
    let s = Sandbox::new();
    s.write("d/there", "x");
    // `open` on the directory only: neither removing nor moving anything in it.
    let policy = r#"permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"{ROOT}/d");"#;
    for call in ["rm", "mv"] {
        let outcome = |name: &str| {
            let script = match call {
                "rm" => format!(r#"rm("{{ROOT}}/d/{name}")"#),
                _ => format!(r#"mv("{{ROOT}}/d/{name}", "{{ROOT}}/d/moved")"#),
            };
            let r = s.run(policy, &script);
            (r.code, r.error_type().to_owned())
        };
        let (there, missing) = (outcome("there"), outcome("missing"));
        assert_eq!(there.0, 4, "{call}: {there:?}");
        assert_eq!(
            there, missing,
            "{call}: existing and missing paths answer alike"
        );
    }
    assert!(exists(&s.path("d/there")));
}
