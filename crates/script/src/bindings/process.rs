//! Processes: `ps`, `kill`, Rex's `ProcessManager` and its results (`ProcessInfo`, `State`,
//! `Signal`, open files, namespaces).

use std::rc::Rc;

use rhai::Engine;
use tollgate_host::Host;

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

pub(crate) fn register(_engine: &mut Engine, _host: Rc<Host>) {}
