//! Tollgate's host operations.
//!
//! Each operation here names the resources it will touch, asks the [`Gate`] for each of them,
//! and only then makes a system call, on a descriptor resolved beneath `/` without following
//! symlinks. Results are plain Rust values; turning them into script values is the script
//! crate's job.
//!
//! This crate must never make a system call about a resource before the gate has permitted
//! it, never follow a symlink the policy has not seen, and never read or build a value larger
//! than the run's [`Limits`].

pub mod confine;
pub mod disk;
mod effect;
mod error;
pub mod exec;
pub mod fs;
mod interrupt;
pub mod kernel;
pub mod net;
pub mod open_files;
pub mod process;
pub mod redact;
pub mod service;
pub mod supervisor_call;
pub mod sysctl;
pub mod system;

use std::collections::BTreeMap;
use std::sync::Mutex;

use tollgate_policy::Gate;

pub use error::{ErrorKind, HostError, HostResult};
pub use interrupt::Interrupt;
pub use supervisor_call::{SupervisorCall, SupervisorHook};

/// Size bounds that host operations enforce while they work, so that a result is refused
/// before it is built rather than after.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest string an operation may return (file content, a joined result).
    pub max_string_bytes: usize,
    /// Largest number of items (lines, entries, matches) an operation may return.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string_bytes: 16 << 20,
            max_items: 1_000_000,
        }
    }
}

/// Everything a host operation needs: the gate, the root descriptor, the limits, and the stop
/// flag.
pub struct Host {
    gate: Gate,
    root: fs::Root,
    limits: Limits,
    interrupt: Interrupt,
    /// The HTTP client, made once per run: it holds the TLS roots, and reuses connections.
    http: ureq::Agent,
    /// What reading commands apply where the policy permits only `redacted_read`.
    redactor: redact::Redactor,
    /// What was replaced in each file read redacted, by path.
    redactions: Mutex<BTreeMap<String, redact::Counts>>,
    /// Carries out what a confined worker may not do itself (see [`supervisor_call`]).
    supervisor: Box<SupervisorHook>,
    /// Whether the host redacts the run's whole answer (the host config's `redact_output`),
    /// which the release of the answer is decided with.
    output_redacted: bool,
}

impl Host {
    /// Opens `/` as the root of every path resolution.
    pub fn new(gate: Gate, limits: Limits, interrupt: Interrupt) -> HostResult<Host> {
        let root = fs::Root::new().map_err(|e| HostError::io("open", "/", e))?;
        // Unconfined, the host carries out its calls itself, under its own gate's permits.
        let bounds = supervisor_call::CallBounds {
            interrupt: interrupt.clone(),
            max_output_bytes: limits.max_string_bytes,
            own_processes: Vec::new(),
        };
        Ok(Host {
            gate,
            root,
            limits,
            interrupt,
            http: net::agent(),
            redactor: redact::Redactor::default(),
            redactions: Mutex::new(BTreeMap::new()),
            supervisor: Box::new(move |permit, call, _| {
                supervisor_call::carry_out(permit, call, &bounds)
            }),
            output_redacted: false,
        })
    }

    /// Says that the run's answer will be redacted whole before it leaves (the host
    /// config's `redact_output`): `context.redacted` of its release.
    pub fn with_output_redacted(mut self, redacted: bool) -> Host {
        self.output_redacted = redacted;
        self
    }

    /// Decides whether the run's answer (its value, logs, metrics and alarms, or its error)
    /// may go to its caller: `output::Action::"release"` with the run's taint.
    pub fn release_output(&self) -> Result<(), Box<tollgate_policy::Denied>> {
        self.gate.release(self.output_redacted).map(|_| ())
    }

    /// Has `hook` carry out what this host may not do itself (a confined worker's calls to
    /// its supervisor) instead of doing it directly.
    pub fn with_supervisor(mut self, hook: Box<SupervisorHook>) -> Host {
        self.supervisor = hook;
        self
    }

    /// Redacts with `redactor` (the built-in detectors plus the host owner's rules) instead of
    /// the built-in detectors alone.
    pub fn with_redactor(mut self, redactor: redact::Redactor) -> Host {
        self.redactor = redactor;
        self
    }

    /// What was replaced so far, per file read redacted (a file read redacted in which
    /// nothing was found has empty counts).
    pub fn redactions(&self) -> BTreeMap<String, redact::Counts> {
        // A poisoned lock only means a thread panicked while adding counts; the map is still
        // whole, and losing counts would hide that redaction happened.
        self.redactions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }
}
