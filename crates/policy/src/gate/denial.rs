//! A refusal: what was refused, and why, in words that say what would change it.

use super::*;

/// A refusal, with what a person needs to change the outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub principal: String,
    pub action: Action,
    pub resource: Resource,
    /// Names of the forbid policies that matched; empty when nothing permitted the request.
    pub forbidden_by: Vec<String>,
    /// Policies that failed to evaluate for this request (they count as not matching).
    pub errors: Vec<String>,
    /// Set when the decision could not be written to the decision log: then the answer is
    /// deny, whatever the policy said.
    pub unrecorded: Option<String>,
    /// Set when the host is frozen (`tollgate freeze`): every decision is a deny.
    pub frozen: bool,
    /// Set when the request touches one of Tollgate's own files (what it is): denied
    /// whatever the policy says.
    pub own_file: Option<String>,
}

impl Denied {
    /// Why it was denied and what would change that, without the who/what/where prefix.
    pub fn reason(&self) -> String {
        if self.frozen {
            return "the host is frozen (tollgate freeze), so every request is denied until `tollgate thaw`".to_owned();
        }
        if let Some(what) = &self.own_file {
            return format!(
                "it is Tollgate's own file ({what}), which no script may change (or, for a key, read), whatever the policy says"
            );
        }
        if let Some(e) = &self.unrecorded {
            return format!(
                "the decision could not be written to the audit log ({e}), so it is denied; fix the audit log (disk space, permissions, lock) and run again"
            );
        }
        let mut out = if self.forbidden_by.is_empty() {
            "no policy permits it; add a permit for this action and resource to the policy"
                .to_owned()
        } else {
            format!(
                "forbidden by policy {}; a forbid overrides every permit",
                self.forbidden_by.join(", ")
            )
        };
        for e in &self.errors {
            out.push_str("; policy error: ");
            out.push_str(e);
        }
        out
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not allowed to {} on {}: {}",
            self.principal,
            self.action,
            self.resource,
            self.reason()
        )
    }
}

impl std::error::Error for Denied {}

/// Why a request is denied before any policy is asked.
pub(super) enum Refusal<'a> {
    Frozen,
    /// One of Tollgate's own files, and what it is.
    OwnFile(&'a str),
}
