//! Deletion requests, retention and jurisdictions end to end: a labels file marks data
//! `erasure_requested` and gives retentions and endpoint jurisdictions, the directory and
//! the delegation token say where the requester is, and real runs are decided on them;
//! `tollgate labels report` lists what needs the host owner.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

/// Writes the labels file (with `{ROOT}` replaced) beside the audit log, outside what the
/// policies open, and returns its path.
fn labels_file(s: &Sandbox, labels: &Value) -> String {
    let path = s.audit.path().join("labels.json");
    let text = labels.to_string().replace("{ROOT}", &s.path(""));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Customer 17 asked to be forgotten: their directory, and their rows in the exports.
fn crm(s: &Sandbox) -> Value {
    s.write("crm/customers/17/profile.json", r#"{"name": "Ada"}"#);
    s.write("crm/customers/17/tickets/t1.txt", "refund please\n");
    s.write("crm/customers/18/profile.json", r#"{"name": "Bo"}"#);
    s.write("crm/exports/2026-11-c17.csv", "17,Ada\n");
    s.write("crm/exports/2026-11-c18.csv", "18,Bo\n");
    std::fs::create_dir_all(s.root().join("public")).unwrap();
    json!({"rules": [
        {"paths": ["{ROOT}/crm"], "classification": "confidential", "categories": ["pii"],
         "jurisdiction": "EU"},
        {"paths": ["{ROOT}/crm/customers/17"],
         "erasure_requested": {"id": "DSR-17", "date": "2026-11-30"}},
        {"paths": ["{ROOT}/crm/exports/*-c17.csv"],
         "erasure_requested": {"id": "DSR-17", "date": "2026-11-30"}}]})
}

/// Every try below, as `name: "ok"` or the error's message.
const TRIES: &str = r#"
let out = #{};
let root = "{ROOT}";
try { cat(`${root}/crm/customers/17/profile.json`); out.profile = "ok"; } catch (e) { out.profile = e.message; }
try { cat(`${root}/crm/customers/17/tickets/t1.txt`); out.ticket = "ok"; } catch (e) { out.ticket = e.message; }
try { grep("Ada", `${root}/crm/exports/2026-11-c17.csv`); out.exported = "ok"; } catch (e) { out.exported = e.message; }
try { cat(`${root}/public/c17/profile.json`); out.link = "ok"; } catch (e) { out.link = e.message; }
try { ls(`${root}/crm/customers/17`); out.listing = "ok"; } catch (e) { out.listing = e.message; }
try { cp(`${root}/crm/customers/17/profile.json`, `${root}/public/copy`); out.cp = "ok"; } catch (e) { out.cp = e.message; }
try { mv(`${root}/crm/customers/17/profile.json`, `${root}/public/moved`); out.mv = "ok"; } catch (e) { out.mv = e.message; }
out.neighbour = cat(`${root}/crm/customers/18/profile.json`);
out.other_export = cat(`${root}/crm/exports/2026-11-c18.csv`);
try { rm(`${root}/crm/customers/17/tickets/t1.txt`); out.rm = "ok"; } catch (e) { out.rm = e.message; }
out
"#;

#[test]
fn reads_of_data_pending_erasure_are_denied_below_it_through_globs_and_links_and_say_why() {
    let s = Sandbox::new();
    let labels = labels_file(&s, &crm(&s));
    // A link from unlabelled ground into the erased directory: the data is read at its
    // target, so the target's request holds.
    std::os::unix::fs::symlink(s.path("crm/customers/17"), s.root().join("public/c17")).unwrap();
    let cfg = s.config(&json!({ "labels": labels }));
    let r = s.run_with(ALL_IN_ROOT, TRIES, &["--config", &cfg]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    for what in [
        "profile", "ticket", "exported", "link", "listing", "cp", "mv",
    ] {
        let message = out[what].as_str().unwrap();
        for want in [
            "DSR-17",
            "2026-11-30",
            "\"erasure\"",
            "whatever the policy says",
        ] {
            assert!(message.contains(want), "{what}: {want} not in {message}");
        }
    }
    assert!(out["mv"].as_str().unwrap().contains(r#"Action::"move""#));
    assert!(!exists(&s.path("public/copy")) && !exists(&s.path("public/moved")));
    assert!(exists(&s.path("crm/customers/17/profile.json")));
    // The rest of the same data, labelled the same but for the request, is readable.
    assert_eq!(out["neighbour"], r#"{"name": "Bo"}"#);
    assert_eq!(out["other_export"], "18,Bo\n");
    // Erasing is not what the default refuses.
    assert_eq!(out["rm"], "ok");
    assert!(!exists(&s.path("crm/customers/17/tickets/t1.txt")));

    // The records say the default decided, and carry the request.
    let records = s.records();
    let profile = s.path("crm/customers/17/profile.json");
    let denied = records
        .iter()
        .find(|r| r["resource_id"] == profile.as_str() && r["decision"] == "deny")
        .expect("the denied read is recorded");
    assert_eq!(denied["policies"], json!(["tollgate:erasure-requested"]));
    assert_eq!(
        denied["labels"]["erasure_request"],
        json!({"id": "DSR-17", "date": "2026-11-30"})
    );
}

#[test]
fn a_run_that_lets_a_denial_end_it_reports_the_request() {
    let s = Sandbox::new();
    let labels = labels_file(&s, &crm(&s));
    let cfg = s.config(&json!({ "labels": labels }));
    let r = s.run_with(
        ALL_IN_ROOT,
        r#"cat("{ROOT}/crm/customers/17/profile.json")"#,
        &["--config", &cfg],
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains("erasure request DSR-17 of 2026-11-30"),
        "{}",
        r.message()
    );
}

#[test]
fn with_policy_decides_the_policy_alone_sees_and_decides_the_request() {
    let s = Sandbox::new();
    let mut labels = crm(&s);
    labels["erasure_default"] = json!("policy_decides");
    let labels = labels_file(&s, &labels);
    let cfg = s.config(&json!({ "labels": labels }));
    let script = r#"cat("{ROOT}/crm/customers/17/profile.json")"#;
    let r = s.run_with(ALL_IN_ROOT, script, &["--config", &cfg]);
    assert_eq!(r.ok(), r#"{"name": "Ada"}"#);
    let policy = format!(
        r#"{ALL_IN_ROOT}
@id("erased-is-unread")
forbid(principal, action in [file_system::Action::"read", file_system::Action::"redacted_read"], resource)
when {{ resource.labels.erasure_requested && resource.labels.erasure_request == "DSR-17" }};"#
    );
    let r = s.run_with(&policy, script, &["--config", &cfg]);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("erased-is-unread"), "{}", r.message());
}

/// An issuer (Ed25519 key `k1`) the host config trusts, the host's directory, and the
/// labels; the files are beside the audit log, outside what the policies open.
struct Issuer {
    key: EncodingKey,
    jwks: String,
    directory: String,
}

impl Issuer {
    /// `name` keeps this issuer's files apart from another's in the same sandbox.
    fn new(s: &Sandbox, name: &str, directory: &Value) -> Issuer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
        let jwks = s.audit.path().join(format!("{name}.jwks"));
        std::fs::write(
            &jwks,
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": x}]})
                .to_string(),
        )
        .unwrap();
        let path = s.audit.path().join(format!("{name}-directory.json"));
        std::fs::write(&path, directory.to_string()).unwrap();
        Issuer {
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwks: jwks.display().to_string(),
            directory: path.display().to_string(),
        }
    }

    fn config(&self, s: &Sandbox, labels: &str, require_token: bool) -> String {
        s.config(&json!({"labels": labels,
                         "identity": {"jwks": self.jwks, "audience": ["web-1"],
                                      "directory": self.directory, "require_token": require_token}}))
    }

    /// A token file: `sub` alice acted for by `support-agent`, with these extra claims.
    fn token(&self, s: &Sandbox, name: &str, claims: Value) -> String {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut all = json!({"sub": "alice", "act": {"sub": "support-agent"}, "ticket": "SUP-9",
                             "aud": "web-1", "jti": name, "iat": now, "exp": now + 300});
        for (k, v) in claims.as_object().unwrap() {
            all[k] = v.clone();
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&header, &all, &self.key).unwrap();
        let path = s.audit.path().join(format!("{name}.jwt"));
        std::fs::write(&path, token).unwrap();
        format!("@{}", path.display())
    }
}

const AGENTS_READ_CRM: &str = r#"
permit(principal is Agent, action in [file_system::Action::"open", file_system::Action::"read",
       file_system::Action::"delete"], resource in file_system::Dir::"{ROOT}/crm");
"#;

#[test]
fn only_a_verified_token_for_purpose_erasure_reads_it_and_no_spelling_of_it_is_taken() {
    let s = Sandbox::new();
    let labels = labels_file(&s, &crm(&s));
    let issuer = Issuer::new(&s, "issuer", &json!({"users": {"alice": {}}}));
    let cfg = issuer.config(&s, &labels, true);
    let script = r#"cat("{ROOT}/crm/customers/17/profile.json")"#;
    let run = |token: Option<&str>| {
        let mut extra = vec!["--config", cfg.as_str()];
        if let Some(t) = token {
            extra.extend(["--token", t]);
        }
        s.run_with(AGENTS_READ_CRM, script, &extra)
    };
    let erasure = issuer.token(&s, "erasure", json!({"purpose": "erasure"}));
    assert_eq!(run(Some(&erasure)).ok(), r#"{"name": "Ada"}"#);
    for spoof in ["Erasure", "erasure ", "support", ""] {
        let t = issuer.token(
            &s,
            &format!("spoof-{}", spoof.len()),
            json!({"purpose": spoof}),
        );
        let r = run(Some(&t));
        assert_eq!(r.code, 4, "{spoof:?}: {:#}", r.json);
        assert!(r.message().contains("DSR-17"), "{spoof:?}: {}", r.message());
    }
    // No token where the host requires one: nothing runs, whatever the script would claim.
    let r = run(None);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains("requires a delegation token"),
        "{}",
        r.message()
    );
    // A token for purpose erasure signed by anyone else is refused before anything runs.
    let forger = Issuer::new(&Sandbox::new(), "forger", &json!({}));
    let forged = forger.token(&s, "forged", json!({"purpose": "erasure"}));
    let r = run(Some(&forged));
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains("signature"), "{}", r.message());
    // Where a token is not required, a run without one has no purpose: refused too.
    let open = issuer.config(&s, &labels, false);
    let r = s.run_with(ALL_IN_ROOT, script, &["--config", &open]);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("DSR-17"), "{}", r.message());
}

/// A file last modified `days` ago.
fn aged(s: &Sandbox, rel: &str, days: u64) -> String {
    let path = s.write(rel, &format!("{rel}\n"));
    let when = SystemTime::now() - Duration::from_secs(days * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(when)
        .unwrap();
    path
}

const NO_EXPIRED: &str = r#"
permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");
@id("nothing-past-retention")
forbid(principal, action in [file_system::Action::"read", file_system::Action::"redacted_read"], resource)
when { resource.labels.expired };
"#;

fn retention(s: &Sandbox) -> String {
    labels_file(
        s,
        &json!({"rules": [{"paths": ["{ROOT}/logs"], "retention": "P30D"},
                          {"paths": ["{ROOT}/logs/keep"], "retention": "P10Y"}]}),
    )
}

#[test]
fn a_file_past_its_retention_is_refused_by_a_policy_on_expired() {
    let s = Sandbox::new();
    aged(&s, "logs/old.log", 31);
    aged(&s, "logs/recent.log", 29);
    aged(&s, "logs/keep/old.log", 31);
    aged(&s, "other/old.log", 4000);
    std::os::unix::fs::symlink(s.path("logs"), s.root().join("other/logs")).unwrap();
    let cfg = s.config(&json!({ "labels": retention(&s) }));
    let script = r#"
let out = #{};
for name in ["logs/old.log", "logs/recent.log", "logs/keep/old.log", "other/old.log", "other/logs/old.log"] {
    try { cat(`{ROOT}/${name}`); out[name] = "ok"; } catch (e) { out[name] = e.policies; }
}
// Asked again in the same run: refused at once.
try { cat("{ROOT}/logs/old.log"); out.again = "ok"; } catch (e) { out.again = e.policies; }
out
"#;
    let r = s.run_with(NO_EXPIRED, script, &["--config", &cfg]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    let refused = json!(["nothing-past-retention"]);
    assert_eq!(out["logs/old.log"], refused);
    assert_eq!(
        out["other/logs/old.log"], refused,
        "through a link, the target's age"
    );
    assert_eq!(out["again"], refused);
    for ok in ["logs/recent.log", "logs/keep/old.log", "other/old.log"] {
        assert_eq!(out[ok], "ok", "{ok}");
    }
    // The permit made before the age was known, then the deny made with it.
    let old = s.path("logs/old.log");
    let reads: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| {
            r["resource_id"] == old.as_str()
                && r["action"]
                    .as_str()
                    .is_some_and(|a| a.ends_with("\"read\""))
        })
        .collect();
    assert_eq!(reads[0]["decision"], "permit");
    assert!(reads[0]["labels"].get("expired").is_none(), "{}", reads[0]);
    assert_eq!(reads[1]["decision"], "deny");
    assert_eq!(reads[1]["labels"]["expired"], true);
    assert_eq!(reads[1]["policies"], refused);
}

const HANDLE_READS: &str = r#"
let dir = DirConfig().path("{ROOT}/logs").build().open(OpenDirOptions().build());
let out = #{};
try {
    let h = dir.open_file("old.log", OpenFileOptions().read(true).build());
    out.old = h.read();
} catch (e) { out.old = e.policies; }
let h = dir.open_file("fresh.log", OpenFileOptions().read(true).build());
out.before = h.read();
write("{ROOT}/opened", "yes");
// Meanwhile the test makes the file old, through another path and descriptor.
sleep(4);
try { out.after = h.read(); } catch (e) { out.after = e.policies; }
out
"#;

#[test]
fn an_expired_file_read_through_a_handle_is_refused_by_the_handles_own_descriptor() {
    let s = Sandbox::new();
    aged(&s, "logs/old.log", 31);
    let fresh = aged(&s, "logs/fresh.log", 0);
    let cfg = s.config(&json!({ "labels": retention(&s) }));
    let marker = s.path("opened");
    let r = std::thread::scope(|scope| {
        let run = scope.spawn(|| s.run_with(NO_EXPIRED, HANDLE_READS, &["--config", &cfg]));
        let start = std::time::Instant::now();
        while !exists(&marker) && start.elapsed() < Duration::from_secs(60) && !run.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::File::options()
            .write(true)
            .open(&fresh)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(40 * 86_400))
            .unwrap();
        run.join().unwrap()
    });
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    let refused = json!(["nothing-past-retention"]);
    assert_eq!(out["old"], refused, "opened expired");
    assert_eq!(out["before"], "logs/fresh.log\n");
    assert_eq!(out["after"], refused, "aged while open");
}

#[test]
fn the_labels_report_lists_what_is_past_retention_or_pending_erasure() {
    let s = Sandbox::new();
    let mut labels = crm(&s);
    labels["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"paths": ["{ROOT}/logs"], "retention": "P30D"}));
    aged(&s, "logs/old.log", 31);
    aged(&s, "logs/recent.log", 1);
    std::os::unix::fs::symlink(s.path("crm/customers/17"), s.root().join("public/c17")).unwrap();
    let labels = labels_file(&s, &labels);
    let root = s.path("");
    let (code, out, err) = tollgate_output(&["labels", "report", &root, "--labels", &labels]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let request = "request DSR-17 of 2026-11-30";
    let expect = [
        format!("erasure  {root}/crm/customers/17/  {request} (rule 2)"),
        format!("erasure  {root}/crm/customers/17/profile.json  {request} (rule 2)"),
        format!("erasure  {root}/crm/customers/17/tickets/  {request} (rule 2)"),
        format!("erasure  {root}/crm/customers/17/tickets/t1.txt  {request} (rule 2)"),
        format!("erasure  {root}/crm/exports/2026-11-c17.csv  {request} (rule 3)"),
        format!("expired  {root}/logs/old.log  age 31d 0h, retention P30D (rule 4)"),
    ];
    assert_eq!(lines[..6], expect, "{out}");
    assert!(
        lines[6].starts_with("1 past retention, 5 pending erasure, of "),
        "{out}"
    );
    assert_eq!(
        lines.len(),
        7,
        "the link and the recent log are not listed: {out}"
    );

    // The same from the host config's labels file, as JSON, and under a subdirectory.
    let cfg = s.config(&json!({ "labels": labels }));
    let sub = s.path("logs");
    let (code, out, err) = tollgate_output(&["labels", "report", &sub, "--config", &cfg, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["past_retention"], 1);
    assert_eq!(v["pending_erasure"], 0);
    let f = &v["findings"][0];
    assert_eq!(f["path"], s.path("logs/old.log"));
    assert_eq!(f["kind"], "file");
    assert_eq!(f["expired"]["retention"], "P30D");
    assert_eq!(f["expired"]["rule"], 4);
    let age = f["expired"]["age_seconds"].as_u64().unwrap();
    assert!((31 * 86_400..32 * 86_400).contains(&age), "{age}");

    // Refusals: no labels file to go by, one that does not load, a path that is not there.
    let bare = s.config(&json!({}));
    let (code, _, err) = tollgate_output(&["labels", "report", &root, "--config", &bare]);
    assert_eq!(code, 3);
    assert!(err.contains("names no labels file"), "{err}");
    let broken = s.audit.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"rules": [{"paths": ["/x"], "retention": "90 days"}]}"#,
    )
    .unwrap();
    let (code, _, err) = tollgate_output(&[
        "labels",
        "report",
        &root,
        "--labels",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("rule 1: retention"), "{err}");
    let (code, _, err) =
        tollgate_output(&["labels", "report", &s.path("missing"), "--labels", &labels]);
    assert_eq!(code, 3);
    assert!(err.contains("missing"), "{err}");
}

/// The requester is in the EU: reads follow the data's jurisdiction, GETs the endpoint's.
const SAME_JURISDICTION: &str = r#"
permit(principal is Agent, action in [file_system::Action::"open", file_system::Action::"read"],
       resource in file_system::Dir::"{ROOT}")
when { principal.on_behalf_of.jurisdiction == resource.labels.jurisdiction };
permit(principal is Agent, action == network::Action::"GET", resource)
when { resource.jurisdiction != "" && principal.on_behalf_of.jurisdiction == resource.jurisdiction };
"#;

/// A loopback HTTP server answering every request with `ok`.
fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    port
}

fn jurisdictions(s: &Sandbox, port: u16) -> String {
    s.write("eu/customers.csv", "eu\n");
    s.write("us/customers.csv", "us\n");
    labels_file(
        s,
        &json!({"rules": [{"paths": ["{ROOT}/eu"], "jurisdiction": "EU"},
                          {"paths": ["{ROOT}/us"], "jurisdiction": "US"}],
                "urls": [{"prefixes": [format!("http://127.0.0.1:{port}/eu/")], "jurisdiction": "EU"},
                         {"prefixes": [format!("http://127.0.0.1:{port}/us/")], "jurisdiction": "US"}]}),
    )
}

#[test]
fn policies_compare_the_requesters_jurisdiction_with_the_datas_and_the_endpoints() {
    let s = Sandbox::new();
    let port = server();
    let labels = jurisdictions(&s, port);
    let issuer = Issuer::new(
        &s,
        "listed",
        &json!({"users": {"alice": {"jurisdiction": "EU"}}}),
    );
    let cfg = issuer.config(&s, &labels, true);
    let token = issuer.token(&s, "support", json!({"purpose": "support"}));
    let script = format!(
        r#"
let out = #{{}};
let tries = #{{
    eu_file: || cat("{{ROOT}}/eu/customers.csv"),
    us_file: || cat("{{ROOT}}/us/customers.csv"),
    eu_url: || http_get("http://127.0.0.1:{port}/eu/orders").text,
    eu_url_spelt: || http_get("HTTP://127.1:{port}/x/../eu/orders").text,
    us_url: || http_get("http://127.0.0.1:{port}/us/orders").text,
    look_alike_host: || http_get("http://127.0.0.1.evil.net:{port}/eu/orders").text,
    look_alike_path: || http_get("http://127.0.0.1:{port}/eu-evil/orders").text,
    userinfo: || http_get("http://127.0.0.1:{port}@evil.net/eu/orders").text,
    userinfo_eu: || http_get("http://u@127.0.0.1:{port}/eu/orders").text,
}};
for name in tries.keys() {{
    try {{ out[name] = tries[name].call(); }} catch (e) {{ out[name] = e.kind; }}
}}
out
"#
    );
    let r = s.run_with(
        SAME_JURISDICTION,
        &script,
        &["--config", &cfg, "--token", &token],
    );
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["eu_file"], "eu\n");
    assert_eq!(out["eu_url"], "ok");
    assert_eq!(out["eu_url_spelt"], "ok", "decided on the canonical URL");
    for denied in ["us_file", "us_url", "look_alike_host", "look_alike_path"] {
        assert_eq!(out[denied], "PermissionDenied", "{denied}: {out}");
    }
    // Credentials in a URL are refused before any decision, whatever the host.
    for refused in ["userinfo", "userinfo_eu"] {
        assert_ne!(out[refused], "ok", "{refused}: {out}");
        assert_ne!(out[refused], "PermissionDenied", "{refused}: {out}");
    }

    // The token can say it where the directory does not; where both say and differ,
    // nothing runs.
    let silent = Issuer::new(&s, "silent", &json!({"users": {"alice": {}}}));
    let cfg = silent.config(&s, &labels, true);
    let eu = silent.token(
        &s,
        "eu",
        json!({"purpose": "support", "jurisdiction": "EU"}),
    );
    let r = s.run_with(
        SAME_JURISDICTION,
        r#"cat("{ROOT}/eu/customers.csv")"#,
        &["--config", &cfg, "--token", &eu],
    );
    assert_eq!(r.ok(), "eu\n");
    let cfg = issuer.config(&s, &labels, true);
    let us = issuer.token(
        &s,
        "us",
        json!({"purpose": "support", "jurisdiction": "US"}),
    );
    let marker = s.path("ran");
    let r = s.run_with(
        SAME_JURISDICTION,
        &format!(r#"write("{marker}", "x")"#),
        &["--config", &cfg, "--token", &us],
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains("\"EU\"") && r.message().contains("\"US\""),
        "{}",
        r.message()
    );
    assert!(!exists(&marker));
    // Without either, the requester is nowhere: no labelled data is theirs.
    let cfg = silent.config(&s, &labels, true);
    let none = silent.token(&s, "none", json!({"purpose": "support"}));
    let r = s.run_with(
        SAME_JURISDICTION,
        r#"cat("{ROOT}/eu/customers.csv")"#,
        &["--config", &cfg, "--token", &none],
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
}

/// The example's host files and the support agent's token (`examples/data-layer`), with
/// the example's directories moved under `root`.
fn example(file: &str, root: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data-layer")
        .join(file);
    std::fs::read_to_string(path)
        .unwrap()
        .replace("/tmp/tollgate-example-host", &format!("{root}/host"))
        .replace("/tmp/tollgate-example", &format!("{root}/data"))
}

#[test]
fn the_examples_support_agent_reads_eu_records_but_not_the_erased_one_nor_sends_to_the_us() {
    let s = Sandbox::new();
    let root = s.path("");
    for file in ["c-1041.json", "c-2077.json"] {
        s.write(
            &format!("data/crm/customers/{file}"),
            &example(&format!("data/crm/customers/{file}"), &root),
        );
    }
    for file in [
        "config.json",
        "labels.json",
        "directory.json",
        "issuer.jwks",
    ] {
        s.write(&format!("host/{file}"), &example(file, &root));
    }
    let token = s.audit.path().join("support.jwt");
    std::fs::write(&token, example("support.jwt", &root)).unwrap();
    let policy = r#"
permit(principal is Agent, action in [file_system::Action::"open", file_system::Action::"read"],
       resource in file_system::Dir::"{ROOT}/data/crm")
when { principal.on_behalf_of in Group::"support" && context.purpose == "customer-support"
       && principal.on_behalf_of.jurisdiction == resource.labels.jurisdiction };
permit(principal is Agent, action == network::Action::"GET", resource)
when { resource.jurisdiction == principal.on_behalf_of.jurisdiction };
"#;
    let script = r#"
let out = #{ ines: parse_json(cat("{ROOT}/data/crm/customers/c-1041.json")).country };
try { cat("{ROOT}/data/crm/customers/c-2077.json"); } catch (e) { out.jonas = e.message; }
try { http_get("https://api.us.example.com/v1/notes"); } catch (e) { out.us = e.kind; }
try { http_get("https://api.eu.example.com/v1/notes"); } catch (e) { out.eu = e.kind; }
out
"#;
    let config = format!("{root}/host/config.json");
    let token = format!("@{}", token.display());
    let r = s.run_with(policy, script, &["--config", &config, "--token", &token]);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["ines"], "FR");
    assert!(
        out["jonas"]
            .as_str()
            .unwrap()
            .contains("DSR-2077 of 2026-11-28"),
        "{out}"
    );
    assert_eq!(out["us"], "PermissionDenied");
    // Permitted: what stops it is the network (no resolver here), not the gate.
    assert_ne!(out["eu"], "PermissionDenied", "{out}");
    let records = s.records();
    assert_eq!(records[0]["on_behalf_of"], "User::\"carol\"");
    let us = records
        .iter()
        .find(|r| r["resource_id"] == "https://api.us.example.com:443/v1/notes")
        .unwrap();
    assert_eq!(us["decision"], "deny");
    assert_eq!(us["labels"], json!({"jurisdiction": "US"}));
}
