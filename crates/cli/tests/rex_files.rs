//! The file commands as AWS Rex defines them: names, arguments, result types and semantics,
//! each checked through the real binary on real files, with the denial each makes without a
//! permit. Where Tollgate is deliberately safer than Rex, the test says so.

mod common;

use common::*;
use serde_json::{json, Value};

/// Runs `script` and returns its result as JSON.
fn eval(s: &Sandbox, policy: &str, script: &str) -> Value {
    let r = s.run(policy, script);
    serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("{e}: {}", r.output()))
}

/// Runs `script`, whose result is a string, and returns it.
fn text(s: &Sandbox, policy: &str, script: &str) -> String {
    s.run(policy, script).ok().to_owned()
}

/// Runs `script`, which must fail with a caught error, and returns `[kind, message]`.
fn caught(s: &Sandbox, policy: &str, call: &str) -> (String, String) {
    let script = format!(
        "let out = (); try {{ {call}; }} catch (e) {{ out = [e.kind.to_string(), e.message]; }} out"
    );
    let v = eval(s, policy, &script);
    let kind = v[0]
        .as_str()
        .unwrap_or_else(|| panic!("{call} did not fail: {v}"));
    (kind.to_owned(), v[1].as_str().unwrap_or("").to_owned())
}

/// Asserts that `script` is denied and that the denial names `action`.
fn assert_denied(s: &Sandbox, policy: &str, script: &str, action: &str) {
    let r = s.run(policy, script);
    assert_eq!(r.code, 4, "{script}: {:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{script}");
    let named = format!("file_system::Action::\"{action}\"");
    assert!(r.message().contains(&named), "{script}: {}", r.message());
}

/// Only `open` below the sandbox: every read is denied.
const OPEN_ONLY: &str = r#"permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");"#;

/// A sandbox with `n.txt` holding `line1` .. `line12`.
fn numbered() -> Sandbox {
    let s = Sandbox::new();
    let text: String = (1..=12).map(|i| format!("line{i}\n")).collect();
    s.write("n.txt", &text);
    s
}

fn lines(range: std::ops::RangeInclusive<u32>) -> Value {
    json!(range.map(|i| format!("line{i}")).collect::<Vec<_>>())
}

#[test]
fn tail_returns_an_array_of_the_last_ten_lines_without_newlines() {
    let s = numbered();
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"let t = tail("{ROOT}/n.txt"); #{ type: type_of(t), lines: t }"#,
    );
    assert_eq!(v["type"], "array");
    assert_eq!(v["lines"], lines(3..=12));
}

#[test]
fn tail_n_positive_is_the_first_lines_and_negative_the_last() {
    let s = numbered();
    let tail = |flags: &str| {
        eval(
            &s,
            READ_IN_ROOT,
            &format!(r#"tail([{flags}], "{{ROOT}}/n.txt")"#),
        )
    };
    assert_eq!(tail("tail::n(3)"), lines(1..=3));
    assert_eq!(tail("tail::n(-3)"), lines(10..=12));
    assert_eq!(tail("tail::n(0)"), json!([]));
}

#[test]
fn tail_from_starts_at_a_line_and_combines_with_n() {
    let s = numbered();
    let tail = |flags: &str| {
        eval(
            &s,
            READ_IN_ROOT,
            &format!(r#"tail([{flags}], "{{ROOT}}/n.txt")"#),
        )
    };
    assert_eq!(tail("tail::from(10)"), lines(10..=12));
    assert_eq!(tail("tail::from(5), tail::n(2)"), lines(5..=6));
    assert_eq!(tail("tail::from(5), tail::n(-2)"), lines(4..=5));
    assert_eq!(tail("tail::from(50)"), json!([]));
    let (kind, _) = caught(&s, READ_IN_ROOT, r#"tail([tail::from(0)], "{ROOT}/n.txt")"#);
    assert_eq!(kind, "InvalidArguments");
}

#[test]
fn tail_range_is_inclusive() {
    let s = numbered();
    let tail = |flags: &str| {
        eval(
            &s,
            READ_IN_ROOT,
            &format!(r#"tail([{flags}], "{{ROOT}}/n.txt")"#),
        )
    };
    assert_eq!(tail("tail::range(3, 5)"), lines(3..=5));
    assert_eq!(tail("tail::range(11, 20)"), lines(11..=12));
    // As Rex reads it: a start of 5 and a count of 4 - 5 + 1 = 0.
    assert_eq!(tail("tail::range(5, 4)"), json!([]));
}

#[test]
fn each_flag_module_has_its_own_flag_type() {
    let s = Sandbox::new();
    let v = eval(
        &s,
        "",
        "[type_of(cat::n), type_of(ls::all), type_of(grep::max_count(1)), type_of(tail::range(1, 2)),
          type_of(wc::l), type_of(sed::g), type_of(write::r), type_of(mkdir::p), type_of(cp::f),
          type_of(mv::v), type_of(rm::r), type_of(glob::r), type_of(du::d(1)), type_of(seq::step(2)),
          tail::n(3).to_string()]",
    );
    assert_eq!(
        v,
        json!([
            "CatFlag",
            "LsFlag",
            "GrepFlag",
            "TailFlag",
            "WcFlag",
            "SedFlag",
            "WriteFlag",
            "MkdirFlag",
            "CpFlag",
            "MvFlag",
            "RmFlag",
            "GlobFlag",
            "DuFlag",
            "SeqFlag",
            "TailFlag"
        ])
    );
}

#[test]
fn a_flag_of_another_command_is_refused() {
    let s = numbered();
    let (kind, message) = caught(&s, READ_IN_ROOT, r#"cat([ls::all], "{ROOT}/n.txt")"#);
    assert_eq!(kind, "InvalidArguments");
    assert!(message.contains("ls::all"), "{message}");
}

#[test]
fn cat_returns_the_text_and_numbers_lines_as_rex_does() {
    let s = Sandbox::new();
    s.write("f.txt", "foo bar\r\nbaz\n");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"[cat("{ROOT}/f.txt"), cat([cat::number], "{ROOT}/f.txt")]"#,
    );
    assert_eq!(
        v,
        json!(["foo bar\r\nbaz\n", "     1\tfoo bar\n     2\tbaz"])
    );
    assert_denied(&s, OPEN_ONLY, r#"cat("{ROOT}/f.txt")"#, "read");
}

#[test]
fn grep_returns_matching_lines_shaped_by_its_flags() {
    let s = Sandbox::new();
    s.write("f.txt", "foo bar foo\nbaz foo\nnothing\n");
    let grep = |flags: &str, pattern: &str| {
        eval(
            &s,
            READ_IN_ROOT,
            &format!(r#"grep([{flags}], "{pattern}", "{{ROOT}}/f.txt")"#),
        )
    };
    assert_eq!(grep("", "fo+"), json!(["foo bar foo", "baz foo"]));
    assert_eq!(grep("grep::c", "foo"), json!(["2"]));
    assert_eq!(grep("grep::v, grep::n", "foo"), json!(["3:nothing"]));
    assert_eq!(
        grep("grep::i, grep::m(1), grep::n", "FOO"),
        json!(["1:foo bar foo"])
    );
    // A cap of 0 or less is no cap.
    assert_eq!(grep("grep::m(0)", "foo"), json!(["foo bar foo", "baz foo"]));
    // Rex's kind for a pattern that does not compile.
    let (kind, _) = caught(&s, READ_IN_ROOT, r#"grep("(", "{ROOT}/f.txt")"#);
    assert_eq!(kind, "ValidationError");
    assert_denied(&s, OPEN_ONLY, r#"grep("foo", "{ROOT}/f.txt")"#, "read");
}

#[test]
fn wc_returns_a_map_of_the_counts_asked_for() {
    let s = Sandbox::new();
    s.write("f.txt", "foo bar foo\nbaz foo\n");
    s.write("x.txt", "x");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"[wc("{ROOT}/f.txt"), wc([wc::l, wc::c], "{ROOT}/f.txt"), wc("{ROOT}/x.txt"), type_of(wc("{ROOT}/x.txt").lines)]"#,
    );
    assert_eq!(
        v,
        json!([
            {"bytes": 20, "lines": 2, "words": 5},
            {"bytes": 20, "lines": 2},
            {"bytes": 1, "lines": 0, "words": 1},
            "i64"
        ])
    );
    assert_denied(&s, OPEN_ONLY, r#"wc("{ROOT}/f.txt")"#, "read");
}

#[test]
fn sed_without_all_replaces_only_the_first_match_in_the_whole_file() {
    let s = Sandbox::new();
    s.write("f.txt", "foo bar foo\nbaz foo\n");
    let sed = |flags: &str, pattern: &str, replacement: &str| {
        text(
            &s,
            READ_IN_ROOT,
            &format!(r#"sed([{flags}], "{pattern}", "{replacement}", "{{ROOT}}/f.txt")"#),
        )
    };
    assert_eq!(sed("", "foo", "X"), "X bar foo\nbaz foo\n");
    assert_eq!(sed("sed::all", "foo", "X"), "X bar X\nbaz X\n");
    assert_eq!(sed("", "foo", "$1"), "$1 bar foo\nbaz foo\n");
    assert_eq!(sed("sed::regex", "o+", "0"), "f0 bar foo\nbaz foo\n");
    assert_eq!(
        sed("sed::regex, sed::g", "(f)(o+)", "$2$1"),
        "oof bar oof\nbaz oof\n"
    );
    // One text, not line by line: a match may span lines, `$` is the end of the text.
    assert_eq!(
        sed("sed::regex, sed::g", "foo\\\\nbaz", "J"),
        "foo bar J foo\n"
    );
    assert_eq!(
        sed("sed::regex, sed::g", "foo$", "J"),
        "foo bar foo\nbaz foo\n"
    );
    assert_eq!(
        sed("sed::regex, sed::g", "(?m)^b", "B"),
        "foo bar foo\nBaz foo\n"
    );
    assert_denied(&s, OPEN_ONLY, r#"sed("a", "b", "{ROOT}/f.txt")"#, "read");
}

#[test]
fn sed_in_place_rewrites_the_file_and_needs_write() {
    let s = Sandbox::new();
    let path = s.write("f.txt", "a a\n");
    assert_denied(
        &s,
        READ_IN_ROOT,
        r#"sed([sed::in_place], "a", "b", "{ROOT}/f.txt")"#,
        "write",
    );
    let v = text(
        &s,
        ALL_IN_ROOT,
        r#"sed([sed::i, sed::g], "a", "b", "{ROOT}/f.txt")"#,
    );
    assert_eq!(v, "b b\n");
    assert_eq!(std::fs::read_to_string(path).unwrap(), "b b\n");
}

#[test]
fn awk_functions_split_fields_and_filter_literally() {
    let s = Sandbox::new();
    s.write("f.csv", "a,1,x\nb,2,y\na,3.5,z\n^a,0,w\n");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"let p = "{ROOT}/f.csv";
           #{ split: awk_split("abc", ""), split_colon: awk_split("a::b", ":"),
              field: awk_field(1, ",", p), filter: awk_filter("^a", p),
              filter_field: awk_filter_field(2, ",", ".", p), sum: awk_sum(2, ",", p),
              sum_type: type_of(awk_sum(2, ",", p)), unique: awk_count_unique(1, ",", p),
              range: awk_filter_range(2, 10, p) }"#,
    );
    assert_eq!(v["split"], json!(["", "a", "b", "c", ""]));
    assert_eq!(v["split_colon"], json!(["a", "", "b"]));
    assert_eq!(v["field"], json!(["a", "b", "a", "^a"]));
    // Filters match text, not regexes.
    assert_eq!(v["filter"], json!(["^a,0,w"]));
    assert_eq!(v["filter_field"], json!(["a,3.5,z"]));
    assert_eq!(v["sum"], json!(6.5));
    assert_eq!(v["sum_type"], "f64");
    assert_eq!(v["unique"], json!({"a": 2, "b": 1, "^a": 1}));
    assert_eq!(v["range"], json!(["b,2,y", "a,3.5,z", "^a,0,w"]));
}

#[test]
fn awk_refuses_field_zero_and_reversed_ranges() {
    let s = Sandbox::new();
    s.write("f.csv", "a,1\n");
    for call in [
        r#"awk_field(0, ",", "{ROOT}/f.csv")"#,
        r#"awk_sum(-1, ",", "{ROOT}/f.csv")"#,
        r#"awk_filter_range(2, 1, "{ROOT}/f.csv")"#,
        r#"awk_filter_range(0, 1, "{ROOT}/f.csv")"#,
    ] {
        let (kind, _) = caught(&s, READ_IN_ROOT, call);
        assert_eq!(kind, "InvalidArguments", "{call}");
    }
    assert_denied(
        &s,
        OPEN_ONLY,
        r#"awk_field(1, ",", "{ROOT}/f.csv")"#,
        "read",
    );
    assert_denied(&s, OPEN_ONLY, r#"awk_filter("a", "{ROOT}/f.csv")"#, "read");
}

#[test]
fn seq_counts_up_by_default_and_down_only_with_a_negative_step() {
    let s = Sandbox::new();
    let v = eval(
        &s,
        "",
        "[seq(1, 4), seq(5, 1), seq([seq::step(-2)], 5, 1), seq([seq::step(3)], 0, 7)]",
    );
    assert_eq!(v, json!([[1, 2, 3, 4], [], [5, 3, 1], [0, 3, 6]]));
    let (kind, _) = caught(&s, "", "seq([seq::step(0)], 5, 1)");
    assert_eq!(kind, "InvalidArguments");
}

#[test]
fn find_files_returns_bare_names_of_files_and_directories() {
    let s = Sandbox::new();
    s.write("d/a.txt", "a");
    s.write("d/.hidden.txt", "h");
    s.write("d/sub/c.txt", "c");
    s.write("d/sub/deep/e.txt", "e");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"#{ flat: find_files("*.txt", "{ROOT}/d"), deep: find_files([glob::r], "*.txt", "{ROOT}/d"),
              all: find_files([glob::recursive], "*", "{ROOT}/d"),
              by_path: find_files([glob::r], "sub/*.txt", "{ROOT}/d") }"#,
    );
    let sorted = |v: &Value| {
        let mut names: Vec<String> = serde_json::from_value(v.clone()).unwrap();
        names.sort();
        names
    };
    assert_eq!(sorted(&v["flat"]), [".hidden.txt", "a.txt"]);
    assert_eq!(
        sorted(&v["deep"]),
        [".hidden.txt", "a.txt", "c.txt", "e.txt"]
    );
    assert_eq!(
        sorted(&v["all"]),
        [".hidden.txt", "a.txt", "c.txt", "deep", "e.txt", "sub"]
    );
    // The glob is matched against names only.
    assert_eq!(v["by_path"], json!([]));
    let (kind, _) = caught(&s, READ_IN_ROOT, r#"find_files("[", "{ROOT}/d")"#);
    assert_eq!(kind, "ValidationError");
    assert_denied(&s, OPEN_ONLY, r#"find_files("*", "{ROOT}/d")"#, "read");
}

#[test]
fn du_reports_each_directory_with_its_size_and_inode_count() {
    let s = Sandbox::new();
    s.write("d/a.txt", "aaaa");
    s.write("d/sub/c.txt", "cc");
    std::fs::create_dir_all(s.path("d/empty")).unwrap();
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"#{ plain: du([du::apparent_size], "{ROOT}/d"),
              files: du([du::apparent_size, du::all_files], "{ROOT}/d"),
              summary: du([du::s, du::apparent_size], "{ROOT}/d"),
              top: du([du::max_depth(0)], "{ROOT}/d") }"#,
    );
    let dir = std::fs::metadata(s.path("d")).unwrap().len() as i64;
    let plain = &v["plain"]["entries"];
    let entry = |entries: &Value, rel: &str| {
        let path = s.path(rel);
        entries
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path.as_str())
            .unwrap_or_else(|| panic!("no {path} in {entries}"))
            .clone()
    };
    assert_eq!(plain.as_array().unwrap().len(), 3);
    assert_eq!(entry(plain, "d/empty")["inode_count"], 1);
    assert_eq!(entry(plain, "d/sub")["inode_count"], 2);
    assert_eq!(entry(plain, "d/sub")["size_bytes"], dir + 2);
    // d, a.txt, empty, sub, c.txt: the walked directory comes last.
    assert_eq!(plain[2]["path"], s.path("d"));
    assert_eq!(plain[2]["inode_count"], 5);
    assert_eq!(plain[2]["size_bytes"], 3 * dir + 6);
    // The totals add up the entries, as Rex adds them.
    assert_eq!(v["plain"]["total_inode_count"], 1 + 2 + 5);
    assert_eq!(
        v["plain"]["total_size_bytes"],
        dir + (dir + 2) + (3 * dir + 6)
    );
    assert_eq!(entry(&v["files"]["entries"], "d/a.txt")["inode_count"], 1);
    assert_eq!(
        entry(&v["files"]["entries"], "d/sub/c.txt")["size_bytes"],
        2
    );
    assert_eq!(v["summary"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(v["summary"]["total_size_bytes"], 3 * dir + 6);
    assert_eq!(v["summary"]["total_inode_count"], 5);
    assert_eq!(v["top"]["entries"].as_array().unwrap().len(), 1);
    assert_denied(&s, OPEN_ONLY, r#"du("{ROOT}/d")"#, "read");
}

#[test]
fn mkdir_of_an_existing_directory_succeeds_and_of_a_file_fails() {
    let s = Sandbox::new();
    s.write("d/f", "x");
    let v = eval(
        &s,
        ALL_IN_ROOT,
        r#"[mkdir("{ROOT}/d"), mkdir([mkdir::p], "{ROOT}/d"), mkdir("{ROOT}/d/new"), mkdir([mkdir::parents], "{ROOT}/x/y/z")]"#,
    );
    assert_eq!(v, json!([null, null, null, null]));
    assert!(exists(&s.path("d/new")) && exists(&s.path("x/y/z")));
    let (_, message) = caught(&s, ALL_IN_ROOT, r#"mkdir("{ROOT}/d/f")"#);
    assert!(message.contains("exists"), "{message}");
    // Rex reports a missing parent as the I/O failure it is.
    let (kind, _) = caught(&s, ALL_IN_ROOT, r#"mkdir("{ROOT}/missing/child")"#);
    assert_eq!(kind, "IoError");
    assert_denied(&s, READ_IN_ROOT, r#"mkdir("{ROOT}/other")"#, "create");
}

#[test]
fn rm_returns_unit_and_removes_an_empty_directory_without_flags() {
    let s = Sandbox::new();
    s.write("f", "x");
    s.write("full/f", "x");
    std::fs::create_dir_all(s.path("empty")).unwrap();
    let v = eval(
        &s,
        ALL_IN_ROOT,
        r#"[type_of(rm("{ROOT}/f")), type_of(rm("{ROOT}/empty")), type_of(rm([rm::r], "{ROOT}/full"))]"#,
    );
    assert_eq!(v, json!(["()", "()", "()"]));
    assert!(!exists(&s.path("f")) && !exists(&s.path("empty")) && !exists(&s.path("full")));
    s.write("full/f", "x");
    let (kind, message) = caught(&s, ALL_IN_ROOT, r#"rm("{ROOT}/full")"#);
    assert_eq!(kind, "DirectoryNotEmpty");
    assert!(message.contains("rm::recursive"), "{message}");
    assert!(exists(&s.path("full/f")));
    assert_denied(&s, READ_IN_ROOT, r#"rm("{ROOT}/full/f")"#, "delete");
}

#[test]
fn rm_recursive_stops_at_a_forbidden_entry_deliberately_unlike_rex() {
    let s = Sandbox::new();
    s.write("tree/keep/held.txt", "x");
    s.write("tree/other.txt", "x");
    let policy = format!(
        "{ALL_IN_ROOT}\nforbid(principal, action == file_system::Action::\"delete\", resource == file_system::File::\"{{ROOT}}/tree/keep/held.txt\");"
    );
    assert_denied(
        &s,
        &policy,
        r#"rm([rm::recursive], "{ROOT}/tree")"#,
        "delete",
    );
    assert!(exists(&s.path("tree/keep/held.txt")) && exists(&s.path("tree/other.txt")));
}

#[test]
fn write_appends_by_default_and_replaces_only_when_asked() {
    let s = Sandbox::new();
    let v = eval(
        &s,
        ALL_IN_ROOT,
        r#"write("{ROOT}/w.txt", "a"); write([write::append], "{ROOT}/w.txt", "b");
           write([write::r], "{ROOT}/r.txt", "old"); write([write::replace], "{ROOT}/r.txt", "c");
           [cat("{ROOT}/w.txt"), cat("{ROOT}/r.txt"), type_of(write("{ROOT}/w.txt", "!"))]"#,
    );
    assert_eq!(v, json!(["ab", "c", "()"]));
    assert_denied(&s, READ_IN_ROOT, r#"write("{ROOT}/n.txt", "x")"#, "create");
}

#[test]
fn appending_needs_no_read_and_never_overwrites_deliberately_unlike_rex() {
    let s = Sandbox::new();
    let path = s.write("log.txt", "first\n");
    // Rex appends by reading the file and writing it back whole; Tollgate opens it to append.
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"create", file_system::Action::"write"], resource in file_system::Dir::"{ROOT}");"#;
    let r = s.run(policy, r#"write("{ROOT}/log.txt", "second\n")"#);
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert_eq!(std::fs::read_to_string(path).unwrap(), "first\nsecond\n");
}

#[test]
fn touch_cp_and_mv_return_unit_and_mv_verbose_logs_the_move() {
    let s = Sandbox::new();
    s.write("a.txt", "content");
    let r = s.run(
        ALL_IN_ROOT,
        r#"[type_of(touch("{ROOT}/t.txt")), type_of(cp("{ROOT}/a.txt", "{ROOT}/b.txt")),
            type_of(mv([mv::verbose], "{ROOT}/b.txt", "{ROOT}/c.txt")), cat("{ROOT}/c.txt")]"#,
    );
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v, json!(["()", "()", "()", "content"]));
    let logs = r.json["logs"].as_array().cloned().unwrap_or_default();
    let moved = format!("Moved from '{}' to '{}'", s.path("b.txt"), s.path("c.txt"));
    assert!(
        logs.iter()
            .any(|l| l["attributes"]["level"] == "INFO"
                && l["attributes"]["message"] == moved.as_str()),
        "{logs:?}"
    );
    assert_denied(&s, READ_IN_ROOT, r#"touch("{ROOT}/u.txt")"#, "create");
    assert_denied(
        &s,
        READ_IN_ROOT,
        r#"cp("{ROOT}/a.txt", "{ROOT}/d.txt")"#,
        "create",
    );
    assert_denied(
        &s,
        READ_IN_ROOT,
        r#"mv("{ROOT}/a.txt", "{ROOT}/e.txt")"#,
        "move",
    );
}

#[test]
fn debug_logs_any_value_and_returns_unit() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        r#"let a = debug("text"); debug(42); debug([1, "x"]); debug(#{k: 1}); debug(IoErrorKind::NotFound);
           debug(tail::n(1)); debug(()); type_of(a)"#,
    );
    assert_eq!(r.ok(), "()");
    let logs: Vec<(String, String)> = r.json["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let a = &l["attributes"];
            (
                a["level"].as_str().unwrap().to_owned(),
                a["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(logs.len(), 7, "{logs:?}");
    assert!(logs.iter().all(|(level, _)| level == "DEBUG"), "{logs:?}");
    assert_eq!(logs[0].1, "text");
    assert_eq!(logs[1].1, "42");
    assert_eq!(logs[2].1, r#"[1, "x"]"#);
}

#[test]
fn ls_returns_a_map_of_names_to_dir_entries() {
    let s = Sandbox::new();
    s.write("d/a.txt", "aaaa");
    s.write("d/.hidden", "h");
    s.write("d/sub/inner.txt", "i");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"let m = ls("{ROOT}/d"); let e = m["a.txt"];
           #{ keys: m.keys(), all: ls([ls::all, ls::long], "{ROOT}/d").keys(),
              object: type_of(e), entry: e.to_map(), text: e.to_string(), name: e.name,
              kind: type_of(e.type()), file: e.type() == EntryType::FILE,
              dir: m["sub"].type() == EntryType::DIR, kind_text: m["sub"].type().to_string(),
              inode: e.inode }"#,
    );
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(s.path("d/a.txt")).unwrap());
    assert_eq!(v["keys"], json!(["a.txt", "sub"]));
    assert_eq!(v["all"], json!([".hidden", "a.txt", "sub"]));
    assert_eq!(v["object"], "rust_safe_io::dir_entry::DirEntry");
    assert_eq!(
        v["entry"],
        json!({"inode": inode, "name": "a.txt", "type": "File"})
    );
    assert_eq!(v["text"], "rust_safe_io::dir_entry::DirEntry");
    assert_eq!(v["name"], "a.txt");
    assert_eq!(v["kind"], "EntryType");
    assert_eq!(v["file"], true);
    assert_eq!(v["dir"], true);
    assert_eq!(v["kind_text"], "Dir");
    assert_eq!(v["inode"], inode);
    assert_denied(&s, OPEN_ONLY, r#"ls("{ROOT}/d")"#, "read");
}

#[test]
fn ls_recursive_is_accepted_and_lists_one_directory_as_in_rex() {
    let s = Sandbox::new();
    s.write("d/a.txt", "a");
    s.write("d/sub/inner.txt", "i");
    let v = eval(
        &s,
        READ_IN_ROOT,
        r#"ls([ls::recursive], "{ROOT}/d").keys()"#,
    );
    assert_eq!(v, json!(["a.txt", "sub"]));
}

/// Every action on every Dir in the sandbox but those `extra` forbids or leaves out.
fn on_dirs(actions: &str, extra: &str) -> String {
    format!(
        "permit(principal, action in [{actions}], resource is file_system::Dir in file_system::Dir::\"{{ROOT}}\");\npermit(principal, action in [{actions}], resource == file_system::Dir::\"{{ROOT}}\");\n{extra}"
    )
}

const OPEN: &str = r#"file_system::Action::"open""#;
const READ: &str = r#"file_system::Action::"read""#;
const STAT: &str = r#"file_system::Action::"stat""#;

#[test]
fn ls_and_find_files_ask_open_and_read_on_each_directory_they_list_as_rex_does() {
    let s = Sandbox::new();
    s.write("d/a.txt", "a");
    s.write("d/sub/c.txt", "c");
    // open + read on the directories is all a listing needs, as in Rex.
    let open_read = on_dirs(&format!("{OPEN}, {READ}"), "");
    let v = eval(
        &s,
        &open_read,
        r#"[ls("{ROOT}/d").keys(), find_files([glob::recursive], "*.txt", "{ROOT}/d")]"#,
    );
    let mut found: Vec<String> = serde_json::from_value(v[1].clone()).unwrap();
    found.sort();
    assert_eq!(v[0], json!(["a.txt", "sub"]));
    assert_eq!(found, ["a.txt", "c.txt"]);
    // A Rex policy that forbids open on a directory keeps ls out of it.
    let no_open_sub = format!(
        "{ALL_IN_ROOT}\nforbid(principal, action == {OPEN}, resource == file_system::Dir::\"{{ROOT}}/d/sub\");"
    );
    assert_denied(&s, &no_open_sub, r#"ls("{ROOT}/d/sub")"#, "open");
    // find_files fails on the directory it may not enter (Rex leaves it out silently).
    assert_denied(
        &s,
        &no_open_sub,
        r#"find_files([glob::recursive], "*.txt", "{ROOT}/d")"#,
        "open",
    );
    // Without recursion it does not enter sub, so nothing is asked of it.
    let v = eval(&s, &no_open_sub, r#"find_files("*", "{ROOT}/d")"#);
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_denied(&s, &on_dirs(READ, ""), r#"ls("{ROOT}/d")"#, "open");
    assert_denied(&s, &on_dirs(OPEN, ""), r#"ls("{ROOT}/d")"#, "read");
}

#[test]
fn du_asks_stat_on_each_directory_and_open_and_stat_on_each_entry_it_measures() {
    let s = Sandbox::new();
    s.write("d/a.txt", "aaaa");
    s.write("d/sub/c.txt", "cc");
    let on_files = |actions: &str| {
        format!(
            "permit(principal, action in [{actions}], resource is file_system::File in file_system::Dir::\"{{ROOT}}\");"
        )
    };
    let dirs = format!("{OPEN}, {READ}, {STAT}");
    let enough = on_dirs(&dirs, &on_files(&format!("{OPEN}, {STAT}")));
    let v = eval(
        &s,
        &enough,
        r#"let d = du([du::apparent_size], "{ROOT}/d"); [d.entries.len(), d.total_inode_count]"#,
    );
    // sub and d; d counts itself, a.txt, sub and c.txt.
    assert_eq!(v[0], 2);
    assert_eq!(v[1], 2 + 4);
    // Without stat on a directory, du is denied, as in Rex.
    assert_denied(
        &s,
        &on_dirs(
            &format!("{OPEN}, {READ}"),
            &on_files(&format!("{OPEN}, {STAT}")),
        ),
        r#"du("{ROOT}/d")"#,
        "stat",
    );
    // Without open or stat on a file it measures, du fails with the denial, deliberately
    // unlike Rex, which leaves the file out and reports a total that is too small.
    assert_denied(
        &s,
        &on_dirs(&dirs, &on_files(STAT)),
        r#"du("{ROOT}/d")"#,
        "open",
    );
    assert_denied(
        &s,
        &on_dirs(&dirs, &on_files(OPEN)),
        r#"du("{ROOT}/d")"#,
        "stat",
    );
    assert_denied(
        &s,
        &on_dirs(&format!("{READ}, {STAT}"), ""),
        r#"du("{ROOT}/d")"#,
        "open",
    );
}

#[test]
fn du_lists_a_symlink_with_all_files_but_adds_it_to_no_total_as_rex_does() {
    let s = Sandbox::new();
    s.write("d/a.txt", "aaaa");
    std::os::unix::fs::symlink("a.txt", s.path("d/ln")).unwrap();
    let v = eval(
        &s,
        ALL_IN_ROOT,
        r#"let d = du([du::apparent_size, du::all_files], "{ROOT}/d");
           d.entries.map(|e| [e.path, e.size_bytes, e.inode_count])"#,
    );
    let dir = std::fs::metadata(s.path("d")).unwrap().len() as i64;
    assert_eq!(
        v,
        json!([
            [s.path("d/a.txt"), 4, 1],
            [s.path("d/ln"), 5, 1],
            [s.path("d"), dir + 4, 2]
        ])
    );
}

#[test]
fn rm_of_a_missing_path_fails_even_with_force_as_in_rex() {
    let s = Sandbox::new();
    for call in [
        r#"rm("{ROOT}/missing")"#,
        r#"rm([rm::force], "{ROOT}/missing")"#,
    ] {
        let (kind, message) = caught(&s, ALL_IN_ROOT, call);
        assert_eq!(kind, "IoError", "{call}");
        assert!(message.contains("no such file"), "{call}: {message}");
    }
    // Whether it exists is told only to whom its removal is permitted.
    assert_denied(
        &s,
        READ_IN_ROOT,
        r#"rm([rm::force], "{ROOT}/missing")"#,
        "delete",
    );
}

#[test]
fn cp_copies_a_file_onto_a_file_only_as_rex_does() {
    let s = Sandbox::new();
    s.write("a.txt", "content");
    s.write("full.txt", "old");
    s.write("empty.txt", "");
    s.write("d/other.txt", "x");
    // A destination that is a directory is an I/O error: nothing goes into it.
    for call in [
        r#"cp("{ROOT}/a.txt", "{ROOT}/d")"#,
        r#"cp([cp::force], "{ROOT}/a.txt", "{ROOT}/d")"#,
    ] {
        let (kind, message) = caught(&s, ALL_IN_ROOT, call);
        assert_eq!(kind, "IoError", "{call}");
        assert!(message.contains("Is a directory"), "{call}: {message}");
    }
    assert!(!exists(&s.path("d/a.txt")));
    // A directory source is not a file.
    let (kind, _) = caught(&s, ALL_IN_ROOT, r#"cp("{ROOT}/d", "{ROOT}/d2")"#);
    assert_eq!(kind, "ValidationError");
    assert!(!exists(&s.path("d2")));
    // Without force, an existing file with content is refused and an empty one copied onto.
    let (kind, _) = caught(&s, ALL_IN_ROOT, r#"cp("{ROOT}/a.txt", "{ROOT}/full.txt")"#);
    assert_eq!(kind, "DestinationFileNotEmptyError");
    assert_eq!(std::fs::read_to_string(s.path("full.txt")).unwrap(), "old");
    let v = text(
        &s,
        ALL_IN_ROOT,
        r#"cp("{ROOT}/a.txt", "{ROOT}/empty.txt"); cat("{ROOT}/empty.txt")"#,
    );
    assert_eq!(v, "content");
    // The destination's decision comes first.
    assert_denied(
        &s,
        READ_IN_ROOT,
        r#"cp("{ROOT}/a.txt", "{ROOT}/d")"#,
        "create",
    );
}

#[test]
fn mv_moves_a_file_and_refuses_a_directory_as_rex_does() {
    let s = Sandbox::new();
    s.write("a.txt", "content");
    s.write("d/other.txt", "x");
    std::fs::create_dir_all(s.path("empty")).unwrap();
    let (kind, message) = caught(&s, ALL_IN_ROOT, r#"mv("{ROOT}/d", "{ROOT}/d2")"#);
    assert_eq!(kind, "IoError");
    assert!(message.contains("Is a directory"), "{message}");
    assert!(exists(&s.path("d/other.txt")) && !exists(&s.path("d2")));
    // Onto a directory, even an empty one, is a FileError: the file does not go into it.
    for dst in ["d", "empty"] {
        let (kind, _) = caught(
            &s,
            ALL_IN_ROOT,
            &format!(r#"mv("{{ROOT}}/a.txt", "{{ROOT}}/{dst}")"#),
        );
        assert_eq!(kind, "FileError", "{dst}");
    }
    assert!(exists(&s.path("a.txt")) && !exists(&s.path("d/a.txt")));
    assert!(!exists(&s.path("empty/a.txt")));
    // Each is refused only after the decision on the move.
    assert_denied(&s, READ_IN_ROOT, r#"mv("{ROOT}/d", "{ROOT}/d2")"#, "move");
}

#[test]
fn a_file_command_refuses_a_path_ending_in_a_symlink_and_follows_one_on_the_way() {
    let s = Sandbox::new();
    s.write("a.txt", "one\ntwo\n");
    s.write("d/c.txt", "c\n");
    std::os::unix::fs::symlink("a.txt", s.path("ln")).unwrap();
    std::os::unix::fs::symlink("d", s.path("lnd")).unwrap();
    std::os::unix::fs::symlink("nowhere.txt", s.path("dangling")).unwrap();
    for call in [
        r#"cat("{ROOT}/ln")"#,
        r#"wc("{ROOT}/ln")"#,
        r#"tail("{ROOT}/ln")"#,
        r#"grep("o", "{ROOT}/ln")"#,
        r#"sed("o", "x", "{ROOT}/ln")"#,
        r#"sed([sed::in_place], "o", "x", "{ROOT}/ln")"#,
        r#"awk_filter("o", "{ROOT}/ln")"#,
        r#"awk_field(1, " ", "{ROOT}/ln")"#,
        r#"write("{ROOT}/ln", "x")"#,
        r#"write([write::replace], "{ROOT}/ln", "x")"#,
        r#"touch("{ROOT}/ln")"#,
        r#"touch("{ROOT}/dangling")"#,
        r#"write("{ROOT}/dangling", "x")"#,
        r#"cp("{ROOT}/ln", "{ROOT}/copy.txt")"#,
        r#"cp([cp::force], "{ROOT}/d/c.txt", "{ROOT}/ln")"#,
        r#"mv("{ROOT}/ln", "{ROOT}/moved")"#,
        r#"rm("{ROOT}/ln")"#,
        r#"rm([rm::recursive], "{ROOT}/lnd")"#,
    ] {
        let (kind, message) = caught(&s, ALL_IN_ROOT, call);
        assert_eq!(kind, "FileError", "{call}: {message}");
        assert!(message.contains("symbolic link"), "{call}: {message}");
    }
    // Nothing was changed or made through a link, and no link was removed.
    assert_eq!(
        std::fs::read_to_string(s.path("a.txt")).unwrap(),
        "one\ntwo\n"
    );
    assert!(!exists(&s.path("nowhere.txt")) && !exists(&s.path("copy.txt")));
    assert!(!exists(&s.path("moved")) && exists(&s.path("d/c.txt")));
    assert!(std::fs::symlink_metadata(s.path("ln")).is_ok());
    assert!(std::fs::symlink_metadata(s.path("lnd")).is_ok());
    // A link among the directories is followed (both paths permitted).
    assert_eq!(text(&s, ALL_IN_ROOT, r#"cat("{ROOT}/lnd/c.txt")"#), "c\n");
    // What the path is is told only to whom the command is permitted.
    assert_denied(&s, OPEN_ONLY, r#"cat("{ROOT}/ln")"#, "read");
    assert_denied(&s, READ_IN_ROOT, r#"touch("{ROOT}/dangling")"#, "create");
}

#[test]
fn reading_a_directory_as_a_file_is_a_validation_error_as_in_rex() {
    let s = Sandbox::new();
    s.write("d/f", "x");
    for call in [
        r#"cat("{ROOT}/d")"#,
        r#"wc("{ROOT}/d")"#,
        r#"tail("{ROOT}/d")"#,
        r#"grep("x", "{ROOT}/d")"#,
    ] {
        let (kind, _) = caught(&s, READ_IN_ROOT, call);
        assert_eq!(kind, "ValidationError", "{call}");
    }
    let (kind, _) = caught(
        &s,
        ALL_IN_ROOT,
        r#"sed([sed::regex], "(", "x", "{ROOT}/d/f")"#,
    );
    assert_eq!(kind, "ValidationError");
}
