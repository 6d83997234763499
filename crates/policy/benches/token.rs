//! Cost of verifying a delegation token, as a run does once before it starts.
//!
//!     cargo bench -p tollgate-policy --bench token
//!
//! An EdDSA token against a JWKS of one key and against one of 50 keys (found by `kid`),
//! beside decoding the same token's header and claims without checking anything, in one
//! run. Prints the median of 21 rounds of 2,000 verifications each.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;
use tollgate_policy::{verify_token, TrustConfig};

fn jwk(kid: &str) -> (Vec<u8>, serde_json::Value) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "x": x});
    (pkcs8.as_ref().to_vec(), jwk)
}

fn median_us(rounds: usize, per_round: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_round {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / per_round as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[rounds / 2]
}

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (pkcs8, signer) = jwk("k0");
    let others: Vec<serde_json::Value> = (1..50).map(|i| jwk(&format!("k{i}")).1).collect();
    let claims = json!({"sub": "alice", "act": {"sub": "ops-agent"}, "purpose": "incident-response",
                        "ticket": "INC-42", "aud": "web-1", "jti": "t-1", "iat": now, "exp": now + 300});
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k0".into());
    let token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8)).expect("sign");
    let one = TrustConfig::new(&json!({"keys": [signer]}).to_string(), vec!["web-1".into()])
        .expect("jwks");
    let mut keys = others;
    keys.push(signer);
    let fifty =
        TrustConfig::new(&json!({"keys": keys}).to_string(), vec!["web-1".into()]).expect("jwks");
    let (rounds, n) = (21, 2_000);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode_only = median_us(rounds, n, || {
        for part in token.split('.').take(2) {
            let bytes = engine.decode(part).expect("base64");
            black_box(serde_json::from_slice::<serde_json::Value>(&bytes).expect("json"));
        }
    });
    let with_one = median_us(rounds, n, || {
        black_box(verify_token(&token, &one).expect("valid"));
    });
    let with_fifty = median_us(rounds, n, || {
        black_box(verify_token(&token, &fifty).expect("valid"));
    });
    println!("| measurement | per token |\n|---|---|");
    println!("| decode header and claims, no checks | {decode_only:.1} µs |");
    println!("| verify_token, EdDSA, JWKS of 1 key | {with_one:.1} µs |");
    println!("| verify_token, EdDSA, JWKS of 50 keys | {with_fifty:.1} µs |");
}
