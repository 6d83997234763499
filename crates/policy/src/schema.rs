//! Tollgate's Cedar schema: Rex's vocabulary plus Tollgate's names, parsed once per run, with
//! each action's entity and groups ready for requests.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cedar_policy::{Entity, EntityUid};

use crate::action::Action;
use crate::error::PolicyError;

/// The text of Tollgate's Cedar schema, as shipped in `schema/tollgate.cedarschema`. This is
/// the source of truth, written for people.
pub const SCHEMA_SOURCE: &str = include_str!("../schema/tollgate.cedarschema");

/// The same schema in Cedar's JSON form, which is what a run loads: parsing the human syntax
/// took most of a trivial run's start-up time. A unit test keeps the two identical.
const SCHEMA_JSON: &str = include_str!("../schema/tollgate.cedarschema.json");

/// For each action in [`Action::ALL`] order, its entity's uid and then its groups': what a
/// policy's action tests are checked against.
pub(crate) type ActionUids = Arc<Vec<Vec<cedar_policy_core::ast::EntityUID>>>;

/// The schema text a run parses, for what must change when the schema does.
pub(crate) fn schema_json() -> &'static str {
    SCHEMA_JSON
}

/// Tollgate's Cedar schema, parsed once per run, when first needed: a run whose policy the
/// validation cache vouches for has no use for it before its first decision, and a script
/// that makes none never waits for it. Cheap to clone: clones share the parse.
#[derive(Clone)]
pub struct Schema {
    built: Arc<OnceLock<Result<Built, String>>>,
}

/// The parsed schema and what requests need from it.
pub(crate) struct Built {
    pub(crate) cedar: cedar_policy::Schema,
    /// For each action, its own entity and the group entities above it: the requests carry
    /// them so that `action in file_system::Action::"SafeIO"` matches.
    pub(crate) action_entities: Vec<Vec<Entity>>,
    /// For each action, its entity with its groups as (already closed) parents, in the form
    /// the decision's entity store takes.
    pub(crate) action_core: Vec<cedar_policy_core::ast::Entity>,
    /// For each action, its own entity's uid: a request's action.
    pub(crate) action_uid: Vec<EntityUid>,
    pub(crate) action_uids: ActionUids,
}

impl Schema {
    /// Parses the built-in schema now.
    pub fn tollgate() -> Result<Schema, PolicyError> {
        let schema = Schema::lazy();
        schema
            .built()
            .map_err(|e| PolicyError::Schema(e.to_owned()))?;
        Ok(schema)
    }

    /// The built-in schema, parsed on first use (by [`Schema::built`]).
    pub fn lazy() -> Schema {
        Schema {
            built: Arc::new(OnceLock::new()),
        }
    }

    /// The parsed schema, parsed now if it was not yet. It is built into the binary and
    /// its tests parse it, so this fails only on a broken build; the caller then denies.
    pub(crate) fn built(&self) -> Result<&Built, &str> {
        self.built
            .get_or_init(build)
            .as_ref()
            .map_err(String::as_str)
    }
}

fn build() -> Result<Built, String> {
    let invalid = |e: String| format!("Tollgate's built-in Cedar schema is broken: {e}");
    let cedar =
        cedar_policy::Schema::from_json_str(SCHEMA_JSON).map_err(|e| invalid(e.to_string()))?;
    let all = cedar
        .action_entities()
        .map_err(|e| invalid(e.to_string()))?;
    let by_uid: HashMap<String, &Entity> = all.iter().map(|e| (e.uid().to_string(), e)).collect();
    let mut action_entities = Vec::with_capacity(Action::ALL.len());
    for action in Action::ALL {
        let own = by_uid
            .get(&action.to_string())
            .ok_or_else(|| invalid(format!("it does not declare {action}")))?;
        let mut chain: Vec<Entity> = vec![(*own).clone()];
        for group in all.ancestors(&own.uid()).into_iter().flatten() {
            if let Some(e) = by_uid.get(&group.to_string()) {
                chain.push((*e).clone());
            }
        }
        action_entities.push(chain);
    }
    let action_core = action_entities
        .iter()
        .map(|chain| {
            let groups = chain[1..].iter().map(|e| e.uid().into()).collect();
            cedar_policy_core::ast::Entity::new_with_attr_partial_value(
                chain[0].uid().into(),
                [],
                std::collections::HashSet::new(),
                groups,
                [],
            )
        })
        .collect();
    let action_uid = action_entities.iter().map(|chain| chain[0].uid()).collect();
    let action_uids = Arc::new(
        action_entities
            .iter()
            .map(|chain| chain.iter().map(|e| e.uid().into()).collect())
            .collect(),
    );
    Ok(Built {
        cedar,
        action_entities,
        action_core,
        action_uid,
        action_uids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::tollgate().unwrap()
    }

    #[test]
    fn a_lazy_schema_is_the_eager_one() {
        let lazy = Schema::lazy();
        assert!(lazy.built.get().is_none(), "built before it was asked for");
        let (lazy, eager) = (lazy.built().unwrap(), schema());
        let eager = eager.built().unwrap();
        assert_eq!(lazy.action_uids, eager.action_uids);
        assert_eq!(lazy.action_uid, eager.action_uid);
    }

    /// Set TOLLGATE_WRITE_SCHEMA_JSON=1 to regenerate the JSON after editing the schema.
    #[test]
    fn json_schema_is_the_cedarschema_converted() {
        let (fragment, _) = cedar_policy::SchemaFragment::from_cedarschema_str(SCHEMA_SOURCE)
            .expect("the .cedarschema file parses");
        let expected = fragment.to_json_value().expect("converts to JSON");
        if std::env::var_os("TOLLGATE_WRITE_SCHEMA_JSON").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/schema/tollgate.cedarschema.json"
            );
            let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
            std::fs::write(path, text).unwrap();
            return;
        }
        let shipped: serde_json::Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        assert_eq!(
            shipped, expected,
            "schema/tollgate.cedarschema.json is stale: rerun this test with TOLLGATE_WRITE_SCHEMA_JSON=1"
        );
    }

    #[test]
    fn builtin_schema_parses_and_knows_every_action() {
        let s = schema();
        let s = s.built().unwrap();
        assert_eq!(s.action_entities.len(), Action::ALL.len());
        let read = &s.action_entities[Action::FsRead.index()];
        let uids: Vec<String> = read.iter().map(|e| e.uid().to_string()).collect();
        assert!(
            uids.contains(&r#"file_system::Action::"SafeIO""#.to_owned()),
            "{uids:?}"
        );
    }
}
