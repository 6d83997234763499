//! Bindings: the script functions and what they call. Each area has one module; every
//! function reaches the host only through `tollgate_host`, which asks the gate first.

mod builtins;
mod exec;
pub(crate) mod flags;
mod fs;
mod handles;
mod logging;
mod net;
mod service;
mod system;

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};
use tollgate_host::{Host, HostError};

pub(crate) use builtins::register as register_builtins;
pub(crate) use logging::register as register_logging;

/// `kind` of a caught denial, as in Rex.
pub(crate) const KIND_DENIED: &str = "PermissionDenied";
/// `kind` of a limit error.
pub(crate) const KIND_LIMIT: &str = "ResourceLimitExceeded";

/// The script-visible error value: a map with `kind` and `message` (and, for a denial, the
/// `action`, `resource`, `principal`, `reason` and the `policies` that forbade it).
pub(crate) fn error_map(kind: &str, message: &str) -> Map {
    let mut m = Map::new();
    m.insert("kind".into(), Dynamic::from(kind.to_owned()));
    m.insert("message".into(), Dynamic::from(message.to_owned()));
    m
}

/// A script map from fixed field names: the shape of every structured result.
pub(crate) fn map<const N: usize>(fields: [(&str, Dynamic); N]) -> Dynamic {
    let m: Map = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Dynamic::from_map(m)
}

/// Converts a host error into a Rhai error. Denials and ordinary failures are catchable; a
/// time-limit interruption and a size limit are not, so a script cannot swallow them.
pub(crate) fn host_error(e: HostError) -> Box<EvalAltResult> {
    match e {
        HostError::Interrupted => {
            EvalAltResult::ErrorTerminated(crate::error::STOP_TIME.into(), Position::NONE).into()
        }
        HostError::TooLarge { .. } => {
            EvalAltResult::ErrorDataTooLarge(e.to_string(), Position::NONE).into()
        }
        HostError::Denied(d) => {
            let mut m = error_map(KIND_DENIED, &format!("access denied: {d}"));
            m.insert("action".into(), Dynamic::from(d.action.to_string()));
            m.insert("resource".into(), Dynamic::from(d.resource.to_string()));
            m.insert("principal".into(), Dynamic::from(d.principal.clone()));
            m.insert("reason".into(), Dynamic::from(d.reason()));
            let policies = d.forbidden_by.iter().cloned().map(Dynamic::from);
            m.insert("policies".into(), Dynamic::from_array(policies.collect()));
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
        other => {
            let m = error_map(other.kind(), &other.to_string());
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
    }
}

/// A script-input error (bad argument value), catchable.
pub(crate) fn invalid(message: impl AsRef<str>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(
        Dynamic::from_map(error_map("InvalidInput", message.as_ref())),
        Position::NONE,
    )
    .into()
}

/// Registers every SDK function and flag module.
pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    flags::register(engine);
    fs::register(engine, Rc::clone(&host));
    system::register(engine, Rc::clone(&host));
    exec::register(engine, Rc::clone(&host));
    service::register(engine, Rc::clone(&host));
    net::register(engine, Rc::clone(&host));
    handles::register(engine, host);
}
