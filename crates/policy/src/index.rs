//! Policy slicing: for a request, only the policies whose scope can match are evaluated.
//!
//! Cedar evaluates every policy it is given, so a decision against a thousand unrelated
//! statements would cost a thousand evaluations. The scope of a policy (its `action` and
//! `resource` constraints) already says which requests it can apply to. We bucket policies by
//! action and by the entity their resource scope names; a request then gathers the buckets of
//! its resource and that resource's ancestors. The slice is exactly the set of policies whose
//! scope can be satisfied, so the decision is the same as over the whole set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cedar_policy::{ActionConstraint, Effect, EntityUid, Policy, PolicySet, ResourceConstraint};

use crate::action::Action;
use crate::path::AbsPath;
use crate::resource::Resource;
use crate::schema::Schema;

/// How many distinct slices to keep before starting over; a bound on memory, not a tuning knob
/// that matters for correctness.
const MAX_CACHED_SLICES: usize = 4096;

#[derive(Default)]
struct ActionSlice {
    /// Policies whose resource scope is unconstrained or only a type test.
    always: Vec<u32>,
    /// Policies whose resource scope names an entity: type name, then id.
    by_scope: HashMap<String, HashMap<String, Vec<u32>>>,
}

pub(crate) struct PolicyIndex {
    policies: Vec<Policy>,
    per_action: Vec<ActionSlice>,
    slices: Mutex<HashMap<Vec<u32>, Arc<PolicySet>>>,
}

impl PolicyIndex {
    pub(crate) fn build(set: &PolicySet, schema: &Schema) -> PolicyIndex {
        let policies: Vec<Policy> = set.policies().cloned().collect();
        let mut per_action: Vec<ActionSlice> =
            Action::ALL.iter().map(|_| ActionSlice::default()).collect();
        for (i, policy) in policies.iter().enumerate() {
            let i = i as u32;
            let scope_entity = match policy.resource_constraint() {
                ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
                ResourceConstraint::Eq(uid)
                | ResourceConstraint::In(uid)
                | ResourceConstraint::IsIn(_, uid) => Some(uid),
            };
            let actions = policy.action_constraint();
            for action in Action::ALL {
                let uids = &schema.action_entities[action.index()];
                if !action_matches(&actions, uids.iter().map(|e| e.uid())) {
                    continue;
                }
                let slice = &mut per_action[action.index()];
                match &scope_entity {
                    None => slice.always.push(i),
                    Some(uid) => slice
                        .by_scope
                        .entry(uid.type_name().to_string())
                        .or_default()
                        .entry(uid.id().unescaped().to_owned())
                        .or_default()
                        .push(i),
                }
            }
        }
        PolicyIndex {
            policies,
            per_action,
            slices: Mutex::new(HashMap::new()),
        }
    }

    /// The policies that can apply to `action` on `resource`; `None` when there are none, in
    /// which case the answer is deny without asking Cedar.
    pub(crate) fn slice(&self, action: Action, resource: &Resource) -> Option<Arc<PolicySet>> {
        let table = &self.per_action[action.index()];
        let mut ids: Vec<u32> = table.always.clone();
        if !table.by_scope.is_empty() {
            for (ty, id) in resource.scope_keys() {
                if let Some(found) = table.by_scope.get(ty).and_then(|m| m.get(id)) {
                    ids.extend_from_slice(found);
                }
            }
        }
        if ids.is_empty() {
            return None;
        }
        ids.sort_unstable();
        ids.dedup();
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid cache, so keep using it.
        let mut slices = self.slices.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = slices.get(&ids) {
            return Some(Arc::clone(set));
        }
        if slices.len() >= MAX_CACHED_SLICES {
            slices.clear();
        }
        let set = PolicySet::from_policies(ids.iter().map(|&i| self.policies[i as usize].clone()))
            // The policies came from one valid set, so their ids are distinct.
            .unwrap_or_else(|_| unreachable!());
        let set = Arc::new(set);
        slices.insert(ids, Arc::clone(&set));
        Some(set)
    }
}

/// Where a policy set could permit some actions on files: everywhere, or only on these
/// paths (a `file_system::Dir` scope covers everything beneath it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathScopes {
    Anywhere,
    Only {
        dirs: Vec<AbsPath>,
        files: Vec<AbsPath>,
    },
}

impl PolicyIndex {
    /// The resource scopes of the permit policies for `actions`, read off the policies'
    /// scopes alone: conditions, principals and forbids are not considered, so the answer
    /// covers at least everything the policies can permit.
    pub(crate) fn permit_scopes(&self, actions: &[Action]) -> PathScopes {
        let permits = |ids: &[u32]| {
            ids.iter()
                .any(|&i| self.policies[i as usize].effect() == Effect::Permit)
        };
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        for action in actions {
            let table = &self.per_action[action.index()];
            if permits(&table.always) {
                return PathScopes::Anywhere;
            }
            for (ty, ids) in &table.by_scope {
                let list = match ty.as_str() {
                    "file_system::Dir" => &mut dirs,
                    "file_system::File" => &mut files,
                    _ => continue,
                };
                for (id, policies) in ids {
                    if let (true, Ok(path)) = (permits(policies), AbsPath::parse(id)) {
                        list.push(path);
                    }
                }
            }
        }
        for list in [&mut dirs, &mut files] {
            list.sort();
            list.dedup();
        }
        PathScopes::Only { dirs, files }
    }
}

/// Whether an action scope admits the action whose entity and groups are `uids`.
pub(crate) fn action_matches<'a>(
    constraint: &ActionConstraint,
    mut uids: impl Iterator<Item = EntityUid> + 'a,
) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(want) => uids.next().as_ref() == Some(want),
        ActionConstraint::In(list) => uids.any(|u| list.contains(&u)),
    }
}
