use super::*;
use crate::tiles::leaf_hash;

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
        root: crate::tiles::empty_root(),
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
