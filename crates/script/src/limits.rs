//! The hard limits of a run. Every one has a CLI flag and a default documented in the README.

use std::time::Duration;

/// Bounds on a script's time, memory, work and result size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole script, host operations included.
    pub timeout: Duration,
    /// Live heap bytes of the process while the script runs.
    pub max_memory: usize,
    /// Rhai operations (roughly: expressions evaluated).
    pub max_operations: u64,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array.
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
    /// Nested function calls.
    pub max_call_depth: usize,
    /// Nesting of one expression.
    pub max_expr_depth: usize,
    /// Bytes of output (the result plus the logs).
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            max_memory: 256 << 20,
            max_operations: 500_000_000,
            max_string_size: 16 << 20,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            max_call_depth: 64,
            max_expr_depth: 64,
            max_output: 16 << 20,
        }
    }
}

impl Limits {
    /// The matching bounds for host operations.
    pub fn host(&self) -> tollgate_host::Limits {
        tollgate_host::Limits {
            max_string_bytes: self.max_string_size,
            max_items: self.max_array_size,
        }
    }
}
