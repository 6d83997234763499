//! The README's worked example of the data layer (`examples/data-layer`), run as shipped
//! except that its fixed directories under /tmp are moved into a temp directory.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data-layer")
        .join(file)
}

/// The example's text with its directories moved under `root`.
fn moved(file: &str, root: &str) -> String {
    std::fs::read_to_string(example(file))
        .unwrap()
        .replace("/tmp/tollgate-example-host", &format!("{root}/host"))
        .replace("/tmp/tollgate-example", &format!("{root}/data"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_oncall_agent_sees_the_log_redacted_is_denied_held_data_and_the_audit_trail_shows_it() {
    let s = Sandbox::new();
    let root = s.path("");
    copy_tree(&example("data"), &s.root().join("data"));
    std::fs::create_dir_all(s.root().join("host")).unwrap();
    for file in [
        "config.json",
        "labels.json",
        "directory.json",
        "issuer.jwks",
    ] {
        std::fs::write(s.root().join("host").join(file), moved(file, &root)).unwrap();
    }
    let policy = s.audit.path().join("incident.cedar");
    std::fs::write(&policy, moved("incident.cedar", &root)).unwrap();
    let script = moved("incident.rhai", &root);
    let token = format!("@{}", example("oncall.jwt").display());
    let config = format!("{root}/host/config.json");
    let args: Vec<String> = [
        "run",
        "-",
        "--policy",
        policy.to_str().unwrap(),
        "--token",
        &token,
        "--config",
        &config,
        "--audit-log",
        &s.audit_dir(),
    ]
    .map(str::to_owned)
    .to_vec();
    let r = run_binary_env(&args, &script, &[("TOLLGATE_STATE_DIR", &s.state_dir())]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(
        out["errors"],
        json!([
            "2026-11-30T21:02:15Z ERROR payment declined card=[CARD] customer=[EMAIL]",
            "2026-11-30T21:02:16Z ERROR payment gateway timeout peer=[IPV4] after=30s",
            "2026-11-30T21:04:02Z ERROR payment gateway timeout peer=[IPV4] after=30s",
        ])
    );
    assert_eq!(
        out["held_orders"],
        json!({"denied_by": ["legal-hold-is-for-legal"]})
    );

    let records = s.records();
    let start = &records[0];
    assert_eq!(start["kind"], "run_start");
    assert_eq!(start["principal"], "Agent::\"ops-agent\"");
    assert_eq!(start["on_behalf_of"], "User::\"alice\"");
    assert_eq!(start["ticket"], "INC-2291");
    let log = format!("{root}/data/app/checkout.log");
    let read = records
        .iter()
        .find(|r| {
            r["resource_id"] == log.as_str() && r["action"] == "file_system::Action::\"read\""
        })
        .unwrap();
    assert_eq!(read["decision"], "deny");
    assert_eq!(read["policies"], json!(["pii-is-read-redacted"]));
    assert_eq!(read["labels"]["categories"], json!(["pci", "pii"]));
    let redacted = records
        .iter()
        .find(|r| r["action"] == "file_system::Action::\"redacted_read\"")
        .unwrap();
    assert_eq!(redacted["decision"], "permit");
    assert_eq!(redacted["purpose"], "incident-response");
    let held = records
        .iter()
        .find(|r| r["labels"]["legal_hold"] == true)
        .unwrap();
    assert_eq!(held["decision"], "deny");
    assert_eq!(held["on_behalf_of"], "User::\"alice\"");
    assert_eq!(held["policies"], json!(["legal-hold-is-for-legal"]));
    // explain replays the denial from its record, with the host's labels and directory.
    let seq = held["seq"].to_string();
    let (code, why, err) = tollgate_output(&[
        "explain",
        "--policy",
        policy.to_str().unwrap(),
        "--record",
        &seq,
        "--audit-log",
        &s.audit_dir(),
        "--labels",
        &format!("{root}/host/labels.json"),
        "--directory",
        &format!("{root}/host/directory.json"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(why.starts_with("DENY"), "{why}");
    assert!(
        why.contains("forbid legal-hold-is-for-legal: applies"),
        "{why}"
    );
    assert!(why.contains("purpose \"incident-response\""), "{why}");

    let end = records.last().unwrap();
    assert_eq!(end["kind"], "run_end");
    assert_eq!(
        end["redactions"][&log],
        json!({"CARD": 1, "EMAIL": 3, "IPV4": 2})
    );
}
