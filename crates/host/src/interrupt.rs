//! A flag the run's watchdog raises when the time limit passes, or the host owner's
//! `tollgate kill` when it stops the run, and the time limit itself, which bounds every
//! blocking call whatever the script asked for.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{HostError, HostResult};

/// Shared stop flag. Long host operations (a grep over a large file, a deep walk) poll it
/// between chunks so that the wall-clock limit also bounds time spent inside the host.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    /// When the run's time is up; `None` for a host with no time limit (benches, tests).
    deadline: Option<Instant>,
}

const RAISED: u8 = 1;
const KILLED: u8 = 2;

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// A flag for a run whose time is up at `deadline`.
    pub fn until(deadline: Instant) -> Interrupt {
        Interrupt(Arc::new(Shared {
            state: AtomicU8::new(0),
            deadline: Some(deadline),
        }))
    }

    /// What is left of `asked` before the run's time is up: how long a blocking call (a
    /// connection, an HTTP request, a D-Bus call, a binary) may wait, whatever the script
    /// passed for its own timeout.
    pub fn bound(&self, asked: Duration) -> Duration {
        match self.0.deadline {
            Some(deadline) => asked.min(deadline.saturating_duration_since(Instant::now())),
            None => asked,
        }
    }

    /// Whether the run's time is up (the watchdog may not have raised the flag yet).
    pub fn past_deadline(&self) -> bool {
        self.0.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Interrupted)` when a bounded wait ended because the run's time is up rather
    /// than the call's own timeout: the run's limit is what the script hit.
    pub fn check_deadline(&self) -> HostResult<()> {
        if self.past_deadline() {
            Err(HostError::Interrupted)
        } else {
            self.check()
        }
    }

    /// The time limit passed.
    pub fn raise(&self) {
        let _ = self
            .0
            .state
            .compare_exchange(0, RAISED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The host owner stopped the run (`tollgate kill`).
    pub fn kill(&self) {
        self.0.state.store(KILLED, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.state.load(Ordering::Relaxed) != 0
    }

    /// Whether the run was stopped by its owner rather than by its time limit.
    pub fn was_killed(&self) -> bool {
        self.0.state.load(Ordering::Relaxed) == KILLED
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
