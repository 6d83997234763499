//! Exit codes, one per way a run can end (documented in the README).

use std::process::ExitCode;

use tollgate_script::ErrorType;

/// 0: the script ran and returned.
pub const SUCCESS: u8 = 0;

/// `tollgate fleet`: at least one host did not succeed (each host's status says why).
pub const FLEET_INCOMPLETE: u8 = 7;

/// The exit code for a failed run of `error_type`. 2 is left to command-line usage errors.
pub fn code(error_type: ErrorType) -> u8 {
    match error_type {
        ErrorType::Internal => 1,
        ErrorType::Validation => 3,
        ErrorType::AccessDenied => 4,
        ErrorType::Script => 5,
        ErrorType::ResourceLimit => 6,
    }
}

pub fn exit_code(error_type: Option<ErrorType>) -> ExitCode {
    ExitCode::from(error_type.map_or(SUCCESS, code))
}
