use super::*;
use crate::path::AbsPath;

fn gate(policy: &str) -> Gate {
    gate_with(policy, Recorder::Unaudited, Arc::default())
}

fn gate_with(policy: &str, recorder: Recorder, frozen: Arc<AtomicBool>) -> Gate {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
    Gate::new(schema, policies, "alice", recorder, frozen)
}

fn file(p: &str) -> Resource {
    Resource::File(AbsPath::parse(p).unwrap())
}

#[test]
fn a_denial_names_the_forbid_that_mattered_not_the_missing_permit_before_it() {
    let g = gate(
        r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/d");
@id("no-secrets")
forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"/d/secret");"#,
    );
    let dir = Resource::Dir(AbsPath::parse("/d/secret").unwrap());
    let key = file("/d/secret/key");
    let open = [Action::FsOpen];
    let read = [Action::FsOpen, Action::FsRead];
    let requests = [
        Request {
            actions: &open,
            resource: &dir,
            context: &Context::Empty,
        },
        Request {
            actions: &read,
            resource: &key,
            context: &Context::Empty,
        },
    ];
    let d = g.authorize_all(&requests).unwrap_err();
    assert_eq!(d.forbidden_by, ["no-secrets"], "{d}");
    assert_eq!(d.resource, key);
    assert_eq!(d.action, Action::FsRead);
    // Where nothing later is forbidden, the first deny is what is reported.
    let plain = file("/d/plain");
    let requests = [
        Request {
            actions: &open,
            resource: &dir,
            context: &Context::Empty,
        },
        Request {
            actions: &read,
            resource: &plain,
            context: &Context::Empty,
        },
    ];
    let d = g.authorize_all(&requests).unwrap_err();
    assert!(d.forbidden_by.is_empty(), "{d}");
    assert_eq!((d.action, &d.resource), (Action::FsOpen, &dir));
}

#[test]
fn empty_policy_denies_everything() {
    let g = gate("");
    let d = g.authorize(&[Action::FsRead], &file("/tmp/x")).unwrap_err();
    assert!(d.forbidden_by.is_empty());
    assert!(d.to_string().contains("no policy permits it"), "{d}");
}

#[test]
fn dir_scope_covers_descendants_only() {
    let g = gate(
        r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/var/log");"#,
    );
    assert!(g
        .authorize(&[Action::FsRead], &file("/var/log/app/a.log"))
        .is_ok());
    assert!(g
        .authorize(&[Action::FsRead], &file("/var/logs/a.log"))
        .is_err());
    assert!(g
        .authorize(&[Action::FsWrite], &file("/var/log/a.log"))
        .is_err());
}

#[test]
fn safeio_action_group_matches_file_actions() {
    let g = gate(
        r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/data");"#,
    );
    assert!(g
        .authorize(
            &[Action::FsOpen, Action::FsRead, Action::FsWrite],
            &file("/data/x")
        )
        .is_ok());
}

#[test]
fn forbid_beats_permit_and_is_named() {
    let g = gate(
            "permit(principal, action, resource);\n@id(\"no-secrets\")\nforbid(principal, action, resource in file_system::Dir::\"/etc/secrets\");",
        );
    let d = g
        .authorize(&[Action::FsRead], &file("/etc/secrets/k"))
        .unwrap_err();
    assert_eq!(d.forbidden_by, ["no-secrets"]);
    assert!(g.authorize(&[Action::FsRead], &file("/etc/hosts")).is_ok());
}

#[test]
fn path_attribute_and_principal_are_visible_to_conditions() {
    let g = gate(
        r#"permit(principal == User::"alice", action, resource is file_system::File) when { resource.path like "*.log" };"#,
    );
    assert!(g.authorize(&[Action::FsRead], &file("/x/a.log")).is_ok());
    assert!(g.authorize(&[Action::FsRead], &file("/x/a.txt")).is_err());
}

#[test]
fn move_context_carries_destination() {
    let g = gate(
        r#"permit(principal, action == file_system::Action::"move", resource) when { context.destination.parent_path == "/archive" };"#,
    );
    let to = |p: &str| Context::Move {
        destination: AbsPath::parse(p).unwrap(),
    };
    assert!(g
        .authorize_in(&[Action::FsMove], &file("/a/x"), &to("/archive/x"))
        .is_ok());
    assert!(g
        .authorize_in(&[Action::FsMove], &file("/a/x"), &to("/tmp/x"))
        .is_err());
}

#[test]
fn execute_context_tags_and_identities_are_visible_and_validate() {
    use crate::execute::{ExecuteContext, Identity};
    let g = gate(
        r#"permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/sbin/iptables") when {
                context.arguments.hasTag("-p") && context.arguments.getTag("-p") == "tcp" &&
                context.environment.names.isEmpty() && context.user.uid == 0 && context.group.groupname == "root"
            };"#,
    );
    let ask = |args: &[(&str, &str)]| {
        let c = ExecuteContext {
            arguments: args
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                .collect(),
            environment: Vec::new(),
            user: Identity {
                name: "root".into(),
                id: 0,
            },
            group: Identity {
                name: "root".into(),
                id: 0,
            },
        };
        let bin = file("/usr/sbin/iptables");
        let contexts: Vec<Context> = c
            .views()
            .unwrap()
            .into_iter()
            .map(|v| Context::Execute(Box::new(v)))
            .collect();
        let requests: Vec<Request> = contexts
            .iter()
            .map(|context| Request {
                actions: &[Action::FsExecute],
                resource: &bin,
                context,
            })
            .collect();
        g.authorize_all(&requests).is_ok()
    };
    assert!(ask(&[("-p", "tcp")]));
    assert!(!ask(&[("-p", "udp")]));
    // The second value is checked too: it cannot hide behind the first.
    assert!(!ask(&[("-p", "tcp"), ("-p", "udp")]));
    assert!(!ask(&[]));
}

#[test]
fn permit_scopes_cover_what_permits_name_and_widen_to_anywhere() {
    let g = gate(
        r#"permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/srv/out");
               permit(principal, action in [file_system::Action::"create"], resource == file_system::File::"/tmp/note");
               forbid(principal, action, resource in file_system::Dir::"/etc");
               permit(principal, action == file_system::Action::"read", resource);"#,
    );
    let write = [Action::FsWrite, Action::FsCreate, Action::FsDelete];
    assert_eq!(
        g.permit_scopes(&write),
        PathScopes::Only {
            dirs: vec![AbsPath::parse("/srv/out").unwrap()],
            files: vec![AbsPath::parse("/tmp/note").unwrap()],
        }
    );
    assert_eq!(g.permit_scopes(&[Action::FsRead]), PathScopes::Anywhere);
}

/// A decision log that keeps what it is given (action, permitted, probe), or fails.
#[derive(Default)]
struct Journal {
    seen: Mutex<Vec<(Action, bool, bool)>>,
    fail: bool,
}

impl DecisionLog for Arc<Journal> {
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
        if self.fail {
            return Err("disk full".to_owned());
        }
        let mut seen = self.seen.lock().unwrap();
        seen.extend(entries.iter().map(|e| (e.action, e.permitted, e.probe)));
        Ok(())
    }
}

fn journalled(policy: &str, journal: &Arc<Journal>, frozen: &Arc<AtomicBool>) -> Gate {
    gate_with(
        policy,
        Recorder::Log(Box::new(Arc::clone(journal))),
        Arc::clone(frozen),
    )
}

#[test]
fn every_decision_is_logged_before_it_is_returned() {
    let journal = Arc::new(Journal::default());
    let g = journalled(
        r#"permit(principal, action == file_system::Action::"open", resource);"#,
        &journal,
        &Arc::default(),
    );
    let _ = g.authorize(&[Action::FsOpen, Action::FsRead], &file("/a"));
    let _ = g.authorize(&[Action::FsOpen], &file("/a"));
    assert_eq!(
        *journal.seen.lock().unwrap(),
        [
            (Action::FsOpen, true, false),
            (Action::FsRead, false, false),
            (Action::FsOpen, true, false)
        ]
    );
}

#[test]
fn a_decision_that_cannot_be_logged_is_denied() {
    let journal = Arc::new(Journal {
        fail: true,
        ..Journal::default()
    });
    let g = journalled(
        "permit(principal, action, resource);",
        &journal,
        &Arc::default(),
    );
    let d = g.authorize(&[Action::FsRead], &file("/a")).unwrap_err();
    assert_eq!(d.unrecorded.as_deref(), Some("disk full"));
    assert!(d.to_string().contains("audit log"), "{d}");
}

#[test]
fn a_probe_is_decided_as_a_request_and_recorded_as_a_probe() {
    let journal = Arc::new(Journal::default());
    let g = journalled(
        r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv");
               @id("no-keys")
               forbid(principal, action, resource == file_system::File::"/srv/key");"#,
        &journal,
        &Arc::default(),
    );
    let p = g.probe(Action::FsRead, &file("/srv/a"), &Context::Empty);
    assert!(p.decision.permitted);
    assert_eq!(p.reason(), None);
    let p = g.probe(Action::FsRead, &file("/srv/key"), &Context::Empty);
    assert!(!p.decision.permitted);
    assert_eq!(p.decision.policies, ["no-keys"]);
    assert_eq!(p.denied.unwrap().forbidden_by, ["no-keys"]);
    assert!(g.authorize(&[Action::FsRead], &file("/srv/a")).is_ok());
    assert_eq!(
        *journal.seen.lock().unwrap(),
        [
            (Action::FsRead, true, true),
            (Action::FsRead, false, true),
            (Action::FsRead, true, false)
        ]
    );
}

#[test]
fn a_probe_on_a_frozen_host_is_denied_and_recorded() {
    let journal = Arc::new(Journal::default());
    let frozen = Arc::new(AtomicBool::new(true));
    let g = journalled("permit(principal, action, resource);", &journal, &frozen);
    let p = g.probe(Action::FsRead, &file("/a"), &Context::Empty);
    assert!(!p.decision.permitted);
    assert!(p.denied.as_ref().is_some_and(|d| d.frozen));
    assert!(p.reason().unwrap().contains("frozen"), "{p:?}");
    // The flag is the gate's own: lowering it lets the same question through.
    frozen.store(false, Ordering::Relaxed);
    assert!(
        g.probe(Action::FsRead, &file("/a"), &Context::Empty)
            .decision
            .permitted
    );
    assert_eq!(
        *journal.seen.lock().unwrap(),
        [(Action::FsRead, false, true), (Action::FsRead, true, true)]
    );
}

#[test]
fn a_probe_of_tollgates_own_files_is_denied_whatever_the_policy_says() {
    let journal = Arc::new(Journal::default());
    let mut own = OwnFiles::new();
    own.protect(
        AbsPath::parse("/var/log/tollgate/audit").unwrap(),
        "the audit log",
    );
    own.hide(
        AbsPath::parse("/var/log/tollgate/audit.key").unwrap(),
        "the audit log's signing key",
    );
    let g = journalled(
        "permit(principal, action, resource);",
        &journal,
        &Arc::default(),
    )
    .with_own_files(Arc::new(own));
    let segment = file("/var/log/tollgate/audit/segments/0");
    let p = g.probe(Action::FsWrite, &segment, &Context::Empty);
    assert!(!p.decision.permitted);
    assert_eq!(
        p.denied.as_ref().and_then(|d| d.own_file.as_deref()),
        Some("the audit log")
    );
    assert!(p.reason().unwrap().contains("Tollgate's own file"), "{p:?}");
    assert!(
        g.probe(Action::FsRead, &segment, &Context::Empty)
            .decision
            .permitted
    );
    let key = file("/var/log/tollgate/audit.key");
    let p = g.probe(Action::FsRead, &key, &Context::Empty);
    assert!(p.reason().unwrap().contains("signing key"), "{p:?}");
    // `explain` asks the same way, and says so instead of naming a policy to add.
    let e = g.explain(Action::FsRead, &key, &Context::Empty);
    assert!(!e.decision.permitted);
    assert!(
        e.would_permit.unwrap().contains("Tollgate's own file"),
        "explain"
    );
    assert_eq!(
        *journal.seen.lock().unwrap(),
        [
            (Action::FsWrite, false, true),
            (Action::FsRead, true, true),
            (Action::FsRead, false, true),
            (Action::FsRead, false, true)
        ]
    );
}

#[test]
fn a_probe_that_cannot_be_recorded_is_denied() {
    let journal = Arc::new(Journal {
        fail: true,
        ..Journal::default()
    });
    let g = journalled(
        "permit(principal, action, resource);",
        &journal,
        &Arc::default(),
    );
    let p = g.probe(Action::FsRead, &file("/a"), &Context::Empty);
    assert!(!p.decision.permitted);
    assert!(p.decision.policies.is_empty());
    assert_eq!(
        p.denied.as_ref().and_then(|d| d.unrecorded.as_deref()),
        Some("disk full")
    );
    assert!(p.reason().unwrap().contains("audit log"), "{p:?}");
}

#[test]
fn counts_every_decision() {
    let g = gate(r#"permit(principal, action == file_system::Action::"open", resource);"#);
    let _ = g.authorize(&[Action::FsOpen, Action::FsRead], &file("/a"));
    assert_eq!(
        g.counts(),
        DecisionCounts {
            permits: 1,
            denies: 1
        }
    );
}

#[test]
fn slicing_gives_the_same_answer_as_the_whole_set() {
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
                "permit(principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/d{i}\");\n"
            ));
    }
    text.push_str("forbid(principal, action, resource == file_system::File::\"/d7/secret\");\n");
    let g = gate(&text);
    assert!(g.authorize(&[Action::FsRead], &file("/d7/x")).is_ok());
    assert!(g.authorize(&[Action::FsRead], &file("/d7/secret")).is_err());
    assert!(g.authorize(&[Action::FsRead], &file("/d200/x")).is_err());
    assert!(g.authorize(&[Action::FsRead], &file("/d199/a/b/c")).is_ok());
}

fn agent_for(user: &str, purpose: &str) -> Caller {
    Caller {
        principal: crate::Principal::Agent {
            agent: "ops-agent".into(),
            on_behalf_of: user.into(),
        },
        purpose: purpose.into(),
        ticket: "INC-42".into(),
        delegation: None,
    }
}

#[test]
fn policies_decide_on_whose_behalf_and_for_what_purpose() {
    let directory = Directory::parse(
            r#"{"users": {"alice": {"groups": ["oncall"], "attributes": {"clearance": "high"}},
                          "bob": {"groups": ["sales"]}},
                "groups": {"oncall": {"groups": ["engineering"]}, "engineering": {}, "sales": {}}}"#,
        )
        .unwrap();
    let policy = r#"
            permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/var/log")
            when { principal.on_behalf_of in Group::"engineering" && context.purpose == "incident-response" };
            permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/srv/secret")
            when { principal.on_behalf_of.hasTag("clearance") && principal.on_behalf_of.getTag("clearance") == "high"
                   && context.ticket like "INC-*" };
        "#;
    let log = file("/var/log/app.log");
    let secret = file("/srv/secret/key");
    let decide = |caller: Caller, r: &Resource| {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
        Gate::for_caller(
            schema,
            policies,
            caller,
            &directory,
            Recorder::Unaudited,
            Arc::default(),
        )
        .authorize(&[Action::FsRead], r)
        .is_ok()
    };
    assert!(decide(agent_for("alice", "incident-response"), &log));
    assert!(!decide(agent_for("alice", "curiosity"), &log));
    assert!(!decide(agent_for("bob", "incident-response"), &log));
    assert!(!decide(agent_for("mallory", "incident-response"), &log));
    assert!(decide(agent_for("alice", "audit"), &secret));
    assert!(!decide(agent_for("bob", "audit"), &secret));
    // Without a token the principal is the OS user, which no Agent policy names.
    assert!(gate(policy).authorize(&[Action::FsRead], &log).is_err());
}

#[test]
fn a_rex_policy_keeps_its_meaning_for_the_os_user() {
    let g = gate(
        r#"permit(principal == User::"alice", action in file_system::Action::"SafeIO", resource);"#,
    );
    assert!(g.authorize(&[Action::FsRead], &file("/etc/hosts")).is_ok());
    assert_eq!(g.principal(), r#"User::"alice""#);
}

const LABELS: &str = r#"{"rules": [
        {"paths": ["/srv/clinic"], "classification": "restricted", "categories": ["phi"]},
        {"paths": ["/srv/legal/case-*"], "legal_hold": true, "jurisdiction": "EU"}]}"#;

fn labelled_gate(policy: &str, caller: Caller) -> Gate {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
    Gate::for_caller(
        schema,
        policies,
        caller,
        &Directory::default(),
        Recorder::Unaudited,
        Arc::default(),
    )
    .with_labels(Arc::new(LabelRules::parse(LABELS).unwrap()))
}

/// A labels file the cache vouched for that no longer parses must not make every path look
/// unlabelled: every decision is a deny that says why, even where a permit applies.
#[test]
fn labels_that_cannot_be_parsed_deny_every_decision() {
    let policy = r#"permit(principal, action in file_system::Action::"SafeIO", resource);"#;
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("test.cedar", policy, &schema).unwrap();
    let g = Gate::new(
        schema,
        policies,
        "alice",
        Recorder::Unaudited,
        Arc::default(),
    )
    .with_labels(Arc::new(LabelRules::unparsed("{\"rules\": 7}")));
    for resource in [file("/srv/app/x"), file("/etc/hosts")] {
        let d = g.authorize(&[Action::FsRead], &resource).unwrap_err();
        assert!(
            d.errors.iter().any(|e| e.contains("labels file")),
            "{resource}: {:?}",
            d.errors
        );
    }
}

#[test]
fn policies_decide_on_data_labels_and_purpose() {
    let policy = r#"
            permit(principal, action in file_system::Action::"SafeIO", resource);
            @id("phi-only-for-treatment")
            forbid(principal, action == file_system::Action::"read", resource)
            when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };
            @id("legal-hold")
            forbid(principal, action in [file_system::Action::"write", file_system::Action::"delete",
                                         file_system::Action::"move"], resource)
            when { resource.labels.legal_hold };
            @id("no-moves-into-held-data")
            forbid(principal, action == file_system::Action::"move", resource)
            when { context.destination.labels.legal_hold };
        "#;
    let chart = file("/srv/clinic/patients/42.txt");
    let nurse = labelled_gate(policy, agent_for("alice", "treatment"));
    assert!(nurse.authorize(&[Action::FsRead], &chart).is_ok());
    let billing = labelled_gate(policy, agent_for("alice", "billing"));
    let d = billing.authorize(&[Action::FsRead], &chart).unwrap_err();
    assert_eq!(d.forbidden_by, ["phi-only-for-treatment"]);
    // Unlabelled data is not touched by either forbid.
    assert!(billing
        .authorize(&[Action::FsRead], &file("/srv/app/x"))
        .is_ok());

    let held = file("/srv/legal/case-7/mail.eml");
    for action in [Action::FsWrite, Action::FsDelete] {
        let d = billing.authorize(&[action], &held).unwrap_err();
        assert_eq!(d.forbidden_by, ["legal-hold"], "{action}");
    }
    assert!(billing.authorize(&[Action::FsRead], &held).is_ok());
    let to = |p: &str| Context::Move {
        destination: AbsPath::parse(p).unwrap(),
    };
    let d = billing
        .authorize_in(&[Action::FsMove], &held, &to("/tmp/mail.eml"))
        .unwrap_err();
    assert_eq!(d.forbidden_by, ["legal-hold"]);
    let d = billing
        .authorize_in(
            &[Action::FsMove],
            &file("/tmp/x"),
            &to("/srv/legal/case-7/x"),
        )
        .unwrap_err();
    assert_eq!(d.forbidden_by, ["no-moves-into-held-data"]);
    assert!(billing
        .authorize_in(&[Action::FsMove], &file("/tmp/x"), &to("/tmp/y"))
        .is_ok());
}

#[test]
fn decisions_carry_the_labels_they_were_made_with_also_when_remembered() {
    let g = labelled_gate(
        r#"permit(principal, action, resource);"#,
        Caller::os_user("alice"),
    );
    let held = file("/srv/legal/case-1/a");
    for _ in 0..2 {
        let d = g.decide_remembered(Action::FsRead, &held, &Context::Empty);
        let labels = d.labels.expect("labelled");
        assert!(labels.legal_hold);
        assert_eq!(labels.jurisdiction.as_deref(), Some("EU"));
    }
    assert_eq!(
        g.decide(Action::FsRead, &file("/srv/other"), &Context::Empty)
            .labels,
        None
    );
}

#[test]
fn without_a_labels_file_everything_reads_as_unlabelled() {
    let g = gate(
        r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/") when {
                   resource.labels.classification == "unlabelled" && !resource.labels.legal_hold
                   && resource.labels.categories.isEmpty() && resource.labels.jurisdiction == "" };"#,
    );
    assert!(g
        .authorize(&[Action::FsRead], &file("/srv/legal/case-1/a"))
        .is_ok());
    assert!(g
        .authorize(
            &[Action::FsOpen],
            &Resource::Dir(AbsPath::parse("/srv").unwrap())
        )
        .is_ok());
}

/// A decision log that keeps the SDK call each decision names.
#[derive(Default)]
struct Calls(Mutex<Vec<Option<&'static str>>>);

impl DecisionLog for Arc<Calls> {
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .extend(entries.iter().map(|e| e.call));
        Ok(())
    }
}

#[test]
fn each_decision_names_the_call_being_served_and_a_nested_call_gives_it_back() {
    let calls = Arc::new(Calls::default());
    let g = gate_with(
        r#"permit(principal, action, resource);"#,
        Recorder::Log(Box::new(Arc::clone(&calls))),
        Arc::default(),
    );
    let ask = || {
        let _permit = g.authorize(&[Action::FsOpen], &file("/a")).unwrap();
    };
    ask();
    {
        let _walk = g.calling("RcDirHandle.find");
        ask();
        {
            // A callback's call, made while the walk is under way.
            let _wc = g.calling("wc");
            ask();
        }
        ask();
    }
    ask();
    assert_eq!(
        *calls.0.lock().unwrap(),
        [
            None,
            Some("RcDirHandle.find"),
            Some("wc"),
            Some("RcDirHandle.find"),
            None
        ]
    );
}
