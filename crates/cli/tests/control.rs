//! The host owner's kill switch: freeze and thaw every run, list the active ones, kill one.

mod common;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Starts `tollgate run -` with `script` in the background, on the sandbox's audit log and
/// state directory.
fn spawn(s: &Sandbox, policy: &str, script: &str) -> Child {
    let policy_path = s.policy_file(policy);
    let audit = s.audit_dir();
    let mut child = s
        .tollgate(&["run", "-", "--policy", &policy_path, "--audit-log", &audit])
        .args(["--timeout", "30s", "--max-operations", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let script = script.replace("{ROOT}", &s.path(""));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child
}

/// The runs `tollgate runs` lists, once one is there.
fn wait_for_run(s: &Sandbox) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = s.tollgate(&["runs", "--output", "json"]).output().unwrap();
        assert!(out.status.success());
        if let Some(line) = String::from_utf8_lossy(&out.stdout).lines().next() {
            return serde_json::from_str(line).unwrap();
        }
        assert!(Instant::now() < deadline, "the run never showed up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child and returns its exit code and output JSON.
fn finish(child: Child) -> (i32, Value) {
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

fn control(s: &Sandbox, args: &[&str]) -> (bool, String) {
    let audit = s.audit_dir();
    let mut all = args.to_vec();
    if args[0] != "runs" {
        all.extend(["--audit-log", &audit]);
    }
    let out = s.tollgate(&all).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn freeze_denies_every_decision_at_once_in_running_runs_until_thaw() {
    let s = Sandbox::new();
    s.write("f.txt", "x\n");
    let child = spawn(&s, READ_IN_ROOT, r#"loop { cat("{ROOT}/f.txt"); }"#);
    let listed = wait_for_run(&s);
    assert_eq!(listed["pid"], child.id());
    let (ok, err) = control(&s, &["freeze", "--reason", "agent misbehaving"]);
    assert!(ok, "{err}");
    // From the moment the switch is in place (the command first writes its audit record,
    // whose sync a busy disk can slow), the running run is denied within one poll.
    let frozen_at = Instant::now();
    let (code, json) = finish(child);
    assert!(
        frozen_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        frozen_at.elapsed()
    );
    assert_eq!(code, 4, "{json:#}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("frozen"), "{message}");

    let r = s.run(READ_IN_ROOT, r#"cat("{ROOT}/f.txt")"#);
    assert_eq!(r.code, 4, "a new run is frozen too: {:#}", r.json);

    let (ok, err) = control(&s, &["thaw"]);
    assert!(ok, "{err}");
    assert_eq!(s.run(READ_IN_ROOT, r#"cat("{ROOT}/f.txt")"#).ok(), "x\n");

    let records = s.records();
    let controls: Vec<&Value> = records.iter().filter(|r| r["kind"] == "control").collect();
    assert_eq!(controls.len(), 2, "{controls:?}");
    assert_eq!(controls[0]["action"], "freeze");
    assert_eq!(controls[0]["reason"], "agent misbehaving");
    assert_eq!(controls[1]["action"], "thaw");
    assert!(records.iter().any(|r| r["kind"] == "decision"
        && r["decision"] == "deny"
        && r["error"].as_str().is_some_and(|e| e.contains("frozen"))));
}

#[test]
fn kill_stops_one_run_within_a_second_and_both_are_recorded() {
    let s = Sandbox::new();
    let child = spawn(&s, READ_IN_ROOT, "loop { }");
    let listed = wait_for_run(&s);
    let id = listed["run_id"].as_str().unwrap().to_owned();
    assert!(listed["principal"].as_str().unwrap().starts_with("User::"));
    assert_eq!(listed["script_sha256"].as_str().unwrap().len(), 64);
    // `kill` itself fails unless the run is gone within 1 s of the request.
    let (ok, err) = control(&s, &["kill", &id]);
    assert!(ok, "{err}");
    let (code, json) = finish(child);
    assert_eq!(code, 4, "{json:#}");
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tollgate kill"));

    let out = s.tollgate(&["runs", "--output", "json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
    let records = s.records();
    let kill = records
        .iter()
        .find(|r| r["kind"] == "control")
        .expect("the kill is recorded");
    assert_eq!(kill["action"], "kill");
    assert_eq!(kill["target"], id);
    let end = records
        .iter()
        .find(|r| r["kind"] == "run_end" && r["run"] == id)
        .expect("the killed run's end is recorded");
    assert_eq!(end["error_type"], "ACCESS_DENIED_EXCEPTION");

    let (ok, err) = control(&s, &["kill", "no-such-run"]);
    assert!(!ok);
    assert!(err.contains("no active run"), "{err}");
}

#[test]
fn a_thaw_that_cannot_lift_the_switch_is_recorded_as_failed_and_the_host_stays_frozen() {
    let s = Sandbox::new();
    let (ok, err) = control(&s, &["freeze", "--reason", "test"]);
    assert!(ok, "{err}");
    // A directory where the switch file is cannot be removed as a file.
    let frozen = std::path::Path::new(&s.state_dir()).join("frozen");
    std::fs::remove_file(&frozen).unwrap();
    std::fs::create_dir(&frozen).unwrap();
    std::fs::write(frozen.join("x"), "").unwrap();
    let (ok, err) = control(&s, &["thaw"]);
    assert!(!ok);
    assert!(err.contains("frozen"), "{err}");
    let actions: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "control")
        .map(|r| r["action"].clone())
        .collect();
    assert_eq!(actions, ["freeze", "thaw", "thaw_failed"]);
    let r = s.run(READ_IN_ROOT, r#"cat("{ROOT}/x")"#);
    assert!(r.message().contains("frozen"), "{:#}", r.json);
}

#[test]
fn a_file_handle_opened_before_a_freeze_reads_nothing_after_it() {
    let s = Sandbox::new();
    s.write("f.txt", "x\n");
    let script = r#"let dir = DirConfig().path("{ROOT}").build().open(OpenDirOptions().build());
let file = dir.open_file("f.txt", OpenFileOptions().read(true).build());
loop { file.read(); }"#;
    let child = spawn(&s, READ_IN_ROOT, script);
    wait_for_run(&s);
    let (ok, err) = control(&s, &["freeze", "--reason", "test"]);
    assert!(ok, "{err}");
    let (code, json) = finish(child);
    let (ok, err) = control(&s, &["thaw"]);
    assert!(ok, "{err}");
    assert_eq!(code, 4, "{json:#}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frozen"),
        "{json:#}"
    );
}

#[test]
fn kill_ends_a_run_stuck_in_native_code_and_the_end_record_says_killed() {
    let s = Sandbox::new();
    let child = spawn(&s, "", "sleep(80000)");
    let listed = wait_for_run(&s);
    let id = listed["run_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let (ok, err) = control(&s, &["kill", &id]);
    assert!(ok, "{err}");
    let (code, json) = finish(child);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, 4, "{json:#}");
    let ends: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "run_end")
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["ended_by"], "killed");
}

#[test]
fn a_malformed_registry_entry_is_reported_never_a_panic() {
    let s = Sandbox::new();
    let runs = std::path::Path::new(&s.state_dir()).join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let me = std::process::id();
    let entry = |id: &str, sha: &str| {
        serde_json::json!({
            "run_id": id, "pid": me, "principal": "User::\"root\"",
            "script_sha256": sha, "started": "2026-12-02T00:00:00Z"
        })
        .to_string()
    };
    // A well-formed entry of a live process, written as a run would: listed.
    std::fs::write(runs.join("r-good.json"), entry("r-good", &"a".repeat(64))).unwrap();
    let planted = [
        ("garbage.json", "{not json".to_owned()),
        ("typed.json", r#"{"run_id": 7, "pid": "x"}"#.to_owned()),
        ("empty.json", String::new()),
        // Names another run than its file: not how a run registers.
        ("r-other.json", entry("r-elsewhere", &"b".repeat(64))),
        // A digest cut inside a multi-byte character once panicked the listing.
        ("r-wide.json", entry("r-wide", &"é".repeat(20))),
    ];
    for (name, text) in &planted {
        std::fs::write(runs.join(name), text).unwrap();
    }
    for format in ["human", "json"] {
        let out = s.tollgate(&["runs", "--output", format]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_ne!(out.status.code(), Some(0), "{format}: {stdout}{stderr}");
        assert!(out.status.code().is_some(), "killed by a signal: {stderr}");
        assert!(stdout.contains("r-good"), "{format}: {stdout}");
        // The wide digest is a well-formed entry: listed, cut at a character.
        assert!(stdout.contains("r-wide"), "{format}: {stdout}");
        for (name, _) in &planted[..4] {
            assert!(
                stderr.contains(&format!("{name}: not a run entry Tollgate wrote")),
                "{format} {name}: {stderr}"
            );
        }
    }
}
