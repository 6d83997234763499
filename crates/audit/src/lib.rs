//! Tollgate's audit trail.
//!
//! Every gate decision, and the start and end of every run, is appended here before it takes
//! effect, and that append is all a decision waits for. Records are canonical JSON lines; an
//! RFC 6962 Merkle tree over them, stored as C2SP tlog-tiles hash tiles, is committed to by
//! signed checkpoints (C2SP tlog-checkpoint), hashed and signed off the decisions' path, so
//! an edited, removed, inserted or reordered record, a changed tile, a forged checkpoint and
//! a rollback can each be detected, and one record can be proven to an auditor without
//! handing over the log.
//!
//! The gate writes its decisions here through [`GateRecorder`], the adapter from the policy
//! crate's [`tollgate_policy::DecisionLog`] to this log; the gate cannot be built without
//! saying what records it (see [`tollgate_policy::Recorder`]).
//!
//! This crate must never report success for a record it did not write: an append that fails
//! is an error, and the caller denies.

pub mod checkpoint;
mod gate;
mod log;
mod read;
mod record;
pub mod tiles;

pub use gate::{on_behalf_of, Delegated, GateRecorder};
pub use log::{
    default_key_path, host_name, init, read_config, read_verifier, AuditError, AuditLog,
    CheckpointRequest, InitOptions, LogConfig, SyncMode,
};
pub use read::{
    check_proof, checkpoints, consistency, latest_checkpoint, prove, scan, scan_lines_containing,
    verify, Proof, Scanned, VerifyReport,
};
pub use record::{write_canonical, DecisionRef, Event, EventRef, Record};
