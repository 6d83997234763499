//! The SDK call a decision serves: the script's bindings name it for the length of the call
//! ([`Gate::calling`]), and every decision made meanwhile records it, so that a denial on a
//! directory still says that it was, say, a `cat` of a file below it.

use super::*;

/// While alive, decisions are made for the SDK call it names; dropped, the call it
/// interrupted (a callback's caller) is the current one again.
#[must_use = "the call is named only while the scope lives"]
pub struct CallScope<'a> {
    gate: &'a Gate,
    outer: Option<&'static str>,
}

impl Gate {
    /// Names `call` (as the SDK table names it: `cat`, `RcFileHandle.read`) as the one every
    /// decision serves until the scope returned is dropped.
    pub fn calling(&self, call: &'static str) -> CallScope<'_> {
        let outer = self
            .call
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(call);
        CallScope { gate: self, outer }
    }

    /// The SDK call being served, if any.
    pub fn current_call(&self) -> Option<&'static str> {
        *self.call.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for CallScope<'_> {
    fn drop(&mut self) {
        *self.gate.call.lock().unwrap_or_else(|p| p.into_inner()) = self.outer;
    }
}
