//! Tollgate's audit trail.
//!
//! Holds the RFC 6962 Merkle tree over audit records and the signed checkpoints (C2SP
//! tlog-checkpoint signed notes) that let anyone prove, later, that a record was in the log
//! and that the log only grew.

pub mod checkpoint;
pub mod merkle;
