//! `tollgate policy prove`, `policy diff` and the never-applying permits of `policy check`,
//! through the real binary and the real cvc5 (the Debian package `cvc5`). Every
//! counterexample a test sees is also put to `tollgate explain`, the gate's own answer, so a
//! refutation the gate would not bear out fails the test.

mod common;

use common::*;
use serde_json::Value;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// `tollgate policy prove POLICY --invariants INVARIANTS --json ...`: (exit, JSON, stderr).
    fn prove(&self, policy: &str, invariants: &str, extra: &[&str]) -> (i32, Value, String) {
        let p = self.write("policy.cedar", policy);
        let i = self.write("invariants.cedar", invariants);
        let mut args = vec!["policy", "prove", &p, "--invariants", &i, "--json"];
        args.extend_from_slice(extra);
        let (code, out, err) = tollgate_output(&args);
        let json = serde_json::from_str(&out).unwrap_or(Value::Null);
        (code, json, err)
    }

    /// The gate's decision on a counterexample, through `tollgate explain` with the host
    /// data the counterexample came with: "PERMIT" or "DENY".
    fn explain(&self, policy: &str, counterexample: &Value) -> String {
        let p = self.write("explained.cedar", policy);
        let mut request = serde_json::Map::new();
        for key in [
            "principal",
            "on_behalf_of",
            "purpose",
            "ticket",
            "action",
            "resource",
        ] {
            if let Some(v) = counterexample.get(key) {
                request.insert(key.into(), v.clone());
            }
        }
        let request = Value::Object(request).to_string();
        let mut args = vec![
            "explain".to_owned(),
            "--policy".to_owned(),
            p,
            "--request".to_owned(),
            request,
        ];
        if let Some(labels) = counterexample.get("labels") {
            args.push("--labels".into());
            args.push(self.write("labels.json", &labels.to_string()));
        }
        if let Some(directory) = counterexample.get("directory") {
            args.push("--directory".into());
            args.push(self.write("directory.json", &directory.to_string()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = tollgate_output(&args);
        assert_eq!(code, 0, "explain failed: {err}");
        out.split_whitespace().next().unwrap_or_default().to_owned()
    }
}

fn result<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {json:#}"))
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id} in {json:#}"))
}

/// The counterexample of refuted invariant `id`, after checking the gate permits it.
fn refuted(f: &Files, policy: &str, json: &Value, id: &str) -> Value {
    let r = result(json, id);
    assert_eq!(r["result"], "refuted", "{id}: {json:#}");
    assert_eq!(r["decision"]["permitted"], true, "{r:#}");
    let cex = r["counterexample"].clone();
    assert_eq!(
        f.explain(policy, &cex),
        "PERMIT",
        "the gate does not permit {cex:#}"
    );
    cex
}

fn path_of(cex: &Value) -> String {
    let resource = cex["resource"].as_str().unwrap();
    let start = resource.find("::\"").unwrap() + 3;
    resource[start..resource.len() - 1].to_owned()
}

const NO_ETC_WRITES: &str = r#"
@id("no-writes-under-etc") @invariant("never")
permit(principal, action in [file_system::Action::"write", file_system::Action::"create",
                             file_system::Action::"delete", file_system::Action::"move"],
       resource in file_system::Dir::"/etc");
"#;

const PHI_FOR_TREATMENT: &str = r#"
@id("phi-only-for-treatment") @invariant("never")
permit(principal, action == file_system::Action::"read", resource)
when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };
"#;

const SECRETS_HOLD: &str = r#"
@id("secrets-stay-forbidden") @invariant("holds") @policy("no-secrets")
forbid(principal, action, resource);
"#;

/// A policy that keeps all three invariants.
const KEEPS_THEM: &str = r#"
@id("admin-all")
permit(principal in Group::"admins", action in file_system::Action::"SafeIO", resource in file_system::Dir::"/srv");

@id("read-etc")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"],
       resource in file_system::Dir::"/etc");

@id("write-etc-lookalikes")
permit(principal, action == file_system::Action::"write", resource)
when { resource.path like "/etcx/*" || resource.path like "/etc.d/*" || resource.path == "/etc2" };

@id("scratch")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/tmp");

@id("agents-write-logs")
permit(principal is Agent, action in [file_system::Action::"write", file_system::Action::"create"],
       resource in file_system::Dir::"/var/log/app")
when { principal.on_behalf_of in Group::"ops" };

@id("records")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv/records");

@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"/srv/secrets");

@id("phi-needs-treatment")
forbid(principal, action == file_system::Action::"read", resource)
when { resource.labels.categories.contains("phi") }
unless { context.purpose == "treatment" };
"#;

fn all_three() -> String {
    format!("{NO_ETC_WRITES}\n{PHI_FOR_TREATMENT}\n{SECRETS_HOLD}")
}

#[test]
fn each_example_invariant_is_proved_on_a_policy_that_keeps_it() {
    let f = Files::new();
    let (code, json, err) = f.prove(KEEPS_THEM, &all_three(), &[]);
    assert_eq!(code, 0, "{json:#} {err}");
    for id in [
        "no-writes-under-etc",
        "phi-only-for-treatment",
        "secrets-stay-forbidden",
    ] {
        assert_eq!(result(&json, id)["result"], "proved", "{id}: {json:#}");
    }
    assert_eq!(json["proved"], 3);
}

#[test]
fn human_output_says_proved_per_invariant_and_sums_up() {
    let f = Files::new();
    let p = f.write("policy.cedar", KEEPS_THEM);
    let i = f.write("invariants.cedar", &all_three());
    let (code, out, err) = tollgate_output(&["policy", "prove", &p, "--invariants", &i]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("proved   no-writes-under-etc (never)"),
        "{out}"
    );
    assert!(
        out.contains("3 invariants: 3 proved, 0 refuted, 0 unknown"),
        "{out}"
    );
}

/// Paths are modelled as the gate makes them: a directory whose name starts with `/etc`
/// is not below `/etc`, `/tmp/x` is not in `/etc`, and `/etc/` or `/etc/../x` are never
/// asked. Without the model each of these would be a spurious counterexample.
#[test]
fn lookalike_directories_and_unnormalized_paths_do_not_refute() {
    let f = Files::new();
    let policy = r#"
@id("lookalikes")
permit(principal, action in [file_system::Action::"write", file_system::Action::"delete"], resource)
when { resource.path like "/etcetera/*" || resource.path like "/et" || resource.path like "/etc*x" && resource.path like "/etcx*" };
@id("tmp")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/tmp");
@id("no-trailing")
permit(principal, action == file_system::Action::"create", resource)
when { resource.path like "/etc/" || resource.path like "/etc//*" || resource.path like "/x/../etc/*" || resource.path like "/etc/./*" };
"#;
    let (code, json, err) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 0, "{json:#} {err}");
    assert_eq!(result(&json, "no-writes-under-etc")["result"], "proved");
}

#[test]
fn a_write_permit_on_the_root_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("write-anywhere")
permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/");
"#;
    let (code, json, err) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#} {err}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    assert_eq!(cex["action"], r#"file_system::Action::"write""#);
    assert!(path_of(&cex).starts_with("/etc/"), "{cex:#}");
    let r = result(&json, "no-writes-under-etc");
    assert_eq!(r["decision"]["policies"][0], "write-anywhere", "{r:#}");
}

#[test]
fn deleting_etc_itself_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("delete-etc")
permit(principal, action == file_system::Action::"delete", resource == file_system::Dir::"/etc");
"#;
    let (code, json, _) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    assert_eq!(cex["resource"], r#"file_system::Dir::"/etc""#, "{cex:#}");
}

#[test]
fn the_safeio_group_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("app-config")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/etc/app");
"#;
    let (code, json, _) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    assert!(path_of(&cex).starts_with("/etc/app"), "{cex:#}");
    let action = cex["action"].as_str().unwrap();
    assert!(
        ["write", "create", "delete", "move"]
            .iter()
            .any(|a| action.ends_with(&format!("\"{a}\""))),
        "{cex:#}"
    );
}

#[test]
fn a_path_pattern_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("create-by-pattern")
permit(principal, action == file_system::Action::"create", resource)
when { resource.path like "/et*.conf" };
"#;
    let (code, json, _) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    let path = path_of(&cex);
    assert!(
        path.starts_with("/etc/") && path.ends_with(".conf"),
        "{cex:#}"
    );
}

#[test]
fn an_agent_acting_for_a_group_member_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("agents-of-admins")
permit(principal is Agent, action == file_system::Action::"move", resource in file_system::Dir::"/etc/cron.d")
when { principal.on_behalf_of in Group::"admins" && context.ticket like "CHG-*" };
"#;
    let (code, json, _) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    assert!(
        cex["principal"].as_str().unwrap().starts_with("Agent::"),
        "{cex:#}"
    );
    let user = cex["on_behalf_of"].as_str().unwrap();
    assert_eq!(
        cex["directory"]["users"][user]["groups"][0], "admins",
        "{cex:#}"
    );
    assert!(
        cex["ticket"].as_str().unwrap().starts_with("CHG-"),
        "{cex:#}"
    );
    assert!(
        cex["destination"].as_str().unwrap().starts_with('/'),
        "{cex:#}"
    );
}

#[test]
fn a_forbid_that_does_not_cover_every_action_refutes_no_writes_under_etc() {
    let f = Files::new();
    let policy = r#"
@id("srv")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"/");
@id("no-etc")
forbid(principal, action in [file_system::Action::"write", file_system::Action::"create", file_system::Action::"delete"],
       resource in file_system::Dir::"/etc");
"#;
    let (code, json, _) = f.prove(policy, NO_ETC_WRITES, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, policy, &json, "no-writes-under-etc");
    assert_eq!(cex["action"], r#"file_system::Action::"move""#, "{cex:#}");
}

const RECORDS: &str = r#"
@id("read-records")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"],
       resource in file_system::Dir::"/srv/records");
"#;

#[test]
fn a_purpose_pattern_refutes_phi_only_for_treatment() {
    let f = Files::new();
    let policy = format!(
        r#"{RECORDS}
@id("phi-needs-treatment")
forbid(principal, action == file_system::Action::"read", resource)
when {{ resource.labels.categories.contains("phi") }}
unless {{ context.purpose like "treat*" }};
"#
    );
    let (code, json, _) = f.prove(&policy, PHI_FOR_TREATMENT, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, &policy, &json, "phi-only-for-treatment");
    let purpose = cex["purpose"].as_str().unwrap();
    assert!(
        purpose.starts_with("treat") && purpose != "treatment",
        "{cex:#}"
    );
    let rule = &cex["labels"]["rules"][0];
    assert_eq!(rule["categories"][0], "phi", "{cex:#}");
    assert_eq!(rule["paths"][0].as_str().unwrap(), path_of(&cex), "{cex:#}");
}

#[test]
fn a_forbid_limited_to_one_directory_refutes_phi_only_for_treatment() {
    let f = Files::new();
    let policy = format!(
        r#"{RECORDS}
@id("archive")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv/archive");
@id("phi-needs-treatment")
forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv/records")
when {{ resource.labels.categories.contains("phi") && context.purpose != "treatment" }};
"#
    );
    let (code, json, _) = f.prove(&policy, PHI_FOR_TREATMENT, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, &policy, &json, "phi-only-for-treatment");
    assert!(path_of(&cex).starts_with("/srv/archive"), "{cex:#}");
}

#[test]
fn an_exception_for_a_group_refutes_phi_only_for_treatment() {
    let f = Files::new();
    let policy = format!(
        r#"{RECORDS}
@id("phi-needs-treatment")
forbid(principal, action == file_system::Action::"read", resource)
when {{ resource.labels.categories.contains("phi") }}
unless {{ context.purpose == "treatment" || principal in Group::"researchers" }};
"#
    );
    let (code, json, _) = f.prove(&policy, PHI_FOR_TREATMENT, &[]);
    assert_eq!(code, 1, "{json:#}");
    let cex = refuted(&f, &policy, &json, "phi-only-for-treatment");
    assert_ne!(cex["purpose"], "treatment");
    let user = cex["principal"]
        .as_str()
        .unwrap()
        .trim_start_matches("User::\"")
        .trim_end_matches('"')
        .to_owned();
    assert_eq!(
        cex["directory"]["users"][&user]["groups"][0], "researchers",
        "{cex:#}"
    );
}

const RUN_TOOLS: &str = r#"
@id("run-tools")
permit(principal, action in [file_system::Action::"execute", file_system::Action::"read"],
       resource in file_system::Dir::"/opt/tools");
"#;

#[test]
fn a_forbid_whose_condition_can_error_is_overridden() {
    let f = Files::new();
    // The addition overflows for a uid of 808 or more: the forbid is then skipped, and the
    // permit decides.
    let policy = format!(
        r#"{RUN_TOOLS}
@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"/opt/tools/secret")
when {{ context has user && context.user.uid + 9223372036854775000 > 0 }};
"#
    );
    let (code, json, _) = f.prove(&policy, SECRETS_HOLD, &[]);
    assert_eq!(code, 1, "{json:#}");
    let r = result(&json, "secrets-stay-forbidden");
    assert_eq!(r["result"], "refuted", "{r:#}");
    let cex = &r["counterexample"];
    assert_eq!(
        cex["action"], r#"file_system::Action::"execute""#,
        "{cex:#}"
    );
    assert!(path_of(cex).starts_with("/opt/tools/secret/"), "{cex:#}");
    assert!(
        cex["execute"]["user"]["id"].as_u64().unwrap() >= 808,
        "{cex:#}"
    );
    assert_eq!(r["decision"]["permitted"], true);
    assert_eq!(r["decision"]["policies"][0], "run-tools");
    let errors = r["decision"]["errors"].to_string();
    assert!(errors.contains("overflow"), "{r:#}");
}

#[test]
fn a_forbid_that_cannot_error_holds() {
    let f = Files::new();
    let policy = format!(
        r#"{RUN_TOOLS}
@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"/opt/tools/secret")
when {{ !(context has user) || context.user.uid != 0 }};
"#
    );
    let (code, json, _) = f.prove(&policy, SECRETS_HOLD, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(result(&json, "secrets-stay-forbidden")["result"], "proved");
}

#[test]
fn always_is_refuted_by_a_forbid_in_the_way() {
    let f = Files::new();
    let policy = r#"
@id("ops-logs")
permit(principal in Group::"ops", action == file_system::Action::"read", resource in file_system::Dir::"/var/log");
@id("no-restricted")
forbid(principal, action, resource) when { resource has labels && resource.labels.classification == "restricted" };
"#;
    let invariants = r#"
@id("ops-read-logs") @invariant("always")
permit(principal in Group::"ops", action == file_system::Action::"read", resource in file_system::Dir::"/var/log/app");
"#;
    let (code, json, _) = f.prove(policy, invariants, &[]);
    assert_eq!(code, 1, "{json:#}");
    let r = result(&json, "ops-read-logs");
    assert_eq!(r["result"], "refuted", "{r:#}");
    assert_eq!(r["decision"]["permitted"], false);
    assert_eq!(r["decision"]["policies"][0], "no-restricted", "{r:#}");
    let cex = &r["counterexample"];
    assert_eq!(f.explain(policy, cex), "DENY", "{cex:#}");
    assert_eq!(
        cex["labels"]["rules"][0]["classification"], "restricted",
        "{cex:#}"
    );
    // Without the forbid it holds.
    let (code, json, _) = f.prove(
        "@id(\"ops-logs\")\npermit(principal in Group::\"ops\", action == file_system::Action::\"read\", resource in file_system::Dir::\"/var/log\");",
        invariants,
        &[],
    );
    assert_eq!(code, 0, "{json:#}");
}

/// Patterns with many wildcards over three strings: the solver takes about a second to find
/// the counterexample (cvc5 1.0.3), a thousand times the millisecond it is given.
const HARD: &str = r#"
@id("p")
permit(principal, action == file_system::Action::"read", resource)
when { resource.path like "*a*b*c*d*e*f*g*" && context.purpose like "*x*y*z*w*" && context.ticket like "*1*2*3*4*" };
@id("f1")
forbid(principal, action, resource) when { resource has path && resource.path like "*g*f*e*d*c*b*a*" };
@id("f2")
forbid(principal, action, resource) when { context.purpose like "*w*z*y*x*" && context.ticket like "*4*3*2*1*" };
@id("f3")
forbid(principal, action, resource) when { resource has path && resource.path like "*a*a*b*b*c*c*" && context.ticket like "*1*1*" };
"#;

const HARD_INVARIANT: &str = r#"
@id("hard") @invariant("never")
permit(principal, action == file_system::Action::"read", resource)
when { resource.path like "*g*a*" && resource.path like "*b*g*" && context.purpose like "*w*x*" && !(context.ticket like "*4*1*") };
"#;

#[test]
fn a_tiny_timeout_leaves_a_hard_invariant_unknown_with_its_own_exit_code() {
    let f = Files::new();
    let (code, json, err) = f.prove(HARD, HARD_INVARIANT, &["--timeout", "0.001"]);
    assert_eq!(code, 8, "{json:#} {err}");
    let r = result(&json, "hard");
    assert_eq!(r["result"], "unknown", "{r:#}");
    assert!(
        r["reason"].as_str().unwrap().contains("time limit"),
        "{r:#}"
    );
    // With time enough, it is refuted.
    let (code, json, err) = f.prove(HARD, HARD_INVARIANT, &["--timeout", "60"]);
    assert_eq!(code, 1, "{json:#} {err}");
    refuted(&f, HARD, &json, "hard");
}

#[test]
fn invalid_invariants_files_are_errors_with_their_place() {
    let f = Files::new();
    for (invariants, says) in [
        (
            "@id(\"x\")\npermit(principal, action, resource);",
            "has no @invariant",
        ),
        (
            "@invariant(\"never\")\npermit(principal, action, resource);",
            "needs an @id",
        ),
        (
            "@id(\"x\") @invariant(\"sometimes\")\npermit(principal, action, resource);",
            "is not one of",
        ),
        (
            "@id(\"x\") @invariant(\"holds\")\nforbid(principal, action, resource);",
            "needs @policy",
        ),
        (
            "@id(\"x\") @invariant(\"holds\") @policy(\"nope\")\nforbid(principal, action, resource);",
            "has no policy @id(\"nope\")",
        ),
        (
            "@id(\"x\") @invariant(\"never\")\npermit(principal, action, resource in file_system::Dir::\"/etc/\");",
            "can never match",
        ),
        (
            "@id(\"x\") @invariant(\"never\")\npermit(principal, action == file_system::Action::\"wirte\", resource);",
            "wirte",
        ),
    ] {
        let (code, _, err) = f.prove(KEEPS_THEM, invariants, &[]);
        assert_eq!(code, 3, "{invariants}: {err}");
        assert!(err.contains(says), "{invariants}: {err}");
    }
}

fn without_cvc5(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(binary())
        .args(args)
        .env("CVC5", "/nonexistent/cvc5")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_cvc5_prove_and_diff_fail_closed_and_check_still_checks() {
    let f = Files::new();
    let p = f.write("policy.cedar", KEEPS_THEM);
    let i = f.write("invariants.cedar", &all_three());
    for args in [
        vec!["policy", "prove", &p, "--invariants", &i],
        vec!["policy", "diff", &p, &p],
    ] {
        let (code, out, err) = without_cvc5(&args);
        assert_eq!(code, 3, "{args:?}: {out} {err}");
        assert!(err.contains("install the cvc5 package"), "{err}");
        assert!(
            !out.contains("proved") && !out.contains("equivalent"),
            "{out}"
        );
    }
    // No cvc5 on the PATH either, and no CVC5.
    let out = std::process::Command::new(binary())
        .args(["policy", "prove", &p, "--invariants", &i])
        .env_remove("CVC5")
        .env("PATH", f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("install the cvc5 package"));
    let (code, out, err) = without_cvc5(&["policy", "check", &p]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("valid against the schema"), "{out}");
    assert!(err.contains("cvc5 not found"), "{err}");
}

const OLD: &str = r#"
@id("read-logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/var/log");
@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"/var/log/secret");
"#;

#[test]
fn diff_of_policies_that_decide_alike_is_equivalent() {
    let f = Files::new();
    let old = f.write("old.cedar", OLD);
    // The same decisions, written otherwise: two permits for one, `unless` for `when`.
    let new = f.write(
        "new.cedar",
        r#"
@id("open-logs")
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"/var/log");
@id("read-logs")
permit(principal, action == file_system::Action::"read", resource) when { resource in file_system::Dir::"/var/log" };
@id("no-secrets")
forbid(principal, action, resource) unless { !(resource in file_system::Dir::"/var/log/secret") };
"#,
    );
    let (code, out, err) = tollgate_output(&["policy", "diff", &old, &new]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("equivalent"), "{out}");
}

#[test]
fn diff_lists_what_each_side_permits_with_counterexamples() {
    let f = Files::new();
    let old = f.write("old.cedar", OLD);
    let new_text = r#"
@id("read-logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/var/log/app");
@id("write-spool")
permit(principal in Group::"mail", action == file_system::Action::"write", resource in file_system::Dir::"/var/spool");
@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"/var/log/secret");
"#;
    let new = f.write("new.cedar", new_text);
    let (code, out, err) = tollgate_output(&["policy", "diff", &old, &new, "--json"]);
    assert_eq!(code, 1, "{out} {err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let diffs = json["differences"].as_array().unwrap();
    let find = |side: &str, action: &str, ty: &str| {
        diffs
            .iter()
            .find(|d| {
                d["permitted_by"] == side
                    && d["action"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("\"{action}\""))
                    && d["resource_type"] == ty
            })
            .unwrap_or_else(|| panic!("no {side} {action} {ty} in {json:#}"))
    };
    let lost = find("old", "read", "file_system::File");
    let path = path_of(&lost["counterexample"]);
    assert!(
        path.starts_with("/var/log/")
            && !path.starts_with("/var/log/app/")
            && !path.starts_with("/var/log/secret"),
        "{lost:#}"
    );
    assert_eq!(f.explain(OLD, &lost["counterexample"]), "PERMIT");
    assert_eq!(f.explain(new_text, &lost["counterexample"]), "DENY");
    let gained = find("new", "write", "file_system::File");
    assert!(path_of(&gained["counterexample"]).starts_with("/var/spool/"));
    assert_eq!(f.explain(new_text, &gained["counterexample"]), "PERMIT");
    assert_eq!(f.explain(OLD, &gained["counterexample"]), "DENY");
    // Nothing about the secrets, which both forbid, nor about actions neither permits.
    assert!(!out.contains("delete"), "{out}");
    // The human form names each kind once, then its counterexamples.
    let (code, out, _) = tollgate_output(&["policy", "diff", &old, &new]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            r#"file_system::Action::"write" on file_system::File: NEW permits, OLD does not"#
        ),
        "{out}"
    );
    assert!(out.contains("NEW: permitted by write-spool"), "{out}");
}

#[test]
fn check_warns_of_permits_that_can_never_apply() {
    let f = Files::new();
    let p = f.write(
        "policy.cedar",
        r#"
@id("read-etc-app")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/etc/app");
@id("no-etc")
forbid(principal, action, resource in file_system::Dir::"/etc");
@id("two-places-at-once")
permit(principal, action == file_system::Action::"read", resource)
when { resource.path like "/srv/*" && resource.path like "/var/*" };
@id("in-tmp-and-etc")
permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/tmp")
when { resource in file_system::Dir::"/etc" };
@id("reachable")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv");
@id("spool")
permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/var/spool")
when { context.purpose == "mail" };
@id("users-not-for-mail")
forbid(principal is User, action == file_system::Action::"write", resource) when { context.purpose == "mail" };
@id("no-agents-write")
forbid(principal is Agent, action == file_system::Action::"write", resource);
"#,
    );
    let (code, out, err) = tollgate_output(&["policy", "check", &p]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("warning: policy read-etc-app: can never apply: every request it matches is forbidden by no-etc"),
        "{out}"
    );
    assert!(
        out.contains("warning: policy two-places-at-once: can never apply: no request satisfies its scope and conditions"),
        "{out}"
    );
    // A file is below exactly the directories above its path, never two unrelated ones.
    assert!(
        out.contains("warning: policy in-tmp-and-etc: can never apply: no request satisfies"),
        "{out}"
    );
    assert!(
        out.contains("warning: policy spool: can never apply: every request it matches is forbidden by users-not-for-mail and no-agents-write together"),
        "{out}"
    );
    assert!(!out.contains("policy reachable"), "{out}");
    assert!(out.contains("4 warnings"), "{out}");
    let (code, _, _) = tollgate_output(&["policy", "check", &p, "--strict"]);
    assert_eq!(code, 3);
}

/// The gate releases a run's answer unless a forbid applies; the proofs know it.
#[test]
fn the_answer_is_released_unless_a_forbid_applies() {
    let f = Files::new();
    let invariant = r#"
@id("contractors-get-no-answers") @invariant("never")
permit(principal is Agent, action == output::Action::"release", resource)
when { principal.on_behalf_of in Group::"contractors" };
"#;
    let reads = r#"
@id("read")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv");
"#;
    let (code, json, err) = f.prove(reads, invariant, &[]);
    assert_eq!(code, 1, "{json:#} {err}");
    let r = result(&json, "contractors-get-no-answers");
    assert_eq!(r["result"], "refuted", "{r:#}");
    assert_eq!(r["decision"]["permitted"], true, "{r:#}");
    let cex = &r["counterexample"];
    assert_eq!(cex["action"], r#"output::Action::"release""#, "{cex:#}");
    let user = cex["on_behalf_of"].as_str().unwrap();
    assert_eq!(
        cex["directory"]["users"][user]["groups"][0], "contractors",
        "{cex:#}"
    );
    let forbidden = format!(
        r#"{reads}
@id("no-answers-for-contractors")
forbid(principal is Agent, action == output::Action::"release", resource)
when {{ principal.on_behalf_of in Group::"contractors" }};
"#
    );
    let (code, json, err) = f.prove(&forbidden, invariant, &[]);
    assert_eq!(code, 0, "{json:#} {err}");
}
