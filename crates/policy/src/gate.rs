//! The gate: every request is decided here, and only here can a [`Permit`] be made.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cedar_policy::{Authorizer, Entities, EntityUid, PolicySet};
use cedar_policy_core::ast as core_ast;
use cedar_policy_core::entities as core_entities;
use cedar_policy_core::extensions::Extensions;

use crate::action::Action;
use crate::identity::{Caller, Directory};
use crate::index::PathScopes;
use crate::labels::{LabelRules, Labels};
use crate::own::OwnFiles;
use crate::policies::{Policies, Schema};
use crate::resource::{Context, Resource};

/// Proof that the gate permitted `actions` on `resource`. Host operations take one and act on
/// the resource it names, so they cannot touch anything the gate did not see.
#[derive(Debug)]
#[must_use = "an effect must take the permit for what it touches"]
pub struct Permit {
    resource: Resource,
    actions: Vec<Action>,
}

impl Permit {
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Whether this permit covers `action`.
    pub fn allows(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }
}

/// A refusal, with what a person needs to change the outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub principal: String,
    pub action: Action,
    pub resource: Resource,
    /// Names of the forbid policies that matched; empty when nothing permitted the request.
    pub forbidden_by: Vec<String>,
    /// Policies that failed to evaluate for this request (they count as not matching).
    pub errors: Vec<String>,
    /// Set when the decision could not be written to the decision log: then the answer is
    /// deny, whatever the policy said.
    pub unrecorded: Option<String>,
    /// Set when the host is frozen (`tollgate freeze`): every decision is a deny.
    pub frozen: bool,
    /// Set when the request touches one of Tollgate's own files (what it is): denied
    /// whatever the policy says.
    pub own_file: Option<String>,
}

/// Where the gate writes each decision before it takes effect (the audit trail).
pub trait DecisionLog {
    /// Records the decisions of one request, in order, all or none. An error means they were
    /// not recorded, and the gate denies.
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String>;
}

/// What a gate writes its decisions to. Every gate has one: there is no gate that decides
/// without saying whether its decisions are recorded.
pub enum Recorder {
    /// Each decision is recorded here before it is answered; one that cannot be is a deny.
    Log(Box<dyn DecisionLog>),
    /// Nothing is recorded: a run with `--no-audit`, or a tool that answers questions about
    /// a policy without running anything (`policy test`, `explain`).
    Unaudited,
}

/// One request to the gate: actions on a resource, in a context.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub actions: &'a [Action],
    pub resource: &'a Resource,
    pub context: &'a Context,
}

/// One decision, as handed to the [`DecisionLog`].
#[derive(Debug)]
pub struct DecisionEntry<'a> {
    pub principal: &'a str,
    /// Who the principal acts for, and why.
    pub caller: &'a Caller,
    pub action: Action,
    pub resource: &'a Resource,
    pub permitted: bool,
    /// Names of the policies that determined it.
    pub policies: Vec<String>,
    /// For a denial, the message the caller will see.
    pub error: Option<String>,
    /// The data labels of a labelled file or directory.
    pub labels: Option<Arc<Labels>>,
    /// A question that ran nothing (see [`Gate::probe`]), not a request of an operation.
    pub probe: bool,
}

impl Denied {
    /// Why it was denied and what would change that, without the who/what/where prefix.
    pub fn reason(&self) -> String {
        if self.frozen {
            return "the host is frozen (tollgate freeze), so every request is denied until `tollgate thaw`".to_owned();
        }
        if let Some(what) = &self.own_file {
            return format!(
                "it is Tollgate's own file ({what}), which no script may change (or, for a key, read), whatever the policy says"
            );
        }
        if let Some(e) = &self.unrecorded {
            return format!(
                "the decision could not be written to the audit log ({e}), so it is denied; fix the audit log (disk space, permissions, lock) and run again"
            );
        }
        let mut out = if self.forbidden_by.is_empty() {
            "no policy permits it; add a permit for this action and resource to the policy"
                .to_owned()
        } else {
            format!(
                "forbidden by policy {}; a forbid overrides every permit",
                self.forbidden_by.join(", ")
            )
        };
        for e in &self.errors {
            out.push_str("; policy error: ");
            out.push_str(e);
        }
        out
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not allowed to {} on {}: {}",
            self.principal,
            self.action,
            self.resource,
            self.reason()
        )
    }
}

impl std::error::Error for Denied {}

/// One decision as Cedar made it, for explanations and probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub permitted: bool,
    /// Names of the policies that determined the decision.
    pub policies: Vec<String>,
    pub errors: Vec<String>,
    /// The labels the resource was decided with (none for an unlabelled one).
    pub labels: Option<Arc<Labels>>,
}

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

/// How many requests were permitted and denied in this run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionCounts {
    pub permits: u64,
    pub denies: u64,
}

/// Decides requests for one principal against one validated policy set.
pub struct Gate {
    schema: Schema,
    policies: Policies,
    principal: EntityUid,
    principal_text: String,
    caller: Caller,
    /// The entities that describe the caller (agent, user, groups), in every request.
    caller_entities: Vec<core_ast::Entity>,
    /// The host owner's data labels, looked up for every fresh decision on a path.
    labels: Arc<LabelRules>,
    action_uids: Vec<EntityUid>,
    authorizer: Authorizer,
    permits: AtomicU64,
    denies: AtomicU64,
    /// Decisions already made in this run. The policy set and the entity data are fixed for
    /// the life of a gate, so the same request always gets the same answer; scripts ask the
    /// same questions over and over (a loop over a directory, a file read in a loop).
    decided: Mutex<HashMap<(Action, Resource), Decision>>,
    recorder: Recorder,
    /// Raised while the host is frozen; checked before every decision, remembered or not.
    frozen: Arc<AtomicBool>,
    /// Tollgate's own files, kept from every script whatever the policy says.
    own_files: Arc<OwnFiles>,
}

/// What [`Gate::ask`] found: each decision made, as recorded, and the denial that stopped it.
struct Answer<'a> {
    entries: Vec<DecisionEntry<'a>>,
    /// The policy errors of the last decision.
    errors: Vec<String>,
    denied: Option<Denied>,
}

/// Why a request is denied before any policy is asked.
enum Refusal<'a> {
    Frozen,
    /// One of Tollgate's own files, and what it is.
    OwnFile(&'a str),
}

impl Decision {
    /// A deny that no policy made.
    fn refused(labels: Option<Arc<Labels>>) -> Decision {
        Decision {
            permitted: false,
            policies: Vec::new(),
            errors: Vec::new(),
            labels,
        }
    }
}

/// Bound on remembered decisions; past it the memory starts over.
const MAX_REMEMBERED: usize = 1 << 16;

impl Gate {
    /// A gate for `User::"<user>"` (the OS user, with no stated purpose); see
    /// [`Gate::for_caller`].
    pub fn new(
        schema: Schema,
        policies: Policies,
        user: &str,
        recorder: Recorder,
        frozen: Arc<AtomicBool>,
    ) -> Gate {
        Gate::for_caller(
            schema,
            policies,
            Caller::os_user(user),
            &Directory::default(),
            recorder,
            frozen,
        )
    }

    /// A gate for `caller`: its principal, its purpose and ticket in every request's
    /// context, and what the host's directory says about the user behind it. Every decision
    /// is written to `recorder` before it is answered, and every decision is a deny while
    /// `frozen` is raised (the host's kill switch).
    pub fn for_caller(
        schema: Schema,
        policies: Policies,
        caller: Caller,
        directory: &Directory,
        recorder: Recorder,
        frozen: Arc<AtomicBool>,
    ) -> Gate {
        let principal = caller.uid();
        let action_uids = Action::ALL
            .iter()
            .map(|a| schema.action_entities[a.index()][0].uid())
            .collect();
        Gate {
            principal_text: principal.to_string(),
            schema,
            policies,
            principal,
            caller_entities: caller.entities(directory),
            caller,
            labels: Arc::new(LabelRules::default()),
            action_uids,
            authorizer: Authorizer::new(),
            permits: AtomicU64::new(0),
            denies: AtomicU64::new(0),
            decided: Mutex::new(HashMap::new()),
            recorder,
            frozen,
            own_files: Arc::new(OwnFiles::new()),
        }
    }

    /// Refuses changes to `own` (and any access to its secrets) whatever the policy says.
    pub fn with_own_files(mut self, own: Arc<OwnFiles>) -> Gate {
        self.own_files = own;
        self
    }

    /// The files this gate keeps from every script.
    pub fn own_files(&self) -> &OwnFiles {
        &self.own_files
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    /// Gives files and directories the labels `rules` assign (default: all unlabelled).
    pub fn with_labels(mut self, rules: Arc<LabelRules>) -> Gate {
        self.labels = rules;
        self
    }

    /// Who the gate decides for.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The principal as Cedar sees it, e.g. `User::"alice"`.
    pub fn principal(&self) -> &str {
        &self.principal_text
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Where the policies could permit any of `actions` on files (see
    /// [`PathScopes`]): what a sandbox around a child process can be derived from.
    pub fn permit_scopes(&self, actions: &[Action]) -> PathScopes {
        self.policies.index.permit_scopes(actions)
    }

    /// Permits `actions` on `resource` only if each one is permitted; stops at the first
    /// denial.
    pub fn authorize(
        &self,
        actions: &[Action],
        resource: &Resource,
    ) -> Result<Permit, Box<Denied>> {
        self.authorize_in(actions, resource, &Context::Empty)
    }

    /// As [`Gate::authorize`], with a request context (e.g. a move's destination).
    pub fn authorize_in(
        &self,
        actions: &[Action],
        resource: &Resource,
        context: &Context,
    ) -> Result<Permit, Box<Denied>> {
        self.authorize_all(&[Request {
            actions,
            resource,
            context,
        }])
    }

    /// Decides several requests that one operation needs (e.g. `open` on a directory, then
    /// `open` + `read` on a file in it), stopping at the first deny, and writes all their
    /// decisions to the log in one append before answering. The permit is for the last
    /// request.
    pub fn authorize_all(&self, requests: &[Request<'_>]) -> Result<Permit, Box<Denied>> {
        if let Some(d) = self.ask(requests, false).denied {
            return Err(Box::new(d));
        }
        let last = requests
            .last()
            .ok_or_else(|| Box::new(self.empty_request()))?;
        Ok(Permit {
            resource: last.resource.clone(),
            actions: last.actions.to_vec(),
        })
    }

    /// Asks exactly as [`Gate::authorize_in`] would for `action` on `resource` (Tollgate's
    /// own files, the kill switch, the labels, the policies, this gate's memory of earlier
    /// decisions), and records the decision, marked as a probe, before answering; but makes
    /// no [`Permit`], so nothing can act on the answer. A decision that cannot be recorded
    /// is a deny, as for an operation.
    pub fn probe(&self, action: Action, resource: &Resource, context: &Context) -> Probe {
        let actions = [action];
        let request = [Request {
            actions: &actions,
            resource,
            context,
        }];
        let answer = self.ask(&request, true);
        // One request of one action: one decision, denied or not.
        let Some(entry) = answer.entries.into_iter().next() else {
            return Probe {
                decision: Decision::refused(None),
                denied: Some(Box::new(self.empty_request())),
            };
        };
        let decision = match &answer.denied {
            Some(d) if d.unrecorded.is_some() => Decision::refused(entry.labels),
            _ => Decision {
                permitted: entry.permitted,
                policies: entry.policies,
                errors: answer.errors,
                labels: entry.labels,
            },
        };
        Probe {
            decision,
            denied: answer.denied.map(Box::new),
        }
    }

    /// The denial to report for `refusal`, the first deny among `requests` (of `action` in
    /// `at`). A request that nothing permits (say `open` on a file's directory) is often
    /// refused alongside one a forbid refuses (`read` on the file): the forbid is what
    /// mattered, since no permit added for the first would get past it, so its denial is
    /// the one reported. The requests after the first deny are only weighed for this, never
    /// acted on; the decisions recorded are those made.
    fn what_mattered(
        &self,
        refusal: Denied,
        requests: &[Request<'_>],
        at: &Request<'_>,
        action: Action,
    ) -> Denied {
        if !refusal.forbidden_by.is_empty() || refusal.frozen || refusal.own_file.is_some() {
            return refusal;
        }
        let start = requests
            .iter()
            .position(|r| std::ptr::eq(r, at))
            .unwrap_or(requests.len());
        let rest = requests[start..].iter().flat_map(|r| {
            let skip = if std::ptr::eq(r, at) {
                r.actions
                    .iter()
                    .position(|a| *a == action)
                    .map_or(0, |i| i + 1)
            } else {
                0
            };
            r.actions[skip..].iter().map(move |a| (r, *a))
        });
        for (r, later) in rest {
            if let Some(what) = self.own_files.refuses(later, r.resource) {
                return Denied {
                    own_file: Some(what.to_owned()),
                    ..self.denial(later, r.resource)
                };
            }
            let decision = self.decide_remembered(later, r.resource, r.context);
            if !decision.permitted && !decision.policies.is_empty() {
                return Denied {
                    forbidden_by: decision.policies,
                    errors: decision.errors,
                    ..self.denial(later, r.resource)
                };
            }
        }
        refusal
    }

    /// Decides `requests` in order, each action of each, stopping at the first deny, and
    /// writes every decision made to the recorder in one append (marked as probes if
    /// `probe`). While the host is frozen, the first action is denied as frozen; an action on
    /// one of Tollgate's own files is denied whatever the policy says; a record that fails
    /// denies.
    fn ask<'a>(&'a self, requests: &[Request<'a>], probe: bool) -> Answer<'a> {
        let frozen = self.is_frozen();
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let mut denied = None;
        'requests: for r in requests {
            for &action in r.actions {
                let refused = |what: Refusal<'_>| {
                    let mut d = self.denial(action, r.resource);
                    match what {
                        Refusal::Frozen => d.frozen = true,
                        Refusal::OwnFile(what) => d.own_file = Some(what.to_owned()),
                    }
                    (Decision::refused(None), Some(d))
                };
                let (decision, refusal) = if frozen {
                    refused(Refusal::Frozen)
                } else if let Some(what) = self.own_files.refuses(action, r.resource) {
                    refused(Refusal::OwnFile(what))
                } else {
                    let decision = self.decide_remembered(action, r.resource, r.context);
                    let refusal = (!decision.permitted).then(|| Denied {
                        forbidden_by: decision.policies.clone(),
                        errors: decision.errors.clone(),
                        ..self.denial(action, r.resource)
                    });
                    (decision, refusal)
                };
                entries.push(DecisionEntry {
                    principal: &self.principal_text,
                    caller: &self.caller,
                    action,
                    resource: r.resource,
                    permitted: decision.permitted,
                    policies: decision.policies,
                    error: refusal.as_ref().map(Denied::to_string),
                    labels: decision.labels,
                    probe,
                });
                errors = decision.errors;
                if let Some(refusal) = refusal {
                    denied = Some(self.what_mattered(refusal, requests, r, action));
                    break 'requests;
                }
            }
        }
        if let (Recorder::Log(log), Some(last)) = (&self.recorder, entries.last()) {
            if let Err(e) = log.record(&entries) {
                // The denial (if any) is of the last decision: it keeps what else it says.
                denied
                    .get_or_insert_with(|| self.denial(last.action, last.resource))
                    .unrecorded = Some(e);
            }
        }
        let permits = entries.iter().filter(|e| e.permitted).count() as u64;
        self.permits.fetch_add(permits, Ordering::Relaxed);
        if denied.is_some() {
            self.denies.fetch_add(1, Ordering::Relaxed);
        }
        Answer {
            entries,
            errors,
            denied,
        }
    }

    /// A denial of `action` on `resource` that says nothing yet of why.
    fn denial(&self, action: Action, resource: &Resource) -> Denied {
        Denied {
            principal: self.principal_text.clone(),
            action,
            resource: resource.clone(),
            forbidden_by: Vec::new(),
            errors: Vec::new(),
            unrecorded: None,
            frozen: false,
            own_file: None,
        }
    }

    /// An empty list of requests permits nothing.
    fn empty_request(&self) -> Denied {
        Denied {
            errors: vec!["no request was made".to_owned()],
            ..self.denial(Action::FsOpen, &Resource::Dir(crate::path::AbsPath::root()))
        }
    }

    /// [`Gate::decide`], answered from memory when the same request (with an empty context)
    /// was decided before.
    fn decide_remembered(
        &self,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        if *context != Context::Empty {
            return self.decide(action, resource, context);
        }
        let key = (action, resource.clone());
        // A poisoned lock only means another thread panicked while holding it; the map is
        // still a valid memo, so keep using it.
        if let Some(d) = self
            .decided
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return d.clone();
        }
        let decision = self.decide(action, resource, context);
        let mut decided = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        if decided.len() >= MAX_REMEMBERED {
            decided.clear();
        }
        decided.insert(key, decision.clone());
        decision
    }

    /// Asks Cedar, over the slice of policies that can apply. Any failure to build the
    /// request is a deny. Not public: a decision is only answered once it is recorded (see
    /// [`Gate::authorize_all`] and [`Gate::probe`]).
    fn decide(&self, action: Action, resource: &Resource, context: &Context) -> Decision {
        let labels = resource.path().and_then(|p| self.labels.labels_of(p));
        let Some(slice) = self.policies.index.slice(action, resource) else {
            return Decision {
                permitted: false,
                policies: Vec::new(),
                errors: Vec::new(),
                labels,
            };
        };
        let deny = |error: String, labels| Decision {
            permitted: false,
            policies: Vec::new(),
            errors: vec![error],
            labels,
        };
        let own = labels.as_deref().unwrap_or(Labels::unlabelled());
        let (request, entities) = match self.request(action, resource, own, context) {
            Ok(r) => r,
            Err(e) => return deny(e, labels),
        };
        let response = self.authorizer.is_authorized(&request, &slice, &entities);
        let permitted = response.decision() == cedar_policy::Decision::Allow;
        Decision {
            permitted,
            policies: response
                .diagnostics()
                .reason()
                .map(|id| self.policies.name(id))
                .collect(),
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
            labels,
        }
    }

    /// The Cedar request and its entities; an error names what could not be built.
    fn request(
        &self,
        action: Action,
        resource: &Resource,
        labels: &Labels,
        context: &Context,
    ) -> Result<(cedar_policy::Request, Entities), String> {
        let request = cedar_policy::Request::new(
            self.principal.clone(),
            self.action_uids[action.index()].clone(),
            resource.uid(),
            context.to_cedar(&self.caller, &self.labels),
            None,
        )
        .map_err(|e| format!("cannot build the request: {e}"))?;
        // The action's entity carries its groups as parents, so `action in SafeIO` holds.
        let entities = core_entities::Entities::from_entities(
            [
                resource.entity(labels),
                self.schema.action_core[action.index()].clone(),
            ]
            .into_iter()
            .chain(context.entities())
            .chain(self.caller_entities.iter().cloned()),
            None::<&core_entities::NoEntitiesSchema>,
            core_entities::TCComputation::AssumeAlreadyComputed,
            Extensions::none(),
        )
        .map_err(|e| format!("cannot build the entities: {e}"))?;
        Ok((request, Entities::from(entities)))
    }

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
            self.policies.index.slice(action, resource),
            self.request(action, resource, labels, context),
        ) {
            for policy in slice.policies() {
                let alone = PolicySet::from_policies([policy.clone()])
                    // One policy: its id cannot clash.
                    .unwrap_or_else(|_| unreachable!());
                let response = self.authorizer.is_authorized(&request, &alone, &entities);
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
                self.principal_text
            );
            if let Some(dir) = resource.path().and_then(|p| p.parent()) {
                narrowest.push_str(&format!(
                    " or, for its directory, permit(principal == {}, action == {action}, resource in {});",
                    self.principal_text,
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

    /// Counts of decisions made so far.
    pub fn counts(&self) -> DecisionCounts {
        DecisionCounts {
            permits: self.permits.load(Ordering::Relaxed),
            denies: self.denies.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AbsPath;

    fn gate(policy: &str) -> Gate {
        gate_with(policy, Recorder::Unaudited, Arc::default())
    }

    fn gate_with(policy: &str, recorder: Recorder, frozen: Arc<AtomicBool>) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
        Gate::new(schema, policies, "alice", recorder, frozen)
    }

    fn file(p: &str) -> Resource {
        Resource::File(AbsPath::parse(p).unwrap())
    }

    #[test]
    fn a_denial_names_the_forbid_that_mattered_not_the_missing_permit_before_it() {
        let g = gate(
            r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/d");
@id("no-secrets")
forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"/d/secret");"#,
        );
        let dir = Resource::Dir(AbsPath::parse("/d/secret").unwrap());
        let key = file("/d/secret/key");
        let open = [Action::FsOpen];
        let read = [Action::FsOpen, Action::FsRead];
        let requests = [
            Request {
                actions: &open,
                resource: &dir,
                context: &Context::Empty,
            },
            Request {
                actions: &read,
                resource: &key,
                context: &Context::Empty,
            },
        ];
        let d = g.authorize_all(&requests).unwrap_err();
        assert_eq!(d.forbidden_by, ["no-secrets"], "{d}");
        assert_eq!(d.resource, key);
        assert_eq!(d.action, Action::FsRead);
        // Where nothing later is forbidden, the first deny is what is reported.
        let plain = file("/d/plain");
        let requests = [
            Request {
                actions: &open,
                resource: &dir,
                context: &Context::Empty,
            },
            Request {
                actions: &read,
                resource: &plain,
                context: &Context::Empty,
            },
        ];
        let d = g.authorize_all(&requests).unwrap_err();
        assert!(d.forbidden_by.is_empty(), "{d}");
        assert_eq!((d.action, &d.resource), (Action::FsOpen, &dir));
    }

    #[test]
    fn empty_policy_denies_everything() {
        let g = gate("");
        let d = g.authorize(&[Action::FsRead], &file("/tmp/x")).unwrap_err();
        assert!(d.forbidden_by.is_empty());
        assert!(d.to_string().contains("no policy permits it"), "{d}");
    }

    #[test]
    fn dir_scope_covers_descendants_only() {
        let g = gate(
            r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/var/log");"#,
        );
        assert!(g
            .authorize(&[Action::FsRead], &file("/var/log/app/a.log"))
            .is_ok());
        assert!(g
            .authorize(&[Action::FsRead], &file("/var/logs/a.log"))
            .is_err());
        assert!(g
            .authorize(&[Action::FsWrite], &file("/var/log/a.log"))
            .is_err());
    }

    #[test]
    fn safeio_action_group_matches_file_actions() {
        let g = gate(
            r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/data");"#,
        );
        assert!(g
            .authorize(
                &[Action::FsOpen, Action::FsRead, Action::FsWrite],
                &file("/data/x")
            )
            .is_ok());
    }

    #[test]
    fn forbid_beats_permit_and_is_named() {
        let g = gate(
            "permit(principal, action, resource);\n@id(\"no-secrets\")\nforbid(principal, action, resource in file_system::Dir::\"/etc/secrets\");",
        );
        let d = g
            .authorize(&[Action::FsRead], &file("/etc/secrets/k"))
            .unwrap_err();
        assert_eq!(d.forbidden_by, ["no-secrets"]);
        assert!(g.authorize(&[Action::FsRead], &file("/etc/hosts")).is_ok());
    }

    #[test]
    fn path_attribute_and_principal_are_visible_to_conditions() {
        let g = gate(
            r#"permit(principal == User::"alice", action, resource is file_system::File) when { resource.path like "*.log" };"#,
        );
        assert!(g.authorize(&[Action::FsRead], &file("/x/a.log")).is_ok());
        assert!(g.authorize(&[Action::FsRead], &file("/x/a.txt")).is_err());
    }

    #[test]
    fn move_context_carries_destination() {
        let g = gate(
            r#"permit(principal, action == file_system::Action::"move", resource) when { context.destination.parent_path == "/archive" };"#,
        );
        let to = |p: &str| Context::Move {
            destination: AbsPath::parse(p).unwrap(),
        };
        assert!(g
            .authorize_in(&[Action::FsMove], &file("/a/x"), &to("/archive/x"))
            .is_ok());
        assert!(g
            .authorize_in(&[Action::FsMove], &file("/a/x"), &to("/tmp/x"))
            .is_err());
    }

    #[test]
    fn execute_context_tags_and_identities_are_visible_and_validate() {
        use crate::execute::{ExecuteContext, Identity};
        let g = gate(
            r#"permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/sbin/iptables") when {
                context.arguments.hasTag("-p") && context.arguments.getTag("-p") == "tcp" &&
                context.environment.names.isEmpty() && context.user.uid == 0 && context.group.groupname == "root"
            };"#,
        );
        let ask = |args: &[(&str, &str)]| {
            let c = ExecuteContext {
                arguments: args
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                    .collect(),
                environment: Vec::new(),
                user: Identity {
                    name: "root".into(),
                    id: 0,
                },
                group: Identity {
                    name: "root".into(),
                    id: 0,
                },
            };
            let bin = file("/usr/sbin/iptables");
            let contexts: Vec<Context> = c
                .views()
                .unwrap()
                .into_iter()
                .map(|v| Context::Execute(Box::new(v)))
                .collect();
            let requests: Vec<Request> = contexts
                .iter()
                .map(|context| Request {
                    actions: &[Action::FsExecute],
                    resource: &bin,
                    context,
                })
                .collect();
            g.authorize_all(&requests).is_ok()
        };
        assert!(ask(&[("-p", "tcp")]));
        assert!(!ask(&[("-p", "udp")]));
        // The second value is checked too: it cannot hide behind the first.
        assert!(!ask(&[("-p", "tcp"), ("-p", "udp")]));
        assert!(!ask(&[]));
    }

    #[test]
    fn permit_scopes_cover_what_permits_name_and_widen_to_anywhere() {
        let g = gate(
            r#"permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/srv/out");
               permit(principal, action in [file_system::Action::"create"], resource == file_system::File::"/tmp/note");
               forbid(principal, action, resource in file_system::Dir::"/etc");
               permit(principal, action == file_system::Action::"read", resource);"#,
        );
        let write = [Action::FsWrite, Action::FsCreate, Action::FsDelete];
        assert_eq!(
            g.permit_scopes(&write),
            PathScopes::Only {
                dirs: vec![AbsPath::parse("/srv/out").unwrap()],
                files: vec![AbsPath::parse("/tmp/note").unwrap()],
            }
        );
        assert_eq!(g.permit_scopes(&[Action::FsRead]), PathScopes::Anywhere);
    }

    /// A decision log that keeps what it is given (action, permitted, probe), or fails.
    #[derive(Default)]
    struct Journal {
        seen: Mutex<Vec<(Action, bool, bool)>>,
        fail: bool,
    }

    impl DecisionLog for Arc<Journal> {
        fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
            if self.fail {
                return Err("disk full".to_owned());
            }
            let mut seen = self.seen.lock().unwrap();
            seen.extend(entries.iter().map(|e| (e.action, e.permitted, e.probe)));
            Ok(())
        }
    }

    fn journalled(policy: &str, journal: &Arc<Journal>, frozen: &Arc<AtomicBool>) -> Gate {
        gate_with(
            policy,
            Recorder::Log(Box::new(Arc::clone(journal))),
            Arc::clone(frozen),
        )
    }

    #[test]
    fn every_decision_is_logged_before_it_is_returned() {
        let journal = Arc::new(Journal::default());
        let g = journalled(
            r#"permit(principal, action == file_system::Action::"open", resource);"#,
            &journal,
            &Arc::default(),
        );
        let _ = g.authorize(&[Action::FsOpen, Action::FsRead], &file("/a"));
        let _ = g.authorize(&[Action::FsOpen], &file("/a"));
        assert_eq!(
            *journal.seen.lock().unwrap(),
            [
                (Action::FsOpen, true, false),
                (Action::FsRead, false, false),
                (Action::FsOpen, true, false)
            ]
        );
    }

    #[test]
    fn a_decision_that_cannot_be_logged_is_denied() {
        let journal = Arc::new(Journal {
            fail: true,
            ..Journal::default()
        });
        let g = journalled(
            "permit(principal, action, resource);",
            &journal,
            &Arc::default(),
        );
        let d = g.authorize(&[Action::FsRead], &file("/a")).unwrap_err();
        assert_eq!(d.unrecorded.as_deref(), Some("disk full"));
        assert!(d.to_string().contains("audit log"), "{d}");
    }

    #[test]
    fn a_probe_is_decided_as_a_request_and_recorded_as_a_probe() {
        let journal = Arc::new(Journal::default());
        let g = journalled(
            r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv");
               @id("no-keys")
               forbid(principal, action, resource == file_system::File::"/srv/key");"#,
            &journal,
            &Arc::default(),
        );
        let p = g.probe(Action::FsRead, &file("/srv/a"), &Context::Empty);
        assert!(p.decision.permitted);
        assert_eq!(p.reason(), None);
        let p = g.probe(Action::FsRead, &file("/srv/key"), &Context::Empty);
        assert!(!p.decision.permitted);
        assert_eq!(p.decision.policies, ["no-keys"]);
        assert_eq!(p.denied.unwrap().forbidden_by, ["no-keys"]);
        assert!(g.authorize(&[Action::FsRead], &file("/srv/a")).is_ok());
        assert_eq!(
            *journal.seen.lock().unwrap(),
            [
                (Action::FsRead, true, true),
                (Action::FsRead, false, true),
                (Action::FsRead, true, false)
            ]
        );
    }

    #[test]
    fn a_probe_on_a_frozen_host_is_denied_and_recorded() {
        let journal = Arc::new(Journal::default());
        let frozen = Arc::new(AtomicBool::new(true));
        let g = journalled("permit(principal, action, resource);", &journal, &frozen);
        let p = g.probe(Action::FsRead, &file("/a"), &Context::Empty);
        assert!(!p.decision.permitted);
        assert!(p.denied.as_ref().is_some_and(|d| d.frozen));
        assert!(p.reason().unwrap().contains("frozen"), "{p:?}");
        // The flag is the gate's own: lowering it lets the same question through.
        frozen.store(false, Ordering::Relaxed);
        assert!(
            g.probe(Action::FsRead, &file("/a"), &Context::Empty)
                .decision
                .permitted
        );
        assert_eq!(
            *journal.seen.lock().unwrap(),
            [(Action::FsRead, false, true), (Action::FsRead, true, true)]
        );
    }

    #[test]
    fn a_probe_of_tollgates_own_files_is_denied_whatever_the_policy_says() {
        let journal = Arc::new(Journal::default());
        let mut own = OwnFiles::new();
        own.protect(
            AbsPath::parse("/var/log/tollgate/audit").unwrap(),
            "the audit log",
        );
        own.hide(
            AbsPath::parse("/var/log/tollgate/audit.key").unwrap(),
            "the audit log's signing key",
        );
        let g = journalled(
            "permit(principal, action, resource);",
            &journal,
            &Arc::default(),
        )
        .with_own_files(Arc::new(own));
        let segment = file("/var/log/tollgate/audit/segments/0");
        let p = g.probe(Action::FsWrite, &segment, &Context::Empty);
        assert!(!p.decision.permitted);
        assert_eq!(
            p.denied.as_ref().and_then(|d| d.own_file.as_deref()),
            Some("the audit log")
        );
        assert!(p.reason().unwrap().contains("Tollgate's own file"), "{p:?}");
        assert!(
            g.probe(Action::FsRead, &segment, &Context::Empty)
                .decision
                .permitted
        );
        let key = file("/var/log/tollgate/audit.key");
        let p = g.probe(Action::FsRead, &key, &Context::Empty);
        assert!(p.reason().unwrap().contains("signing key"), "{p:?}");
        // `explain` asks the same way, and says so instead of naming a policy to add.
        let e = g.explain(Action::FsRead, &key, &Context::Empty);
        assert!(!e.decision.permitted);
        assert!(
            e.would_permit.unwrap().contains("Tollgate's own file"),
            "explain"
        );
        assert_eq!(
            *journal.seen.lock().unwrap(),
            [
                (Action::FsWrite, false, true),
                (Action::FsRead, true, true),
                (Action::FsRead, false, true),
                (Action::FsRead, false, true)
            ]
        );
    }

    #[test]
    fn a_probe_that_cannot_be_recorded_is_denied() {
        let journal = Arc::new(Journal {
            fail: true,
            ..Journal::default()
        });
        let g = journalled(
            "permit(principal, action, resource);",
            &journal,
            &Arc::default(),
        );
        let p = g.probe(Action::FsRead, &file("/a"), &Context::Empty);
        assert!(!p.decision.permitted);
        assert!(p.decision.policies.is_empty());
        assert_eq!(
            p.denied.as_ref().and_then(|d| d.unrecorded.as_deref()),
            Some("disk full")
        );
        assert!(p.reason().unwrap().contains("audit log"), "{p:?}");
    }

    #[test]
    fn counts_every_decision() {
        let g = gate(r#"permit(principal, action == file_system::Action::"open", resource);"#);
        let _ = g.authorize(&[Action::FsOpen, Action::FsRead], &file("/a"));
        assert_eq!(
            g.counts(),
            DecisionCounts {
                permits: 1,
                denies: 1
            }
        );
    }

    #[test]
    fn slicing_gives_the_same_answer_as_the_whole_set() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!(
                "permit(principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/d{i}\");\n"
            ));
        }
        text.push_str(
            "forbid(principal, action, resource == file_system::File::\"/d7/secret\");\n",
        );
        let g = gate(&text);
        assert!(g.authorize(&[Action::FsRead], &file("/d7/x")).is_ok());
        assert!(g.authorize(&[Action::FsRead], &file("/d7/secret")).is_err());
        assert!(g.authorize(&[Action::FsRead], &file("/d200/x")).is_err());
        assert!(g.authorize(&[Action::FsRead], &file("/d199/a/b/c")).is_ok());
    }

    fn agent_for(user: &str, purpose: &str) -> Caller {
        Caller {
            principal: crate::Principal::Agent {
                agent: "ops-agent".into(),
                on_behalf_of: user.into(),
            },
            purpose: purpose.into(),
            ticket: "INC-42".into(),
            delegation: None,
        }
    }

    #[test]
    fn policies_decide_on_whose_behalf_and_for_what_purpose() {
        let directory = Directory::parse(
            r#"{"users": {"alice": {"groups": ["oncall"], "attributes": {"clearance": "high"}},
                          "bob": {"groups": ["sales"]}},
                "groups": {"oncall": {"groups": ["engineering"]}, "engineering": {}, "sales": {}}}"#,
        )
        .unwrap();
        let policy = r#"
            permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/var/log")
            when { principal.on_behalf_of in Group::"engineering" && context.purpose == "incident-response" };
            permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/srv/secret")
            when { principal.on_behalf_of.hasTag("clearance") && principal.on_behalf_of.getTag("clearance") == "high"
                   && context.ticket like "INC-*" };
        "#;
        let log = file("/var/log/app.log");
        let secret = file("/srv/secret/key");
        let decide = |caller: Caller, r: &Resource| {
            let schema = Schema::tollgate().unwrap();
            let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
            Gate::for_caller(
                schema,
                policies,
                caller,
                &directory,
                Recorder::Unaudited,
                Arc::default(),
            )
            .authorize(&[Action::FsRead], r)
            .is_ok()
        };
        assert!(decide(agent_for("alice", "incident-response"), &log));
        assert!(!decide(agent_for("alice", "curiosity"), &log));
        assert!(!decide(agent_for("bob", "incident-response"), &log));
        assert!(!decide(agent_for("mallory", "incident-response"), &log));
        assert!(decide(agent_for("alice", "audit"), &secret));
        assert!(!decide(agent_for("bob", "audit"), &secret));
        // Without a token the principal is the OS user, which no Agent policy names.
        assert!(gate(policy).authorize(&[Action::FsRead], &log).is_err());
    }

    #[test]
    fn a_rex_policy_keeps_its_meaning_for_the_os_user() {
        let g = gate(
            r#"permit(principal == User::"alice", action in file_system::Action::"SafeIO", resource);"#,
        );
        assert!(g.authorize(&[Action::FsRead], &file("/etc/hosts")).is_ok());
        assert_eq!(g.principal(), r#"User::"alice""#);
    }

    const LABELS: &str = r#"{"rules": [
        {"paths": ["/srv/clinic"], "classification": "restricted", "categories": ["phi"]},
        {"paths": ["/srv/legal/case-*"], "legal_hold": true, "jurisdiction": "EU"}]}"#;

    fn labelled_gate(policy: &str, caller: Caller) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
        Gate::for_caller(
            schema,
            policies,
            caller,
            &Directory::default(),
            Recorder::Unaudited,
            Arc::default(),
        )
        .with_labels(Arc::new(LabelRules::parse(LABELS).unwrap()))
    }

    #[test]
    fn policies_decide_on_data_labels_and_purpose() {
        let policy = r#"
            permit(principal, action in file_system::Action::"SafeIO", resource);
            @id("phi-only-for-treatment")
            forbid(principal, action == file_system::Action::"read", resource)
            when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };
            @id("legal-hold")
            forbid(principal, action in [file_system::Action::"write", file_system::Action::"delete",
                                         file_system::Action::"move"], resource)
            when { resource.labels.legal_hold };
            @id("no-moves-into-held-data")
            forbid(principal, action == file_system::Action::"move", resource)
            when { context.destination.labels.legal_hold };
        "#;
        let chart = file("/srv/clinic/patients/42.txt");
        let nurse = labelled_gate(policy, agent_for("alice", "treatment"));
        assert!(nurse.authorize(&[Action::FsRead], &chart).is_ok());
        let billing = labelled_gate(policy, agent_for("alice", "billing"));
        let d = billing.authorize(&[Action::FsRead], &chart).unwrap_err();
        assert_eq!(d.forbidden_by, ["phi-only-for-treatment"]);
        // Unlabelled data is not touched by either forbid.
        assert!(billing
            .authorize(&[Action::FsRead], &file("/srv/app/x"))
            .is_ok());

        let held = file("/srv/legal/case-7/mail.eml");
        for action in [Action::FsWrite, Action::FsDelete] {
            let d = billing.authorize(&[action], &held).unwrap_err();
            assert_eq!(d.forbidden_by, ["legal-hold"], "{action}");
        }
        assert!(billing.authorize(&[Action::FsRead], &held).is_ok());
        let to = |p: &str| Context::Move {
            destination: AbsPath::parse(p).unwrap(),
        };
        let d = billing
            .authorize_in(&[Action::FsMove], &held, &to("/tmp/mail.eml"))
            .unwrap_err();
        assert_eq!(d.forbidden_by, ["legal-hold"]);
        let d = billing
            .authorize_in(
                &[Action::FsMove],
                &file("/tmp/x"),
                &to("/srv/legal/case-7/x"),
            )
            .unwrap_err();
        assert_eq!(d.forbidden_by, ["no-moves-into-held-data"]);
        assert!(billing
            .authorize_in(&[Action::FsMove], &file("/tmp/x"), &to("/tmp/y"))
            .is_ok());
    }

    #[test]
    fn decisions_carry_the_labels_they_were_made_with_also_when_remembered() {
        let g = labelled_gate(
            r#"permit(principal, action, resource);"#,
            Caller::os_user("alice"),
        );
        let held = file("/srv/legal/case-1/a");
        for _ in 0..2 {
            let d = g.decide_remembered(Action::FsRead, &held, &Context::Empty);
            let labels = d.labels.expect("labelled");
            assert!(labels.legal_hold);
            assert_eq!(labels.jurisdiction.as_deref(), Some("EU"));
        }
        assert_eq!(
            g.decide(Action::FsRead, &file("/srv/other"), &Context::Empty)
                .labels,
            None
        );
    }

    #[test]
    fn without_a_labels_file_everything_reads_as_unlabelled() {
        let g = gate(
            r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/") when {
                   resource.labels.classification == "unlabelled" && !resource.labels.legal_hold
                   && resource.labels.categories.isEmpty() && resource.labels.jurisdiction == "" };"#,
        );
        assert!(g
            .authorize(&[Action::FsRead], &file("/srv/legal/case-1/a"))
            .is_ok());
        assert!(g
            .authorize(
                &[Action::FsOpen],
                &Resource::Dir(AbsPath::parse("/srv").unwrap())
            )
            .is_ok());
    }
}
