//! The audit trail end to end: what a run records, verification against every kind of
//! tampering, proofs, fail-closed appends, crashes and concurrent writers.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

fn segment(s: &Sandbox) -> String {
    format!("{}/segments/000001.jsonl", s.audit_dir())
}

fn verify(s: &Sandbox, extra: &[&str]) -> (i32, String) {
    let dir = s.audit_dir();
    let mut args = vec!["verify", "--dir", &dir];
    args.extend_from_slice(extra);
    let (code, out, err) = s.audit(&args);
    (code, format!("{out}{err}"))
}

/// A log with a few runs: reads permitted and denied.
fn busy_log() -> Sandbox {
    let s = Sandbox::new();
    s.write("a.txt", "a");
    for _ in 0..3 {
        let r = s.run(
            READ_IN_ROOT,
            r#"cat("{ROOT}/a.txt"); try { write("{ROOT}/b.txt", "x"); } catch (e) {} 1"#,
        );
        assert_eq!(r.code, 0, "{:#}", r.json);
    }
    s
}

fn rewrite_lines(path: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_run_records_its_start_every_decision_and_its_end() {
    let s = Sandbox::new();
    s.write("a.txt", "a");
    let r = s.run(
        READ_IN_ROOT,
        r#"cat("{ROOT}/a.txt"); try { write("{ROOT}/b.txt", "x"); } catch (e) {} 1"#,
    );
    assert_eq!(r.code, 0);
    let recs = s.records();
    let kinds: Vec<&str> = recs.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_start"));
    assert_eq!(kinds.last(), Some(&"run_end"));
    let start = &recs[0];
    for field in [
        "script_sha256",
        "policy_sha256",
        "schema_version",
        "args_sha256",
        "principal",
        "limits",
        "tollgate_version",
        "host",
        "run",
        "time",
    ] {
        assert!(
            start.get(field).is_some(),
            "run_start lacks {field}: {start}"
        );
    }
    let decisions: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "decision").collect();
    // cat: open on the dir, open and read on the file; write: open on the dir, then a deny.
    let read = decisions
        .iter()
        .find(|d| d["action"] == r#"file_system::Action::"read""#)
        .expect("read decision");
    assert_eq!(read["decision"], "permit");
    assert_eq!(read["resource_type"], "file_system::File");
    assert!(read["resource_id"].as_str().unwrap().ends_with("/a.txt"));
    assert!(!read["policies"].as_array().unwrap().is_empty());
    let deny = decisions
        .iter()
        .find(|d| d["decision"] == "deny")
        .expect("a deny");
    assert!(
        deny["error"].as_str().unwrap().contains("not allowed"),
        "{deny}"
    );
    let end = recs.last().unwrap();
    assert_eq!(end["status"], "SUCCESS");
    assert_eq!(end["denies"], 1);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], i as u64);
    }
    assert_eq!(verify(&s, &[]).0, 0);
}

#[test]
fn verify_accepts_an_untouched_log() {
    let s = busy_log();
    let (code, out) = verify(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok:"), "{out}");
}

#[test]
fn verify_names_an_edited_record() {
    let s = busy_log();
    rewrite_lines(&segment(&s), |l| l[4] = l[4].replace("permit", "deny"));
    let (code, out) = verify(&s, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("record 4 was changed"), "{out}");
}

#[test]
fn verify_detects_an_edit_of_the_last_record_by_its_checkpoint() {
    let s = busy_log();
    rewrite_lines(&segment(&s), |l| {
        let last = l.len() - 1;
        l[last] = l[last].replace("SUCCESS", "ERROR")
    });
    let (code, out) = verify(&s, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("does not match"), "{out}");
}

#[test]
fn verify_detects_deleted_inserted_and_reordered_records() {
    let s = busy_log();
    let original = fs::read_to_string(segment(&s)).unwrap();
    type Edit = Box<dyn Fn(&mut Vec<String>)>;
    let cases: [(&str, &str, Edit); 3] = [
        (
            "deleted",
            "record 3",
            Box::new(|l: &mut Vec<String>| {
                l.remove(3);
            }),
        ),
        (
            "inserted",
            "record 3",
            Box::new(|l: &mut Vec<String>| {
                let copy = l[2].clone();
                l.insert(3, copy);
            }),
        ),
        (
            "reordered",
            "record 2",
            Box::new(|l: &mut Vec<String>| l.swap(2, 3)),
        ),
    ];
    for (what, first_bad, edit) in cases {
        fs::write(segment(&s), &original).unwrap();
        rewrite_lines(&segment(&s), edit);
        let (code, out) = verify(&s, &[]);
        assert_ne!(code, 0, "{what} went unnoticed");
        assert!(out.contains(first_bad), "{what}: {out}");
    }
}

#[test]
fn verify_detects_a_truncated_log() {
    let s = busy_log();
    rewrite_lines(&segment(&s), |l| l.truncate(l.len() - 2));
    let (code, out) = verify(&s, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("removed from the end"), "{out}");
}

#[test]
fn verify_detects_a_forged_or_resigned_checkpoint() {
    let s = busy_log();
    // Sign a checkpoint with a different key under the same name, via another log.
    let other = Sandbox::new();
    other.write("a.txt", "a");
    other.run(READ_IN_ROOT, r#"cat("{ROOT}/a.txt")"#);
    let theirs = other.checkpoint_notes().remove(0);
    let mut ours = s.checkpoint_notes();
    *ours.last_mut().unwrap() = theirs;
    s.set_checkpoint_notes(&ours);
    let (code, out) = verify(&s, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("checkpoint"), "{out}");
}

#[test]
fn verify_detects_a_rollback_against_a_trusted_checkpoint() {
    let s = busy_log();
    let snapshot = tempfile::tempdir().unwrap();
    copy_dir(Path::new(&s.audit_dir()), snapshot.path());
    s.run(READ_IN_ROOT, "1");
    let newest = s.checkpoint_notes().pop().unwrap();
    let trusted = s.write("trusted.note", &newest);
    // Put the old state back, whole and self-consistent.
    fs::remove_dir_all(s.audit_dir()).unwrap();
    copy_dir(snapshot.path(), Path::new(&s.audit_dir()));
    assert_eq!(
        verify(&s, &[]).0,
        0,
        "the old state is consistent on its own"
    );
    let (code, out) = verify(&s, &["--trusted", &trusted]);
    assert_ne!(code, 0);
    assert!(out.contains("rolled back"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn inclusion_and_consistency_proofs_check_without_the_log() {
    let s = busy_log();
    let dir = s.audit_dir();
    let key = format!("{dir}/verifier.vkey");
    let (code, proof, err) = s.audit(&["prove", "5", "--dir", &dir]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&proof).unwrap();
    let size = doc["tree_size"].as_u64().unwrap();
    let path_len = doc["path"].as_array().unwrap().len() as u64;
    assert!(
        path_len <= 64 - (size - 1).leading_zeros() as u64,
        "{path_len} hashes for {size}"
    );
    let file = s.write("proof.json", &proof);
    let (code, out, err) = s.audit(&["check-proof", &file, "--key", &key]);
    assert_eq!(code, 0, "{out}{err}");
    // The same proof for a record that was changed does not hold.
    let forged = proof.replacen("permit", "deny", 1);
    let file = s.write("forged.json", &forged);
    let (code, _, _) = s.audit(&["check-proof", &file, "--key", &key]);
    assert_ne!(code, 0);

    let (code, proof, err) = s.audit(&["consistency", "4", "--dir", &dir]);
    assert_eq!(code, 0, "{err}");
    let file = s.write("consistency.json", &proof);
    let (code, out, err) = s.audit(&["check-proof", &file, "--key", &key]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn show_filters_by_decision_action_and_resource() {
    let s = busy_log();
    let dir = s.audit_dir();
    let (code, out, _) = s.audit(&[
        "show",
        "--dir",
        &dir,
        "--decision",
        "deny",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    let denies: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(denies.len(), 3);
    assert!(denies.iter().all(|d| d["decision"] == "deny"));
    let (_, out, _) = s.audit(&[
        "show", "--dir", &dir, "--action", "read", "--output", "json",
    ]);
    assert_eq!(out.lines().count(), 3);
    let (_, out, _) = s.audit(&["show", "--dir", &dir, "--resource", "/nowhere"]);
    assert_eq!(out.lines().count(), 0);
    let (_, out, _) = s.audit(&[
        "show",
        "--dir",
        &dir,
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2000-01-02T00:00:00Z",
    ]);
    assert_eq!(out.lines().count(), 0);
    let (_, out, _) = s.audit(&["show", "--dir", &dir]);
    assert!(out.contains("permit") && out.contains("start"), "{out}");
}

#[test]
fn export_writes_jsonl_and_rfc5424_syslog() {
    let s = busy_log();
    let dir = s.audit_dir();
    let (code, jsonl, _) = s.audit(&["export", "--dir", &dir]);
    assert_eq!(code, 0);
    assert_eq!(jsonl, fs::read_to_string(segment(&s)).unwrap());
    let (code, syslog, _) = s.audit(&["export", "--dir", &dir, "--format", "syslog"]);
    assert_eq!(code, 0);
    let first = syslog.lines().next().unwrap();
    assert!(first.starts_with("<110>1 "), "{first}");
    assert!(syslog
        .lines()
        .any(|l| l.starts_with("<108>1 ") && l.contains("deny")));
}

#[test]
fn segments_rotate_by_size_and_still_verify_as_one_log() {
    let s = Sandbox::new();
    s.write("a.txt", "a");
    let dir = s.audit_dir();
    let (code, _, err) = s.audit(&[
        "init",
        "--dir",
        &dir,
        "--segment-size",
        "4KiB",
        "--checkpoint-every",
        "7",
    ]);
    assert_eq!(code, 0, "{err}");
    for _ in 0..3 {
        let r = s.run(READ_IN_ROOT, r#"for i in 0..10 { cat("{ROOT}/a.txt"); } 1"#);
        assert_eq!(r.code, 0, "{:#}", r.json);
    }
    let segments = fs::read_dir(format!("{dir}/segments")).unwrap().count();
    assert!(segments > 3, "only {segments} segments");
    // One at each run's end, and those that fell due mid-run: a run asks its supervisor for
    // them without waiting, so two that fall due close together may be one.
    let checkpoints = s.checkpoint_notes().len();
    assert!(checkpoints > 6, "only {checkpoints} checkpoints");
    let (code, out) = verify(&s, &[]);
    assert_eq!(code, 0, "{out}");
    // Each run: its start and end, ten cats of three decisions, and the release of its answer.
    assert_eq!(s.records().len(), 3 * (2 + 30 + 1) + segments - 1);
    // A segment slipped in that the rotation chain does not name is caught.
    fs::write(format!("{dir}/segments/999999.jsonl"), "").unwrap();
    let (code, out) = verify(&s, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("999999"), "{out}");
}

#[test]
fn export_follow_streams_new_records() {
    let s = busy_log();
    let dir = s.audit_dir();
    let mut child = std::process::Command::new(binary())
        .args(["audit", "export", "--dir", &dir, "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // If the records never come, end the follower so the test fails instead of hanging.
    let pid = child.id() as i32;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        // SAFETY: sending a signal to a pid has no memory-safety effects.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let before = s.records().len();
    s.run(READ_IN_ROOT, "1");
    let after = s.records().len();
    assert!(after > before);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    let mut line = String::new();
    while seen < after {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0);
        seen += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("run_end"), "{line}");
}
