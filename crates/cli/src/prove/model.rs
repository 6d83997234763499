//! Tollgate's requests as SymCC sees them: one request environment per (principal type,
//! action, resource type) of the schema, and each policy rewritten for an environment so
//! that the symbolic model agrees with how the gate builds its entities.
//!
//! SymCC treats entity ids, attributes and the `in` hierarchy as uninterpreted: left alone, a
//! model could put `File::"/tmp/x"` in `Dir::"/etc"`, give a file the `path` attribute
//! `"/etc/"` (which the gate never makes), or let a file's id and its `path` differ. The
//! gate's facts are these: a File or Dir's id and `path` are the same normalized absolute
//! path, and its ancestors are exactly the directories above that path. So, before
//! compiling, every test of the resource against a File or Dir literal is rewritten into a
//! test of `resource.path`, which the model then constrains to normalized paths:
//!
//! - `resource == file_system::File::"P"` becomes `resource.path == "P"` (and `false` when the
//!   resource is a Dir), the same for Dir;
//! - `resource in file_system::Dir::"D"` becomes `resource.path like "D/*"` for a File, and
//!   `resource.path == "D" || resource.path like "D/*"` for a Dir (`D` taken literally, a `*`
//!   in it included; `Dir::"/"` covers every path); `resource in [..]` and `[..].contains(resource)`
//!   become the disjunction over their elements;
//! - `resource == systemd::Service::"N"` becomes `resource.name == "N"`, and likewise for the
//!   other types whose id is an attribute (`sysinfo::Hostname` and `hostname`, `network::url`
//!   and `url`).
//!
//! Every query then also forbids what the gate never asks (see [`Model::canonical`]): a
//! `path` (of the resource, a move's destination and its parent) that is not normalized
//! (relative, with an empty, `.` or `..` component, a trailing `/`, or a NUL), a
//! classification `""` (the labels file refuses it), and an execute's uid or gid outside
//! 0..2^32. These are facts of every request the gate makes, so the model keeps every real
//! request: a property proved for the model holds for the gate. The model may hold requests
//! the gate never makes, which is why a counterexample is always decided again by the gate
//! before it is shown.
//!
//! A policy that uses a File or Dir some other way (the resource as a value elsewhere, a
//! File or Dir literal anywhere else, an attribute of an entity literal, which the gate's
//! entity store does not hold, or `context.xattr`, which the gate does not give
//! `set_x_attr`) cannot be modelled this way, and the question is answered "unknown" rather
//! than guessed.

use std::collections::HashSet;
use std::sync::Arc;

use cedar_policy::{EntityUid, RequestEnv, Schema};
use cedar_policy_core::ast::{
    ActionConstraint, BinaryOp, Effect, EntityReference, EntityUID, Expr, ExprKind, Literal,
    Pattern, PatternElem, Policy, PolicyID, PrincipalOrResourceConstraint, Var,
};
use cedar_policy_symcc::CompiledPolicySet;

const FILE: &str = "file_system::File";
const DIR: &str = "file_system::Dir";

/// The request environments of Tollgate's schema, and the schema SymCC compiles against.
pub(crate) struct Model {
    pub(crate) schema: Schema,
    pub(crate) envs: Vec<Env>,
}

/// The action whose requests the gate permits unless a forbid applies (and no policy
/// errors): the run's answer to its caller.
const RELEASE: &str = r#"output::Action::"release""#;

/// One (principal type, action, resource type) of the schema.
pub(crate) struct Env {
    pub(crate) request_env: RequestEnv,
    pub(crate) principal: String,
    /// E.g. `file_system::Action::"read"`.
    pub(crate) action: String,
    pub(crate) resource: String,
    /// The action and every action group above it, as policies' scopes name them.
    action_and_groups: HashSet<EntityUID>,
}

impl Env {
    /// `file_system::Action::"read"` on `file_system::File` (for `User`).
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} on {} (principal {})",
            self.action, self.resource, self.principal
        )
    }

    fn is(&self, action: &str) -> bool {
        self.action == action
    }
}

/// Why a policy cannot be modelled soundly in an environment.
#[derive(Debug, Clone)]
pub(crate) struct Unmodelled(pub(crate) String);

impl Model {
    pub(crate) fn new() -> Result<Model, String> {
        let (schema, _) = Schema::from_cedarschema_str(tollgate_policy::SCHEMA_SOURCE)
            .map_err(|e| format!("Tollgate's built-in Cedar schema does not parse: {e}"))?;
        let actions = schema.action_entities().map_err(|e| e.to_string())?;
        let mut envs = Vec::new();
        for request_env in schema.request_envs() {
            let action: EntityUid = request_env.action().clone();
            let mut action_and_groups: HashSet<EntityUID> = HashSet::new();
            action_and_groups.insert(action.clone().into());
            if let Some(ancestors) = actions.ancestors(&action) {
                action_and_groups.extend(ancestors.map(|a| EntityUID::from(a.clone())));
            }
            envs.push(Env {
                principal: request_env.principal().to_string(),
                action: action.to_string(),
                resource: request_env.resource().to_string(),
                request_env,
                action_and_groups,
            });
        }
        // Schema order, so that output does not depend on hashing.
        envs.sort_by(|a, b| {
            (&a.action, &a.resource, &a.principal).cmp(&(&b.action, &b.resource, &b.principal))
        });
        Ok(Model { schema, envs })
    }

    /// Whether `policy`'s scope can match a request of `env`. Only what is certain is
    /// used (the action and its groups, and a principal or resource type named by `==`,
    /// `is` or `is .. in`): a policy kept here that cannot match is compiled to false,
    /// while a policy dropped that could match would make a proof wrong.
    pub(crate) fn relevant(&self, policy: &Policy, env: &Env) -> bool {
        let action_ok = match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => env.action_and_groups.contains(uid.as_ref()),
            ActionConstraint::In(uids) => uids
                .iter()
                .any(|u| env.action_and_groups.contains(u.as_ref())),
        };
        let type_ok = |c: &PrincipalOrResourceConstraint, ty: &str| match c {
            PrincipalOrResourceConstraint::Eq(EntityReference::EUID(uid)) => {
                uid.entity_type().to_string() == ty
            }
            PrincipalOrResourceConstraint::Is(t) | PrincipalOrResourceConstraint::IsIn(t, _) => {
                t.to_string() == ty
            }
            _ => true,
        };
        action_ok
            && type_ok(policy.principal_constraint().as_inner(), &env.principal)
            && type_ok(policy.resource_constraint().as_inner(), &env.resource)
    }

    /// The path at or below which `policy`'s resource scope puts the resource (`resource in
    /// Dir::"D"`, `resource == File::"P"` and their `is` forms); `None` when the scope does
    /// not say. A request at a path unrelated to a policy's place never matches it, which is
    /// what lets a query leave such a policy out (see [`near`]).
    pub(crate) fn place(policy: &Policy) -> Option<String> {
        let uid = match policy.resource_constraint().as_inner() {
            PrincipalOrResourceConstraint::In(EntityReference::EUID(uid))
            | PrincipalOrResourceConstraint::Eq(EntityReference::EUID(uid))
            | PrincipalOrResourceConstraint::IsIn(_, EntityReference::EUID(uid)) => uid.clone(),
            _ => return None,
        };
        is_file_or_dir(&uid).then(|| uid.eid().as_ref().to_owned())
    }

    /// `policy` with its File, Dir and named-resource tests rewritten for `env` (see the
    /// module's documentation), as a policy of one `when` clause with the same id and effect.
    pub(crate) fn rewrite(&self, policy: &Policy, env: &Env) -> Result<Policy, Unmodelled> {
        let condition = Rewriter { env }.expr(&policy.condition())?;
        Ok(Policy::from_when_clause(
            policy.effect(),
            condition,
            policy.id().clone(),
            policy.loc().cloned(),
        ))
    }

    /// A forbid of every request of `env` the gate never makes (see the module's
    /// documentation); `None` when the schema gives `env` nothing to constrain.
    pub(crate) fn canonical(&self, env: &Env) -> Option<Policy> {
        let mut facts = Vec::new();
        let context = || Expr::var(Var::Context);
        if env.resource == FILE || env.resource == DIR {
            let resource = Expr::var(Var::Resource);
            facts.push(normalized(attr(resource.clone(), "path")));
            facts.push(labelled(attr(resource, "labels")));
        }
        if env.is(r#"file_system::Action::"move""#) {
            let destination = attr(context(), "destination");
            facts.push(normalized(attr(destination.clone(), "path")));
            facts.push(normalized(attr(destination.clone(), "parent_path")));
            facts.push(labelled(attr(destination, "labels")));
        }
        if env.is(r#"file_system::Action::"execute""#) {
            for (record, id) in [("user", "uid"), ("group", "gid")] {
                let value = attr(attr(context(), record), id);
                facts.push(Expr::and(
                    Expr::greatereq(value.clone(), Expr::val(0i64)),
                    Expr::lesseq(value, Expr::val(i64::from(u32::MAX))),
                ));
            }
        }
        let all = facts.into_iter().reduce(Expr::and)?;
        Some(Policy::from_when_clause(
            Effect::Forbid,
            Expr::not(all),
            PolicyID::from_string("tollgate-model-requests-the-gate-makes"),
            None,
        ))
    }

    /// What the gate permits besides the policy: the run's answer, unless a forbid applies.
    /// Exact only when no policy of `env` errors (the gate then refuses), which the callers
    /// that need it exact check (see [`Model::errors_matter`]).
    pub(crate) fn gate_default(&self, env: &Env) -> Option<Policy> {
        (env.action == RELEASE).then(|| {
            Policy::from_when_clause(
                Effect::Permit,
                Expr::val(true),
                PolicyID::from_string("tollgate-gate-releases-unless-forbidden"),
                None,
            )
        })
    }

    /// Whether the gate's decisions in `env` turn on whether a policy errors, beyond what
    /// Cedar makes of an error: the answer's release is refused when one does.
    pub(crate) fn errors_matter(&self, env: &Env) -> bool {
        env.action == RELEASE
    }

    /// Compiles `policies` (already rewritten for `env`) for `env`.
    pub(crate) fn compile(
        &self,
        policies: &[Policy],
        env: &Env,
    ) -> Result<CompiledPolicySet, String> {
        let set = cedar_policy::PolicySet::from_policies(
            policies.iter().cloned().map(cedar_policy::Policy::from),
        )
        .map_err(|e| format!("cannot assemble the policies for {}: {e}", env.describe()))?;
        CompiledPolicySet::compile(&set, &env.request_env, &self.schema).map_err(|e| {
            format!(
                "the symbolic compiler cannot compile the policies for {}: {e}",
                env.describe()
            )
        })
    }
}

/// Whether a policy placed at `place` (see [`Model::place`]) can match a request that
/// matches a policy placed at one of `places` (`None`: anywhere). Paths are related when one
/// is the other or lies below it; File and Dir resources have normalized paths, so a
/// request at or below two places is at or below the deeper one.
pub(crate) fn near(place: Option<&str>, places: Option<&[String]>) -> bool {
    let (Some(place), Some(places)) = (place, places) else {
        return true;
    };
    let below = |a: &str, b: &str| {
        b == "/" || a == b || (a.starts_with(b) && a[b.len()..].starts_with('/'))
    };
    places.iter().any(|p| below(place, p) || below(p, place))
}

fn attr(e: Expr, name: &str) -> Expr {
    Expr::get_attr(e, name.into())
}

fn text(s: &str) -> Expr {
    Expr::val(s)
}

/// A `like` pattern: `literal` taken character by character, then `*` if `wildcard`.
fn pattern(parts: &[Part<'_>]) -> Pattern {
    let mut elems = Vec::new();
    for part in parts {
        match part {
            Part::Text(s) => elems.extend(s.chars().map(PatternElem::Char)),
            Part::Any => elems.push(PatternElem::Wildcard),
        }
    }
    Pattern::from(elems)
}

enum Part<'a> {
    Text(&'a str),
    Any,
}

fn like(e: Expr, parts: &[Part<'_>]) -> Expr {
    Expr::like(e, pattern(parts))
}

/// `path` is a normalized absolute path, as [`tollgate_policy::AbsPath`] makes them.
fn normalized(path: Expr) -> Expr {
    use Part::{Any, Text};
    let not_like = |parts: &[Part<'_>]| Expr::not(like(path.clone(), parts));
    [
        like(path.clone(), &[Text("/"), Any]),
        not_like(&[Any, Text("//"), Any]),
        not_like(&[Any, Text("/./"), Any]),
        not_like(&[Any, Text("/.")]),
        not_like(&[Any, Text("/../"), Any]),
        not_like(&[Any, Text("/..")]),
        Expr::or(
            Expr::is_eq(path.clone(), text("/")),
            not_like(&[Any, Text("/")]),
        ),
        not_like(&[Any, Text("\0"), Any]),
    ]
    .into_iter()
    .reduce(Expr::and)
    .unwrap_or_else(|| Expr::val(true))
}

/// The labels record is one a labels file can give: its classification is never empty.
fn labelled(labels: Expr) -> Expr {
    Expr::noteq(attr(labels, "classification"), text(""))
}

/// The attribute that holds the id of an entity of `ty`, for the types whose id the gate
/// sets to one of their attributes.
fn id_attribute(ty: &str) -> Option<&'static str> {
    match ty {
        FILE | DIR => Some("path"),
        "systemd::Service" => Some("name"),
        "sysinfo::Hostname" => Some("hostname"),
        "network::url" => Some("url"),
        _ => None,
    }
}

struct Rewriter<'a> {
    env: &'a Env,
}

fn is_resource(e: &Expr) -> bool {
    matches!(e.expr_kind(), ExprKind::Var(Var::Resource))
}

fn entity_literal(e: &Expr) -> Option<&EntityUID> {
    match e.expr_kind() {
        ExprKind::Lit(Literal::EntityUID(uid)) => Some(uid),
        _ => None,
    }
}

fn is_file_or_dir(uid: &EntityUID) -> bool {
    let ty = uid.entity_type().to_string();
    ty == FILE || ty == DIR
}

/// Whether an attribute or tag of `e` is one the gate's entity store holds: the request's
/// variables, the entities their attributes name (an agent's user, an execute's arguments),
/// and records.
fn in_the_store(e: &Expr) -> bool {
    match e.expr_kind() {
        ExprKind::Var(_) | ExprKind::Record(_) => true,
        ExprKind::GetAttr { expr, .. } => in_the_store(expr),
        _ => false,
    }
}

impl Rewriter<'_> {
    fn unmodelled(&self, e: &Expr, why: &str) -> Unmodelled {
        Unmodelled(format!(
            "`{e}` {why}, which the path model does not cover (for {})",
            self.env.describe()
        ))
    }

    /// `resource == uid`, in terms of the resource's id attribute where there is one.
    fn resource_eq(&self, uid: &EntityUID) -> Expr {
        let ty = uid.entity_type().to_string();
        if ty != self.env.resource {
            return Expr::val(false);
        }
        match id_attribute(&ty) {
            Some(a) => Expr::is_eq(attr(Expr::var(Var::Resource), a), text(uid.eid().as_ref())),
            None => Expr::is_eq(
                Expr::var(Var::Resource),
                Expr::val(Literal::EntityUID(Arc::new(uid.clone()))),
            ),
        }
    }

    /// `resource in uid`.
    fn resource_in(&self, uid: &EntityUID) -> Expr {
        let ty = uid.entity_type().to_string();
        let resource = &self.env.resource;
        if ty == DIR && (resource == FILE || resource == DIR) {
            let dir: &str = uid.eid().as_ref();
            let path = attr(Expr::var(Var::Resource), "path");
            let below = if dir == "/" {
                like(path.clone(), &[Part::Text("/"), Part::Any])
            } else {
                like(path.clone(), &[Part::Text(dir), Part::Text("/"), Part::Any])
            };
            return if resource == DIR && dir != "/" {
                Expr::or(Expr::is_eq(path, text(dir)), below)
            } else {
                below
            };
        }
        // Nothing else has descendants in the schema but Dir (and Group, which is never a
        // resource): `in` an entity of the resource's own type is equality.
        if ty == *resource {
            return self.resource_eq(uid);
        }
        if ty == FILE {
            // A Dir is never in a File.
            return Expr::val(false);
        }
        // A type the resource cannot be in; the type checker makes it false.
        Expr::is_in(
            Expr::var(Var::Resource),
            Expr::val(Literal::EntityUID(Arc::new(uid.clone()))),
        )
    }

    /// The elements of a set literal of entity literals.
    fn literal_set<'e>(&self, e: &'e Expr) -> Option<Vec<&'e EntityUID>> {
        match e.expr_kind() {
            ExprKind::Set(items) => items.iter().map(entity_literal).collect(),
            _ => None,
        }
    }

    fn any_of(items: Vec<Expr>) -> Expr {
        items
            .into_iter()
            .reduce(Expr::or)
            .unwrap_or_else(|| Expr::val(false))
    }

    fn expr(&self, e: &Expr) -> Result<Expr, Unmodelled> {
        let loc = e.source_loc().cloned();
        let out = match e.expr_kind() {
            ExprKind::Lit(Literal::EntityUID(uid)) if is_file_or_dir(uid) => {
                return Err(self.unmodelled(
                    e,
                    "uses a File or Dir other than in `resource ==` or `resource in`",
                ));
            }
            ExprKind::Lit(_) => e.clone(),
            ExprKind::Var(Var::Resource) => {
                return Err(self.unmodelled(e, "uses the resource as a value"));
            }
            ExprKind::Var(_) => e.clone(),
            ExprKind::Slot(_) | ExprKind::Unknown(_) => {
                return Err(self.unmodelled(e, "has a template slot"));
            }
            ExprKind::If {
                test_expr,
                then_expr,
                else_expr,
            } => Expr::ite(
                self.expr(test_expr)?,
                self.expr(then_expr)?,
                self.expr(else_expr)?,
            ),
            ExprKind::And { left, right } => Expr::and(self.expr(left)?, self.expr(right)?),
            ExprKind::Or { left, right } => Expr::or(self.expr(left)?, self.expr(right)?),
            ExprKind::UnaryApp { op, arg } => Expr::unary_app(*op, self.expr(arg)?),
            ExprKind::BinaryApp { op, arg1, arg2 } => self.binary(e, *op, arg1, arg2)?,
            ExprKind::ExtensionFunctionApp { fn_name, args } => Expr::call_extension_fn(
                fn_name.clone(),
                args.iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::GetAttr { expr, attr: name } => {
                self.check_xattr(e, expr, name)?;
                if is_resource(expr) {
                    e.clone()
                } else if !in_the_store(expr) {
                    return Err(self.unmodelled(
                        e,
                        "reads an attribute of an entity the gate does not give the request",
                    ));
                } else {
                    Expr::get_attr(self.expr(expr)?, name.clone())
                }
            }
            ExprKind::HasAttr { expr, attr: name } => {
                self.check_xattr(e, expr, name)?;
                if is_resource(expr) {
                    e.clone()
                } else {
                    Expr::has_attr(self.expr(expr)?, name.clone())
                }
            }
            ExprKind::ExtHasAttr { expr, attrs } => {
                self.check_xattr(e, expr, attrs.first())?;
                if is_resource(expr) {
                    e.clone()
                } else {
                    Expr::extended_has_attr(self.expr(expr)?, attrs.clone())
                }
            }
            ExprKind::Like { expr, pattern } => Expr::like(self.expr(expr)?, pattern.clone()),
            ExprKind::Is { expr, entity_type } => {
                if is_resource(expr) {
                    e.clone()
                } else {
                    Expr::is_entity_type(self.expr(expr)?, entity_type.clone())
                }
            }
            ExprKind::Set(items) => Expr::set(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            ExprKind::Record(fields) => Expr::record(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.expr(v)?)))
                    .collect::<Result<Vec<_>, Unmodelled>>()?,
            )
            .map_err(|err| {
                self.unmodelled(e, &format!("is a record that does not rebuild ({err})"))
            })?,
        };
        Ok(out.with_maybe_source_loc(loc))
    }

    fn binary(&self, e: &Expr, op: BinaryOp, a: &Expr, b: &Expr) -> Result<Expr, Unmodelled> {
        match op {
            BinaryOp::Eq => {
                if let (true, Some(uid)) = (is_resource(a), entity_literal(b)) {
                    return Ok(self.resource_eq(uid));
                }
                if let (Some(uid), true) = (entity_literal(a), is_resource(b)) {
                    return Ok(self.resource_eq(uid));
                }
            }
            BinaryOp::In if is_resource(a) => {
                if let Some(uid) = entity_literal(b) {
                    return Ok(self.resource_in(uid));
                }
                if let Some(uids) = self.literal_set(b) {
                    return Ok(Self::any_of(
                        uids.into_iter().map(|u| self.resource_in(u)).collect(),
                    ));
                }
            }
            BinaryOp::Contains if is_resource(b) => {
                if let Some(uids) = self.literal_set(a) {
                    return Ok(Self::any_of(
                        uids.into_iter().map(|u| self.resource_eq(u)).collect(),
                    ));
                }
            }
            BinaryOp::GetTag if !in_the_store(a) => {
                return Err(self.unmodelled(
                    e,
                    "reads a tag of an entity the gate does not give the request",
                ));
            }
            _ => {}
        }
        Ok(Expr::binary_app(op, self.expr(a)?, self.expr(b)?))
    }

    /// The gate asks `set_x_attr` with no `xattr` in the context, although the schema gives
    /// it one: a policy that reads it errors at the gate, which the model cannot show.
    fn check_xattr(&self, e: &Expr, of: &Expr, name: &str) -> Result<(), Unmodelled> {
        if name == "xattr"
            && matches!(of.expr_kind(), ExprKind::Var(Var::Context))
            && self.env.is(r#"file_system::Action::"set_x_attr""#)
        {
            return Err(self.unmodelled(
                e,
                "reads context.xattr, which the gate does not give set_x_attr",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn policy(text: &str) -> Policy {
        let set = cedar_policy::PolicySet::from_str(text).unwrap();
        let p = set.policies().next().unwrap();
        let core: &Policy = p.as_ref();
        core.clone()
    }

    fn env<'m>(model: &'m Model, action: &str, resource: &str) -> &'m Env {
        model
            .envs
            .iter()
            .find(|e| {
                e.action.ends_with(&format!("\"{action}\""))
                    && e.resource == resource
                    && e.principal == "User"
            })
            .unwrap()
    }

    #[test]
    fn dir_scopes_become_path_tests() {
        let model = Model::new().unwrap();
        let p = policy(r#"permit(principal, action, resource in file_system::Dir::"/e*tc");"#);
        let file = model.rewrite(&p, env(&model, "read", FILE)).unwrap();
        assert!(
            file.condition()
                .to_string()
                .contains(r#"resource.path like "/e\*tc/*""#),
            "{}",
            file.condition()
        );
        let dir = model.rewrite(&p, env(&model, "read", DIR)).unwrap();
        assert!(
            dir.condition()
                .to_string()
                .contains(r#"resource.path == "/e*tc""#),
            "{}",
            dir.condition()
        );
    }

    #[test]
    fn places_are_near_when_one_is_at_or_below_the_other() {
        let at = |p: &str| vec![p.to_owned()];
        assert!(near(Some("/etc/app"), Some(&at("/etc"))));
        assert!(near(Some("/etc"), Some(&at("/etc/app"))));
        assert!(near(Some("/etc"), Some(&at("/etc"))));
        assert!(near(Some("/x"), Some(&at("/"))));
        assert!(!near(Some("/etcx"), Some(&at("/etc"))));
        assert!(!near(Some("/var/log"), Some(&at("/srv"))));
        assert!(near(None, Some(&at("/srv"))));
        assert!(near(Some("/srv"), None));
    }

    #[test]
    fn other_uses_of_files_are_unmodelled() {
        let model = Model::new().unwrap();
        for text in [
            r#"permit(principal, action, resource) when { file_system::File::"/x".path == "/x" };"#,
            r#"permit(principal, action, resource) when { [resource].contains(resource) };"#,
        ] {
            assert!(
                model
                    .rewrite(&policy(text), env(&model, "read", FILE))
                    .is_err(),
                "{text}"
            );
        }
    }
}
