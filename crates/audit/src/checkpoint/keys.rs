//! Keys: the Ed25519 signing key and its verifier, their text forms, names and key ids.

use super::*;

/// Key names are non-empty, without Unicode spaces or '+' (signed-note spec), since both
/// separate fields in signature lines and key texts. Control characters are excluded too,
/// since notes cannot hold them.
pub(super) fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.chars().any(bad) {
        return Err(CheckpointError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// A 32-byte Ed25519 key (public, or the private seed) prefixed with its algorithm byte, as
/// key texts and key ids carry it.
pub(super) fn typed_key(key: &[u8; 32]) -> Vec<u8> {
    let mut typed = Vec::with_capacity(1 + key.len());
    typed.push(ALG_ED25519);
    typed.extend_from_slice(key);
    typed
}

/// The first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
pub(super) fn key_id(name: &str, key: &VerifyingKey) -> KeyId {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(name)
        .chain_update(b"\n")
        .chain_update(typed_key(key.as_bytes()))
        .finalize()
        .into();
    let [a, b, c, d, ..] = digest;
    [a, b, c, d]
}

pub(crate) fn key_id_hex(id: &KeyId) -> String {
    format!("{:08x}", u32::from_be_bytes(*id))
}

pub(super) fn parse_key_id(text: &str) -> Option<KeyId> {
    // from_str_radix alone would accept a sign and fewer digits.
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok().map(u32::to_be_bytes)
}

/// The fields of `<name>+<hex key id>+<base64(0x01 || key)>`.
pub(super) struct KeyText<'a> {
    pub(super) name: &'a str,
    pub(super) key_id: KeyId,
    pub(super) key: [u8; 32],
}

/// Parses the shared part of verifier and private key texts. `what` names the kind of key
/// for errors; the text itself is never put in an error, as it may be a private key.
pub(super) fn parse_key_text<'a>(
    text: &'a str,
    what: &'static str,
) -> Result<KeyText<'a>, CheckpointError> {
    let malformed = |reason| CheckpointError::MalformedKey { what, reason };
    // Base64 can contain '+', so only the first two separate fields.
    let mut fields = text.splitn(3, '+');
    let (Some(name), Some(id), Some(encoded)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("expected <name>+<key id>+<key>"));
    };
    check_key_name(name)?;
    let key_id = parse_key_id(id).ok_or_else(|| malformed("the key id is not 8 hex digits"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| malformed("the key is not standard padded base64"))?;
    let (&alg, key) = bytes
        .split_first()
        .ok_or_else(|| malformed("the key is empty"))?;
    if alg != ALG_ED25519 {
        return Err(CheckpointError::UnsupportedAlgorithm(alg));
    }
    let key = key
        .try_into()
        .map_err(|_| malformed("an Ed25519 key is 32 bytes"))?;
    Ok(KeyText { name, key_id, key })
}

/// The key id a key text states must be the one its name and key give: a mismatch means the
/// text was edited or corrupted.
pub(super) fn check_key_id(stated: KeyId, computed: KeyId) -> Result<(), CheckpointError> {
    if stated != computed {
        return Err(CheckpointError::KeyIdMismatch {
            stated: key_id_hex(&stated),
            computed: key_id_hex(&computed),
        });
    }
    Ok(())
}

/// A named Ed25519 signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub(super) name: String,
    pub(super) key_id: KeyId,
    pub(super) key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// Names `key`. The name is what signature lines carry; by the tlog-checkpoint
    /// convention it is the log's origin.
    pub fn new(name: &str, key: ed25519_dalek::SigningKey) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// A new random key from the operating system's generator.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        Self::new(
            name,
            ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public half, to hand to whoever checks checkpoints.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>` and a newline: the private
    /// key form of golang.org/x/mod/sumdb/note, so other tools can use the key. It holds the
    /// secret: keep the file private.
    pub fn to_file_text(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}\n",
            self.name,
            key_id_hex(&self.key_id),
            STANDARD.encode(typed_key(self.key.as_bytes()))
        )
    }

    /// Reads [`SigningKey::to_file_text`]'s form; surrounding whitespace is ignored.
    pub fn from_file_text(text: &str) -> Result<Self, CheckpointError> {
        const WHAT: &str = "private key";
        let rest =
            text.trim()
                .strip_prefix(PRIVATE_KEY_PREFIX)
                .ok_or(CheckpointError::MalformedKey {
                    what: WHAT,
                    reason: "it does not start with PRIVATE+KEY+",
                })?;
        let parsed = parse_key_text(rest, WHAT)?;
        let signer = Self::new(
            parsed.name,
            ed25519_dalek::SigningKey::from_bytes(&parsed.key),
        )?;
        check_key_id(parsed.key_id, signer.key_id)?;
        Ok(signer)
    }
}

/// Shows the name and key id only: the secret stays out of logs and panics.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &key_id_hex(&self.key_id))
            .finish_non_exhaustive()
    }
}

/// A named Ed25519 public key that checkpoints are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub(super) name: String,
    pub(super) key_id: KeyId,
    pub(super) key: VerifyingKey,
}

impl Verifier {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &key),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The signed-note verifier key text: `<name>+<hex key id>+<base64(0x01 || key)>`.
    pub fn to_vkey(&self) -> String {
        format!(
            "{}+{}+{}",
            self.name,
            key_id_hex(&self.key_id),
            STANDARD.encode(typed_key(self.key.as_bytes()))
        )
    }

    /// Reads a verifier key text; surrounding whitespace is ignored.
    pub fn from_vkey(text: &str) -> Result<Self, CheckpointError> {
        const WHAT: &str = "verifier key";
        let parsed = parse_key_text(text.trim(), WHAT)?;
        let key =
            VerifyingKey::from_bytes(&parsed.key).map_err(|_| CheckpointError::MalformedKey {
                what: WHAT,
                reason: "the key is not an Ed25519 public key",
            })?;
        let verifier = Self::new(parsed.name, key)?;
        check_key_id(parsed.key_id, verifier.key_id)?;
        Ok(verifier)
    }
}
