//! Bindings: the script functions and what they call. Each area has one module; every
//! function reaches the host only through `tollgate_host`, which asks the gate first.

/// Clones the host for one closure (a binding's `move` closure owns its own [`Sdk`]). Defined
/// before the area modules, so that each of them can use it.
macro_rules! with_host {
    ($host:ident, $closure:expr) => {{
        let $host = $host.clone();
        $closure
    }};
}

mod builtins;
mod common;
mod datetime;
mod disk;
mod entries;
pub(crate) mod errors;
mod exec;
pub(crate) mod flags;
mod formats;
mod fs;
mod handle_options;
mod handles;
mod logging;
mod net;
pub(crate) mod objects;
mod process;
pub(crate) mod reports;
mod sdk_host;
mod service;
mod system;

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};
use tollgate_host::{ErrorKind, Host, HostError};

pub(crate) use builtins::register as register_builtins;
pub(crate) use logging::register as register_logging;

use crate::error::{raised, DeniedCall};
use sdk_host::Sdk;

/// The script-visible error value, as Rex shapes it: a map with `kind` (an error kind enum
/// value, see `errors`), `message` and `source` (the kind's module), and for a denial also the
/// `action`, `resource`, `principal`, `reason` and the `policies` that forbade it. What a
/// run's result says of an error never comes from this map alone: a script can build one.
pub(crate) fn error_map(kind: ErrorKind, message: &str, source: &str) -> Map {
    error_map_of(errors::kind_value(kind, source), message, source)
}

/// The error value for a kind named as Rex names it in `source`'s module.
pub(crate) fn error_map_of(kind: errors::ErrorKindValue, message: &str, source: &str) -> Map {
    let mut m = Map::new();
    m.insert("kind".into(), Dynamic::from(kind));
    m.insert("message".into(), Dynamic::from(message.to_owned()));
    m.insert("source".into(), Dynamic::from(source.to_owned()));
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
            let message = format!("access denied: {d}");
            let call = DeniedCall::of(&d);
            let source = errors::source_of_action(&call.action);
            let mut m = error_map(ErrorKind::PermissionDenied, &message, source);
            m.insert("action".into(), Dynamic::from(call.action.clone()));
            m.insert("resource".into(), Dynamic::from(call.resource.clone()));
            m.insert("principal".into(), Dynamic::from(call.principal.clone()));
            m.insert("reason".into(), Dynamic::from(call.reason.clone()));
            let policies = call.policies.iter().cloned().map(Dynamic::from);
            m.insert("policies".into(), Dynamic::from_array(policies.collect()));
            // The run's result reports a denial only as the host raised it (see `raised`).
            raised::denial(call, message);
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
        HostError::UnknownUnit { .. } => {
            let kind = errors::named("ServiceNotFound");
            let m = error_map_of(kind, &e.to_string(), "ProcessErrorKind");
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
        HostError::Rex { kind, .. } => {
            let m = error_map_of(errors::named(kind), &e.to_string(), "IoErrorKind");
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
        other => {
            let m = error_map(other.kind(), &other.to_string(), "IoErrorKind");
            EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
        }
    }
}

/// A script-input error (bad argument value), catchable.
pub(crate) fn invalid(message: impl AsRef<str>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(
        Dynamic::from_map(error_map(
            ErrorKind::InvalidInput,
            message.as_ref(),
            "IoErrorKind",
        )),
        Position::NONE,
    )
    .into()
}

/// Registers every SDK function and flag module.
pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    let host = Sdk::new(host);
    objects::register(engine);
    common::register(engine);
    flags::register(engine);
    fs::register(engine, host.clone());
    system::register(engine, host.clone());
    process::register(engine, host.clone());
    disk::register(engine, host.clone());
    exec::register(engine, host.clone());
    service::register(engine, host.clone());
    net::register(engine, host.clone());
    formats::register(engine, host.clone());
    handles::register(engine, host);
}
