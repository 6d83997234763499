//! Policy slicing: for a request, only the policies that can apply are evaluated.
//!
//! Cedar evaluates every policy it is given, so a decision against a thousand unrelated
//! statements would cost a thousand evaluations. What a policy needs of a request can be read
//! off its condition: its scope and the top-level conjuncts of its `when` and `unless` clauses
//! (see [`needs`]). We bucket policies by action and by what they need of the resource (an
//! entity it is or is below, a type, a path prefix), and filter them once per gate by what
//! they need of the principal. A request then gathers the buckets its resource falls in. Every
//! policy left out has a conjunct that is false for the request, so it cannot apply, and the
//! decision and the policies that determined it are the same as over the whole set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use cedar_policy::{ActionConstraint, Effect, EntityUid, Policy, PolicySet};
use cedar_policy_core::ast as core_ast;

use crate::action::Action;
use crate::path::AbsPath;
use crate::resource::Resource;
use crate::schema::ActionUids;

mod needs;
#[cfg(test)]
mod tests;

use needs::{EntityTest, ResourceNeed};

/// How many distinct slices to keep before starting over; a bound on memory, not a tuning knob
/// that matters for correctness.
const MAX_CACHED_SLICES: usize = 4096;

#[derive(Default)]
struct ActionSlice {
    /// Policies that need nothing of the resource that the index reads.
    always: Vec<u32>,
    /// Policies whose resource must be, or be below, an entity: type name, then id.
    by_scope: HashMap<String, HashMap<String, Vec<u32>>>,
    /// Policies whose resource must have a type.
    by_type: HashMap<String, Vec<u32>>,
    /// Policies whose resource must have a path that starts with a prefix.
    by_prefix: HashMap<String, Vec<u32>>,
    /// The distinct lengths of those prefixes, in bytes: the only ones worth looking up.
    prefix_lengths: Vec<usize>,
}

pub(crate) struct PolicyIndex {
    policies: Vec<Policy>,
    per_action: Vec<ActionSlice>,
    /// For each policy, the tests its principal must pass.
    principal_tests: Vec<Vec<EntityTest>>,
    slices: Mutex<HashMap<Vec<u32>, Arc<PolicySet>>>,
}

/// Which policies can apply to one principal: what a gate works out once.
pub(crate) struct Admitted(Vec<bool>);

impl PolicyIndex {
    pub(crate) fn build(set: &PolicySet, action_uids: &ActionUids) -> PolicyIndex {
        let policies: Vec<Policy> = set.policies().cloned().collect();
        let mut per_action: Vec<ActionSlice> =
            Action::ALL.iter().map(|_| ActionSlice::default()).collect();
        let mut principal_tests = Vec::with_capacity(policies.len());
        for (i, policy) in policies.iter().enumerate() {
            let i = i as u32;
            let core: &core_ast::Policy = policy.as_ref();
            let needs = needs::read(&core.condition());
            for action in Action::ALL {
                let uids = &action_uids[action.index()];
                if !needs.actions.iter().all(|t| t.admits(uids.iter())) {
                    continue;
                }
                let slice = &mut per_action[action.index()];
                match &needs.resource {
                    ResourceNeed::Any => slice.always.push(i),
                    ResourceNeed::Type(ty) => slice.by_type.entry(ty.clone()).or_default().push(i),
                    ResourceNeed::Within(keys) => {
                        for (ty, id) in keys {
                            slice
                                .by_scope
                                .entry(ty.clone())
                                .or_default()
                                .entry(id.clone())
                                .or_default()
                                .push(i);
                        }
                    }
                    ResourceNeed::PathPrefix(prefix) => {
                        slice.by_prefix.entry(prefix.clone()).or_default().push(i);
                        if !slice.prefix_lengths.contains(&prefix.len()) {
                            slice.prefix_lengths.push(prefix.len());
                        }
                    }
                }
            }
            principal_tests.push(needs.principal);
        }
        PolicyIndex {
            policies,
            per_action,
            principal_tests,
            slices: Mutex::new(HashMap::new()),
        }
    }

    /// The policies whose principal tests an entity with this uid and these ancestors passes.
    pub(crate) fn admitted(
        &self,
        principal: &core_ast::EntityUID,
        ancestors: &[core_ast::EntityUID],
    ) -> Admitted {
        Admitted(
            self.principal_tests
                .iter()
                .map(|tests| {
                    tests
                        .iter()
                        .all(|t| t.admits(std::iter::once(principal).chain(ancestors)))
                })
                .collect(),
        )
    }

    /// The policies that can apply to `action` on `resource` for the principal `admitted`
    /// was worked out for; `None` when there are none, in which case the answer is deny
    /// without asking Cedar.
    pub(crate) fn slice(
        &self,
        action: Action,
        resource: &Resource,
        admitted: &Admitted,
    ) -> Option<Arc<PolicySet>> {
        let table = &self.per_action[action.index()];
        let mut ids: Vec<u32> = table.always.clone();
        if let Some(found) = table.by_type.get(resource.type_name()) {
            ids.extend_from_slice(found);
        }
        if !table.by_scope.is_empty() {
            for (ty, id) in resource.scope_keys() {
                if let Some(found) = table.by_scope.get(ty).and_then(|m| m.get(id)) {
                    ids.extend_from_slice(found);
                }
            }
        }
        if let Some(path) = resource.path() {
            let path = path.as_str();
            for &len in &table.prefix_lengths {
                let found = path
                    .get(..len)
                    .and_then(|prefix| table.by_prefix.get(prefix));
                if let Some(found) = found {
                    ids.extend_from_slice(found);
                }
            }
        }
        ids.retain(|&i| admitted.0.get(i as usize).copied().unwrap_or(false));
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathScopes {
    Anywhere,
    Only {
        dirs: Vec<AbsPath>,
        files: Vec<AbsPath>,
    },
}

impl PathScopes {
    /// No file anywhere.
    pub(crate) fn nowhere() -> PathScopes {
        PathScopes::Only {
            dirs: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Everywhere any of `scopes` reaches.
    pub(crate) fn merge<'a>(scopes: impl Iterator<Item = &'a PathScopes>) -> PathScopes {
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        for scope in scopes {
            match scope {
                PathScopes::Anywhere => return PathScopes::Anywhere,
                PathScopes::Only { dirs: d, files: f } => {
                    dirs.extend_from_slice(d);
                    files.extend_from_slice(f);
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

impl PolicyIndex {
    /// Where the permit policies for `actions` could apply, read off what they need of the
    /// resource (see [`needs`]): other conditions, principals and forbids are not considered,
    /// so the answer covers at least everything the policies can permit.
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
            for (ty, ids) in &table.by_type {
                let names_files = ty == "file_system::Dir" || ty == "file_system::File";
                if names_files && permits(ids) {
                    return PathScopes::Anywhere;
                }
            }
            for (prefix, ids) in &table.by_prefix {
                if !permits(ids) {
                    continue;
                }
                // Every path that starts with the prefix is in the directory the prefix
                // names up to its last '/'. Paths are absolute: a prefix without a leading
                // '/' matches none.
                let Some(cut) = prefix.rfind('/') else {
                    continue;
                };
                match AbsPath::parse(if cut == 0 { "/" } else { &prefix[..cut] }) {
                    Ok(dir) => dirs.push(dir),
                    Err(_) => return PathScopes::Anywhere,
                }
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
