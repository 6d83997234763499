//! Signed checkpoints: a C2SP tlog-checkpoint body (<https://c2sp.org/tlog-checkpoint>) in a
//! C2SP signed note (<https://c2sp.org/signed-note>) with an Ed25519 signature, and the text
//! forms of the keys: the signed-note verifier key ("vkey", section "Verifier keys" of the
//! signed-note spec) and the private key form of golang.org/x/mod/sumdb/note.
//!
//! A checkpoint commits to the log's size and Merkle root (see [`crate::tiles`]); the
//! signature makes it evidence that whoever holds the key vouched for that state of the log.
//!
//! The note is signed and checked here rather than with the `signed_note` crate (a C2SP
//! signed-note implementation), whose API does not fit two things this log relies on: its
//! Ed25519 verifier calls `verify`, not `verify_strict`, so it accepts the malleable
//! signatures and weak keys that the strict check rejects; and a note that no known key
//! verifies comes back as `UnverifiedNote` alone, without the key ids of the lines it holds,
//! which `verify` needs to tell a replaced key from a forged checkpoint. The body is parsed
//! here too: `tlog_tiles::Checkpoint` keeps extension lines as one string and says only
//! "malformed checkpoint", where this names the line at fault.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tiles::Hash;

mod keys;
mod note;
#[cfg(test)]
mod tests;

pub(crate) use keys::key_id_hex;
use keys::*;
pub use keys::{SigningKey, Verifier};
use note::*;

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
