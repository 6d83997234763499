//! Runaway scripts stop with RESOURCE_LIMIT_EXCEEDED, and the host's own escape hatches
//! (eval, import) are not there.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn infinite_loop_stops_at_the_time_limit() {
    let s = Sandbox::new();
    let start = Instant::now();
    let r = s.run_with("", "loop {}", &["--timeout", "1s", "--max-operations", "0"]);
    let took = start.elapsed();
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED");
    assert!(r.message().contains("--timeout"), "{}", r.message());
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn operation_limit_stops_a_busy_script() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        "let x = 0; loop { x += 1; }",
        &["--max-operations", "10000"],
    );
    assert_eq!(r.code, 6);
    assert!(r.message().contains("--max-operations"), "{}", r.message());
}

#[test]
fn doubling_string_bomb_stops_under_the_memory_cap() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"let s = "x"; loop { s += s; }"#,
        &["--max-memory", "128MiB", "--max-string-size", "64MiB"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED");
    assert!(
        r.max_rss_kib < (128 + 64) * 1024,
        "peak RSS {} KiB",
        r.max_rss_kib
    );
}

#[test]
fn many_large_strings_stop_at_the_memory_cap() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"let s = "x"; for i in 0..23 { s += s; } let keep = []; loop { keep.push(s + "y"); }"#,
        &["--max-memory", "128MiB", "--max-string-size", "16MiB"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert!(
        r.max_rss_kib < (128 + 64) * 1024,
        "peak RSS {} KiB",
        r.max_rss_kib
    );
}

#[test]
fn deep_recursion_is_a_clean_error() {
    let s = Sandbox::new();
    let r = s.run("", "fn f(n) { f(n + 1) } f(0)");
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert!(r.message().contains("--max-call-depth"), "{}", r.message());
}

#[test]
fn deeply_nested_expression_is_refused() {
    let s = Sandbox::new();
    let script = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    let r = s.run("", &script);
    assert_ne!(r.code, 0);
    assert!(r.code == 3 || r.code == 6, "{:#}", r.json);
}

#[test]
fn huge_result_is_refused_not_written() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"let s = "x"; for i in 0..20 { s += s; } s"#,
        &["--max-output", "64KiB"],
    );
    assert_eq!(r.code, 6);
    assert!(r.message().contains("--max-output"));
    assert!(r.json.to_string().len() < 64 * 1024);
}

#[test]
fn array_and_map_size_limits_apply() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        "let a = []; loop { a.push(1); }",
        &["--max-array-size", "1000"],
    );
    assert_eq!(r.code, 6);
    let r = s.run_with(
        "",
        "let m = #{}; for i in 0..2000 { m[`k${i}`] = i; } m",
        &["--max-map-size", "1000"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert!(r.message().contains("map"), "{}", r.message());
}

#[test]
fn eval_is_unavailable() {
    let s = Sandbox::new();
    let r = s.run("", r#"eval("40 + 2")"#);
    assert_ne!(r.code, 0);
    assert_ne!(r.output(), "42");
}

#[test]
fn import_of_modules_from_disk_is_unavailable() {
    let s = Sandbox::new();
    s.write("m.rhai", "export const X = 1;");
    let r = s.run(ALL_IN_ROOT, r#"import "{ROOT}/m" as m; m::X"#);
    assert_ne!(r.code, 0, "{:#}", r.json);
}

#[test]
fn cat_of_a_file_above_the_string_limit_is_refused() {
    let s = Sandbox::new();
    s.write("big.txt", &"x".repeat(2 << 20));
    let r = s.run_with(
        READ_IN_ROOT,
        r#"cat("{ROOT}/big.txt")"#,
        &["--max-string-size", "1MiB"],
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
}
