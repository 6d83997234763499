//! The external error types of a run, and how Rhai's errors map onto them.

use std::fmt;

use rhai::EvalAltResult;
use serde::{Deserialize, Serialize};

/// The error types of the output JSON (Rex's names, plus `RESOURCE_LIMIT_EXCEEDED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorType {
    #[serde(rename = "ACCESS_DENIED_EXCEPTION")]
    AccessDenied,
    #[serde(rename = "VALIDATION_EXCEPTION")]
    Validation,
    #[serde(rename = "SCRIPT_EXCEPTION")]
    Script,
    #[serde(rename = "RESOURCE_LIMIT_EXCEEDED")]
    ResourceLimit,
    #[serde(rename = "INTERNAL_EXCEPTION")]
    Internal,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::AccessDenied => "ACCESS_DENIED_EXCEPTION",
            ErrorType::Validation => "VALIDATION_EXCEPTION",
            ErrorType::Script => "SCRIPT_EXCEPTION",
            ErrorType::ResourceLimit => "RESOURCE_LIMIT_EXCEEDED",
            ErrorType::Internal => "INTERNAL_EXCEPTION",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed run: its type and a message that says what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub error_type: ErrorType,
    pub message: String,
    /// For a denial that ended the run, the call that was denied. Not part of Rex's output
    /// JSON, so `tollgate run` leaves it out; an agent-facing caller can act on it.
    #[serde(skip)]
    pub denied: Option<Box<DeniedCall>>,
}

/// The call the gate refused, in the terms a policy uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedCall {
    pub principal: String,
    /// e.g. `file_system::Action::"read"`.
    pub action: String,
    /// e.g. `file_system::File::"/etc/shadow"`.
    pub resource: String,
    /// Why, and what would change it.
    pub reason: String,
    /// The ids of the policies that decided it (the forbids that matched; empty when no
    /// policy permitted the call).
    pub policies: Vec<String>,
}

impl DeniedCall {
    /// The call `d` refused, in a policy's terms.
    pub(crate) fn of(d: &tollgate_policy::Denied) -> DeniedCall {
        DeniedCall {
            principal: d.principal.clone(),
            action: d.action.to_string(),
            resource: d.resource.to_string(),
            reason: d.reason(),
            policies: d.forbidden_by.clone(),
        }
    }
}

/// The run's error for a denial that ended it (one the script could not catch, such as the
/// release of its answer).
pub(crate) fn of_denial(d: &tollgate_policy::Denied) -> RunError {
    RunError {
        error_type: ErrorType::AccessDenied,
        message: format!("access denied: {d}"),
        denied: Some(Box::new(DeniedCall::of(d))),
    }
}

impl RunError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> RunError {
        RunError {
            error_type,
            message: message.into(),
            denied: None,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for RunError {}

/// Why the engine was told to stop from outside the script (the `on_progress` token).
pub(crate) const STOP_TIME: &str = "time";
pub(crate) const STOP_MEMORY: &str = "memory";

/// Classifies an error that ended the script.
pub(crate) fn classify(err: &EvalAltResult, limits: &crate::Limits) -> RunError {
    use EvalAltResult as E;
    let line = err.position().line();
    let at = |msg: String| match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    };
    match err {
        E::ErrorTerminated(token, _) => {
            let msg = if token.to_string() == STOP_MEMORY {
                format!(
                    "the script used more than {} bytes of memory (--max-memory)",
                    limits.max_memory
                )
            } else {
                format!(
                    "the script ran longer than {} (--timeout)",
                    humantime::format_duration(limits.timeout)
                )
            };
            RunError::new(ErrorType::ResourceLimit, at(msg))
        }
        E::ErrorTooManyOperations(_) => RunError::new(
            ErrorType::ResourceLimit,
            at(format!(
                "the script performed more than {} operations (--max-operations)",
                limits.max_operations
            )),
        ),
        E::ErrorDataTooLarge(what, _) => RunError::new(
            ErrorType::ResourceLimit,
            at(format!(
                "{what} exceeds its limit (--max-string-size, --max-array-size, --max-map-size)"
            )),
        ),
        E::ErrorStackOverflow(_) => RunError::new(
            ErrorType::ResourceLimit,
            at(format!(
                "calls nested deeper than {} (--max-call-depth)",
                limits.max_call_depth
            )),
        ),
        E::ErrorTooManyVariables(_) | E::ErrorTooManyModules(_) => {
            RunError::new(ErrorType::ResourceLimit, at(err.to_string()))
        }
        E::ErrorParsing(..) => RunError::new(ErrorType::Validation, at(err.to_string())),
        E::ErrorRuntime(value, _) => match raised::genuine(value) {
            // A denial the host raised (perhaps caught and thrown on): reported as the
            // host raised it, whatever the map now says.
            Some((call, message)) => {
                let mut error = RunError::new(ErrorType::AccessDenied, at(message));
                error.denied = Some(Box::new(call));
                error
            }
            // Anything else a script throws is the script's own error, whatever its `kind`.
            None => {
                let message = value
                    .read_lock::<rhai::Map>()
                    .and_then(|m| m.get("message").map(|k| k.to_string()))
                    .unwrap_or_else(|| value.to_string());
                RunError::new(ErrorType::Script, at(message))
            }
        },
        E::ErrorInFunctionCall(_, _, inner, _) => classify(inner, limits),
        _ => RunError::new(ErrorType::Script, at(err.to_string())),
    }
}

/// The denials the host raised in this run, so that a run's result reports a denial only
/// when one happened, in the host's words: a script can throw a map with any `kind` and
/// fields, but it cannot add to this list. Kept per thread, as a run is (see `reset`).
pub(crate) mod raised {
    use std::cell::RefCell;

    use super::DeniedCall;

    /// Most denials remembered; a script that catches more only loses the oldest.
    const KEEP: usize = 256;

    thread_local! {
        static RAISED: RefCell<Vec<(DeniedCall, String)>> = const { RefCell::new(Vec::new()) };
    }

    /// Forgets the denials of an earlier run on this thread.
    pub(crate) fn reset() {
        RAISED.with(|r| r.borrow_mut().clear());
    }

    /// The host refused `call`; `message` is what the script was told.
    pub(crate) fn denial(call: DeniedCall, message: String) {
        RAISED.with(|r| {
            let mut raised = r.borrow_mut();
            if raised.len() == KEEP {
                raised.remove(0);
            }
            raised.push((call, message));
        });
    }

    /// The denial the host raised that `value` (an error a script let end the run) stands
    /// for: a denial map whose principal, action and resource are those of one the host
    /// raised. `None` for anything a script made up.
    pub(crate) fn genuine(value: &rhai::Dynamic) -> Option<(DeniedCall, String)> {
        let map = value.read_lock::<rhai::Map>()?;
        let text = |k: &str| map.get(k).map(|v| v.to_string());
        if !map
            .get("kind")
            .is_some_and(crate::bindings::errors::is_permission_denied)
        {
            return None;
        }
        let (principal, action, resource) =
            (text("principal")?, text("action")?, text("resource")?);
        RAISED.with(|r| {
            r.borrow()
                .iter()
                .rev()
                .find(|(c, _)| {
                    c.principal == principal && c.action == action && c.resource == resource
                })
                .cloned()
        })
    }
}
