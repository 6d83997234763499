//! The gate between a script and the host.
//!
//! This crate holds Tollgate's Cedar schema, turns a host owner's policy file into a validated,
//! indexed policy set, builds the Cedar entities for the resources a host operation is about to
//! touch, and answers each request with a [`Permit`] or a [`Denied`]. A `Permit` can only be
//! made here, and host operations require one, so code that reaches the host without asking
//! does not compile.
//!
//! It must never touch the host itself: no file, process or network access happens in this
//! crate beyond reading the policy file it is given. A policy that fails to load or validate is
//! an error, never an empty (or permissive) policy set.

mod action;
mod error;
pub mod execute;
mod gate;
mod identity;
mod index;
mod labels;
mod lint;
mod own;
mod path;
mod policies;
mod resource;
mod schema;
pub mod sdk_actions;
mod taint;
mod validated;

pub use action::{Action, SINKS};
pub use error::{PolicyError, SourceLocation};
pub use gate::{
    Bearing, CallScope, Decision, DecisionCounts, DecisionEntry, DecisionLog, Denied, Explanation,
    Gate, Permit, Probe, Recorder, Request, ShadowDifference, ShadowVerdict,
};
pub use identity::{
    verify_token, Caller, Delegation, Directory, IdentityError, Principal, TrustConfig,
};
pub use index::PathScopes;
pub use labels::{LabelError, LabelRules, Labels, UNLABELLED};
pub use lint::{lint, lint_own_files, Warning};
pub use own::OwnFiles;
pub use path::{AbsPath, PathError};
pub use policies::Policies;
pub use resource::{Context, ProcessInfo, Resource};
pub use schema::{Schema, SCHEMA_SOURCE};
pub use taint::{Source, Stamp, Taint, ToHash, HASH_LIMIT, REDACTED_CATEGORIES};
pub use validated::VALIDATION_CACHE_DIR;
