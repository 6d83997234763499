//! The invariants file of `tollgate policy prove`: Cedar statements, validated against
//! Tollgate's schema, each saying with annotations what must hold of a policy. See
//! [`super`] for the format.

use std::str::FromStr;

use cedar_policy::PolicySet;
use cedar_policy_core::ast::{Effect, Policy};
use tollgate_policy::{Policies, Schema};

/// What one invariant claims of the policy it is proved against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `@invariant("never")` on a permit: the policy permits no request it matches.
    Never,
    /// `@invariant("always")` on a permit: the policy permits every request it matches.
    Always,
    /// `@invariant("holds")` with `@policy("ID")` on a forbid: the policy's forbid `ID` is
    /// never overridden, among the requests the statement matches: no request is permitted
    /// for which the condition of `ID` errors (an erroring forbid is skipped).
    Holds { policy: String },
}

impl Claim {
    pub fn word(&self) -> &'static str {
        match self {
            Claim::Never => "never",
            Claim::Always => "always",
            Claim::Holds { .. } => "holds",
        }
    }
}

/// One statement of the invariants file.
#[derive(Clone, Debug)]
pub struct Invariant {
    /// Its `@id`.
    pub id: String,
    pub claim: Claim,
    /// The statement as written (its effect is the claim's: permit, or forbid for `holds`).
    pub(crate) statement: Policy,
    /// The statement's own text, for the gate.
    pub(crate) text: String,
}

/// Parses and validates an invariants file; every problem is reported with its place.
pub(crate) fn parse(file: &str, text: &str) -> Result<Vec<Invariant>, String> {
    let schema = Schema::tollgate().map_err(|e| e.to_string())?;
    Policies::parse(file, text, &schema).map_err(|e| e.to_string())?;
    let set = PolicySet::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let line_of = |p: &cedar_policy::Policy| {
        let core: &Policy = p.as_ref();
        core.loc()
            .map(|l| {
                text[..l.span.offset().min(text.len())]
                    .matches('\n')
                    .count()
                    + 1
            })
            .unwrap_or(0)
    };
    let mut statements: Vec<(usize, &cedar_policy::Policy)> =
        set.policies().map(|p| (line_of(p), p)).collect();
    statements.sort_by_key(|(line, _)| *line);
    if statements.is_empty() {
        return Err(format!(
            "{file}: no invariants; write statements with @id(\"...\") and @invariant(\"never\"), @invariant(\"always\") or @invariant(\"holds\")"
        ));
    }
    let mut out: Vec<Invariant> = Vec::new();
    let mut problems = Vec::new();
    for (line, p) in statements {
        let at = format!("{file}:{line}");
        let core: &Policy = p.as_ref();
        let Some(id) = p.annotation("id") else {
            problems.push(format!(
                "{at}: an invariant needs an @id(\"...\") to be named by"
            ));
            continue;
        };
        if out.iter().any(|i| i.id == id) {
            problems.push(format!("{at}: @id(\"{id}\") is used twice"));
            continue;
        }
        let effect = core.effect();
        let claim = match (p.annotation("invariant"), p.annotation("policy"), effect) {
            (Some("never"), None, Effect::Permit) => Claim::Never,
            (Some("always"), None, Effect::Permit) => Claim::Always,
            (Some("holds"), Some(policy), Effect::Forbid) => Claim::Holds {
                policy: policy.to_owned(),
            },
            (Some("never" | "always"), Some(_), _) => {
                problems.push(format!(
                    "{at}: @policy(...) goes with @invariant(\"holds\") only"
                ));
                continue;
            }
            (Some("never" | "always"), None, Effect::Forbid) => {
                problems.push(format!(
                    "{at}: write a never or always invariant as a permit: @invariant(\"never\") permit(...) reads \"never permit ...\""
                ));
                continue;
            }
            (Some("holds"), None, _) => {
                problems.push(format!(
                    "{at}: @invariant(\"holds\") needs @policy(\"ID\"), the @id of the policy's forbid that must never be overridden"
                ));
                continue;
            }
            (Some("holds"), Some(_), Effect::Permit) => {
                problems.push(format!(
                    "{at}: write a holds invariant as a forbid, e.g. @invariant(\"holds\") @policy(\"no-secrets\") forbid(principal, action, resource);"
                ));
                continue;
            }
            (Some(other), _, _) => {
                problems.push(format!(
                    "{at}: @invariant({other:?}) is not one of \"never\", \"always\", \"holds\""
                ));
                continue;
            }
            (None, _, _) => {
                problems.push(format!(
                    "{at}: @id(\"{id}\") has no @invariant(\"never\"|\"always\"|\"holds\")"
                ));
                continue;
            }
        };
        out.push(Invariant {
            id: id.to_owned(),
            claim,
            statement: core.clone(),
            text: p.to_string(),
        });
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    Ok(out)
}
