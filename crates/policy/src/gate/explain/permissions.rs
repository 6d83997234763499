//! What a principal may do, summed up from the policy: for each action and each resource
//! type the schema lets it apply to, Cedar's partial evaluation of the request with the
//! principal and its context known and the resource left unknown. What is left of each
//! policy is what it says of resources: the statements that can permit something for this
//! principal, the forbids that can cut into them, and which (action, resource type) pairs
//! some request of could ever be permitted.
//!
//! A summary, not a decision: a resource's answer is still the gate's, and Tollgate's own
//! files and the kill switch are refused whatever this says.

use std::collections::BTreeMap;

use cedar_policy::{
    Effect, EntityTypeName, EntityUid, PolicyId, PrincipalConstraint, ResourceConstraint,
};

use super::super::*;
use crate::path::AbsPath;

/// What the policy lets one principal do (see [`Gate::permissions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// The principal, e.g. `User::"alice"`.
    pub principal: String,
    /// The permits that can apply to this principal, in policy order.
    pub permitted: Vec<Statement>,
    /// The forbids that can apply to this principal, in policy order.
    pub forbidden: Vec<Statement>,
    /// Each action, with the resource types some request of which could be permitted.
    possible: Vec<(Action, Vec<String>)>,
}

/// One policy, as it bears on this principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its `@id`, else `file:line`.
    pub policy: String,
    /// The actions it can apply to for this principal, in schema order.
    pub actions: Vec<Action>,
    /// Its principal scope as written, e.g. `principal in Group::"oncall"`.
    pub principal: String,
    /// Its resource scope as written, e.g. `resource in file_system::Dir::"/var/log"`.
    pub resource: String,
    /// Its `when` and `unless` clauses, `None` if it has none.
    pub condition: Option<String>,
    /// Whether it holds for every resource of its types: nothing of it was left to decide
    /// once the principal and the context were known.
    pub everywhere: bool,
    /// For a permit, the forbids that can refuse some request it permits: they share an
    /// action and their resource scopes meet. Empty for a forbid.
    pub cut_by: Vec<String>,
}

impl Permissions {
    /// Whether some request of `action` on an entity of `resource_type` (e.g.
    /// `file_system::File`) could be permitted.
    pub fn could_permit(&self, action: Action, resource_type: &str) -> bool {
        self.possible
            .iter()
            .any(|(a, types)| *a == action && types.iter().any(|t| t == resource_type))
    }
}

/// A policy's scope and what partial evaluation found of it, gathered over the actions.
struct Found {
    actions: Vec<Action>,
    /// False once one (action, type) left something of it to decide.
    everywhere: bool,
}

impl Gate {
    /// What the policy lets this gate's principal do, summed up from the policy (see the
    /// module's comment). An error says why the policy or the schema could not be read.
    pub fn permissions(&self) -> Result<Permissions, String> {
        let compiled = self.policies.compiled().map_err(str::to_owned)?;
        let schema = self.schema.built().map_err(str::to_owned)?;
        let principal = self.cedar_principal();
        let mut found: BTreeMap<PolicyId, Found> = BTreeMap::new();
        let mut possible = Vec::new();
        for &action in Action::ALL {
            let uid = &schema.action_uid[action.index()];
            let entities = core_entities::Entities::from_entities(
                std::iter::once(schema.action_core[action.index()].clone())
                    .chain(principal.entities.iter().cloned()),
                None::<&core_entities::NoEntitiesSchema>,
                core_entities::TCComputation::AssumeAlreadyComputed,
                Extensions::none(),
            )
            .map_err(|e| format!("cannot build the principal's entities: {e}"))?;
            let entities = Entities::from(entities);
            let types: Vec<EntityTypeName> = schema
                .cedar
                .resources_for_action(uid)
                .map(|types| types.cloned().collect())
                .unwrap_or_default();
            let mut permitted_types = Vec::new();
            for ty in types {
                let mut request = cedar_policy::Request::builder()
                    .principal(principal.uid.clone())
                    .action(uid.clone())
                    .unknown_resource_with_type(ty.clone());
                // The context of a move (its destination) and of an execute (the command
                // line) is the request's own: left unknown, so that conditions on it stay
                // to be decided. Every other action's context is the caller's purpose and
                // ticket, known here.
                if !matches!(action, Action::FsMove | Action::FsExecute) {
                    request = request.context(Context::Empty.to_cedar(
                        &self.caller,
                        &self.labels,
                        self.taint_expression(),
                    ));
                }
                let response = principal.authorizer.is_authorized_partial(
                    &request.build(),
                    &compiled.set,
                    &entities,
                );
                if response.decision() != Some(cedar_policy::Decision::Deny) {
                    permitted_types.push(ty.to_string());
                }
                let satisfied = response.definitely_satisfied().map(|p| (p, true));
                let residual = response.nontrivial_residuals().map(|p| (p, false));
                for (policy, holds) in satisfied.chain(residual) {
                    let f = found.entry(policy.id().clone()).or_insert(Found {
                        actions: Vec::new(),
                        everywhere: true,
                    });
                    if !f.actions.contains(&action) {
                        f.actions.push(action);
                    }
                    f.everywhere &= holds;
                }
            }
            possible.push((action, permitted_types));
        }
        let mut permitted = Vec::new();
        let mut forbidden = Vec::new();
        // In the policy file's order.
        for policy in compiled.set.policies() {
            let Some(f) = found.remove(policy.id()) else {
                continue;
            };
            let statement = Statement {
                policy: self.policies.name(policy.id()),
                actions: f.actions,
                principal: principal_scope(&policy.principal_constraint()),
                resource: resource_scope(&policy.resource_constraint()),
                condition: condition(policy),
                everywhere: f.everywhere,
                cut_by: Vec::new(),
            };
            match policy.effect() {
                Effect::Permit => permitted.push((statement, policy.resource_constraint())),
                Effect::Forbid => forbidden.push((statement, policy.resource_constraint())),
            }
        }
        let permitted = permitted
            .into_iter()
            .map(|(mut p, scope)| {
                p.cut_by = forbidden
                    .iter()
                    .filter(|(f, forbid_scope)| {
                        f.actions.iter().any(|a| p.actions.contains(a))
                            && scopes_meet(&scope, forbid_scope)
                    })
                    .map(|(f, _)| f.policy.clone())
                    .collect();
                p
            })
            .collect();
        Ok(Permissions {
            principal: principal.text.clone(),
            permitted,
            forbidden: forbidden.into_iter().map(|(f, _)| f).collect(),
            possible,
        })
    }
}

fn principal_scope(scope: &PrincipalConstraint) -> String {
    match scope {
        PrincipalConstraint::Any => "principal".to_owned(),
        PrincipalConstraint::In(uid) => format!("principal in {uid}"),
        PrincipalConstraint::Eq(uid) => format!("principal == {uid}"),
        PrincipalConstraint::Is(ty) => format!("principal is {ty}"),
        PrincipalConstraint::IsIn(ty, uid) => format!("principal is {ty} in {uid}"),
    }
}

fn resource_scope(scope: &ResourceConstraint) -> String {
    match scope {
        ResourceConstraint::Any => "resource".to_owned(),
        ResourceConstraint::In(uid) => format!("resource in {uid}"),
        ResourceConstraint::Eq(uid) => format!("resource == {uid}"),
        ResourceConstraint::Is(ty) => format!("resource is {ty}"),
        ResourceConstraint::IsIn(ty, uid) => format!("resource is {ty} in {uid}"),
    }
}

/// The policy's `when` and `unless` clauses, as Cedar prints them; where they cannot be
/// taken apart, the whole statement, so that a condition is never left out.
fn condition(policy: &cedar_policy::Policy) -> Option<String> {
    if !policy.has_non_scope_constraint() {
        return None;
    }
    match policy.to_pst() {
        Ok(pst) => {
            let clauses: Vec<String> = pst.body().clauses().iter().map(|c| c.to_string()).collect();
            Some(clauses.join(" "))
        }
        Err(_) => Some(policy.to_string()),
    }
}

/// Where a resource scope reaches: which entity type (if it says), and which entities.
enum Reach<'a> {
    /// Every entity (of the type, if one is given).
    All,
    /// This entity.
    Exactly(&'a EntityUid),
    /// This entity and, for a directory, everything below it.
    Within(&'a EntityUid),
}

fn reach(scope: &ResourceConstraint) -> (Option<String>, Reach<'_>) {
    match scope {
        ResourceConstraint::Any => (None, Reach::All),
        ResourceConstraint::Is(ty) => (Some(ty.to_string()), Reach::All),
        ResourceConstraint::Eq(uid) => (Some(uid.type_name().to_string()), Reach::Exactly(uid)),
        // `resource in Dir::"/d"` is met by Files and Dirs below /d, and by /d itself.
        ResourceConstraint::In(uid) => (None, Reach::Within(uid)),
        ResourceConstraint::IsIn(ty, uid) => (Some(ty.to_string()), Reach::Within(uid)),
    }
}

/// Whether some resource could be in both scopes. Paths are compared by ancestry, since a
/// File or Dir is `in` each directory above it; where this cannot tell, the answer is yes:
/// a forbid that might cut into a permit is named.
fn scopes_meet(a: &ResourceConstraint, b: &ResourceConstraint) -> bool {
    let ((type_a, a), (type_b, b)) = (reach(a), reach(b));
    if let (Some(x), Some(y)) = (&type_a, &type_b) {
        if x != y {
            return false;
        }
    }
    match (a, b) {
        (Reach::All, _) | (_, Reach::All) => true,
        (Reach::Exactly(x), Reach::Exactly(y)) => x == y,
        (Reach::Exactly(x), Reach::Within(d)) | (Reach::Within(d), Reach::Exactly(x)) => {
            at_or_below(x, d)
        }
        (Reach::Within(x), Reach::Within(y)) => at_or_below(x, y) || at_or_below(y, x),
    }
}

/// Whether `uid` is `dir` or below it. Outside files and directories an entity is only in
/// itself as far as this can tell, and an id that is not a path cannot be compared, so
/// anything else that is not the same entity counts as below, as the safe answer.
fn at_or_below(uid: &EntityUid, dir: &EntityUid) -> bool {
    const DIR: &str = "file_system::Dir";
    const FILE: &str = "file_system::File";
    let (ty, dir_ty) = (uid.type_name().to_string(), dir.type_name().to_string());
    if uid == dir {
        return true;
    }
    if dir_ty != DIR || (ty != DIR && ty != FILE) {
        return dir_ty != DIR;
    }
    match (
        AbsPath::parse(uid.id().unescaped()),
        AbsPath::parse(dir.id().unescaped()),
    ) {
        (Ok(path), Ok(dir)) => path.starts_with(&dir),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(policy: &str) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
        Gate::new(
            schema,
            policies,
            "alice",
            Recorder::Unaudited,
            Arc::default(),
        )
    }

    const LOGS: &str = r#"
        @id("logs")
        permit(principal, action in [file_system::Action::"open", file_system::Action::"read"],
               resource in file_system::Dir::"/var/log");
        @id("no-secrets")
        forbid(principal, action == file_system::Action::"read",
               resource in file_system::Dir::"/var/log/secrets");
        @id("bob-only")
        permit(principal == User::"bob", action, resource);
        @id("elsewhere")
        forbid(principal, action == file_system::Action::"read",
               resource in file_system::Dir::"/etc");
        @id("labelled")
        permit(principal, action == file_system::Action::"stat", resource is file_system::File)
            when { resource.labels.classification == "public" };
    "#;

    #[test]
    fn names_the_permits_for_this_principal_and_the_forbids_that_cut_into_them() {
        let p = gate(LOGS).permissions().unwrap();
        assert_eq!(p.principal, r#"User::"alice""#);
        let names: Vec<&str> = p.permitted.iter().map(|s| s.policy.as_str()).collect();
        // bob-only is another principal's.
        assert_eq!(names, ["logs", "labelled"]);
        let logs = &p.permitted[0];
        assert_eq!(logs.actions, [Action::FsOpen, Action::FsRead]);
        assert_eq!(logs.principal, "principal");
        assert_eq!(logs.resource, r#"resource in file_system::Dir::"/var/log""#);
        assert_eq!(logs.condition, None);
        assert!(!logs.everywhere);
        // /etc does not meet /var/log; /var/log/secrets does.
        assert_eq!(logs.cut_by, ["no-secrets"]);
        let labelled = &p.permitted[1];
        assert_eq!(labelled.actions, [Action::FsStat]);
        let condition = labelled.condition.as_deref().unwrap();
        assert!(condition.starts_with("when {"), "{condition}");
        assert!(condition.contains("public"), "{condition}");
        assert!(labelled.cut_by.is_empty());
        let forbids: Vec<&str> = p.forbidden.iter().map(|s| s.policy.as_str()).collect();
        assert_eq!(forbids, ["no-secrets", "elsewhere"]);
    }

    #[test]
    fn knows_which_actions_on_which_types_could_ever_be_permitted() {
        let p = gate(LOGS).permissions().unwrap();
        assert!(p.could_permit(Action::FsRead, "file_system::File"));
        assert!(p.could_permit(Action::FsOpen, "file_system::Dir"));
        assert!(p.could_permit(Action::FsStat, "file_system::File"));
        // `labelled` is for files only.
        assert!(!p.could_permit(Action::FsStat, "file_system::Dir"));
        assert!(!p.could_permit(Action::FsWrite, "file_system::File"));
        assert!(!p.could_permit(Action::ServiceStart, "systemd::Service"));
        let bob = gate(LOGS);
        let bob = Gate::new(
            bob.schema.clone(),
            bob.policies.clone(),
            "bob",
            Recorder::Unaudited,
            Arc::default(),
        )
        .permissions()
        .unwrap();
        assert!(bob.could_permit(Action::ServiceStart, "systemd::Service"));
        assert!(bob
            .permitted
            .iter()
            .any(|s| s.policy == "bob-only" && s.everywhere));
    }

    #[test]
    fn a_condition_on_the_callers_purpose_is_decided_before_it_is_shown() {
        let policy = r#"
            @id("incident")
            permit(principal, action == file_system::Action::"read", resource)
                when { context.purpose == "incident-response" };
        "#;
        // The OS user states no purpose: the permit can never apply to it.
        let p = gate(policy).permissions().unwrap();
        assert!(p.permitted.is_empty(), "{p:?}");
        assert!(!p.could_permit(Action::FsRead, "file_system::File"));
    }

    #[test]
    fn scopes_meet_by_path_ancestry() {
        let scope = |text: &str| {
            cedar_policy::Policy::parse(None, format!("permit(principal, action, {text});"))
                .unwrap()
                .resource_constraint()
        };
        let var_log = scope(r#"resource in file_system::Dir::"/var/log""#);
        for (other, meets) in [
            (r#"resource in file_system::Dir::"/var/log/app""#, true),
            (r#"resource in file_system::Dir::"/var""#, true),
            (r#"resource in file_system::Dir::"/var/logs""#, false),
            (r#"resource == file_system::File::"/var/log/x""#, true),
            (r#"resource == file_system::File::"/etc/x""#, false),
            (r#"resource is file_system::File"#, true),
            (r#"resource"#, true),
        ] {
            assert_eq!(scopes_meet(&var_log, &scope(other)), meets, "{other}");
        }
        let files = scope(r#"resource is file_system::File in file_system::Dir::"/var""#);
        let dir = scope(r#"resource == file_system::Dir::"/var/log""#);
        assert!(!scopes_meet(&files, &dir));
    }
}
