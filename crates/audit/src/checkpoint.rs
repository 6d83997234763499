//! Signed checkpoints: a C2SP tlog-checkpoint body (<https://c2sp.org/tlog-checkpoint>) in a
//! C2SP signed note (<https://c2sp.org/signed-note>) with an Ed25519 signature, and the text
//! forms of the keys: the signed-note verifier key ("vkey", section "Verifier keys" of the
//! signed-note spec) and the private key form of golang.org/x/mod/sumdb/note.
//!
//! A checkpoint commits to the log's size and Merkle root (see [`crate::merkle`]); the
//! signature makes it evidence that whoever holds the key vouched for that state of the log.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signed-note signature type identifier of Ed25519.
const ALG_ED25519: u8 = 0x01;

/// Signature lines start with U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The prefix golang.org/x/mod/sumdb/note gives private keys, so they cannot be mistaken for
/// verifier keys.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// A checkpoint body's fixed lines: origin, tree size, root hash.
const FIXED_BODY_LINES: usize = 3;

/// The 4-byte key id of the signed-note spec, which tells verifiers which key a signature
/// line claims to be from.
pub type KeyId = [u8; 4];

/// What is wrong with a key, a note or a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, control characters or '+'"
    )]
    InvalidKeyName(String),
    #[error("malformed {what}: {reason}")]
    MalformedKey {
        what: &'static str,
        reason: &'static str,
    },
    #[error("unsupported signature algorithm {0:#04x}: only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm(u8),
    #[error("the key text says key id {stated}, but the key's id is {computed}")]
    KeyIdMismatch { stated: String, computed: String },
    #[error("note contains control character U+{0:04X}; only newline is allowed")]
    ControlCharacter(u32),
    #[error("note has no blank line between its text and its signatures")]
    MissingBlankLine,
    #[error("note has no signature lines after the blank line")]
    NoSignatureLines,
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("note has no signature by {name}+{key_id}")]
    NoSignatureByKey { name: String, key_id: String },
    #[error(
        "note is signed by a key named {name} with key id {found}, but the trusted key has id \
         {expected}: it was signed by a different key"
    )]
    WrongKey {
        name: String,
        expected: String,
        found: String,
    },
    #[error(
        "signature by {name}+{key_id} does not verify: the note was changed after signing, or \
         forged"
    )]
    BadSignature { name: String, key_id: String },
    #[error("checkpoint has {0} lines, but needs at least origin, tree size and root hash")]
    TooFewLines(usize),
    #[error("checkpoint {what} {reason}")]
    InvalidLine { what: String, reason: &'static str },
    #[error(
        "checkpoint tree size {0:?} is not a decimal number below 2^64 without sign or \
         leading zeros"
    )]
    InvalidSize(String),
    #[error("checkpoint root hash {0:?} is not standard padded base64")]
    InvalidRootEncoding(String),
    #[error("checkpoint root hash is {0} bytes, but a SHA-256 root is 32")]
    RootLength(usize),
}

/// A log's state: its size and Merkle root, under its origin (the log's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique name, e.g. `tollgate/host-a/audit`.
    pub origin: String,
    /// The number of records in the log.
    pub size: u64,
    /// The RFC 6962 root of the records' Merkle tree.
    pub root: Hash,
    /// Lines after the root, without their newlines. We write none, but other writers may,
    /// and they are covered by the signature, so they are kept.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint body: origin, size and base64 root, each followed by a newline, then
    /// the extension lines. This is the text the signature covers.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// The signed note: the body, a blank line and `key`'s signature line.
    ///
    /// Fails if the origin or an extension line is empty or holds a newline or other control
    /// character, since the note would not parse back into this checkpoint.
    pub fn sign(&self, key: &SigningKey) -> Result<String, CheckpointError> {
        check_text_lines(&self.origin, self.extensions.iter().map(String::as_str))?;
        Ok(sign_note(&self.body(), key))
    }

    /// Parses a checkpoint body (the note text, ending in a newline).
    fn from_body(text: &str) -> Result<Self, CheckpointError> {
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines(lines.len()));
        };
        check_text_lines(origin, extensions.iter().copied())?;
        Ok(Self {
            origin: (*origin).to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
            extensions: extensions.iter().map(|line| (*line).to_owned()).collect(),
        })
    }
}

/// Verifies `note` was signed by `verifier` and returns the checkpoint it holds.
///
/// Signature lines from other keys are ignored, as the signed-note spec requires (others,
/// e.g. witnesses, may cosign); a line with the verifier's name and key id must be present
/// and must verify. The body is parsed only once the signature is known to be good.
pub fn open(note: &str, verifier: &Verifier) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::from_body(verify_note(note, verifier)?)
}

/// Checks the lines a checkpoint holds as free text: each must be a non-empty line.
fn check_text_lines<'a>(
    origin: &str,
    extensions: impl IntoIterator<Item = &'a str>,
) -> Result<(), CheckpointError> {
    check_line("origin", origin)?;
    for (i, line) in extensions.into_iter().enumerate() {
        check_line(
            &format!("extension line {}", i + FIXED_BODY_LINES + 1),
            line,
        )?;
    }
    Ok(())
}

fn check_line(what: &str, line: &str) -> Result<(), CheckpointError> {
    let reason = if line.is_empty() {
        "is empty"
    } else if line.chars().any(is_control) {
        "contains a newline or other control character"
    } else {
        return Ok(());
    };
    Err(CheckpointError::InvalidLine {
        what: what.to_owned(),
        reason,
    })
}

/// The tree size: decimal, canonical (no sign, no leading zeros), so each size has one text.
fn parse_size(text: &str) -> Result<u64, CheckpointError> {
    let invalid = || CheckpointError::InvalidSize(text.to_owned());
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(invalid());
    }
    // Only overflow is left to fail here.
    text.parse().map_err(|_| invalid())
}

fn parse_root(text: &str) -> Result<Hash, CheckpointError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| CheckpointError::InvalidRootEncoding(text.to_owned()))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| CheckpointError::RootLength(len))
}

/// Go's rule for note text (golang.org/x/mod/sumdb/note): no C0 control characters. The
/// callers allow newline where lines are separated.
fn is_control(c: char) -> bool {
    c < ' '
}

/// One parsed signature line.
struct SignatureLine<'a> {
    /// 1-based position among the signature lines, for error messages.
    line: usize,
    name: &'a str,
    key_id: KeyId,
    signature: Vec<u8>,
}

/// Splits a signed note into its text (ending in a newline) and its signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), CheckpointError> {
    if let Some(c) = note.chars().find(|&c| is_control(c) && c != '\n') {
        return Err(CheckpointError::ControlCharacter(u32::from(c)));
    }
    // The last blank line ends the text: signature lines are never empty, so a blank line
    // cannot be among them.
    let split = note
        .rfind("\n\n")
        .ok_or(CheckpointError::MissingBlankLine)?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    if signatures.is_empty() {
        return Err(CheckpointError::NoSignatureLines);
    }
    let lines: Vec<&str> = signatures.split_terminator('\n').collect();
    if !signatures.ends_with('\n') {
        return Err(CheckpointError::MalformedSignatureLine {
            line: lines.len(),
            reason: "it does not end in a newline",
        });
    }
    let parsed = lines
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            parse_signature_line(i + 1, text).map_err(|reason| {
                CheckpointError::MalformedSignatureLine {
                    line: i + 1,
                    reason,
                }
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((text, parsed))
}

/// Parses `— <name> <base64(key id || signature)>` (without its newline).
fn parse_signature_line(line: usize, text: &str) -> Result<SignatureLine<'_>, &'static str> {
    let rest = text
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or("it does not start with an em dash and a space")?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or("it has no space between key name and signature")?;
    check_key_name(name).map_err(|_| "the key name is empty or has a space or '+'")?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| "the signature is not standard padded base64")?;
    match bytes.split_first_chunk() {
        Some((key_id, signature)) if !signature.is_empty() => Ok(SignatureLine {
            line,
            name,
            key_id: *key_id,
            signature: signature.to_vec(),
        }),
        _ => Err("it is too short to hold a key id and a signature"),
    }
}

/// Checks `note` carries a good signature by `verifier` and returns the signed text.
fn verify_note<'a>(note: &'a str, verifier: &Verifier) -> Result<&'a str, CheckpointError> {
    let (text, lines) = split_note(note)?;
    let ours = lines
        .iter()
        .find(|l| l.name == verifier.name && l.key_id == verifier.key_id);
    let Some(line) = ours else {
        // Say so when the name matches but the key does not: that is a re-signed or forged
        // note, or a rotated key, rather than a note that was never signed by this log.
        return Err(match lines.iter().find(|l| l.name == verifier.name) {
            Some(other) => CheckpointError::WrongKey {
                name: verifier.name.clone(),
                expected: key_id_hex(&verifier.key_id),
                found: key_id_hex(&other.key_id),
            },
            None => CheckpointError::NoSignatureByKey {
                name: verifier.name.clone(),
                key_id: key_id_hex(&verifier.key_id),
            },
        });
    };
    let signature = Signature::from_slice(&line.signature).map_err(|_| {
        CheckpointError::MalformedSignatureLine {
            line: line.line,
            reason: "an Ed25519 signature is 64 bytes",
        }
    })?;
    // Strict verification also rejects malleable signatures and weak keys.
    verifier
        .key
        .verify_strict(text.as_bytes(), &signature)
        .map_err(|_| CheckpointError::BadSignature {
            name: verifier.name.clone(),
            key_id: key_id_hex(&verifier.key_id),
        })?;
    Ok(text)
}

/// Signs `text` (which must end in a newline) as a note with one signature line.
fn sign_note(text: &str, key: &SigningKey) -> String {
    let signature = key.key.sign(text.as_bytes()).to_bytes();
    let mut blob = Vec::with_capacity(key.key_id.len() + signature.len());
    blob.extend_from_slice(&key.key_id);
    blob.extend_from_slice(&signature);
    format!(
        "{text}\n{SIGNATURE_PREFIX}{} {}\n",
        key.name,
        STANDARD.encode(blob)
    )
}

/// Key names are non-empty, without Unicode spaces or '+' (signed-note spec), since both
/// separate fields in signature lines and key texts. Control characters are excluded too,
/// since notes cannot hold them.
fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.chars().any(bad) {
        return Err(CheckpointError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// A 32-byte Ed25519 key (public, or the private seed) prefixed with its algorithm byte, as
/// key texts and key ids carry it.
fn typed_key(key: &[u8; 32]) -> Vec<u8> {
    let mut typed = Vec::with_capacity(1 + key.len());
    typed.push(ALG_ED25519);
    typed.extend_from_slice(key);
    typed
}

/// The first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
fn key_id(name: &str, key: &VerifyingKey) -> KeyId {
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

fn parse_key_id(text: &str) -> Option<KeyId> {
    // from_str_radix alone would accept a sign and fewer digits.
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok().map(u32::to_be_bytes)
}

/// The fields of `<name>+<hex key id>+<base64(0x01 || key)>`.
struct KeyText<'a> {
    name: &'a str,
    key_id: KeyId,
    key: [u8; 32],
}

/// Parses the shared part of verifier and private key texts. `what` names the kind of key
/// for errors; the text itself is never put in an error, as it may be a private key.
fn parse_key_text<'a>(text: &'a str, what: &'static str) -> Result<KeyText<'a>, CheckpointError> {
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
fn check_key_id(stated: KeyId, computed: KeyId) -> Result<(), CheckpointError> {
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
    name: String,
    key_id: KeyId,
    key: ed25519_dalek::SigningKey,
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
    name: String,
    key_id: KeyId,
    key: VerifyingKey,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    const ORIGIN: &str = "tollgate/host-a/audit";

    fn key() -> SigningKey {
        SigningKey::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])).unwrap()
    }

    /// Another key under the same name: what a forger, or a log re-signing history, has.
    fn impostor() -> SigningKey {
        SigningKey::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[8u8; 32])).unwrap()
    }

    fn witness() -> SigningKey {
        SigningKey::new(
            "witness.example/w1",
            ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        )
        .unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 1234,
            root: leaf_hash(b"some record"),
            extensions: Vec::new(),
        }
    }

    /// The signature line (with its newline) of a note with exactly one signature.
    fn signature_line(note: &str) -> &str {
        let start = note.find(SIGNATURE_PREFIX).unwrap();
        &note[start..]
    }

    /// A note whose signature is good, whatever the text: for reaching the body checks.
    fn signed(text: &str) -> String {
        sign_note(text, &key())
    }

    // The example in golang.org/x/mod/sumdb/note's documentation: the reference
    // implementation of signed notes.
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_SIGNATURE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn keys_key_ids_and_signatures_match_the_go_reference_implementation() {
        let signer = SigningKey::from_file_text(GO_SKEY).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(key_id_hex(&signer.key_id()), "c74f20a3");
        assert_eq!(signer.to_file_text(), format!("{GO_SKEY}\n"));
        assert_eq!(signer.verifier().to_vkey(), GO_VKEY);
        assert_eq!(Verifier::from_vkey(GO_VKEY).unwrap(), signer.verifier());

        let note = sign_note(GO_TEXT, &signer);
        assert_eq!(note, format!("{GO_TEXT}\n{GO_SIGNATURE}"));
        assert_eq!(verify_note(&note, &signer.verifier()), Ok(GO_TEXT));
    }

    #[test]
    fn signed_checkpoint_has_the_c2sp_layout() {
        let cp = checkpoint();
        let note = cp.sign(&key()).unwrap();
        let body = format!("{ORIGIN}\n1234\n{}\n", STANDARD.encode(cp.root));
        assert_eq!(cp.body(), body);
        let line = signature_line(&note);
        assert_eq!(note, format!("{body}\n{line}"));
        let fields = line
            .strip_prefix("\u{2014} ")
            .and_then(|l| l.strip_suffix('\n'))
            .unwrap();
        let (name, blob) = fields.split_once(' ').unwrap();
        assert_eq!(name, ORIGIN);
        let blob = STANDARD.decode(blob).unwrap();
        assert_eq!(blob.len(), 4 + 64);
        assert_eq!(blob[..4], key().key_id());
        // The key id is SHA-256(name || "\n" || 0x01 || public key), first 4 bytes.
        let mut preimage = format!("{ORIGIN}\n").into_bytes();
        preimage.push(0x01);
        preimage.extend_from_slice(key().verifier().public_key().as_bytes());
        assert_eq!(blob[..4], Sha256::digest(&preimage)[..4]);
    }

    #[test]
    fn sign_then_open_round_trips() {
        let cp = checkpoint();
        let note = cp.sign(&key()).unwrap();
        assert_eq!(open(&note, &key().verifier()), Ok(cp));

        let empty = Checkpoint {
            size: 0,
            root: crate::merkle::empty_root(),
            ..checkpoint()
        };
        assert_eq!(
            open(&empty.sign(&key()).unwrap(), &key().verifier()),
            Ok(empty)
        );
    }

    #[test]
    fn extension_lines_are_signed_and_preserved() {
        let cp = Checkpoint {
            extensions: vec!["timestamp 1700000000".to_owned(), "x".to_owned()],
            ..checkpoint()
        };
        let note = cp.sign(&key()).unwrap();
        assert!(note.contains("\ntimestamp 1700000000\nx\n\n"));
        assert_eq!(open(&note, &key().verifier()), Ok(cp));

        let dropped = note.replace("x\n\n", "\n");
        assert!(matches!(
            open(&dropped, &key().verifier()),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_body_edited_after_signing_is_rejected() {
        let cp = checkpoint();
        let note = cp.sign(&key()).unwrap();
        let root = STANDARD.encode(cp.root);
        let other_root = STANDARD.encode(leaf_hash(b"another record"));
        let edits = [
            note.replace("\n1234\n", "\n1235\n"),
            note.replace(&root, &other_root),
            note.replacen(ORIGIN, "tollgate/host-b/audit", 1),
        ];
        for edited in edits {
            assert_ne!(edited, note);
            assert_eq!(
                open(&edited, &key().verifier()),
                Err(CheckpointError::BadSignature {
                    name: ORIGIN.to_owned(),
                    key_id: key_id_hex(&key().key_id()),
                })
            );
        }
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_with_the_same_name_is_rejected() {
        let forged = checkpoint().sign(&impostor()).unwrap();
        assert_eq!(
            open(&forged, &key().verifier()),
            Err(CheckpointError::WrongKey {
                name: ORIGIN.to_owned(),
                expected: key_id_hex(&key().key_id()),
                found: key_id_hex(&impostor().key_id()),
            })
        );
        // Claiming the real key id does not help: the signature does not verify.
        let real = checkpoint().sign(&key()).unwrap();
        let impostor_line = signature_line(&forged);
        let impostor_blob = STANDARD
            .decode(impostor_line.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        let mut blob = key().key_id().to_vec();
        blob.extend_from_slice(&impostor_blob[4..]);
        let spoofed = format!(
            "{}\n\u{2014} {ORIGIN} {}\n",
            checkpoint().body(),
            STANDARD.encode(blob)
        );
        assert_ne!(spoofed, real);
        assert!(matches!(
            open(&spoofed, &key().verifier()),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn signature_lines_from_other_keys_are_ignored_when_ours_is_good() {
        let cp = checkpoint();
        let body = cp.body();
        let ours = cp.sign(&key()).unwrap();
        let witness_line = signature_line(&sign_note(&body, &witness())).to_owned();
        let impostor_line = signature_line(&sign_note(&body, &impostor())).to_owned();
        let note = format!(
            "{body}\n{witness_line}{impostor_line}{}{witness_line}",
            signature_line(&ours)
        );
        assert_eq!(open(&note, &key().verifier()), Ok(cp.clone()));
        assert_eq!(
            open(&note, &witness().verifier()),
            Ok(cp),
            "the witness's own verifier finds its line"
        );

        let without_ours = format!("{body}\n{witness_line}");
        assert_eq!(
            open(&without_ours, &key().verifier()),
            Err(CheckpointError::NoSignatureByKey {
                name: ORIGIN.to_owned(),
                key_id: key_id_hex(&key().key_id()),
            })
        );
    }

    #[test]
    fn malformed_note_structure_is_rejected_with_its_error() {
        let body = checkpoint().body();
        let line = signature_line(&checkpoint().sign(&key()).unwrap()).to_owned();
        let v = key().verifier();
        let err = |note: &str| open(note, &v).unwrap_err();

        assert_eq!(
            err(&format!("{body}{line}")),
            CheckpointError::MissingBlankLine
        );
        assert_eq!(err(&format!("{body}\n")), CheckpointError::NoSignatureLines);
        assert_eq!(
            err(&format!("{body}\n{}", line.trim_end())),
            CheckpointError::MalformedSignatureLine {
                line: 1,
                reason: "it does not end in a newline"
            }
        );
        assert_eq!(
            err(&format!("{body}\r\n{line}")),
            CheckpointError::ControlCharacter(0x0d)
        );
        assert_eq!(
            err(&format!("{body}\n{}", line.replace('\u{2014}', "-"))),
            CheckpointError::MalformedSignatureLine {
                line: 1,
                reason: "it does not start with an em dash and a space"
            }
        );
        let malformed_line = |note: String, expected_line: usize| match err(&note) {
            CheckpointError::MalformedSignatureLine { line, .. } => {
                assert_eq!(line, expected_line, "{note}")
            }
            other => panic!("{note}: {other}"),
        };
        malformed_line(format!("{body}\n{line}\u{2014} {ORIGIN}\n"), 2);
        malformed_line(format!("{body}\n{line}\u{2014} {ORIGIN} !!!!\n"), 2);
        malformed_line(format!("{body}\n{line}\u{2014} a+b AAAAAAAA\n"), 2);
        malformed_line(format!("{body}\n\u{2014} {ORIGIN} AAAAAA==\n"), 1);
        // Unpadded base64 is not the standard encoding the spec requires.
        malformed_line(format!("{body}\n{}", line.replace("=\n", "\n")), 1);
        // Our key id with a signature of the wrong length.
        let mut short = key().key_id().to_vec();
        short.extend_from_slice(&[0; 63]);
        assert_eq!(
            err(&format!(
                "{body}\n\u{2014} {ORIGIN} {}\n",
                STANDARD.encode(short)
            )),
            CheckpointError::MalformedSignatureLine {
                line: 1,
                reason: "an Ed25519 signature is 64 bytes"
            }
        );
    }

    #[test]
    fn malformed_bodies_are_rejected_with_their_error_even_when_signed() {
        let v = key().verifier();
        let root = STANDARD.encode(leaf_hash(b"r"));
        let err = |text: String| open(&signed(&text), &v).unwrap_err();

        assert_eq!(
            err(format!("{ORIGIN}\n1234\n")),
            CheckpointError::TooFewLines(2)
        );
        assert_eq!(err("\n".to_owned()), CheckpointError::TooFewLines(1));
        assert_eq!(
            err(format!("\n1234\n{root}\n")),
            CheckpointError::InvalidLine {
                what: "origin".to_owned(),
                reason: "is empty"
            }
        );
        for size in [
            "",
            "012",
            "00",
            "+12",
            "-1",
            "12a",
            " 12",
            "1e3",
            "18446744073709551616",
        ] {
            assert_eq!(
                err(format!("{ORIGIN}\n{size}\n{root}\n")),
                CheckpointError::InvalidSize(size.to_owned()),
                "size {size:?}"
            );
        }
        assert_eq!(
            open(
                &signed(&format!("{ORIGIN}\n18446744073709551615\n{root}\n")),
                &v
            )
            .unwrap()
            .size,
            u64::MAX
        );
        for bad in ["not base64!", root.trim_end_matches('=')] {
            assert_eq!(
                err(format!("{ORIGIN}\n1\n{bad}\n")),
                CheckpointError::InvalidRootEncoding(bad.to_owned()),
                "root {bad:?}"
            );
        }
        assert_eq!(
            err(format!("{ORIGIN}\n1\n\n")),
            CheckpointError::RootLength(0)
        );
        assert_eq!(
            err(format!("{ORIGIN}\n1\n{}\n", STANDARD.encode([1u8; 31]))),
            CheckpointError::RootLength(31)
        );
        assert_eq!(
            err(format!("{ORIGIN}\n1\n{}\n", STANDARD.encode([1u8; 33]))),
            CheckpointError::RootLength(33)
        );
        // A blank line inside the body is an empty extension line, not a separator.
        assert_eq!(
            err(format!("{ORIGIN}\n1\n{root}\n\next\n")),
            CheckpointError::InvalidLine {
                what: "extension line 4".to_owned(),
                reason: "is empty"
            }
        );
    }

    #[test]
    fn signing_refuses_a_checkpoint_that_would_not_parse_back() {
        let cases = [
            Checkpoint {
                origin: String::new(),
                ..checkpoint()
            },
            Checkpoint {
                origin: "a\nb".to_owned(),
                ..checkpoint()
            },
            Checkpoint {
                extensions: vec![String::new()],
                ..checkpoint()
            },
            Checkpoint {
                extensions: vec!["ok".to_owned(), "tab\there".to_owned()],
                ..checkpoint()
            },
        ];
        for cp in cases {
            assert!(
                matches!(cp.sign(&key()), Err(CheckpointError::InvalidLine { .. })),
                "{cp:?}"
            );
        }
    }

    #[test]
    fn vkey_text_round_trips_and_has_the_signed_note_form() {
        let verifier = key().verifier();
        let vkey = verifier.to_vkey();
        let fields: Vec<&str> = vkey.splitn(3, '+').collect();
        assert_eq!(fields[0], ORIGIN);
        assert_eq!(fields[1], key_id_hex(&verifier.key_id()));
        assert_eq!(
            STANDARD.decode(fields[2]).unwrap(),
            typed_key(verifier.public_key().as_bytes())
        );
        assert_eq!(Verifier::from_vkey(&vkey), Ok(verifier.clone()));
        assert_eq!(Verifier::from_vkey(&format!(" {vkey}\n")), Ok(verifier));
    }

    #[test]
    fn private_key_text_round_trips_and_signs_identically() {
        let text = key().to_file_text();
        assert!(text.starts_with(&format!("PRIVATE+KEY+{ORIGIN}+")));
        assert!(text.ends_with('\n'));
        let restored = SigningKey::from_file_text(&text).unwrap();
        assert_eq!(restored.verifier(), key().verifier());
        assert_eq!(
            checkpoint().sign(&restored).unwrap(),
            checkpoint().sign(&key()).unwrap()
        );
    }

    #[test]
    fn generated_keys_are_distinct_and_work() {
        let (a, b) = (
            SigningKey::generate(ORIGIN).unwrap(),
            SigningKey::generate(ORIGIN).unwrap(),
        );
        assert_ne!(a.verifier(), b.verifier());
        let note = checkpoint().sign(&a).unwrap();
        assert_eq!(open(&note, &a.verifier()), Ok(checkpoint()));
        assert!(open(&note, &b.verifier()).is_err());
    }

    #[test]
    fn invalid_key_names_are_rejected() {
        for name in ["", "a b", "a+b", "a\u{00a0}b", "a\nb"] {
            assert_eq!(
                SigningKey::generate(name).unwrap_err(),
                CheckpointError::InvalidKeyName(name.to_owned())
            );
            assert!(Verifier::new(name, key().verifier().key).is_err());
        }
    }

    #[test]
    fn malformed_vkeys_are_rejected_with_their_error() {
        let vkey = key().verifier().to_vkey();
        let (name_and_id, encoded) = vkey.rsplit_once('+').unwrap();
        let id = &name_and_id[ORIGIN.len() + 1..];
        let malformed = |text: &str| match Verifier::from_vkey(text) {
            Err(CheckpointError::MalformedKey { what, .. }) => assert_eq!(what, "verifier key"),
            other => panic!("{text}: {other:?}"),
        };
        malformed(ORIGIN);
        malformed(&format!("{ORIGIN}+{id}"));
        malformed(&format!("{ORIGIN}+{}+{encoded}", &id[1..]));
        malformed(&format!("{ORIGIN}+{}+{encoded}", id.replace(|_| true, "g")));
        malformed(&format!("{ORIGIN}++{id}{encoded}"));
        malformed(&format!("{ORIGIN}+{id}+{encoded}!"));
        malformed(&format!("{ORIGIN}+{id}+"));
        malformed(&format!("{ORIGIN}+{id}+{}", STANDARD.encode([1u8; 32])));
        // About half of all 32-byte strings are not the encoding of a curve point.
        let not_a_point = (0..=255u8)
            .map(|b| [b; 32])
            .find(|k| VerifyingKey::from_bytes(k).is_err())
            .unwrap();
        malformed(&format!(
            "{ORIGIN}+{id}+{}",
            STANDARD.encode(typed_key(&not_a_point))
        ));

        assert_eq!(
            Verifier::from_vkey(&format!("a b+{id}+{encoded}")),
            Err(CheckpointError::InvalidKeyName("a b".to_owned()))
        );
        let mut other_alg = STANDARD.decode(encoded).unwrap();
        other_alg[0] = 0x02;
        assert_eq!(
            Verifier::from_vkey(&format!("{ORIGIN}+{id}+{}", STANDARD.encode(other_alg))),
            Err(CheckpointError::UnsupportedAlgorithm(0x02))
        );
        // The same key under another name has another id.
        assert!(matches!(
            Verifier::from_vkey(&format!("tollgate/host-b/audit+{id}+{encoded}")),
            Err(CheckpointError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            Verifier::from_vkey(&format!("{ORIGIN}+00000000+{encoded}")),
            Err(CheckpointError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn malformed_private_keys_are_rejected_without_revealing_the_key() {
        let text = key().to_file_text();
        let secret = text.trim_end().rsplit('+').next().unwrap().to_owned();
        let errors = [
            SigningKey::from_file_text(&key().verifier().to_vkey()).unwrap_err(),
            SigningKey::from_file_text(&text.replacen("PRIVATE+KEY+", "PRIVATE+", 1)).unwrap_err(),
            SigningKey::from_file_text(&text.replace(&key_id_hex(&key().key_id()), "00000000"))
                .unwrap_err(),
            SigningKey::from_file_text(&text.replace(&secret, &secret[4..])).unwrap_err(),
        ];
        assert!(matches!(errors[2], CheckpointError::KeyIdMismatch { .. }));
        for error in errors {
            let message = error.to_string();
            assert!(!message.contains(&secret[4..12]), "{message}");
        }
    }

    #[test]
    fn debug_output_does_not_reveal_the_private_key() {
        let debug = format!("{:?}", key());
        assert!(debug.contains(ORIGIN));
        let seed = STANDARD.encode([7u8; 32]);
        assert!(!debug.contains(&seed[..8]));
        assert!(!debug.contains("7, 7, 7"));
    }
}
