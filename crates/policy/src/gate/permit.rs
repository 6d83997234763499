//! The permit the gate gives, and the requests it decides.

use super::*;

/// Proof that the gate permitted `actions` on `resource`. Host operations take one and act on
/// the resource it names, so they cannot touch anything the gate did not see.
#[derive(Debug)]
#[must_use = "an effect must take the permit for what it touches"]
pub struct Permit {
    pub(super) resource: Resource,
    pub(super) actions: Vec<Action>,
}

impl Permit {
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Whether this permit covers `action`.
    pub fn allows(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }
}

/// One request to the gate: actions on a resource, in a context.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub actions: &'a [Action],
    pub resource: &'a Resource,
    pub context: &'a Context,
}
