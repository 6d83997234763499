//! Data labels: what the host owner says the data under a path is (its classification, the
//! kinds of personal or secret data it holds, where it may be processed, whether it is under
//! legal hold, how long it is kept), so that policies can decide on what a file holds and not
//! only on where it lies.
//!
//! The labels file is JSON:
//!
//! ```json
//! {"classifications": ["public", "internal", "confidential", "restricted"],
//!  "rules": [
//!    {"paths": ["/srv/app/logs"], "classification": "confidential", "categories": ["pii"],
//!     "jurisdiction": "EU", "retention": "P90D"},
//!    {"paths": ["/srv/legal/case-*"], "legal_hold": true}]}
//! ```
//!
//! A rule labels every path one of its globs matches and everything below it, so a label on a
//! directory is inherited down the tree. Globs are absolute; `*`, `?` and `[...]` stay within
//! one path component and `**` crosses components. When several rules apply, the highest
//! classification wins (`classifications` lists them from lowest to highest; default the four
//! above), categories add up, any legal hold holds, and jurisdiction and retention come from
//! the most specific rule that sets them: the one matching nearest the path, the later one in
//! the file on a tie.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::RestrictedExpression;
use cedar_policy_core::ast;
use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::Deserialize;
use smol_str::SmolStr;

use crate::path::AbsPath;
use crate::validated::ValidationCache;

/// The classification of a path no rule classifies.
pub const UNLABELLED: &str = "unlabelled";

const DEFAULT_CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];

/// Why a labels file cannot be used. The run does not start: a policy that forbids reading
/// restricted data must not silently see every file as unlabelled.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("the labels file is not valid: {0}")]
    Syntax(String),
    #[error("labels rule {rule}: {message}")]
    Rule { rule: usize, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    #[serde(default)]
    classifications: Option<Vec<String>>,
    rules: Vec<RuleFile>,
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
}

/// One rule, with its classification as a rank.
struct Rule {
    rank: Option<usize>,
    categories: Vec<String>,
    jurisdiction: Option<String>,
    legal_hold: bool,
    retention: Option<String>,
}

/// What the labels of one path are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub classification: String,
    pub categories: BTreeSet<String>,
    pub jurisdiction: Option<String>,
    pub legal_hold: bool,
    pub retention: Option<String>,
    /// The same, as the Cedar record policies read (`resource.labels`).
    value: ast::Value,
    /// The same, as decision records carry them; made once, as the Cedar value is, because
    /// a labelled file read in a loop is recorded on every read.
    json: serde_json::Value,
}

impl Labels {
    fn new(
        classification: String,
        categories: BTreeSet<String>,
        jurisdiction: Option<String>,
        legal_hold: bool,
        retention: Option<String>,
    ) -> Labels {
        let text = |s: &str| ast::Value::from(s);
        let value = ast::Value::record(
            [
                ("classification", text(&classification)),
                (
                    "categories",
                    ast::Value::set(categories.iter().map(|c| text(c)), None),
                ),
                (
                    "jurisdiction",
                    text(jurisdiction.as_deref().unwrap_or_default()),
                ),
                ("legal_hold", ast::Value::from(legal_hold)),
                ("retention", text(retention.as_deref().unwrap_or_default())),
            ],
            None,
        );
        let mut json = BTreeMap::new();
        json.insert("classification", serde_json::json!(classification));
        json.insert("categories", serde_json::json!(categories));
        if let Some(j) = &jurisdiction {
            json.insert("jurisdiction", serde_json::json!(j));
        }
        json.insert("legal_hold", serde_json::json!(legal_hold));
        if let Some(r) = &retention {
            json.insert("retention", serde_json::json!(r));
        }
        Labels {
            classification,
            categories,
            jurisdiction,
            legal_hold,
            retention,
            value,
            json: serde_json::json!(json),
        }
    }

    /// The labels of a path no rule applies to: unlabelled, no categories, no hold; absent
    /// jurisdiction and retention read as "" in Cedar.
    pub fn unlabelled() -> &'static Labels {
        static NONE: OnceLock<Labels> = OnceLock::new();
        NONE.get_or_init(|| Labels::new(UNLABELLED.to_owned(), BTreeSet::new(), None, false, None))
    }

    /// The labels as the audit trail records them; absent jurisdiction and retention are
    /// left out.
    pub fn to_json(&self) -> &serde_json::Value {
        &self.json
    }

    /// The same record as an expression, the form a request's context takes.
    pub(crate) fn expression(&self) -> RestrictedExpression {
        let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let record = RestrictedExpression::new_record([
            ("classification".to_owned(), text(&self.classification)),
            (
                "categories".to_owned(),
                RestrictedExpression::new_set(self.categories.iter().map(|c| text(c))),
            ),
            (
                "jurisdiction".to_owned(),
                text(self.jurisdiction.as_deref().unwrap_or_default()),
            ),
            (
                "legal_hold".to_owned(),
                RestrictedExpression::new_bool(self.legal_hold),
            ),
            (
                "retention".to_owned(),
                text(self.retention.as_deref().unwrap_or_default()),
            ),
        ]);
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
    /// Labels already merged, by the rules they were merged from in order: the files of one
    /// directory share them, and a merge allocates the Cedar and audit forms.
    merged: Mutex<HashMap<Vec<usize>, Arc<Labels>>>,
}

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
        LabelRules {
            text: Arc::from(""),
            index: Arc::new(OnceLock::from(Ok(Index::default()))),
        }
    }
}

impl LabelRules {
    /// Parses and indexes a labels file now.
    pub fn parse(text: &str) -> Result<LabelRules, LabelError> {
        let index = Index::parse(text)?;
        Ok(LabelRules {
            // Parsed: the text is not needed again.
            text: Arc::from(""),
            index: Arc::new(OnceLock::from(Ok(index))),
        })
    }

    /// [`LabelRules::parse`] for a run: a text this build parsed before, as the host's
    /// validation cache says, is parsed when first needed; a text parsed here is recorded
    /// there.
    pub fn load_for_run(text: &str) -> Result<LabelRules, LabelError> {
        let cache = ValidationCache::system();
        if cache.as_ref().is_some_and(|c| c.vouches_for_labels(text)) {
            return Ok(LabelRules {
                text: Arc::from(text),
                index: Arc::new(OnceLock::new()),
            });
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

    /// The labels of `path`: every rule matching it or one of its ancestors, merged. `None`
    /// when no rule applies, and when the rules cannot be parsed (which [`LabelRules::ready`]
    /// reports, and the gate denies on).
    pub fn labels_of(&self, path: &AbsPath) -> Option<Arc<Labels>> {
        self.index().ok()?.labels_of(path)
    }
}

#[cfg(test)]
impl LabelRules {
    /// Rules over `text` as a run takes a text the cache vouches for: not parsed yet.
    pub(crate) fn unparsed(text: &str) -> LabelRules {
        LabelRules {
            text: Arc::from(text),
            index: Arc::new(OnceLock::new()),
        }
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
            for pattern in &r.paths {
                out.add(pattern, i).map_err(fail)?;
            }
            rules.push(Rule {
                rank,
                categories: r.categories,
                jurisdiction: r.jurisdiction,
                legal_hold: r.legal_hold,
                retention: r.retention,
            });
        }
        out.rules = rules;
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

    fn labels_of(&self, path: &AbsPath) -> Option<Arc<Labels>> {
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
        // A poisoned lock only means a panic elsewhere; the map is still a valid memo.
        let mut merged = self.merged.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(labels) = merged.get(&order) {
            return Some(labels.clone());
        }
        let labels = Arc::new(self.merge(&order));
        if merged.len() >= MAX_MERGED {
            merged.clear();
        }
        merged.insert(order, labels.clone());
        Some(labels)
    }

    /// The labels of rules applied in `order`.
    fn merge(&self, order: &[usize]) -> Labels {
        let mut rank = None;
        let mut categories = BTreeSet::new();
        let mut jurisdiction = None;
        let mut legal_hold = false;
        let mut retention = None;
        for &r in order {
            let rule = &self.rules[r];
            rank = rank.max(rule.rank);
            categories.extend(rule.categories.iter().cloned());
            legal_hold |= rule.legal_hold;
            if rule.jurisdiction.is_some() {
                jurisdiction.clone_from(&rule.jurisdiction);
            }
            if rule.retention.is_some() {
                retention.clone_from(&rule.retention);
            }
        }
        let classification =
            rank.map_or(UNLABELLED.to_owned(), |k| self.classifications[k].clone());
        Labels::new(
            classification,
            categories,
            jurisdiction,
            legal_hold,
            retention,
        )
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
}
