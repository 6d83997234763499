//! `tollgate audit shadow-report`: what the candidate policies of shadow runs
//! (`tollgate run --shadow`) would have changed, summed up over every run in the audit log.
//!
//! A shadow run's `run_start` names the candidate by its hash, and each decision the
//! candidate would have made otherwise carries a `shadow` verdict. The report groups those by
//! candidate, then by kind of change: would deny or would permit, the action, the type of
//! resource and the policies on each side, with how often, in how many runs, and a few of the
//! resources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;
use tollgate_audit::Event;

use crate::printable;

/// Resources named per kind of change.
const EXAMPLES: usize = 3;

/// One candidate policy's effect over the runs it shadowed.
#[derive(Default, Serialize)]
pub struct Candidate {
    pub policy_sha256: String,
    pub runs: usize,
    /// Decisions made in those runs (shadowed or not), and how many the candidate would have
    /// made otherwise.
    pub decisions: u64,
    pub differences: u64,
    pub changes: Vec<Change>,
}

/// Requests of one kind that the candidate would have decided otherwise.
#[derive(Serialize)]
pub struct Change {
    /// `would_deny` (enforced permitted) or `would_permit` (enforced denied).
    pub change: &'static str,
    pub action: String,
    pub resource_type: String,
    pub enforced_policies: Vec<String>,
    pub candidate_policies: Vec<String>,
    pub decisions: u64,
    pub runs: usize,
    /// The first few resources, in the order met.
    pub examples: Vec<String>,
}

type ChangeKey = (&'static str, String, String, Vec<String>, Vec<String>);

#[derive(Default)]
struct Tally {
    decisions: u64,
    runs: BTreeSet<String>,
    examples: Vec<String>,
}

/// The report over every shadow run in `dir`, by candidate.
pub fn report(dir: &Path) -> Result<Vec<Candidate>, String> {
    // The candidate of each shadow run, and what it is summed into.
    let mut candidate_of: HashMap<String, String> = HashMap::new();
    let mut runs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut decisions: HashMap<String, u64> = HashMap::new();
    let mut differences: HashMap<String, u64> = HashMap::new();
    let mut changes: BTreeMap<String, BTreeMap<ChangeKey, Tally>> = BTreeMap::new();
    tollgate_audit::scan(dir, |scanned| {
        let record = &scanned.record;
        match &record.event {
            Event::RunStart {
                shadow_policy_sha256: Some(sha),
                ..
            } => {
                candidate_of.insert(record.run.clone(), sha.clone());
                runs.entry(sha.clone())
                    .or_default()
                    .insert(record.run.clone());
            }
            Event::Decision {
                action,
                resource_type,
                resource_id,
                decision,
                policies,
                probe: false,
                shadow,
                ..
            } => {
                let Some(sha) = candidate_of.get(&record.run) else {
                    return Ok(());
                };
                *decisions.entry(sha.clone()).or_default() += 1;
                let Some(verdict) = shadow else {
                    return Ok(());
                };
                *differences.entry(sha.clone()).or_default() += 1;
                let candidate_policies = verdict["policies"]
                    .as_array()
                    .map(|p| {
                        p.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let change = if decision == "permit" {
                    "would_deny"
                } else {
                    "would_permit"
                };
                let key = (
                    change,
                    action.clone(),
                    resource_type.clone(),
                    policies.clone(),
                    candidate_policies,
                );
                let tally = changes
                    .entry(sha.clone())
                    .or_default()
                    .entry(key)
                    .or_default();
                tally.decisions += 1;
                tally.runs.insert(record.run.clone());
                if tally.examples.len() < EXAMPLES && !tally.examples.contains(resource_id) {
                    tally.examples.push(resource_id.clone());
                }
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(runs
        .into_iter()
        .map(|(sha, shadowed)| {
            let mut list: Vec<Change> = changes
                .remove(&sha)
                .unwrap_or_default()
                .into_iter()
                .map(
                    |((change, action, resource_type, enforced, candidate), t)| Change {
                        change,
                        action,
                        resource_type,
                        enforced_policies: enforced,
                        candidate_policies: candidate,
                        decisions: t.decisions,
                        runs: t.runs.len(),
                        examples: t.examples,
                    },
                )
                .collect();
            // The commonest first.
            list.sort_by_key(|c| std::cmp::Reverse(c.decisions));
            Candidate {
                decisions: decisions.get(&sha).copied().unwrap_or(0),
                differences: differences.get(&sha).copied().unwrap_or(0),
                runs: shadowed.len(),
                policy_sha256: sha,
                changes: list,
            }
        })
        .collect())
}

/// The report as lines for people; every name from the log is escaped.
pub fn human(candidates: &[Candidate]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if candidates.is_empty() {
        out.push_str("no shadow runs in the audit log (run with --shadow CANDIDATE.cedar)\n");
    }
    let list = |p: &[String]| {
        if p.is_empty() {
            "no policy".to_owned()
        } else {
            p.join(", ")
        }
    };
    for c in candidates {
        let _ = writeln!(
            out,
            "candidate sha256:{}: {} runs, {} decisions, {} would change",
            c.policy_sha256, c.runs, c.decisions, c.differences
        );
        for ch in &c.changes {
            let line = format!(
                "  {} {} on {}: {} decisions in {} runs (enforced: {}; candidate: {}), e.g. {}",
                ch.change,
                ch.action,
                ch.resource_type,
                ch.decisions,
                ch.runs,
                list(&ch.enforced_policies),
                list(&ch.candidate_policies),
                ch.examples.join(", ")
            );
            let _ = writeln!(out, "{}", printable::line(&line));
        }
    }
    out
}
