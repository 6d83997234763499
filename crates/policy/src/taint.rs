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
