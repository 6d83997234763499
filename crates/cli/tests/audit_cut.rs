//! A log whose history was cut: a segment, a checkpoint or a key missing, or a new key over
//! an old log. `audit verify` fails and says what is missing and what to do; `tollgate run`
//! never makes a new log, segment or key where a log was.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// `audit verify` on the sandbox's log: its exit code and everything it printed.
fn verify(s: &Sandbox) -> (i32, String) {
    let (code, out, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    (code, format!("{out}{err}"))
}

/// Asserts that `audit verify` fails the way every failed verification does, saying each
/// of `phrases`.
fn assert_verify_fails(s: &Sandbox, phrases: &[&str]) {
    let (code, out) = verify(s);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("tollgate audit: audit log "), "{out}");
    for phrase in phrases {
        assert!(out.contains(phrase), "no {phrase:?} in: {out}");
    }
}

/// A run on the sandbox's log, which must be refused for want of the log, saying each of
/// `phrases`.
fn assert_run_refused(s: &Sandbox, phrases: &[&str]) {
    let r = s.run("", "1");
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains("the audit log is not available"),
        "{}",
        r.message()
    );
    for phrase in phrases {
        assert!(
            r.message().contains(phrase),
            "no {phrase:?} in: {}",
            r.message()
        );
    }
}

fn log_file(s: &Sandbox, rel: &str) -> PathBuf {
    Path::new(&s.audit_dir()).join(rel)
}

/// The signing key the log's config names.
fn key_path(s: &Sandbox) -> PathBuf {
    let config: Value =
        serde_json::from_str(&fs::read_to_string(log_file(s, "config.json")).unwrap()).unwrap();
    PathBuf::from(config["key"].as_str().unwrap())
}

/// The names in one of the log's subdirectories, sorted.
fn names(s: &Sandbox, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(log_file(s, sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A log of three runs over at least four segments, with many checkpoints.
fn rotated_log() -> Sandbox {
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
    assert!(
        names(&s, "segments").len() >= 4,
        "{:?}",
        names(&s, "segments")
    );
    let (code, out) = verify(&s);
    assert_eq!(code, 0, "{out}");
    s
}

/// A log of one run.
fn small_log() -> Sandbox {
    let s = Sandbox::new();
    s.run("", "1").ok();
    s
}

#[test]
fn verify_names_a_deleted_first_segment() {
    let s = rotated_log();
    fs::remove_file(log_file(&s, "segments/000001.jsonl")).unwrap();
    assert_verify_fails(
        &s,
        &[
            "segment 000001.jsonl, where the log begins, is missing",
            "the log's history was cut",
            "restore the segment from a backup",
        ],
    );
}

#[test]
fn verify_names_a_deleted_middle_segment_and_the_record_that_leads_to_it() {
    let s = rotated_log();
    let last_of_first = fs::read_to_string(log_file(&s, "segments/000001.jsonl"))
        .unwrap()
        .lines()
        .count()
        - 1;
    fs::remove_file(log_file(&s, "segments/000002.jsonl")).unwrap();
    assert_verify_fails(
        &s,
        &[
            &format!(
                "segment 000002.jsonl is missing: record {last_of_first} (the last of 000001.jsonl) continues the log in it, so the records from {} on are gone",
                last_of_first + 1
            ),
            "the log's history was cut",
            "restore the segment from a backup",
        ],
    );
}

#[test]
fn a_deleted_last_segment_fails_verify_and_is_never_made_anew_by_a_run() {
    let s = rotated_log();
    let last = names(&s, "segments").pop().unwrap();
    fs::remove_file(log_file(&s, &format!("segments/{last}"))).unwrap();
    assert_verify_fails(
        &s,
        &[
            &format!("segment {last} is missing"),
            "the log's history was cut",
        ],
    );
    assert_run_refused(
        &s,
        &[
            &last,
            "the segment this log continues in is missing",
            "`tollgate audit verify`",
        ],
    );
    assert!(!log_file(&s, &format!("segments/{last}")).exists());
}

#[test]
fn verify_names_a_deleted_newest_checkpoint() {
    let s = rotated_log();
    let mut notes = s.checkpoint_notes();
    let size = |note: &str| -> u64 { note.lines().nth(1).unwrap().parse().unwrap() };
    let newest = size(&notes.pop().unwrap());
    let left = size(notes.last().unwrap());
    s.set_checkpoint_notes(&notes);
    assert_verify_fails(
        &s,
        &[
            &format!("tiled.json says a checkpoint at {newest} records was published"),
            &format!("the newest one left covers {left} records"),
            "the log was rolled back",
            "`--trusted FILE`",
        ],
    );
}

#[test]
fn verify_names_a_deleted_state_when_checkpoints_remain() {
    let s = rotated_log();
    let mut notes = s.checkpoint_notes();
    notes.pop();
    s.set_checkpoint_notes(&notes);
    fs::remove_file(log_file(&s, "tiled.json")).unwrap();
    assert_verify_fails(
        &s,
        &[
            "tiled.json, which names the newest checkpoint, is missing",
            "the newest checkpoints may have been cut off with it",
        ],
    );
}

#[test]
fn verify_names_a_log_whose_runs_ended_but_whose_checkpoints_are_all_gone() {
    let s = small_log();
    fs::remove_file(log_file(&s, "checkpoints.notes")).unwrap();
    fs::remove_file(log_file(&s, "tiled.json")).unwrap();
    let end = s.records().len() - 1;
    assert_verify_fails(
        &s,
        &[
            &format!("record {end} ends run"),
            "yet there is no checkpoint (and no state.json or tiled.json)",
            "the log's checkpoints were deleted",
        ],
    );
}

#[test]
fn verify_names_a_missing_verifier_key() {
    let s = small_log();
    fs::remove_file(log_file(&s, "verifier.vkey")).unwrap();
    assert_verify_fails(
        &s,
        &[
            "its verifier key verifier.vkey is missing",
            "`tollgate audit verify --key FILE`",
        ],
    );
}

#[test]
fn a_run_refuses_a_log_whose_signing_key_is_missing_and_makes_no_new_key() {
    let s = small_log();
    let key = key_path(&s);
    fs::remove_file(&key).unwrap();
    assert_run_refused(
        &s,
        &[
            &format!(
                "its signing key {} (named in config.json) is missing",
                key.display()
            ),
            "`tollgate audit init`",
        ],
    );
    assert!(!key.exists());
    assert_eq!(verify(&s).0, 0, "the log itself is intact");
}

#[test]
fn a_run_refuses_a_signing_key_that_is_not_the_logs() {
    let s = small_log();
    let other = small_log();
    fs::copy(key_path(&other), key_path(&s)).unwrap();
    assert_run_refused(
        &s,
        &[
            "is not the key its checkpoints are verified with",
            "the key was replaced",
            "`tollgate audit init`",
        ],
    );
}

#[test]
fn verify_says_the_key_was_replaced_when_no_checkpoint_verifies_under_it() {
    let s = small_log();
    let other = small_log();
    fs::copy(
        log_file(&other, "verifier.vkey"),
        log_file(&s, "verifier.vkey"),
    )
    .unwrap();
    assert_verify_fails(
        &s,
        &[
            "none of its checkpoints verifies under the verifier key",
            "so the log's key was replaced",
            "was the log made anew over its files?",
            "`--key FILE`",
        ],
    );
}

#[test]
fn a_log_made_anew_over_an_old_ones_files_fails_verify() {
    let s = small_log();
    // A new log elsewhere, whose config and verifier key are put over the old log's.
    let fresh = Sandbox::new();
    let (code, _, err) = fresh.audit(&["init", "--dir", &fresh.audit_dir()]);
    assert_eq!(code, 0, "{err}");
    for file in ["config.json", "verifier.vkey"] {
        fs::copy(log_file(&fresh, file), log_file(&s, file)).unwrap();
    }
    // The new key signs nothing on top of checkpoints it cannot verify: the run fails at
    // its end, and verify names the replaced key.
    let notes = s.checkpoint_notes().len();
    let r = s.run("", "1");
    assert_ne!(r.code, 0, "{:#}", r.json);
    assert_eq!(s.checkpoint_notes().len(), notes);
    assert_verify_fails(
        &s,
        &[
            "none of its checkpoints verifies under the verifier key",
            "so the log's key was replaced",
        ],
    );
}

#[test]
fn audit_init_and_verify_refuse_a_directory_where_an_old_logs_segments_remain() {
    let s = rotated_log();
    for file in [
        "config.json",
        "verifier.vkey",
        "tiled.json",
        "checkpoints.notes",
    ] {
        fs::remove_file(log_file(&s, file)).unwrap();
    }
    fs::remove_dir_all(log_file(&s, "tile")).unwrap();
    let (code, out, err) = s.audit(&["init", "--dir", &s.audit_dir()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("config.json is gone"), "{err}");
    assert!(!log_file(&s, "config.json").exists());
    assert_verify_fails(
        &s,
        &[
            "config.json is gone, so no new log is made over it",
            "run `tollgate audit init`",
        ],
    );
}

#[test]
fn a_run_over_a_log_whose_config_is_gone_refuses_and_names_audit_init() {
    let s = small_log();
    let segment = fs::read_to_string(log_file(&s, "segments/000001.jsonl")).unwrap();
    fs::remove_file(log_file(&s, "config.json")).unwrap();
    assert_run_refused(
        &s,
        &[
            "config.json is gone, so no new log is made over it",
            "move the directory away and run `tollgate audit init`",
        ],
    );
    assert!(!log_file(&s, "config.json").exists());
    assert_eq!(
        fs::read_to_string(log_file(&s, "segments/000001.jsonl")).unwrap(),
        segment
    );
}

#[test]
fn a_run_where_only_the_logs_signing_key_is_left_refuses_until_audit_init() {
    let s = small_log();
    let key = key_path(&s);
    let key_text = fs::read_to_string(&key).unwrap();
    fs::remove_dir_all(s.audit_dir()).unwrap();
    assert_run_refused(
        &s,
        &[
            &format!(
                "there is no log here, but its signing key {} is",
                key.display()
            ),
            &format!("run `tollgate audit init --dir {}`", s.audit_dir()),
        ],
    );
    assert!(!log_file(&s, "config.json").exists());
    // Asked for by name, a new log is made, signed by the key that was left.
    let (code, out, err) = s.audit(&["init", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(key_path(&s), key);
    assert_eq!(fs::read_to_string(&key).unwrap(), key_text);
    s.run("", "1").ok();
    assert_eq!(verify(&s).0, 0);
}
