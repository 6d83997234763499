//! `tollgate mcp` driven by a real MCP client: the official Python `mcp` package, over stdio,
//! against the real binary, with a real policy, files and audit log in temp directories.

mod common;

use std::process::{Command, Stdio};
use std::sync::Once;

use common::{binary, Sandbox};
use serde_json::{json, Value};

/// The official client, installed the way `.ci/run` installs it when it is missing.
fn ensure_client() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let present = Command::new("python3")
            .args(["-c", "import mcp"])
            .status()
            .expect("python3 is needed to run the MCP client");
        if !present.success() {
            let installed = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "mcp"])
                .status()
                .expect("python3 -m pip");
            assert!(
                installed.success(),
                "could not install the Python mcp package"
            );
        }
    });
}

/// Starts `tollgate mcp` with `server_args` under the client, makes `calls`, returns what
/// the client saw.
fn session(server_args: &[String], calls: Value) -> Value {
    ensure_client();
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");
    let out = Command::new("python3")
        .arg(client)
        .arg(calls.to_string())
        .arg(binary())
        .arg("mcp")
        .args(server_args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the MCP session failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Reading below the sandbox is permitted; `secret.txt` is forbidden by a named policy.
const POLICY: &str = r#"
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}");
@id("no-secrets")
forbid(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/secret.txt");
"#;

fn sandbox() -> (Sandbox, Vec<String>) {
    let s = Sandbox::new();
    s.write("app.log", "started\nERROR disk full\nstopped\n");
    s.write("secret.txt", "hunter2\n");
    let policy = s.policy_file(POLICY);
    let args = vec![
        "--policy".into(),
        policy.clone(),
        "--audit-log".into(),
        s.audit_dir(),
    ];
    (s, args)
}

fn run_script(script: &str, args: Value) -> Value {
    json!({"tool": "run_script", "arguments": {"script": script, "args": args}})
}

#[test]
fn serves_run_script_describe_sdk_and_check_access_to_a_real_client() {
    let (s, args) = sandbox();
    let log = s.path("app.log");
    let secret = s.path("secret.txt");
    let calls = json!([
        run_script(
            r#"info("reading"); grep("ERROR", path)"#,
            json!({"path": {"stringValue": log}})
        ),
        run_script(&format!(r#"cat("{secret}")"#), json!({})),
        run_script(r#"throw "the service is not ready";"#, json!({})),
        {"tool": "describe_sdk", "arguments": {}},
        {"tool": "check_access", "arguments": {
            "action": r#"file_system::Action::"read""#,
            "resource": format!(r#"file_system::File::"{log}""#)}},
        {"tool": "check_access", "arguments": {
            "action": r#"file_system::Action::"read""#,
            "resource": format!(r#"file_system::File::"{secret}""#)}},
    ]);
    let seen = session(&args, calls);

    assert_eq!(seen["server"]["name"], "tollgate");
    let mut tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    tools.sort();
    assert_eq!(tools, ["check_access", "describe_sdk", "run_script"]);
    let r = &seen["results"];

    // A permitted run: the same object `tollgate run --output json` prints.
    assert_eq!(r[0]["is_error"], false, "{:#}", r[0]);
    let ok = &r[0]["structured"];
    assert_eq!(ok["status"], "SUCCESS");
    assert_eq!(ok["output"], r#"["ERROR disk full"]"#);
    assert_eq!(ok["logs"][0]["attributes"]["message"], "reading");

    // A denied run: a tool error the agent can act on.
    assert_eq!(r[1]["is_error"], true, "{:#}", r[1]);
    let err = &r[1]["structured"]["error"];
    assert_eq!(err["error_type"], "ACCESS_DENIED_EXCEPTION");
    assert_eq!(err["action"], r#"file_system::Action::"read""#);
    assert_eq!(err["resource"], format!(r#"file_system::File::"{secret}""#));
    assert_eq!(err["policies"], json!(["no-secrets"]));
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .contains("forbidden by policy no-secrets"),
        "{err:#}"
    );

    // A script error is a tool error with its type, not a protocol failure.
    assert_eq!(r[2]["is_error"], true);
    let err = &r[2]["structured"]["error"];
    assert_eq!(err["error_type"], "SCRIPT_EXCEPTION");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the service is not ready"),
        "{err:#}"
    );

    // The SDK description names calls, flags and actions.
    let functions = r[3]["structured"]["functions"].as_array().unwrap();
    let grep = functions.iter().find(|f| f["name"] == "grep").unwrap();
    assert!(grep["flags"]
        .as_array()
        .unwrap()
        .contains(&json!("grep::ignore_case (grep::i)")));
    assert!(grep["actions"]
        .as_array()
        .unwrap()
        .contains(&json!(r#"file_system::Action::"read""#)));

    // Probes: the decision without running anything.
    assert_eq!(r[4]["is_error"], false, "{:#}", r[4]);
    assert_eq!(r[4]["structured"]["decision"], "permit");
    assert_eq!(r[5]["structured"]["decision"], "deny");
    assert_eq!(r[5]["structured"]["policies"], json!(["no-secrets"]));

    // Each run_script call is one audited run; each probe is a probe record.
    let records = s.records();
    let count = |kind: &str| records.iter().filter(|r| r["kind"] == kind).count();
    assert_eq!(count("run_start"), 3);
    assert_eq!(count("run_end"), 3);
    let probes: Vec<&Value> = records.iter().filter(|r| r["probe"] == true).collect();
    assert_eq!(probes.len(), 2, "{records:#?}");
    assert_eq!(probes[0]["kind"], "decision");
    assert_eq!(probes[0]["resource_id"], log);
    assert_eq!(probes[0]["decision"], "permit");
    assert_eq!(probes[1]["decision"], "deny");
    let (code, _, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn denial_without_any_permit_names_no_policy_and_says_what_to_add() {
    let (s, args) = sandbox();
    let calls = json!([run_script(r#"cat("/etc/hostname")"#, json!({}))]);
    let seen = session(&args, calls);
    let err = &seen["results"][0]["structured"]["error"];
    assert_eq!(err["error_type"], "ACCESS_DENIED_EXCEPTION");
    assert_eq!(err["policies"], json!([]));
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .contains("no policy permits it"),
        "{err:#}"
    );
    drop(s);
}

#[test]
fn a_limit_is_a_tool_error_and_the_server_keeps_serving() {
    let (_s, mut args) = sandbox();
    args.extend(["--max-operations".into(), "1000".into()]);
    let calls = json!([
        run_script("let n = 0; loop { n += 1; }", json!({})),
        run_script("40 + 2", json!({})),
    ]);
    let seen = session(&args, calls);
    let r = &seen["results"];
    assert_eq!(r[0]["is_error"], true);
    assert_eq!(
        r[0]["structured"]["error"]["error_type"],
        "RESOURCE_LIMIT_EXCEEDED"
    );
    assert_eq!(r[1]["structured"]["output"], "42");
}

#[test]
fn refuses_a_script_larger_than_the_string_limit_before_running_it() {
    let (s, mut args) = sandbox();
    args.extend(["--max-string-size".into(), "1KiB".into()]);
    let big = format!("let x = \"{}\"; 1", "a".repeat(2000));
    let seen = session(&args, json!([run_script(&big, json!({}))]));
    let err = &seen["results"][0]["structured"]["error"];
    assert_eq!(err["error_type"], "VALIDATION_EXCEPTION");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("--max-string-size"),
        "{err:#}"
    );
    assert_eq!(
        s.records()
            .iter()
            .filter(|r| r["kind"] == "run_start")
            .count(),
        0
    );
}

#[test]
fn check_access_refuses_a_name_the_schema_does_not_have() {
    let (_s, args) = sandbox();
    let calls = json!([{"tool": "check_access", "arguments": {
        "action": r#"file_system::Action::"slurp""#,
        "resource": r#"file_system::File::"/etc/hostname""#}}]);
    let seen = session(&args, calls);
    let r = &seen["results"][0];
    assert_eq!(r["is_error"], true);
    assert_eq!(r["structured"]["error_type"], "VALIDATION_EXCEPTION");
    assert!(r["text"]
        .as_str()
        .unwrap()
        .contains("not an action of the schema"));
}

#[test]
fn check_access_denies_tollgates_own_files_as_a_run_would_whatever_the_policy_says() {
    let s = Sandbox::new();
    let args = vec![
        "--policy".into(),
        s.policy_file("permit(principal, action, resource);"),
        "--audit-log".into(),
        s.audit_dir(),
    ];
    let segment = format!("{}/segments/0", s.audit_dir());
    let key = format!("{}.key", s.audit_dir());
    let ask = |action: &str, path: &str| {
        json!({"tool": "check_access", "arguments": {
            "action": format!(r#"file_system::Action::"{action}""#),
            "resource": format!(r#"file_system::File::"{path}""#)}})
    };
    let calls = json!([
        ask("write", &segment),
        ask("read", &key),
        ask("read", &segment),
    ]);
    let seen = session(&args, calls);
    let r = seen["results"].as_array().unwrap();
    for (answer, what) in [
        (&r[0], "the audit log"),
        (&r[1], "the audit log's signing key"),
    ] {
        assert_eq!(answer["is_error"], false, "{answer:#}");
        let answer = &answer["structured"];
        assert_eq!(answer["decision"], "deny", "{answer:#}");
        // The policy permits everything: no policy is what denies it.
        assert_eq!(answer["policies"], json!([]), "{answer:#}");
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("Tollgate's own file ({what})")),
            "{reason}"
        );
    }
    // Reading the log is not changing it: the policy decides.
    assert_eq!(r[2]["structured"]["decision"], "permit", "{:#}", r[2]);

    let records = s.records();
    let probes: Vec<&Value> = records.iter().filter(|r| r["probe"] == true).collect();
    assert_eq!(probes.len(), 3, "{records:#?}");
    assert_eq!(probes[0]["resource_id"], segment);
    assert_eq!(probes[0]["decision"], "deny");
    assert!(
        probes[0]["error"]
            .as_str()
            .unwrap()
            .contains("Tollgate's own file (the audit log)"),
        "{:#}",
        probes[0]
    );
    assert_eq!(probes[1]["resource_id"], key);
    assert_eq!(probes[1]["decision"], "deny");
    assert_eq!(probes[2]["decision"], "permit");
}

#[test]
fn does_not_start_with_an_invalid_policy() {
    let s = Sandbox::new();
    let policy = s.write(
        "bad.cedar",
        "permit(principal, action == file_system::Action::\"reed\", resource);\n",
    );
    let out = Command::new(binary())
        .args(["mcp", "--policy", &policy, "--no-audit"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("VALIDATION_EXCEPTION"), "{err}");
    assert!(err.contains("bad.cedar:1:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn check_access_answers_with_the_labels_it_decided_on() {
    let (s, mut args) = sandbox();
    let labels = s.audit.path().join("labels.json");
    std::fs::write(
        &labels,
        json!({"rules": [{"paths": [s.path("secret.txt")], "classification": "restricted",
                          "categories": ["credentials"]}]})
        .to_string(),
    )
    .unwrap();
    let config = s.config(&json!({ "labels": labels }));
    args.extend(["--config".into(), config]);
    let calls = json!([
        {"tool": "check_access", "arguments": {
            "action": r#"file_system::Action::"read""#,
            "resource": format!(r#"file_system::File::"{}""#, s.path("secret.txt"))}},
        {"tool": "check_access", "arguments": {
            "action": r#"file_system::Action::"read""#,
            "resource": format!(r#"file_system::File::"{}""#, s.path("app.log"))}},
    ]);
    let seen = session(&args, calls);
    let r = seen["results"].as_array().unwrap();
    let expected = json!({"classification": "restricted", "categories": ["credentials"],
                          "legal_hold": false});
    assert_eq!(r[0]["structured"]["labels"], expected, "{:#}", r[0]);
    assert_eq!(r[1]["structured"]["labels"], Value::Null, "{:#}", r[1]);
    let records = s.records();
    let probe = records.iter().find(|r| r["probe"] == true).unwrap();
    assert_eq!(probe["labels"], expected);
}

#[test]
fn serves_every_other_call_while_a_run_hangs_in_native_code() {
    let (s, mut args) = sandbox();
    args.extend(["--timeout".into(), "4s".into()]);
    args.extend(["--max-concurrent-runs".into(), "2".into()]);
    let stuck = json!({"tool": "run_script", "background": true,
        "arguments": {"script": "sleep(80000)"}});
    let calls = json!([
        stuck,
        {"tool": "describe_sdk"},
        {"tool": "check_access", "arguments": {
            "action": "file_system::Action::\"read\"",
            "resource": format!("file_system::File::\"{}\"", s.path("app.log"))}},
        run_script("40 + 2", json!({})),
    ]);
    let seen = session(&args, calls);
    let r = &seen["results"];
    for answered in [1, 2, 3] {
        let at = r[answered]["seconds"].as_f64().unwrap();
        assert!(at < 3.0, "call {answered} waited for the stuck run: {at} s");
    }
    assert_eq!(r[2]["structured"]["decision"], "permit");
    assert_eq!(r[3]["structured"]["output"], "42");
    assert_eq!(r[0]["is_error"], true);
    assert_eq!(
        r[0]["structured"]["error"]["error_type"],
        "RESOURCE_LIMIT_EXCEEDED"
    );
    let ends: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "run_end")
        .collect();
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert!(ends.iter().any(|e| e["ended_by"] == "timeout"));
}

#[test]
fn a_cancelled_run_script_call_stops_its_run_and_is_recorded_as_cancelled() {
    let (s, args) = sandbox();
    let audit = s.audit_dir();
    // The run's supervisor and its forked worker: `tollgate run ... --job-from-stdin` with
    // this server's audit log. The server itself has the log on its command line, not
    // `--job-from-stdin`.
    let run = json!(["--job-from-stdin", audit]);
    let calls = json!([
        {"tool": "run_script", "background": true, "arguments": {"script": "sleep(30)"}},
        {"text_in": audit, "text": "\"kind\":\"run_start\"", "within": 20},
        {"processes": run, "present": true, "within": 5},
        {"cancel": 0},
        {"processes": run, "present": false, "within": 1.0},
        {"ping": true},
        run_script("40 + 2", json!({})),
    ]);
    let seen = session(&args, calls);
    let r = &seen["results"];
    assert_eq!(r[1]["ok"], true, "the run did not start: {r:#}");
    assert_eq!(r[2]["ok"], true, "no run process was seen: {r:#}");
    assert_eq!(r[0]["cancelled"], true, "{r:#}");
    assert_eq!(
        r[4]["ok"], true,
        "the run's processes were still there 1 s after the cancel: {:#}",
        r[4]
    );
    assert_eq!(r[5]["ok"], true);
    assert_eq!(r[6]["structured"]["output"], "42", "{:#}", r[6]);

    let ends: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "run_end")
        .collect();
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert_eq!(ends[0]["ended_by"], "cancelled", "{ends:#?}");
    assert_eq!(ends[1]["ended_by"], "returned", "{ends:#?}");
}

/// `tollgate mcp` under a client that writes lines by hand: an SDK would wait for an answer
/// with the request's id, and the answer to an oversized request cannot have one.
struct RawSession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl RawSession {
    fn start(server_args: &[String]) -> RawSession {
        let mut child = Command::new(binary())
            .arg("mcp")
            .args(server_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut session = RawSession {
            stdin: child.stdin.take(),
            child,
            lines,
        };
        session.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}}})
            .to_string()
            .as_bytes(),
        );
        let init = session.receive();
        assert_eq!(init["id"], 1, "{init:#}");
        session.send(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
                .to_string()
                .as_bytes(),
        );
        session
    }

    /// Writes `line` and its newline.
    fn send(&mut self, line: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn receive(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the server did not answer within 60 s");
        serde_json::from_str(&line).unwrap()
    }

    /// Closes stdin and returns the server's exit status.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

#[test]
fn answers_a_request_over_the_size_limit_with_an_error_and_serves_the_next_one() {
    let (s, args) = sandbox();
    let mut session = RawSession::start(&args);
    // A run_script call of 17 MiB: over the 16 MiB a request may have.
    let script = format!("let x = \"{}\"; 1", "a".repeat(17 << 20));
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "run_script", "arguments": {"script": script}}})
    .to_string();
    session.send(big.as_bytes());
    session.send(br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#);

    let mut answers = [session.receive(), session.receive()];
    answers.sort_by_key(|a| a["id"].as_i64());
    let [refused, listed] = answers;
    // The id was in the part of the request the server did not keep.
    assert_eq!(refused["id"], Value::Null, "{refused:#}");
    assert!(
        refused.as_object().unwrap().contains_key("id"),
        "{refused:#}"
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused:#}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("the request is {} bytes", big.len())),
        "{message}"
    );
    assert!(message.contains("limit of 16777216 bytes"), "{message}");
    assert_eq!(refused["error"]["data"]["bytes"], big.len());
    assert_eq!(refused["error"]["data"]["limit"], 16 << 20);
    assert_eq!(listed["id"], 3, "{listed:#}");
    assert_eq!(listed["result"]["tools"].as_array().unwrap().len(), 3);

    // One more round trip after the refusal, then a clean end.
    session.send(br#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
    assert_eq!(session.receive()["id"], 4);
    assert!(session.finish().success());

    let records = s.records();
    let refusals: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "run_refused")
        .collect();
    assert_eq!(refusals.len(), 1, "{records:#?}");
    assert_eq!(refusals[0]["error_type"], "VALIDATION_EXCEPTION");
    assert!(
        refusals[0]["message"]
            .as_str()
            .unwrap()
            .contains("over this server's limit"),
        "{:#}",
        refusals[0]
    );
    assert!(records.iter().all(|r| r["kind"] != "run_start"));
}
