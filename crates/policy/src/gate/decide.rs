//! Deciding one request with Cedar, over the slice of policies that can apply, and
//! remembering the answer for the rest of the run.

use super::*;

/// One decision as Cedar made it, for explanations and probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub permitted: bool,
    /// Names of the policies that determined the decision.
    pub policies: Vec<String>,
    pub errors: Vec<String>,
    /// The labels the resource was decided with (none for an unlabelled one).
    pub labels: Option<Arc<Labels>>,
}

impl Decision {
    /// A deny that no policy made.
    pub(super) fn refused(labels: Option<Arc<Labels>>) -> Decision {
        Decision {
            permitted: false,
            policies: Vec::new(),
            errors: Vec::new(),
            labels,
        }
    }
}

impl Gate {
    /// [`Gate::decide`], answered from memory when the same request (with an empty context)
    /// was decided before.
    // Inline: the memory's answer is the hot path of every repeated request, and this
    // module is another codegen unit than the gate's loop.
    #[inline]
    pub(super) fn decide_remembered(
        &self,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        if *context != Context::Empty {
            return self.decide(action, resource, context);
        }
        // A poisoned lock only means another thread panicked while holding it; the map is
        // still a valid memo, so keep using it.
        let remembered = self
            .decided
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(resource)
            .and_then(|asked| {
                asked
                    .iter()
                    .find(|(a, _)| *a == action)
                    .map(|(_, d)| d.clone())
            });
        if let Some(d) = remembered {
            return d;
        }
        let decision = self.decide(action, resource, context);
        let mut decided = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        if decided.len() >= MAX_REMEMBERED {
            decided.clear();
        }
        decided
            .entry(resource.clone())
            .or_default()
            .push((action, decision.clone()));
        decision
    }

    /// Asks Cedar, over the slice of policies that can apply. Any failure to build the
    /// request is a deny. Not public: a decision is only answered once it is recorded (see
    /// [`Gate::authorize_all`] and [`Gate::probe`]). The run's answer is released unless a
    /// forbid applies (see [`Gate::release`]).
    pub(super) fn decide(
        &self,
        action: Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        let decision = self.decide_cedar(action, resource, context);
        // Data pending erasure: refused by default whatever the policy says (gate/labelled.rs).
        let decision = self.with_erasure_default(action, decision);
        let unforbidden =
            !decision.permitted && decision.policies.is_empty() && decision.errors.is_empty();
        if action == Action::OutputRelease && unforbidden {
            return Decision {
                permitted: true,
                ..decision
            };
        }
        decision
    }

    fn decide_cedar(&self, action: Action, resource: &Resource, context: &Context) -> Decision {
        let deny = |error: String, labels| Decision {
            permitted: false,
            policies: Vec::new(),
            errors: vec![error],
            labels,
        };
        // Rules that cannot be looked at would make every path look unlabelled.
        if let Err(e) = self.labels.ready() {
            return deny(e.to_owned(), None);
        }
        // A path's labels, or an endpoint's jurisdiction.
        let labels = self.labels.labels_of_resource(resource);
        let slice = match self.slice(action, resource) {
            Ok(Some(slice)) => slice,
            Ok(None) => return Decision::refused(labels),
            Err(e) => return deny(e.to_owned(), labels),
        };
        let own = labels.as_deref().unwrap_or(Labels::unlabelled());
        let (request, entities) = match self.request(action, resource, own, context) {
            Ok(r) => r,
            Err(e) => return deny(e, labels),
        };
        let response = self
            .cedar_principal()
            .authorizer
            .is_authorized(&request, &slice, &entities);
        let permitted = response.decision() == cedar_policy::Decision::Allow;
        Decision {
            permitted,
            policies: response
                .diagnostics()
                .reason()
                .map(|id| self.policies.name(id))
                .collect(),
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
            labels,
        }
    }

    /// The Cedar request and its entities; an error names what could not be built.
    pub(super) fn request(
        &self,
        action: Action,
        resource: &Resource,
        labels: &Labels,
        context: &Context,
    ) -> Result<(cedar_policy::Request, Entities), String> {
        let schema = self.schema.built()?;
        let principal = self.cedar_principal();
        let request = cedar_policy::Request::new(
            principal.uid.clone(),
            schema.action_uid[action.index()].clone(),
            resource.uid(),
            context.to_cedar(&self.caller, &self.labels, self.taint_expression()),
            None,
        )
        .map_err(|e| format!("cannot build the request: {e}"))?;
        // The action's entity carries its groups as parents, so `action in SafeIO` holds.
        let entities = core_entities::Entities::from_entities(
            [
                resource.entity(labels),
                schema.action_core[action.index()].clone(),
            ]
            .into_iter()
            .chain(context.entities())
            .chain(principal.entities.iter().cloned()),
            None::<&core_entities::NoEntitiesSchema>,
            core_entities::TCComputation::AssumeAlreadyComputed,
            Extensions::none(),
        )
        .map_err(|e| format!("cannot build the entities: {e}"))?;
        Ok((request, Entities::from(entities)))
    }
}

#[cfg(test)]
impl Gate {
    /// The decision over the slice and over the whole set, as (permitted, determining
    /// policies): for tests that slicing changes no decision.
    pub(crate) fn decide_sliced_and_whole(
        &self,
        action: Action,
        resource: &Resource,
    ) -> ((bool, Vec<String>), (bool, Vec<String>)) {
        let sliced = self.decide(action, resource, &Context::Empty);
        let mut sliced_policies = sliced.policies;
        sliced_policies.sort();
        let (request, entities) = self
            .request(action, resource, Labels::unlabelled(), &Context::Empty)
            .expect("a request for the test");
        let response = self.cedar_principal().authorizer.is_authorized(
            &request,
            &self.policies.compiled().unwrap().set,
            &entities,
        );
        let mut whole: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| self.policies.name(id))
            .collect();
        whole.sort();
        (
            (sliced.permitted, sliced_policies),
            (response.decision() == cedar_policy::Decision::Allow, whole),
        )
    }
}
