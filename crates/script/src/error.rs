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
        E::ErrorRuntime(value, _) => {
            let kind = value
                .read_lock::<rhai::Map>()
                .and_then(|m| m.get("kind").map(|k| k.to_string()));
            let message = value
                .read_lock::<rhai::Map>()
                .and_then(|m| m.get("message").map(|k| k.to_string()))
                .unwrap_or_else(|| value.to_string());
            let error_type = match kind.as_deref() {
                Some(crate::bindings::KIND_DENIED) => ErrorType::AccessDenied,
                Some(crate::bindings::KIND_LIMIT) => ErrorType::ResourceLimit,
                _ => ErrorType::Script,
            };
            let mut error = RunError::new(error_type, at(message));
            if error_type == ErrorType::AccessDenied {
                error.denied = value
                    .read_lock::<rhai::Map>()
                    .map(|m| Box::new(denied_call(&m)));
            }
            error
        }
        E::ErrorInFunctionCall(_, _, inner, _) => classify(inner, limits),
        _ => RunError::new(ErrorType::Script, at(err.to_string())),
    }
}

/// The denied call from the error map a denial raises in the script (see
/// `bindings::host_error`).
fn denied_call(m: &rhai::Map) -> DeniedCall {
    let text = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
    let policies = m
        .get("policies")
        .and_then(|v| {
            v.read_lock::<rhai::Array>()
                .map(|a| a.iter().map(|p| p.to_string()).collect())
        })
        .unwrap_or_default();
    DeniedCall {
        principal: text("principal"),
        action: text("action"),
        resource: text("resource"),
        reason: text("reason"),
        policies,
    }
}
