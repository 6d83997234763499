//! Shadow runs: a candidate policy decides every request beside the enforced one, and never
//! decides anything. Each difference shows in the result and in the decision's record, and
//! `audit shadow-report` sums them up over runs.

mod common;

use common::*;
use serde_json::Value;

/// The enforced policy: everything below the sandbox.
const ENFORCED: &str = r#"@id("all")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");"#;

/// A candidate that forbids `b.log` and permits nothing new.
const NO_B: &str = r#"@id("all-but-b")
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");
@id("no-b")
forbid(principal, action, resource == file_system::File::"{ROOT}/logs/b.log");"#;

const READ_BOTH: &str = r#"[cat("{ROOT}/logs/a.log"), cat("{ROOT}/logs/b.log")]"#;

fn logs() -> Sandbox {
    let s = Sandbox::new();
    s.write("logs/a.log", "a\n");
    s.write("logs/b.log", "b\n");
    s
}

/// Writes the candidate beside the sandbox (outside what the policies grant).
fn candidate(s: &Sandbox, text: &str) -> String {
    let path = s.audit.path().join("candidate.cedar");
    std::fs::write(&path, text.replace("{ROOT}", &s.path(""))).unwrap();
    path.display().to_string()
}

fn decisions(s: &Sandbox) -> Vec<Value> {
    s.records()
        .into_iter()
        .filter(|r| r["kind"] == "decision")
        .collect()
}

#[test]
fn a_candidate_that_would_deny_changes_nothing_and_says_so() {
    let s = logs();
    let c = candidate(&s, NO_B);
    let r = s.run_with(ENFORCED, READ_BOTH, &["--shadow", &c]);
    // The candidate never decides: b.log was read.
    assert_eq!(r.ok(), r#"["a\n","b\n"]"#);
    let shadow = r.json["shadow"].as_array().expect("a shadow report");
    let b = format!("file_system::File::\"{}\"", s.path("logs/b.log"));
    let mut seen: Vec<(String, String)> = shadow
        .iter()
        .map(|d| {
            assert_eq!(d["change"], "would_deny", "{d}");
            assert_eq!(d["resource"], b.as_str(), "{d}");
            assert_eq!(d["enforced_policies"], serde_json::json!(["all"]));
            assert_eq!(d["candidate_policies"], serde_json::json!(["no-b"]));
            (
                d["action"].as_str().unwrap().to_owned(),
                d["change"].to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        [
            "file_system::Action::\"open\"",
            "file_system::Action::\"read\""
        ]
    );
    // In the log: the differing decisions carry the candidate's verdict, the others none.
    let records = decisions(&s);
    assert!(records.len() >= 5, "{records:#?}");
    for d in &records {
        let on_b = d["resource_id"] == s.path("logs/b.log").as_str();
        assert_eq!(d["decision"], "permit", "{d}");
        if on_b {
            assert_eq!(d["shadow"]["decision"], "deny", "{d}");
            assert_eq!(d["shadow"]["policies"], serde_json::json!(["no-b"]), "{d}");
        } else {
            assert!(d.get("shadow").is_none(), "{d}");
        }
    }
    // The run's start names the candidate by its hash.
    let start = s
        .records()
        .into_iter()
        .find(|r| r["kind"] == "run_start")
        .unwrap();
    let sha = {
        let out = std::process::Command::new("sha256sum")
            .arg(&c)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    };
    assert_eq!(start["shadow_policy_sha256"], sha.as_str(), "{start}");
}

#[test]
fn a_candidate_that_would_permit_does_not_permit() {
    let s = logs();
    let narrow = r#"@id("only-a")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/logs");
@id("not-b")
forbid(principal, action, resource == file_system::File::"{ROOT}/logs/b.log");"#;
    let c = candidate(&s, ENFORCED);
    let r = s.run_with(narrow, READ_BOTH, &["--shadow", &c]);
    // Still denied by the enforced policy.
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains("not-b"), "{}", r.message());
    let shadow = r.json["shadow"].as_array().expect("a shadow report");
    assert!(
        shadow.iter().any(|d| d["change"] == "would_permit"
            && d["enforced_policies"] == serde_json::json!(["not-b"])
            && d["candidate_policies"] == serde_json::json!(["all"])),
        "{shadow:#?}"
    );
    // The decisions both make alike (a.log, the directory) are no difference.
    assert_eq!(shadow.len(), 1, "{shadow:#?}");
}

#[test]
fn an_agreeing_candidate_reports_nothing() {
    let s = logs();
    let c = candidate(&s, ENFORCED);
    let r = s.run_with(ENFORCED, READ_BOTH, &["--shadow", &c]);
    r.ok();
    assert!(r.json.get("shadow").is_none(), "{:#}", r.json);
    assert!(decisions(&s).iter().all(|d| d.get("shadow").is_none()));
}

#[test]
fn an_invalid_candidate_refuses_the_run() {
    let s = logs();
    for bad in [
        "permit(principal, action == file_system::Action::\"fly\", resource);",
        "permit(principal, action, resource",
    ] {
        let c = candidate(&s, bad);
        let r = s.run_with(
            ENFORCED,
            r#"write("{ROOT}/ran", "x"); 1"#,
            &["--shadow", &c],
        );
        assert_eq!(r.error_type(), "VALIDATION_EXCEPTION", "{:#}", r.json);
        assert!(r.message().contains("shadow policy"), "{}", r.message());
        assert!(!exists(&s.path("ran")), "nothing may run");
    }
    let r = s.run_with(ENFORCED, "1", &["--shadow", "/nonexistent/candidate.cedar"]);
    assert_eq!(r.error_type(), "VALIDATION_EXCEPTION", "{:#}", r.json);
}

#[test]
fn tollgates_own_files_are_refused_under_both_and_are_no_difference() {
    let s = logs();
    // Both grant everything where the policy file is; neither reaches it.
    let everything = "permit(principal, action, resource);";
    let c = candidate(&s, everything);
    let policy = s.audit.path().join("policy.cedar").display().to_string();
    let r = s.run_with(
        everything,
        &format!(r#"write("{policy}", "permit(principal, action, resource);"); 1"#),
        &["--shadow", &c],
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains("Tollgate's own file"),
        "{}",
        r.message()
    );
    assert!(r.json.get("shadow").is_none(), "{:#}", r.json);
}

#[test]
fn a_shadow_run_without_an_audit_log_still_reports() {
    let s = logs();
    let c = candidate(&s, NO_B);
    let r = s.run_with(ENFORCED, READ_BOTH, &["--shadow", &c, "--no-audit"]);
    r.ok();
    assert_eq!(r.json["shadow"].as_array().map(Vec::len), Some(2));
}

#[test]
fn the_shadow_report_sums_up_runs_by_candidate() {
    let s = logs();
    let c = candidate(&s, NO_B);
    for _ in 0..3 {
        s.run_with(ENFORCED, READ_BOTH, &["--shadow", &c]).ok();
    }
    // A run without a shadow is not counted.
    s.run(ENFORCED, READ_BOTH).ok();
    let dir = s.audit_dir();
    let (code, out, err) = s.audit(&["shadow-report", "--audit-log", &dir, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let list = report.as_array().unwrap();
    assert_eq!(list.len(), 1, "{report:#}");
    let c0 = &list[0];
    assert_eq!(c0["runs"], 3);
    // Three runs of seven decisions each (open on the directory twice, open and read twice,
    // the release of the answer).
    assert_eq!(c0["decisions"], 21, "{c0:#}");
    assert_eq!(c0["differences"], 6, "{c0:#}");
    let changes = c0["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:#?}");
    for ch in changes {
        assert_eq!(ch["change"], "would_deny");
        assert_eq!(ch["decisions"], 3);
        assert_eq!(ch["runs"], 3);
        assert_eq!(ch["resource_type"], "file_system::File");
        assert_eq!(ch["examples"], serde_json::json!([s.path("logs/b.log")]));
    }
    let (code, human, _) = s.audit(&["shadow-report", "--audit-log", &dir]);
    assert_eq!(code, 0);
    assert!(
        human.contains("3 runs, 21 decisions, 6 would change"),
        "{human}"
    );
    assert!(
        human.contains("would_deny file_system::Action::\"read\""),
        "{human}"
    );
}

#[test]
fn a_log_without_shadow_runs_says_so() {
    let s = logs();
    s.run(ENFORCED, READ_BOTH).ok();
    let (code, out, _) = s.audit(&["shadow-report", "--audit-log", &s.audit_dir()]);
    assert_eq!(code, 0);
    assert!(out.contains("no shadow runs"), "{out}");
}
