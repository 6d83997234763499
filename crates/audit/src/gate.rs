//! The adapter between the gate and the log: [`GateRecorder`] is the [`DecisionLog`] a gate
//! writes every decision through, one append per request to the gate, before the decision is
//! answered.

use std::sync::{Arc, OnceLock};

use tollgate_policy::{Action, Caller, DecisionEntry, DecisionLog, Labels};

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
}

impl GateRecorder {
    /// Records the decisions made for `caller` into `log`, as run `run`.
    pub fn new(log: Arc<AuditLog>, run: String, caller: &Caller) -> GateRecorder {
        GateRecorder {
            log,
            run,
            on_behalf_of: on_behalf_of(caller),
        }
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
        append_decisions(&self.log, &self.run, entries, self.on_behalf_of.as_deref())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Appends the decisions of one request to the gate with one write, encoded from the
/// entries as they are (this runs for every decision, so nothing is copied that need not
/// be). `who` is [`on_behalf_of`] of the entries' caller. A probe entry is recorded as a
/// probe: a question that ran nothing.
fn append_decisions(
    log: &Arc<AuditLog>,
    run: &str,
    entries: &[DecisionEntry<'_>],
    who: Option<&str>,
) -> Result<u64, AuditError> {
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
    let events: Vec<EventRef<'_>> = entries
        .iter()
        .zip(&shadows)
        .map(|(e, shadow)| {
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
