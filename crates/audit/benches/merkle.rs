//! Measures the Merkle tree at audit-log scale (see `tollgate_audit::merkle`): hashing and
//! appending 1,000,000 records of about 300 bytes, as verifying a whole log does, and
//! building inclusion and consistency proofs over 1,000,000 leaves.
//!
//! Run with `cargo bench -p tollgate-audit`; it prints its timings rather than using a bench
//! harness, since each operation is measured once at full size.

use std::hint::black_box;
use std::time::Instant;

use tollgate_audit::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion,
    CompactTree, Hash, MerkleError,
};

const RECORDS: usize = 1_000_000;
const RECORD_LEN: usize = 300;

/// The records, laid out back to back so generating them is not part of the timing.
fn records() -> Vec<u8> {
    let mut all = Vec::with_capacity(RECORDS * RECORD_LEN);
    for seq in 0..RECORDS {
        let mut record = format!(
            "{{\"action\":\"fs:read\",\"decision\":\"permit\",\"host\":\"host-a\",\
             \"kind\":\"decision\",\"policies\":[\"policy0\"],\"principal\":\"ci-bot\",\
             \"resource_id\":\"/srv/data/file-{seq}.csv\",\"resource_type\":\"File\",\
             \"seq\":{seq},\"time\":\"2025-01-01T00:00:00Z\",\"run\":\"r1\",\"prev\":\""
        );
        // Pad with hex digits, as the prev-hash field would hold.
        record.extend(std::iter::repeat_n('a', RECORD_LEN - 2 - record.len()));
        record.push_str("\"}");
        all.extend_from_slice(record.as_bytes());
    }
    all
}

fn main() -> Result<(), MerkleError> {
    let records = records();
    let records = records.chunks_exact(RECORD_LEN);

    let start = Instant::now();
    let mut tree = CompactTree::new();
    for record in records.clone() {
        tree.push(leaf_hash(record));
    }
    let root = black_box(tree.root());
    println!(
        "leaf-hash + push {RECORDS} records of {RECORD_LEN} bytes: {:.3} s",
        start.elapsed().as_secs_f64()
    );

    let leaves: Vec<Hash> = records.map(leaf_hash).collect();
    let size = leaves.len() as u64;

    let index = 123_457;
    let start = Instant::now();
    let proof = black_box(inclusion_proof(&leaves, index)?);
    println!(
        "inclusion proof for leaf {index} of {size}: {:.3} s, {} hashes ({} bytes)",
        start.elapsed().as_secs_f64(),
        proof.len(),
        proof.len() * 32
    );
    verify_inclusion(&leaves[index as usize], index, size, &proof, &root)?;

    let old_size = 654_321;
    let start = Instant::now();
    let proof = black_box(consistency_proof(&leaves, old_size)?);
    println!(
        "consistency proof {old_size} -> {size}: {:.3} s, {} hashes ({} bytes)",
        start.elapsed().as_secs_f64(),
        proof.len(),
        proof.len() * 32
    );
    let old_root = leaves[..old_size as usize]
        .iter()
        .copied()
        .collect::<CompactTree>()
        .root();
    verify_consistency(old_size, size, &old_root, &root, &proof)
}
