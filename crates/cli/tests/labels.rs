//! Data labels end to end: the host config names a labels file, policies decide on
//! `resource.labels`, and the audit trail records the labels of what was touched.

mod common;

use common::*;
use serde_json::{json, Value};

const POLICY: &str = r#"
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");
@id("legal-hold")
forbid(principal, action in [file_system::Action::"write", file_system::Action::"delete",
                             file_system::Action::"move"], resource)
when { resource.labels.legal_hold };
@id("phi-for-treatment-only")
forbid(principal, action in [file_system::Action::"read", file_system::Action::"redacted_read"],
       resource)
when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };
"#;

/// A case under legal hold, a clinic directory of health data, and an application log.
fn labelled(s: &Sandbox) -> String {
    s.write("legal/case-7/mail.eml", "From: counsel\n");
    s.write("clinic/chart.txt", "blood type 0+\n");
    s.write("app/app.log", "started\n");
    let root = s.path("");
    let labels = s.audit.path().join("labels.json");
    std::fs::write(
        &labels,
        json!({"rules": [
            {"paths": [format!("{root}/legal/case-*")], "legal_hold": true,
             "jurisdiction": "EU", "retention": "P10Y"},
            {"paths": [format!("{root}/clinic")], "classification": "restricted",
             "categories": ["phi"]},
        ]})
        .to_string(),
    )
    .unwrap();
    labels.display().to_string()
}

const SCRIPT: &str = r#"
let out = #{ log: cat("{ROOT}/app/app.log"), held: cat("{ROOT}/legal/case-7/mail.eml") };
try { rm("{ROOT}/legal/case-7/mail.eml"); out.rm = "removed"; } catch (e) { out.rm = e.kind; }
try { mv("{ROOT}/legal/case-7/mail.eml", "{ROOT}/app/x"); out.mv = "moved"; } catch (e) { out.mv = e.kind; }
try { cat("{ROOT}/clinic/chart.txt"); out.chart = "read"; } catch (e) { out.chart = e.kind; }
out
"#;

#[test]
fn policies_see_labels_from_the_host_labels_file_and_the_audit_trail_records_them() {
    let s = Sandbox::new();
    let labels = labelled(&s);
    let cfg = s.config(&json!({ "labels": labels }));
    let r = s.run_with(POLICY, SCRIPT, &["--config", &cfg]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["log"], "started\n");
    assert_eq!(
        out["held"], "From: counsel\n",
        "a hold forbids changes, not reads"
    );
    assert_eq!(out["rm"], "PermissionDenied");
    assert_eq!(out["mv"], "PermissionDenied");
    assert_eq!(out["chart"], "PermissionDenied");
    assert!(exists(&s.path("legal/case-7/mail.eml")));

    let records = s.records();
    // The start record names the labels file the run decided with.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(&labels).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(records[0]["kind"], "run_start");
    assert_eq!(records[0]["host_files"], json!({ "labels_sha256": hex }));
    let held = s.path("legal/case-7/mail.eml");
    let delete = records
        .iter()
        .find(|r| {
            r["resource_id"] == held.as_str() && r["action"].as_str().unwrap().contains("delete")
        })
        .expect("the denied delete is recorded");
    assert_eq!(delete["decision"], "deny");
    assert_eq!(delete["policies"], json!(["legal-hold"]));
    assert_eq!(
        delete["labels"],
        json!({"classification": "unlabelled", "categories": [], "jurisdiction": "EU",
               "legal_hold": true, "retention": "P10Y"})
    );
    let chart = records
        .iter()
        .find(|r| {
            r["resource_id"] == s.path("clinic/chart.txt").as_str() && r["decision"] == "deny"
        })
        .expect("the denied read is recorded");
    assert_eq!(chart["labels"]["categories"], json!(["phi"]));
    assert_eq!(chart["labels"]["classification"], "restricted");
    // Unlabelled files carry no labels field: records stay as small as before.
    let log = records
        .iter()
        .find(|r| r["resource_id"] == s.path("app/app.log").as_str())
        .unwrap();
    assert!(log.get("labels").is_none(), "{log}");

    let (code, human, err) = s.audit(&["show", "--dir", &s.audit_dir(), "--decision", "deny"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        human.contains("[unlabelled jurisdiction=EU legal-hold]"),
        "{human}"
    );
    assert!(human.contains("[restricted phi]"), "{human}");
}

#[test]
fn without_the_labels_file_the_same_policy_sees_nothing_labelled() {
    let s = Sandbox::new();
    labelled(&s);
    let r = s.run(POLICY, SCRIPT);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["rm"], "removed");
    assert_eq!(out["chart"], "read");
}

#[test]
fn a_labels_file_that_does_not_load_stops_the_run_before_it_starts() {
    let s = Sandbox::new();
    let marker = s.path("started");
    let script = format!(r#"write("{marker}", "x")"#);
    let broken = s.audit.path().join("labels.json");
    for (text, why) in [
        (
            r#"{"rules": [{"paths": ["relative/x"], "legal_hold": true}]}"#,
            "not absolute",
        ),
        (
            r#"{"rules": [{"paths": ["/x"], "legal_hold": "yes"}]}"#,
            "invalid type",
        ),
        ("{", "EOF"),
    ] {
        std::fs::write(&broken, text).unwrap();
        let cfg = s.config(&json!({ "labels": broken }));
        let r = s.run_with(POLICY, &script, &["--config", &cfg]);
        assert_ne!(r.code, 0);
        assert_eq!(r.error_type(), "VALIDATION_EXCEPTION", "{:#}", r.json);
        assert!(
            r.message().contains("labels.json") && r.message().contains(why),
            "{}",
            r.message()
        );
        assert!(!exists(&marker), "the script ran");
    }
    let cfg = s.config(&json!({ "labels": s.audit.path().join("missing.json") }));
    let r = s.run_with(POLICY, &script, &["--config", &cfg]);
    assert!(r.message().contains("missing.json"), "{}", r.message());
    assert!(!exists(&marker));
}

#[test]
fn policy_test_and_explain_take_the_labels_file() {
    let s = Sandbox::new();
    let labels = labelled(&s);
    let policy = s.audit.path().join("policy.cedar");
    std::fs::write(&policy, POLICY.replace("{ROOT}", &s.path(""))).unwrap();
    let held = s.path("legal/case-7/mail.eml");
    let chart = s.path("clinic/chart.txt");
    let cases = s.audit.path().join("cases.json");
    let case = |action: &str, path: &str, purpose: &str, expect: &str| {
        json!({"principal": "Agent::\"ops\"", "on_behalf_of": "alice", "purpose": purpose,
               "action": format!("file_system::Action::\"{action}\""),
               "resource": format!("file_system::File::\"{path}\""), "expect": expect})
    };
    std::fs::write(
        &cases,
        json!([
            case("delete", &held, "cleanup", "deny"),
            case("read", &held, "cleanup", "permit"),
            case("read", &chart, "billing", "deny"),
            case("read", &chart, "treatment", "permit"),
        ])
        .to_string(),
    )
    .unwrap();
    let (p, c) = (policy.display().to_string(), cases.display().to_string());
    let (code, out, err) = tollgate_output(&["policy", "test", &p, &c, "--labels", &labels]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 passed, 0 failed"), "{out}");
    // Without the labels the held file is deletable, so that case fails.
    let (code, out, _) = tollgate_output(&["policy", "test", &p, &c]);
    assert_eq!(code, 1);
    assert!(out.contains("2 passed, 2 failed"), "{out}");

    let request = case("delete", &held, "cleanup", "deny").to_string();
    let (code, out, err) = tollgate_output(&[
        "explain",
        "--policy",
        &p,
        "--request",
        &request,
        "--labels",
        &labels,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("DENY"), "{out}");
    assert!(out.contains(r#""legal_hold":true"#), "{out}");
    assert!(out.contains("forbid legal-hold: applies"), "{out}");
}
