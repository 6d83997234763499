//! `propose_policy`: an agent's proposal of a permit, checked, proved and kept pending for the
//! host owner (see [`crate::proposals`]). Nothing it does changes the policy.

use std::path::Path;

use rmcp::model::CallToolResult;
use serde_json::json;
use tollgate_script::ErrorType;

use super::schemas::ProposePolicy;
use crate::proposals::{self, Proposed};
use crate::run::Setup;

/// Checks the proposal against the server's policy file (as it is now) and `invariants`,
/// records it, and answers the agent: pending with its number, or refused with the reason.
pub fn propose(setup: &mut Setup, p: &ProposePolicy, invariants: Option<&Path>) -> CallToolResult {
    let failed = |error_type: ErrorType, message: String| {
        CallToolResult::structured_error(json!({
            "status": "refused",
            "message": message,
            "error": {"error_type": error_type, "message": message},
        }))
    };
    let log = match setup.audit() {
        Ok(log) => log,
        Err(e) => return failed(e.error_type, e.message),
    };
    let proposed = proposals::propose(
        &setup.policy_path,
        &p.statement,
        &p.justification,
        &setup.caller,
        invariants,
        &proposals::prove,
        log.as_ref(),
    );
    match proposed {
        Ok(Proposed::Pending(proposal)) => CallToolResult::structured(json!({
            "status": "pending",
            "proposal": proposal.id,
            "statement": proposal.statement,
            "proofs": proposal.proofs,
            "message": format!(
                "recorded as proposal {}; it takes effect only if the host owner approves it (tollgate policy approve {}). Until then the policy is unchanged: carry on within it, or wait.",
                proposal.id, proposal.id
            ),
        })),
        Ok(Proposed::Refused { message, proofs }) => CallToolResult::structured_error(json!({
            "status": "refused",
            "message": message,
            "proofs": proofs,
            "error": {"error_type": ErrorType::Validation, "message": message},
        })),
        Err(e) => failed(ErrorType::Internal, e),
    }
}
