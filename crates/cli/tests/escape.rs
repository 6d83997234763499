//! Nothing reaches what the policy does not allow: `..`, symlinks, magic links, NUL bytes,
//! relative paths, dangling links and concurrent swaps.

mod common;

use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;

/// Read access to `{ROOT}/allowed` only; the secret lives in `{ROOT}/secret`.
const ALLOWED_ONLY: &str = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat", file_system::Action::"create", file_system::Action::"write", file_system::Action::"delete"], resource in file_system::Dir::"{ROOT}/allowed");"#;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write("allowed/ok.txt", "fine");
    s.write("secret/key", "TOPSECRET");
    s
}

fn assert_denied(r: &Run) {
    assert_ne!(r.code, 0, "{:#}", r.json);
    assert!(!r.json.to_string().contains("TOPSECRET"), "{:#}", r.json);
}

#[test]
fn dotdot_is_resolved_before_authorization_and_denied() {
    let s = sandbox();
    let r = s.run(ALLOWED_ONLY, r#"cat("{ROOT}/allowed/../secret/key")"#);
    assert_denied(&r);
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/secret"), "{}", r.message());
}

#[test]
fn a_symlink_at_the_end_of_a_path_is_never_read_through() {
    let s = sandbox();
    symlink(s.path("secret/key"), s.path("allowed/link")).unwrap();
    // As in Rex, a file command refuses a path that ends in a link, wherever it points.
    let r = s.run(ALLOWED_ONLY, r#"cat("{ROOT}/allowed/link")"#);
    assert_denied(&r);
    assert!(r.message().contains("symbolic link"), "{}", r.message());
}

#[test]
fn denies_read_through_symlinked_directory_component() {
    let s = sandbox();
    symlink(s.path("secret"), s.path("allowed/dir")).unwrap();
    let r = s.run(ALLOWED_ONLY, r#"cat("{ROOT}/allowed/dir/key")"#);
    assert_denied(&r);
}

#[test]
fn follows_a_symlinked_directory_when_link_and_target_are_both_permitted() {
    let s = sandbox();
    s.write("allowed/real/f.txt", "real");
    symlink(s.path("allowed/real"), s.path("allowed/alias")).unwrap();
    symlink("real", s.path("allowed/relative-alias")).unwrap();
    let r = s.run(
        ALLOWED_ONLY,
        r#"cat("{ROOT}/allowed/alias/f.txt") + cat("{ROOT}/allowed/relative-alias/f.txt")"#,
    );
    assert_eq!(r.ok(), "realreal");
}

#[test]
fn magic_links_under_proc_do_not_escape() {
    let s = sandbox();
    let policy = format!(
        "{ALLOWED_ONLY}\npermit(principal, action, resource in file_system::Dir::\"/proc\");"
    );
    let r = s.run(&policy, r#"cat("/proc/self/root{ROOT}/secret/key")"#);
    assert_denied(&r);
    let r = s.run(&policy, r#"cat("/proc/thread-self/root{ROOT}/secret/key")"#);
    assert_denied(&r);
}

#[test]
fn nul_bytes_and_relative_paths_are_refused() {
    let s = sandbox();
    let r = s.run(
        ALLOWED_ONLY,
        r#"cat("{ROOT}/allowed/ok.txt\x00../../secret/key")"#,
    );
    assert_denied(&r);
    assert!(r.message().contains("NUL"), "{}", r.message());
    let r = s.run(ALLOWED_ONLY, r#"cat("allowed/ok.txt")"#);
    assert_denied(&r);
    assert!(r.message().contains("relative"), "{}", r.message());
}

#[test]
fn nothing_is_created_through_a_dangling_symlink() {
    let s = sandbox();
    let target = s.path("secret/planted");
    symlink(&target, s.path("allowed/dangling")).unwrap();
    for script in [
        r#"write("{ROOT}/allowed/dangling", "x")"#,
        r#"touch("{ROOT}/allowed/dangling")"#,
        r#"cp("{ROOT}/allowed/ok.txt", "{ROOT}/allowed/dangling")"#,
    ] {
        let r = s.run(ALLOWED_ONLY, script);
        assert_ne!(r.code, 0, "{script}: {:#}", r.json);
        assert!(!exists(&target), "{script} created the link's target");
    }
}

#[test]
fn walks_never_follow_symlinks() {
    let s = sandbox();
    std::fs::create_dir(s.path("allowed/tree")).unwrap();
    symlink(s.path("secret"), s.path("allowed/tree/escape")).unwrap();
    let ls = s.run(ALLOWED_ONLY, r#"ls([ls::all], "{ROOT}/allowed/tree")"#);
    let listing = ls.ok().to_owned();
    assert!(
        listing.contains("escape") && !listing.contains("key"),
        "{listing}"
    );
    let find = s.run(
        ALLOWED_ONLY,
        r#"find_files([glob::recursive], "*", "{ROOT}/allowed")"#,
    );
    assert!(!find.ok().contains("key"), "{}", find.ok());
    let du = s.run(
        ALLOWED_ONLY,
        r#"du([du::all_files, du::apparent_size], "{ROOT}/allowed")"#,
    );
    assert!(!du.ok().contains("key"), "{}", du.ok());
    let rm = s.run(
        ALLOWED_ONLY,
        r#"rm([rm::recursive], "{ROOT}/allowed/tree")"#,
    );
    assert_eq!(rm.code, 0, "{:#}", rm.json);
    assert!(exists(&s.path("secret/key")), "rm -r followed a symlink");
}

#[test]
fn rm_recursive_checks_every_entry_and_leaves_the_tree_whole_on_denial() {
    let s = Sandbox::new();
    s.write("tree/a.txt", "a");
    s.write("tree/sub/b.txt", "b");
    s.write("tree/sub/keep/c.txt", "c");
    let policy = format!(
        "{ALL_IN_ROOT}\nforbid(principal, action == file_system::Action::\"delete\", resource == file_system::File::\"{{ROOT}}/tree/sub/keep/c.txt\");"
    );
    let r = s.run(&policy, r#"rm([rm::recursive], "{ROOT}/tree")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    for f in ["tree/a.txt", "tree/sub/b.txt", "tree/sub/keep/c.txt"] {
        assert!(exists(&s.path(f)), "{f} was deleted before the denial");
    }
}

#[test]
fn append_needs_no_read_and_never_overwrites() {
    let s = Sandbox::new();
    let log = s.write("out/app.log", "line1\n");
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"create", file_system::Action::"write"], resource in file_system::Dir::"{ROOT}/out");"#;
    let r = s.run(
        policy,
        &format!(r#"write("{log}", "line2\n"); write([write::append], "{log}", "line3\n")"#),
    );
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "line1\nline2\nline3\n"
    );
    let r = s.run(policy, &format!(r#"cat("{log}")"#));
    assert_eq!(r.code, 4, "reading needs read permission");
}

/// Another thread swaps a path between a real file (inside the allowed dir) and a symlink
/// to the secret, thousands of times, while the script reads it in a loop. Every read
/// must return the allowed content or fail; never the secret.
#[test]
fn concurrent_file_symlink_swaps_never_reveal_the_target() {
    race(false);
}

/// The same, swapping a directory component between a real directory and a symlink.
#[test]
fn concurrent_directory_symlink_swaps_never_reveal_the_target() {
    race(true);
}

fn race(swap_directory: bool) {
    let s = sandbox();
    let stop = Arc::new(AtomicBool::new(false));
    // `victim` starts as a real file or directory inside the allowed dir; `other` is a
    // symlink to the secret. The swapper exchanges the two names atomically, so the victim
    // path flips between the real object and the link.
    let victim = s.path("allowed/v");
    let other = s.path("allowed/other");
    if swap_directory {
        s.write("allowed/v/key", "fine");
        symlink(s.path("secret"), &other).unwrap();
    } else {
        s.write("allowed/v", "fine");
        symlink(s.path("secret/key"), &other).unwrap();
    }
    let swapper = {
        let stop = Arc::clone(&stop);
        let a = std::ffi::CString::new(victim.clone()).unwrap();
        let b = std::ffi::CString::new(other.clone()).unwrap();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: two valid NUL-terminated paths; RENAME_EXCHANGE swaps them atomically.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(r, 0, "renameat2 failed");
                swaps += 1;
            }
            swaps
        })
    };
    let read = if swap_directory {
        format!("{victim}/key")
    } else {
        victim.clone()
    };
    let script = format!(
        r#"let ok = 0; let failed = 0;
           for i in 0..5000 {{
               try {{ let t = cat("{read}"); if t == "TOPSECRET" {{ return "LEAK"; }} ok += 1; }}
               catch (e) {{ failed += 1; }}
           }}
           `${{ok}} ${{failed}}`"#
    );
    let r = s.run(ALLOWED_ONLY, &script);
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps >= 1000, "only {swaps} swaps happened");
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert!(!r.json.to_string().contains("TOPSECRET"), "{:#}", r.json);
    assert_ne!(r.output(), "LEAK");
    // Both outcomes must have occurred, or the race did not race.
    let counts: Vec<u64> = r.output().split(' ').map(|n| n.parse().unwrap()).collect();
    assert!(
        counts[0] > 0 && counts[1] > 0,
        "reads ok/failed: {counts:?}"
    );
}

#[test]
fn fifos_are_refused_without_blocking() {
    let s = sandbox();
    let fifo = std::ffi::CString::new(s.path("allowed/pipe")).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let start = std::time::Instant::now();
    for script in [
        r#"cat("{ROOT}/allowed/pipe")"#,
        r#"write("{ROOT}/allowed/pipe", "x")"#,
    ] {
        let r = s.run_with(ALLOWED_ONLY, script, &["--timeout", "20s"]);
        assert_eq!(r.code, 5, "{script}: {:#}", r.json);
        assert!(
            r.message().contains("not a regular file") || r.message().contains("No such device"),
            "{}",
            r.message()
        );
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
