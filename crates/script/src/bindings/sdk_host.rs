//! The host as the bindings hold it. A binding reaches the host only through
//! [`Sdk::call`], which names the SDK call it serves (as the SDK table names it: `cat`,
//! `RcFileHandle.read`) for as long as it uses the host: every decision made meanwhile
//! records that name, so an auditor can tell which call a decision was for. There is no
//! other way from an `Sdk` to the host, so no binding can make a decision without naming
//! its call.

use std::ops::Deref;
use std::rc::Rc;

use tollgate_host::Host;
use tollgate_policy::CallScope;

/// The host, for the bindings.
#[derive(Clone)]
pub(crate) struct Sdk(Rc<Host>);

/// The host while it serves one SDK call; dropped, the call it interrupted (the caller of a
/// callback) is the current one again.
pub(crate) struct Call<'a> {
    host: &'a Host,
    _named: CallScope<'a>,
}

impl Sdk {
    pub(crate) fn new(host: Rc<Host>) -> Sdk {
        Sdk(host)
    }

    /// The host, serving the SDK call `name`.
    pub(crate) fn call(&self, name: &'static str) -> Call<'_> {
        Call {
            host: &self.0,
            _named: self.0.gate().calling(name),
        }
    }
}

impl Deref for Call<'_> {
    type Target = Host;

    fn deref(&self) -> &Host {
        self.host
    }
}
