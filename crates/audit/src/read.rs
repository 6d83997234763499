//! Reading a log back: one walk over the records that every reader shares (verify, show,
//! prove, export), the integrity check, and the proofs an auditor can check without the log.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use tlog_tiles::{HashReader, TileHashReader};

use crate::checkpoint::{self, Checkpoint, CheckpointError, Verifier};
use crate::log::{
    checkpoint_name, glance, parse_line, published_size, read_config, read_notes, read_tiled,
    segment_name, AuditError, Glance, Layout, LogConfig, Tiled,
};
use crate::record::Record;
use crate::tiles::{
    empty_root, leaf_hash, read_tile, tile_name, Edge, Hash, TileFiles, TileMemory,
};

/// One record as read from disk: the exact line (what the tree hashes) and its parse.
pub struct Scanned<'a> {
    pub index: u64,
    pub line: &'a str,
    pub record: Record,
}

fn corrupt(path: &Path, message: String) -> AuditError {
    AuditError::Corrupt {
        path: path.display().to_string(),
        message,
    }
}

/// Calls `each` for every record in order, across segments, checking as it goes that the
/// sequence numbers run without gaps and (in records written by format 1) that each record
/// names its predecessor's hash. The first record that breaks either is named in the error.
pub fn scan(
    dir: &Path,
    mut each: impl FnMut(&Scanned<'_>) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let config = read_config(dir)?;
    walk(dir, &config, |line| {
        let record = parse_line(line.text.as_bytes())
            .map_err(|m| corrupt(line.path, format!("record {}: {m}", line.index)))?;
        each(&Scanned {
            index: line.index,
            line: line.text,
            record,
        })
    })
}

/// As [`scan`], for a reader that wants only the records whose line holds `needle` (say,
/// `"sources"`) and decodes what it needs of them itself: every line is still checked as the
/// walk checks it, but only those lines are handed to `each`, with their sequence number,
/// unparsed.
pub fn scan_lines_containing(
    dir: &Path,
    needle: &str,
    mut each: impl FnMut(u64, &str) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let config = read_config(dir)?;
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    walk(dir, &config, |line| {
        if finder.find(line.text.as_bytes()).is_none() {
            return Ok(());
        }
        each(line.index, line.text)
    })
}

/// A line as [`walk`] hands it on: where it is, and the fields every reader needs.
struct Line<'a> {
    index: u64,
    text: &'a str,
    glance: Glance<'a>,
    path: &'a Path,
}

/// The walk under [`scan`] and `verify`: follows the rotations from the first segment,
/// checks sequence numbers and format 1's `prev` hashes, and decodes only what every reader
/// needs (a whole record costs several times more).
fn walk(
    dir: &Path,
    config: &LogConfig,
    mut each: impl FnMut(Line<'_>) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    let chained = config.chained_records();
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
            let Some(text) = buf.strip_suffix('\n') else {
                return Err(corrupt(
                    &path,
                    format!("record {index} is torn (a writer died mid-line); the next append repairs it"),
                ));
            };
            let g = glance(text.as_bytes()).map_err(|e| {
                corrupt(
                    &path,
                    format!("record {index}: the line is not a valid record: {e}"),
                )
            })?;
            if g.seq != index {
                return Err(corrupt(
                    &path,
                    format!(
                        "record {index} has sequence number {}: a record was deleted, inserted or moved here",
                        g.seq
                    ),
                ));
            }
            if index < chained {
                if let Some(p) = prev {
                    if g.prev != crate::log::hex(&p) {
                        return Err(corrupt(
                            &path,
                            format!(
                                "record {} was changed: record {index} does not carry its hash",
                                index - 1
                            ),
                        ));
                    }
                }
                prev = Some(leaf_hash(text.as_bytes()));
            }
            if g.kind == "rotate" {
                next = Some(g.next.clone().unwrap_or_default());
            }
            each(Line {
                index,
                text,
                glance: g,
                path: &path,
            })?;
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

/// A checkpoint as listed: its note, what it says, and where it is (format 1's files or
/// the checkpoints file).
struct Listed {
    name: String,
    note: String,
    checkpoint: Checkpoint,
    in_file: bool,
}

/// The signed checkpoints of a log, each checked against `verifier`: format 1's files
/// smallest first, then the checkpoints file's in its order.
pub fn checkpoints(
    dir: &Path,
    verifier: &Verifier,
) -> Result<Vec<(String, Checkpoint)>, AuditError> {
    Ok(listed(dir, verifier)?
        .into_iter()
        .map(|l| (l.note, l.checkpoint))
        .collect())
}

fn listed(dir: &Path, verifier: &Verifier) -> Result<Vec<Listed>, AuditError> {
    let layout = Layout {
        dir: dir.to_owned(),
    };
    let config = read_config(dir)?;
    let mut names: Vec<String> = match fs::read_dir(layout.checkpoints()) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".note"))
            .collect(),
        // A log made in format 2 has no checkpoint files.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.format >= 2 => Vec::new(),
        Err(e) => {
            return Err(AuditError::Io {
                what: "list checkpoints",
                path: layout.checkpoints().display().to_string(),
                source: e,
            })
        }
    };
    names.sort();
    let mut notes = Vec::with_capacity(names.len());
    for name in names {
        let path = layout.checkpoints().join(&name);
        let note = fs::read_to_string(&path).map_err(|e| AuditError::Io {
            what: "read checkpoint",
            path: path.display().to_string(),
            source: e,
        })?;
        notes.push((name, note, false));
    }
    // A torn note at the end vouches for nothing; the next publisher cuts it off.
    for (offset, note) in read_notes(&layout, 0)?.notes {
        notes.push((format!("checkpoints.notes:{offset}"), note, true));
    }
    let mut out: Vec<Listed> = Vec::with_capacity(notes.len());
    // The oldest checkpoints, while they are all signed by one other key: its key id and the
    // newest of them.
    let mut other_key: Option<(String, String)> = None;
    for (name, note, in_file) in notes {
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
        let where_ = if in_file {
            layout.notes()
        } else {
            layout.checkpoints().join(&name)
        };
        let cp = opened
            .map_err(|e| format!("{e} (forged or re-signed?)"))
            .and_then(|cp| check_origin(cp, &config.origin))
            .map_err(|m| corrupt(&where_, format!("checkpoint {name}: {m}")))?;
        // The publisher appends in size order under its lock: a smaller checkpoint after a
        // larger one was put there, to pass the log off as its older self.
        if let Some(before) = out.iter().rev().find(|l| l.in_file).filter(|_| in_file) {
            if cp.size < before.checkpoint.size {
                return Err(corrupt(
                    &where_,
                    format!(
                        "checkpoint {name} (at {} records) follows {} (at {} records): an older checkpoint was appended after a newer one, to roll the log back; the newer one stands, and the log must match it",
                        cp.size, before.name, before.checkpoint.size
                    ),
                ));
            }
        }
        out.push(Listed {
            name,
            note,
            checkpoint: cp,
            in_file,
        });
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

/// The first place where the records and the tiles disagree.
enum TileProblem {
    /// The tile's hashes differ from the records': at `record`, for a level-0 tile.
    Differs {
        tile: String,
        record: Option<u64>,
    },
    Missing {
        tile: String,
    },
    Unreadable {
        tile: String,
        error: String,
    },
}

impl TileProblem {
    fn tile(&self) -> &str {
        match self {
            TileProblem::Differs { tile, .. }
            | TileProblem::Missing { tile }
            | TileProblem::Unreadable { tile, .. } => tile,
        }
    }
}

/// Compares a tile computed from the records with the one on disk; notes the first problem.
fn compare_tile(
    dir: &Path,
    (level, n, hashes): (u8, u64, &[u8]),
    problem: &mut Option<TileProblem>,
) {
    if problem.is_some() {
        return;
    }
    let width = hashes.len() / 32;
    let tile = tile_name(level, n, width);
    *problem = match read_tile(dir, level, n, width) {
        Ok(Some(disk)) if disk == hashes => None,
        Ok(Some(disk)) => {
            let first = disk
                .chunks_exact(32)
                .zip(hashes.chunks_exact(32))
                .position(|(a, b)| a != b)
                .unwrap_or(0) as u64;
            Some(TileProblem::Differs {
                tile,
                record: (level == 0).then_some(n * 256 + first),
            })
        }
        Ok(None) => Some(TileProblem::Missing { tile }),
        Err(e) => Some(TileProblem::Unreadable {
            tile,
            error: e.to_string(),
        }),
    };
}

/// Recomputes the tree and checks every record and checkpoint, and `trusted` (a checkpoint
/// saved earlier, elsewhere) if given: a log rolled back to an older state cannot match a
/// newer checkpoint. In format 2 the records' hashes are compared with the tiles, which the
/// newest checkpoint vouches for, so a changed record is named even where no other record
/// names its hash.
pub fn verify(
    dir: &Path,
    verifier: &Verifier,
    trusted: Option<&str>,
) -> Result<VerifyReport, AuditError> {
    let config = read_config(dir)?;
    let layout = Layout {
        dir: dir.to_owned(),
    };
    // Read before the checkpoints are listed: each is written after the checkpoint it
    // names, so the listing holds that checkpoint unless it was deleted.
    let published = published_size(dir)?;
    let tiled = read_tiled(&layout)?;
    let listed = listed(dir, verifier)?;
    let (in_files, in_file): (Vec<&Listed>, Vec<&Listed>) = listed.iter().partition(|l| !l.in_file);
    check_published(dir, published, &in_files)?;
    check_tiled(dir, tiled, &in_file)?;
    let signed = !listed.is_empty() || published.is_some() || tiled.is_some();
    // The tiles reach the newest checkpoint of the checkpoints file.
    let tiles_for = in_file.last().map(|l| l.checkpoint.clone());
    let mut cps: Vec<(String, Checkpoint)> = listed
        .iter()
        .map(|l| (l.name.clone(), l.checkpoint.clone()))
        .collect();
    if let Some(note) = trusted {
        let cp = open_checkpoint(note, verifier, &config.origin)
            .map_err(|m| corrupt(dir, format!("trusted checkpoint: {m}")))?;
        cps.push(("trusted".to_owned(), cp));
    }
    let mut wanted: Vec<u64> = cps.iter().map(|(_, c)| c.size).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut roots = HashMap::new();
    if wanted.first() == Some(&0) {
        roots.insert(0, empty_root());
    }
    let tiled_size = tiles_for.as_ref().map_or(0, |c| c.size);
    let mut edge = Edge::default();
    let mut problem = None;
    let mut last_run_end = None;
    let records = walk(dir, &config, |line| {
        let leaf = leaf_hash(line.text.as_bytes());
        if line.index < tiled_size {
            edge.push::<AuditError>(&leaf, |tile| {
                compare_tile(dir, tile, &mut problem);
                Ok(())
            })?;
            if edge.size() == tiled_size {
                for tile in edge.partials() {
                    compare_tile(dir, tile, &mut problem);
                }
            }
        } else {
            edge.push::<AuditError>(&leaf, |_| Ok(()))?;
        }
        if wanted.binary_search(&edge.size()).is_ok() {
            roots.insert(edge.size(), edge.root());
        }
        if line.glance.kind == "run_end" {
            last_run_end = Some((line.index, line.glance.run.clone().into_owned()));
        }
        Ok(())
    })?;
    // Every run ends with a checkpoint. A run's end with none at all means they were
    // deleted, unless the first one is being published now: its trace may exist by now.
    if let Some((index, run)) = last_run_end.filter(|_| !signed) {
        if published_size(dir)?.is_none() && read_tiled(&layout)?.is_none() {
            return Err(corrupt(
                dir,
                format!(
                    "record {index} ends run {run}, yet there is no checkpoint (and no state.json or tiled.json): the log's checkpoints were deleted, unless its first run's writer died before signing (or is signing now); restore them from a backup, or check the log against a checkpoint kept elsewhere (`--trusted FILE`)"
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
                mismatch(dir, cp, tiles_for.as_ref(), &problem),
            ));
        }
    }
    if let Some(p) = &problem {
        // The records match every checkpoint: the tile is what changed.
        let what = match p {
            TileProblem::Differs { .. } => "does not hold the hashes of the records".to_owned(),
            TileProblem::Missing { .. } => "is missing".to_owned(),
            TileProblem::Unreadable { error, .. } => format!("cannot be read ({error})"),
        };
        return Err(corrupt(
            &layout.dir.join(p.tile()),
            format!(
                "tile {} {what}, while the records match their checkpoints: the tile was changed, damaged or deleted, and proofs that need it fail; restore it from a backup (it holds only the records' hashes, so one rebuilt from the records is the same)",
                p.tile()
            ),
        ));
    }
    let newest = cps.iter().map(|(_, c)| c.size).max().unwrap_or(0);
    Ok(VerifyReport {
        records,
        checkpoints: cps.len(),
        unsigned_tail: records.saturating_sub(newest),
    })
}

/// What to say when the records do not match checkpoint `cp`: the first record whose hash
/// differs from the one in the tiles, when the tiles prove to be the ones the newest
/// checkpoint signed.
fn mismatch(
    dir: &Path,
    cp: &Checkpoint,
    tiles_for: Option<&Checkpoint>,
    problem: &Option<TileProblem>,
) -> String {
    let general = format!(
        "checkpoint at {} records does not match them: a record before {} was changed, added or removed",
        cp.size, cp.size
    );
    let (tile, index, newest) = match (problem, tiles_for) {
        (Some(TileProblem::Differs { tile, record: Some(index) }), Some(newest))
            if *index < cp.size =>
        {
            (tile, index, newest)
        }
        (Some(TileProblem::Differs { tile, record: None }), _) => {
            return format!(
                "{general}; tile {tile} does not hold the hashes of the tiles below it either: records and tiles were both changed"
            )
        }
        _ => return general,
    };
    let files = TileFiles { dir };
    let reader = TileHashReader::new(newest.size, tlog_tiles::Hash(newest.root), &files);
    let signed = reader.read_hashes(&[tlog_tiles::stored_hash_index(0, *index)]);
    match signed {
        Ok(_) => format!(
            "record {index} was changed: its hash is not the one in tile {tile}, which checkpoint {} (at {} records) vouches for; {general}",
            checkpoint_name(newest.size).trim_end_matches(".note").trim_start_matches('0'),
            newest.size
        ),
        Err(_) => format!(
            "{general}; from record {index} on, the records do not match tile {tile} either, and the tile does not match the checkpoints: records and tiles were both changed"
        ),
    }
}

/// Checks that the newest checkpoint `tiled.json` names (read before the checkpoints were
/// listed) is in the checkpoints file, and that `tiled.json` is there when checkpoints are:
/// cutting the file's newest checkpoints off leaves the records after them unsigned, free to
/// be cut off or edited, and is how a log is rolled back.
fn check_tiled(dir: &Path, tiled: Option<Tiled>, in_file: &[&Listed]) -> Result<(), AuditError> {
    let newest = in_file.last().map(|l| l.checkpoint.size);
    match (tiled, newest) {
        (Some(t), n) if n.is_none_or(|n| n < t.size) => {
            let left = match n {
                Some(n) => format!("the newest one left covers {n} records"),
                None => "none is left".to_owned(),
            };
            Err(corrupt(
                dir,
                format!(
                    "tiled.json says a checkpoint at {} records was published, but checkpoints.notes has no such checkpoint and {left}: the log's newest checkpoints were cut off (the log was rolled back), so the records after them are not vouched for; {RESTORE}",
                    t.size
                ),
            ))
        }
        // The first checkpoint may have been published since tiled.json was read.
        (None, Some(_)) if read_tiled(&Layout { dir: dir.to_owned() })?.is_none() => Err(corrupt(
            dir,
            format!(
                "tiled.json, which names the newest checkpoint, is missing though checkpoints.notes holds {} checkpoints: it was deleted, and the newest checkpoints may have been cut off with it; {RESTORE}",
                in_file.len()
            ),
        )),
        _ => Ok(()),
    }
}

const RESTORE: &str = "restore them from a backup, or check the log against a checkpoint kept elsewhere (`--trusted FILE`)";

/// Format 1: checks that the checkpoint the saved state names as published (read before `cps` was
/// listed) is among `cps`, and that the state is there when checkpoints are: deleting the
/// newest checkpoints leaves the records after them unsigned, free to be cut off or edited.
fn check_published(dir: &Path, published: Option<u64>, cps: &[&Listed]) -> Result<(), AuditError> {
    let newest = cps.iter().map(|l| l.checkpoint.size).max();
    match published {
        Some(size) if !cps.iter().any(|l| l.checkpoint.size == size) => {
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
    // The checkpoints file's last is its largest; format 1's files come before it.
    let mut all = checkpoints(dir, verifier)?;
    all.sort_by_key(|(_, c)| c.size);
    all.pop()
        .ok_or_else(|| corrupt(dir, "the log has no checkpoint yet".to_owned()))
}

/// Runs `f` on the hashes of the tree `cp` signed: read from the tiles (authenticated
/// against `cp` as they are read), or, for a log whose tiles do not reach `cp` (format 1),
/// computed from the records.
fn with_tree<T>(
    dir: &Path,
    cp: &Checkpoint,
    f: impl Fn(&TileHashReader<'_>) -> Result<T, tlog_tiles::Error>,
) -> Result<T, AuditError> {
    let root = tlog_tiles::Hash(cp.root);
    if let Ok(found) = f(&TileHashReader::new(cp.size, root, &TileFiles { dir })) {
        return Ok(found);
    }
    let mut memory = TileMemory::default();
    scan_leaves(dir, cp.size, |leaf| memory.push(leaf))?;
    if memory.size() < cp.size {
        return Err(corrupt(
            dir,
            format!("the log has fewer than {} records", cp.size),
        ));
    }
    f(&TileHashReader::new(cp.size, root, &memory)).map_err(|e| {
        corrupt(
            dir,
            format!(
                "the records do not match the newest checkpoint ({e}); run `tollgate audit verify`"
            ),
        )
    })
}

/// Calls `each` with the leaf hashes of the first `upto` records.
fn scan_leaves(dir: &Path, upto: u64, mut each: impl FnMut(&Hash)) -> Result<(), AuditError> {
    let config = read_config(dir)?;
    walk(dir, &config, |line| {
        if line.index < upto {
            each(&leaf_hash(line.text.as_bytes()));
        }
        Ok(())
    })?;
    Ok(())
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
    walk(dir, &read_config(dir)?, |line| {
        if line.index == index {
            record = line.text.to_owned();
        }
        Ok(())
    })?;
    let path = with_tree(dir, &cp, |tree| {
        tlog_tiles::prove_record(cp.size, index, tree)
    })?;
    Ok(Proof::Inclusion {
        index,
        tree_size: cp.size,
        record,
        path: path.iter().map(|h| b64(&h.0)).collect(),
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
    // Every tree extends the empty one: that proof is empty.
    let (path, old_root) = if old_size == 0 {
        (Vec::new(), empty_root())
    } else {
        with_tree(dir, &cp, |tree| {
            let path = tlog_tiles::prove_tree(cp.size, old_size, tree)?;
            Ok((path, tlog_tiles::tree_hash(old_size, tree)?.0))
        })?
    };
    Ok(Proof::Consistency {
        old_size,
        old_root: b64(&old_root),
        new_size: cp.size,
        path: path.iter().map(|h| b64(&h.0)).collect(),
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
    let decode = |p: &[String]| {
        p.iter()
            .map(|h| unb64(h).map(tlog_tiles::Hash))
            .collect::<Result<Vec<_>, _>>()
    };
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
            tlog_tiles::check_record(
                &decode(path)?,
                cp.size,
                tlog_tiles::Hash(cp.root),
                *index,
                tlog_tiles::Hash(leaf_hash(record.as_bytes())),
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
            let path = decode(path)?;
            let grew = if *old_size == 0 {
                // The empty tree is a prefix of every tree, with an empty proof.
                if path.is_empty() && old_root == empty_root() {
                    Ok(())
                } else {
                    Err("a proof from the empty tree is empty, with the empty root".to_owned())
                }
            } else {
                tlog_tiles::check_tree(
                    &path,
                    cp.size,
                    tlog_tiles::Hash(cp.root),
                    *old_size,
                    tlog_tiles::Hash(old_root),
                )
                .map_err(|e| e.to_string())
            };
            grew.map_err(|e| format!("the log did not only grow: {e}"))?;
            Ok(cp)
        }
    }
}
