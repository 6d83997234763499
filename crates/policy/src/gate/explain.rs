//! Answers to questions that act on nothing: a probe, and an explanation of a decision.

use super::*;

/// The answer to a question that runs nothing (see [`Gate::probe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The decision as an operation would get it: not permitted whenever `denied` is set.
    pub decision: Decision,
    /// For a denial: what an operation would be told.
    pub denied: Option<Box<Denied>>,
}

impl Probe {
    /// Why it is denied, as [`Denied::reason`] says it; `None` for a permit.
    pub fn reason(&self) -> Option<String> {
        self.denied.as_ref().map(|d| d.reason())
    }
}

/// How one policy bears on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bearing {
    pub policy: String,
    /// A permit (else a forbid).
    pub permit: bool,
    /// Whether its scope and condition hold for the request.
    pub applies: bool,
    pub errors: Vec<String>,
}

/// The answer to "why this decision?" (see [`Gate::explain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub decision: Decision,
    /// The policies whose scope covers the request, in policy order.
    pub bearings: Vec<Bearing>,
    /// For a denial: the statement that would permit it, or the forbid to change.
    pub would_permit: Option<String>,
}

impl Gate {
    /// Why a request gets its answer: the decision, every policy whose scope covers the
    /// request with whether its condition held, and for a denial what would permit it. The
    /// decision is a [`Gate::probe`], recorded as one.
    pub fn explain(&self, action: Action, resource: &Resource, context: &Context) -> Explanation {
        let Probe { decision, denied } = self.probe(action, resource, context);
        // The resource's own labels, also where the probe was refused before any policy
        // was asked (and so carries none).
        let labels = resource.path().and_then(|p| self.labels.labels_of(p));
        let labels = labels.as_deref().unwrap_or(Labels::unlabelled());
        let mut bearings = Vec::new();
        if let (Some(slice), Ok((request, entities))) = (
            self.slice(action, resource).ok().flatten(),
            self.request(action, resource, labels, context),
        ) {
            for policy in slice.policies() {
                let alone = PolicySet::from_policies([policy.clone()])
                    // One policy: its id cannot clash.
                    .unwrap_or_else(|_| unreachable!());
                let response = self
                    .cedar_principal()
                    .authorizer
                    .is_authorized(&request, &alone, &entities);
                bearings.push(Bearing {
                    policy: self.policies.name(policy.id()),
                    permit: policy.effect() == cedar_policy::Effect::Permit,
                    applies: response.diagnostics().reason().next().is_some(),
                    errors: response
                        .diagnostics()
                        .errors()
                        .map(|e| e.to_string())
                        .collect(),
                });
            }
        }
        let forbids: Vec<&str> = bearings
            .iter()
            .filter(|b| !b.permit && b.applies)
            .map(|b| b.policy.as_str())
            .collect();
        let refused_before_policies = denied
            .as_ref()
            .filter(|d| d.frozen || d.own_file.is_some() || d.unrecorded.is_some());
        let would_permit = if decision.permitted {
            None
        } else if let Some(d) = refused_before_policies {
            Some(d.reason())
        } else if !forbids.is_empty() {
            Some(format!(
                "forbidden by {}: a forbid overrides every permit, so change that policy or what its condition looks at",
                forbids.join(", ")
            ))
        } else {
            let mut narrowest = format!(
                "permit(principal == {}, action == {action}, resource == {resource});",
                self.principal()
            );
            if let Some(dir) = resource.path().and_then(|p| p.parent()) {
                narrowest.push_str(&format!(
                    " or, for its directory, permit(principal == {}, action == {action}, resource in {});",
                    self.principal(),
                    Resource::Dir(dir)
                ));
            }
            Some(narrowest)
        };
        Explanation {
            decision,
            bearings,
            would_permit,
        }
    }
}
