//! Checkpoints are published in the background; a failure there still fails closed.

use std::fs;

mod common;

use common::decision;
use tollgate_audit::{checkpoints, init, read_verifier, verify, AuditLog, InitOptions, SyncMode};

fn small_log(dir: &std::path::Path) {
    let options = InitOptions {
        checkpoint_every: 4,
        ..InitOptions::default()
    };
    init(dir, &options).unwrap();
}

#[test]
fn checkpoints_due_during_a_run_are_all_published_by_its_end() {
    let dir = tempfile::tempdir().unwrap();
    small_log(dir.path());
    let log = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    for n in 0..40 {
        log.append("r", decision(n)).unwrap();
    }
    let last = log.checkpoint().unwrap();
    assert_eq!(last.size, 40);
    let verifier = read_verifier(dir.path()).unwrap();
    let notes: Vec<u64> = checkpoints(dir.path(), &verifier)
        .unwrap()
        .iter()
        .map(|(_, cp)| cp.size)
        .collect();
    // All of them in the one checkpoints file, in order.
    assert!(!dir.path().join("checkpoints").exists());
    assert!(notes.windows(2).all(|w| w[0] <= w[1]), "{notes:?}");
    for size in (4..=40).step_by(4) {
        assert!(notes.contains(&size), "no checkpoint at {size}: {notes:?}");
    }
    drop(log);
    verify(dir.path(), &verifier, None).unwrap();
}

#[test]
fn a_checkpoint_that_fails_in_the_background_makes_later_appends_fail() {
    let dir = tempfile::tempdir().unwrap();
    small_log(dir.path());
    let log = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    // Checkpoints can no longer be appended: where their file goes is now a directory.
    fs::create_dir(dir.path().join("checkpoints.notes")).unwrap();
    let mut failure = None;
    for n in 0..1000 {
        if let Err(e) = log.append("r", decision(n)) {
            failure = Some(e.to_string());
            break;
        }
    }
    let failure = failure.expect("appends went on after a checkpoint failed");
    assert!(
        failure.contains("checkpoint could not be published"),
        "{failure}"
    );
    let end = log.checkpoint().unwrap_err().to_string();
    assert!(end.contains("checkpoint could not be published"), "{end}");
}
