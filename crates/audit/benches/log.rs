//! Appending to and verifying a real log on disk.
//!
//!     cargo bench -p tollgate-audit --bench log
//!
//! Appends 1,000,000 decision records from one process (one append call each, group commit;
//! the checkpoints that fall due are hashed, tiled and signed on the publisher's thread),
//! then verifies the whole log against its tiles and proves one record. Last, what one
//! script `cat` costs the log, the three decisions it writes with one append, beside one
//! `write(2)` of the lines (which no encoding avoids) and their RFC 6962 leaf hashes (which
//! the publisher computes, off the append path).

use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

use tollgate_audit::tiles::leaf_hash;
use tollgate_audit::{AuditLog, DecisionRef, Event, EventRef, SyncMode};

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
        shadow: None,
        sources: None,
        target: None,
        call: Some("cat".into()),
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
    let appended = start.elapsed().as_secs_f64();
    log.checkpoint().expect("checkpoint");
    let took = start.elapsed().as_secs_f64();
    println!(
        "append {n} records: {appended:.2} s, {:.0} records/s, {:.2} us per record; {took:.2} s until the last checkpoint (every record hashed, tiled and signed)",
        n as f64 / appended,
        appended / n as f64 * 1e6
    );

    // The same, as the gate appends them: each decision borrowed from its entry, not
    // first built as an owned event (the resource's name is still formatted per record).
    let gate_dir = dir.path().join("gate-log");
    tollgate_audit::init(&gate_dir, &Default::default()).expect("init");
    let gate_log = AuditLog::open(&gate_dir, SyncMode::Batch).expect("open");
    let policies = vec!["read-app-logs".to_owned()];
    let mut id = String::new();
    let start = Instant::now();
    for i in 0..n {
        id.clear();
        let _ = write!(id, "/var/log/app/{i}.log");
        let d = EventRef::Decision(DecisionRef {
            principal: "User::\"ops\"",
            action: "file_system::Action::\"read\"",
            resource_type: "file_system::File",
            resource_id: &id,
            decision: "permit",
            policies: &policies,
            error: None,
            probe: false,
            on_behalf_of: None,
            purpose: None,
            ticket: None,
            labels: None,
            shadow: None,
            sources: None,
            target: None,
            call: Some("cat"),
        });
        gate_log.append_all("bench", &[d]).expect("append");
    }
    let appended = start.elapsed().as_secs_f64();
    gate_log.checkpoint().expect("checkpoint");
    println!(
        "append {n} records as the gate does (borrowed): {appended:.2} s, {:.0} records/s, {:.2} us per record",
        n as f64 / appended,
        appended / n as f64 * 1e6
    );
    drop(gate_log);

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

    cat_floor(&path);
}

/// A `cat` of one file under a one-statement policy, as the gate records it: `open` on the
/// directory, `open` and `read` on the file, in one append.
fn cat_decisions(policies: &[String]) -> [EventRef<'_>; 3] {
    let decision = |action, resource_type, resource_id| {
        EventRef::Decision(DecisionRef {
            principal: "User::\"ops\"",
            action,
            resource_type,
            resource_id,
            decision: "permit",
            policies,
            error: None,
            probe: false,
            on_behalf_of: None,
            purpose: None,
            ticket: None,
            labels: None,
            shadow: None,
            sources: None,
            target: None,
            call: Some("cat"),
        })
    };
    [
        decision(
            "file_system::Action::\"open\"",
            "file_system::Dir",
            "/srv/data",
        ),
        decision(
            "file_system::Action::\"open\"",
            "file_system::File",
            "/srv/data/f0.txt",
        ),
        decision(
            "file_system::Action::\"read\"",
            "file_system::File",
            "/srv/data/f0.txt",
        ),
    ]
}

fn cat_floor(path: &std::path::Path) {
    let n = 200_000;
    let policies = vec!["/etc/tollgate/policy.cedar:1".to_owned()];
    let log = AuditLog::open(path, SyncMode::Batch).expect("open");
    let batch = cat_decisions(&policies);
    let start = Instant::now();
    for _ in 0..n {
        log.append_all("18ed3eebeb1fa936-5369", &batch)
            .expect("append");
    }
    let append = start.elapsed().as_secs_f64() / n as f64 * 1e6;
    log.checkpoint().expect("checkpoint");

    // The last three lines the log holds are such a batch.
    let segments = path.join("segments");
    let last = std::fs::read_dir(&segments)
        .expect("segments")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .max()
        .expect("a segment");
    let text = std::fs::read_to_string(last).expect("segment");
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    assert_eq!(lines.len(), 3, "the last segment holds the last batch");
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let joined = lines.iter().map(|l| format!("{l}\n")).collect::<String>();

    let start = Instant::now();
    let mut sink = 0u8;
    for _ in 0..n {
        for line in &lines {
            sink ^= leaf_hash(line.as_bytes())[0];
        }
    }
    let hashing = start.elapsed().as_secs_f64() / n as f64 * 1e6;
    std::hint::black_box(sink);

    let raw = path.join("raw-writes");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw)
        .expect("raw file");
    let start = Instant::now();
    for _ in 0..n {
        file.write_all(joined.as_bytes()).expect("write");
    }
    let write = start.elapsed().as_secs_f64() / n as f64 * 1e6;
    std::fs::remove_file(&raw).expect("remove raw file");
    println!(
        "a cat's three decisions ({bytes} bytes), one append: {append:.2} us; one write(2) of the lines {write:.2} us; their leaf hashes, now on the publisher's thread, {hashing:.2} us ({n} rounds each)"
    );
}
