//! The adapter between the gate and the log: [`GateRecorder`] is the [`DecisionLog`] a gate
//! writes every decision through, one append per request to the gate, before the decision is
//! answered.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tollgate_policy::{Action, Caller, DecisionEntry, DecisionLog, Labels, Source};

use crate::log::{AuditError, AuditLog};
use crate::record::{DecisionRef, EventRef};

/// One run's handle on the audit log: the gate writes its decisions through it, and the
/// run its start and end.
#[derive(Clone)]
pub struct GateRecorder {
    log: Arc<AuditLog>,
    run: String,
    /// The `on_behalf_of` of every decision: a gate decides for one caller, so the uid is
    /// formatted once per run, not once per decision.
    on_behalf_of: Option<String>,
    /// The last list of sources a sink named, as JSON: the gate hands every sink the same
    /// list until the run reads another labelled path, so it is encoded once per list.
    sources: Arc<Mutex<Option<EncodedSources>>>,
}

/// A list of sources and its JSON.
type EncodedSources = (Arc<[Source]>, Arc<Value>);

impl GateRecorder {
    /// Records the decisions made for `caller` into `log`, as run `run`.
    pub fn new(log: Arc<AuditLog>, run: String, caller: &Caller) -> GateRecorder {
        GateRecorder {
            log,
            run,
            on_behalf_of: on_behalf_of(caller),
            sources: Arc::default(),
        }
    }

    /// `list` as records carry it, from the last encoding when it is the same list.
    fn sources_json(&self, list: &Arc<[Source]>) -> Arc<Value> {
        let mut last = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, json)) = last.as_ref() {
            if Arc::ptr_eq(seen, list) {
                return Arc::clone(json);
            }
        }
        let json: Arc<Value> = Arc::new(
            list.iter()
                .map(|s| {
                    let mut source = serde_json::json!({
                        "path": s.path.as_str(),
                        "labels": s.labels,
                        "redacted": s.redacted,
                    });
                    // A directory, a file over the hash limit or one that is not regular has no hash.
                    if let Some(sha256) = &s.sha256 {
                        source["sha256"] = sha256.as_str().into();
                    }
                    if let Some(size) = s.size {
                        source["size"] = size.into();
                    }
                    source
                })
                .collect(),
        );
        *last = Some((Arc::clone(list), Arc::clone(&json)));
        json
    }

    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }

    /// The run's id, as its records carry it.
    pub fn run(&self) -> &str {
        &self.run
    }
}

impl DecisionLog for GateRecorder {
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
        append_decisions(self, entries)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Appends the decisions of one request to the gate with one write, encoded from the
/// entries as they are (this runs for every decision, so nothing is copied that need not
/// be). `who` is [`on_behalf_of`] of the entries' caller. A probe entry is recorded as a
/// probe: a question that ran nothing.
fn append_decisions(
    recorder: &GateRecorder,
    entries: &[DecisionEntry<'_>],
) -> Result<u64, AuditError> {
    let (log, run, who) = (
        &recorder.log,
        recorder.run.as_str(),
        recorder.on_behalf_of.as_deref(),
    );
    // Only a shadow run's differing decisions have one.
    let shadows: Vec<Option<serde_json::Value>> = entries
        .iter()
        .map(|e| {
            e.shadow.as_ref().map(|s| {
                serde_json::json!({
                    "decision": if s.permitted { "permit" } else { "deny" },
                    "policies": s.policies,
                })
            })
        })
        .collect();
    // Only a sink's, in a run that has read labelled data.
    let sources: Vec<Option<Arc<Value>>> = entries
        .iter()
        .map(|e| e.sources.as_ref().map(|list| recorder.sources_json(list)))
        .collect();
    let targets: Vec<Option<String>> = entries
        .iter()
        .map(|e| e.target.map(ToString::to_string))
        .collect();
    let events: Vec<EventRef<'_>> = entries
        .iter()
        .zip(shadows.iter().zip(sources.iter().zip(&targets)))
        .map(|(e, (shadow, (sources, target)))| {
            EventRef::Decision(DecisionRef {
                principal: e.principal,
                action: action_uid(e.action),
                resource_type: e.resource.type_name(),
                resource_id: e.resource.id(),
                decision: if e.permitted { "permit" } else { "deny" },
                policies: &e.policies,
                error: e.error.as_deref(),
                probe: e.probe,
                on_behalf_of: who,
                purpose: present(&e.caller.purpose),
                ticket: present(&e.caller.ticket),
                labels: e.labels.as_deref().map(Labels::to_json),
                shadow: shadow.as_ref(),
                sources: sources.as_deref(),
                target: target.as_deref(),
                call: e.call,
            })
        })
        .collect();
    log.append_all(run, &events)
}

/// An action's Cedar uid, e.g. `file_system::Action::"read"`, formatted once per action
/// rather than once per decision.
fn action_uid(action: Action) -> &'static str {
    static UIDS: OnceLock<Vec<String>> = OnceLock::new();
    let uids = UIDS.get_or_init(|| Action::ALL.iter().map(Action::to_string).collect());
    // `Action::ALL` lists every action in declaration order (the policy crate tests that
    // each one's position is its discriminant), so the lookup always finds it.
    uids.get(action as usize).map_or("", String::as_str)
}

/// What the record fields `on_behalf_of`, `purpose` and `ticket` say of a caller; all
/// absent for a run as the OS user.
pub struct Delegated {
    pub on_behalf_of: Option<String>,
    pub purpose: Option<String>,
    pub ticket: Option<String>,
}

impl Delegated {
    pub fn of(caller: &Caller) -> Delegated {
        Delegated {
            on_behalf_of: on_behalf_of(caller),
            purpose: present(&caller.purpose).map(str::to_owned),
            ticket: present(&caller.ticket).map(str::to_owned),
        }
    }
}

/// The human a delegated caller acts for, as a Cedar uid.
pub fn on_behalf_of(caller: &Caller) -> Option<String> {
    caller
        .on_behalf_of()
        .map(|user| format!("User::\"{}\"", user.escape_default()))
}

/// A purpose or ticket: absent when empty.
fn present(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_recorded_by_its_cedar_uid() {
        for &action in Action::ALL {
            assert_eq!(action_uid(action), action.to_string());
        }
    }
}
