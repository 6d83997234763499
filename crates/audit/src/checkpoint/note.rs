//! The C2SP signed note around a checkpoint: its text, its signature lines, signing and
//! checking them.

use super::*;

/// One parsed signature line.
pub(super) struct SignatureLine<'a> {
    /// 1-based position among the signature lines, for error messages.
    pub(super) line: usize,
    pub(super) name: &'a str,
    pub(super) key_id: KeyId,
    pub(super) signature: Vec<u8>,
}

/// Splits a signed note into its text (ending in a newline) and its signature lines.
pub(super) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), CheckpointError> {
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
pub(super) fn parse_signature_line(
    line: usize,
    text: &str,
) -> Result<SignatureLine<'_>, &'static str> {
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
pub(super) fn verify_note<'a>(
    note: &'a str,
    verifier: &Verifier,
) -> Result<&'a str, CheckpointError> {
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
pub(super) fn sign_note(text: &str, key: &SigningKey) -> String {
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
