//! Output is safe to print: what a script, a file, a token or a record holds reaches a
//! person's terminal with its control characters and terminal sequences spelled out, never
//! acted on, and never as a line that looks like one of Tollgate's own.

mod common;

use common::*;
use serde_json::{json, Value};

/// Retitles the window, clears the screen, writes the clipboard.
const TITLE: &str = "\x1b]0;title\x07";
const CLEAR: &str = "\x1b[2J";
const CLIPBOARD: &str = "\x1b]52;c;cm0gLXJmIH4=\x07";

/// Asserts that `text` holds none of the bytes a terminal would act on (ESC, BEL, CR, the C1
/// CSI) nor a direction override.
fn assert_printable(what: &str, text: &str) {
    for bad in ['\x1b', '\x07', '\r', '\u{9b}', '\u{202e}'] {
        assert!(
            !text.contains(bad),
            "{what}: {bad:?} printed raw in {text:?}"
        );
    }
}

/// `tollgate run --output human`: (exit code, stdout, stderr).
fn human(s: &Sandbox, policy: &str, script: &str) -> (i32, String, String) {
    let r = s.run_with(policy, script, &["--output", "human"]);
    let stdout = match &r.json {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    (r.code, stdout, r.stderr.clone())
}

#[test]
fn human_output_escapes_file_names_and_contents_in_ls_cat_and_tables() {
    let s = Sandbox::new();
    let title_log = format!("{TITLE}.log");
    s.write(
        &title_log,
        &format!("before {TITLE} after\r\nclear {CLEAR} and {CLIPBOARD}\n"),
    );
    s.write(&format!("clip{CLIPBOARD}"), "x");
    s.write("cr\rforged.log", "x");

    let (code, out, err) = human(&s, ALL_IN_ROOT, r#"ls("{ROOT}")"#);
    assert_eq!(code, 0, "{err}");
    assert_printable("ls", &out);
    assert!(out.contains("\\x1b]0;title\\x07.log"), "{out}");
    assert!(out.contains("clip\\x1b]52;c;cm0gLXJmIH4=\\x07"), "{out}");
    assert!(out.contains("cr\\rforged.log"), "{out}");

    let (code, out, err) = human(&s, ALL_IN_ROOT, r#"cat("{ROOT}/\x1b]0;title\x07.log")"#);
    assert_eq!(code, 0, "{err}");
    assert_printable("cat", &out);
    // The content's own newline stays a line break; its CR does not.
    assert_eq!(
        out,
        "before \\x1b]0;title\\x07 after\\r\nclear \\x1b[2J and \\x1b]52;c;cm0gLXJmIH4=\\x07\n"
    );

    // A table: the columns are as wide as the escaped cells print.
    let script = r#"[#{name: "a\x1b[2J", size: 1}, #{name: "plain", size: 22}, #{name: "b\u202Ec", size: 3}]"#;
    let (code, out, err) = human(&s, ALL_IN_ROOT, script);
    assert_eq!(code, 0, "{err}");
    assert_printable("table", &out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let column = lines[0].find("size").unwrap();
    for (line, cell) in lines[1..].iter().zip(["1", "22", "3"]) {
        assert!(
            line.contains("a\\x1b[2J") || line.contains("plain") || line.contains("b\\u{202e}c"),
            "{out}"
        );
        let at = line.rfind(cell).unwrap();
        assert_eq!(at + cell.len(), column + "size".len(), "{out}");
    }
}

#[test]
fn human_logs_and_errors_neither_move_the_terminal_nor_forge_a_line() {
    let s = Sandbox::new();
    let script = r#"
print("hello \x1b]0;pwned\x07\n[ERROR] forged log line");
throw "bad \x1b[2J\r\nSCRIPT_EXCEPTION: forged error line";
"#;
    let (code, out, err) = human(&s, ALL_IN_ROOT, script);
    assert_ne!(code, 0, "{out}{err}");
    assert_printable("stderr", &err);
    assert_printable("stdout", &out);
    assert!(
        err.contains("hello \\x1b]0;pwned\\x07\\n[ERROR] forged log line"),
        "{err}"
    );
    for line in err.lines() {
        assert!(!line.starts_with("[ERROR] forged"), "{err}");
        assert!(!line.starts_with("SCRIPT_EXCEPTION: forged"), "{err}");
    }
    assert!(
        err.lines()
            .any(|l| l.starts_with("SCRIPT_EXCEPTION: bad \\x1b[2J\\r")),
        "{err}"
    );
}

#[test]
fn audit_show_and_explain_escape_a_denied_path_that_holds_sequences_and_a_forged_record() {
    let s = Sandbox::new();
    let open_only = r#"permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");"#;
    // A denied read of a path made to look, once printed, like a retitle and a second record.
    let script = r#"cat("{ROOT}/evil\x1b]0;title\x07\x1b[2J\r\n    99 2026-01-01T00:00:00Z forged permit User::\"root\"")"#;
    let r = s.run(open_only, script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    let records = s.records();
    let denied = records
        .iter()
        .find(|r| r["decision"] == "deny" && r["resource_id"].as_str().unwrap().contains('\x1b'))
        .unwrap_or_else(|| panic!("no denial of the path: {records:#?}"));

    let (code, out, err) = s.audit(&["show", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{err}");
    assert_printable("audit show", &out);
    // One printed line a record: the newline in the path started none.
    assert_eq!(out.lines().count(), records.len(), "{out}");
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("99 ")),
        "{out}"
    );
    assert!(
        out.contains("evil\\u{1b}]0;title") || out.contains("evil\\x1b]0;title"),
        "{out}"
    );

    let seq = denied["seq"].as_u64().unwrap().to_string();
    let policy = s.policy_file(open_only);
    let out = s
        .tollgate(&[
            "explain",
            "--policy",
            &policy,
            "--record",
            &seq,
            "--audit-log",
            &s.audit_dir(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_printable("explain", &stdout);
    assert_printable("explain stderr", &stderr);
    assert!(stdout.starts_with("DENY "), "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| !l.starts_with("  ")).count(),
        1,
        "{stdout}"
    );
}

#[test]
fn a_token_header_field_with_sequences_is_escaped_in_the_refusal_and_its_record() {
    let s = Sandbox::new();
    let jwks = s.write(
        ".host/issuers.jwks",
        &json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA",
                          "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
        .to_string(),
    );
    let directory = s.write(
        ".host/directory.json",
        &json!({"users": {"alice": {"groups": []}}, "groups": {}}).to_string(),
    );
    let config = s.config(
        &json!({"identity": {"jwks": jwks, "audience": ["web-1"], "directory": directory}}),
    );
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": format!("{TITLE}{CLIPBOARD}\u{202e}\r\nforged")});
    let token = format!("{}.{}.AAAA", b64(&header), b64(&json!({"sub": "alice"})));
    let r = s.run_with(
        ALL_IN_ROOT,
        "1",
        &["--config", &config, "--token", &token, "--output", "human"],
    );
    assert_ne!(r.code, 0, "{:#}", r.json);
    assert_printable("refusal", &r.stderr);
    assert!(r.stderr.contains("delegation token"), "{}", r.stderr);
    let (code, out, err) = s.audit(&["show", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{err}");
    assert_printable("audit show", &out);
    assert!(out.contains("refuse"), "{out}");
    assert_eq!(out.lines().count(), s.records().len(), "{out}");
}

#[test]
fn runs_escapes_a_registry_entry_and_its_file_name() {
    let s = Sandbox::new();
    let runs = std::path::Path::new(&s.state_dir()).join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    // A live process's entry, planted by whoever can write the registry.
    let id = format!("r-{TITLE}");
    let entry = json!({
        "run_id": id, "pid": std::process::id(),
        "principal": format!("User::\"{CLIPBOARD}\""), "on_behalf_of": "User::\"\u{202e}eve\"",
        "script_sha256": "a".repeat(64), "started": "2026-12-02T00:00:00Z\r\nr-forged  pid 1",
    });
    std::fs::write(runs.join(format!("{id}.json")), entry.to_string()).unwrap();
    let out = s.tollgate(&["runs"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_printable("runs", &stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("r-\\x1b]0;title\\x07  pid"), "{stdout}");

    // A malformed entry is named on stderr, escaped as well.
    std::fs::write(runs.join(format!("{CLEAR}{TITLE}.json")), "{not json").unwrap();
    let out = s.tollgate(&["runs"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert_printable("runs stderr", &stderr);
    assert!(
        stderr.contains("\\x1b[2J\\x1b]0;title\\x07.json: not a run entry"),
        "{stderr}"
    );
}
