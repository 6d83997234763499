//! `tollgate run` end to end: policy validation, output format, exit codes, arguments, logs.

mod common;

use common::*;

#[test]
fn permitted_read_returns_file_content_as_output() {
    let s = Sandbox::new();
    s.write("logs/app.log", "started\nready\n");
    let r = s.run(READ_IN_ROOT, r#"cat("{ROOT}/logs/app.log")"#);
    assert_eq!(r.ok(), "started\nready\n");
    assert_eq!(r.json["status"], "SUCCESS");
    assert!(r.json.get("error").is_none());
}

#[test]
fn denied_read_exits_4_with_access_denied_naming_action_and_resource() {
    let s = Sandbox::new();
    let secret = s.write("secret.txt", "s3cret");
    let r = s.run(
        r#"permit(principal, action, resource in file_system::Dir::"{ROOT}/public");"#,
        &format!(r#"cat("{secret}")"#),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.json["status"], "ERROR");
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains(r#"file_system::Action::"open""#),
        "{}",
        r.message()
    );
    assert!(r.message().contains("User::"), "{}", r.message());
    assert!(!r.json.to_string().contains("s3cret"));
}

#[test]
fn invalid_policy_is_a_validation_error_with_line_and_column_and_nothing_runs() {
    let s = Sandbox::new();
    let marker = s.path("ran.txt");
    let r = s.run(
        "permit(principal, action in file_system::Action::\"SafeIO\", resource);\n\npermit(principal, action == file_system::Action::\"wirte\", resource);",
        &format!(r#"write("{marker}", "x")"#),
    );
    assert_eq!(r.code, 3, "{:#}", r.json);
    assert_eq!(r.error_type(), "VALIDATION_EXCEPTION");
    assert!(r.message().contains(":3:"), "{}", r.message());
    assert!(r.message().contains("wirte"), "{}", r.message());
    assert!(!exists(&marker), "the script ran despite an invalid policy");
}

#[test]
fn misspelt_entity_type_is_a_validation_error() {
    let s = Sandbox::new();
    let r = s.run(
        r#"permit(principal, action, resource in file_system::Folder::"/tmp");"#,
        "1",
    );
    assert_eq!(r.code, 3);
    assert!(r.message().contains("Folder"), "{}", r.message());
}

#[test]
fn missing_policy_file_fails_closed() {
    let r = run_binary(
        &[
            "run".into(),
            "-".into(),
            "--policy".into(),
            "/nonexistent/p.cedar".into(),
        ],
        "1",
    );
    assert_eq!(r.code, 3);
    assert!(r.message().contains("/nonexistent/p.cedar"));
}

#[test]
fn forbid_overrides_permit() {
    let s = Sandbox::new();
    let f = s.write("etc/key", "k");
    let r = s.run(
        &format!("{ALL_IN_ROOT}\n@id(\"no-keys\")\nforbid(principal, action, resource == file_system::File::\"{{ROOT}}/etc/key\");"),
        &format!(r#"cat("{f}")"#),
    );
    assert_eq!(r.code, 4);
    assert!(r.message().contains("no-keys"), "{}", r.message());
}

#[test]
fn safeio_action_group_permits_file_actions() {
    let s = Sandbox::new();
    let f = s.path("new.txt");
    let r = s.run(
        ALL_IN_ROOT,
        &format!(r#"write("{f}", "hello"); cat("{f}")"#),
    );
    assert_eq!(r.ok(), "hello");
}

#[test]
fn script_error_exits_5() {
    let s = Sandbox::new();
    let r = s.run(ALL_IN_ROOT, r#"throw "boom";"#);
    assert_eq!(r.code, 5);
    assert_eq!(r.error_type(), "SCRIPT_EXCEPTION");
    assert!(r.message().contains("boom"));
}

#[test]
fn script_syntax_error_is_a_validation_error() {
    let s = Sandbox::new();
    let r = s.run(ALL_IN_ROOT, "let x = ;");
    assert_eq!(r.code, 3);
    assert_eq!(r.error_type(), "VALIDATION_EXCEPTION");
}

#[test]
fn denial_is_catchable_with_rex_kind() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        r#"let kind = "none"; try { cat("/etc/hostname"); } catch (e) { kind = e.kind; } kind"#,
    );
    assert_eq!(r.ok(), "PermissionDenied");
}

#[test]
fn logs_carry_level_and_line_number_and_truncate_long_messages() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        "info(\"first\");\nwarn(\"second\");\nlet s = \"\"; for i in 0..3000 { s += \"é\"; }\nerror(s);\n1",
    );
    assert_eq!(r.ok(), "1");
    let logs = r.json["logs"].as_array().unwrap();
    assert_eq!(logs[0]["attributes"]["level"], "INFO");
    assert_eq!(logs[0]["attributes"]["message"], "first");
    assert_eq!(logs[0]["attributes"]["line_number"], 1);
    assert_eq!(logs[1]["attributes"]["line_number"], 2);
    assert!(logs[0]["attributes"]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let long = logs[2]["attributes"]["message"].as_str().unwrap();
    assert!(
        long.len() <= 4096 && long.ends_with("[truncated]"),
        "{}",
        long.len()
    );
}

#[test]
fn arguments_become_typed_variables() {
    let s = Sandbox::new();
    let args = s.write(
        "args.json",
        r#"{"name":{"stringValue":"a"},"n":{"integerValue":2},"xs":{"listValue":[{"longValue":5}]}}"#,
    );
    let r = s.run_with("", "name + (n * xs[0])", &["--args", &args]);
    assert_eq!(r.ok(), "a10");
}

#[test]
fn malformed_or_too_deep_arguments_are_validation_errors() {
    let s = Sandbox::new();
    let bad = s.write("bad.json", r#"{"x": {"stringValue": 5}}"#);
    assert_eq!(s.run_with("", "1", &["--args", &bad]).code, 3);
    let mut v = r#"{"integerValue":1}"#.to_owned();
    for _ in 0..33 {
        v = format!(r#"{{"listValue":[{v}]}}"#);
    }
    let deep = s.write("deep.json", &format!(r#"{{"x":{v}}}"#));
    let r = s.run_with("", "1", &["--args", &deep]);
    assert_eq!(r.code, 3);
    assert!(r.message().contains("32"));
    let huge = s.write("huge.json", &"[".repeat(1_000_000));
    assert_eq!(s.run_with("", "1", &["--args", &huge]).code, 3);
}

#[test]
fn human_output_renders_maps_and_lists_as_text() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"#{hosts: ["a", "b"], count: 2}"#,
        &["--output", "human"],
    );
    assert_eq!(r.code, 0);
    let text = r.json.as_str().unwrap();
    assert!(text.contains("count: 2"), "{text}");
    assert!(text.contains("hosts:\n  - a\n  - b"), "{text}");
}

#[test]
fn json_output_of_structures_is_json_text() {
    let s = Sandbox::new();
    let r = s.run("", r#"#{a: 1}"#);
    assert_eq!(r.ok(), r#"{"a":1}"#);
}

#[test]
fn script_file_path_works_as_well_as_stdin() {
    let s = Sandbox::new();
    let script = s.write("s.rhai", "40 + 2");
    let policy = s.write("p.cedar", "");
    let r = run_binary(&["run".into(), script, "--policy".into(), policy], "");
    assert_eq!(r.ok(), "42");
}

#[test]
fn policy_check_names_the_line_of_an_error_and_warns_about_broad_grants() {
    let s = Sandbox::new();
    // The host's own files are the sandbox's, so that only the grants below are weighed.
    let config = s.write("host/config.json", "{}");
    let audit_log = s.path("host/audit");
    let check = |text: &str, strict: bool| {
        let path = s.write("check.cedar", text);
        let mut args = vec![
            "policy",
            "check",
            path.as_str(),
            "--config",
            &config,
            "--audit-log",
            &audit_log,
        ];
        if strict {
            args.push("--strict");
        }
        tollgate_output(&args)
    };
    let (code, _, err) = check(
        "permit(principal, action == file_system::Action::\"read\", resource);\npermit(principal, action == file_system::Action::\"raed\", resource);\n",
        false,
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("check.cedar:2:"), "{err}");
    assert!(err.contains("raed"), "{err}");

    let broad = "@id(\"etc-writes\")\npermit(principal, action == file_system::Action::\"write\", resource in file_system::Dir::\"/etc\");\n";
    let (code, out, _) = check(broad, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: policy etc-writes:"), "{out}");
    assert!(out.contains("1 warnings"), "{out}");
    assert_eq!(check(broad, true).0, 3);

    let (code, out, _) = check(
        "permit(principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/var/log\");\n",
        true,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 warnings"), "{out}");

    // Grants that cover Tollgate's own files: the log, its key, the host config, the policy.
    let host = s.path("host");
    for (text, what) in [
        (
            format!(
                r#"permit(principal, action == file_system::Action::"delete", resource in file_system::Dir::"{host}");"#
            ),
            "the audit log",
        ),
        (
            format!(
                r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"{audit_log}.key");"#
            ),
            "signing key",
        ),
        (
            format!(
                r#"permit(principal, action == file_system::Action::"write", resource == file_system::File::"{config}");"#
            ),
            "the host config",
        ),
        (
            format!(
                r#"permit(principal, action == file_system::Action::"create", resource in file_system::Dir::"{}");"#,
                s.path("")
            ),
            "the run's policy",
        ),
    ] {
        let (code, out, _) = check(&text, false);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("{what} (")), "{what}: {out}");
        assert!(out.contains("keeps from every script"), "{out}");
        assert_eq!(check(&text, true).0, 3, "{what}");
    }
}

#[test]
fn policy_test_checks_expected_decisions_and_fails_on_a_mismatch() {
    let s = Sandbox::new();
    let policy = s.write(
        "p.cedar",
        r#"@id("oncall-logs")
permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/var/log")
when { principal.on_behalf_of in Group::"oncall" && context.purpose == "incident-response" };
@id("root-reads")
permit(principal == User::"root", action == file_system::Action::"read", resource);
"#,
    );
    let directory = s.write(
        "directory.json",
        r#"{"users": {"alice": {"groups": ["oncall"]}}, "groups": {"oncall": {}}}"#,
    );
    let case = |principal: &str, extra: &str, resource: &str, expect: &str| {
        format!(
            r#"{{"principal": {principal:?}, {extra} "action": "file_system::Action::\"read\"", "resource": "file_system::File::\"{resource}\"", "expect": "{expect}"}}"#
        )
    };
    let alice = r#""on_behalf_of": "alice", "purpose": "incident-response","#;
    let good = [
        case(r#"Agent::"ops""#, alice, "/var/log/app.log", "permit"),
        case(r#"Agent::"ops""#, alice, "/etc/shadow", "deny"),
        case(
            r#"Agent::"ops""#,
            r#""on_behalf_of": "alice", "purpose": "curiosity","#,
            "/var/log/app.log",
            "deny",
        ),
        case(r#"User::"root""#, "", "/etc/shadow", "permit"),
    ];
    let run = |cases: &[String]| {
        let path = s.write("cases.json", &format!("[{}]", cases.join(",")));
        let (code, out, _) =
            tollgate_output(&["policy", "test", &policy, &path, "--directory", &directory]);
        (code, out)
    };
    let (code, out) = run(&good);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 passed, 0 failed"), "{out}");
    assert!(out.contains("by oncall-logs"), "{out}");

    let mut wrong = good.to_vec();
    wrong.push(case(r#"User::"bob""#, "", "/var/log/app.log", "permit"));
    let (code, out) = run(&wrong);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("4 passed, 1 failed"), "{out}");
    assert!(out.contains(r#"FAILED case 5: User::"bob""#), "{out}");
    assert!(out.contains("expected permit, got deny"), "{out}");
}

#[test]
fn explain_names_the_policies_that_bear_on_a_decision_and_what_would_permit_it() {
    let s = Sandbox::new();
    s.write("logs/app.log", "ok\n");
    s.write("logs/secret.log", "s\n");
    s.write("other.txt", "o\n");
    let policy_text = r#"@id("read-logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/logs");
@id("no-secret")
forbid(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/logs/secret.log");
"#;
    let r = s.run(policy_text, r#"cat("{ROOT}/other.txt")"#);
    assert_eq!(r.code, 4);
    let denied = s
        .records()
        .into_iter()
        .find(|r| r["kind"] == "decision" && r["decision"] == "deny")
        .expect("a deny record");
    let policy = s.write("explain.cedar", &policy_text.replace("{ROOT}", &s.path("")));
    let explain = |args: &[&str]| {
        let mut all = vec!["explain", "--policy", &policy];
        all.extend_from_slice(args);
        let (code, out, err) = tollgate_output(&all);
        assert_eq!(code, 0, "{err}");
        out
    };
    let seq = denied["seq"].to_string();
    let out = explain(&["--record", &seq, "--audit-log", &s.audit_dir()]);
    assert!(out.starts_with("DENY "), "{out}");
    assert!(
        out.contains(&format!(
            "would permit it: permit(principal == {}, action == file_system::Action::\"{}\"",
            denied["principal"].as_str().unwrap(),
            if denied["action"].as_str().unwrap().contains("open") {
                "open"
            } else {
                "read"
            }
        )),
        "{out}"
    );

    let request = |path: &str| {
        format!(
            r#"{{"principal": "User::\"root\"", "action": "file_system::Action::\"read\"", "resource": "file_system::File::\"{}\""}}"#,
            s.path(path)
        )
    };
    let out = explain(&["--request", &request("logs/secret.log")]);
    assert!(out.starts_with("DENY "), "{out}");
    assert!(out.contains("permit read-logs: applies"), "{out}");
    assert!(out.contains("forbid no-secret: applies"), "{out}");
    assert!(out.contains("forbidden by no-secret"), "{out}");
    let out = explain(&["--request", &request("logs/app.log")]);
    assert!(out.starts_with("PERMIT "), "{out}");
    assert!(!out.contains("would permit"), "{out}");
}
