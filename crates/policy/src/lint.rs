//! Warnings about valid policies that grant more than their writer likely meant: a permit of
//! everything to everyone, write access at or above `/etc`, `/usr` or `/`, and execute of a
//! shell or interpreter (which turns any policy into "run anything"). Read off the policies'
//! scopes; a condition (`when`/`unless`) silences only the first warning, since a scope that
//! reaches that far is worth a second look whatever narrows it. A write warning names the SDK
//! commands that ask the actions granted, from [`crate::sdk_actions::TABLE`].

use cedar_policy::{ActionConstraint, Effect, PrincipalConstraint, ResourceConstraint};

use crate::action::Action;
use crate::index::action_matches;
use crate::own::OwnFiles;
use crate::path::AbsPath;
use crate::policies::{Policies, Schema};
use crate::sdk_actions;

/// One warning, about one policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The policy's `@id`, else `file:line`.
    pub policy: String,
    pub message: String,
}

use crate::action::CHANGING as WRITES;

/// Directories whose whole tree a write grant should not cover.
const SYSTEM_TREES: &[&str] = &["/", "/etc", "/usr"];

/// Directories that hold shells and interpreters.
const BIN_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local",
    "/usr/local/bin",
];

/// Binaries that run whatever they are given.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox", "env", "python",
    "python3", "perl", "ruby", "node", "php", "lua", "tclsh", "awk", "gawk",
];

/// The warnings for a validated policy set, in policy order.
pub fn lint(policies: &Policies, schema: &Schema) -> Vec<Warning> {
    let mut out = Vec::new();
    // Lints are for validated sets, which compile, and so does their schema; one that does
    // not has nothing to lint.
    let Ok(schema) = schema.built() else {
        return out;
    };
    let set = policies.compiled().map(|c| &c.set).into_iter();
    for policy in set.flat_map(|s| s.policies()) {
        if policy.effect() != Effect::Permit {
            continue;
        }
        let name = policies.name(policy.id());
        let mut warn = |message: String| {
            out.push(Warning {
                policy: name.clone(),
                message,
            })
        };
        let actions = policy.action_constraint();
        let resource = policy.resource_constraint();
        if policy.principal_constraint() == PrincipalConstraint::Any
            && actions == ActionConstraint::Any
            && resource == ResourceConstraint::Any
            && !policy.has_non_scope_constraint()
        {
            warn("permits every action on every resource to every principal, with no condition; name the actions and the resources".to_owned());
            continue;
        }
        let matches = |action: Action| {
            let uids = &schema.action_entities[action.index()];
            action_matches(&actions, uids.iter().map(|e| e.uid()))
        };
        // The directory a resource scope covers, if any; `None` for a scope with no entity.
        let scope = match &resource {
            ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
            ResourceConstraint::Eq(uid)
            | ResourceConstraint::In(uid)
            | ResourceConstraint::IsIn(_, uid) => Some(uid),
        };
        let dir = scope
            .filter(|uid| uid.type_name().to_string() == "file_system::Dir")
            .map(|uid| uid.id().unescaped().to_owned());
        let writes: Vec<Action> = WRITES.iter().copied().filter(|a| matches(*a)).collect();
        if !writes.is_empty() {
            let granted: Vec<String> = writes.iter().map(|a| a.to_string()).collect();
            let granted = granted.join(", ");
            let asked_by = asked_by(&writes);
            match (&scope, &dir) {
                (None, _) => warn(format!(
                    "grants {granted}{asked_by} on any resource, the whole file system included"
                )),
                (_, Some(d)) if SYSTEM_TREES.contains(&d.as_str()) => warn(format!(
                    "grants {granted}{asked_by} at or above {d}; narrow it to the directories the scripts must change"
                )),
                _ => {}
            }
        }
        if matches(Action::FsExecute) {
            let file_name = scope
                .filter(|uid| uid.type_name().to_string() == "file_system::File")
                .map(|uid| {
                    let path = uid.id().unescaped();
                    path.rsplit('/').next().unwrap_or(path).to_owned()
                });
            let runs_anything = match (&scope, &dir, &file_name) {
                (None, _, _) => Some("any binary".to_owned()),
                (_, Some(d), _) if BIN_DIRS.contains(&d.as_str()) => {
                    Some(format!("every binary in {d}"))
                }
                (_, _, Some(f)) if INTERPRETERS.contains(&f.as_str()) => Some(f.clone()),
                _ => None,
            };
            if let Some(what) = runs_anything {
                warn(format!(
                    "grants execute of {what}, shells and interpreters among them, which run whatever they are given; permit the specific tools instead"
                ));
            }
        }
    }
    out
}

/// ` (what write, cp and rm ask)`: the SDK commands that ask any of `actions`, so a warning
/// says what the grant lets a script do; empty when no command asks them.
fn asked_by(actions: &[Action]) -> String {
    let mut functions: Vec<&str> = Vec::new();
    for &a in actions {
        for f in sdk_actions::functions_asking(a) {
            if !functions.contains(&f) {
                functions.push(f);
            }
        }
    }
    match functions.as_slice() {
        [] => String::new(),
        [one] => format!(" (what {one} asks)"),
        [rest @ .., last] => format!(" (what {} and {last} ask)", rest.join(", ")),
    }
}

/// Warnings for permits whose scope covers one of Tollgate's own files: the gate refuses
/// those changes (and any access to a secret) whatever the policy says, so such a grant
/// promises what no script will get, and says its writer did not know where the files are.
pub fn lint_own_files(policies: &Policies, schema: &Schema, own: &OwnFiles) -> Vec<Warning> {
    let mut out = Vec::new();
    // Lints are for validated sets, which compile, and so does their schema; one that does
    // not has nothing to lint.
    let Ok(schema) = schema.built() else {
        return out;
    };
    let set = policies.compiled().map(|c| &c.set).into_iter();
    for policy in set.flat_map(|s| s.policies()) {
        if policy.effect() != Effect::Permit {
            continue;
        }
        let actions = policy.action_constraint();
        let matched: Vec<Action> = Action::ALL
            .iter()
            .copied()
            .filter(|a| {
                let uids = &schema.action_entities[a.index()];
                action_matches(&actions, uids.iter().map(|e| e.uid()))
            })
            .collect();
        let Some(covers) = Scope::of(&policy.resource_constraint()) else {
            continue;
        };
        for (path, what, secret) in own.paths() {
            if !covers.holds(path) {
                continue;
            }
            let refused: Vec<String> = matched
                .iter()
                .filter(|a| secret || WRITES.contains(a))
                .map(|a| a.to_string())
                .collect();
            if refused.is_empty() {
                continue;
            }
            out.push(Warning {
                policy: policies.name(policy.id()),
                message: format!(
                    "grants {} on {} ({path}), which Tollgate keeps from every script whatever the policy says; narrow the scope to leave it out",
                    refused.join(", "),
                    what
                ),
            });
        }
    }
    out
}

/// The paths a resource scope names, for the own-files check.
enum Scope {
    /// `resource == File/Dir::"p"`: that path only.
    Is(AbsPath),
    /// `resource in Dir::"p"`: the path and everything below it.
    Below(AbsPath),
}

impl Scope {
    /// `None` for a scope that names no path (any resource, or one of another type), which
    /// the first lint already weighs.
    fn of(resource: &ResourceConstraint) -> Option<Scope> {
        let (uid, below) = match resource {
            ResourceConstraint::Any | ResourceConstraint::Is(_) => return None,
            ResourceConstraint::Eq(uid) => (uid, false),
            ResourceConstraint::In(uid) | ResourceConstraint::IsIn(_, uid) => (uid, true),
        };
        let kind = uid.type_name().to_string();
        if kind != "file_system::Dir" && kind != "file_system::File" {
            return None;
        }
        let path = AbsPath::parse(uid.id().unescaped()).ok()?;
        Some(if below {
            Scope::Below(path)
        } else {
            Scope::Is(path)
        })
    }

    fn holds(&self, path: &AbsPath) -> bool {
        match self {
            Scope::Is(p) => p == path,
            Scope::Below(p) => path.starts_with(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(text: &str) -> Vec<Warning> {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("p.cedar", text, &schema).unwrap();
        lint(&policies, &schema)
    }

    #[test]
    fn an_unconditioned_permit_of_everything_is_flagged_and_a_conditioned_one_is_not() {
        let w = warnings("@id(\"all\")\npermit(principal, action, resource);");
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].policy, "all");
        assert!(w[0].message.contains("every action on every resource"));
        let conditioned = warnings(
            r#"permit(principal, action, resource) when { context.purpose == "incident-response" };"#,
        );
        assert!(conditioned
            .iter()
            .all(|w| !w.message.contains("every action on every resource")));
    }

    #[test]
    fn write_grants_at_or_above_system_trees_are_flagged() {
        for dir in ["/", "/etc", "/usr"] {
            let w = warnings(&format!(
                r#"permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"{dir}");"#
            ));
            assert_eq!(w.len(), 1, "{dir}: {w:?}");
            assert!(
                w[0].message.contains(&format!("at or above {dir}")),
                "{w:?}"
            );
        }
        let grouped = warnings(
            r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/etc");"#,
        );
        assert!(
            grouped.iter().any(|w| w.message.contains("delete")),
            "{grouped:?}"
        );
        let w =
            warnings(r#"permit(principal, action == file_system::Action::"delete", resource);"#);
        assert!(w[0].message.contains("any resource"), "{w:?}");
        // The warning names the commands the grant lets a script run, from the SDK table.
        assert!(w[0].message.contains("(what cp, mv and rm ask)"), "{w:?}");
        let w = warnings(
            r#"permit(principal, action == file_system::Action::"chown", resource in file_system::Dir::"/usr");"#,
        );
        assert!(
            w[0].message
                .starts_with(r#"grants file_system::Action::"chown" "#)
                && w[0].message.contains("at or above /usr;"),
            "{w:?}"
        );
        // Narrow grants and read-only ones are fine.
        assert!(warnings(
            r#"permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/etc/app");
               permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/");"#
        )
        .is_empty());
    }

    #[test]
    fn execute_of_shells_and_interpreters_is_flagged() {
        for scope in [
            r#"resource == file_system::File::"/bin/bash""#,
            r#"resource == file_system::File::"/usr/bin/python3""#,
            r#"resource in file_system::Dir::"/usr/bin""#,
            "resource",
        ] {
            let w = warnings(&format!(
                r#"permit(principal, action == file_system::Action::"execute", {scope});"#
            ));
            assert_eq!(w.len(), 1, "{scope}: {w:?}");
            assert!(w[0].message.contains("execute"), "{w:?}");
        }
        assert!(warnings(
            r#"permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/df");"#
        )
        .is_empty());
    }

    #[test]
    fn forbids_are_never_flagged() {
        assert!(warnings("forbid(principal, action, resource);").is_empty());
    }

    #[test]
    fn grants_that_cover_tollgate_own_files_are_flagged() {
        let schema = Schema::tollgate().unwrap();
        let mut own = OwnFiles::new();
        own.protect(
            AbsPath::parse("/var/log/tollgate/audit").unwrap(),
            "the audit log",
        );
        own.hide(
            AbsPath::parse("/etc/tollgate/audit.key").unwrap(),
            "the audit log's signing key",
        );
        let check = |text: &str| {
            let policies = Policies::parse("p.cedar", text, &schema).unwrap();
            lint_own_files(&policies, &schema, &own)
        };
        let w = check(
            r#"permit(principal, action == file_system::Action::"delete", resource in file_system::Dir::"/var/log");"#,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].message
                .contains("\"delete\" on the audit log (/var/log/tollgate/audit)"),
            "{w:?}"
        );
        // Reading the log is the policy's to grant; reading the key is not.
        assert!(check(
            r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/var/log");"#
        )
        .is_empty());
        for scope in [
            r#"resource in file_system::Dir::"/etc""#,
            r#"resource in file_system::Dir::"/etc/tollgate""#,
            r#"resource == file_system::File::"/etc/tollgate/audit.key""#,
        ] {
            let w = check(&format!(
                r#"permit(principal, action == file_system::Action::"read", {scope});"#
            ));
            assert_eq!(w.len(), 1, "{scope}: {w:?}");
            assert!(w[0].message.contains("signing key"), "{w:?}");
        }
        // Scopes beside the own files, and forbids, are fine.
        assert!(check(
            r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/var/log/app");
               permit(principal, action == file_system::Action::"read", resource == file_system::File::"/etc/tollgate/other");
               forbid(principal, action, resource in file_system::Dir::"/var/log");"#
        )
        .is_empty());
    }
}
