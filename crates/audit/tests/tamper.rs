//! What `verify` names when a log was tampered with, in each format: an edited, removed,
//! inserted or reordered record, a changed or missing tile, a forged checkpoint and a
//! rollback; and that a log of format 1 still verifies and proves, before and after the
//! writer that opens it upgrades it.

use std::fs;
use std::path::Path;

mod common;

use common::decision;
use tollgate_audit::checkpoint::{Checkpoint, SigningKey};
use tollgate_audit::tiles::{empty_root, leaf_hash, Hash};
use tollgate_audit::{
    check_proof, consistency, default_key_path, init, prove, read_config, read_verifier, verify,
    AuditLog, InitOptions, Record, SyncMode,
};

const RECORDS: u64 = 600;

fn segment(dir: &Path) -> std::path::PathBuf {
    dir.join("segments/000001.jsonl")
}

fn lines(dir: &Path) -> Vec<String> {
    fs::read_to_string(segment(dir))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(dir: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    fs::write(segment(dir), text).unwrap();
}

fn options() -> InitOptions {
    InitOptions {
        checkpoint_every: 100,
        ..InitOptions::default()
    }
}

/// A log of this version with `RECORDS` records, all checkpointed.
fn new_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &options()).unwrap();
    let log = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    for n in 0..RECORDS {
        log.append("r", decision(n)).unwrap();
    }
    assert_eq!(log.checkpoint().unwrap().size, RECORDS);
    dir
}

fn verify_err(dir: &Path) -> String {
    let verifier = read_verifier(dir).unwrap();
    verify(dir, &verifier, None).unwrap_err().to_string()
}

fn assert_names(dir: &Path, expected: &str) {
    let err = verify_err(dir);
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
}

/// Record `index`'s line with its resource changed (and its sequence number kept).
fn edit(dir: &Path, index: usize) {
    let mut all = lines(dir);
    assert!(all[index].contains(&format!("/tmp/f{index}\"")));
    all[index] = all[index].replace(&format!("/tmp/f{index}\""), "/tmp/elsewhere\"");
    write_lines(dir, &all);
}

fn swap(dir: &Path, a: usize, b: usize, renumber: bool) {
    let mut all = lines(dir);
    all.swap(a, b);
    if renumber {
        for i in [a, b] {
            let mut r = Record::parse(&all[i]).unwrap();
            r.seq = i as u64;
            all[i] = r.to_line();
        }
    }
    write_lines(dir, &all);
}

fn remove(dir: &Path, index: usize) {
    let mut all = lines(dir);
    all.remove(index);
    write_lines(dir, &all);
}

fn insert_copy(dir: &Path, of: usize, at: usize) {
    let mut all = lines(dir);
    let copy = all[of].clone();
    all.insert(at, copy);
    write_lines(dir, &all);
}

/// The checkpoints file's notes, with where each starts.
fn notes(dir: &Path) -> (String, Vec<usize>) {
    let text = fs::read_to_string(dir.join("checkpoints.notes")).unwrap();
    let mut starts = vec![0];
    let mut at = 0;
    while let Some(blank) = text[at..].find("\n\n") {
        let sig = at + blank + 2;
        let end = sig + text[sig..].find('\n').unwrap() + 1;
        if end < text.len() {
            starts.push(end);
        }
        at = end;
    }
    (text, starts)
}

#[test]
fn a_new_log_keeps_no_prev_hashes_one_checkpoints_file_and_one_partial_tile_a_level() {
    let dir = new_log();
    let d = dir.path();
    assert_eq!(read_config(d).unwrap().format, 2);
    assert!(lines(d).iter().all(|l| !l.contains("\"prev\"")));
    assert!(!d.join("checkpoints").exists());
    assert!(!d.join("state.json").exists());
    let (_, starts) = notes(d);
    assert_eq!(starts.len(), 6, "checkpoints at 100, 200, ..., 600");
    assert!(d.join("tile/0/000").is_file());
    assert!(d.join("tile/0/001").is_file());
    let partials: Vec<_> = fs::read_dir(d.join("tile/0/002.p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(partials, ["88"]);
    let report = verify(d, &read_verifier(d).unwrap(), None).unwrap();
    assert_eq!((report.records, report.unsigned_tail), (RECORDS, 0));
}

#[test]
fn an_edited_record_is_named_by_the_tiles() {
    let dir = new_log();
    edit(dir.path(), 300);
    assert_names(dir.path(), "record 300 was changed");
}

#[test]
fn an_edited_record_in_the_partial_tile_is_named() {
    let dir = new_log();
    edit(dir.path(), 590);
    assert_names(dir.path(), "record 590 was changed");
}

#[test]
fn a_removed_record_is_named() {
    let dir = new_log();
    remove(dir.path(), 200);
    assert_names(dir.path(), "record 200 has sequence number 201");
}

#[test]
fn an_inserted_record_is_named() {
    let dir = new_log();
    insert_copy(dir.path(), 100, 101);
    assert_names(dir.path(), "record 101 has sequence number 100");
}

#[test]
fn reordered_records_are_named() {
    let dir = new_log();
    swap(dir.path(), 50, 51, false);
    assert_names(dir.path(), "record 50 has sequence number 51");
}

#[test]
fn reordered_and_renumbered_records_are_named_by_the_tiles() {
    let dir = new_log();
    swap(dir.path(), 50, 51, true);
    assert_names(dir.path(), "record 50 was changed");
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 1;
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_changed_full_tile_is_named() {
    let dir = new_log();
    flip_byte(&dir.path().join("tile/0/001"), 32 * 7);
    assert_names(
        dir.path(),
        "tile tile/0/001 does not hold the hashes of the records",
    );
}

#[test]
fn a_changed_partial_tile_is_named() {
    let dir = new_log();
    flip_byte(&dir.path().join("tile/0/002.p/88"), 5);
    assert_names(dir.path(), "tile tile/0/002.p/88 does not hold the hashes");
}

#[test]
fn a_missing_tile_is_named() {
    let dir = new_log();
    fs::remove_file(dir.path().join("tile/0/000")).unwrap();
    assert_names(dir.path(), "tile tile/0/000 is missing");
}

#[test]
fn a_record_and_its_tile_both_changed_are_told_apart_from_either() {
    let dir = new_log();
    let d = dir.path();
    edit(d, 10);
    let line = lines(d)[10].clone();
    let tile = d.join("tile/0/000");
    let mut bytes = fs::read(&tile).unwrap();
    bytes[320..352].copy_from_slice(&leaf_hash(line.as_bytes()));
    fs::write(&tile, bytes).unwrap();
    assert_names(d, "were both changed");
}

#[test]
fn a_forged_checkpoint_is_named() {
    let dir = new_log();
    let d = dir.path();
    let (text, starts) = notes(d);
    let last = *starts.last().unwrap();
    let forged = format!(
        "{}{}",
        &text[..last],
        text[last..].replacen("\n600\n", "\n601\n", 1)
    );
    fs::write(d.join("checkpoints.notes"), forged).unwrap();
    assert_names(d, "forged or re-signed");
}

#[test]
fn a_log_rolled_back_by_cutting_its_newest_checkpoint_is_named() {
    let dir = new_log();
    let d = dir.path();
    let (text, starts) = notes(d);
    fs::write(
        d.join("checkpoints.notes"),
        &text[..*starts.last().unwrap()],
    )
    .unwrap();
    assert_names(d, "the log was rolled back");
}

#[test]
fn a_log_rolled_back_with_its_records_is_named() {
    let dir = new_log();
    let d = dir.path();
    let (text, starts) = notes(d);
    fs::write(d.join("checkpoints.notes"), &text[..starts[5]]).unwrap();
    let all = lines(d);
    write_lines(d, &all[..500]);
    assert_names(d, "the log was rolled back");
}

#[test]
fn an_older_checkpoint_appended_after_newer_ones_is_named() {
    let dir = new_log();
    let d = dir.path();
    let (text, starts) = notes(d);
    let replayed = format!("{text}{}", &text[starts[1]..starts[2]]);
    fs::write(d.join("checkpoints.notes"), replayed).unwrap();
    assert_names(d, "an older checkpoint was appended after a newer one");
}

#[test]
fn proofs_from_the_tiles_check_and_a_changed_record_does_not() {
    let dir = new_log();
    let d = dir.path();
    let verifier = read_verifier(d).unwrap();
    let proof = prove(d, &verifier, 300).unwrap();
    assert_eq!(check_proof(&proof, &verifier, None).unwrap().size, RECORDS);
    let tollgate_audit::Proof::Inclusion {
        index,
        tree_size,
        record,
        path,
        checkpoint,
    } = proof
    else {
        panic!("an inclusion proof")
    };
    let changed = tollgate_audit::Proof::Inclusion {
        index,
        tree_size,
        record: record.replace("/tmp/f300", "/tmp/f301"),
        path,
        checkpoint,
    };
    assert!(check_proof(&changed, &verifier, None).is_err());
    for old in [0, 1, 100, 257, RECORDS] {
        let proof = consistency(d, &verifier, old).unwrap();
        check_proof(&proof, &verifier, None).unwrap();
    }
}

/// RFC 6962's root, from its definition.
fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            let (l, r) = (root(&leaves[..k]), root(&leaves[k..]));
            tlog_tiles::node_hash(tlog_tiles::Hash(l), tlog_tiles::Hash(r)).0
        }
    }
}

/// A log as format 1 left it: records naming their predecessor's hash, a file per
/// checkpoint (at 100, 200 and 300 records), state.json, and a config without a format.
fn old_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d, &options()).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("format");
    fs::write(d.join("config.json"), config.to_string()).unwrap();
    let key_text = fs::read_to_string(default_key_path(d)).unwrap();
    let key = SigningKey::from_file_text(key_text.trim()).unwrap();
    let origin = read_config(d).unwrap().origin;
    fs::create_dir(d.join("checkpoints")).unwrap();
    let mut all = Vec::new();
    let mut leaves: Vec<Hash> = Vec::new();
    for n in 0..300u64 {
        let record = Record {
            seq: n,
            time: "2026-01-01T00:00:00.000000Z".into(),
            host: "old".into(),
            run: "r".into(),
            prev: leaves
                .last()
                .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
                .unwrap_or_default(),
            event: decision(n),
        };
        let line = record.to_line();
        leaves.push(leaf_hash(line.as_bytes()));
        all.push(line);
        if leaves.len().is_multiple_of(100) {
            let cp = Checkpoint {
                origin: origin.clone(),
                size: leaves.len() as u64,
                root: root(&leaves),
                extensions: Vec::new(),
            };
            let name = format!("{:020}.note", cp.size);
            fs::write(d.join("checkpoints").join(name), cp.sign(&key).unwrap()).unwrap();
        }
    }
    write_lines(d, &all);
    fs::write(
        d.join("state.json"),
        r#"{"segment":1,"offset":0,"size":300,"frontier":[],"prev":""}"#,
    )
    .unwrap();
    dir
}

#[test]
fn an_old_log_verifies_proves_and_keeps_doing_so_once_a_writer_upgrades_it() {
    let dir = old_log();
    let d = dir.path();
    let verifier = read_verifier(d).unwrap();
    let report = verify(d, &verifier, None).unwrap();
    assert_eq!((report.records, report.checkpoints), (300, 3));
    let old_note = fs::read_to_string(d.join("checkpoints/00000000000000000300.note")).unwrap();
    check_proof(&prove(d, &verifier, 150).unwrap(), &verifier, None).unwrap();
    check_proof(&consistency(d, &verifier, 100).unwrap(), &verifier, None).unwrap();

    let log = AuditLog::open(d, SyncMode::Batch).unwrap();
    for n in 300..350 {
        log.append("r", decision(n)).unwrap();
    }
    assert_eq!(log.checkpoint().unwrap().size, 350);
    drop(log);
    let config = read_config(d).unwrap();
    assert_eq!((config.format, config.upgraded_at), (2, Some(300)));
    assert!(lines(d)[300..].iter().all(|l| !l.contains("\"prev\"")));
    let report = verify(d, &verifier, None).unwrap();
    assert_eq!(report.records, 350);
    check_proof(&prove(d, &verifier, 10).unwrap(), &verifier, None).unwrap();
    let grew = consistency(d, &verifier, 300).unwrap();
    assert_eq!(
        check_proof(&grew, &verifier, Some(&old_note)).unwrap().size,
        350
    );

    // The old records still name their predecessors; the new ones are named by the tiles.
    edit(d, 41);
    assert_names(
        d,
        "record 41 was changed: record 42 does not carry its hash",
    );
    let dir = upgraded();
    edit(dir.path(), 320);
    assert_names(dir.path(), "record 320 was changed");
}

/// An old log upgraded by a writer that appended 50 records and checkpointed them.
fn upgraded() -> tempfile::TempDir {
    let dir = old_log();
    let log = AuditLog::open(dir.path(), SyncMode::Batch).unwrap();
    for n in 300..350 {
        log.append("r", decision(n)).unwrap();
    }
    log.checkpoint().unwrap();
    dir
}

#[test]
fn an_edited_old_record_is_named() {
    let dir = old_log();
    edit(dir.path(), 41);
    assert_names(
        dir.path(),
        "record 41 was changed: record 42 does not carry its hash",
    );
}

#[test]
fn a_removed_old_record_is_named() {
    let dir = old_log();
    remove(dir.path(), 7);
    assert_names(dir.path(), "record 7 has sequence number 8");
}

#[test]
fn an_inserted_old_record_is_named() {
    let dir = old_log();
    insert_copy(dir.path(), 7, 8);
    assert_names(dir.path(), "record 8 has sequence number 7");
}

#[test]
fn reordered_old_records_are_named() {
    let dir = old_log();
    swap(dir.path(), 20, 21, false);
    assert_names(dir.path(), "record 20 has sequence number 21");
    let dir = old_log();
    swap(dir.path(), 20, 21, true);
    assert_names(
        dir.path(),
        "record 19 was changed: record 20 does not carry its hash",
    );
}

#[test]
fn a_forged_old_checkpoint_is_named() {
    let dir = old_log();
    let path = dir.path().join("checkpoints/00000000000000000200.note");
    let note = fs::read_to_string(&path).unwrap();
    fs::write(&path, note.replacen("\n200\n", "\n199\n", 1)).unwrap();
    assert_names(dir.path(), "forged or re-signed");
}

#[test]
fn an_old_log_rolled_back_by_deleting_its_newest_checkpoint_is_named() {
    let dir = old_log();
    fs::remove_file(dir.path().join("checkpoints/00000000000000000300.note")).unwrap();
    assert_names(
        dir.path(),
        "which state.json says was published, is missing",
    );
}

#[test]
fn an_upgraded_logs_checkpoints_file_cut_off_is_named() {
    let dir = upgraded();
    fs::write(dir.path().join("checkpoints.notes"), "").unwrap();
    assert_names(dir.path(), "the log was rolled back");
}
