//! Answers to questions that act on nothing: a probe, and an explanation of a decision.

use super::*;

// Public within the gate so that the gate can re-export what it answers with.
pub mod permissions;

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
    /// For a denial: the statement that would permit it, or the forbid to change
    /// ([`Denied::would_permit`]).
    pub would_permit: Option<String>,
    /// For a denial: what an operation would be told.
    pub denied: Option<Box<Denied>>,
}

/// The answer for the requests one operation makes (see [`Gate::explain_all`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationProbe {
    /// Each action of each request, in the order asked, with its explanation.
    pub explained: Vec<(Action, Resource, Explanation)>,
    /// What the operation would be told, exactly as [`Gate::authorize_all`] would tell it:
    /// the first denial, or a later forbid that no permit added for the first could get
    /// past. `None` when every request is permitted.
    pub denied: Option<Box<Denied>>,
}

impl Gate {
    /// Why a request gets its answer: the decision, every policy whose scope covers the
    /// request with whether its condition held, and for a denial what would permit it. The
    /// decision is a [`Gate::probe`], recorded as one.
    pub fn explain(&self, action: Action, resource: &Resource, context: &Context) -> Explanation {
        let Probe { decision, denied } = self.probe(action, resource, context);
        // The resource's own labels, also where the probe was refused before any policy
        // was asked (and so carries none).
        let labels = self.labels.labels_of_resource(resource);
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
        // One text for what would permit it, whoever asks: see `Denied::would_permit`.
        let would_permit = denied
            .as_ref()
            .filter(|_| !decision.permitted)
            .map(|d| d.would_permit());
        Explanation {
            decision,
            bearings,
            would_permit,
            denied,
        }
    }

    /// [`Gate::explain`] for every action of every request an operation makes, each one
    /// recorded as a probe, and the denial the operation would get, made by the same code
    /// that makes a run's ([`Gate::authorize_all`]): so a question about an operation and
    /// the operation itself say the same thing. Unlike an operation, it asks every request,
    /// not only those up to the first denial.
    pub fn explain_all(&self, requests: &[Request<'_>]) -> OperationProbe {
        let mut explained = Vec::new();
        let mut first = None;
        for (at, r) in requests.iter().enumerate() {
            for &action in r.actions {
                let e = self.explain(action, r.resource, r.context);
                if first.is_none() {
                    first = e.denied.as_ref().map(|d| (at, action, (**d).clone()));
                }
                explained.push((action, r.resource.clone(), e));
            }
        }
        let denied = first.map(|(at, action, refusal)| {
            Box::new(self.what_mattered(refusal, requests, &requests[at], action))
        });
        OperationProbe { explained, denied }
    }
}
