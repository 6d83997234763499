//! What a policy's condition says every request it applies to must be, read off the
//! condition without evaluating it: the top-level conjuncts of its scope, its `when` clauses
//! and its `unless` clauses (an `unless { a || b }` is a conjunct `!a && !b`).
//!
//! A policy applies only when its whole condition evaluates to `true`, and a conjunction is
//! `true` only when each conjunct is: so each conjunct read here is a necessary condition,
//! whatever the rest of the condition says. A conjunct of another form (a `||`, a negated
//! test, an attribute other than `path`, anything not compared with a literal) says nothing
//! here and leaves the policy in the buckets that are always evaluated.

use cedar_policy_core::ast::{
    BinaryOp, EntityUID, Expr, ExprKind, Literal, PatternElem, UnaryOp, Var,
};

/// What a policy needs of a request.
#[derive(Debug, Default)]
pub(super) struct Needs {
    /// Each is a test the action passes: any of these entities, itself or a group above it
    /// (`action in [...]`), or exactly this one (`action == A`).
    pub actions: Vec<EntityTest>,
    pub resource: ResourceNeed,
    /// Each is a test the principal passes.
    pub principal: Vec<EntityTest>,
}

/// A test on the entity a variable names.
#[derive(Debug)]
pub(super) enum EntityTest {
    /// It is this entity.
    Is(EntityUID),
    /// It is one of these entities or below one.
    In(Vec<EntityUID>),
    /// It has this type.
    Type(String),
}

/// The most selective need read on the resource.
#[derive(Debug, Default)]
pub(super) enum ResourceNeed {
    #[default]
    Any,
    /// Its type, e.g. `file_system::File`.
    Type(String),
    /// It is, or is below, one of these entities: type name and id.
    Within(Vec<(String, String)>),
    /// It is a file or directory whose path starts with this (never empty).
    PathPrefix(String),
}

impl ResourceNeed {
    /// Higher is more selective; the index keeps the most selective need it reads.
    fn rank(&self) -> u8 {
        match self {
            ResourceNeed::Any => 0,
            ResourceNeed::Type(_) => 1,
            ResourceNeed::PathPrefix(_) => 2,
            ResourceNeed::Within(_) => 3,
        }
    }
}

/// Reads the needs of a policy from its whole condition (scope included).
pub(super) fn read(condition: &Expr) -> Needs {
    let mut conjuncts = Vec::new();
    push_conjuncts(condition, false, &mut conjuncts);
    let mut needs = Needs::default();
    for c in conjuncts {
        let Some((var, test)) = test_of(c) else {
            continue;
        };
        match (var, test) {
            (Var::Action, Test::Entity(t)) => needs.actions.push(t),
            (Var::Principal, Test::Entity(t)) => needs.principal.push(t),
            (Var::Resource, test) => {
                let need = match test {
                    Test::Entity(EntityTest::Is(uid)) => ResourceNeed::Within(vec![key(&uid)]),
                    Test::Entity(EntityTest::In(uids)) => {
                        ResourceNeed::Within(uids.iter().map(key).collect())
                    }
                    Test::Entity(EntityTest::Type(ty)) => ResourceNeed::Type(ty),
                    Test::PathPrefix(prefix) => ResourceNeed::PathPrefix(prefix),
                };
                if need.rank() > needs.resource.rank() {
                    needs.resource = need;
                }
            }
            _ => {}
        }
    }
    needs
}

fn key(uid: &EntityUID) -> (String, String) {
    (uid.entity_type().to_string(), uid.eid().as_ref().to_owned())
}

/// Collects the expressions that must each be `true` for `e` to be (`!e`, if `negated`).
fn push_conjuncts<'a>(e: &'a Expr, negated: bool, out: &mut Vec<&'a Expr>) {
    match (e.expr_kind(), negated) {
        (ExprKind::And { left, right }, false) | (ExprKind::Or { left, right }, true) => {
            push_conjuncts(left, negated, out);
            push_conjuncts(right, negated, out);
        }
        (
            ExprKind::UnaryApp {
                op: UnaryOp::Not,
                arg,
            },
            _,
        ) => push_conjuncts(arg, !negated, out),
        (_, false) => out.push(e),
        // A negated test other than a disjunction or a negation says nothing indexable.
        (_, true) => {}
    }
}

/// A test read from one conjunct.
enum Test {
    Entity(EntityTest),
    PathPrefix(String),
}

/// The variable a conjunct tests and how, when it has an indexable form.
fn test_of(e: &Expr) -> Option<(Var, Test)> {
    match e.expr_kind() {
        ExprKind::BinaryApp {
            op: BinaryOp::Eq,
            arg1,
            arg2,
        } => {
            // Either side may be the variable.
            let (var, other) = match (var_of(arg1), var_of(arg2)) {
                (Some(v), _) => (v, arg2),
                (None, Some(v)) => (v, arg1),
                (None, None) => return path_equals(arg1, arg2).or_else(|| path_equals(arg2, arg1)),
            };
            Some((var, Test::Entity(EntityTest::Is(entity_literal(other)?))))
        }
        ExprKind::BinaryApp {
            op: BinaryOp::In,
            arg1,
            arg2,
        } => {
            let var = var_of(arg1)?;
            let uids = match arg2.expr_kind() {
                ExprKind::Set(items) => items.iter().map(entity_literal).collect::<Option<_>>()?,
                _ => vec![entity_literal(arg2)?],
            };
            Some((var, Test::Entity(EntityTest::In(uids))))
        }
        ExprKind::Is { expr, entity_type } => Some((
            var_of(expr)?,
            Test::Entity(EntityTest::Type(entity_type.to_string())),
        )),
        ExprKind::Like { expr, pattern } => {
            resource_path(expr)?;
            let prefix: String = pattern
                .iter()
                .map_while(|p| match p {
                    PatternElem::Char(c) => Some(*c),
                    PatternElem::Wildcard => None,
                })
                .collect();
            (!prefix.is_empty()).then_some((Var::Resource, Test::PathPrefix(prefix)))
        }
        _ => None,
    }
}

/// `resource.path == "<literal>"`: the path starts with the literal (it is the literal).
fn path_equals(attr: &Expr, literal: &Expr) -> Option<(Var, Test)> {
    resource_path(attr)?;
    match literal.expr_kind() {
        ExprKind::Lit(Literal::String(s)) if !s.is_empty() => {
            Some((Var::Resource, Test::PathPrefix(s.to_string())))
        }
        _ => None,
    }
}

fn resource_path(e: &Expr) -> Option<()> {
    match e.expr_kind() {
        ExprKind::GetAttr { expr, attr } if attr == "path" => {
            (var_of(expr)? == Var::Resource).then_some(())
        }
        _ => None,
    }
}

fn var_of(e: &Expr) -> Option<Var> {
    match e.expr_kind() {
        ExprKind::Var(v @ (Var::Principal | Var::Action | Var::Resource)) => Some(*v),
        _ => None,
    }
}

fn entity_literal(e: &Expr) -> Option<EntityUID> {
    match e.expr_kind() {
        ExprKind::Lit(Literal::EntityUID(uid)) => Some(uid.as_ref().clone()),
        _ => None,
    }
}

impl EntityTest {
    /// Whether an entity whose uid and ancestors are `uids` (itself first) passes the test.
    pub(super) fn admits<'a>(&self, mut uids: impl Iterator<Item = &'a EntityUID>) -> bool {
        match self {
            EntityTest::Is(want) => uids.next() == Some(want),
            EntityTest::In(list) => uids.any(|u| list.contains(u)),
            EntityTest::Type(ty) => uids
                .next()
                .is_some_and(|u| u.entity_type().to_string() == *ty),
        }
    }
}
