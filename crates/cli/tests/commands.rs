//! The file commands through the real binary: results, flags, and the checks each makes.

mod common;

use common::*;
use serde_json::Value;

fn json(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("{e}: {}", r.output()))
}

fn logs() -> Sandbox {
    let s = Sandbox::new();
    s.write(
        "logs/app.log",
        "INFO start\nERROR disk full\ninfo lower\nERROR net down\nWARN slow\n",
    );
    s.write("logs/data.csv", "alice,10,eu\nbob,5,us\ncarol,7,eu\n");
    s
}

#[test]
fn cat_with_number_flag() {
    let s = logs();
    let r = s.run(
        READ_IN_ROOT,
        r#"cat([cat::number], "{ROOT}/logs/data.csv")"#,
    );
    assert!(r.ok().starts_with("     1\talice,10,eu\n"), "{}", r.ok());
}

#[test]
fn grep_flags_shape_the_result() {
    let s = logs();
    let r = s.run(READ_IN_ROOT, r#"grep("ERROR", "{ROOT}/logs/app.log")"#);
    assert_eq!(
        json(&r),
        serde_json::json!(["ERROR disk full", "ERROR net down"])
    );
    let r = s.run(
        READ_IN_ROOT,
        r#"grep([grep::ignore_case, grep::count], "info", "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(json(&r), serde_json::json!(["2"]));
    let r = s.run(
        READ_IN_ROOT,
        r#"grep([grep::invert, grep::max_count(1)], "ERROR", "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(json(&r), serde_json::json!(["INFO start"]));
}

#[test]
fn tail_default_n_and_range() {
    let s = logs();
    let r = s.run(
        READ_IN_ROOT,
        r#"tail([tail::n(-2)], "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(json(&r), serde_json::json!(["ERROR net down", "WARN slow"]));
    let r = s.run(
        READ_IN_ROOT,
        r#"tail([tail::range(2, 3)], "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(
        json(&r),
        serde_json::json!(["ERROR disk full", "info lower"])
    );
}

#[test]
fn wc_counts_and_selects() {
    let s = logs();
    let r = s.run(READ_IN_ROOT, r#"wc("{ROOT}/logs/app.log")"#);
    assert_eq!(
        json(&r),
        serde_json::json!({"lines": 5, "words": 12, "bytes": 63})
    );
    let r = s.run(READ_IN_ROOT, r#"wc([wc::lines], "{ROOT}/logs/app.log")"#);
    assert_eq!(json(&r), serde_json::json!({"lines": 5}));
}

#[test]
fn sed_replaces_and_in_place_needs_write() {
    let s = logs();
    let r = s.run(
        READ_IN_ROOT,
        r#"sed([sed::all], "ERROR", "E", "{ROOT}/logs/app.log")"#,
    );
    assert!(r.ok().contains("E disk full") && r.ok().contains("E net down"));
    let r = s.run(
        READ_IN_ROOT,
        r#"sed([sed::in_place], "ERROR", "E", "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(r.code, 4, "in-place without write must be denied");
    let r = s.run(
        ALL_IN_ROOT,
        r#"sed([sed::in_place, sed::regex], "(?m)^WARN (.*)$", "W:$1", "{ROOT}/logs/app.log")"#,
    );
    assert_eq!(r.code, 0, "{:#}", r.json);
    let text = std::fs::read_to_string(s.path("logs/app.log")).unwrap();
    assert!(text.contains("W:slow"), "{text}");
}

#[test]
fn awk_commands() {
    let s = logs();
    let csv = "{ROOT}/logs/data.csv";
    let r = s.run(READ_IN_ROOT, &format!(r#"awk_sum(2, ",", "{csv}")"#));
    assert_eq!(r.ok(), "22.0");
    let r = s.run(READ_IN_ROOT, &format!(r#"awk_field(1, ",", "{csv}")"#));
    assert_eq!(json(&r), serde_json::json!(["alice", "bob", "carol"]));
    let r = s.run(
        READ_IN_ROOT,
        &format!(r#"awk_count_unique(3, ",", "{csv}")"#),
    );
    assert_eq!(json(&r), serde_json::json!({"eu": 2, "us": 1}));
    let r = s.run(
        READ_IN_ROOT,
        &format!(r#"awk_filter_field(3, ",", "us", "{csv}")"#),
    );
    assert_eq!(json(&r), serde_json::json!(["bob,5,us"]));
    let r = s.run(READ_IN_ROOT, &format!(r#"awk_filter("carol", "{csv}")"#));
    assert_eq!(json(&r), serde_json::json!(["carol,7,eu"]));
    let r = s.run(READ_IN_ROOT, r#"awk_split("a:b:c", ":")"#);
    assert_eq!(json(&r), serde_json::json!(["a", "b", "c"]));
}

#[test]
fn ls_lists_entries_by_name_with_flags() {
    let s = logs();
    s.write("logs/.hidden", "h");
    s.write("logs/sub/inner.txt", "i");
    let r = s.run(READ_IN_ROOT, r#"ls("{ROOT}/logs")"#);
    let v = json(&r);
    assert_eq!(v["app.log"]["type"], "File");
    assert_eq!(v["sub"]["type"], "Dir");
    assert!(v.get(".hidden").is_none());
    let r = s.run(
        READ_IN_ROOT,
        r#"ls([ls::all, ls::long, ls::recursive], "{ROOT}/logs")"#,
    );
    let v = json(&r);
    assert!(v.get(".hidden").is_some());
    // As in Rex, `ls::recursive` is accepted and lists one directory.
    assert_eq!(v["sub"]["type"], "Dir");
    assert!(v.get("sub/inner.txt").is_none(), "{v:#}");
}

#[test]
fn ls_needs_open_and_read_on_the_directory_and_find_files_on_each_it_walks() {
    let s = logs();
    s.write("logs/private/x.log", "x");
    for action in ["open", "read"] {
        let policy = format!(
            "{READ_IN_ROOT}\nforbid(principal, action == file_system::Action::\"{action}\", resource == file_system::Dir::\"{{ROOT}}/logs/private\");"
        );
        // Listing logs does not enter private.
        let r = s.run(&policy, r#"ls([ls::recursive], "{ROOT}/logs").len()"#);
        assert_eq!(r.code, 0, "{:#}", r.json);
        for script in [
            r#"ls("{ROOT}/logs/private")"#,
            r#"find_files([glob::recursive], "*.log", "{ROOT}/logs")"#,
        ] {
            let r = s.run(&policy, script);
            assert_eq!(r.code, 4, "{script}: {:#}", r.json);
            assert!(
                r.message().contains(&format!("\"{action}\"")),
                "{}",
                r.message()
            );
        }
    }
}

#[test]
fn find_files_matches_names_recursively() {
    let s = logs();
    s.write("logs/old/2024.log", "x");
    let r = s.run(READ_IN_ROOT, r#"find_files("*.log", "{ROOT}/logs")"#);
    assert_eq!(json(&r).as_array().unwrap().len(), 1);
    let r = s.run(
        READ_IN_ROOT,
        r#"find_files([glob::recursive], "*.log", "{ROOT}/logs")"#,
    );
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
}

#[test]
fn du_totals_sizes_and_inodes() {
    let s = logs();
    let r = s.run(
        READ_IN_ROOT,
        r#"du([du::summarize, du::apparent_size], "{ROOT}/logs")"#,
    );
    let v = json(&r);
    assert_eq!(v["total_inode_count"], 3);
    assert!(v["total_size_bytes"].as_i64().unwrap() >= 63 + 32);
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
}

#[test]
fn stat_describes_a_file() {
    let s = logs();
    let r = s.run(READ_IN_ROOT, r#"stat("{ROOT}/logs/data.csv")"#);
    let v = json(&r);
    assert_eq!(v["type"], "file");
    assert_eq!(v["size"], 32);
}

#[test]
fn write_replace_touch_mkdir_cp_mv_rm() {
    let s = Sandbox::new();
    let r = s.run(
        ALL_IN_ROOT,
        r#"
        mkdir([mkdir::parents], "{ROOT}/a/b/c");
        write("{ROOT}/a/b/c/f.txt", "one");
        write([write::replace], "{ROOT}/a/b/c/f.txt", "two");
        touch("{ROOT}/a/empty");
        cp("{ROOT}/a/b/c/f.txt", "{ROOT}/a/copy.txt");
        mv("{ROOT}/a/copy.txt", "{ROOT}/a/moved.txt");
        rm("{ROOT}/a/empty");
        cat("{ROOT}/a/moved.txt")
        "#,
    );
    assert_eq!(r.ok(), "two");
    assert!(!exists(&s.path("a/empty")));
    assert!(!exists(&s.path("a/copy.txt")));
}

#[test]
fn write_is_denied_by_a_read_only_policy_and_creates_nothing() {
    let s = Sandbox::new();
    let r = s.run(READ_IN_ROOT, r#"write("{ROOT}/new.txt", "x")"#);
    assert_eq!(r.code, 4);
    assert!(!exists(&s.path("new.txt")));
}

#[test]
fn cp_refuses_to_overwrite_without_force() {
    let s = Sandbox::new();
    s.write("a", "new");
    s.write("b", "old");
    let r = s.run(ALL_IN_ROOT, r#"cp("{ROOT}/a", "{ROOT}/b")"#);
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert_eq!(std::fs::read_to_string(s.path("b")).unwrap(), "old");
    let r = s.run(ALL_IN_ROOT, r#"cp([cp::force], "{ROOT}/a", "{ROOT}/b")"#);
    assert_eq!(r.code, 0);
    assert_eq!(std::fs::read_to_string(s.path("b")).unwrap(), "new");
}

#[test]
fn mv_checks_move_with_destination_context() {
    let s = Sandbox::new();
    s.write("in/x", "x");
    std::fs::create_dir_all(s.path("archive")).unwrap();
    std::fs::create_dir_all(s.path("elsewhere")).unwrap();
    let policy = r#"
permit(principal, action in [file_system::Action::"open", file_system::Action::"create"], resource in file_system::Dir::"{ROOT}");
permit(principal, action == file_system::Action::"move", resource in file_system::Dir::"{ROOT}/in")
  when { context.destination.parent_path == "{ROOT}/archive" };
"#;
    let r = s.run(policy, r#"mv("{ROOT}/in/x", "{ROOT}/elsewhere/x")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(exists(&s.path("in/x")));
    let r = s.run(
        policy,
        r#"mv([mv::verbose], "{ROOT}/in/x", "{ROOT}/archive/x")"#,
    );
    assert_eq!(r.ok(), "");
    assert!(r.json["logs"][0]["attributes"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("archive/x")));
    assert!(exists(&s.path("archive/x")));
}

#[test]
fn mv_backup_keeps_the_replaced_file() {
    let s = Sandbox::new();
    s.write("a", "new");
    s.write("b", "old");
    let r = s.run(ALL_IN_ROOT, r#"mv([mv::backup], "{ROOT}/a", "{ROOT}/b")"#);
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert_eq!(std::fs::read_to_string(s.path("b")).unwrap(), "new");
    assert_eq!(std::fs::read_to_string(s.path("b~")).unwrap(), "old");
}

#[test]
fn rm_of_directory_needs_recursive_and_a_missing_path_fails_even_with_force() {
    let s = Sandbox::new();
    s.write("d/f", "x");
    let r = s.run(ALL_IN_ROOT, r#"rm("{ROOT}/d")"#);
    assert_eq!(r.code, 5);
    // As in Rex, `rm::force` does not make a missing path succeed.
    let r = s.run(ALL_IN_ROOT, r#"rm([rm::force], "{ROOT}/missing")"#);
    assert_eq!(r.code, 5, "{:#}", r.json);
    let r = s.run(ALL_IN_ROOT, r#"rm([rm::recursive], "{ROOT}/d")"#);
    assert_eq!(r.ok(), "");
    assert!(!exists(&s.path("d")));
}

#[test]
fn mkdir_needs_create_on_each_directory_it_makes() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");
permit(principal, action == file_system::Action::"create", resource == file_system::Dir::"{ROOT}/a");
"#;
    let r = s.run(policy, r#"mkdir([mkdir::parents], "{ROOT}/a/b")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(exists(&s.path("a")), "the permitted parent is made first");
    assert!(!exists(&s.path("a/b")));
}

#[test]
fn seq_counts_with_step() {
    let s = Sandbox::new();
    assert_eq!(s.run("", "seq(1, 4)").ok(), "[1,2,3,4]");
    assert_eq!(s.run("", "seq([seq::step(3)], 0, 7)").ok(), "[0,3,6]");
    assert_eq!(s.run("", "seq(3, 1)").ok(), "[]");
}

#[test]
fn flags_from_another_command_are_refused() {
    let s = logs();
    let r = s.run(READ_IN_ROOT, r#"cat([ls::all], "{ROOT}/logs/app.log")"#);
    assert_eq!(r.code, 5);
    assert!(r.message().contains("cat module"), "{}", r.message());
}
