//! Rex's common utilities: dates and times (`DateTime`, `now`), `Duration`, random strings,
//! and the metrics and alarms a script reports.

use rhai::Engine;

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

pub(crate) fn register(_engine: &mut Engine) {}
