//! Several writers on one log: the lock is shared fairly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::decision;
use tollgate_audit::{init, AuditLog, SyncMode};

/// One writer appends without pause; another, appending now and then, must never wait for
/// long. `flock` alone would let the busy writer take the lock back every time it lets go.
#[test]
fn a_busy_writer_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &Default::default()).unwrap();
    // Two handles in one process have two open file descriptions: they exclude each other
    // exactly as two processes do.
    let busy = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    let other = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let busy_thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                busy.append("busy", decision(n)).unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let mut waits = Vec::new();
    for n in 0..50 {
        let start = Instant::now();
        other.append("other", decision(n)).unwrap();
        waits.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    waits.sort();
    stop.store(true, Ordering::Relaxed);
    let busy_appends = busy_thread.join().unwrap();
    assert!(
        busy_appends > 1000,
        "the busy writer appended {busy_appends}"
    );
    // The busy writer holds the lock for a millisecond at a time, then gives way. (Without
    // giving way, the median wait here is hundreds of milliseconds.)
    assert!(
        waits[25] < Duration::from_millis(50),
        "appends waited {:?} for the lock (median)",
        waits[25]
    );
    let report = tollgate_audit::verify(
        dir.path(),
        &tollgate_audit::read_verifier(dir.path()).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(report.records, busy_appends + 50);
}

/// Checkpoints are published outside the lock, so two handles on one log in one process
/// (as the MCP server and a test may have) publish at the same moment: neither may fail.
#[test]
fn two_handles_in_one_process_publish_checkpoints_at_once() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &Default::default()).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let log = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
            std::thread::spawn(move || {
                for n in 0..200 {
                    log.append("r", decision(n)).unwrap();
                    log.checkpoint()
                        .unwrap_or_else(|e| panic!("writer {w}, checkpoint {n}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let report = tollgate_audit::verify(
        dir.path(),
        &tollgate_audit::read_verifier(dir.path()).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(report.records, 400);
}
