//! Shadow decisions: a candidate policy decides every request beside the enforced one, and
//! where the two differ the difference is recorded and reported. The candidate never decides:
//! its answer reaches only the record and the run's report, never the operation.

use super::*;

/// A candidate policy, decided beside the enforced one.
pub(super) struct Shadow {
    /// A gate of its own (same caller, labels, own files and kill switch) so the candidate is
    /// decided exactly as the enforced policy is, memory and slicing included. It records
    /// nothing: its verdicts go into the enforced gate's records.
    gate: Gate,
    /// The distinct differences so far, in the order first seen.
    differences: Mutex<Vec<ShadowDifference>>,
}

/// What the candidate would have decided, where it differs from the enforced decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowVerdict {
    /// The candidate's decision (the opposite of the enforced one).
    pub permitted: bool,
    /// The candidate's policies that determined it (empty: nothing in the candidate permits).
    pub policies: Vec<String>,
}

/// One request on which the candidate and the enforced policy disagree, as a run reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShadowDifference {
    /// `would_deny` (enforced permits, candidate denies) or `would_permit`.
    pub change: String,
    pub action: String,
    pub resource: String,
    /// The enforced policy's determining policies.
    pub enforced_policies: Vec<String>,
    /// The candidate's determining policies.
    pub candidate_policies: Vec<String>,
}

/// Distinct differences a run keeps for its report; every one is still in the audit log.
const MAX_REPORTED: usize = 1000;

impl Shadow {
    pub(super) fn new(gate: Gate) -> Shadow {
        Shadow {
            gate,
            differences: Mutex::new(Vec::new()),
        }
    }

    /// The candidate's verdict on a request the enforced policy decided as `enforced`, if it
    /// differs.
    pub(super) fn verdict(
        &self,
        action: Action,
        resource: &Resource,
        context: &Context,
        enforced: &Decision,
    ) -> Option<ShadowVerdict> {
        let candidate = self.gate.decide_remembered(action, resource, context);
        if candidate.permitted == enforced.permitted {
            return None;
        }
        let difference = ShadowDifference {
            change: if candidate.permitted {
                "would_permit"
            } else {
                "would_deny"
            }
            .to_owned(),
            action: action.to_string(),
            resource: resource.to_string(),
            enforced_policies: enforced.policies.clone(),
            candidate_policies: candidate.policies.clone(),
        };
        let mut seen = self.differences.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < MAX_REPORTED && !seen.contains(&difference) {
            seen.push(difference);
        }
        Some(ShadowVerdict {
            permitted: candidate.permitted,
            policies: candidate.policies,
        })
    }

    pub(super) fn forget_decisions(&self) {
        self.gate.forget_decisions();
    }

    pub(super) fn policies(&self) -> &Policies {
        &self.gate.policies
    }

    pub(super) fn differences(&self) -> Vec<ShadowDifference> {
        self.differences
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Gate {
    /// Decides every request under `candidate` too (a gate for the same caller, with the same
    /// labels and own files), and records where it differs; `candidate` never decides.
    pub fn with_shadow(mut self, mut candidate: Gate) -> Gate {
        candidate.taint = Arc::clone(&self.taint);
        self.shadow = Some(Box::new(Shadow::new(candidate)));
        self
    }

    /// The candidate policy of a shadow run.
    pub fn shadow_policies(&self) -> Option<&Policies> {
        self.shadow.as_deref().map(Shadow::policies)
    }

    /// The distinct requests so far on which the candidate disagreed (at most a thousand;
    /// the audit log has every decision). Empty when this is not a shadow run.
    pub fn shadow_differences(&self) -> Vec<ShadowDifference> {
        self.shadow
            .as_deref()
            .map(Shadow::differences)
            .unwrap_or_default()
    }
}
