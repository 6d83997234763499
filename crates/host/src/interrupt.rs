//! A flag the run's watchdog raises when the time limit passes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{HostError, HostResult};

/// Shared stop flag. Long host operations (a grep over a large file, a deep walk) poll it
/// between chunks so that the wall-clock limit also bounds time spent inside the host.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once raised.
    pub fn check(&self) -> HostResult<()> {
        if self.is_raised() {
            Err(HostError::Interrupted)
        } else {
            Ok(())
        }
    }
}
