//! A flag the run's watchdog raises when the time limit passes, or the host owner's
//! `tollgate kill` when it stops the run.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::error::{HostError, HostResult};

/// Shared stop flag. Long host operations (a grep over a large file, a deep walk) poll it
/// between chunks so that the wall-clock limit also bounds time spent inside the host.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicU8>);

const RAISED: u8 = 1;
const KILLED: u8 = 2;

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The time limit passed.
    pub fn raise(&self) {
        let _ = self
            .0
            .compare_exchange(0, RAISED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The host owner stopped the run (`tollgate kill`).
    pub fn kill(&self) {
        self.0.store(KILLED, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Whether the run was stopped by its owner rather than by its time limit.
    pub fn was_killed(&self) -> bool {
        self.0.load(Ordering::Relaxed) == KILLED
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
