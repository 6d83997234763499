//! Where the data went: a run's taint (the labels of what it read) in every request's
//! context, its sinks gated with it (files, URLs, commands, the run's answer through
//! `output::Action::"release"`), the flows recorded on the sinks' decisions, and
//! `tollgate audit lineage` over them (human, JSON, and a Graphviz graph that renders).

mod common;

use common::*;
use std::collections::BTreeSet;

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

/// The first sink's decision record: the first that names sources.
fn first_sink(s: &Sandbox) -> Value {
    s.records()
        .into_iter()
        .find(|r| r["kind"] == "decision" && r.get("sources").is_some())
        .expect("a sink's record")
}

/// The SHA-256 of `content` in hex, as sources record it.
fn sha256(content: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(content.as_bytes()))
}

#[test]
fn each_source_carries_the_hash_of_the_content_the_run_read() {
    let (s, cfg) = host();
    let before = "alice@example.com ordered 3 items\n";
    // `write` appends, as in Rex.
    let after = &format!("{before}alice@example.com ordered 4 items\n");
    // Read, changed and read again (through a path, then a handle), the directory listed,
    // then a sink: the sink's record names each content read, with its hash.
    let script = r#"
let t = cat("{ROOT}/crm/eu/alice.txt");
touch("{ROOT}/crm/eu/alice.txt");
t = cat("{ROOT}/crm/eu/alice.txt");
write("{ROOT}/crm/eu/alice.txt", "alice@example.com ordered 4 items\n");
let dir = DirConfig().path("{ROOT}/crm/eu").build().open(OpenDirOptions().build());
let h = dir.open_file("alice.txt", OpenFileOptions().read(true).build());
let again = h.read();
ls("{ROOT}/crm/eu");
write("{ROOT}/vault/export.txt", "count: " + t.len() + again.len());
"done""#;
    let r = s.run_with(POLICY, script, &["--config", &cfg]);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    let records = s.records();
    let export = s.path("vault/export.txt");
    let sink = records
        .iter()
        .rev()
        .find(|r| {
            r["kind"] == "decision"
                && r["action"] == "file_system::Action::\"write\""
                && r["resource_id"] == export.as_str()
        })
        .unwrap_or_else(|| panic!("no write of the export: {records:#?}"));
    let sources = sink["sources"].as_array().unwrap();
    let alice = s.path("crm/eu/alice.txt");
    let hashes: Vec<&str> = sources
        .iter()
        .filter(|s| s["path"] == alice.as_str())
        .map(|s| s["sha256"].as_str().unwrap())
        .collect();
    // Read twice unchanged (touched between, so hashed twice): one source; changed and read
    // through a handle: a second.
    assert_eq!(hashes, [sha256(before), sha256(after)], "{sink:#}");
    let sizes: Vec<&Value> = sources
        .iter()
        .filter(|s| s["path"] == alice.as_str())
        .map(|s| &s["size"])
        .collect();
    assert_eq!(sizes, [before.len(), after.len()], "{sink:#}");
    // A listing is a source without a hash: a directory has no content to hash.
    let eu = s.path("crm/eu");
    let listing = sources
        .iter()
        .find(|s| s["path"] == eu.as_str())
        .unwrap_or_else(|| panic!("the listing is no source: {sink:#}"));
    assert!(listing.get("sha256").is_none(), "{listing:#}");
    // The count in the taint is the sources', the changed content included.
    let (code, out, err) = s.audit(&[
        "lineage",
        "--audit-log",
        &s.audit_dir(),
        &alice,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let flows: Value = serde_json::from_str(&out).unwrap();
    let into_export: Vec<&Value> = flows["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["sink"].as_str().unwrap().contains("vault/export.txt"))
        .collect();
    assert!(
        into_export.iter().any(|f| f["sha256"] == sha256(before))
            && into_export.iter().any(|f| f["sha256"] == sha256(after)),
        "{into_export:#?}"
    );
    let (_, human, _) = s.audit(&["lineage", "--audit-log", &s.audit_dir(), &alice]);
    assert!(
        human.contains(&format!("sha256:{}", sha256(after))),
        "{human}"
    );
}

#[test]
fn a_redacted_read_records_the_hash_of_the_file_not_of_what_redaction_left() {
    let (s, cfg) = host();
    let content = "alice@example.com ordered 3 items\n";
    let redacting = r#"
permit(principal, action in [file_system::Action::"open", file_system::Action::"redacted_read", file_system::Action::"write", file_system::Action::"create"], resource in file_system::Dir::"{ROOT}");
"#;
    let r = s.run_with(
        redacting,
        r#"let t = cat("{ROOT}/crm/eu/alice.txt"); write("{ROOT}/vault/r.txt", t); t"#,
        &["--config", &cfg],
    );
    assert!(r.ok().contains("[EMAIL]"), "{:#}", r.json);
    let sink = first_sink(&s);
    let source = &sink["sources"][0];
    assert_eq!(source["redacted"], true, "{sink:#}");
    assert_eq!(source["sha256"], sha256(content), "{sink:#}");
}

#[test]
fn a_file_over_the_hash_limit_is_a_source_with_its_size_and_no_hash() {
    let (s, cfg) = host();
    let big = std::fs::File::create(s.path("crm/eu/big.bin")).unwrap();
    let size = tollgate_policy::HASH_LIMIT + 1;
    big.set_len(size).unwrap();
    let r = s.run_with(
        POLICY,
        r#"
let dir = DirConfig().path("{ROOT}/crm/eu").build().open(OpenDirOptions().build());
let h = dir.open_file("big.bin", OpenFileOptions().read(true).build());
write("{ROOT}/vault/o.txt", "x");
"done""#,
        &["--config", &cfg],
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    let sink = first_sink(&s);
    let source = &sink["sources"][0];
    assert_eq!(
        source["path"],
        s.path("crm/eu/big.bin").as_str(),
        "{sink:#}"
    );
    assert_eq!(source["size"], size, "{sink:#}");
    assert!(source.get("sha256").is_none(), "{sink:#}");
}

#[test]
fn every_decision_names_the_sdk_call_it_served_and_its_target() {
    let (s, cfg) = host();
    // Only the crm directory's files may be opened: a cat below `secret` is denied on its
    // directory, and the record still says which call wanted which file.
    let policy = r#"
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}/crm");
permit(principal, action in [file_system::Action::"read", file_system::Action::"create", file_system::Action::"write"], resource in file_system::Dir::"{ROOT}");
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}/vault");
"#;
    let script = r#"
try { cat("{ROOT}/secret/plan.txt"); } catch (e) {}
// A call in another's arguments, and calls made from a callback while a walk is under way.
write("{ROOT}/vault/notes.txt", cat("{ROOT}/crm/notes.txt"));
let d = DirConfig().path("{ROOT}/crm").build().open(OpenDirOptions().build());
d.find(FindOptions().name("*.txt").build(), |e| { wc("{ROOT}/crm/notes.txt"); });
"done""#;
    let r = s.run_with(policy, script, &["--config", &cfg]);
    let records = s.records();
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let plan = s.path("secret/plan.txt");
    let denied = decisions
        .iter()
        .find(|d| d["decision"] == "deny")
        .unwrap_or_else(|| panic!("no denial: {:#} {decisions:#?}", r.json));
    assert_eq!(
        denied["resource_id"],
        s.path("secret").as_str(),
        "{denied:#}"
    );
    assert_eq!(denied["call"], "cat", "{denied:#}");
    assert_eq!(
        denied["target"],
        format!("file_system::File::\"{plan}\""),
        "{denied:#}"
    );
    let calls_on = |id: &str| -> BTreeSet<String> {
        decisions
            .iter()
            .filter(|d| d["resource_id"] == id)
            .map(|d| d["call"].as_str().unwrap_or("(none)").to_owned())
            .collect()
    };
    // The cat in write's arguments is decided as a cat, the write as a write.
    assert_eq!(
        calls_on(&s.path("vault/notes.txt")),
        ["write".to_owned()].into()
    );
    // The walk's decisions and the callback's, each under its own call.
    assert_eq!(
        calls_on(&s.path("crm/notes.txt")),
        ["cat".to_owned(), "wc".to_owned()].into()
    );
    assert!(
        calls_on(&s.path("crm")).contains("DirConfig.open"),
        "{decisions:#?}"
    );
    // The walk decides its entries before it calls back (how a callback's call gives the
    // walk's back is the gate's unit test).
    let calls: Vec<&str> = decisions
        .iter()
        .filter_map(|d| d["call"].as_str())
        .collect();
    let walk = calls.iter().position(|c| *c == "RcDirHandle.find").unwrap();
    assert!(calls[walk..].contains(&"wc"), "{calls:?}");
    // Every decision the script's calls made names one; only the release of the answer,
    // which the runner asks, names none.
    for d in &decisions {
        assert_eq!(
            d.get("call").is_none(),
            d["resource_type"] == "output::Result",
            "{d:#}"
        );
    }
    // `audit show` says it too.
    let (code, out, err) = s.audit(&["show", "--audit-log", &s.audit_dir(), "--decision", "deny"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("in cat of file_system::File::\"{plan}\"")),
        "{out}"
    );
}
