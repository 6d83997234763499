//! What the gate does with data labels besides handing them to the policy: it refuses, by
//! default, what would disclose data whose deletion was requested
//! ([`LabelRules::erasure_refusal`]), and it learns a file's age from the descriptor the host
//! opened, so that `resource.labels.expired` is what that descriptor says
//! ([`Gate::confirm_age`]).

use std::time::SystemTime;

use super::*;
use crate::labels::{Erasure, Period, ERASURE_REFUSES};

/// The name decision records give the default's refusal of data pending erasure, where a
/// policy would otherwise have permitted it.
pub const ERASURE_DEFAULT: &str = "tollgate:erasure-requested";

impl Gate {
    /// `decision` as the default on pending erasures leaves it: a permit of an action the
    /// default refuses on this resource, for this run's purpose, becomes a deny by
    /// [`ERASURE_DEFAULT`], which no permit gets past (as a forbid).
    pub(super) fn with_erasure_default(&self, action: Action, decision: Decision) -> Decision {
        let refused = decision.permitted
            && self
                .labels
                .erasure_refusal(action, decision.labels.as_deref(), &self.caller.purpose)
                .is_some();
        if refused {
            return Decision {
                permitted: false,
                policies: vec![ERASURE_DEFAULT.to_owned()],
                ..decision
            };
        }
        decision
    }

    /// The pending erasure that a denial of `action` on `resource` must name: the default
    /// refuses it whatever the policy says, so no permit added would change the answer.
    pub(super) fn erasure_of(&self, action: Action, resource: &Resource) -> Option<Erasure> {
        if !ERASURE_REFUSES.contains(&action) {
            return None;
        }
        let labels = self.labels.labels_of_resource(resource);
        self.labels
            .erasure_refusal(action, labels.as_deref(), &self.caller.purpose)
    }

    /// The retention period of the file `permit` is for, if it has one: then the host must
    /// read its modification time from the descriptor it opened and give both to
    /// [`Gate::confirm_age`]. Only files age: a directory's modification time says when an
    /// entry last changed, not how old its data is. Cheap where no rule sets a retention.
    pub fn needs_age(&self, permit: &Permit) -> Option<Period> {
        match &permit.resource {
            Resource::File(path) => self.labels.retention_of(path),
            _ => None,
        }
    }

    /// The host holds the file `permit` is for open, and read from that descriptor that it
    /// was last modified at `modified`; `period` is its retention ([`Gate::needs_age`]). If
    /// that changes whether the file is expired (it is
    /// past its retention, or no longer is), the path is so for the rest of the run, the
    /// decisions remembered are forgotten, and the requests in `requests` about that file
    /// (or, if none is, the permit's actions) are decided again, and recorded, as every
    /// decision is: the answer then is the permit, or the denial the host must give instead
    /// of using the descriptor. Otherwise the permit stands.
    pub fn confirm_age(
        &self,
        permit: Permit,
        period: Period,
        requests: &[Request<'_>],
        modified: SystemTime,
    ) -> Result<Permit, Box<Denied>> {
        let Some(path) = permit.resource.path() else {
            return Ok(permit);
        };
        if !self
            .labels
            .note_age(path, period, modified, SystemTime::now())
        {
            return Ok(permit);
        }
        self.forget_all_decisions();
        let again: Vec<Request<'_>> = requests
            .iter()
            .filter(|r| *r.resource == permit.resource)
            .copied()
            .collect();
        if again.is_empty() {
            return self.authorize(&permit.actions, &permit.resource);
        }
        self.authorize_all(&again)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::identity::{Caller, Directory};
    use crate::path::AbsPath;

    /// One decision record: action, resource, permitted, policies, labels.
    type Entry = (String, String, bool, Vec<String>, serde_json::Value);

    /// Decision records, as a log would take them.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<Entry>>>);

    impl DecisionLog for Kept {
        fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
            let mut all = self.0.lock().unwrap();
            for e in entries {
                all.push((
                    e.action.to_string(),
                    e.resource.to_string(),
                    e.permitted,
                    e.policies.clone(),
                    e.labels
                        .as_deref()
                        .map_or(serde_json::Value::Null, |l| l.to_json().clone()),
                ));
            }
            Ok(())
        }
    }

    const LABELS: &str = r#"{"rules": [
        {"paths": ["/srv/crm"], "classification": "confidential", "jurisdiction": "EU"},
        {"paths": ["/srv/crm/customers/17"], "erasure_requested": {"id": "DSR-17", "date": "2026-11-30"}},
        {"paths": ["/srv/us"], "jurisdiction": "US"},
        {"paths": ["/srv/logs"], "retention": "P90D"}],
        "urls": [{"prefixes": ["https://api.eu.example.com/"], "jurisdiction": "EU"}]}"#;

    fn gate_for(policy: &str, caller: Caller, directory: &str, labels: &str, log: &Kept) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
        Gate::for_caller(
            schema,
            policies,
            caller,
            &Directory::parse(directory).unwrap(),
            Recorder::Log(Box::new(log.clone())),
            Arc::default(),
        )
        .with_labels(Arc::new(LabelRules::parse(labels).unwrap()))
    }

    fn for_purpose(purpose: &str) -> Caller {
        Caller {
            purpose: purpose.to_owned(),
            ..Caller::os_user("alice")
        }
    }

    fn file(p: &str) -> Resource {
        Resource::File(AbsPath::parse(p).unwrap())
    }

    const READ_ALL: &str = r#"permit(principal, action, resource);"#;

    #[test]
    fn reads_of_data_pending_erasure_are_refused_whatever_the_policy_says_but_for_erasure() {
        let log = Kept::default();
        let g = gate_for(READ_ALL, for_purpose("support"), "{}", LABELS, &log);
        let profile = file("/srv/crm/customers/17/profile.json");
        let d = g.authorize(&[Action::FsRead], &profile).unwrap_err();
        assert_eq!(d.forbidden_by, [ERASURE_DEFAULT]);
        let erasure = d.erasure.clone().unwrap();
        assert_eq!(
            (erasure.id.as_str(), erasure.date.as_str()),
            ("DSR-17", "2026-11-30")
        );
        let text = d.to_string();
        for want in [
            "DSR-17",
            "2026-11-30",
            "\"erasure\"",
            "whatever the policy says",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(
            d.would_permit().contains("purpose \"erasure\""),
            "{}",
            d.would_permit()
        );
        // The record says the default decided it, with the request in the labels.
        let kept = log.0.lock().unwrap().clone();
        let (_, _, permitted, policies, labels) = kept.last().unwrap();
        assert!(!permitted);
        assert_eq!(policies, &[ERASURE_DEFAULT]);
        assert_eq!(labels["erasure_request"]["id"], "DSR-17");
        // Erasing it, and a neighbour, stay the policy's.
        assert!(g.authorize(&[Action::FsDelete], &profile).is_ok());
        assert!(g.authorize(&[Action::FsWrite], &profile).is_ok());
        assert!(g
            .authorize(&[Action::FsRead], &file("/srv/crm/customers/18/p.json"))
            .is_ok());
        for action in [Action::FsRedactedRead, Action::FsExecute, Action::FsMove] {
            assert!(g.authorize(&[action], &profile).is_err(), "{action}");
        }
        // Listing the directory discloses the names in it.
        let dir = Resource::Dir(AbsPath::parse("/srv/crm/customers/17").unwrap());
        assert!(g.authorize(&[Action::FsRead], &dir).is_err());

        let g = gate_for(
            READ_ALL,
            for_purpose("erasure"),
            "{}",
            LABELS,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &profile).is_ok());
        let g = gate_for(
            READ_ALL,
            for_purpose("Erasure"),
            "{}",
            LABELS,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &profile).is_err());
    }

    #[test]
    fn where_nothing_permits_the_denial_still_names_the_erasure_request() {
        let g = gate_for("", for_purpose("support"), "{}", LABELS, &Kept::default());
        let d = g
            .authorize(&[Action::FsRead], &file("/srv/crm/customers/17/p.json"))
            .unwrap_err();
        assert!(d.forbidden_by.is_empty());
        assert!(d.to_string().contains("DSR-17"), "{d}");
        assert!(!d.to_string().contains("add one, e.g."), "{d}");
        // An action the default does not refuse gets the usual answer.
        let d = g
            .authorize(&[Action::FsStat], &file("/srv/crm/customers/17/p.json"))
            .unwrap_err();
        assert!(
            d.erasure.is_none() && d.to_string().contains("no policy permits it"),
            "{d}"
        );
    }

    #[test]
    fn with_policy_decides_the_policy_sees_the_request_and_decides_alone() {
        let labels = LABELS.replacen('{', r#"{"erasure_default": "policy_decides", "#, 1);
        let profile = file("/srv/crm/customers/17/profile.json");
        let g = gate_for(
            READ_ALL,
            for_purpose("support"),
            "{}",
            &labels,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &profile).is_ok());
        let policy = r#"permit(principal, action, resource);
            @id("legal-may-read-erased")
            forbid(principal, action == file_system::Action::"read", resource)
            when { resource.labels.erasure_requested && resource.labels.erasure_request like "DSR-*"
                   && resource.labels.erasure_date like "2026-*" && context.purpose != "legal-review" };"#;
        let g = gate_for(
            policy,
            for_purpose("support"),
            "{}",
            &labels,
            &Kept::default(),
        );
        let d = g.authorize(&[Action::FsRead], &profile).unwrap_err();
        assert_eq!(d.forbidden_by, ["legal-may-read-erased"]);
        assert!(d.erasure.is_none());
        let g = gate_for(
            policy,
            for_purpose("legal-review"),
            "{}",
            &labels,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &profile).is_ok());
    }

    const NO_EXPIRED: &str = r#"permit(principal, action, resource);
        @id("no-expired")
        forbid(principal, action == file_system::Action::"read", resource)
        when { resource.labels.expired };"#;

    #[test]
    fn an_expired_file_is_refused_once_its_descriptor_says_so_and_from_then_on() {
        let log = Kept::default();
        let g = gate_for(NO_EXPIRED, for_purpose(""), "{}", LABELS, &log);
        let old = file("/srv/logs/2025.log");
        let actions = [Action::FsOpen, Action::FsRead];
        let requests = [Request {
            actions: &actions,
            resource: &old,
            context: &Context::Empty,
        }];
        let permit = g.authorize_all(&requests).unwrap();
        let period = g.needs_age(&permit).unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(91 * 86_400);
        let d = g
            .confirm_age(permit, period, &requests, long_ago)
            .unwrap_err();
        assert_eq!(d.forbidden_by, ["no-expired"]);
        // Recorded: the permit made before the age was known, then the deny made with it.
        let kept = log.0.lock().unwrap().clone();
        let (action, _, permitted, _, labels) = kept.last().unwrap();
        assert!(action.ends_with("\"read\"") && !permitted);
        assert_eq!(labels["expired"], true);
        // Asked again in the run (a handle's next read), it is refused at once.
        assert!(g.authorize(&actions, &old).is_err());
        // A file within its retention, and one without any, are left as they are.
        let young = file("/srv/logs/today.log");
        let permit = g.authorize(&actions, &young).unwrap();
        let period = g.needs_age(&permit).unwrap();
        let permit = g
            .confirm_age(permit, period, &[], SystemTime::now())
            .unwrap();
        assert_eq!(permit.resource(), &young);
        let plain = g.authorize(&actions, &file("/srv/crm/a")).unwrap();
        assert_eq!(g.needs_age(&plain), None);
    }

    #[test]
    fn policies_compare_the_requesters_jurisdiction_with_the_datas_and_the_endpoints() {
        let policy = r#"
            permit(principal, action == file_system::Action::"read", resource)
            when { principal is User && principal.jurisdiction == resource.labels.jurisdiction };
            permit(principal is Agent, action == file_system::Action::"read", resource)
            when { principal.on_behalf_of.jurisdiction == resource.labels.jurisdiction };
            permit(principal, action == network::Action::"GET", resource)
            when { resource.jurisdiction == "EU" };"#;
        let directory = r#"{"users": {"alice": {"jurisdiction": "EU"}}}"#;
        let g = gate_for(
            policy,
            Caller::os_user("alice"),
            directory,
            LABELS,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &file("/srv/crm/a")).is_ok());
        assert!(g.authorize(&[Action::FsRead], &file("/srv/us/a")).is_err());
        let agent = Caller {
            principal: crate::identity::Principal::Agent {
                agent: "support-agent".into(),
                on_behalf_of: "alice".into(),
            },
            ..Caller::os_user("alice")
        };
        let g = gate_for(policy, agent, directory, LABELS, &Kept::default());
        assert!(g.authorize(&[Action::FsRead], &file("/srv/crm/a")).is_ok());
        assert!(g.authorize(&[Action::FsRead], &file("/srv/us/a")).is_err());
        let url = |u: &str| Resource::Url(u.to_owned());
        assert!(g
            .authorize(&[Action::NetGet], &url("https://api.eu.example.com:443/v1"))
            .is_ok());
        for elsewhere in [
            "https://api.eu.example.com.evil.net:443/",
            "https://api.us.example.com:443/",
        ] {
            assert!(
                g.authorize(&[Action::NetGet], &url(elsewhere)).is_err(),
                "{elsewhere}"
            );
        }
        // Unknown requester: "" equals no labelled jurisdiction.
        let g = gate_for(
            policy,
            Caller::os_user("bob"),
            directory,
            LABELS,
            &Kept::default(),
        );
        assert!(g.authorize(&[Action::FsRead], &file("/srv/crm/a")).is_err());
    }
}
