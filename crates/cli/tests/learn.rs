//! Learning a least-privilege policy from the requests runs made: `run --learn` and
//! `policy learn --from-audit`. The learned policy validates, the trial succeeds under it,
//! what it did not need is denied, and it is never widened to `/`, a top-level directory or
//! Tollgate's own files.

mod common;

use common::*;
use serde_json::Value;

const PERMISSIVE: &str = r#"@id("trial")
permit(principal, action, resource);"#;

const COUNT_ERRORS: &str = r#"
let out = #{};
for name in find_files("*.log", "{ROOT}/logs") {
    out[name] = grep("ERROR", `{ROOT}/logs/${name}`).len();
}
out"#;

fn logs() -> Sandbox {
    let s = Sandbox::new();
    for (name, errors) in [("a.log", 1), ("b.log", 2), ("c.log", 0)] {
        s.write(
            &format!("logs/{name}"),
            &"ERROR x\n".repeat(errors).to_string(),
        );
    }
    s.write("secret.txt", "not for the trial");
    s.write("logs-old/x.log", "ERROR old");
    s
}

/// Where learned files go: outside the sandbox's tree.
fn out(s: &Sandbox, name: &str) -> String {
    s.audit.path().join(name).display().to_string()
}

fn run_file(s: &Sandbox, policy_path: &str, script: &str) -> Run {
    let args: Vec<String> = ["run", "-", "--policy", policy_path, "--no-audit"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    run_binary(&args, &script.replace("{ROOT}", &s.path("")))
}

#[test]
fn a_trial_run_learns_a_policy_under_which_it_succeeds_and_nothing_else_does() {
    let s = logs();
    let learned = out(&s, "learned.cedar");
    let trial = s.run_with(PERMISSIVE, COUNT_ERRORS, &["--learn", &learned]);
    let expected = r#"{"a.log":1,"b.log":2,"c.log":0}"#;
    assert_eq!(trial.ok(), expected);
    assert!(
        trial.stderr.contains("learned 1 statements"),
        "{}",
        trial.stderr
    );
    let text = std::fs::read_to_string(&learned).unwrap();
    // The directory with three entries read is the scope; each statement has an id and
    // names the run that needed it.
    assert!(
        text.contains(&format!(
            "resource in file_system::Dir::\"{}\"",
            s.path("logs")
        )),
        "{text}"
    );
    assert!(text.contains("@id(\"learned-1\")"), "{text}");
    let run_id = s
        .records()
        .into_iter()
        .find(|r| r["kind"] == "run_start")
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(&format!("// Needed by run {run_id}")),
        "{text}"
    );
    assert!(
        !text.contains("\"write\"") && !text.contains("\"delete\""),
        "{text}"
    );
    // It validates, and its cases (from the same requests) pass.
    let (code, check, err) = tollgate_output(&["policy", "check", &learned]);
    assert_eq!(code, 0, "{check}{err}");
    let cases = out(&s, "learned.cases.json");
    let (code, test, err) = tollgate_output(&["policy", "test", &learned, &cases]);
    assert_eq!(code, 0, "{test}{err}");
    let list: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&cases).unwrap()).unwrap();
    assert!(list.iter().any(|c| c["expect"] == "deny"), "{list:#?}");
    assert!(list.iter().filter(|c| c["expect"] == "permit").count() >= 7);
    // The trial succeeds under it; an unrelated path, a sibling directory and a write in the
    // learned directory are denied.
    assert_eq!(run_file(&s, &learned, COUNT_ERRORS).ok(), expected);
    for denied in [
        r#"cat("{ROOT}/secret.txt")"#,
        r#"cat("{ROOT}/logs-old/x.log")"#,
        r#"cat("/etc/passwd")"#,
        r#"write("{ROOT}/logs/new.log", "x")"#,
    ] {
        let r = run_file(&s, &learned, denied);
        assert_eq!(
            r.error_type(),
            "ACCESS_DENIED_EXCEPTION",
            "{denied}: {:#}",
            r.json
        );
    }
}

#[test]
fn learning_from_the_audit_log_takes_only_the_runs_named() {
    let s = logs();
    s.run(PERMISSIVE, COUNT_ERRORS).ok();
    s.run(PERMISSIVE, r#"cat("{ROOT}/secret.txt")"#).ok();
    let runs: Vec<String> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "run_start")
        .map(|r| r["run"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(runs.len(), 2);
    let dir = s.audit_dir();
    let first = out(&s, "first.cedar");
    let (code, said, err) = tollgate_output(&[
        "policy",
        "learn",
        "--from-audit",
        &dir,
        "--run",
        &runs[0],
        "-o",
        &first,
    ]);
    assert_eq!(code, 0, "{said}{err}");
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(!text.contains("secret.txt"), "{text}");
    assert!(
        text.contains(&runs[0]) && !text.contains(&runs[1]),
        "{text}"
    );
    // Every run: both are in.
    let both = out(&s, "both.cedar");
    let (code, _, err) = tollgate_output(&["policy", "learn", "--audit-log", &dir, "-o", &both]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&both).unwrap();
    assert!(
        text.contains(&format!("file_system::File::\"{}\"", s.path("secret.txt"))),
        "{text}"
    );
    // A run the log does not have is an error, and nothing is written.
    let none = out(&s, "none.cedar");
    let (code, _, err) = tollgate_output(&[
        "policy",
        "learn",
        "--from-audit",
        &dir,
        "--run",
        "no-such-run",
        "-o",
        &none,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-run"), "{err}");
    assert!(!exists(&none));
    // An existing file is not replaced without --force.
    let (code, _, err) = tollgate_output(&["policy", "learn", "--from-audit", &dir, "-o", &both]);
    assert_ne!(code, 0);
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = tollgate_output(&[
        "policy",
        "learn",
        "--from-audit",
        &dir,
        "-o",
        &both,
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn never_widened_to_the_root_a_top_level_directory_or_tollgates_own_files() {
    let s = logs();
    // Two files in /etc, two in the root of the sandbox, which also holds the audit log.
    s.write("notes.txt", "n");
    let audit = s.path("audit");
    let script = r#"[cat("/etc/passwd").len(), cat("/etc/hostname").len(),
        cat("{ROOT}/secret.txt").len(), cat("{ROOT}/notes.txt").len()]"#;
    let learned = out(&s, "wide.cedar");
    let r = s.run_with(
        PERMISSIVE,
        script,
        &["--audit-log", &audit, "--learn", &learned],
    );
    r.ok();
    let text = std::fs::read_to_string(&learned).unwrap();
    assert!(
        !text.contains("resource in file_system::Dir::\"/etc\""),
        "{text}"
    );
    assert!(
        !text.contains("resource in file_system::Dir::\"/\""),
        "{text}"
    );
    assert!(
        !text.contains(&format!("resource in file_system::Dir::\"{}\"", s.path(""))),
        "the sandbox root holds the audit log: {text}"
    );
    assert!(
        text.contains("resource == file_system::File::\"/etc/passwd\""),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "resource == file_system::File::\"{}\"",
            s.path("secret.txt")
        )),
        "{text}"
    );
}

#[test]
fn denials_are_learned_only_when_asked_and_never_a_forbid() {
    let s = logs();
    let narrow = r#"@id("logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/logs");
@id("no-c")
forbid(principal, action, resource == file_system::File::"{ROOT}/logs/c.log");"#;
    let script = r#"let r = [];
for f in ["{ROOT}/logs/a.log", "{ROOT}/logs/c.log", "{ROOT}/secret.txt"] {
    try { r.push(cat(f).len()); } catch (e) { r.push(e.kind.to_string()); }
}
r"#;
    s.run(narrow, script).ok();
    let dir = s.audit_dir();
    let plain = out(&s, "plain.cedar");
    let (code, _, err) = tollgate_output(&["policy", "learn", "--from-audit", &dir, "-o", &plain]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(
        !text.contains("secret.txt") && !text.contains("c.log"),
        "{text}"
    );
    let with = out(&s, "with.cedar");
    let (code, _, err) = tollgate_output(&[
        "policy",
        "learn",
        "--from-audit",
        &dir,
        "--include-denied",
        "-o",
        &with,
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&with).unwrap();
    // The request nothing permitted is learned (the run stops at it: `open` on the secret's
    // directory, the first thing reading it asks); the one a forbid denied never is.
    assert!(
        text.contains(&format!(
            "action == file_system::Action::\"open\",\n    resource == file_system::Dir::\"{}\"",
            s.path("")
        )),
        "{text}"
    );
    assert!(!text.contains("c.log"), "{text}");
}

#[test]
fn processes_are_learned_by_type_for_list() {
    let s = logs();
    let learned = out(&s, "procs.cedar");
    s.run_with(PERMISSIVE, "ps().len() > 0", &["--learn", &learned])
        .ok();
    let text = std::fs::read_to_string(&learned).unwrap();
    assert!(
        text.contains("resource is process_system::Process"),
        "{text}"
    );
    assert!(!text.contains("process_system::Process::\""), "{text}");
    let (code, _, err) = tollgate_output(&["policy", "check", &learned]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn learning_needs_the_audit_log() {
    let s = logs();
    let learned = out(&s, "x.cedar");
    let r = s.run_with(PERMISSIVE, "1", &["--no-audit", "--learn", &learned]);
    assert_eq!(r.error_type(), "VALIDATION_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains("--no-audit"), "{}", r.message());
    assert!(!exists(&learned));
}
