//! Propose, prove, approve: an agent proposes a permit through `tollgate mcp`'s
//! `propose_policy`, the server validates it and proves the host's invariants of the policy
//! with it (cvc5), and only the host owner's `policy approve` makes it part of the policy,
//! which the running server then uses. Driven by the official Python MCP client.

mod common;

use common::mcp::session;
use common::*;
use serde_json::{json, Value};

/// Reading below the sandbox, but not the secret; nothing else.
const POLICY: &str = r#"@id("read-logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}");
@id("no-secrets")
forbid(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/secret.txt");
"#;

/// What the host owner holds true whatever is approved.
const INVARIANTS: &str = r#"@id("secret-never-read")
@invariant("never")
permit(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/secret.txt");
@id("etc-never-read")
@invariant("never")
permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/etc");
@id("no-writes")
@invariant("never")
permit(principal, action in [file_system::Action::"write", file_system::Action::"create", file_system::Action::"delete"], resource);
"#;

/// The permit the agent needs to `stat` the logs.
const STAT: &str = r#"@id("stat-logs")
permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"{ROOT}");"#;

struct Host {
    s: Sandbox,
    policy: String,
    args: Vec<String>,
}

fn host() -> Host {
    let s = Sandbox::new();
    s.write("app.log", "ERROR one\n");
    s.write("secret.txt", "hunter2\n");
    let policy = s.policy_file(POLICY);
    let invariants = s.audit.path().join("invariants.cedar");
    std::fs::write(&invariants, INVARIANTS.replace("{ROOT}", &s.path(""))).unwrap();
    let args = vec![
        "--policy".into(),
        policy.clone(),
        "--audit-log".into(),
        s.audit_dir(),
        "--invariants".into(),
        invariants.display().to_string(),
    ];
    Host { s, policy, args }
}

fn propose(h: &Host, statement: &str, why: &str) -> Value {
    json!({"tool": "propose_policy", "arguments": {
        "statement": statement.replace("{ROOT}", &h.s.path("")),
        "justification": why,
    }})
}

fn stat_script(h: &Host) -> Value {
    json!({"tool": "run_script", "arguments": {
        "script": format!(r#"stat("{}").size"#, h.s.path("app.log"))}})
}

/// `tollgate policy approve N` of the host's policy: (exit code, stdout, stderr).
fn approve(h: &Host, n: u32) -> (i32, String, String) {
    tollgate_output(&[
        "policy",
        "approve",
        &n.to_string(),
        "--policy",
        &h.policy,
        "--audit-log",
        &h.s.audit_dir(),
    ])
}

fn proposals_dir(h: &Host) -> String {
    format!("{}.proposals", h.policy)
}

#[test]
fn a_proposal_is_pending_until_approved_and_then_the_running_server_uses_it() {
    let h = host();
    let before = std::fs::read_to_string(&h.policy).unwrap();
    // The host owner approves proposal 1 once it exists, while the server runs.
    let policy = h.policy.clone();
    let audit = h.s.audit_dir();
    let pending = format!("{}/1.json", proposals_dir(&h));
    let approver = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !std::path::Path::new(&pending).exists() {
            assert!(start.elapsed().as_secs() < 60, "no proposal was recorded");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        tollgate_output(&[
            "policy",
            "approve",
            "1",
            "--policy",
            &policy,
            "--audit-log",
            &audit,
        ])
    });
    let calls = json!([
        stat_script(&h),
        propose(&h, STAT, "stat is needed to size the logs before reading them"),
        // Still denied: a proposal does not take effect by itself.
        stat_script(&h),
        {"text_in": proposals_dir(&h), "text": "\"approved\"", "within": 60},
        stat_script(&h),
        {"tool": "check_access", "arguments": {
            "action": r#"file_system::Action::"stat""#,
            "resource": format!(r#"file_system::File::"{}""#, h.s.path("app.log"))}},
    ]);
    let seen = session(&h.args, calls);
    let (code, said, err) = approver.join().unwrap();
    assert_eq!(code, 0, "{said}{err}");
    assert!(said.contains("proposal 1 approved"), "{said}");
    let r = &seen["results"];
    assert_eq!(
        r[0]["structured"]["error"]["error_type"],
        "ACCESS_DENIED_EXCEPTION"
    );
    let p = &r[1]["structured"];
    assert_eq!(r[1]["is_error"], false, "{:#}", r[1]);
    assert_eq!(p["status"], "pending", "{p:#}");
    assert_eq!(p["proposal"], 1);
    let proofs = p["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 3, "{p:#}");
    assert!(proofs.iter().all(|o| o["result"] == "proved"), "{p:#}");
    assert_eq!(
        r[2]["structured"]["error"]["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{:#}",
        r[2]
    );
    assert_eq!(r[3]["ok"], true, "{:#}", r[3]);
    assert_eq!(r[4]["is_error"], false, "{:#}", r[4]);
    assert_eq!(r[5]["structured"]["decision"], "permit", "{:#}", r[5]);

    // The file: the old text, then the statement with its annotations; the old file kept.
    let after = std::fs::read_to_string(&h.policy).unwrap();
    assert!(after.starts_with(&before), "{after}");
    assert!(after.contains("@proposal(\"1\")"), "{after}");
    assert!(after.contains("@justification(\"stat is needed"), "{after}");
    let previous =
        std::fs::read_to_string(format!("{}/1.previous.cedar", proposals_dir(&h))).unwrap();
    assert_eq!(previous, before);
    let (code, _, err) = tollgate_output(&["policy", "check", &h.policy]);
    assert_eq!(code, 0, "{err}");

    // The log: the proposal (agent, justification), the approval (the new policy's hash),
    // and the runs before and after under their policies' hashes.
    let records = h.s.records();
    let proposal: Vec<&Value> = records.iter().filter(|r| r["kind"] == "proposal").collect();
    assert_eq!(proposal.len(), 2, "{proposal:#?}");
    assert_eq!(proposal[0]["action"], "propose");
    assert!(proposal[0]["reason"]
        .as_str()
        .unwrap()
        .contains("stat is needed"));
    assert_eq!(proposal[1]["action"], "approve");
    let new_sha = proposal[1]["policy_sha256"].as_str().unwrap().to_owned();
    let run_policies: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "run_start")
        .map(|r| r["policy_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(run_policies.len(), 3, "{run_policies:?}");
    assert_ne!(run_policies[0], new_sha);
    assert_eq!(run_policies[1], run_policies[0]);
    assert_eq!(run_policies[2], new_sha);

    // Approved once only.
    let (code, _, err) = approve(&h, 1);
    assert_ne!(code, 0);
    assert!(err.contains("approved already"), "{err}");
}

#[test]
fn a_proposal_that_breaks_an_invariant_or_is_not_one_permit_is_refused() {
    let h = host();
    let calls = json!([
        // Reading below /etc: refuted, with the request that shows it.
        propose(
            &h,
            r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/etc/ssh");"#,
            "read the ssh config"
        ),
        // A write anywhere: refuted by the other invariant.
        propose(
            &h,
            r#"permit(principal, action == file_system::Action::"write", resource in file_system::Dir::"/tmp");"#,
            "scratch files"
        ),
        propose(&h, r#"forbid(principal, action, resource);"#, "a forbid"),
        propose(&h, &format!("{STAT}\n{STAT}"), "two"),
        propose(&h, "permit(principal, action, resource", "unparsable"),
        propose(
            &h,
            r#"permit(principal, action == file_system::Action::"fly", resource);"#,
            "invalid"
        ),
        propose(
            &h,
            r#"@id("read-logs") permit(principal, action == file_system::Action::"stat", resource);"#,
            "id taken"
        ),
        propose(
            &h,
            r#"@proposal("9") permit(principal, action == file_system::Action::"stat", resource);"#,
            "own annotation"
        ),
    ]);
    let seen = session(&h.args, calls);
    let r = seen["results"].as_array().unwrap();
    for (i, want) in [
        (0, "invariants"),
        (1, "invariants"),
        (2, "only a permit"),
        (3, "exactly one statement"),
        (4, "does not parse"),
        (5, "does not validate"),
        (6, "already has a statement"),
        (7, "@proposal"),
    ] {
        assert_eq!(r[i]["is_error"], true, "{i}: {:#}", r[i]);
        let s = &r[i]["structured"];
        assert_eq!(s["status"], "refused", "{i}: {s:#}");
        assert!(s["message"].as_str().unwrap().contains(want), "{i}: {s:#}");
    }
    let refuted = r[0]["structured"]["proofs"].as_array().unwrap();
    let etc = refuted
        .iter()
        .find(|o| o["id"] == "etc-never-read")
        .unwrap();
    assert_eq!(etc["result"], "refuted", "{etc:#}");
    let resource = etc["counterexample"]["resource"].as_str().unwrap();
    assert!(
        resource.contains("::\"/etc/ssh"),
        "the counterexample reads below /etc/ssh: {etc:#}"
    );
    // The forbid already keeps the secret: that invariant still holds.
    let secret = refuted
        .iter()
        .find(|o| o["id"] == "secret-never-read")
        .unwrap();
    assert_eq!(secret["result"], "proved", "{secret:#}");
    // Nothing pending, the policy unchanged, every refusal recorded.
    assert!(!std::path::Path::new(&format!("{}/1.json", proposals_dir(&h))).exists());
    assert_eq!(
        std::fs::read_to_string(&h.policy).unwrap(),
        POLICY.replace("{ROOT}", &h.s.path(""))
    );
    let refused =
        h.s.records()
            .into_iter()
            .filter(|r| r["kind"] == "proposal" && r["action"] == "refused")
            .count();
    assert_eq!(refused, 8);
}

#[test]
fn the_host_owner_lists_and_rejects_proposals_and_scripts_cannot_reach_them() {
    let h = host();
    let calls = json!([
        propose(&h, STAT, "line one\nline two \u{1b}[31m"),
        {"tool": "run_script", "arguments": {"script": format!(
            r#"write("{}/2.json", "{{}}")"#, proposals_dir(&h))}},
    ]);
    let seen = session(&h.args, calls);
    assert_eq!(seen["results"][0]["structured"]["status"], "pending");
    // A script cannot forge a proposal: the directory is Tollgate's own.
    let forged = &seen["results"][1]["structured"]["error"];
    assert_eq!(
        forged["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{forged:#}"
    );
    let (code, listed, err) = tollgate_output(&["policy", "proposals", "--policy", &h.policy]);
    assert_eq!(code, 0, "{err}");
    assert!(listed.contains("proposal 1 (Pending)"), "{listed}");
    // The agent's text is escaped: no raw escape character reaches the terminal.
    assert!(!listed.contains('\u{1b}'), "{listed:?}");
    let (code, _, err) = tollgate_output(&[
        "policy",
        "reject",
        "1",
        "--policy",
        &h.policy,
        "--reason",
        "use the app's own directory",
        "--audit-log",
        &h.s.audit_dir(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, listed, _) = tollgate_output(&["policy", "proposals", "--policy", &h.policy]);
    assert!(listed.contains("no pending proposals"), "{listed}");
    let (_, all, _) = tollgate_output(&[
        "policy",
        "proposals",
        "--policy",
        &h.policy,
        "--all",
        "--json",
    ]);
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all[0]["status"], "rejected");
    assert_eq!(all[0]["reason"], "use the app's own directory");
    // A rejected proposal cannot be approved.
    let (code, _, err) = approve(&h, 1);
    assert_ne!(code, 0);
    assert!(err.contains("rejected"), "{err}");
    assert!(!std::fs::read_to_string(&h.policy)
        .unwrap()
        .contains("stat-logs"));
}

#[test]
fn approval_checks_again_against_the_policy_as_it_is_then() {
    let h = host();
    let seen = session(&h.args, json!([propose(&h, STAT, "stat")]));
    assert_eq!(seen["results"][0]["structured"]["status"], "pending");
    // The host owner has since given the id to a statement of their own.
    let mut text = std::fs::read_to_string(&h.policy).unwrap();
    text.push_str("\n@id(\"stat-logs\")\npermit(principal, action == file_system::Action::\"stat\", resource == file_system::File::\"/etc/hostname\");\n");
    std::fs::write(&h.policy, &text).unwrap();
    let (code, _, err) = approve(&h, 1);
    assert_ne!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&h.policy).unwrap(), text);
}
