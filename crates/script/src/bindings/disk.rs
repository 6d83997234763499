//! Disks and file systems: `df`, `iostat`, `lsblk`, Rex's `Filesystems` and their results.

use std::rc::Rc;

use rhai::Engine;
use tollgate_host::Host;

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

pub(crate) fn register(_engine: &mut Engine, _host: Rc<Host>) {}
