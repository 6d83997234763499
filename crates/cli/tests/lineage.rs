//! Where the data went: a run's taint (the labels of what it read) in every request's
//! context, its sinks gated with it (files, URLs, commands, the run's answer through
//! `output::Action::"release"`), the flows recorded on the sinks' decisions, and
//! `tollgate audit lineage` over them (human, JSON, and a Graphviz graph that renders).

mod common;

use common::*;
use serde_json::{json, Value};

/// Everything below the sandbox, with the egress rules a host owner writes on the taint.
const POLICY: &str = r#"
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");
@id("restricted-stays-home")
forbid(principal, action in [file_system::Action::"write", file_system::Action::"create"], resource)
when { context.taint.classifications.contains("restricted") && !(resource in file_system::Dir::"{ROOT}/vault") };
@id("no-pii-in-answers")
forbid(principal, action == output::Action::"release", resource)
when { context.taint.categories.contains("pii") && !context.redacted };
"#;

/// `graph` rendered by Graphviz's `dot` in `format`.
fn render(graph: &str, format: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .arg(format)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("Graphviz (dot) is needed: .ci/run installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(graph.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn host() -> (Sandbox, String) {
    let s = Sandbox::new();
    s.write("crm/eu/alice.txt", "alice@example.com ordered 3 items\n");
    s.write("crm/notes.txt", "plain notes\n");
    s.write("secret/plan.txt", "launch on friday\n");
    s.write("vault/.keep", "");
    let root = s.path("");
    let labels = s.audit.path().join("labels.json");
    std::fs::write(
        &labels,
        json!({"rules": [
            {"paths": [format!("{root}/crm/eu")], "classification": "confidential",
             "categories": ["pii"], "jurisdiction": "EU"},
            {"paths": [format!("{root}/secret")], "classification": "restricted"},
        ]})
        .to_string(),
    )
    .unwrap();
    let cfg = s.config(&json!({ "labels": labels.display().to_string() }));
    (s, cfg)
}

#[test]
fn an_answer_with_pii_is_withheld_unless_redacted_and_unlabelled_data_flows_freely() {
    let (s, cfg) = host();
    // Unlabelled reads leave the answer alone.
    let r = s.run_with(
        POLICY,
        r#"cat("{ROOT}/crm/notes.txt")"#,
        &["--config", &cfg],
    );
    assert_eq!(r.ok(), "plain notes\n");
    // A PII read: the answer is refused, and nothing of it leaks through logs or the error.
    let r = s.run_with(
        POLICY,
        r#"let t = cat("{ROOT}/crm/eu/alice.txt"); info(t); throw t;"#,
        &["--config", &cfg],
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains("no-pii-in-answers"), "{}", r.message());
    let text = r.json.to_string();
    assert!(!text.contains("alice@"), "the data leaked: {text}");
    assert!(r.json.get("logs").is_none(), "{text}");
    // A redacted read carries no `pii` on (its e-mail addresses are replaced): the answer
    // goes.
    let redacting = r#"
permit(principal, action in [file_system::Action::"open", file_system::Action::"redacted_read"], resource in file_system::Dir::"{ROOT}");
@id("no-pii-in-answers")
forbid(principal, action == output::Action::"release", resource)
when { context.taint.categories.contains("pii") && !context.redacted };
"#;
    let r = s.run_with(
        redacting,
        r#"cat("{ROOT}/crm/eu/alice.txt")"#,
        &["--config", &cfg],
    );
    assert!(r.ok().contains("[EMAIL]"), "{:#}", r.json);
    // The host that redacts every answer may release it.
    let cfg2 = s.config(&json!({
        "labels": s.audit.path().join("labels.json").display().to_string(),
        "redaction": {"redact_output": true},
    }));
    let r = s.run_with(
        POLICY,
        r#"cat("{ROOT}/crm/eu/alice.txt")"#,
        &["--config", &cfg2],
    );
    assert!(r.ok().contains("[EMAIL]"), "{:#}", r.json);
}

#[test]
fn a_write_is_decided_with_the_taint_of_what_was_read_before_it() {
    let (s, cfg) = host();
    let script = r#"
let plan = cat("{ROOT}/secret/plan.txt");
let r = #{};
try { write("{ROOT}/crm/copy.txt", plan); r.out = "written"; } catch (e) { r.out = e.policies; }
write("{ROOT}/vault/copy.txt", plan);
r.vault = "written";
r"#;
    let r = s.run_with(POLICY, script, &["--config", &cfg]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["out"], json!(["restricted-stays-home"]), "{out:#}");
    assert_eq!(out["vault"], "written");
    assert!(!exists(&s.path("crm/copy.txt")));
    // Before anything restricted is read, the same write is permitted: the taint is the
    // run's, and grows only with what it reads.
    let r = s.run_with(
        POLICY,
        r#"write("{ROOT}/crm/copy.txt", "x"); cat("{ROOT}/secret/plan.txt").len()"#,
        &["--config", &cfg],
    );
    assert_eq!(r.ok(), "17");
}

#[test]
fn sinks_record_their_sources_and_audit_lineage_follows_them() {
    let (s, cfg) = host();
    let script = r#"
let t = cat("{ROOT}/crm/eu/alice.txt");
write("{ROOT}/vault/export.txt", "count: " + t.len());
try { write("{ROOT}/crm/export.txt", cat("{ROOT}/secret/plan.txt")); } catch (e) {}
"done""#;
    let r = s.run_with(POLICY, script, &["--config", &cfg]);
    // The answer holds no data, but the run read pii: it is withheld all the same.
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    let records = s.records();
    let sinks: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "decision" && r.get("sources").is_some())
        .collect();
    assert!(sinks.len() >= 3, "{sinks:#?}");
    let alice = s.path("crm/eu/alice.txt");
    for sink in &sinks {
        let sources = sink["sources"].as_array().unwrap();
        assert_eq!(sources[0]["path"], alice.as_str(), "{sink:#}");
        assert_eq!(sources[0]["labels"]["jurisdiction"], "EU");
    }
    // Decisions before any labelled read carry no sources.
    let first = records.iter().find(|r| r["kind"] == "decision").unwrap();
    assert!(first.get("sources").is_none(), "{first:#}");
    // The cat decided on its directory names the file it wanted.
    let dir = records
        .iter()
        .find(|r| r["kind"] == "decision" && r["resource_type"] == "file_system::Dir")
        .unwrap();
    assert_eq!(
        dir["target"],
        format!("file_system::File::\"{alice}\""),
        "{dir:#}"
    );

    let dir = s.audit_dir();
    let lineage = |args: &[&str]| {
        let mut all = vec!["lineage", "--audit-log", &dir];
        all.extend_from_slice(args);
        let (code, out, err) = s.audit(&all);
        assert_eq!(code, 0, "{err}");
        out
    };
    let flows: Value = serde_json::from_str(&lineage(&[&alice, "--output", "json"])).unwrap();
    let flows = flows["flows"].as_array().unwrap();
    let to = |sink: &str, decision: &str| {
        flows
            .iter()
            .any(|f| f["sink"].as_str().unwrap().contains(sink) && f["decision"] == decision)
    };
    assert!(to("vault/export.txt", "permit"), "{flows:#?}");
    assert!(to("crm/export.txt", "deny"), "{flows:#?}");
    assert!(to("output::Result", "deny"), "{flows:#?}");
    // A directory covers what is below it; an unrelated path has no flows.
    let below: Value =
        serde_json::from_str(&lineage(&[&s.path("crm"), "--output", "json"])).unwrap();
    assert_eq!(below["flows"].as_array().unwrap().len(), flows.len());
    let none = lineage(&[&s.path("crm/notes.txt")]);
    assert!(none.contains("no flows"), "{none}");
    // Backwards: what reached the vault came from alice's record (and the secret after it).
    let back: Value = serde_json::from_str(&lineage(&[
        "--to",
        &s.path("vault/export.txt"),
        "--output",
        "json",
    ]))
    .unwrap();
    let back = back["flows"].as_array().unwrap();
    // Its create and its write.
    assert_eq!(back.len(), 2, "{back:#?}");
    assert!(
        back.iter().all(|f| f["source"] == alice.as_str()),
        "{back:#?}"
    );
    let answers: Value =
        serde_json::from_str(&lineage(&["--to", "output", "--output", "json"])).unwrap();
    assert!(!answers["flows"].as_array().unwrap().is_empty());

    // The graph renders with Graphviz.
    let graph = lineage(&[&alice, "--output", "dot"]);
    assert!(graph.starts_with("digraph lineage {"), "{graph}");
    assert!(graph.contains("style=dashed"), "a denied flow: {graph}");
    let rendered = render(&graph, "-Tsvg");
    assert!(rendered.status.success(), "{graph}");
    let svg = String::from_utf8_lossy(&rendered.stdout);
    assert!(svg.contains("<svg") && svg.contains("alice.txt"), "{svg}");
}

#[test]
fn a_name_cannot_break_out_of_the_graph() {
    let (s, cfg) = host();
    let odd = "crm/eu/a\"] evil [label=\"x.txt";
    s.write(odd, "bob@example.com\n");
    let r = s.run_with(
        POLICY,
        &format!(
            r#"let t = cat("{{ROOT}}/{}"); write("{{ROOT}}/vault/o.txt", t); 1"#,
            odd.replace('"', "\\\"")
        ),
        &["--config", &cfg],
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains("no-pii-in-answers"), "{:#}", r.json);
    let (code, graph, err) = s.audit(&[
        "lineage",
        "--audit-log",
        &s.audit_dir(),
        &s.path("crm"),
        "--output",
        "dot",
    ]);
    assert_eq!(code, 0, "{err}");
    let out = render(&graph, "-Tplain");
    assert!(out.status.success(), "{graph}");
    // One source node and one sink node (the file, and the vault copy and the answer).
    let nodes = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("node "))
        .count();
    assert_eq!(nodes, 3, "{graph}");
}
