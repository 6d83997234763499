//! Data labels: what the host owner says the data under a path is (its classification, the
//! kinds of personal or secret data it holds, where it may be processed, whether it is under
//! legal hold, how long it is kept, whether its deletion was requested), and where an
//! endpoint is, so that policies can decide on what a file holds and where it goes, not only
//! on where it lies.
//!
//! The labels file is JSON:
//!
//! ```json
//! {"classifications": ["public", "internal", "confidential", "restricted"],
//!  "rules": [
//!    {"paths": ["/srv/app/logs"], "classification": "confidential", "categories": ["pii"],
//!     "jurisdiction": "EU", "retention": "P90D"},
//!    {"paths": ["/srv/legal/case-*"], "legal_hold": true},
//!    {"paths": ["/srv/crm/customers/17"],
//!     "erasure_requested": {"id": "DSR-17", "date": "2026-11-30"}}],
//!  "urls": [{"prefixes": ["https://api.eu.example.com/"], "jurisdiction": "EU"}],
//!  "erasure_default": "deny_reads"}
//! ```
//!
//! A rule labels every path one of its globs matches and everything below it, so a label on a
//! directory is inherited down the tree. Globs are absolute; `*`, `?` and `[...]` stay within
//! one path component and `**` crosses components. When several rules apply, the highest
//! classification wins (`classifications` lists them from lowest to highest; default the four
//! above), categories add up, any legal hold holds, any erasure request is pending, and
//! jurisdiction, retention and the erasure request named come from the most specific rule
//! that sets them: the one matching nearest the path, the later one in the file on a tie.
//!
//! `retention` is an ISO 8601 duration ([`retention`]): a file whose last modification is
//! longer ago than that is `expired`. Its age is read from the descriptor the host opened,
//! never from a path looked up again ([`LabelRules::note_age`]), so a decision made before
//! the file is open sees `expired` false; one made after (the same request asked again, a
//! handle's later reads) sees what the descriptor said. A policy refuses expired data with a
//! forbid.
//!
//! `erasure_requested` marks a pending deletion request. By default (`"erasure_default":
//! "deny_reads"`) the gate refuses, whatever the policy says, the actions that would disclose
//! or carry off such data (`read`, `redacted_read`, `execute`, `move`) unless the run's
//! purpose is `erasure` ([`LabelRules::erasure_refusal`]); with `"policy_decides"` the policy
//! decides alone, from `resource.labels.erasure_requested`. Deleting is never refused by it.
//!
//! `urls` give endpoints a jurisdiction, by prefix of the canonical URL ([`urls`]); the
//! longest prefix that matches wins, the later rule on a tie.

mod retention;
mod urls;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use cedar_policy::RestrictedExpression;
use cedar_policy_core::ast;
use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::Deserialize;
use smol_str::SmolStr;

use crate::action::Action;
use crate::path::AbsPath;
use crate::resource::Resource;
use crate::validated::ValidationCache;
pub use retention::Period;

/// The classification of a path no rule classifies.
pub const UNLABELLED: &str = "unlabelled";

/// The purpose that may read data whose deletion was requested, under the default.
pub const ERASURE_PURPOSE: &str = "erasure";

/// What the default refuses on data pending erasure: the reads, running it (its content goes
/// to the interpreter and out), and moving it (a read at its new path would no longer see the
/// request). Writing and deleting, which are how it is erased, are left to the policy.
pub const ERASURE_REFUSES: [Action; 4] = [
    Action::FsRead,
    Action::FsRedactedRead,
    Action::FsExecute,
    Action::FsMove,
];

const DEFAULT_CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];

/// Why a labels file cannot be used. The run does not start: a policy that forbids reading
/// restricted data must not silently see every file as unlabelled.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("the labels file is not valid: {0}")]
    Syntax(String),
    #[error("labels rule {rule}: {message}")]
    Rule { rule: usize, message: String },
    #[error("labels URL rule {rule}: {message}")]
    UrlRule { rule: usize, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    #[serde(default)]
    classifications: Option<Vec<String>>,
    #[serde(default)]
    rules: Vec<RuleFile>,
    #[serde(default)]
    urls: Vec<UrlRuleFile>,
    #[serde(default)]
    erasure_default: ErasureDefault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    paths: Vec<String>,
    classification: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    jurisdiction: Option<String>,
    #[serde(default)]
    legal_hold: bool,
    retention: Option<String>,
    erasure_requested: Option<Erasure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlRuleFile {
    prefixes: Vec<String>,
    jurisdiction: String,
}

/// What the gate does with data whose deletion was requested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureDefault {
    /// Refuse [`ERASURE_REFUSES`] unless the purpose is [`ERASURE_PURPOSE`], whatever the
    /// policy says.
    #[default]
    DenyReads,
    /// Leave it to the policy (`resource.labels.erasure_requested`).
    PolicyDecides,
}

/// A pending deletion request: its id and the date it was made (`YYYY-MM-DD`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    pub id: String,
    pub date: String,
}

/// One rule, with its classification as a rank.
struct Rule {
    rank: Option<usize>,
    categories: Vec<String>,
    jurisdiction: Option<String>,
    legal_hold: bool,
    retention: Option<(String, Period)>,
    erasure: Option<Erasure>,
}

/// One URL rule, its prefixes in canonical form.
struct UrlRule {
    prefixes: Vec<String>,
    labels: Arc<Labels>,
}

/// What the labels of one path (or endpoint) are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub classification: String,
    pub categories: BTreeSet<String>,
    pub jurisdiction: Option<String>,
    pub legal_hold: bool,
    pub retention: Option<String>,
    /// Past its retention, as the descriptor the host opened says.
    pub expired: bool,
    /// A pending deletion request (the nearest rule's, if several apply).
    pub erasure: Option<Erasure>,
    period: Option<Period>,
    /// The rules (numbered from 1, as messages count them) the retention and the erasure
    /// request come from.
    retention_rule: Option<usize>,
    erasure_rule: Option<usize>,
    /// The same, as the Cedar record policies read (`resource.labels`).
    value: ast::Value,
    /// The same, as decision records carry them; made once, as the Cedar value is, because
    /// a labelled file read in a loop is recorded on every read.
    json: serde_json::Value,
}

/// One field of the Cedar record, in the two forms it is made in.
enum Field<'a> {
    Text(&'a str),
    Texts(&'a BTreeSet<String>),
    Bool(bool),
}

impl Labels {
    /// Labels with nothing set: unlabelled, no categories, no hold, no request.
    fn empty() -> Labels {
        Labels {
            classification: UNLABELLED.to_owned(),
            categories: BTreeSet::new(),
            jurisdiction: None,
            legal_hold: false,
            retention: None,
            expired: false,
            erasure: None,
            period: None,
            retention_rule: None,
            erasure_rule: None,
            value: ast::Value::from(false),
            json: serde_json::Value::Null,
        }
    }

    /// The record's fields, in the schema's order; absent texts read as "".
    fn fields(&self) -> [(&'static str, Field<'_>); 9] {
        let erasure = self.erasure.as_ref();
        [
            ("classification", Field::Text(&self.classification)),
            ("categories", Field::Texts(&self.categories)),
            (
                "jurisdiction",
                Field::Text(self.jurisdiction.as_deref().unwrap_or_default()),
            ),
            ("legal_hold", Field::Bool(self.legal_hold)),
            (
                "retention",
                Field::Text(self.retention.as_deref().unwrap_or_default()),
            ),
            ("expired", Field::Bool(self.expired)),
            ("erasure_requested", Field::Bool(erasure.is_some())),
            (
                "erasure_request",
                Field::Text(erasure.map_or("", |e| e.id.as_str())),
            ),
            (
                "erasure_date",
                Field::Text(erasure.map_or("", |e| e.date.as_str())),
            ),
        ]
    }

    /// Makes the Cedar and audit forms of what the fields say.
    fn sealed(mut self) -> Labels {
        let value = ast::Value::record(
            self.fields().map(|(name, field)| {
                let v = match field {
                    Field::Text(s) => ast::Value::from(s),
                    Field::Texts(set) => {
                        ast::Value::set(set.iter().map(|c| ast::Value::from(c.as_str())), None)
                    }
                    Field::Bool(b) => ast::Value::from(b),
                };
                (name, v)
            }),
            None,
        );
        let mut json = BTreeMap::new();
        json.insert("classification", serde_json::json!(self.classification));
        json.insert("categories", serde_json::json!(self.categories));
        if let Some(j) = &self.jurisdiction {
            json.insert("jurisdiction", serde_json::json!(j));
        }
        json.insert("legal_hold", serde_json::json!(self.legal_hold));
        if let Some(r) = &self.retention {
            json.insert("retention", serde_json::json!(r));
        }
        // Set only: records of data with neither stay as they were.
        if self.expired {
            json.insert("expired", serde_json::json!(true));
        }
        if let Some(e) = &self.erasure {
            json.insert(
                "erasure_request",
                serde_json::json!({"id": e.id, "date": e.date}),
            );
        }
        self.value = value;
        self.json = serde_json::json!(json);
        self
    }

    /// The labels of an endpoint a URL rule gives a jurisdiction; records carry only that.
    fn endpoint(jurisdiction: String) -> Labels {
        let mut labels = Labels {
            jurisdiction: Some(jurisdiction),
            ..Labels::empty()
        }
        .sealed();
        labels.json = serde_json::json!({"jurisdiction": labels.jurisdiction});
        labels
    }

    /// The labels of a path no rule applies to: unlabelled, no categories, no hold, not
    /// expired, no erasure request; absent texts read as "" in Cedar.
    pub fn unlabelled() -> &'static Labels {
        static NONE: OnceLock<Labels> = OnceLock::new();
        NONE.get_or_init(|| Labels::empty().sealed())
    }

    /// The labels as the audit trail records them; absent jurisdiction and retention, and
    /// `expired` and `erasure_request` when not set, are left out.
    pub fn to_json(&self) -> &serde_json::Value {
        &self.json
    }

    /// The retention period, when the rules set one.
    pub fn period(&self) -> Option<Period> {
        self.period
    }

    /// The rule (numbered from 1) the retention comes from.
    pub fn retention_rule(&self) -> Option<usize> {
        self.retention_rule
    }

    /// The rule (numbered from 1) the erasure request comes from.
    pub fn erasure_rule(&self) -> Option<usize> {
        self.erasure_rule
    }

    /// Whether data last modified at `modified` is past the retention at `now`.
    pub fn expired_at(&self, modified: SystemTime, now: SystemTime) -> bool {
        self.period.is_some_and(|p| p.expired(modified, now))
    }

    /// The same record as an expression, the form a request's context takes.
    pub(crate) fn expression(&self) -> RestrictedExpression {
        let record = RestrictedExpression::new_record(self.fields().map(|(name, field)| {
            let e = match field {
                Field::Text(s) => RestrictedExpression::new_string(s.to_owned()),
                Field::Texts(set) => RestrictedExpression::new_set(
                    set.iter()
                        .map(|c| RestrictedExpression::new_string(c.clone())),
                ),
                Field::Bool(b) => RestrictedExpression::new_bool(b),
            };
            (name.to_owned(), e)
        }));
        // The keys are distinct literals, so the record builds.
        record.unwrap_or_else(|_| unreachable!())
    }

    pub(crate) fn attribute(&self) -> (SmolStr, ast::PartialValue) {
        (
            SmolStr::new_static("labels"),
            // A record value shares its fields: the clone is a reference count.
            ast::PartialValue::Value(self.value.clone()),
        )
    }
}

/// The host owner's labels, parsed when first needed.
///
/// A labels file is read at the start of every run and may hold ten thousand rules. A run
/// parses it at start only if this build never parsed that text before (as the host's
/// validation cache records, see [`crate::validated`]): a file that does not parse stops the
/// run before the script. Otherwise it is parsed on first use, or on a thread of the worker
/// while the script starts ([`LabelRules::parse_in_background`]).
pub struct LabelRules {
    text: Arc<str>,
    index: Arc<OnceLock<Result<Index, String>>>,
    /// The paths the host found past their retention in this run, by the descriptors it
    /// opened ([`LabelRules::note_age`]); `any_expired` says whether there are any, so that
    /// a lookup costs nothing more while there are none.
    expired: Mutex<HashSet<AbsPath>>,
    any_expired: AtomicBool,
}

/// The rules indexed for lookups. Nothing is compiled up front: a literal path is a hash key,
/// and a glob with wildcards is filed under the literal directory it starts from and
/// compiled the first time a path below that directory is looked up.
struct Index {
    /// Literal paths (normalized), with the rules naming them.
    exact: HashMap<String, Vec<usize>>,
    /// Globs with wildcards, by the directory before their first wildcard component.
    under: HashMap<String, Vec<Wildcard>>,
    rules: Vec<Rule>,
    classifications: Vec<String>,
    urls: Vec<UrlRule>,
    erasure_default: ErasureDefault,
    /// Whether any rule sets a retention: if none does, no file's age is ever asked.
    any_retention: bool,
    /// Labels already merged, by the rules they were merged from in order (and whether
    /// expired): the files of one directory share them, and a merge allocates the Cedar and
    /// audit forms.
    merged: Mutex<HashMap<MergeKey, Arc<Labels>>>,
}

/// The rules applying to a path, in the order they merge, and whether it is expired.
type MergeKey = (Vec<usize>, bool);

/// Bound on remembered merges; past it the memory starts over.
const MAX_MERGED: usize = 4096;

struct Wildcard {
    glob: Glob,
    matcher: OnceLock<GlobMatcher>,
    rule: usize,
}

impl Default for LabelRules {
    /// No rules: every path is unlabelled.
    fn default() -> LabelRules {
        LabelRules::with_index(Arc::from(""), OnceLock::from(Ok(Index::default())))
    }
}

impl LabelRules {
    fn with_index(text: Arc<str>, index: OnceLock<Result<Index, String>>) -> LabelRules {
        LabelRules {
            text,
            index: Arc::new(index),
            expired: Mutex::new(HashSet::new()),
            any_expired: AtomicBool::new(false),
        }
    }

    /// Parses and indexes a labels file now.
    pub fn parse(text: &str) -> Result<LabelRules, LabelError> {
        let index = Index::parse(text)?;
        // Parsed: the text is not needed again.
        Ok(LabelRules::with_index(
            Arc::from(""),
            OnceLock::from(Ok(index)),
        ))
    }

    /// [`LabelRules::parse`] for a run: a text this build parsed before, as the host's
    /// validation cache says, is parsed when first needed; a text parsed here is recorded
    /// there.
    pub fn load_for_run(text: &str) -> Result<LabelRules, LabelError> {
        let cache = ValidationCache::system();
        if cache.as_ref().is_some_and(|c| c.vouches_for_labels(text)) {
            return Ok(LabelRules::with_index(Arc::from(text), OnceLock::new()));
        }
        let rules = LabelRules::parse(text)?;
        if let Some(cache) = cache {
            cache.store_labels(text);
        }
        Ok(rules)
    }

    /// Parses the file on a thread of its own, if that is still to do, so that the first
    /// decision finds it ready. Start it only where a thread may be started (the worker
    /// does, once it is confined).
    pub fn parse_in_background(&self) {
        if self.index.get().is_some() {
            return;
        }
        let (text, index) = (Arc::clone(&self.text), Arc::clone(&self.index));
        let spawned = std::thread::Builder::new()
            .name("labels".to_owned())
            .spawn(move || {
                index.get_or_init(|| reparse(&text));
            });
        // Without the thread, the first decision parses.
        drop(spawned);
    }

    /// Whether the rules can be looked at: parsed now if they were not yet. The text parsed
    /// before, so this fails only if it changed meaning under us; the gate then denies.
    pub fn ready(&self) -> Result<(), &str> {
        self.index().map(|_| ())
    }

    fn index(&self) -> Result<&Index, &str> {
        self.index
            .get_or_init(|| reparse(&self.text))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The labels of `path`: every rule matching it or one of its ancestors, merged, and
    /// `expired` if the host found it so in this run. `None` when no rule applies, and when
    /// the rules cannot be parsed (which [`LabelRules::ready`] reports, and the gate denies
    /// on).
    pub fn labels_of(&self, path: &AbsPath) -> Option<Arc<Labels>> {
        let expired = self.any_expired.load(Ordering::Relaxed)
            && self
                .expired
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(path);
        self.index().ok()?.labels_of(path, expired)
    }

    /// The labels a request about `resource` is decided with: a path's (as
    /// [`LabelRules::labels_of`]), or for a `network::url` the jurisdiction its URL rule
    /// gives. `None` for anything else, and for what no rule labels.
    pub fn labels_of_resource(&self, resource: &Resource) -> Option<Arc<Labels>> {
        match resource {
            Resource::File(p) | Resource::Dir(p) => self.labels_of(p),
            Resource::Url(url) => self.index().ok()?.labels_of_url(url),
            _ => None,
        }
    }

    /// The retention period the rules give `path`, so that its age decides `expired`: what
    /// the host asks before it reads an opened file's modification time. Costs nothing more
    /// than a flag where no rule sets a retention.
    pub fn retention_of(&self, path: &AbsPath) -> Option<Period> {
        let index = self.index().ok().filter(|i| i.any_retention)?;
        index.labels_of(path, false)?.period
    }

    /// Records what the host read from the descriptor it holds open on `path`, whose
    /// retention is `period` ([`LabelRules::retention_of`]): that the file was last modified
    /// at `modified`. From here on in the run, `path` is expired if that is longer ago than
    /// `period` at `now`, and not otherwise. `true` when this changed what
    /// [`LabelRules::labels_of`] says of `path`, so that decisions made with the old labels
    /// must be made again.
    pub fn note_age(
        &self,
        path: &AbsPath,
        period: Period,
        modified: SystemTime,
        now: SystemTime,
    ) -> bool {
        let expired = period.expired(modified, now);
        if !expired && !self.any_expired.load(Ordering::Relaxed) {
            return false;
        }
        let mut all = self.expired.lock().unwrap_or_else(|p| p.into_inner());
        let changed = if expired {
            all.insert(path.clone())
        } else {
            all.remove(path)
        };
        self.any_expired.store(!all.is_empty(), Ordering::Relaxed);
        changed
    }

    /// The deletion request the default refuses `action` for, on a resource labelled
    /// `labels`, to a run whose purpose is `purpose`: `None` when the labels file leaves it to
    /// the policy (`"erasure_default": "policy_decides"`), when no request is pending, when
    /// the action is not one of [`ERASURE_REFUSES`], and for purpose `erasure`.
    pub fn erasure_refusal(
        &self,
        action: Action,
        labels: Option<&Labels>,
        purpose: &str,
    ) -> Option<Erasure> {
        let erasure = labels?.erasure.as_ref()?;
        let default = self
            .index()
            .map_or(ErasureDefault::DenyReads, |i| i.erasure_default);
        (default == ErasureDefault::DenyReads
            && purpose != ERASURE_PURPOSE
            && ERASURE_REFUSES.contains(&action))
        .then(|| erasure.clone())
    }

    /// What the labels file does with data whose deletion was requested.
    pub fn erasure_default(&self) -> ErasureDefault {
        self.index()
            .map_or(ErasureDefault::DenyReads, |i| i.erasure_default)
    }

    /// Where `classification` stands among the file's classifications, lowest first;
    /// `None` for one it does not list ("unlabelled").
    pub(crate) fn rank(&self, classification: &str) -> Option<usize> {
        self.index()
            .ok()?
            .classifications
            .iter()
            .position(|c| c == classification)
    }
}

#[cfg(test)]
impl LabelRules {
    /// Rules over `text` as a run takes a text the cache vouches for: not parsed yet.
    pub(crate) fn unparsed(text: &str) -> LabelRules {
        LabelRules::with_index(Arc::from(text), OnceLock::new())
    }
}

/// Parses a text that parsed before.
fn reparse(text: &str) -> Result<Index, String> {
    Index::parse(text).map_err(|e| {
        format!("the labels file, parsed before, no longer parses, so everything is denied: {e}")
    })
}

impl Default for Index {
    fn default() -> Index {
        Index {
            exact: HashMap::new(),
            under: HashMap::new(),
            rules: Vec::new(),
            classifications: DEFAULT_CLASSIFICATIONS.map(str::to_owned).to_vec(),
            urls: Vec::new(),
            erasure_default: ErasureDefault::DenyReads,
            any_retention: false,
            merged: Mutex::new(HashMap::new()),
        }
    }
}

impl Index {
    fn parse(text: &str) -> Result<Index, LabelError> {
        let file: LabelsFile =
            serde_json::from_str(text).map_err(|e| LabelError::Syntax(e.to_string()))?;
        let classifications = file
            .classifications
            .unwrap_or_else(|| DEFAULT_CLASSIFICATIONS.map(str::to_owned).to_vec());
        let mut seen = BTreeSet::new();
        for c in &classifications {
            if c.is_empty() || c == UNLABELLED || !seen.insert(c) {
                return Err(LabelError::Syntax(format!(
                    "classification {c:?} is empty, reserved or listed twice"
                )));
            }
        }
        let mut out = Index {
            classifications,
            // Most rules name one literal path: sized once, the map is not rehashed while
            // ten thousand of them go in.
            exact: HashMap::with_capacity(file.rules.len()),
            erasure_default: file.erasure_default,
            ..Index::default()
        };
        let mut rules = Vec::with_capacity(file.rules.len());
        for (i, r) in file.rules.into_iter().enumerate() {
            // Rules are numbered from 1 in messages, as people count them in the file.
            let fail = |message: String| LabelError::Rule {
                rule: i + 1,
                message,
            };
            if r.paths.is_empty() {
                return Err(fail("has no paths".to_owned()));
            }
            if r.classification.is_none()
                && r.categories.is_empty()
                && r.jurisdiction.is_none()
                && !r.legal_hold
                && r.retention.is_none()
                && r.erasure_requested.is_none()
            {
                return Err(fail("sets no label".to_owned()));
            }
            let rank = match &r.classification {
                None => None,
                Some(c) => Some(out.classifications.iter().position(|k| k == c).ok_or_else(
                    || {
                        fail(format!(
                            "classification {c:?} is not one of {}; add it to \"classifications\"",
                            out.classifications.join(", ")
                        ))
                    },
                )?),
            };
            let retention = match r.retention {
                None => None,
                Some(text) => {
                    let period =
                        Period::parse(&text).map_err(|e| fail(format!("retention {e}")))?;
                    out.any_retention = true;
                    Some((text, period))
                }
            };
            if let Some(e) = &r.erasure_requested {
                if e.id.trim().is_empty() {
                    return Err(fail(
                        "erasure_requested has an empty id; give the request's id, e.g. \"DSR-17\""
                            .to_owned(),
                    ));
                }
                retention::check_date(&e.date)
                    .map_err(|why| fail(format!("erasure_requested date {why}")))?;
            }
            for pattern in &r.paths {
                out.add(pattern, i).map_err(fail)?;
            }
            rules.push(Rule {
                rank,
                categories: r.categories,
                jurisdiction: r.jurisdiction,
                legal_hold: r.legal_hold,
                retention,
                erasure: r.erasure_requested,
            });
        }
        out.rules = rules;
        for (i, u) in file.urls.into_iter().enumerate() {
            let fail = |message: String| LabelError::UrlRule {
                rule: i + 1,
                message,
            };
            if u.prefixes.is_empty() {
                return Err(fail("has no prefixes".to_owned()));
            }
            if u.jurisdiction.is_empty() {
                return Err(fail("has an empty jurisdiction".to_owned()));
            }
            let prefixes = u
                .prefixes
                .iter()
                .map(|p| urls::canonical_prefix(p).map_err(|e| fail(format!("URL prefix {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            out.urls.push(UrlRule {
                prefixes,
                labels: Arc::new(Labels::endpoint(u.jurisdiction)),
            });
        }
        Ok(out)
    }

    /// Files one path glob of rule `rule`. A trailing `/**` is dropped: a rule covers what
    /// lies below its matches anyway, and so the glob may become a literal path.
    fn add(&mut self, pattern: &str, rule: usize) -> Result<(), String> {
        if !pattern.starts_with('/') {
            return Err(format!(
                "path {pattern:?} is not absolute; write it from /, e.g. /srv/app/logs"
            ));
        }
        let mut trimmed = pattern;
        while let Some(rest) = trimmed.strip_suffix("/**") {
            trimmed = rest;
        }
        let wild = |c: &str| c.contains(['*', '?', '[', ']', '{', '}', '\\']);
        if !wild(trimmed) {
            let path = AbsPath::parse(match trimmed {
                "" => "/",
                t => t,
            })
            .map_err(|e| format!("path {pattern:?}: {e}"))?;
            self.exact
                .entry(path.as_str().to_owned())
                .or_default()
                .push(rule);
            return Ok(());
        }
        // Lookups are by normalized path, so a glob with `.`, `..` or an empty component
        // would silently never match: refuse it rather than leave data unlabelled.
        if trimmed
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(format!(
                "path {pattern:?} has an empty, . or .. component; write it normalized, e.g. /srv/app/*.log"
            ));
        }
        let glob = GlobBuilder::new(trimmed)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("path {pattern:?} is not a valid glob: {e}"))?;
        let literal: Vec<&str> = trimmed
            .split('/')
            .skip(1)
            .take_while(|c| !wild(c))
            .collect();
        let prefix = format!("/{}", literal.join("/"));
        self.under.entry(prefix).or_default().push(Wildcard {
            glob,
            matcher: OnceLock::new(),
            rule,
        });
        Ok(())
    }

    fn labels_of(&self, path: &AbsPath, expired: bool) -> Option<Arc<Labels>> {
        if self.rules.is_empty() {
            return None;
        }
        // The path, then its ancestors up to the root; depth counts from the root.
        let chain: Vec<&str> = std::iter::once(path.as_str())
            .chain(path.ancestors())
            .collect();
        let depth = |k: usize| chain.len() - 1 - k;
        // (depth, rule) of every rule that applies.
        let mut applying: Vec<(usize, usize)> = Vec::new();
        for (k, p) in chain.iter().enumerate() {
            if let Some(rules) = self.exact.get(*p) {
                applying.extend(rules.iter().map(|&r| (depth(k), r)));
            }
            // A glob filed under `p` can only match something strictly below it.
            for w in self.under.get(*p).into_iter().flatten() {
                let matcher = w.matcher.get_or_init(|| w.glob.compile_matcher());
                for (j, below) in chain[..k].iter().enumerate() {
                    if matcher.is_match(below) {
                        applying.push((depth(j), w.rule));
                    }
                }
            }
        }
        if applying.is_empty() {
            return None;
        }
        // Nearest last, and within one depth the later rule last, so later writes win.
        applying.sort_unstable();
        applying.dedup();
        let order: Vec<usize> = applying.iter().map(|&(_, r)| r).collect();
        let key = (order, expired);
        // A poisoned lock only means a panic elsewhere; the map is still a valid memo.
        let mut merged = self.merged.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(labels) = merged.get(&key) {
            return Some(labels.clone());
        }
        let labels = Arc::new(self.merge(&key.0, expired));
        if merged.len() >= MAX_MERGED {
            merged.clear();
        }
        merged.insert(key, labels.clone());
        Some(labels)
    }

    /// The labels of rules applied in `order`; `expired` only where they set a retention.
    fn merge(&self, order: &[usize], expired: bool) -> Labels {
        let mut rank = None;
        let mut labels = Labels::empty();
        for &r in order {
            let rule = &self.rules[r];
            rank = rank.max(rule.rank);
            labels.categories.extend(rule.categories.iter().cloned());
            labels.legal_hold |= rule.legal_hold;
            if rule.jurisdiction.is_some() {
                labels.jurisdiction.clone_from(&rule.jurisdiction);
            }
            if let Some((text, period)) = &rule.retention {
                labels.retention = Some(text.clone());
                labels.period = Some(*period);
                labels.retention_rule = Some(r + 1);
            }
            if rule.erasure.is_some() {
                labels.erasure.clone_from(&rule.erasure);
                labels.erasure_rule = Some(r + 1);
            }
        }
        labels.classification =
            rank.map_or(UNLABELLED.to_owned(), |k| self.classifications[k].clone());
        labels.expired = expired && labels.period.is_some();
        labels.sealed()
    }

    /// The labels the longest URL prefix matching `url` gives (the later rule on a tie).
    fn labels_of_url(&self, url: &str) -> Option<Arc<Labels>> {
        let mut best: Option<(usize, &Arc<Labels>)> = None;
        for rule in &self.urls {
            for prefix in &rule.prefixes {
                if urls::under(url, prefix) && best.is_none_or(|(len, _)| prefix.len() >= len) {
                    best = Some((prefix.len(), &rule.labels));
                }
            }
        }
        best.map(|(_, labels)| Arc::clone(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> LabelRules {
        LabelRules::parse(json).unwrap()
    }

    fn labels(rules: &LabelRules, path: &str) -> Option<Arc<Labels>> {
        rules.labels_of(&AbsPath::parse(path).unwrap())
    }

    /// A text the cache vouches for is parsed on first use, or on the worker's thread, and
    /// labels exactly as one parsed at start.
    #[test]
    fn rules_parsed_later_label_as_rules_parsed_at_start() {
        let text = r#"{"rules": [
            {"paths": ["/srv/clinic"], "classification": "restricted", "categories": ["phi"]},
            {"paths": ["/srv/t/*/keys/**"], "classification": "confidential"}]}"#;
        let (eager, lazy, background) = (
            rules(text),
            LabelRules::unparsed(text),
            LabelRules::unparsed(text),
        );
        assert!(lazy.index.get().is_none(), "parsed before it was asked");
        background.parse_in_background();
        for path in [
            "/srv/clinic/a",
            "/srv/t/1/keys/x/y",
            "/srv/t/1/other",
            "/etc/hosts",
        ] {
            let want = labels(&eager, path).map(|l| l.to_json().clone());
            assert_eq!(
                labels(&lazy, path).map(|l| l.to_json().clone()),
                want,
                "{path}"
            );
            assert_eq!(
                labels(&background, path).map(|l| l.to_json().clone()),
                want,
                "{path}"
            );
        }
    }

    #[test]
    fn rules_that_no_longer_parse_are_not_ready_and_label_nothing() {
        let broken = LabelRules::unparsed(r#"{"rules": [{"paths": []}]}"#);
        let e = broken.ready().unwrap_err();
        assert!(e.contains("everything is denied"), "{e}");
        assert!(labels(&broken, "/srv/clinic/a").is_none());
    }

    #[test]
    fn a_directory_label_is_inherited_by_everything_below_it() {
        let r = rules(
            r#"{"rules": [{"paths": ["/srv/app/logs"], "classification": "confidential",
                           "categories": ["pii"], "jurisdiction": "EU", "retention": "P90D"}]}"#,
        );
        for p in [
            "/srv/app/logs",
            "/srv/app/logs/app.log",
            "/srv/app/logs/2026/12/a.log",
        ] {
            let l = labels(&r, p).unwrap_or_else(|| panic!("{p} is unlabelled"));
            assert_eq!(l.classification, "confidential");
            assert_eq!(l.categories, BTreeSet::from(["pii".to_owned()]));
            assert_eq!(l.jurisdiction.as_deref(), Some("EU"));
            assert_eq!(l.retention.as_deref(), Some("P90D"));
            assert!(!l.legal_hold);
        }
        for p in ["/srv/app", "/srv/app/logs-old/a.log", "/"] {
            assert_eq!(labels(&r, p), None, "{p}");
        }
    }

    #[test]
    fn wildcards_stay_in_one_component_and_double_star_crosses() {
        let r = rules(
            r#"{"rules": [{"paths": ["/home/*/.ssh"], "categories": ["credentials"]},
                          {"paths": ["/srv/**/*.pem"], "categories": ["credentials"]},
                          {"paths": ["/srv/data/**"], "classification": "internal"}]}"#,
        );
        assert!(labels(&r, "/home/alice/.ssh/id_ed25519").is_some());
        assert_eq!(labels(&r, "/home/alice/work/.ssh/key"), None);
        assert!(labels(&r, "/srv/a/b/c/key.pem").is_some());
        assert!(labels(&r, "/srv/key.pem").is_some());
        assert_eq!(labels(&r, "/srv/key.pem.txt"), None);
        // `/srv/data/**` covers the directory and what is below, as `/srv/data` does.
        assert_eq!(labels(&r, "/srv/data").unwrap().classification, "internal");
        assert_eq!(
            labels(&r, "/srv/data/x/y").unwrap().classification,
            "internal"
        );
    }

    #[test]
    fn merging_takes_the_highest_class_all_categories_any_hold_and_the_nearest_rest() {
        let r = rules(
            r#"{"rules": [
                {"paths": ["/srv"], "classification": "restricted", "jurisdiction": "US",
                 "retention": "P7Y", "categories": ["pci"]},
                {"paths": ["/srv/eu"], "classification": "internal", "jurisdiction": "EU",
                 "categories": ["pii"]},
                {"paths": ["/srv/eu/case-*"], "legal_hold": true},
                {"paths": ["/srv/eu/case-1"], "jurisdiction": "DE"}]}"#,
        );
        let l = labels(&r, "/srv/eu/case-1/mail.txt").unwrap();
        assert_eq!(l.classification, "restricted");
        assert_eq!(
            l.categories,
            BTreeSet::from(["pci".to_owned(), "pii".to_owned()])
        );
        assert!(l.legal_hold);
        assert_eq!(l.jurisdiction.as_deref(), Some("DE"));
        assert_eq!(l.retention.as_deref(), Some("P7Y"));
        let l = labels(&r, "/srv/eu/other").unwrap();
        assert!(!l.legal_hold);
        assert_eq!(l.jurisdiction.as_deref(), Some("EU"));
    }

    #[test]
    fn custom_classifications_rank_in_the_order_given() {
        let r = rules(
            r#"{"classifications": ["open", "secret", "top-secret"],
                "rules": [{"paths": ["/a"], "classification": "top-secret"},
                          {"paths": ["/a/b"], "classification": "open"}]}"#,
        );
        assert_eq!(labels(&r, "/a/b/c").unwrap().classification, "top-secret");
        let e = LabelRules::parse(
            r#"{"classifications": ["open"], "rules": [{"paths": ["/a"], "classification": "internal"}]}"#,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("rule 1") && e.contains("\"internal\" is not one of open"),
            "{e}"
        );
    }

    #[test]
    fn refuses_files_that_would_label_nothing_or_something_unintended() {
        for (json, why) in [
            (
                r#"{"rules": [{"paths": ["srv/app"], "legal_hold": true}]}"#,
                "not absolute",
            ),
            (
                r#"{"rules": [{"paths": ["/srv/[a"], "legal_hold": true}]}"#,
                "not a valid glob",
            ),
            (
                r#"{"rules": [{"paths": ["/srv/../etc/*"], "legal_hold": true}]}"#,
                "normalized",
            ),
            (
                r#"{"rules": [{"paths": ["/srv//*.log"], "legal_hold": true}]}"#,
                "normalized",
            ),
            (
                r#"{"rules": [{"paths": [], "legal_hold": true}]}"#,
                "has no paths",
            ),
            (r#"{"rules": [{"paths": ["/srv"]}]}"#, "sets no label"),
            (
                r#"{"rules": [{"paths": ["/srv"], "legal-hold": true}]}"#,
                "unknown field",
            ),
            (
                r#"{"rules": [{"paths": ["/srv"], "legal_hold": "yes"}]}"#,
                "invalid type",
            ),
            (
                r#"{"classifications": ["a", "a"], "rules": []}"#,
                "listed twice",
            ),
            (
                r#"{"classifications": ["unlabelled"], "rules": []}"#,
                "reserved",
            ),
            (r#""rules""#, "invalid type"),
        ] {
            let e = LabelRules::parse(json)
                .err()
                .unwrap_or_else(|| panic!("{json} loaded"));
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn audit_form_names_every_label_that_is_set() {
        let r = rules(
            r#"{"rules": [{"paths": ["/h"], "legal_hold": true, "categories": ["phi", "pii"]}]}"#,
        );
        assert_eq!(
            labels(&r, "/h/x").unwrap().to_json().to_string(),
            r#"{"categories":["phi","pii"],"classification":"unlabelled","legal_hold":true}"#
        );
    }

    // Deletion requests, retention and URL rules.

    const ERASURE: &str = r#"{"rules": [
        {"paths": ["/srv/crm/customers/17"], "erasure_requested": {"id": "DSR-17", "date": "2026-11-30"}},
        {"paths": ["/srv/crm/exports/*-17.csv"], "erasure_requested": {"id": "DSR-18", "date": "2026-12-01"}},
        {"paths": ["/srv/crm"], "classification": "confidential", "categories": ["pii"]}]}"#;

    #[test]
    fn an_erasure_request_on_a_directory_is_pending_for_everything_below_it_and_globs_match() {
        let r = rules(ERASURE);
        for (path, id) in [
            ("/srv/crm/customers/17", "DSR-17"),
            ("/srv/crm/customers/17/profile.json", "DSR-17"),
            ("/srv/crm/customers/17/tickets/2026/a.txt", "DSR-17"),
            ("/srv/crm/exports/2026-11-17.csv", "DSR-18"),
        ] {
            let l = labels(&r, path).unwrap();
            assert_eq!(
                l.erasure.as_ref().map(|e| e.id.as_str()),
                Some(id),
                "{path}"
            );
            // The request adds to the other labels; it takes none away.
            assert_eq!(l.classification, "confidential", "{path}");
        }
        for path in [
            "/srv/crm/customers/170",
            "/srv/crm/customers/1",
            "/srv/crm/exports/2026-11-17.csv.bak",
            "/srv/crm/exports/x/2026-11-17.csv",
        ] {
            assert_eq!(labels(&r, path).unwrap().erasure, None, "{path}");
        }
        let l = labels(&r, "/srv/crm/customers/17/a").unwrap();
        assert_eq!(l.erasure_rule(), Some(1));
        assert_eq!(
            l.to_json()["erasure_request"],
            serde_json::json!({"id": "DSR-17", "date": "2026-11-30"})
        );
    }

    #[test]
    fn the_nearest_erasure_request_is_the_one_named() {
        let r = rules(
            r#"{"rules": [
                {"paths": ["/srv/c"], "erasure_requested": {"id": "DSR-1", "date": "2026-01-01"}},
                {"paths": ["/srv/c/17"], "erasure_requested": {"id": "DSR-2", "date": "2026-02-01"}}]}"#,
        );
        assert_eq!(
            labels(&r, "/srv/c/17/x")
                .unwrap()
                .erasure
                .as_ref()
                .unwrap()
                .id,
            "DSR-2"
        );
        assert_eq!(
            labels(&r, "/srv/c/18")
                .unwrap()
                .erasure
                .as_ref()
                .unwrap()
                .id,
            "DSR-1"
        );
    }

    #[test]
    fn the_default_refuses_disclosing_actions_to_every_purpose_but_erasure() {
        let r = rules(ERASURE);
        let l = labels(&r, "/srv/crm/customers/17/profile.json").unwrap();
        for action in ERASURE_REFUSES {
            let e = r.erasure_refusal(action, Some(&l), "support").unwrap();
            assert_eq!((e.id.as_str(), e.date.as_str()), ("DSR-17", "2026-11-30"));
            assert_eq!(r.erasure_refusal(action, Some(&l), "erasure"), None);
            // Purposes are compared exactly, as policies compare them.
            for spoof in ["", "Erasure", "erasure ", "erasure,support"] {
                assert!(
                    r.erasure_refusal(action, Some(&l), spoof).is_some(),
                    "{spoof:?}"
                );
            }
        }
        // Erasing it is not refused, nor looking at its metadata; that is the policy's call.
        for action in [
            Action::FsDelete,
            Action::FsWrite,
            Action::FsStat,
            Action::FsOpen,
        ] {
            assert_eq!(
                r.erasure_refusal(action, Some(&l), "support"),
                None,
                "{action}"
            );
        }
        let other = labels(&r, "/srv/crm/customers/18").unwrap();
        assert_eq!(
            r.erasure_refusal(Action::FsRead, Some(&other), "support"),
            None
        );
        assert_eq!(r.erasure_refusal(Action::FsRead, None, "support"), None);

        let by_policy =
            rules(&ERASURE.replacen('{', r#"{"erasure_default": "policy_decides", "#, 1));
        assert_eq!(by_policy.erasure_default(), ErasureDefault::PolicyDecides);
        let l = labels(&by_policy, "/srv/crm/customers/17").unwrap();
        assert!(l.erasure.is_some(), "the policy still sees the request");
        assert_eq!(
            by_policy.erasure_refusal(Action::FsRead, Some(&l), "support"),
            None
        );
    }

    #[test]
    fn erasure_requests_and_retention_are_checked_when_the_file_is_read() {
        for (json, why) in [
            (
                r#"{"rules": [{"paths": ["/a"], "erasure_requested": {"id": "", "date": "2026-11-30"}}]}"#,
                "empty id",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "erasure_requested": {"id": "D", "date": "30.11.2026"}}]}"#,
                "YYYY-MM-DD",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "erasure_requested": {"id": "D"}}]}"#,
                "missing field `date`",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "erasure_requested": true}]}"#,
                "invalid type",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "erasure_requested": {"id": "D", "date": "2026-11-30", "by": "x"}}]}"#,
                "unknown field",
            ),
            (
                r#"{"erasure_default": "allow", "rules": []}"#,
                "unknown variant",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "retention": "until-released"}]}"#,
                "rule 1: retention \"until-released\" does not start with P",
            ),
            (
                r#"{"rules": [{"paths": ["/a"], "legal_hold": true}, {"paths": ["/b"], "retention": "90 days"}]}"#,
                "rule 2: retention",
            ),
            (
                r#"{"urls": [{"prefixes": ["https://u@api.eu.example.com/"], "jurisdiction": "EU"}]}"#,
                "URL rule 1: URL prefix",
            ),
            (
                r#"{"urls": [{"prefixes": [], "jurisdiction": "EU"}]}"#,
                "no prefixes",
            ),
            (
                r#"{"urls": [{"prefixes": ["https://h/"], "jurisdiction": ""}]}"#,
                "empty jurisdiction",
            ),
            (
                r#"{"urls": [{"prefixes": ["https://h/"]}]}"#,
                "missing field `jurisdiction`",
            ),
        ] {
            let e = LabelRules::parse(json)
                .err()
                .unwrap_or_else(|| panic!("{json} loaded"));
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
        // A rule that only requests erasure sets a label.
        rules(
            r#"{"rules": [{"paths": ["/a"], "erasure_requested": {"id": "D", "date": "2026-11-30"}}]}"#,
        );
    }

    #[test]
    fn a_file_past_its_retention_is_expired_once_the_host_has_read_its_age() {
        use std::time::Duration;
        let r = rules(
            r#"{"rules": [{"paths": ["/srv/logs"], "retention": "P90D", "classification": "internal"},
                          {"paths": ["/srv/logs/keep"], "retention": "P10Y"},
                          {"paths": ["/srv/other"], "classification": "internal"}]}"#,
        );
        let (old, young) = (
            AbsPath::parse("/srv/logs/2025.log").unwrap(),
            AbsPath::parse("/srv/logs/today.log").unwrap(),
        );
        let now = SystemTime::now();
        let long_ago = now - Duration::from_secs(91 * 86_400);
        let of = |p: &AbsPath| r.retention_of(p).unwrap();
        assert_eq!(r.retention_of(&old), Some(Period::parse("P90D").unwrap()));
        assert_eq!(
            r.retention_of(&AbsPath::parse("/srv/other/x").unwrap()),
            None
        );
        assert_eq!(r.retention_of(&AbsPath::parse("/etc/hosts").unwrap()), None);
        assert!(
            !labels(&r, old.as_str()).unwrap().expired,
            "before its age is known"
        );
        assert!(
            r.note_age(&old, of(&old), long_ago, now),
            "the labels changed"
        );
        assert!(
            !r.note_age(&old, of(&old), long_ago, now),
            "no change the second time"
        );
        let l = r.labels_of(&old).unwrap();
        assert!(l.expired);
        assert_eq!(l.to_json()["expired"], true);
        assert_eq!(l.retention_rule(), Some(1));
        // Only that path: its neighbour and the longer retention below are not.
        assert!(!r.note_age(&young, of(&young), now, now));
        assert!(!r.labels_of(&young).unwrap().expired);
        let kept = AbsPath::parse("/srv/logs/keep/2025.log").unwrap();
        assert!(!r.note_age(&kept, of(&kept), long_ago, now));
        assert!(!r.labels_of(&kept).unwrap().expired);
        // Rewritten since: the descriptor says so, and it is no longer expired.
        assert!(r.note_age(&old, of(&old), now, now));
        assert!(!r.labels_of(&old).unwrap().expired);
        assert!(r
            .labels_of(&old)
            .unwrap()
            .to_json()
            .get("expired")
            .is_none());
        // Without a retention nothing expires, however old, whatever is noted of it.
        let other = AbsPath::parse("/srv/other/x").unwrap();
        r.note_age(&other, of(&old), SystemTime::UNIX_EPOCH, now);
        assert!(!r.labels_of(&other).unwrap().expired);
    }

    #[test]
    fn url_rules_give_endpoints_a_jurisdiction_by_the_longest_canonical_prefix() {
        let r = rules(
            r#"{"rules": [],
                "urls": [{"prefixes": ["https://api.eu.example.com/", "tcp://db.eu.internal:5432"], "jurisdiction": "EU"},
                         {"prefixes": ["HTTPS://API.EU.EXAMPLE.COM/us-mirror/"], "jurisdiction": "US"}]}"#,
        );
        let of = |url: &str| {
            r.labels_of_resource(&Resource::Url(url.to_owned()))
                .and_then(|l| l.jurisdiction.clone())
        };
        assert_eq!(of("https://api.eu.example.com:443/").as_deref(), Some("EU"));
        assert_eq!(
            of("https://api.eu.example.com:443/v1/x?y=1").as_deref(),
            Some("EU")
        );
        assert_eq!(
            of("https://api.eu.example.com:443/us-mirror/a").as_deref(),
            Some("US")
        );
        assert_eq!(of("tcp://db.eu.internal:5432").as_deref(), Some("EU"));
        for elsewhere in [
            "https://api.eu.example.com.evil.net:443/",
            "https://evil.net:443/",
            "http://api.eu.example.com:80/",
            "https://api.eu.example.com:8443/",
            "tcp://db.eu.internal:54321",
        ] {
            assert_eq!(of(elsewhere), None, "{elsewhere}");
        }
        let l = r
            .labels_of_resource(&Resource::Url("https://api.eu.example.com:443/".into()))
            .unwrap();
        assert_eq!(l.to_json(), &serde_json::json!({"jurisdiction": "EU"}));
        // Paths are untouched by URL rules, and URLs by path rules.
        assert_eq!(labels(&r, "/srv"), None);
    }
}
