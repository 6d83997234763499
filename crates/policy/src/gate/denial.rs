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
    /// Set when the data's deletion was requested (the request) and the labels file's
    /// default refuses this action to every purpose but `erasure`, whatever the policy says.
    pub erasure: Option<crate::labels::Erasure>,
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
        let mut out = if let Some(e) = &self.erasure {
            // The default decides it: a permit added, or a forbid removed, would change nothing.
            let mut out = format!(
                "its deletion was requested (erasure request {} of {}, in the host's labels file), so it is refused to every purpose but \"{}\", whatever the policy says; {}",
                e.id,
                e.date,
                crate::labels::ERASURE_PURPOSE,
                self.would_permit()
            );
            let policies: Vec<&str> = self
                .forbidden_by
                .iter()
                .map(String::as_str)
                .filter(|p| *p != labelled::ERASURE_DEFAULT)
                .collect();
            if !policies.is_empty() {
                out.push_str(&format!(
                    "; it is also forbidden by policy {}",
                    policies.join(", ")
                ));
            }
            out
        } else if self.forbidden_by.is_empty() {
            format!(
                "no policy permits it; add one, e.g. {}",
                self.would_permit()
            )
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

    /// What would permit it. For a request nothing permits, the narrowest permit that would
    /// (and, for a path, the one for its directory); for a forbidden one, the forbids to
    /// change; where no policy decided (a frozen host, one of Tollgate's own files, a
    /// decision that could not be recorded), why no policy change would. The one text every
    /// denial says it with: a run's error, `check_access` and `tollgate explain`.
    pub fn would_permit(&self) -> String {
        if self.frozen || self.own_file.is_some() || self.unrecorded.is_some() {
            return format!("no policy change would: {}", self.reason());
        }
        if self.erasure.is_some() {
            return format!(
                "only a run for purpose \"{}\" may (a delegation token stating it), and a policy must permit that run too; or the host owner sets \"erasure_default\": \"policy_decides\" in the labels file to let the policy decide",
                crate::labels::ERASURE_PURPOSE
            );
        }
        if !self.forbidden_by.is_empty() {
            return format!(
                "forbidden by {}: a forbid overrides every permit, so change that policy or what its condition looks at",
                self.forbidden_by.join(", ")
            );
        }
        let mut narrowest = format!(
            "permit(principal == {}, action == {}, resource == {});",
            self.principal, self.action, self.resource
        );
        if let Some(dir) = self.resource.path().and_then(|p| p.parent()) {
            narrowest.push_str(&format!(
                " or, for its directory, permit(principal == {}, action == {}, resource in {});",
                self.principal,
                self.action,
                Resource::Dir(dir)
            ));
        }
        narrowest
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
