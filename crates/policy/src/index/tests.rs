//! Slicing changes no decision: random policy sets, with conditions the index reads and
//! conditions it cannot, decided over the slice and over the whole set.

use std::sync::Arc;

use crate::action::Action;
use crate::gate::{Gate, Recorder};
use crate::identity::{Caller, Directory, Principal};
use crate::path::AbsPath;
use crate::policies::{Policies, Schema};
use crate::resource::{ProcessInfo, Resource};

/// A small deterministic generator (xorshift64*): the failing seed is printed, so a failure
/// can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const PRINCIPAL_SCOPES: &[&str] = &[
    "principal",
    "principal",
    r#"principal == User::"alice""#,
    r#"principal == User::"bob""#,
    r#"principal == Agent::"helper""#,
    r#"principal in Group::"ops""#,
    r#"principal in Group::"eng""#,
    "principal is User",
    "principal is Agent",
];

const ACTION_SCOPES: &[&str] = &[
    "action",
    r#"action == file_system::Action::"read""#,
    r#"action == file_system::Action::"open""#,
    r#"action in [file_system::Action::"read", file_system::Action::"write"]"#,
    r#"action in file_system::Action::"SafeIO""#,
    r#"action == systemd::Action::"restart""#,
    r#"action in [process_system::Action::"kill", systemd::Action::"status"]"#,
];

const RESOURCE_SCOPES: &[&str] = &[
    "resource",
    "resource",
    r#"resource in file_system::Dir::"/a""#,
    r#"resource in file_system::Dir::"/a/b""#,
    r#"resource == file_system::File::"/a/b/c""#,
    r#"resource == file_system::Dir::"/c""#,
    "resource is file_system::File",
    r#"resource is file_system::Dir in file_system::Dir::"/a""#,
    r#"resource == systemd::Service::"nginx.service""#,
    "resource is process_system::Process",
];

/// Conditions: the forms the index reads, and forms it must leave alone (disjunctions,
/// negations, other attributes, constants, tests that can err).
const CONDITIONS: &[&str] = &[
    r#"resource in file_system::Dir::"/a/b""#,
    r#"resource in file_system::Dir::"/c""#,
    r#"resource in [file_system::Dir::"/c", file_system::File::"/a/bx"]"#,
    r#"resource == file_system::File::"/c/d""#,
    r#"file_system::Dir::"/a" == resource"#,
    "resource is file_system::Dir",
    "resource is systemd::Service",
    r#"resource.path like "/a/*""#,
    r#"resource.path like "/a/b*""#,
    r#"resource.path like "/c*""#,
    r#"resource.path like "*b*""#,
    r#"resource.path like "a*""#,
    r#"resource.path == "/a/b/c""#,
    r#""/c/d" == resource.path"#,
    r#"resource has path && resource.path like "/a*""#,
    r#"action == file_system::Action::"read""#,
    r#"action in [file_system::Action::"open", systemd::Action::"restart"]"#,
    r#"action in file_system::Action::"SafeIO""#,
    r#"principal == User::"alice""#,
    r#"principal in Group::"ops""#,
    r#"principal in [Group::"eng", User::"bob"]"#,
    "principal is Agent",
    "true",
    "false",
    r#"!(resource in file_system::Dir::"/a")"#,
    r#"!(resource in file_system::Dir::"/a" || resource.path like "/c*")"#,
    r#"!!(resource in file_system::Dir::"/c")"#,
    r#"!(resource in file_system::Dir::"/a" && action == file_system::Action::"read")"#,
    r#"resource in file_system::Dir::"/a" || resource in file_system::Dir::"/c""#,
    r#"(resource in file_system::Dir::"/a/b" && principal is User) && action == file_system::Action::"open""#,
    r#"if resource is file_system::File then resource.path like "/a*" else false"#,
    r#"resource.name == "nginx.service""#,
    r#"context.purpose == """#,
    r#"resource.path like "/a/b/c""#,
];

fn policy(rng: &mut Rng) -> String {
    let effect = if rng.below(3) == 0 {
        "forbid"
    } else {
        "permit"
    };
    let mut text = format!(
        "{effect}({}, {}, {})",
        rng.pick(PRINCIPAL_SCOPES),
        rng.pick(ACTION_SCOPES),
        rng.pick(RESOURCE_SCOPES)
    );
    for _ in 0..rng.below(3) {
        let clause = if rng.below(3) == 0 { "unless" } else { "when" };
        let mut cond = rng.pick(CONDITIONS).to_owned();
        if rng.below(3) == 0 {
            cond = format!("({cond}) && ({})", rng.pick(CONDITIONS));
        }
        text.push_str(&format!(" {clause} {{ {cond} }}"));
    }
    text + ";\n"
}

fn resources() -> Vec<Resource> {
    let path = |p: &str| AbsPath::parse(p).unwrap();
    let mut out = Vec::new();
    for p in [
        "/", "/a", "/a/b", "/a/b/c", "/a/bx", "/a/b/x", "/c", "/c/d", "/cd", "/z",
    ] {
        out.push(Resource::File(path(p)));
        out.push(Resource::Dir(path(p)));
    }
    out.push(Resource::Service("nginx.service".to_owned()));
    out.push(Resource::Service("other.service".to_owned()));
    out.push(Resource::Process(ProcessInfo {
        pid: 7,
        id: "7".to_owned(),
        name: "nginx".to_owned(),
        username: "www".to_owned(),
        command: "nginx".to_owned(),
    }));
    out.push(Resource::Sysinfo);
    out
}

fn callers() -> Vec<Caller> {
    let agent = |agent: &str, user: &str| Caller {
        principal: Principal::Agent {
            agent: agent.to_owned(),
            on_behalf_of: user.to_owned(),
        },
        ..Caller::os_user(user)
    };
    vec![
        Caller::os_user("alice"),
        Caller::os_user("bob"),
        Caller::os_user("carol"),
        agent("helper", "alice"),
        agent("other", "bob"),
    ]
}

const ACTIONS: &[Action] = &[
    Action::FsOpen,
    Action::FsRead,
    Action::FsWrite,
    Action::FsStat,
    Action::ServiceRestart,
    Action::ServiceStatus,
    Action::ProcKill,
];

#[test]
fn sliced_decisions_equal_decisions_over_the_whole_set() {
    let directory = Directory::parse(
        r#"{"users": {"alice": {"groups": ["ops"]}, "bob": {"groups": []}},
            "groups": {"ops": {"groups": ["eng"]}, "eng": {}}}"#,
    )
    .unwrap();
    let resources = resources();
    let mut compared = 0;
    let mut permitted = 0;
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let text: String = (0..1 + rng.below(12)).map(|_| policy(&mut rng)).collect();
        for caller in callers() {
            let schema = Schema::tollgate().unwrap();
            let policies = Policies::unvalidated(&text, &schema);
            let gate = Gate::for_caller(
                schema,
                policies,
                caller.clone(),
                &directory,
                Recorder::Unaudited,
                Arc::default(),
            );
            for resource in &resources {
                for &action in ACTIONS {
                    let (sliced, whole) = gate.decide_sliced_and_whole(action, resource);
                    assert_eq!(
                        sliced, whole,
                        "seed {seed}: {action} on {resource:?} for {:?} under\n{text}",
                        caller.principal
                    );
                    compared += 1;
                    permitted += usize::from(whole.0);
                }
            }
        }
    }
    // The generator must reach both answers often, or the comparison proves little.
    assert!(
        permitted > compared / 20,
        "{permitted} of {compared} permitted"
    );
    assert!(
        permitted < compared * 19 / 20,
        "{permitted} of {compared} permitted"
    );
}

/// The index must actually leave out what conditions rule out, or it slices nothing.
#[test]
fn when_style_statements_are_sliced_by_their_conditions() {
    let schema = Schema::tollgate().unwrap();
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "permit(principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource) when {{ resource in file_system::Dir::\"/srv/app{i}\" }};\n"
        ));
        text.push_str(&format!(
            "permit(principal, action, resource) when {{ resource.path like \"/opt/p{i}/*\" && principal == User::\"u{i}\" }};\n"
        ));
    }
    let policies = Policies::unvalidated(&text, &schema);
    let gate = Gate::new(schema, policies, "u7", Recorder::Unaudited, Arc::default());
    let slice_len = |action, path: &str| {
        let resource = Resource::File(AbsPath::parse(path).unwrap());
        gate.slice(action, &resource)
            .unwrap()
            .map_or(0, |s| s.policies().count())
    };
    assert_eq!(slice_len(Action::FsRead, "/srv/app3/x.log"), 1);
    assert_eq!(slice_len(Action::FsWrite, "/srv/app3/x.log"), 0);
    // The prefix policy for u7 applies; the other principals' are filtered once per gate.
    assert_eq!(slice_len(Action::FsWrite, "/opt/p7/x"), 1);
    assert_eq!(slice_len(Action::FsWrite, "/opt/p8/x"), 0);
    assert_eq!(slice_len(Action::FsRead, "/elsewhere"), 0);
}
