//! Questions to the gate that run nothing: `check_access` (one request, or every request a
//! command would make), `list_permissions`, and `describe_sdk` filtered to what the policy
//! could ever permit.
//!
//! Each is answered by a gate built as a run's is (the server's policy, principal, labels,
//! Tollgate's own files and the kill switch). A request `check_access` asks is decided and
//! recorded as a probe before it is answered, one probe record per request; its denial is
//! the one a run gets, from the same code (`Gate::explain_all`, `Denied::would_permit`), so
//! a question and the run it is about say the same thing.

use std::sync::Arc;

use serde_json::{json, Value};
use tollgate_audit::GateRecorder;
use tollgate_policy::sdk_actions::{self, Entity};
use tollgate_policy::{
    Action, Context, Denied, Explanation, Gate, PolicyError, Recorder, Request, Resource,
};
use tollgate_script::{ErrorType, RunError};

use super::command;
use super::schemas::CheckAccess;
use crate::run::{audit_unavailable, Setup};

/// What `check_access` was asked.
pub enum Question {
    /// One request, as uids.
    One { action: String, resource: String },
    /// Every request of a command.
    Command { command: String, args: Vec<String> },
}

impl Question {
    /// The question `p` asks; an error says why it is malformed.
    pub fn of(p: CheckAccess) -> Result<Question, String> {
        match p {
            CheckAccess {
                action: Some(action),
                resource: Some(resource),
                command: None,
                args: None,
            } => Ok(Question::One { action, resource }),
            CheckAccess {
                action: None,
                resource: None,
                command: Some(command),
                args,
            } => Ok(Question::Command {
                command,
                args: args.unwrap_or_default().iter().map(|a| a.text()).collect(),
            }),
            _ => Err(
                "check_access takes either {action, resource} or {command, args}, not a mix or a part of one"
                    .to_owned(),
            ),
        }
    }
}

fn invalid(e: impl ToString) -> RunError {
    RunError::new(ErrorType::Validation, e.to_string())
}

/// A gate of the server's principal, recording into the audit log as a run of its own (one
/// question, one run id), and the log to checkpoint once the question is answered.
fn gate(
    setup: &mut Setup,
    recorded: bool,
) -> Result<(Gate, Option<Arc<tollgate_audit::AuditLog>>), RunError> {
    let frozen = setup.watch()?.frozen();
    let log = if recorded { setup.audit()? } else { None };
    let recorder = match &log {
        Some(log) => Recorder::Log(Box::new(GateRecorder::new(
            Arc::clone(log),
            crate::audit::new_run_id(),
            &setup.caller,
        ))),
        None => Recorder::Unaudited,
    };
    Ok((setup.gate(recorder, frozen)?, log))
}

/// The answer to a `check_access` question, recorded before it is given.
pub fn check(setup: &mut Setup, question: &Question) -> Result<Value, RunError> {
    let (gate, log) = gate(setup, true)?;
    let answer = match question {
        Question::One { action, resource } => {
            let action = Action::from_uid(action).map_err(|e: PolicyError| invalid(e))?;
            let resource = Resource::from_uid(resource).map_err(|e: PolicyError| invalid(e))?;
            let e = gate.explain(action, &resource, &Context::Empty);
            let mut answer = answer(action, &resource, &e);
            answer["principal"] = json!(gate.principal());
            answer
        }
        Question::Command { command, args } => command_answer(&gate, command, args)?,
    };
    if let Some(log) = &log {
        log.checkpoint()
            .map_err(|e| audit_unavailable(e.to_string()))?;
    }
    Ok(answer)
}

/// One request's answer: the decision, the policies that made it, and for a denial why and
/// what would permit it.
fn answer(action: Action, resource: &Resource, e: &Explanation) -> Value {
    json!({
        "action": action.to_string(),
        "resource": resource.to_string(),
        "decision": if e.decision.permitted { "permit" } else { "deny" },
        "policies": e.decision.policies,
        "reason": e.denied.as_ref().map(|d| d.reason()),
        "would_permit": e.would_permit,
        "involved": e.bearings.iter().map(|b| json!({
            "policy": b.policy,
            "effect": if b.permit { "permit" } else { "forbid" },
            "applies": b.applies,
            "errors": b.errors,
        })).collect::<Vec<_>>(),
        "labels": e.decision.labels.as_ref().map(|l| l.to_json().clone()),
    })
}

/// A denial as a run's error spells it out, with what would permit it.
fn denial(d: &Denied) -> Value {
    json!({
        "error_type": ErrorType::AccessDenied,
        "message": format!("access denied: {d}"),
        "principal": d.principal,
        "action": d.action.to_string(),
        "resource": d.resource.to_string(),
        "reason": d.reason(),
        "policies": d.forbidden_by,
        "would_permit": d.would_permit(),
    })
}

/// Every request `command` with `args` would make, each decided, and the denial the command
/// would get. The requests it makes on every call are asked together, as the command asks
/// them; those it makes only in some case (`when`) each on its own.
fn command_answer(gate: &Gate, command: &str, args: &[String]) -> Result<Value, RunError> {
    let (planned, unresolved) = command::requests(command, args).map_err(invalid)?;
    let always: Vec<&command::Planned> = planned.iter().filter(|p| p.when.is_none()).collect();
    let requests: Vec<Request<'_>> = always
        .iter()
        .map(|p| Request {
            actions: p.actions,
            resource: &p.resource,
            context: &p.context,
        })
        .collect();
    let together = gate.explain_all(&requests);
    let mut explained = together.explained.iter();
    let mut answers = Vec::new();
    for p in &planned {
        for &action in p.actions {
            let mine;
            let e = if p.when.is_none() {
                // In the same order as asked.
                match explained.next() {
                    Some((_, _, e)) => e,
                    None => continue,
                }
            } else {
                mine = gate.explain(action, &p.resource, &p.context);
                &mine
            };
            let mut a = answer(action, &p.resource, e);
            a["ask"] = json!(p.ask);
            a["when"] = json!(p.when);
            answers.push(a);
        }
    }
    // Undecided only if a request made on every call could not be named.
    let decision = if together.denied.is_some() {
        "deny"
    } else if unresolved.iter().all(|u| u.when.is_some()) {
        "permit"
    } else {
        "undecided"
    };
    Ok(json!({
        "principal": gate.principal(),
        "command": command,
        "args": args,
        "decision": decision,
        "denied": together.denied.as_deref().map(denial),
        "requests": answers,
        "unresolved": unresolved
            .iter()
            .map(|u| json!({"ask": u.ask, "when": u.when, "why": u.why}))
            .collect::<Vec<_>>(),
    }))
}

/// What the policy lets the server's principal do (see `Gate::permissions`). Nothing is
/// decided, so nothing is recorded.
pub fn list_permissions(setup: &mut Setup) -> Result<Value, RunError> {
    let (gate, _) = gate(setup, false)?;
    let p = gate
        .permissions()
        .map_err(|e| RunError::new(ErrorType::Internal, e))?;
    let caller = gate.caller();
    let mut out = json!({
        "principal": p.principal,
        "on_behalf_of": caller.on_behalf_of(),
        "purpose": caller.purpose,
        "frozen": gate.is_frozen(),
        "always_denied": "whatever the policy says: every request while the host is frozen (tollgate freeze), and changes to Tollgate's own files (its audit log, key, state, config, policy files and binary) and reading its signing key",
    });
    for (key, statements) in [("permitted", &p.permitted), ("forbidden", &p.forbidden)] {
        out[key] = statements
            .iter()
            .map(|s| {
                json!({
                    "policy": s.policy,
                    "actions": s.actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "principal": s.principal,
                    "resource": s.resource,
                    "condition": s.condition,
                    "everywhere": s.everywhere,
                    "cut_by": s.cut_by,
                })
            })
            .collect();
    }
    Ok(out)
}

/// `describe_sdk` with only the functions the policy could let the server's principal
/// call: each request it makes on every call could be permitted (or, for a function whose
/// every request is in some case, one of them could). A request of a fixed entity
/// (`/proc/meminfo`) is decided for that entity, unrecorded; the rest by what the policy
/// could permit on their entity type (see `Gate::permissions`).
pub fn describe_allowed(setup: &mut Setup) -> Result<Value, RunError> {
    let (gate, _) = gate(setup, false)?;
    let p = gate
        .permissions()
        .map_err(|e| RunError::new(ErrorType::Internal, e))?;
    let could = |ask: &sdk_actions::Ask| {
        ask.actions.iter().all(|&action| {
            if let Some(resource) = command::fixed_entity(ask) {
                return gate
                    .probe(action, &resource, &Context::Empty)
                    .decision
                    .permitted;
            }
            match ask.entity {
                Entity::FileOrDir => {
                    p.could_permit(action, Entity::File.type_name())
                        || p.could_permit(action, Entity::Dir.type_name())
                }
                other => p.could_permit(action, other.type_name()),
            }
        })
    };
    let mut described = tollgate_script::sdk::describe();
    let mut left_out = 0;
    if let Some(functions) = described["functions"].as_array_mut() {
        functions.retain(|f| {
            let asks = sdk_actions::asks(f["name"].as_str().unwrap_or_default());
            let (always, sometimes): (Vec<_>, Vec<_>) =
                asks.iter().partition(|ask| ask.when.is_none());
            let kept = always.iter().all(&could)
                && (!always.is_empty() || sometimes.is_empty() || sometimes.iter().any(&could));
            if !kept {
                left_out += 1;
            }
            kept
        });
    }
    described["allowed_only"] = json!(true);
    described["principal"] = json!(p.principal);
    described["left_out"] = json!(left_out);
    Ok(described)
}
