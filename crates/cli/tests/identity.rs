//! Runs on behalf of a verified human: delegation tokens, the directory, purpose, and the
//! audit trail that shows who authorized what.

mod common;

use base64::Engine as _;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

/// An issuer (Ed25519 key `k1`), the host config that trusts it, and the directory.
struct Issuer {
    key: EncodingKey,
    config: String,
}

impl Issuer {
    fn new(s: &Sandbox, require_token: bool) -> Issuer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
        let jwks = s.write(
            ".host/issuers.jwks",
            &json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": x}]})
                .to_string(),
        );
        let directory = s.write(
            ".host/directory.json",
            &json!({"users": {"alice": {"groups": ["oncall"]}, "bob": {"groups": ["sales"]}},
                    "groups": {"oncall": {}, "sales": {}}})
            .to_string(),
        );
        let config = s.write(
            ".host/config.json",
            &json!({"identity": {"jwks": jwks, "audience": ["web-1"], "directory": directory,
                                 "require_token": require_token}})
            .to_string(),
        );
        Issuer {
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            config,
        }
    }

    /// A token file for `sub`, acted on by `ops-agent`, with `purpose`; `exp_in` seconds left.
    fn token(&self, s: &Sandbox, sub: &str, purpose: &str, exp_in: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = json!({"sub": sub, "act": {"sub": "ops-agent"}, "purpose": purpose,
                            "ticket": "INC-42", "aud": "web-1", "jti": format!("t-{sub}-{purpose}"),
                            "iat": now, "exp": now + exp_in});
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&header, &claims, &self.key).unwrap();
        format!(
            "@{}",
            s.write(&format!(".host/{sub}-{purpose}.jwt"), &token)
        )
    }

    fn run(&self, s: &Sandbox, token: Option<&str>, script: &str) -> Run {
        let mut extra = vec!["--config", self.config.as_str()];
        if let Some(t) = token {
            extra.extend(["--token", t]);
        }
        s.run_with(ONCALL_READS_LOGS, script, &extra)
    }
}

/// The on-call engineers' agents may read the logs, for incident response only.
const ONCALL_READS_LOGS: &str = r#"
@id("oncall-incident-logs")
permit(principal is Agent, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/logs")
when { principal.on_behalf_of in Group::"oncall" && context.purpose == "incident-response" };
"#;

fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

#[test]
fn an_agent_reads_for_an_oncall_engineer_and_the_trail_says_so() {
    let s = Sandbox::new();
    s.write("logs/app.log", "ERROR disk full\n");
    let issuer = Issuer::new(&s, false);
    let token = issuer.token(&s, "alice", "incident-response", 300);
    let r = issuer.run(&s, Some(&token), r#"cat("{ROOT}/logs/app.log")"#);
    assert_eq!(r.ok(), "ERROR disk full\n");

    let (code, out, err) = s.audit(&[
        "show",
        "--dir",
        &s.audit_dir(),
        "--on-behalf-of",
        "alice",
        "--purpose",
        "incident-response",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let shown: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = of_kind(&shown, "run_start");
    assert_eq!(start.len(), 1, "{out}");
    assert_eq!(start[0]["principal"], r#"Agent::"ops-agent""#);
    assert_eq!(start[0]["on_behalf_of"], r#"User::"alice""#);
    assert_eq!(start[0]["ticket"], "INC-42");
    assert_eq!(start[0]["token"]["actors"], json!(["ops-agent"]));
    assert_eq!(start[0]["token"]["jti"], "t-alice-incident-response");
    let reads: Vec<&Value> = of_kind(&shown, "decision")
        .into_iter()
        .filter(|d| d["action"] == r#"file_system::Action::"read""#)
        .collect();
    assert_eq!(reads.len(), 1, "{out}");
    assert_eq!(reads[0]["decision"], "permit");
    assert_eq!(reads[0]["policies"], json!(["oncall-incident-logs"]));
    assert_eq!(reads[0]["purpose"], "incident-response");

    let (_, other, _) = s.audit(&["show", "--dir", &s.audit_dir(), "--on-behalf-of", "bob"]);
    assert!(other.trim().is_empty(), "bob authorized nothing: {other}");
}

#[test]
fn the_wrong_purpose_or_the_wrong_person_is_denied() {
    let s = Sandbox::new();
    s.write("logs/app.log", "ERROR disk full\n");
    let issuer = Issuer::new(&s, false);
    let script = r#"cat("{ROOT}/logs/app.log")"#;
    let curious = issuer.token(&s, "alice", "curiosity", 300);
    let r = issuer.run(&s, Some(&curious), script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains(r#"Agent::"ops-agent""#),
        "{}",
        r.message()
    );
    let sales = issuer.token(&s, "bob", "incident-response", 300);
    assert_eq!(issuer.run(&s, Some(&sales), script).code, 4);
    // Without a token the OS user is the principal, and no policy names it.
    assert_eq!(issuer.run(&s, None, script).code, 4);
}

#[test]
fn a_refused_token_stops_the_run_before_it_starts_and_is_recorded() {
    let s = Sandbox::new();
    s.write("logs/app.log", "ERROR disk full\n");
    let issuer = Issuer::new(&s, false);
    let expired = issuer.token(&s, "alice", "incident-response", -3600);
    let r = issuer.run(&s, Some(&expired), r#"cat("{ROOT}/logs/app.log")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains("expired"), "{}", r.message());
    // Nothing started: no run start, no decision, only the refusal.
    let records = s.records();
    assert!(of_kind(&records, "run_start").is_empty());
    assert!(of_kind(&records, "decision").is_empty());
    let refused = of_kind(&records, "run_refused");
    assert_eq!(refused.len(), 1, "{records:?}");
    assert!(refused[0]["message"].as_str().unwrap().contains("expired"));

    let r = issuer.run(&s, Some("not-a-jwt"), "1");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("malformed"), "{}", r.message());
}

#[test]
fn a_host_that_requires_a_token_refuses_a_run_without_one() {
    let s = Sandbox::new();
    let issuer = Issuer::new(&s, true);
    let r = issuer.run(&s, None, "1 + 1");
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains("requires a delegation token"),
        "{}",
        r.message()
    );
    let refused = s.records();
    assert_eq!(of_kind(&refused, "run_refused").len(), 1, "{refused:?}");
    let principal = of_kind(&refused, "run_refused")[0]["principal"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(principal.starts_with("User::"), "{principal}");
}
