//! Appending to and verifying a real log on disk.
//!
//!     cargo bench -p tollgate-audit --bench log
//!
//! Appends 1,000,000 decision records from one process (one append call each, group commit),
//! then verifies the whole log and proves one record.

use std::time::Instant;

use tollgate_audit::{AuditLog, Event, SyncMode};

fn decision(i: u64) -> Event {
    Event::Decision {
        principal: "User::\"ops\"".to_owned(),
        action: "file_system::Action::\"read\"".to_owned(),
        resource_type: "file_system::File".to_owned(),
        resource_id: format!("/var/log/app/{i}.log"),
        decision: "permit".to_owned(),
        policies: vec!["read-app-logs".to_owned()],
        error: None,
        probe: false,
        on_behalf_of: None,
        purpose: None,
        ticket: None,
        labels: None,
    }
}

fn main() {
    let n: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    tollgate_audit::init(&path, &Default::default()).expect("init");
    let log = AuditLog::open(&path, SyncMode::Batch).expect("open");
    let start = Instant::now();
    for i in 0..n {
        log.append("bench", decision(i)).expect("append");
    }
    log.checkpoint().expect("checkpoint");
    let took = start.elapsed().as_secs_f64();
    println!(
        "append {n} records: {took:.2} s, {:.0} records/s, {:.2} us per record",
        n as f64 / took,
        took / n as f64 * 1e6
    );

    let sync_n = 2_000.min(n);
    let log_every = AuditLog::open(&path, SyncMode::Every).expect("open");
    let start = Instant::now();
    for i in 0..sync_n {
        log_every.append("bench", decision(i)).expect("append");
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "append with --audit-sync every: {:.1} us per record ({sync_n} records)",
        took / sync_n as f64 * 1e6
    );
    log_every.checkpoint().expect("checkpoint");

    let verifier = tollgate_audit::read_verifier(&path).expect("verifier");
    let start = Instant::now();
    let report = tollgate_audit::verify(&path, &verifier, None).expect("verify");
    println!(
        "verify {} records: {:.2} s",
        report.records,
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let proof = tollgate_audit::prove(&path, &verifier, n / 3).expect("prove");
    let text = serde_json::to_string(&proof).expect("json");
    if let tollgate_audit::Proof::Inclusion {
        path: hashes,
        tree_size,
        ..
    } = &proof
    {
        println!(
            "inclusion proof for record {} of {tree_size}: {} hashes ({} bytes of hashes, {} bytes as JSON with the record and checkpoint), built in {:.2} s",
            n / 3,
            hashes.len(),
            hashes.len() * 32,
            text.len(),
            start.elapsed().as_secs_f64()
        );
    }
}
