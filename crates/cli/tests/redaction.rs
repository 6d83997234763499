//! Minimization end to end: where the policy permits `redacted_read` but not `read`, reading
//! commands see sensitive values as placeholders, and the run reports what was replaced.

mod common;

use common::*;
use serde_json::{json, Value};

const LOG: &str = "2026-11-20T08:00:01.000Z INFO login alice@example.com from 10.1.2.3\n\
2026-11-20T08:00:02.000Z INFO paid card=4111 1111 1111 1111 order 4111111111111112\n\
2026-11-20T08:00:03.000Z INFO healthy\n\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\
-----END PRIVATE KEY-----\n";

const REDACTED: &str = "2026-11-20T08:00:01.000Z INFO login [EMAIL] from [IPV4]\n\
2026-11-20T08:00:02.000Z INFO paid card=[CARD] order 4111111111111112\n\
2026-11-20T08:00:03.000Z INFO healthy\n\
[PRIVATE_KEY]\n";

/// `open` on the sandbox, `redacted_read` but not `read` on the files in it.
const REDACTED_ONLY: &str = r#"
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");
permit(principal, action == file_system::Action::"redacted_read", resource in file_system::Dir::"{ROOT}");
"#;

fn log_sandbox() -> (Sandbox, String) {
    let s = Sandbox::new();
    let log = s.write("app.log", LOG);
    (s, log)
}

#[test]
fn redacted_read_only_gives_placeholders_to_cat_grep_tail_and_wc() {
    let (s, log) = log_sandbox();
    let script = r#"
let log = "{ROOT}/app.log";
#{
    cat: cat(log),
    grep: grep("card|login|4111 1111", log),
    probe: grep("alice", log),
    tail: tail([tail::n(-2)], log),
    wc: wc(log),
    lines: awk_filter_range(1, 1, log),
}
"#;
    let r = s.run(REDACTED_ONLY, script);
    let out: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["cat"], REDACTED);
    // grep sees the redacted text: a pattern cannot probe a hidden value.
    assert_eq!(
        out["grep"],
        json!([
            "2026-11-20T08:00:01.000Z INFO login [EMAIL] from [IPV4]",
            "2026-11-20T08:00:02.000Z INFO paid card=[CARD] order 4111111111111112"
        ])
    );
    assert_eq!(out["probe"], json!([]));
    assert_eq!(
        out["tail"],
        json!(["2026-11-20T08:00:03.000Z INFO healthy", "[PRIVATE_KEY]"])
    );
    assert_eq!(out["wc"]["bytes"], REDACTED.len());
    assert_eq!(out["wc"]["lines"], 4);
    assert_eq!(
        out["lines"],
        json!(["2026-11-20T08:00:01.000Z INFO login [EMAIL] from [IPV4]"])
    );
    // Six reads of the file, each finding one of each value.
    assert_eq!(
        r.json["redactions"],
        json!({ log.clone(): {"CARD": 6, "EMAIL": 6, "IPV4": 6, "PRIVATE_KEY": 6} })
    );
    // Both decisions were recorded, and the run's end carries the counts.
    let recs = s.records();
    let on_log = |action: &str| {
        recs.iter()
            .filter(|r| r["resource_id"] == log.as_str() && r["action"] == action)
            .map(|r| r["decision"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(on_log(r#"file_system::Action::"read""#)
        .iter()
        .all(|d| d == "deny"));
    assert!(on_log(r#"file_system::Action::"redacted_read""#).contains(&"permit".to_owned()));
    let end = recs.iter().find(|r| r["kind"] == "run_end").unwrap();
    assert_eq!(end["redactions"], r.json["redactions"]);
}

#[test]
fn redacted_read_only_redacts_the_handle_api_read() {
    let (s, _) = log_sandbox();
    let script = r#"
let dir = DirConfig().path("{ROOT}").build().open(OpenDirOptions().build());
dir.open_file("app.log", OpenFileOptions().read(true).build()).read()
"#;
    let r = s.run(REDACTED_ONLY, script);
    assert_eq!(r.ok(), REDACTED);
}

#[test]
fn read_permitted_gives_the_raw_text_and_no_counts() {
    let (s, _) = log_sandbox();
    let policy = format!(
        "{REDACTED_ONLY}\npermit(principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"{{ROOT}}\");"
    );
    let r = s.run(&policy, r#"cat("{ROOT}/app.log")"#);
    assert_eq!(r.ok(), LOG);
    assert!(r.json.get("redactions").is_none(), "{:#}", r.json);
}

#[test]
fn denies_a_read_when_neither_read_nor_redacted_read_is_permitted() {
    let (s, _) = log_sandbox();
    let policy = r#"permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");"#;
    let r = s.run(policy, r#"cat("{ROOT}/app.log")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains(r#"Action::"read""#), "{}", r.message());
    assert!(!r.message().contains("alice"));
}

#[test]
fn cp_and_sed_in_place_need_read_and_are_not_served_redacted() {
    let (s, log) = log_sandbox();
    let policy = format!(
        "{REDACTED_ONLY}\npermit(principal, action in [file_system::Action::\"create\", file_system::Action::\"write\"], resource in file_system::Dir::\"{{ROOT}}\");"
    );
    let r = s.run(&policy, r#"cp("{ROOT}/app.log", "{ROOT}/copy.log")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(!exists(&s.path("copy.log")));
    let r = s.run(
        &policy,
        r#"sed([sed::in_place], "healthy", "ok", "{ROOT}/app.log")"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), LOG);
    // Without in_place, sed edits the redacted text.
    let r = s.run(&policy, r#"sed("healthy", "ok", "{ROOT}/app.log")"#);
    assert_eq!(r.ok(), REDACTED.replace("healthy", "ok"));
}

#[test]
fn custom_rule_from_the_config_replaces_its_matches() {
    let s = Sandbox::new();
    s.write(
        "hr.log",
        "badge EMP-004211 entered, contact hr@example.com\n",
    );
    let cfg = s.config(&json!({"redaction": {"rules": [
        {"name": "employee_id", "pattern": "EMP-\\d{6}", "placeholder": "[EMPLOYEE]"}
    ]}}));
    let r = s.run_with(
        REDACTED_ONLY,
        r#"cat("{ROOT}/hr.log")"#,
        &["--config", &cfg],
    );
    assert_eq!(r.ok(), "badge [EMPLOYEE] entered, contact [EMAIL]\n");
    assert_eq!(
        r.json["redactions"][s.path("hr.log")],
        json!({"EMAIL": 1, "employee_id": 1})
    );
}

#[test]
fn invalid_custom_rule_stops_the_run_before_it_starts() {
    let s = Sandbox::new();
    let marker = s.path("started");
    let cfg = s.config(&json!({"redaction": {"rules": [{"name": "broken", "pattern": "EMP-(\\d+", "placeholder": "[X]"}]}}));
    let r = s.run_with(
        ALL_IN_ROOT,
        &format!(r#"write("{marker}", "x")"#),
        &["--config", &cfg],
    );
    assert_eq!(r.code, 3, "{:#}", r.json);
    assert_eq!(r.error_type(), "VALIDATION_EXCEPTION");
    assert!(r.message().contains("broken"), "{}", r.message());
    assert!(!exists(&marker));
    // Nothing ran, so nothing was recorded.
    assert!(!exists(&s.audit_dir()));
}

#[test]
fn misspelt_redaction_setting_stops_the_run() {
    let s = Sandbox::new();
    let cfg = s.config(&json!({"redaction": {"redact_ouput": true}}));
    let r = s.run_with(ALL_IN_ROOT, "1", &["--config", &cfg]);
    assert_eq!(r.code, 3, "{:#}", r.json);
    assert!(r.message().contains("redact_ouput"), "{}", r.message());
}

#[test]
fn missing_config_named_on_the_command_line_stops_the_run() {
    let s = Sandbox::new();
    let missing = s.audit.path().join("nope.json").display().to_string();
    let r = s.run_with(ALL_IN_ROOT, "1", &["--config", &missing]);
    assert_eq!(r.code, 3, "{:#}", r.json);
    assert!(r.message().contains("nope.json"), "{}", r.message());
}

#[test]
fn redact_output_redacts_a_secret_the_script_builds_itself() {
    let s = Sandbox::new();
    let cfg = s.config(&json!({"redaction": {"redact_output": true}}));
    let script = r#"
let user = "carol";
let email = user + "@" + "example.org";
info("mailing " + email);
"key " + "AKIA" + "IOSFODNN7EXAMPLE" + " for " + email
"#;
    let r = s.run_with(ALL_IN_ROOT, script, &["--config", &cfg]);
    assert_eq!(r.ok(), "key [AWS_KEY] for [EMAIL]");
    assert_eq!(
        r.json["logs"][0]["attributes"]["message"],
        "mailing [EMAIL]"
    );
    assert_eq!(
        r.json["redactions"],
        json!({"output": {"AWS_KEY": 1, "EMAIL": 2}})
    );
    let end = s
        .records()
        .into_iter()
        .find(|r| r["kind"] == "run_end")
        .unwrap();
    assert_eq!(end["redactions"], r.json["redactions"]);
}

#[test]
fn redact_output_redacts_a_thrown_error_too() {
    let s = Sandbox::new();
    let cfg = s.config(&json!({"redaction": {"redact_output": true}}));
    let r = s.run_with(
        ALL_IN_ROOT,
        r#"throw "ssn is 123-45-6789""#,
        &["--config", &cfg],
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(r.message().contains("[SSN]"), "{}", r.message());
    assert!(!r.message().contains("6789"), "{}", r.message());
}

/// A log in UTF-16 holding one value of each of four kinds, and what a redacted read of it
/// gives: UTF-8 text with the placeholders.
const UTF16_LOG: &str = "login alice@example.com\r\nkey AKIAIOSFODNN7EXAMPLE\r\ndb_password=hunter2 user=app\r\npaid card=4111 1111 1111 1111\r\n";
const UTF16_REDACTED: &str =
    "login [EMAIL]\r\nkey [AWS_KEY]\r\ndb_password=[PASSWORD] user=app\r\npaid card=[CARD]\r\n";
const SECRETS: [&str; 4] = [
    "alice@example.com",
    "AKIAIOSFODNN7EXAMPLE",
    "hunter2",
    "4111 1111 1111 1111",
];

fn utf16(bom: bool, little_endian: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(if little_endian {
            b"\xFF\xFE"
        } else {
            b"\xFE\xFF"
        });
    }
    for unit in UTF16_LOG.encode_utf16() {
        bytes.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}

#[test]
fn redacted_read_decodes_utf16_with_or_without_bom_and_redacts_it() {
    let s = Sandbox::new();
    for (name, bytes) in [
        ("le-bom.log", utf16(true, true)),
        ("be-bom.log", utf16(true, false)),
        ("le.log", utf16(false, true)),
    ] {
        std::fs::write(s.path(name), bytes).unwrap();
        let script = format!(
            r#"
let log = "{{ROOT}}/{name}";
let dir = DirConfig().path("{{ROOT}}").build().open(OpenDirOptions().build());
#{{
    cat: cat(log),
    grep: grep("login|key", log),
    probe: grep("alice|AKIA|hunter2|4111", log),
    handle: dir.open_file("{name}", OpenFileOptions().read(true).build()).read(),
}}
"#
        );
        let r = s.run(REDACTED_ONLY, &script);
        let out: Value = serde_json::from_str(r.ok()).unwrap();
        assert_eq!(out["cat"], UTF16_REDACTED, "{name}");
        assert_eq!(out["handle"], UTF16_REDACTED, "{name}");
        assert_eq!(
            out["grep"],
            json!(["login [EMAIL]", "key [AWS_KEY]"]),
            "{name}"
        );
        assert_eq!(out["probe"], json!([]), "{name}");
        let printed = r.json.to_string();
        for secret in SECRETS {
            assert!(!printed.contains(secret), "{name}: {secret} in {printed}");
        }
        assert_eq!(
            r.json["redactions"][s.path(name)],
            json!({"AWS_KEY": 4, "CARD": 4, "EMAIL": 4, "PASSWORD": 4}),
            "{name}"
        );
    }
}

#[test]
fn redacted_read_refuses_latin1_and_binary_files_saying_the_encoding_could_not_be_told() {
    let s = Sandbox::new();
    let mut latin1 = b"caf\xE9 au lait for alice@example.com\n".to_vec();
    latin1.extend_from_slice(b"card 4111 1111 1111 1111\n");
    std::fs::write(s.path("latin1.log"), latin1).unwrap();
    let mut binary = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0".to_vec();
    binary.extend_from_slice(b"\xff\xfe\x80AKIAIOSFODNN7EXAMPLE\0\x01\x02");
    std::fs::write(s.path("tool.bin"), binary).unwrap();
    for name in ["latin1.log", "tool.bin"] {
        for script in [
            format!(r#"cat("{{ROOT}}/{name}")"#),
            format!(r#"grep("a", "{{ROOT}}/{name}")"#),
            format!(
                r#"DirConfig().path("{{ROOT}}").build().open(OpenDirOptions().build()).open_file("{name}", OpenFileOptions().read(true).build()).read()"#
            ),
        ] {
            let r = s.run(REDACTED_ONLY, &script);
            assert_ne!(r.code, 0, "{name}: {:#}", r.json);
            assert!(
                r.message().contains("encoding could not be told"),
                "{name}: {}",
                r.message()
            );
            assert!(r.message().contains(name), "{name}: {}", r.message());
            let printed = r.json.to_string();
            for secret in SECRETS {
                assert!(!printed.contains(secret), "{name}: {secret} in {printed}");
            }
        }
    }
}
