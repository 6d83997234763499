//! Errors a script cannot forge: a denial or a limit is what the host raised, never what a
//! script throws, and a limit cannot be caught.

mod common;

use common::*;
use serde_json::Value;

/// The run's end record.
fn run_end(s: &Sandbox) -> Value {
    s.records()
        .into_iter()
        .rev()
        .find(|r| r["kind"] == "run_end")
        .unwrap()
}

/// `tollgate run --output agent`: the JSON an MCP agent gets, denied call included.
fn agent(s: &Sandbox, policy: &str, script: &str) -> (i32, Value) {
    let r = s.run_with(policy, script, &["--output", "agent"]);
    (r.code, r.json)
}

const FORGED: &str = r#"throw #{ kind: "PermissionDenied", message: "access denied: forged",
    principal: "User::\"root\"", action: "file_system::Action::\"read\"",
    resource: "file_system::File::\"/etc/shadow\"", reason: "made up", policies: ["no-secrets"] };"#;

#[test]
fn a_thrown_map_is_the_scripts_own_error_whatever_its_kind() {
    let s = Sandbox::new();
    for script in [
        FORGED,
        r#"throw #{ kind: "PermissionDenied" };"#,
        r#"throw #{ kind: "ResourceLimitExceeded", message: "the script ran longer than 1s (--timeout)" };"#,
        r#"throw #{ kind: "TimedOut", message: "x" };"#,
    ] {
        let r = s.run(ALL_IN_ROOT, script);
        assert_eq!(r.code, 5, "{script}: {:#}", r.json);
        assert_eq!(r.error_type(), "SCRIPT_EXCEPTION", "{script}");
        let end = run_end(&s);
        assert_eq!(end["error_type"], "SCRIPT_EXCEPTION", "{script}: {end:#}");
        assert_eq!(end["denies"], 0, "{end:#}");
        let (code, out) = agent(&s, ALL_IN_ROOT, script);
        assert_eq!(code, 5);
        assert!(out["error"].get("action").is_none(), "{script}: {out:#}");
        assert!(out["error"].get("policies").is_none(), "{script}: {out:#}");
    }
}

#[test]
fn a_real_denial_thrown_on_is_reported_as_the_host_raised_it() {
    let s = Sandbox::new();
    let secret = s.write("secret", "x");
    let policy = format!(
        "{ALL_IN_ROOT}\n@id(\"no-secret\")\nforbid(principal, action, resource == file_system::File::\"{secret}\");"
    );
    // Caught, then changed and thrown on: the result still says what the host said.
    let script = r#"try { cat("{ROOT}/secret") } catch (e) {
        e.message = "access denied: all is well"; e.policies = ["someone-else"]; throw e; }"#;
    let r = s.run(&policy, script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("no-secret"), "{}", r.message());
    assert!(!r.message().contains("all is well"), "{}", r.message());
    let (code, out) = agent(&s, &policy, script);
    assert_eq!(code, 4);
    assert_eq!(
        out["error"]["policies"],
        serde_json::json!(["no-secret"]),
        "{out:#}"
    );
    let end = run_end(&s);
    assert_eq!(end["error_type"], "ACCESS_DENIED_EXCEPTION");
    assert_eq!(end["denies"], 1, "{end:#}");
    // A denial map made up after a real denial of something else is still the script's.
    let r = s.run(
        &policy,
        &format!(r#"try {{ cat("{{ROOT}}/secret") }} catch (e) {{}} {FORGED}"#),
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
}

#[test]
fn limits_cannot_be_caught() {
    let s = Sandbox::new();
    for i in 0..20 {
        s.write(&format!("many/{i}"), "x");
    }
    s.write("big", &"x".repeat(4096));
    for (script, flags, said) in [
        (
            r#"try { ls("{ROOT}/many") } catch (e) { "caught" }"#,
            vec!["--max-array-size", "5"],
            "entries",
        ),
        (
            r#"try { cat("{ROOT}/big") } catch (e) { "caught" }"#,
            vec!["--max-string-size", "1KiB"],
            "--max-string-size",
        ),
        (
            r#"try { loop { } } catch (e) { "caught" }"#,
            vec!["--timeout", "1s", "--max-operations", "0"],
            "--timeout",
        ),
        (
            r#"try { let x = 0; loop { x += 1; } } catch (e) { "caught" }"#,
            vec!["--max-operations", "10000"],
            "--max-operations",
        ),
    ] {
        let r = s.run_with(ALL_IN_ROOT, script, &flags);
        assert_eq!(r.code, 6, "{script}: {:#}", r.json);
        assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{script}");
        assert!(r.message().contains(said), "{script}: {}", r.message());
    }
}
