use super::*;

fn redact(text: &str) -> (String, Counts) {
    Redactor::default().redact_text(text)
}

fn redacted(text: &str) -> String {
    redact(text).0
}

fn counts(pairs: &[(&str, u64)]) -> Counts {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn every_builtin_pattern_compiles() {
    assert_eq!(builtin().len(), BUILTIN.len());
    assert!(pem_begin().is_match(b"-----BEGIN PRIVATE KEY-----"));
    assert!(pem_end().is_match(b"-----END RSA PRIVATE KEY-----"));
}

#[test]
fn replaces_emails_and_counts_them() {
    let (text, c) =
        redact("login ok user=alice.smith+ops@example.co.uk from web; cc bob@corp.io\n");
    assert_eq!(text, "login ok user=[EMAIL] from web; cc [EMAIL]\n");
    assert_eq!(c, counts(&[("EMAIL", 2)]));
    // An @ without a domain is not an address.
    assert_eq!(
        redacted("@here ping user@localhost"),
        "@here ping user@localhost"
    );
}

#[test]
fn replaces_card_numbers_that_pass_luhn_only() {
    assert_eq!(
        redacted("paid with 4111 1111 1111 1111 ok"),
        "paid with [CARD] ok"
    );
    assert_eq!(redacted("card=5500-0000-0000-0004;"), "card=[CARD];");
    assert_eq!(redacted("amex 378282246310005."), "amex [CARD].");
    // A 16-digit order number that fails Luhn is kept, as is a short number.
    assert_eq!(
        redacted("order 4111111111111112 shipped, id 123456789012"),
        "order 4111111111111112 shipped, id 123456789012"
    );
    // A trailing group the regex took greedily is cut back to the valid number.
    assert_eq!(redacted("4111111111111111 7 items"), "[CARD] 7 items");
    // A number before the card does not hide it.
    assert_eq!(redacted("ref 1234 4111111111111111"), "ref 1234 [CARD]");
}

#[test]
fn replaces_ibans_that_pass_mod_97_only() {
    assert_eq!(
        redacted("refund to DE89 3704 0044 0532 0130 00 EUR 20"),
        "refund to [IBAN] EUR 20"
    );
    assert_eq!(redacted("GB82WEST12345698765432"), "[IBAN]");
    // One digit changed: the checksum fails.
    assert_eq!(redacted("GB82WEST12345698765433"), "GB82WEST12345698765433");
}

#[test]
fn replaces_ssns_that_follow_the_issuing_rules() {
    assert_eq!(redacted("ssn 123-45-6789."), "ssn [SSN].");
    for kept in [
        "000-12-3456",
        "666-12-3456",
        "912-12-3456",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_eq!(redacted(kept), kept);
    }
    // A date is not an SSN.
    assert_eq!(redacted("2026-11-20"), "2026-11-20");
}

#[test]
fn replaces_ipv4_addresses_but_not_timestamps_or_dotted_runs() {
    assert_eq!(
        redacted("client 10.0.12.7:443 via 192.168.1.1"),
        "client [IPV4]:443 via [IPV4]"
    );
    for kept in [
        "2026-11-20T08:00:01.123Z",
        "12:30:45.250",
        "256.1.1.1",
        "v1.2.3.4",
        "1.2.3.4.5",
        "oid 1.3.6.1.4.1",
        "010.1.1.1",
    ] {
        assert_eq!(redacted(kept), kept);
    }
    // A bare dotted quad could be an address: redacted, even in a version sentence.
    assert_eq!(redacted("release 1.2.3.4 out"), "release [IPV4] out");
}

#[test]
fn replaces_ipv6_addresses_but_not_times_macs_or_paths() {
    assert_eq!(
        redacted("from 2001:db8::8a2e:370:7334 and [fe80::1]:22 and ::1"),
        "from [IPV6] and [[IPV6]]:22 and [IPV6]"
    );
    assert_eq!(
        redacted("2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        "[IPV6]"
    );
    for kept in [
        "at 12:30:45",
        "mac 00:1a:2b:3c:4d:5e",
        "std::io::Error",
        "use a::b;",
        "x :: y",
    ] {
        assert_eq!(redacted(kept), kept);
    }
}

#[test]
fn replaces_jwts_with_a_json_header() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(redacted(&format!("token={jwt} next")), "token=[JWT] next");
    // eyJ... that is not base64 of JSON with alg.
    let fake = "eyJnotjson.eyJabc.def";
    assert_eq!(redacted(fake), fake);
}

#[test]
fn replaces_aws_access_key_ids() {
    assert_eq!(
        redacted("key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A"),
        "key [AWS_KEY] and [AWS_KEY]"
    );
    assert_eq!(redacted("AKIA1234"), "AKIA1234");
    assert_eq!(redacted("XAKIAIOSFODNN7EXAMPLE"), "XAKIAIOSFODNN7EXAMPLE");
}

#[test]
fn replaces_bearer_tokens_keeping_the_scheme() {
    assert_eq!(
        redacted("Authorization: Bearer abc123.def-456_ghi"),
        "Authorization: Bearer [BEARER_TOKEN]"
    );
    // A bearer JWT is one bearer token, not two values.
    let (text, c) = redact("authorization: bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig");
    assert_eq!(text, "authorization: bearer [BEARER_TOKEN]");
    assert_eq!(c, counts(&[("BEARER_TOKEN", 1)]));
    assert_eq!(
        redacted("the bearer authentication scheme"),
        "the bearer authentication scheme"
    );
}

#[test]
fn replaces_password_values_keeping_the_key() {
    assert_eq!(
        redacted("db_password=hunter2 user=app"),
        "db_password=[PASSWORD] user=app"
    );
    assert_eq!(
        redacted(r#"{"password": "s3cr3t pass", "user": "x"}"#),
        r#"{"password": "[PASSWORD]", "user": "x"}"#
    );
    assert_eq!(redacted("PASSWD: 'abc'"), "PASSWD: '[PASSWORD]'");
    assert_eq!(
        redacted("password reset requested"),
        "password reset requested"
    );
}

#[test]
fn replaces_a_private_key_block_spanning_lines() {
    let text = "before\nkey: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY----- tail\nafter 10.0.0.1\n";
    let (out, c) = redact(text);
    assert_eq!(out, "before\nkey: [PRIVATE_KEY] tail\nafter [IPV4]\n");
    assert_eq!(c, counts(&[("IPV4", 1), ("PRIVATE_KEY", 1)]));
    // Without its END line, the rest of the text goes.
    assert_eq!(
        redacted("a\n-----BEGIN PRIVATE KEY-----\nMIIE\nb@example.com\n"),
        "a\n[PRIVATE_KEY]"
    );
}

#[test]
fn digit_prefilter_lets_through_every_line_a_digit_detector_matches() {
    // Lines from an alphabet rich in what the digit-based patterns are made of, from a
    // fixed pseudo-random sequence: whenever a pattern matches, the prefilter must pass.
    const ALPHABET: &[u8] = b"0123456789  --..::ABZaf";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut matched = 0;
    for _ in 0..200_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 8 + (seed % 40) as usize;
        let line: Vec<u8> = (0..len)
            .map(|i| ALPHABET[((seed >> (i % 58)) as usize + i * 7) % ALPHABET.len()])
            .collect();
        let any = builtin()
            .iter()
            .filter(|d| d.digit_based())
            .any(|d| d.regex.is_match(&line));
        if any {
            matched += 1;
            assert!(digit_candidate(&line), "{}", String::from_utf8_lossy(&line));
        }
    }
    assert!(
        matched > 1000,
        "only {matched} lines matched; the test proves little"
    );
    for line in [
        "4111 1111 1111 1111",
        "123-45-6789",
        "10.0.0.1",
        "GB82WEST12345698765432",
        "fe80::1",
        "1:2:3:4:5:6:7:8",
    ] {
        assert!(digit_candidate(line.as_bytes()), "{line}");
    }
    assert!(!digit_candidate(
        b"2026-11-20T08:00:01.123Z INFO GET /api/v2/items/42 latency=12.5ms"
    ));
}

#[test]
fn leaves_ordinary_log_lines_alone() {
    let line = "2026-11-20T08:00:01.123Z INFO [worker-3] GET /api/v2/items?page=4 200 12.5ms req=8f14e45f\n";
    assert_eq!(redacted(line), line);
}

#[test]
fn streams_with_the_same_result_as_whole_text_across_chunk_ends() {
    let mut text = String::new();
    for i in 0..40_000 {
        text.push_str(&format!("2026-11-20 line {i} user{i}@example.com ok\n"));
        if i == 20_000 {
            text.push_str("-----BEGIN PRIVATE KEY-----\n");
            for _ in 0..20_000 {
                text.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n");
            }
            text.push_str("-----END PRIVATE KEY-----\n");
        }
    }
    let r = Redactor::default();
    let (whole, whole_counts) = r.redact_text(&text);
    let mut input = text.as_bytes();
    let mut out = Vec::new();
    let streamed = r
        .redact_stream(
            |buf| Ok(std::io::Read::read(&mut input, buf).unwrap()),
            &mut out,
            1 << 20,
        )
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), whole);
    assert_eq!(streamed, whole_counts);
    assert_eq!(streamed, counts(&[("EMAIL", 40_000), ("PRIVATE_KEY", 1)]));
    assert!(!whole.contains("MIIE"));
}

/// `bytes` streamed through the default redactor, `step` bytes per read at most.
fn streamed(bytes: &[u8], step: usize) -> HostResult<(String, Counts)> {
    let mut input = bytes;
    let mut out = Vec::new();
    let counts = Redactor::default().redact_stream(
        |buf| {
            let n = buf.len().min(step);
            Ok(std::io::Read::read(&mut input, &mut buf[..n]).unwrap())
        },
        &mut out,
        1 << 20,
    )?;
    Ok((String::from_utf8(out).unwrap(), counts))
}

#[test]
fn stream_decodes_utf16_and_redacts_it_as_utf8() {
    let text = "login alice@example.com key AKIAIOSFODNN7EXAMPLE\r\ndb_password=hunter2\r\npaid 4111 1111 1111 1111\r\n";
    let want = "login [EMAIL] key [AWS_KEY]\r\ndb_password=[PASSWORD]\r\npaid [CARD]\r\n";
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let with_bom = |bom: &[u8], body: &[u8]| [bom, body].concat();
    for (input, what) in [
        (with_bom(b"\xFF\xFE", &le), "UTF-16LE with BOM"),
        (with_bom(b"\xFE\xFF", &be), "UTF-16BE with BOM"),
        (le.clone(), "UTF-16LE without BOM"),
        (be.clone(), "UTF-16BE without BOM"),
    ] {
        // Odd read sizes cut code units and lines in two.
        for step in [1 << 20, 7, 1] {
            let (out, found) = streamed(&input, step).unwrap();
            assert_eq!(out, want, "{what}, {step} bytes a read");
            assert_eq!(
                found,
                counts(&[("AWS_KEY", 1), ("CARD", 1), ("EMAIL", 1), ("PASSWORD", 1)])
            );
        }
    }
}

#[test]
fn stream_refuses_what_it_cannot_read_as_text() {
    let refused = |bytes: &[u8]| match streamed(bytes, 1 << 20) {
        Err(HostError::InvalidInput(m)) => m,
        other => panic!("{other:?}"),
    };
    // Latin-1 with a high byte, far past the first chunk.
    let mut latin1 = "user bob@example.com\n".repeat(20_000).into_bytes();
    latin1.extend_from_slice(b"caf\xE9 carol@example.com\n");
    let m = refused(&latin1);
    assert!(m.contains("is not UTF-8"), "{m}");
    assert!(m.contains("encoding could not be told"), "{m}");
    assert!(!m.contains("carol"), "{m}");
    // Binary data, and UTF-32.
    assert!(refused(b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe\x03\0").contains("could not be told"));
    let utf32: Vec<u8> = "a@example.com\n"
        .chars()
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    assert!(refused(&utf32).contains("NUL bytes between its letters"));
    // UTF-16 that holds a single-byte AWS key: decoding would hide it, not remove it.
    let mut mixed: Vec<u8> = "ok\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    mixed.extend_from_slice(b"AKIAIOSFODNN7EXAMPLE");
    let m = refused(&[b"\xFF\xFE".as_slice(), &mixed].concat());
    assert!(
        m.contains("single-byte text") && m.contains("AWS_KEY"),
        "{m}"
    );
}

#[test]
fn stream_refuses_a_line_longer_than_the_limit() {
    let text = "x".repeat(5000);
    let mut input = text.as_bytes();
    let result = Redactor::default().redact_stream(
        |buf| Ok(std::io::Read::read(&mut input, buf).unwrap()),
        &mut Vec::new(),
        1000,
    );
    assert!(
        matches!(result, Err(HostError::TooLarge { .. })),
        "{result:?}"
    );
}

#[test]
fn applies_custom_rules_before_the_builtin_ones() {
    let r = Redactor::new(&[CustomRule {
        name: "employee_id".into(),
        pattern: r"EMP-\d{3}-\d{2}-\d{4}".into(),
        placeholder: "[EMPLOYEE]".into(),
    }])
    .unwrap();
    let (text, c) = r.redact_text("by EMP-123-45-6789 for 123-45-6789\n");
    assert_eq!(text, "by [EMPLOYEE] for [SSN]\n");
    assert_eq!(c, counts(&[("SSN", 1), ("employee_id", 1)]));
}

#[test]
fn custom_matches_never_span_lines() {
    let r = Redactor::new(&[CustomRule {
        name: "pair".into(),
        pattern: r"a\s+b".into(),
        placeholder: "[PAIR]".into(),
    }])
    .unwrap();
    assert_eq!(r.redact_text("a\nb a b\n").0, "a\nb [PAIR]\n");
}

#[test]
fn refuses_invalid_custom_rules() {
    let rule = |name: &str, pattern: &str, placeholder: &str| CustomRule {
        name: name.into(),
        pattern: pattern.into(),
        placeholder: placeholder.into(),
    };
    for (bad, why) in [
        (rule("x", "(", "[X]"), "invalid pattern"),
        (rule("x", "a*", "[X]"), "empty string"),
        (rule("x", "a", ""), "placeholder is empty"),
        (rule("", "a", "[X]"), "empty name"),
        (rule("EMAIL", "a", "[X]"), "already used"),
    ] {
        let err = Redactor::new(&[bad]).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
}
