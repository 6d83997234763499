//! Who a run acts for, and why.
//!
//! Without a token, a run's principal is the OS user, as in Rex. With a delegation token (a
//! JWT the organisation issued), it is an `Agent` acting on behalf of the human the token
//! names, for the purpose and ticket the token states. The token is verified against the
//! host's trust configuration (a JWKS) before anything runs; every reason to refuse it has
//! its own error. The host's directory file says which groups a user is in and carries their
//! attributes, so a policy can ask `principal.on_behalf_of in Group::"oncall"`.
//!
//! A user's jurisdiction (where the person is, for comparing with the data's and an
//! endpoint's) comes from the directory's `jurisdiction` for the user or the token's
//! `jurisdiction` claim; where both give one and they differ, the run is refused
//! ([`Directory::check_jurisdiction`]) rather than one of them guessed at.
//!
//! This module reads no file itself: the caller hands it the texts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use base64::Engine as _;
use cedar_policy::{EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use cedar_policy_core::ast;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use smol_str::SmolStr;

/// Why a token or the identity configuration was refused. Each one stops the run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("the delegation token is malformed: {0}")]
    Malformed(String),
    #[error("the delegation token uses alg \"none\" (unsigned); only EdDSA, ES256 and RS256 tokens are accepted")]
    Unsigned,
    #[error("the delegation token uses alg {0}; only EdDSA, ES256 and RS256 are accepted")]
    Algorithm(String),
    #[error("the delegation token names key {0:?}, which the host's JWKS does not hold; add the issuer's key to the JWKS")]
    UnknownKey(String),
    #[error("the delegation token's signature does not verify against key {0:?}")]
    BadSignature(String),
    #[error("the delegation token has expired (exp {0}); ask for a new one")]
    Expired(u64),
    #[error("the delegation token is not valid yet (nbf {0}); check the clocks")]
    NotYetValid(u64),
    #[error("the delegation token is for audience {found}, not this host ({expected})")]
    WrongAudience { found: String, expected: String },
    #[error("the delegation token lacks the claim {0:?}")]
    MissingClaim(String),
    #[error("the host's JWKS is invalid: {0}")]
    Jwks(String),
    #[error("the host's directory file is invalid: {0}")]
    Directory(String),
    #[error("the host's directory says user {user:?} is in jurisdiction {directory:?}, but the delegation token says {token:?}; correct the directory or have the token reissued")]
    JurisdictionConflict {
        user: String,
        directory: String,
        token: String,
    },
}

/// What the host trusts: the issuers' public keys and the audiences that mean this host.
pub struct TrustConfig {
    keys: JwkSet,
    audiences: Vec<String>,
}

impl TrustConfig {
    /// `jwks`: the JWKS text; `audiences`: the names this host answers to (its host name, the
    /// group it is in).
    pub fn new(jwks: &str, audiences: Vec<String>) -> Result<TrustConfig, IdentityError> {
        let keys: JwkSet =
            serde_json::from_str(jwks).map_err(|e| IdentityError::Jwks(e.to_string()))?;
        if audiences.is_empty() {
            return Err(IdentityError::Jwks(
                "no audience is configured for this host".to_owned(),
            ));
        }
        Ok(TrustConfig { keys, audiences })
    }
}

/// A verified delegation: who, through which agents, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    /// The human (`sub`).
    pub subject: String,
    /// The acting agents, the one running this script first (`act.sub`, then nested `act`s).
    pub actors: Vec<String>,
    pub purpose: String,
    pub ticket: String,
    pub issuer: String,
    pub token_id: String,
    pub expires: u64,
    /// Where the human is (`jurisdiction`), if the token says.
    pub jurisdiction: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    act: Option<Actor>,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    iss: String,
    #[serde(default)]
    jti: String,
    exp: Option<u64>,
    jurisdiction: Option<String>,
}

/// RFC 8693 actor claim: the current actor, and the one before it, nested.
#[derive(Deserialize)]
struct Actor {
    sub: String,
    act: Option<Box<Actor>>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// How long after `exp` (and before `nbf`) a token is still taken, for clock skew.
const LEEWAY_SECONDS: u64 = 30;

/// Verifies a token: its shape, algorithm, key, signature, time window and audience.
pub fn verify_token(token: &str, trust: &TrustConfig) -> Result<Delegation, IdentityError> {
    let token = token.trim();
    // The header is read first by hand so that `alg: none` gets its own answer rather than a
    // parse error.
    let header_b64 = token
        .split('.')
        .next()
        .filter(|_| token.matches('.').count() == 2)
        .ok_or_else(|| IdentityError::Malformed("a JWT has three dot-separated parts".into()))?;
    let header_json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|e| IdentityError::Malformed(format!("header: {e}")))?;
    let header: RawHeader = serde_json::from_slice(&header_json)
        .map_err(|e| IdentityError::Malformed(format!("header: {e}")))?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(IdentityError::Unsigned);
    }
    let alg = match header.alg.as_str() {
        "EdDSA" => Algorithm::EdDSA,
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        other => return Err(IdentityError::Algorithm(other.to_owned())),
    };
    let kid = header.kid.unwrap_or_default();
    let jwk = trust
        .keys
        .keys
        .iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
        .ok_or_else(|| IdentityError::UnknownKey(kid.clone()))?;
    // A key published for one algorithm is never used with another (algorithm confusion).
    if let Some(key_alg) = jwk.common.key_algorithm {
        let same = matches!(
            (key_alg, alg),
            (KeyAlgorithm::EdDSA, Algorithm::EdDSA)
                | (KeyAlgorithm::ES256, Algorithm::ES256)
                | (KeyAlgorithm::RS256, Algorithm::RS256)
        );
        if !same {
            return Err(IdentityError::Algorithm(format!(
                "{} while key {kid:?} is for {key_alg:?}",
                header.alg
            )));
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| IdentityError::Jwks(e.to_string()))?;
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_audience(&trust.audiences);
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    use jsonwebtoken::errors::ErrorKind;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        let claims = unverified_claims(token);
        match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::Crypto(_) => {
                IdentityError::BadSignature(kid.clone())
            }
            ErrorKind::InvalidAlgorithm => IdentityError::Algorithm(header.alg.clone()),
            ErrorKind::ExpiredSignature => IdentityError::Expired(claim_u64(&claims, "exp")),
            ErrorKind::ImmatureSignature => IdentityError::NotYetValid(claim_u64(&claims, "nbf")),
            ErrorKind::InvalidAudience => IdentityError::WrongAudience {
                found: claims.get("aud").map(|a| a.to_string()).unwrap_or_default(),
                expected: trust.audiences.join(", "),
            },
            ErrorKind::MissingRequiredClaim(c) => IdentityError::MissingClaim(c.clone()),
            other => IdentityError::Malformed(format!("{other:?}")),
        }
    })?;
    let claims = data.claims;
    // `decode` required these; a missing one would have been refused above.
    let subject = claims
        .sub
        .ok_or_else(|| IdentityError::MissingClaim("sub".into()))?;
    let mut actors = Vec::new();
    let mut next = claims.act.map(Box::new);
    while let Some(actor) = next {
        actors.push(actor.sub);
        next = actor.act;
    }
    Ok(Delegation {
        subject,
        actors,
        purpose: claims.purpose,
        ticket: claims.ticket,
        issuer: claims.iss,
        token_id: claims.jti,
        expires: claims.exp.unwrap_or_default(),
        // An empty claim says nothing, as an absent one.
        jurisdiction: claims.jurisdiction.filter(|j| !j.is_empty()),
    })
}

/// The payload without checking it, only to name the claim in an error message.
fn unverified_claims(token: &str) -> serde_json::Map<String, serde_json::Value> {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn claim_u64(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> u64 {
    claims.get(name).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// Whom the gate asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `User::"<name>"`: the OS user, or a human acting directly with a token.
    User(String),
    /// `Agent::"<agent>"` with `on_behalf_of` = `User::"<user>"`.
    Agent { agent: String, on_behalf_of: String },
}

/// Who a run acts for, and why: the principal and the request context every decision gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub purpose: String,
    pub ticket: String,
    /// The token it came from, if any.
    pub delegation: Option<Delegation>,
}

impl Caller {
    /// The OS user, with no stated purpose (Rex's principal).
    pub fn os_user(name: &str) -> Caller {
        Caller {
            principal: Principal::User(name.to_owned()),
            purpose: String::new(),
            ticket: String::new(),
            delegation: None,
        }
    }

    /// The caller a verified token describes: its first actor acting for its subject, or the
    /// subject itself when no agent is named.
    pub fn delegated(delegation: Delegation) -> Caller {
        let principal = match delegation.actors.first() {
            Some(agent) => Principal::Agent {
                agent: agent.clone(),
                on_behalf_of: delegation.subject.clone(),
            },
            None => Principal::User(delegation.subject.clone()),
        };
        Caller {
            principal,
            purpose: delegation.purpose.clone(),
            ticket: delegation.ticket.clone(),
            delegation: Some(delegation),
        }
    }

    /// The human behind the run.
    pub fn on_behalf_of(&self) -> Option<&str> {
        match &self.principal {
            Principal::Agent { on_behalf_of, .. } => Some(on_behalf_of),
            Principal::User(_) => None,
        }
    }

    /// The principal as Cedar names it, e.g. `User::"alice"`: what every record of the
    /// caller's decisions says.
    pub fn principal_uid(&self) -> String {
        self.uid().to_string()
    }

    pub(crate) fn uid(&self) -> EntityUid {
        match &self.principal {
            Principal::User(name) => uid("User", name),
            Principal::Agent { agent, .. } => uid("Agent", agent),
        }
    }

    /// The context pairs every request of the run carries.
    pub(crate) fn context_pairs(&self) -> [(String, RestrictedExpression); 2] {
        [
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(self.purpose.clone()),
            ),
            (
                "ticket".to_owned(),
                RestrictedExpression::new_string(self.ticket.clone()),
            ),
        ]
    }

    /// The user the caller is or acts for.
    fn user_name(&self) -> &str {
        match &self.principal {
            Principal::User(name) => name,
            Principal::Agent { on_behalf_of, .. } => on_behalf_of,
        }
    }

    /// The entities a request needs to decide about this caller: the agent, the user it acts
    /// for (or the user itself) with its groups as ancestors, its jurisdiction and its
    /// attributes as tags, and those groups.
    pub(crate) fn entities(&self, directory: &Directory) -> Vec<ast::Entity> {
        let user_name = self.user_name();
        let mut out = Vec::new();
        if let Principal::Agent { agent, .. } = &self.principal {
            out.push(ast::Entity::new_with_attr_partial_value(
                uid("Agent", agent).into(),
                [(
                    SmolStr::new_static("on_behalf_of"),
                    ast::PartialValue::Value(ast::Value::from(ast::EntityUID::from(uid(
                        "User", user_name,
                    )))),
                )],
                HashSet::new(),
                HashSet::new(),
                [],
            ));
        }
        let groups = directory.groups_of(user_name);
        let tags: Vec<(SmolStr, ast::PartialValue)> = directory
            .users
            .get(user_name)
            .map(|u| {
                u.attributes
                    .iter()
                    .map(|(k, v)| {
                        (
                            SmolStr::new(k),
                            ast::PartialValue::Value(ast::Value::from(v.as_str())),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let jurisdiction = directory.jurisdiction_of(self).unwrap_or_default();
        out.push(ast::Entity::new_with_attr_partial_value(
            uid("User", user_name).into(),
            [(
                SmolStr::new_static("jurisdiction"),
                ast::PartialValue::Value(ast::Value::from(jurisdiction)),
            )],
            HashSet::new(),
            groups.iter().map(|g| uid("Group", g).into()).collect(),
            tags,
        ));
        for group in &groups {
            out.push(ast::Entity::new_with_attr_partial_value(
                uid("Group", group).into(),
                [],
                HashSet::new(),
                directory
                    .ancestors_of_group(group)
                    .iter()
                    .map(|g| uid("Group", g).into())
                    .collect(),
                [],
            ));
        }
        out
    }
}

fn uid(ty: &str, id: &str) -> EntityUid {
    // "User", "Agent" and "Group" are fixed, valid type names.
    let ty = EntityTypeName::from_str(ty).unwrap_or_else(|_| unreachable!());
    EntityUid::from_type_name_and_id(ty, EntityId::new(id))
}

/// The host's directory: users with their groups, jurisdiction and attributes, groups with
/// the groups they are in. JSON:
/// `{"users": {"alice": {"groups": ["oncall"], "jurisdiction": "EU", "attributes": {"team": "sre"}}},
///   "groups": {"oncall": {"groups": ["engineering"]}}}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    #[serde(default)]
    users: HashMap<String, DirectoryUser>,
    #[serde(default)]
    groups: HashMap<String, DirectoryGroup>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryUser {
    #[serde(default)]
    groups: Vec<String>,
    jurisdiction: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryGroup {
    #[serde(default)]
    groups: Vec<String>,
}

impl Directory {
    pub fn parse(text: &str) -> Result<Directory, IdentityError> {
        let directory: Directory =
            serde_json::from_str(text).map_err(|e| IdentityError::Directory(e.to_string()))?;
        for (name, user) in &directory.users {
            if user.jurisdiction.as_deref() == Some("") {
                return Err(IdentityError::Directory(format!(
                    "user {name:?} has an empty jurisdiction; give one (e.g. \"EU\") or leave it out"
                )));
            }
            for group in &user.groups {
                if !directory.groups.contains_key(group) {
                    return Err(IdentityError::Directory(format!(
                        "user {name:?} is in group {group:?}, which is not defined under \"groups\""
                    )));
                }
            }
        }
        Ok(directory)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The jurisdiction of the user `caller` is or acts for: the directory's, else the
    /// token's; `None` when neither says.
    pub fn jurisdiction_of<'a>(&'a self, caller: &'a Caller) -> Option<&'a str> {
        let listed = self
            .users
            .get(caller.user_name())
            .and_then(|u| u.jurisdiction.as_deref());
        let claimed = caller
            .delegation
            .as_ref()
            .and_then(|d| d.jurisdiction.as_deref());
        listed.or(claimed)
    }

    /// Refuses a caller whose token states another jurisdiction than the directory gives the
    /// same user: a policy comparing jurisdictions must not decide on one of two answers. A
    /// run checks this before it starts.
    pub fn check_jurisdiction(&self, caller: &Caller) -> Result<(), IdentityError> {
        let user = caller.user_name();
        let listed = self.users.get(user).and_then(|u| u.jurisdiction.as_deref());
        let claimed = caller
            .delegation
            .as_ref()
            .and_then(|d| d.jurisdiction.as_deref());
        match (listed, claimed) {
            (Some(d), Some(t)) if d != t => Err(IdentityError::JurisdictionConflict {
                user: user.to_owned(),
                directory: d.to_owned(),
                token: t.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The part of the directory that `caller`'s entities are read from: its user and the
    /// groups that user is in, directly or not. A gate keeps only this.
    pub(crate) fn about(&self, caller: &Caller) -> Directory {
        let user = caller.user_name();
        let users = self
            .users
            .get(user)
            .map(|u| (user.to_owned(), u.clone()))
            .into_iter()
            .collect();
        let groups = self
            .groups_of(user)
            .into_iter()
            .filter_map(|g| self.groups.get(&g).map(|d| (g, d.clone())))
            .collect();
        Directory { users, groups }
    }

    /// Every group the user is in, directly or through other groups.
    fn groups_of(&self, user: &str) -> Vec<String> {
        let direct = self
            .users
            .get(user)
            .map(|u| u.groups.clone())
            .unwrap_or_default();
        self.close(direct)
    }

    fn ancestors_of_group(&self, group: &str) -> Vec<String> {
        let direct = self
            .groups
            .get(group)
            .map(|g| g.groups.clone())
            .unwrap_or_default();
        self.close(direct)
    }

    /// The transitive closure of `start` over group membership (cycles end the walk).
    fn close(&self, start: Vec<String>) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        let mut todo = start;
        while let Some(g) = todo.pop() {
            if seen.contains(&g) {
                continue;
            }
            if let Some(parent) = self.groups.get(&g) {
                todo.extend(parent.groups.iter().cloned());
            }
            seen.push(g);
        }
        seen.sort();
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::rand::SystemRandom;
    use ring::signature::{self, KeyPair};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// An Ed25519 issuer key: the signing key and its JWK.
    fn ed25519(kid: &str) -> (EncodingKey, serde_json::Value) {
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA",
                         "x": b64(pair.public_key().as_ref())});
        (EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
    }

    /// A P-256 issuer key for ES256.
    fn p256(kid: &str) -> (EncodingKey, serde_json::Value) {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let rng = SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid,
                         "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
    }

    fn trust(keys: &[&serde_json::Value]) -> TrustConfig {
        TrustConfig::new(&json!({ "keys": keys }).to_string(), vec!["web-1".into()]).unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({"sub": "alice", "act": {"sub": "ops-agent", "act": {"sub": "planner"}},
               "purpose": "incident-response", "ticket": "INC-42", "aud": "web-1",
               "iss": "https://idp.example", "jti": "t-1",
               "iat": now(), "nbf": now() - 5, "exp": now() + 300})
    }

    fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &serde_json::Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    #[test]
    fn a_valid_eddsa_token_names_the_human_the_agents_and_the_purpose() {
        let (key, jwk) = ed25519("k1");
        let token = sign(Algorithm::EdDSA, "k1", &key, &claims());
        let d = verify_token(&token, &trust(&[&jwk])).unwrap();
        assert_eq!(d.subject, "alice");
        assert_eq!(d.actors, ["ops-agent", "planner"]);
        assert_eq!(
            (d.purpose.as_str(), d.ticket.as_str()),
            ("incident-response", "INC-42")
        );
        assert_eq!(d.token_id, "t-1");
        let caller = Caller::delegated(d);
        assert_eq!(
            caller.principal,
            Principal::Agent {
                agent: "ops-agent".into(),
                on_behalf_of: "alice".into()
            }
        );
        assert_eq!(caller.uid().to_string(), r#"Agent::"ops-agent""#);
    }

    /// An RSA issuer key for RS256, made by the openssl command (ring cannot generate RSA
    /// keys): PKCS#1 DER for signing, the modulus for the JWK.
    fn rsa(kid: &str) -> (EncodingKey, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("key.pem");
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let pem_path = pem.to_str().unwrap();
        openssl(&["genrsa", "-out", pem_path, "2048"]);
        let der = openssl(&["rsa", "-in", pem_path, "-traditional", "-outform", "DER"]);
        let modulus =
            String::from_utf8(openssl(&["rsa", "-in", pem_path, "-noout", "-modulus"])).unwrap();
        let hex = modulus.trim().trim_start_matches("Modulus=");
        let n: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256", "n": b64(&n), "e": "AQAB"});
        (EncodingKey::from_rsa_der(&der), jwk)
    }

    #[test]
    fn a_valid_rs256_token_is_accepted_and_a_forged_one_refused() {
        let (key, jwk) = rsa("rsa");
        let (other, _) = rsa("rsa");
        let t = trust(&[&jwk]);
        let token = sign(Algorithm::RS256, "rsa", &key, &claims());
        assert_eq!(verify_token(&token, &t).unwrap().subject, "alice");
        let forged = sign(Algorithm::RS256, "rsa", &other, &claims());
        assert_eq!(
            verify_token(&forged, &t),
            Err(IdentityError::BadSignature("rsa".into()))
        );
    }

    #[test]
    fn a_valid_es256_token_is_accepted() {
        let (key, jwk) = p256("ec");
        let token = sign(Algorithm::ES256, "ec", &key, &claims());
        assert_eq!(
            verify_token(&token, &trust(&[&jwk])).unwrap().subject,
            "alice"
        );
    }

    #[test]
    fn each_bad_token_is_refused_with_its_own_reason() {
        let (key, jwk) = ed25519("k1");
        let (other_key, _) = ed25519("k1");
        let t = trust(&[&jwk]);
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut c = claims();
            f(&mut c);
            sign(Algorithm::EdDSA, "k1", &key, &c)
        };
        let expired = with(&|c| c["exp"] = json!(now() - 3600));
        assert!(matches!(
            verify_token(&expired, &t),
            Err(IdentityError::Expired(_))
        ));
        let early = with(&|c| c["nbf"] = json!(now() + 3600));
        assert!(matches!(
            verify_token(&early, &t),
            Err(IdentityError::NotYetValid(_))
        ));
        let elsewhere = with(&|c| c["aud"] = json!("db-7"));
        let e = verify_token(&elsewhere, &t).unwrap_err();
        assert!(matches!(e, IdentityError::WrongAudience { .. }), "{e}");
        assert!(
            e.to_string().contains("db-7") && e.to_string().contains("web-1"),
            "{e}"
        );
        let no_exp = with(&|c| {
            c.as_object_mut().unwrap().remove("exp");
        });
        assert_eq!(
            verify_token(&no_exp, &t),
            Err(IdentityError::MissingClaim("exp".into()))
        );
        let unknown = sign(Algorithm::EdDSA, "k9", &key, &claims());
        assert_eq!(
            verify_token(&unknown, &t),
            Err(IdentityError::UnknownKey("k9".into()))
        );
        let forged = sign(Algorithm::EdDSA, "k1", &other_key, &claims());
        assert_eq!(
            verify_token(&forged, &t),
            Err(IdentityError::BadSignature("k1".into()))
        );
        // The payload of a good token, re-signed by nobody.
        let good = sign(Algorithm::EdDSA, "k1", &key, &claims());
        let payload = good.split('.').nth(1).unwrap();
        let unsigned = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"k1"}"#));
        assert_eq!(verify_token(&unsigned, &t), Err(IdentityError::Unsigned));
        let hmac = format!("{}.{payload}.AAAA", b64(br#"{"alg":"HS256","kid":"k1"}"#));
        assert_eq!(
            verify_token(&hmac, &t),
            Err(IdentityError::Algorithm("HS256".into()))
        );
        assert!(matches!(
            verify_token("not a token", &t),
            Err(IdentityError::Malformed(_))
        ));
    }

    #[test]
    fn a_key_published_for_one_algorithm_is_not_used_for_another() {
        let (key, mut jwk) = ed25519("k1");
        jwk["alg"] = json!("ES256");
        let token = sign(Algorithm::EdDSA, "k1", &key, &claims());
        let e = verify_token(&token, &trust(&[&jwk])).unwrap_err();
        assert!(matches!(e, IdentityError::Algorithm(_)), "{e}");
    }

    #[test]
    fn directory_groups_are_closed_transitively_and_undefined_groups_refused() {
        let d = Directory::parse(
            r#"{"users": {"alice": {"groups": ["oncall"], "attributes": {"team": "sre"}}},
                "groups": {"oncall": {"groups": ["engineering"]}, "engineering": {}}}"#,
        )
        .unwrap();
        assert_eq!(d.groups_of("alice"), ["engineering", "oncall"]);
        assert!(d.groups_of("bob").is_empty());
        let e = Directory::parse(r#"{"users": {"bob": {"groups": ["ghosts"]}}}"#).unwrap_err();
        assert!(e.to_string().contains("ghosts"), "{e}");
        assert!(Directory::parse(r#"{"people": {}}"#).is_err());
    }

    /// A gate keeps only the caller's part of the directory: its entities must not change.
    #[test]
    fn the_callers_part_of_the_directory_gives_the_same_entities() {
        let d = Directory::parse(
            r#"{"users": {"alice": {"groups": ["oncall"], "attributes": {"team": "sre"}},
                          "bob": {"groups": ["finance"]}},
                "groups": {"oncall": {"groups": ["engineering"]}, "engineering": {"groups": ["staff"]},
                           "staff": {}, "finance": {"groups": ["staff"]}}}"#,
        )
        .unwrap();
        for name in ["alice", "bob", "carol"] {
            let caller = Caller::os_user(name);
            let part = d.about(&caller);
            let (mine, all) = (caller.entities(&part), caller.entities(&d));
            assert_eq!(mine.len(), all.len(), "{name}");
            for e in &mine {
                assert!(all.contains(e), "{name}: {e:?} is not among {all:?}");
            }
            assert!(part.users.len() <= 1, "{name}: {:?}", part.users.keys());
        }
        let alice = d.about(&Caller::os_user("alice"));
        let mut groups: Vec<&String> = alice.groups.keys().collect();
        groups.sort();
        assert_eq!(groups, ["engineering", "oncall", "staff"]);
    }

    fn user_jurisdiction(caller: &Caller, directory: &Directory) -> String {
        let user = caller
            .entities(directory)
            .into_iter()
            .find(|e| e.uid().entity_type().to_string() == "User")
            .unwrap();
        match user.get("jurisdiction") {
            Some(ast::PartialValue::Value(v)) => v.to_string().trim_matches('"').to_owned(),
            other => panic!("no jurisdiction: {other:?}"),
        }
    }

    #[test]
    fn a_users_jurisdiction_comes_from_the_directory_or_the_token() {
        let (key, jwk) = ed25519("k1");
        let t = trust(&[&jwk]);
        let token = |jurisdiction: Option<&str>| {
            let mut c = claims();
            if let Some(j) = jurisdiction {
                c["jurisdiction"] = json!(j);
            }
            Caller::delegated(verify_token(&sign(Algorithm::EdDSA, "k1", &key, &c), &t).unwrap())
        };
        let listed = Directory::parse(r#"{"users": {"alice": {"jurisdiction": "EU"}}}"#).unwrap();
        let silent = Directory::parse(r#"{"users": {"alice": {}}}"#).unwrap();
        // From the token, for the human it names (the agent's principal acts for alice).
        assert_eq!(user_jurisdiction(&token(Some("EU")), &silent), "EU");
        assert_eq!(
            token(Some("EU"))
                .delegation
                .unwrap()
                .jurisdiction
                .as_deref(),
            Some("EU")
        );
        // From the directory, with or without a token.
        assert_eq!(user_jurisdiction(&token(None), &listed), "EU");
        assert_eq!(user_jurisdiction(&Caller::os_user("alice"), &listed), "EU");
        // Neither: "", which equals no labelled jurisdiction.
        assert_eq!(user_jurisdiction(&token(None), &silent), "");
        assert_eq!(user_jurisdiction(&token(Some("")), &silent), "");
        assert_eq!(user_jurisdiction(&Caller::os_user("bob"), &listed), "");
        // Both, agreeing: fine; differing: refused, naming both.
        listed.check_jurisdiction(&token(Some("EU"))).unwrap();
        listed.check_jurisdiction(&token(None)).unwrap();
        silent.check_jurisdiction(&token(Some("US"))).unwrap();
        let e = listed.check_jurisdiction(&token(Some("US"))).unwrap_err();
        assert_eq!(
            e,
            IdentityError::JurisdictionConflict {
                user: "alice".into(),
                directory: "EU".into(),
                token: "US".into()
            }
        );
        assert!(
            e.to_string().contains("\"EU\"") && e.to_string().contains("\"US\""),
            "{e}"
        );
        // Case is not folded: "eu" is another answer than "EU".
        assert!(listed.check_jurisdiction(&token(Some("eu"))).is_err());
        // The caller's part of the directory keeps the jurisdiction.
        assert_eq!(
            user_jurisdiction(&token(None), &listed.about(&token(None))),
            "EU"
        );
    }

    #[test]
    fn an_empty_or_mistyped_directory_jurisdiction_is_refused() {
        let e = Directory::parse(r#"{"users": {"alice": {"jurisdiction": ""}}}"#).unwrap_err();
        assert!(e.to_string().contains("empty jurisdiction"), "{e}");
        assert!(Directory::parse(r#"{"users": {"alice": {"jurisdiction": ["EU"]}}}"#).is_err());
        assert!(Directory::parse(r#"{"users": {"alice": {"jurisdictions": "EU"}}}"#).is_err());
    }
}
