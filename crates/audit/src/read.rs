//! Reading a log back: one scan that every reader shares (verify, show, prove, export), the
//! integrity check, and the proofs an auditor can check without the log.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::checkpoint::{self, Checkpoint, CheckpointError, Verifier};
use crate::log::{
    checkpoint_name, parse_line, published_size, read_config, segment_name, AuditError, Layout,
};
use crate::merkle::{self, leaf_hash, CompactTree, Hash};
use crate::record::{Event, Record};

/// One record as read from disk: the exact line (what the tree hashes) and its parse.
pub struct Scanned<'a> {
    pub index: u64,
    pub line: &'a str,
    pub record: Record,
    pub leaf: Hash,
}

fn corrupt(path: &Path, message: String) -> AuditError {
    AuditError::Corrupt {
        path: path.display().to_string(),
        message,
    }
}

/// Calls `each` for every record in order, across segments, checking as it goes that the
/// sequence numbers run without gaps and that each record names its predecessor's hash. The
/// first record that breaks either is named in the error.
pub fn scan(
    dir: &Path,
    mut each: impl FnMut(&Scanned<'_>) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    read_config(dir)?;
    let mut segment = 1;
    let mut index = 0u64;
    let mut prev: Option<Hash> = None;
    let mut visited = Vec::new();
    loop {
        let path = layout.segment(segment);
        visited.push(segment_name(segment));
        let file = fs::File::open(&path).map_err(|e| match (e.kind(), visited.as_slice()) {
            (std::io::ErrorKind::NotFound, [.., before, name]) => corrupt(
                dir,
                format!(
                    "segment {name} is missing: record {} (the last of {before}) continues the log in it, so the records from {index} on are gone (the log's history was cut); restore the segment from a backup",
                    index.saturating_sub(1)
                ),
            ),
            (std::io::ErrorKind::NotFound, _) => corrupt(
                dir,
                format!(
                    "segment {}, where the log begins, is missing, so its first records are gone (the log's history was cut); restore the segment from a backup",
                    segment_name(segment)
                ),
            ),
            _ => AuditError::Io {
                what: "open segment",
                path: path.display().to_string(),
                source: e,
            },
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buf = String::new();
        let mut next = None;
        loop {
            buf.clear();
            let n = reader.read_line(&mut buf).map_err(|e| AuditError::Io {
                what: "read segment",
                path: path.display().to_string(),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            let Some(line) = buf.strip_suffix('\n') else {
                return Err(corrupt(
                    &path,
                    format!("record {index} is torn (a writer died mid-line); the next append repairs it"),
                ));
            };
            let record = parse_line(line.as_bytes())
                .map_err(|m| corrupt(&path, format!("record {index}: {m}")))?;
            if record.seq != index {
                return Err(corrupt(
                    &path,
                    format!(
                        "record {index} has sequence number {}: a record was deleted, inserted or moved here",
                        record.seq
                    ),
                ));
            }
            if let Some(p) = prev {
                if record.prev != crate::log::hex(&p) {
                    return Err(corrupt(
                        &path,
                        format!(
                            "record {} was changed: record {index} does not carry its hash",
                            index - 1
                        ),
                    ));
                }
            }
            let leaf = leaf_hash(line.as_bytes());
            if let Event::Rotate { next: n } = &record.event {
                next = Some(n.clone());
            }
            each(&Scanned {
                index,
                line,
                record,
                leaf,
            })?;
            prev = Some(leaf);
            index += 1;
            if next.is_some() {
                break;
            }
        }
        match next {
            Some(name) => {
                segment = name.trim_end_matches(".jsonl").parse().map_err(|_| {
                    corrupt(&path, format!("rotation names an invalid segment {name:?}"))
                })?;
            }
            None => break,
        }
    }
    // A segment the rotation chain never reached was added or left behind.
    let segments = layout.dir.join("segments");
    if let Ok(entries) = fs::read_dir(&segments) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".jsonl") && !visited.contains(&name) {
                return Err(corrupt(
                    &segments,
                    format!("segment {name} is not part of the log: no rotation leads to it (it was left from an older log or added, or the record that led to it was removed); move it out of the directory"),
                ));
            }
        }
    }
    Ok(index)
}

/// The signed checkpoints of a log, smallest first, each checked against `verifier`.
pub fn checkpoints(
    dir: &Path,
    verifier: &Verifier,
) -> Result<Vec<(String, Checkpoint)>, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    let config = read_config(dir)?;
    let mut names: Vec<String> = fs::read_dir(layout.checkpoints())
        .map_err(|e| AuditError::Io {
            what: "list checkpoints",
            path: layout.checkpoints().display().to_string(),
            source: e,
        })?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".note"))
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    // The oldest checkpoints, while they are all signed by one other key: its key id and the
    // newest of them.
    let mut other_key: Option<(String, String)> = None;
    for name in names {
        let path = layout.checkpoints().join(&name);
        let note = fs::read_to_string(&path).map_err(|e| AuditError::Io {
            what: "read checkpoint",
            path: path.display().to_string(),
            source: e,
        })?;
        let opened = checkpoint::open(&note, verifier);
        match (&opened, &mut other_key) {
            (Err(CheckpointError::WrongKey { found, .. }), None) if out.is_empty() => {
                other_key = Some((found.clone(), name));
                continue;
            }
            (Err(CheckpointError::WrongKey { found, .. }), Some((first, newest)))
                if found == first =>
            {
                *newest = name;
                continue;
            }
            (_, Some((found, newest))) => {
                let after = if opened.is_ok() {
                    After::Good
                } else {
                    After::Bad
                };
                return Err(replaced_key(dir, verifier, found, newest, after));
            }
            (_, None) => {}
        }
        let cp = opened
            .map_err(|e| format!("{e} (forged or re-signed?)"))
            .and_then(|cp| check_origin(cp, &config.origin))
            .map_err(|m| corrupt(&path, format!("checkpoint {name}: {m}")))?;
        out.push((note, cp));
    }
    match other_key {
        Some((found, newest)) => Err(replaced_key(dir, verifier, &found, &newest, After::None)),
        None => Ok(out),
    }
}

/// What follows the oldest checkpoints when they are signed by another key.
enum After {
    /// Nothing: every checkpoint is.
    None,
    /// A checkpoint that verifies.
    Good,
    /// A checkpoint that fails otherwise.
    Bad,
}

/// The oldest checkpoints, up to `newest`, are signed by key id `found` rather than by
/// `verifier`: the log's key was replaced, or the log made anew over an older one's files.
/// A checkpoint forged later in the log, after good ones, is not this: that one is named on
/// its own.
fn replaced_key(
    dir: &Path,
    verifier: &Verifier,
    found: &str,
    newest: &str,
    after: After,
) -> AuditError {
    let expected = checkpoint::key_id_hex(&verifier.key_id());
    let which = match after {
        After::None => format!("none of its checkpoints verifies under the verifier key (key id {expected}): all are signed by key id {found}"),
        After::Good => format!("its oldest checkpoints, up to {newest}, are signed by key id {found}, the later ones by the verifier key (key id {expected})"),
        After::Bad => format!("its oldest checkpoints, up to {newest}, are signed by key id {found}, not by the verifier key (key id {expected})"),
    };
    corrupt(
        dir,
        format!("{which}, so the log's key was replaced: a new key over an older log's history (was the log made anew over its files?); verify with the verifier key the log was made with (`--key FILE`), or move the directory away and run `tollgate audit init` to start a new log"),
    )
}

fn open_checkpoint(note: &str, verifier: &Verifier, origin: &str) -> Result<Checkpoint, String> {
    let cp = checkpoint::open(note, verifier).map_err(|e| format!("{e} (forged or re-signed?)"))?;
    check_origin(cp, origin)
}

fn check_origin(cp: Checkpoint, origin: &str) -> Result<Checkpoint, String> {
    if cp.origin != origin {
        return Err(format!(
            "origin is {:?}, this log's is {origin:?}",
            cp.origin
        ));
    }
    Ok(cp)
}

/// What a successful verification covered.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub checkpoints: usize,
    /// Records after the newest checkpoint, not yet covered by a signature.
    pub unsigned_tail: u64,
}

/// Recomputes the tree and checks every record and checkpoint, and `trusted` (a checkpoint
/// saved earlier, elsewhere) if given: a log rolled back to an older state cannot match a
/// newer checkpoint.
pub fn verify(
    dir: &Path,
    verifier: &Verifier,
    trusted: Option<&str>,
) -> Result<VerifyReport, AuditError> {
    let config = read_config(dir)?;
    // Read before the checkpoints are listed: the state is written after the checkpoint it
    // names, so the listing holds that checkpoint unless it was deleted.
    let published = published_size(dir)?;
    let mut cps = checkpoints(dir, verifier)?;
    check_published(dir, published, &cps)?;
    let signed = !cps.is_empty() || published.is_some();
    if let Some(note) = trusted {
        let cp = open_checkpoint(note, verifier, &config.origin)
            .map_err(|m| corrupt(dir, format!("trusted checkpoint: {m}")))?;
        cps.push(("trusted".to_owned(), cp));
    }
    let mut wanted: Vec<u64> = cps.iter().map(|(_, c)| c.size).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut roots = std::collections::HashMap::new();
    if wanted.first() == Some(&0) {
        roots.insert(0, CompactTree::new().root());
    }
    let mut tree = CompactTree::new();
    let mut last_run_end = None;
    let records = scan(dir, |s| {
        tree.push(s.leaf);
        if wanted.binary_search(&tree.len()).is_ok() {
            roots.insert(tree.len(), tree.root());
        }
        if matches!(s.record.event, Event::RunEnd { .. }) {
            last_run_end = Some((s.index, s.record.run.clone()));
        }
        Ok(())
    })?;
    // Every run ends with a checkpoint. A run's end with none at all means they were
    // deleted, unless the first one is being published now: the state may exist by now.
    if let Some((index, run)) = last_run_end.filter(|_| !signed) {
        if published_size(dir)?.is_none() {
            return Err(corrupt(
                dir,
                format!(
                    "record {index} ends run {run}, yet there is no checkpoint and no state.json: the log's checkpoints were deleted, unless its first run's writer died before signing (or is signing now); restore them from a backup, or check the log against a checkpoint kept elsewhere (`--trusted FILE`)"
                ),
            ));
        }
    }
    for (_, cp) in &cps {
        let Some(root) = roots.get(&cp.size) else {
            return Err(corrupt(
                dir,
                format!(
                    "checkpoint at {} records, but the log has only {records}: records were removed from the end (or the log was rolled back)",
                    cp.size
                ),
            ));
        };
        if *root != cp.root {
            return Err(corrupt(
                dir,
                format!(
                    "checkpoint at {} records does not match them: a record before {} was changed, added or removed",
                    cp.size, cp.size
                ),
            ));
        }
    }
    let newest = cps.iter().map(|(_, c)| c.size).max().unwrap_or(0);
    Ok(VerifyReport {
        records,
        checkpoints: cps.len(),
        unsigned_tail: records.saturating_sub(newest),
    })
}

/// Checks that the checkpoint the saved state names as published (read before `cps` was
/// listed) is among `cps`, and that the state is there when checkpoints are: deleting the
/// newest checkpoints leaves the records after them unsigned, free to be cut off or edited.
fn check_published(
    dir: &Path,
    published: Option<u64>,
    cps: &[(String, Checkpoint)],
) -> Result<(), AuditError> {
    const RESTORE: &str = "restore them from a backup, or check the log against a checkpoint kept elsewhere (`--trusted FILE`)";
    let newest = cps.iter().map(|(_, c)| c.size).max();
    match published {
        Some(size) if !cps.iter().any(|(_, c)| c.size == size) => {
            let left = match newest {
                Some(n) => format!("the newest one left covers {n} records"),
                None => "none is left".to_owned(),
            };
            Err(corrupt(
                dir,
                format!(
                    "checkpoint {} (at {size} records), which state.json says was published, is missing, and {left}: the log's newest checkpoints were deleted, so the records after them are not vouched for; {RESTORE}",
                    checkpoint_name(size)
                ),
            ))
        }
        // The first checkpoint may have been published since the state was read.
        None if !cps.is_empty() && published_size(dir)?.is_none() => Err(corrupt(
            dir,
            format!(
                "state.json, which names the newest checkpoint, is missing though {} checkpoints are here: it was deleted, and the newest checkpoints may have been deleted with it; {RESTORE}",
                cps.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// The newest checkpoint, with its note text.
pub fn latest_checkpoint(
    dir: &Path,
    verifier: &Verifier,
) -> Result<(String, Checkpoint), AuditError> {
    checkpoints(dir, verifier)?
        .pop()
        .ok_or_else(|| corrupt(dir, "the log has no checkpoint yet".to_owned()))
}

/// The leaf hashes of the first `upto` records.
fn leaves(dir: &Path, upto: u64) -> Result<Vec<Hash>, AuditError> {
    let mut out = Vec::new();
    scan(dir, |s| {
        if s.index < upto {
            out.push(s.leaf);
        }
        Ok(())
    })?;
    if (out.len() as u64) < upto {
        return Err(corrupt(
            dir,
            format!("the log has fewer than {upto} records"),
        ));
    }
    Ok(out)
}

/// A proof document: what `prove` and `consistency` print and `check-proof` reads.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Proof {
    Inclusion {
        index: u64,
        tree_size: u64,
        /// The record's line, exactly as in the log.
        record: String,
        /// Base64 hashes, leaf to root.
        path: Vec<String>,
        /// The signed checkpoint the proof leads to.
        checkpoint: String,
    },
    Consistency {
        old_size: u64,
        /// Base64 root of the first `old_size` records.
        old_root: String,
        new_size: u64,
        path: Vec<String>,
        checkpoint: String,
    },
}

fn b64(h: &Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(h)
}

fn unb64(s: &str) -> Result<Hash, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("bad base64 hash: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "a hash must be 32 bytes".to_owned())
}

/// An inclusion proof for record `index` against the newest checkpoint.
pub fn prove(dir: &Path, verifier: &Verifier, index: u64) -> Result<Proof, AuditError> {
    let (note, cp) = latest_checkpoint(dir, verifier)?;
    if index >= cp.size {
        return Err(corrupt(
            dir,
            format!(
                "record {index} is not covered by the newest checkpoint ({} records)",
                cp.size
            ),
        ));
    }
    let mut record = String::new();
    let mut all = Vec::new();
    scan(dir, |s| {
        if s.index < cp.size {
            all.push(s.leaf);
        }
        if s.index == index {
            record = s.line.to_owned();
        }
        Ok(())
    })?;
    let path = merkle::inclusion_proof(&all[..cp.size as usize], index)
        .map_err(|e| corrupt(dir, e.to_string()))?;
    Ok(Proof::Inclusion {
        index,
        tree_size: cp.size,
        record,
        path: path.iter().map(b64).collect(),
        checkpoint: note,
    })
}

/// A consistency proof from the first `old_size` records to the newest checkpoint.
pub fn consistency(dir: &Path, verifier: &Verifier, old_size: u64) -> Result<Proof, AuditError> {
    let (note, cp) = latest_checkpoint(dir, verifier)?;
    if old_size > cp.size {
        return Err(corrupt(
            dir,
            format!(
                "{old_size} is beyond the newest checkpoint ({} records)",
                cp.size
            ),
        ));
    }
    let all = leaves(dir, cp.size)?;
    let mut old = CompactTree::new();
    for leaf in &all[..old_size as usize] {
        old.push(*leaf);
    }
    let path =
        merkle::consistency_proof(&all, old_size).map_err(|e| corrupt(dir, e.to_string()))?;
    Ok(Proof::Consistency {
        old_size,
        old_root: b64(&old.root()),
        new_size: cp.size,
        path: path.iter().map(b64).collect(),
        checkpoint: note,
    })
}

/// Checks a proof with only the verifier key: the checkpoint's signature, then the path.
/// For a consistency proof, `old_checkpoint` (the note the auditor kept) is checked to be
/// the proof's starting point when given.
pub fn check_proof(
    proof: &Proof,
    verifier: &Verifier,
    old_checkpoint: Option<&str>,
) -> Result<Checkpoint, String> {
    let decode = |p: &[String]| p.iter().map(|h| unb64(h)).collect::<Result<Vec<_>, _>>();
    match proof {
        Proof::Inclusion {
            index,
            tree_size,
            record,
            path,
            checkpoint,
        } => {
            let cp = checkpoint::open(checkpoint, verifier).map_err(|e| e.to_string())?;
            if cp.size != *tree_size {
                return Err(format!(
                    "the proof is for {tree_size} records, the checkpoint for {}",
                    cp.size
                ));
            }
            merkle::verify_inclusion(
                &leaf_hash(record.as_bytes()),
                *index,
                cp.size,
                &decode(path)?,
                &cp.root,
            )
            .map_err(|e| format!("the record is not in the log at that checkpoint: {e}"))?;
            Ok(cp)
        }
        Proof::Consistency {
            old_size,
            old_root,
            new_size,
            path,
            checkpoint,
        } => {
            let cp = checkpoint::open(checkpoint, verifier).map_err(|e| e.to_string())?;
            if cp.size != *new_size {
                return Err(format!(
                    "the proof is for {new_size} records, the checkpoint for {}",
                    cp.size
                ));
            }
            let old_root = unb64(old_root)?;
            if let Some(note) = old_checkpoint {
                let old =
                    checkpoint::open(note, verifier).map_err(|e| format!("old checkpoint: {e}"))?;
                if old.size != *old_size || old.root != old_root {
                    return Err(
                        "the proof does not start at the old checkpoint you hold".to_owned()
                    );
                }
            }
            merkle::verify_consistency(*old_size, cp.size, &old_root, &cp.root, &decode(path)?)
                .map_err(|e| format!("the log did not only grow: {e}"))?;
            Ok(cp)
        }
    }
}
