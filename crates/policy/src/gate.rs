//! The gate: every request is decided here, and only here can a [`Permit`] be made.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::{Authorizer, Entities, EntityUid, PolicySet};
use cedar_policy_core::ast as core_ast;
use cedar_policy_core::entities as core_entities;
use cedar_policy_core::extensions::Extensions;

use crate::action::Action;
use crate::identity::{Caller, Directory};
use crate::index::{Admitted, PathScopes};
use crate::labels::{LabelRules, Labels};
use crate::own::OwnFiles;
use crate::policies::{Policies, Schema};
use crate::resource::{Context, Resource};
use crate::taint::{Stamp, Taint, ToHash};

mod call;
mod decide;
mod denial;
mod explain;
// Pending erasures and file ages (issue 16, items 4 and 5).
mod labelled;
mod permit;
mod record;
mod shadow;
#[cfg(test)]
mod tests;

pub use call::CallScope;
pub use decide::Decision;
pub use denial::Denied;
use denial::Refusal;
pub use explain::{Bearing, Explanation, Probe};
pub use permit::{Permit, Request};
pub use record::{DecisionEntry, DecisionLog, Recorder};
use shadow::Shadow;
pub use shadow::{ShadowDifference, ShadowVerdict};

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
    caller: Caller,
    /// What the host's directory says about the caller: its user and that user's groups.
    directory: Directory,
    /// The caller as Cedar sees it, worked out with the first decision.
    principal: OnceLock<Principal>,
    /// The host owner's data labels, looked up for every fresh decision on a path.
    labels: Arc<LabelRules>,
    permits: AtomicU64,
    denies: AtomicU64,
    /// Decisions already made in this run. The policy set and the entity data are fixed for
    /// the life of a gate, so the same request always gets the same answer; scripts ask the
    /// same questions over and over (a loop over a directory, a file read in a loop).
    /// Kept by resource, so that a lookup borrows the path instead of copying it; a resource
    /// is asked few actions.
    decided: Mutex<Memory>,
    recorder: Recorder,
    /// Raised while the host is frozen; checked before every decision, remembered or not.
    frozen: Arc<AtomicBool>,
    /// Tollgate's own files, kept from every script whatever the policy says.
    own_files: Arc<OwnFiles>,
    /// The policies whose principal tests this gate's principal passes: worked out with the
    /// first decision, which is when the policies are parsed.
    admitted: OnceLock<Admitted>,
    /// A candidate policy decided beside this one (`--shadow`), never deciding.
    shadow: Option<Box<Shadow>>,
    /// What the run has read so far, in every request's context; shared with the shadow's
    /// gate, which decides under the same.
    taint: Arc<Mutex<Taint>>,
    /// The SDK call being served, which every decision record names ([`Gate::calling`]).
    call: Mutex<Option<&'static str>>,
}

/// The caller as Cedar sees it, and Cedar's authorizer. Not built with the gate: making the
/// first Cedar name builds Cedar's parser, and the authorizer its extensions, which was most
/// of the start of a script that makes no request at all.
struct Principal {
    uid: EntityUid,
    /// E.g. `User::"alice"`, as records and denials name it.
    text: String,
    /// The entities that describe the caller (agent, user, groups), in every request.
    entities: Vec<core_ast::Entity>,
    /// The principal's uid and its ancestors, for the policies it is admitted to.
    ancestry: (core_ast::EntityUID, Vec<core_ast::EntityUID>),
    authorizer: Authorizer,
}

impl Principal {
    fn of(caller: &Caller, directory: &Directory) -> Principal {
        let uid = caller.uid();
        let entities = caller.entities(directory);
        let ancestry = {
            let own: core_ast::EntityUID = uid.clone().into();
            // The principal's ancestors as its entity lists them (already closed).
            let ancestors: Vec<core_ast::EntityUID> = entities
                .iter()
                .find(|e| *e.uid() == own)
                .map(|e| e.ancestors().cloned().collect())
                .unwrap_or_default();
            (own, ancestors)
        };
        Principal {
            text: uid.to_string(),
            uid,
            entities,
            ancestry,
            authorizer: Authorizer::new(),
        }
    }
}

/// The decisions a gate remembers: by resource, then by action.
type Memory = HashMap<Resource, Vec<(Action, Decision)>, foldhash::fast::RandomState>;

/// What [`Gate::ask`] found: each decision made, as recorded, and the denial that stopped it.
struct Answer<'a> {
    entries: Vec<DecisionEntry<'a>>,
    /// The policy errors of the last decision.
    errors: Vec<String>,
    denied: Option<Denied>,
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
        let directory = directory.about(&caller);
        Gate {
            schema,
            policies,
            caller,
            directory,
            principal: OnceLock::new(),
            labels: Arc::new(LabelRules::default()),
            permits: AtomicU64::new(0),
            denies: AtomicU64::new(0),
            decided: Mutex::new(Memory::default()),
            recorder,
            frozen,
            own_files: Arc::new(OwnFiles::new()),
            admitted: OnceLock::new(),
            shadow: None,
            taint: Arc::default(),
            call: Mutex::new(None),
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
        &self.cedar_principal().text
    }

    fn cedar_principal(&self) -> &Principal {
        self.principal
            .get_or_init(|| Principal::of(&self.caller, &self.directory))
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Where the policies could permit any of `actions` on files (see
    /// [`PathScopes`]): what a sandbox around a child process can be derived from.
    pub fn permit_scopes(&self, actions: &[Action]) -> PathScopes {
        self.policies.permit_scopes(actions)
    }

    /// The policies that can apply to `action` on `resource`, or why none can be looked at
    /// (the set does not compile: everything is denied).
    pub(crate) fn slice(
        &self,
        action: Action,
        resource: &Resource,
    ) -> Result<Option<Arc<PolicySet>>, String> {
        let compiled = self.policies.compiled()?;
        let admitted = self.admitted.get_or_init(|| {
            let (own, ancestors) = &self.cedar_principal().ancestry;
            compiled.index.admitted(own, ancestors)
        });
        Ok(compiled.index.slice(action, resource, admitted))
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
        let call = self.current_call();
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
                // Frozen and own-file refusals hold whatever the policy says, so a candidate
                // policy would refuse them too: only policy decisions are shadowed.
                let (decision, refusal, shadow) = if frozen {
                    let (d, r) = refused(Refusal::Frozen);
                    (d, r, None)
                } else if let Some(what) = self.own_files.refuses(action, r.resource) {
                    let (d, r) = refused(Refusal::OwnFile(what));
                    (d, r, None)
                } else {
                    let decision = self.decide_remembered(action, r.resource, r.context);
                    let refusal = (!decision.permitted).then(|| Denied {
                        forbidden_by: decision.policies.clone(),
                        errors: decision.errors.clone(),
                        ..self.denial(action, r.resource)
                    });
                    let shadow = self
                        .shadow
                        .as_deref()
                        .and_then(|s| s.verdict(action, r.resource, r.context, &decision));
                    (decision, refusal, shadow)
                };
                let sources = if action.is_sink() {
                    self.taint_sources()
                } else {
                    None
                };
                if decision.permitted && !probe {
                    self.taint_with(action, r.resource, decision.labels.as_deref());
                }
                let target = requests
                    .last()
                    .map(|last| last.resource)
                    .filter(|t| *t != r.resource);
                entries.push(DecisionEntry {
                    principal: self.principal(),
                    caller: &self.caller,
                    action,
                    resource: r.resource,
                    permitted: decision.permitted,
                    policies: decision.policies,
                    error: refusal.as_ref().map(Denied::to_string),
                    labels: decision.labels,
                    probe,
                    shadow,
                    sources,
                    target,
                    call,
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

    /// Adds to the run's taint what a permitted `read` or `redacted_read` of a labelled path
    /// carries (see [`crate::taint`]). Decisions remembered under the smaller taint are
    /// forgotten: every request's context holds it.
    fn taint_with(&self, action: Action, resource: &Resource, labels: Option<&Labels>) {
        let redacted = match action {
            Action::FsRead => false,
            Action::FsRedactedRead => true,
            _ => return,
        };
        let (Some(path), Some(labels)) = (resource.path(), labels) else {
            return;
        };
        let grew = self.taint.lock().unwrap_or_else(|p| p.into_inner()).add(
            path,
            labels,
            redacted,
            &self.labels,
        );
        if grew {
            self.forget_all_decisions();
        }
    }

    /// Forgets the decisions remembered, the shadow policy's too: the context they were
    /// made in has changed.
    fn forget_all_decisions(&self) {
        self.forget_decisions();
        if let Some(s) = self.shadow.as_deref() {
            s.forget_decisions();
        }
    }

    fn forget_decisions(&self) {
        self.decided
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The labelled paths the run has read, once it has read one.
    fn taint_sources(&self) -> Option<Arc<[crate::taint::Source]>> {
        let mut taint = self.taint.lock().unwrap_or_else(|p| p.into_inner());
        (!taint.is_empty()).then(|| taint.shared_sources())
    }

    /// `context.taint` as it stands.
    pub(crate) fn taint_expression(&self) -> cedar_policy::RestrictedExpression {
        self.taint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expression()
    }

    /// The source the host must hash for `permit`, a permitted read (or redacted read) of
    /// a labelled file it has just opened: it hashes the content from that descriptor unless
    /// [`ToHash::is_hashed`] says its stamp is the one hashed, then gives the hash to
    /// [`Gate::note_hash`]. `None` for anything else (see [`crate::taint`]).
    pub fn source_to_hash(&self, permit: &Permit) -> Option<ToHash> {
        let Resource::File(path) = &permit.resource else {
            return None;
        };
        let redacted = if permit.allows(Action::FsRead) {
            false
        } else if permit.allows(Action::FsRedactedRead) {
            true
        } else {
            return None;
        };
        self.taint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_hash(path, redacted)
    }

    /// Records the hash of `source` read from a descriptor with `stamp` (`None` if the file
    /// was over [`crate::taint::HASH_LIMIT`] or is not a regular file), for the records of
    /// every later sink. Content
    /// other than the one hashed before makes a new source, which `context.taint` counts.
    pub fn note_hash(&self, source: &ToHash, stamp: Stamp, sha256: Option<String>) {
        let grew = self
            .taint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .note_hash(source, stamp, sha256);
        if grew {
            self.forget_all_decisions();
        }
    }

    /// What the run has read so far.
    pub fn taint(&self) -> Taint {
        self.taint.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the run's answer may go to its caller: `output::Action::"release"` on
    /// `output::Result::"run"`, with the run's taint and whether the host redacts the
    /// answer (`redacted`). Recorded as every decision is. Permitted unless a forbid applies
    /// (or a policy errors on it), so that a policy written without the action still gets
    /// its answers.
    pub fn release(&self, redacted: bool) -> Result<Permit, Box<Denied>> {
        self.authorize_in(
            &[Action::OutputRelease],
            &Resource::Output,
            &Context::Release { redacted },
        )
    }

    /// A denial of `action` on `resource` that says nothing yet of why.
    fn denial(&self, action: Action, resource: &Resource) -> Denied {
        Denied {
            principal: self.principal().to_owned(),
            action,
            resource: resource.clone(),
            forbidden_by: Vec::new(),
            errors: Vec::new(),
            unrecorded: None,
            frozen: false,
            own_file: None,
            // A pending erasure the default refuses this for, whatever the policy said.
            erasure: self.erasure_of(action, resource),
        }
    }

    /// An empty list of requests permits nothing.
    fn empty_request(&self) -> Denied {
        Denied {
            errors: vec!["no request was made".to_owned()],
            ..self.denial(Action::FsOpen, &Resource::Dir(crate::path::AbsPath::root()))
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
