//! Taint: what a run has read so far, carried into the context of every later request
//! (`context.taint`), so that a policy can gate where labelled data goes.
//!
//! The rule, per run (the floor the issue on lineage sets; values are not tracked one by one):
//! - Every `read` the gate permits on a labelled File or Dir adds that path's labels: its
//!   classification, categories, jurisdiction and legal hold. A Dir's listing counts: names
//!   are data. The taint only grows.
//! - A `redacted_read` adds the same labels without the categories redaction removes
//!   ([`REDACTED_CATEGORIES`]: `pii`, `pci`, `secrets` and `credentials`, what the built-in
//!   detectors replace, and they always run: e-mail addresses, card, social security and
//!   IBAN numbers, IP addresses, tokens, keys and passwords). Its classification,
//!   jurisdiction, legal hold and other categories (`phi`, say: no detector finds a
//!   diagnosis) stay. Names and postal addresses are not detected: a host owner whose `pii`
//!   means those should forbid `redacted_read` of it, or forbid its release.
//! - It is added when the read is permitted, before the bytes are read: a read that then
//!   fails still taints, so nothing read leaves untracked.
//!
//! Each labelled file read is a source with the SHA-256 of its content: the host hashes it
//! from the descriptor it opened, right after the open and before any byte reaches the
//! script ([`Gate::source_to_hash`](crate::Gate::source_to_hash)), so the hash is of the
//! file that was read, not of whatever the path names later. A redacted read's hash is of
//! the content before redaction. Read again with the same descriptor stamp (device, inode,
//! size, modification and change time) it is not hashed again; read again with other
//! content, it is a source once more, with the new hash. Directories (their listings) have
//! no hash, nor do files over [`HASH_LIMIT`] (their size is recorded instead), nor what is
//! not a regular file (a device or a pipe may never end). The hash is of the content when
//! the file was opened: a writer that changes it between then and the read is not seen.

use std::collections::BTreeSet;
use std::sync::Arc;

use cedar_policy::RestrictedExpression;
use serde_json::{json, Value};

use crate::labels::{LabelRules, Labels, UNLABELLED};
use crate::path::AbsPath;

/// The categories a redacted read does not carry on: what the built-in detectors replace.
pub const REDACTED_CATEGORIES: &[&str] = &["pii", "pci", "secrets", "credentials"];

/// Labelled sources named in a lineage record; past this many they are counted only.
pub const MAX_SOURCES: usize = 256;

/// The largest file hashed on each read (64 MiB): hashing reads the whole file, which a
/// `tail` or a `head` of a large log would not.
pub const HASH_LIMIT: u64 = 64 << 20;

/// The union of the labels of what a run has read.
#[derive(Clone, Debug, Default)]
pub struct Taint {
    /// The highest classification seen (by the labels file's order), with its rank.
    highest: Option<(usize, String)>,
    classifications: BTreeSet<String>,
    categories: BTreeSet<String>,
    jurisdictions: BTreeSet<String>,
    legal_hold: bool,
    /// The labelled paths read, in the order first read (the first [`MAX_SOURCES`]), and how
    /// many in all.
    sources: Vec<Source>,
    count: u64,
    /// The same sources, shared by the records of every sink until the next one is read.
    shared: Option<Arc<[Source]>>,
    /// The Cedar record, made again only when the taint grows.
    expression: Option<RestrictedExpression>,
}

/// A labelled path a run read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: AbsPath,
    /// As decision records carry labels.
    pub labels: Value,
    pub redacted: bool,
    /// The SHA-256 of the file's content as read, in hex: none for a directory, a file
    /// larger than [`HASH_LIMIT`], or before the host has hashed it.
    pub sha256: Option<String>,
    /// The file's size in bytes when hashed.
    pub size: Option<u64>,
    /// What the descriptor said of the file when it was hashed.
    stamp: Option<Stamp>,
}

/// What a descriptor's `fstat` says of a file's content: while none of it changes the
/// content is taken to be the one hashed, as `make` and `rsync` take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    /// Modification and change times, in nanoseconds since the epoch.
    pub modified: i128,
    pub changed: i128,
}

/// A source the host must hash: the file just opened under a permitted read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToHash {
    pub(crate) path: AbsPath,
    pub(crate) redacted: bool,
    /// The stamp it was last hashed with, if it was.
    stamp: Option<Stamp>,
}

impl ToHash {
    /// Whether a file with `stamp` is the one already hashed.
    pub fn is_hashed(&self, stamp: &Stamp) -> bool {
        self.stamp.as_ref() == Some(stamp)
    }
}

impl Taint {
    /// Adds what a permitted read of `path` (labelled `labels`) carries; `true` when the
    /// taint grew, so that decisions made under the smaller one are not reused.
    pub(crate) fn add(
        &mut self,
        path: &AbsPath,
        labels: &Labels,
        redacted: bool,
        rules: &LabelRules,
    ) -> bool {
        let known = self
            .sources
            .iter()
            .any(|s| s.path == *path && s.redacted == redacted);
        if !known {
            self.count += 1;
            self.shared = None;
            if self.sources.len() < MAX_SOURCES {
                self.sources.push(Source {
                    path: path.clone(),
                    labels: labels.to_json().clone(),
                    redacted,
                    sha256: None,
                    size: None,
                    stamp: None,
                });
            }
        }
        let mut grew = self.classifications.insert(labels.classification.clone());
        if let Some(rank) = rules.rank(&labels.classification) {
            if self.highest.as_ref().is_none_or(|(r, _)| rank > *r) {
                self.highest = Some((rank, labels.classification.clone()));
                grew = true;
            }
        }
        for c in &labels.categories {
            if !(redacted && REDACTED_CATEGORIES.contains(&c.as_str())) {
                grew |= self.categories.insert(c.clone());
            }
        }
        if let Some(j) = &labels.jurisdiction {
            grew |= self.jurisdictions.insert(j.clone());
        }
        if labels.legal_hold && !self.legal_hold {
            self.legal_hold = true;
            grew = true;
        }
        // The count is part of the record too.
        if grew || !known {
            self.expression = None;
        }
        grew || !known
    }

    /// The source a permitted read of the file `path` is, to be hashed: `None` when it is
    /// not one (unlabelled), or is past [`MAX_SOURCES`].
    pub(crate) fn to_hash(&self, path: &AbsPath, redacted: bool) -> Option<ToHash> {
        let last = self
            .sources
            .iter()
            .rev()
            .find(|s| s.path == *path && s.redacted == redacted)?;
        Some(ToHash {
            path: path.clone(),
            redacted,
            stamp: last.stamp,
        })
    }

    /// Records the hash of `source`'s content (`None` for a file too large to hash), read
    /// from a descriptor with `stamp`. The first hash of a source is its own; other content
    /// read later from the same path is a new source. `true` when the count of sources grew.
    pub(crate) fn note_hash(
        &mut self,
        source: &ToHash,
        stamp: Stamp,
        sha256: Option<String>,
    ) -> bool {
        let Some(last) = self
            .sources
            .iter_mut()
            .rev()
            .find(|s| s.path == source.path && s.redacted == source.redacted)
        else {
            return false;
        };
        if last.stamp.is_none() || last.sha256 == sha256 {
            if last.sha256 != sha256 || last.size != Some(stamp.size) {
                self.shared = None;
            }
            last.sha256 = sha256;
            last.size = Some(stamp.size);
            last.stamp = Some(stamp);
            return false;
        }
        let again = Source {
            sha256,
            size: Some(stamp.size),
            stamp: Some(stamp),
            ..last.clone()
        };
        self.count += 1;
        self.shared = None;
        self.expression = None;
        if self.sources.len() < MAX_SOURCES {
            self.sources.push(again);
        }
        true
    }

    /// Whether nothing labelled was read.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The highest classification read, "unlabelled" before any.
    pub fn classification(&self) -> &str {
        self.highest.as_ref().map_or(UNLABELLED, |(_, c)| c)
    }

    /// The labelled paths read (the first [`MAX_SOURCES`]) and how many in all.
    pub fn sources(&self) -> (&[Source], u64) {
        (&self.sources, self.count)
    }

    /// The labelled paths read, shared: what every sink's record names, made once per new
    /// source rather than once per sink.
    pub(crate) fn shared_sources(&mut self) -> Arc<[Source]> {
        Arc::clone(
            self.shared
                .get_or_insert_with(|| Arc::from(self.sources.as_slice())),
        )
    }

    /// `context.taint`.
    pub(crate) fn expression(&mut self) -> RestrictedExpression {
        if let Some(e) = &self.expression {
            return e.clone();
        }
        let set = |items: &BTreeSet<String>| {
            RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|s| RestrictedExpression::new_string(s.clone())),
            )
        };
        let record = RestrictedExpression::new_record([
            (
                "classification".to_owned(),
                RestrictedExpression::new_string(self.classification().to_owned()),
            ),
            ("classifications".to_owned(), set(&self.classifications)),
            ("categories".to_owned(), set(&self.categories)),
            ("jurisdictions".to_owned(), set(&self.jurisdictions)),
            (
                "legal_hold".to_owned(),
                RestrictedExpression::new_bool(self.legal_hold),
            ),
            (
                "sources".to_owned(),
                RestrictedExpression::new_long(self.count.min(i64::MAX as u64) as i64),
            ),
        ]);
        // Distinct keys and literal values: this always builds.
        let record = record.unwrap_or_else(|_| unreachable!());
        self.expression = Some(record.clone());
        record
    }

    /// The taint as records and results carry it.
    pub fn to_json(&self) -> Value {
        json!({
            "classification": self.classification(),
            "classifications": self.classifications,
            "categories": self.categories,
            "jurisdictions": self.jurisdictions,
            "legal_hold": self.legal_hold,
            "sources": self.count,
        })
    }
}
