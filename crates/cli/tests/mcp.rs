//! `tollgate mcp` driven by real MCP clients: the official Python `mcp` package and the
//! official TypeScript SDK, over stdio, against the real binary, with a real policy, files
//! and audit log in temp directories.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::mcp::{ensure_python_client, session, session_with, Client, BOTH};
use common::{binary, Sandbox};
use serde_json::{json, Value};

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
fn serves_run_script_describe_sdk_and_check_access_to_both_official_clients() {
    for client in BOTH {
        serves_run_script_describe_sdk_and_check_access_to(client);
    }
}

fn serves_run_script_describe_sdk_and_check_access_to(client: Client) {
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
    let seen = session_with(client, &args, &calls);

    assert_eq!(seen["server"]["name"], "tollgate");
    let mut tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        [
            "check_access",
            "describe_sdk",
            "list_permissions",
            "propose_policy",
            "run_script"
        ]
    );
    let r = &seen["results"];

    // A permitted run: the object `tollgate run --output json` prints, with the script's
    // value as JSON rather than as the text of it.
    assert_eq!(r[0]["is_error"], false, "{client:?}: {:#}", r[0]);
    let ok = &r[0]["structured"];
    assert_eq!(ok["status"], "SUCCESS");
    assert_eq!(ok["output"], json!(["ERROR disk full"]));
    assert_eq!(ok["truncated"], false);
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
    let reason = err["reason"].as_str().unwrap();
    assert!(reason.contains("no policy permits it"), "{err:#}");
    // What to add, written out: the narrowest permit.
    assert!(
        reason.contains(&format!(
            r#"permit(principal == {}, action == file_system::Action::"open", resource == file_system::Dir::"/etc");"#,
            err["principal"].as_str().unwrap()
        )),
        "{reason}"
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
    assert_eq!(r[1]["structured"]["output"], 42);
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
    assert_eq!(
        r["structured"]["error"]["error_type"],
        "VALIDATION_EXCEPTION"
    );
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
    assert_eq!(r[3]["structured"]["output"], 42);
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
    assert_eq!(r[6]["structured"]["output"], 42, "{:#}", r[6]);

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
    assert_eq!(listed["result"]["tools"].as_array().unwrap().len(), 5);

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

#[test]
fn a_line_that_is_not_json_is_a_parse_error_and_the_session_goes_on() {
    let (s, args) = sandbox();
    let mut session = RawSession::start(&args);
    session.send(br#"{"jsonrpc":"2.0","id":2,"method":"tools/list""#);
    let refused = session.receive();
    assert_eq!(refused["id"], Value::Null, "{refused:#}");
    assert!(refused.as_object().unwrap().contains_key("id"));
    assert_eq!(refused["error"]["code"], -32700, "{refused:#}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("not JSON"), "{message}");
    // Bytes that are not text either.
    session.send(b"\xff\xfe{}");
    assert_eq!(session.receive()["error"]["code"], -32700);
    // JSON that is not a message is rmcp's to answer, once: an invalid request.
    session.send(br#"{"hello": "world"}"#);
    assert_eq!(session.receive()["error"]["code"], -32600);
    session.send(br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#);
    assert_eq!(session.receive()["id"], 3);
    assert!(session.finish().success());
    // Nothing ran, and nothing was refused as a run.
    assert!(s
        .records()
        .iter()
        .all(|r| r["kind"] != "run_start" && r["kind"] != "run_refused"));
}

#[test]
fn malformed_tool_calls_are_invalid_params_for_both_official_clients() {
    let (s, args) = sandbox();
    let bad = |tool: &str, arguments: Value| json!({"tool": tool, "arguments": arguments, "expect_error": true});
    let calls = json!([
        bad("no_such_tool", json!({})),
        bad("run_script", json!({})),
        bad("run_script", json!({"script": 42})),
        bad("run_script", json!({"script": "1", "scirpt": "2"})),
        bad(
            "run_script",
            json!({"script": "1", "args": {"n": {"integerValue": "7"}}})
        ),
        bad("run_script", json!({"script": "1", "args": {"n": 7}})),
        bad(
            "check_access",
            json!({"action": r#"file_system::Action::"read""#})
        ),
        bad(
            "check_access",
            json!({"action": "a", "resource": "r", "command": "cat"})
        ),
        bad("describe_sdk", json!({"allowed_only": "yes"})),
        bad("list_permissions", json!({"principal": "User::\"root\""})),
        run_script("40 + 2", json!({})),
    ]);
    for client in BOTH {
        let seen = session_with(client, &args, &calls);
        let r = seen["results"].as_array().unwrap();
        for (i, answer) in r[..r.len() - 1].iter().enumerate() {
            assert_eq!(
                answer["error"]["code"], -32602,
                "{client:?}: call {i} was not invalid params: {answer:#}"
            );
        }
        let message = |i: usize| r[i]["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            message(0).contains("no tool \"no_such_tool\""),
            "{}",
            message(0)
        );
        assert!(message(0).contains("run_script"), "{}", message(0));
        assert!(
            message(1).contains("missing field `script`"),
            "{}",
            message(1)
        );
        assert!(
            message(3).contains("unknown field `scirpt`"),
            "{}",
            message(3)
        );
        assert!(
            message(4).contains("integerValue must hold an integer"),
            "{}",
            message(4)
        );
        // The server keeps serving.
        assert_eq!(r[r.len() - 1]["structured"]["output"], 42);
    }
    // A malformed call ran nothing and asked nothing: one run per session, no probe.
    let records = s.records();
    assert_eq!(
        records.iter().filter(|r| r["kind"] == "run_start").count(),
        2
    );
    assert!(records.iter().all(|r| r["probe"] != true), "{records:#?}");
}

#[test]
fn every_tool_has_an_output_schema_and_the_read_only_ones_say_so() {
    let (_s, args) = sandbox();
    for client in BOTH {
        let seen = session_with(client, &args, &json!([]));
        for tool in seen["tools"].as_array().unwrap() {
            let name = tool["name"].as_str().unwrap();
            assert_eq!(tool["output_schema"]["type"], "object", "{name}: {tool:#}");
            let read_only = tool["annotations"]["readOnlyHint"] == true;
            assert_eq!(
                read_only,
                name != "run_script" && name != "propose_policy",
                "{client:?} {name}: {tool:#}"
            );
        }
        let run = seen["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "run_script")
            .unwrap();
        // `args` is optional, an object of typed values.
        let input = &run["input_schema"];
        assert_eq!(input["required"], json!(["script"]), "{input:#}");
        let args_schema = &input["properties"]["args"];
        assert!(
            args_schema["additionalProperties"]["$ref"]
                .as_str()
                .unwrap()
                .ends_with("TypedValue"),
            "{input:#}"
        );
        let typed = input["$defs"]["TypedValue"]["oneOf"].as_array().unwrap();
        let kinds: Vec<&str> = typed
            .iter()
            .map(|v| v["required"][0].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "stringValue",
                "integerValue",
                "longValue",
                "doubleValue",
                "booleanValue",
                "listValue",
                "mapValue"
            ]
        );
    }
}

#[test]
fn run_script_gives_the_scripts_value_as_json_and_cuts_a_long_one_to_fit() {
    let (_s, args) = sandbox();
    let calls = json!([
        run_script(r#"#{name: "app", lines: [1, 2], ok: true}"#, json!({})),
        run_script(r#""ERROR disk full""#, json!({})),
        run_script("()", json!({})),
        run_script(
            "let a = []; for i in 0..20000 { a.push(`line ${i}`); } a",
            json!({})
        ),
        run_script("n * 2", json!({"n": {"integerValue": 21}})),
    ]);
    for client in BOTH {
        let seen = session_with(client, &args, &calls);
        let r = &seen["results"];
        assert_eq!(
            r[0]["structured"]["output"],
            json!({"name": "app", "lines": [1, 2], "ok": true}),
            "{client:?}"
        );
        assert_eq!(r[1]["structured"]["output"], "ERROR disk full");
        assert_eq!(r[2]["structured"]["output"], Value::Null);
        let long = &r[3]["structured"];
        assert_eq!(long["status"], "SUCCESS", "{client:?}");
        assert_eq!(long["truncated"], true);
        let kept = long["output"].as_array().unwrap();
        let whole = long["output_bytes"].as_u64().unwrap();
        assert!(whole > 200_000, "{whole}");
        // The first items, as they were, in at most 64 KiB.
        assert!(kept.len() > 1000 && kept.len() < 20000, "{}", kept.len());
        assert_eq!(kept[0], "line 0");
        assert_eq!(kept[kept.len() - 1], format!("line {}", kept.len() - 1));
        assert!(long["output"].to_string().len() <= 64 << 10);
        assert_eq!(r[4]["structured"]["output"], 42, "{client:?}: {:#}", r[4]);
        assert_eq!(r[4]["structured"]["truncated"], false);
    }
}

#[test]
fn progress_is_told_while_a_run_waits_for_a_slot_and_while_it_runs() {
    let (s, mut args) = sandbox();
    args.extend(["--max-concurrent-runs".into(), "1".into()]);
    let audit = s.audit_dir();
    for client in BOTH {
        let calls = json!([
            {"tool": "run_script", "background": true, "arguments": {"script": "sleep(2); 1"}},
            {"text_in": audit, "text": "\"kind\":\"run_start\"", "within": 20},
            {"tool": "run_script", "progress": true, "arguments": {"script": "sleep(2); 2"}},
        ]);
        let seen = session_with(client, &args, &calls);
        let r = &seen["results"];
        assert_eq!(r[0]["structured"]["output"], 1, "{client:?}: {r:#}");
        assert_eq!(r[2]["structured"]["output"], 2, "{client:?}: {r:#}");
        let told = r[2]["progress"].as_array().unwrap();
        let messages: Vec<&str> = told
            .iter()
            .map(|p| p["message"].as_str().unwrap())
            .collect();
        let queued = messages.iter().filter(|m| m.starts_with("queued")).count();
        let running = messages.iter().filter(|m| m.starts_with("running")).count();
        assert!(queued >= 1, "{client:?}: {messages:?}");
        assert!(running >= 2, "{client:?}: {messages:?}");
        // Queued first, then running, and the progress only grows.
        assert!(messages[0].starts_with("queued"), "{messages:?}");
        assert!(
            messages.last().unwrap().starts_with("running"),
            "{messages:?}"
        );
        let values: Vec<f64> = told
            .iter()
            .map(|p| p["progress"].as_f64().unwrap())
            .collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        assert!(messages[0].contains("all 1 run slots"), "{}", messages[0]);
    }
}

/// A host's logs as an agent meets them: readable below `log`, except `log/secrets`,
/// which a forbid keeps out whatever reads it; nothing else.
const LOGS: &str = r#"
@id("logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/log");
@id("no-secrets")
forbid(principal, action, resource in file_system::Dir::"{ROOT}/log/secrets");
@id("ops-only")
permit(principal in Group::"ops", action, resource);
@id("public-stat")
permit(principal, action == file_system::Action::"stat", resource is file_system::File in file_system::Dir::"{ROOT}")
    when { resource.labels.classification == "public" };
"#;

fn logs() -> (Sandbox, Vec<String>) {
    let s = Sandbox::new();
    s.write("log/app/api.log", "ERROR a\nok\nERROR b\nERROR c\n");
    s.write("log/app/worker.log", "started\nERROR once\n");
    s.write("log/nginx/access.log", "GET /\n");
    s.write("log/secrets/keys.log", "ERROR the key is hunter2\n");
    s.write("lib/db/db.log", "ERROR not yours\n");
    let args = vec![
        "--policy".into(),
        s.policy_file(LOGS),
        "--audit-log".into(),
        s.audit_dir(),
    ];
    (s, args)
}

#[test]
fn list_permissions_sums_up_what_the_policy_lets_this_principal_do() {
    let (s, args) = logs();
    let seen = session(
        &args,
        json!([{"tool": "list_permissions", "arguments": {}}]),
    );
    let p = &seen["results"][0]["structured"];
    assert_eq!(seen["results"][0]["is_error"], false, "{p:#}");
    let dir = |rel: &str| format!(r#"resource in file_system::Dir::"{}""#, s.path(rel));
    let permitted = p["permitted"].as_array().unwrap();
    // ops-only is for a group this principal is not in.
    let names: Vec<&str> = permitted
        .iter()
        .map(|x| x["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logs", "public-stat"], "{p:#}");
    let logs = &permitted[0];
    assert_eq!(
        logs["actions"],
        json!([
            r#"file_system::Action::"open""#,
            r#"file_system::Action::"read""#
        ])
    );
    assert_eq!(logs["principal"], "principal");
    assert_eq!(logs["resource"], dir("log"));
    assert_eq!(logs["condition"], Value::Null);
    assert_eq!(logs["cut_by"], json!(["no-secrets"]));
    let stat = &permitted[1];
    assert_eq!(stat["actions"], json!([r#"file_system::Action::"stat""#]));
    let condition = stat["condition"].as_str().unwrap();
    assert!(
        condition.starts_with("when {") && condition.contains("public"),
        "{condition}"
    );
    let forbidden = p["forbidden"].as_array().unwrap();
    assert_eq!(forbidden.len(), 1, "{p:#}");
    assert_eq!(forbidden[0]["policy"], "no-secrets");
    assert_eq!(forbidden[0]["resource"], dir("log/secrets"));
    assert_eq!(p["frozen"], false);
    assert!(p["principal"].as_str().unwrap().starts_with("User::"));
    // A summary decides nothing, so it records nothing.
    assert!(s.records().iter().all(|r| r["kind"] != "decision"));
}

#[test]
fn describe_sdk_can_be_filtered_to_what_the_policy_could_ever_allow() {
    let (_s, args) = logs();
    let calls = json!([
        {"tool": "describe_sdk", "arguments": {"allowed_only": true}},
        {"tool": "describe_sdk", "arguments": {}},
    ]);
    let seen = session(&args, calls);
    let names = |r: &Value| -> BTreeSet<String> {
        r["structured"]["functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let allowed = names(&seen["results"][0]);
    let all = names(&seen["results"][1]);
    for kept in ["cat", "grep", "ls", "find_files", "seq", "to_json"] {
        assert!(allowed.contains(kept), "{kept} missing from {allowed:?}");
    }
    // Nothing permits a change, a service, a process or the network, nor /proc/meminfo.
    for gone in [
        "write",
        "rm",
        "mv",
        "service_start",
        "kill",
        "curl",
        "ps",
        "free",
    ] {
        assert!(all.contains(gone), "{gone}");
        assert!(!allowed.contains(gone), "{gone} is listed as allowed");
    }
    let filtered = &seen["results"][0]["structured"];
    assert_eq!(filtered["allowed_only"], true);
    assert_eq!(
        filtered["left_out"].as_u64().unwrap() as usize,
        all.len() - allowed.len()
    );
}

#[test]
fn check_access_answers_every_request_a_command_would_make() {
    let (s, args) = logs();
    let api = s.path("log/app/api.log");
    let calls = json!([
        {"tool": "check_access", "arguments": {"command": "grep", "args": ["ERROR", api]}},
        {"tool": "check_access", "arguments": {"command": "du", "args": [s.path("log")]}},
    ]);
    let seen = session(&args, calls);
    let grep = &seen["results"][0]["structured"];
    assert_eq!(grep["decision"], "permit", "{grep:#}");
    assert_eq!(grep["denied"], Value::Null);
    let asked: Vec<(String, String, Value)> = grep["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["resource"].as_str().unwrap().to_owned(),
                r["when"].clone(),
            )
        })
        .collect();
    let dir = format!(r#"file_system::Dir::"{}""#, s.path("log/app"));
    let file = format!(r#"file_system::File::"{api}""#);
    assert_eq!(
        asked[0],
        (r#"file_system::Action::"open""#.into(), dir, Value::Null)
    );
    assert_eq!(
        asked[1],
        (
            r#"file_system::Action::"open""#.into(),
            file.clone(),
            Value::Null
        )
    );
    assert_eq!(
        asked[2],
        (
            r#"file_system::Action::"read""#.into(),
            file.clone(),
            Value::Null
        )
    );
    // The redacted read is asked only where read is denied, and says so.
    assert_eq!(asked[4].0, r#"file_system::Action::"redacted_read""#);
    assert!(asked[4].2.as_str().unwrap().contains("read is denied"));
    for r in grep["requests"].as_array().unwrap()[..3].iter() {
        assert_eq!(r["decision"], "permit", "{r:#}");
        assert_eq!(r["policies"], json!(["logs"]), "{r:#}");
    }
    // du walks what is there: it names the directory, and says what it cannot name.
    let du = &seen["results"][1]["structured"];
    assert_eq!(du["decision"], "deny", "{du:#}");
    assert!(!du["unresolved"].as_array().unwrap().is_empty(), "{du:#}");
    // One probe record per request asked.
    let asked_total =
        grep["requests"].as_array().unwrap().len() + du["requests"].as_array().unwrap().len();
    let probes = s
        .records()
        .into_iter()
        .filter(|r| r["probe"] == true)
        .count();
    assert_eq!(probes, asked_total);
}

#[test]
fn a_denial_says_the_same_in_a_run_and_in_check_access() {
    // The issue's case: the run is refused on the directory of a file (no permit covers it)
    // beside a forbid that refuses the file's read. It used to report the directory with no
    // policy and "add a permit" while check_access reported the forbid.
    let s = Sandbox::new();
    let secret = s.write("etc/app/secrets.env", "KEY=hunter2\n");
    s.write("etc/app/README", "x\n");
    let policy = r#"
@id("logs")
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}/var/log");
@id("no-secrets")
forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"{ROOT}/etc/app");
"#;
    let args = vec![
        "--policy".into(),
        s.policy_file(policy),
        "--audit-log".into(),
        s.audit_dir(),
    ];
    let etc_app = s.path("etc/app");
    let calls = json!([
        run_script(&format!(r#"cat("{secret}")"#), json!({})),
        {"tool": "check_access", "arguments": {"command": "cat", "args": [secret]}},
        run_script(&format!(r#"ls("{etc_app}")"#), json!({})),
        {"tool": "check_access", "arguments": {"command": "ls", "args": [etc_app]}},
    ]);
    for client in BOTH {
        let seen = session_with(client, &args, &calls);
        let r = &seen["results"];
        for (run, asked) in [(0, 1), (2, 3)] {
            let run_error = &r[run]["structured"]["error"];
            let denied = &r[asked]["structured"]["denied"];
            assert_eq!(r[asked]["structured"]["decision"], "deny", "{client:?}");
            for field in ["action", "resource", "principal", "reason", "policies"] {
                assert_eq!(
                    run_error[field], denied[field],
                    "{client:?}: the run and check_access differ on {field}:\nrun: {run_error:#}\ncheck_access: {denied:#}"
                );
            }
            // The forbid is what matters: no permit added for the directory would help.
            assert_eq!(denied["policies"], json!(["no-secrets"]), "{denied:#}");
            assert!(
                denied["would_permit"]
                    .as_str()
                    .unwrap()
                    .contains("forbidden by no-secrets: a forbid overrides every permit"),
                "{denied:#}"
            );
        }
    }
}

/// What `tollgate run` of `script` asked the gate, as (action, resource) pairs, under a
/// policy that permits everything.
fn recorded_requests(s: &Sandbox, script: &str) -> BTreeSet<(String, String)> {
    let audit = tempfile::tempdir().unwrap();
    let audit_dir = audit.path().join("log").display().to_string();
    let run = s.run_with(
        "permit(principal, action, resource);",
        script,
        &["--audit-log", &audit_dir],
    );
    assert_eq!(run.code, 0, "{script}: {:#}", run.json);
    let (code, out, err) =
        common::tollgate_output(&["audit", "show", "--dir", &audit_dir, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        // The release of the run's answer is every run's, not the command's.
        .filter(|r| r["kind"] == "decision" && r["action"] != "output::Action::\"release\"")
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                format!(
                    "{}::{:?}",
                    r["resource_type"].as_str().unwrap(),
                    r["resource_id"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

#[test]
fn check_access_names_the_requests_a_real_run_of_the_command_makes() {
    let s = Sandbox::new();
    let log = s.write("logs/a.log", "ERROR x\nok\n");
    s.write("out/old.txt", "x\n");
    s.write("out/gone.txt", "x\n");
    let out = |name: &str| s.path(&format!("out/{name}"));
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("cat", vec![log.clone()]),
        ("grep", vec!["ERROR".into(), log.clone()]),
        ("wc", vec![log.clone()]),
        ("tail", vec![log.clone()]),
        ("awk_filter", vec!["ERROR".into(), log.clone()]),
        ("ls", vec![s.path("logs")]),
        ("find_files", vec!["*.log".into(), s.path("logs")]),
        ("stat", vec![log.clone()]),
        ("write", vec![out("new.txt"), "text".into()]),
        ("touch", vec![out("touched.txt")]),
        ("mkdir", vec![out("dir")]),
        ("cp", vec![log.clone(), out("copy.log")]),
        ("mv", vec![out("old.txt"), out("moved.txt")]),
        ("rm", vec![out("gone.txt")]),
    ];
    let calls: Vec<Value> = cases
        .iter()
        .map(|(command, args)| {
            json!({"tool": "check_access", "arguments": {"command": command, "args": args}})
        })
        .collect();
    let mcp_audit = tempfile::tempdir().unwrap();
    let server = vec![
        "--policy".into(),
        s.policy_file("permit(principal, action, resource);"),
        "--audit-log".into(),
        mcp_audit.path().join("log").display().to_string(),
    ];
    let seen = session(&server, json!(calls));
    for ((command, args), answer) in cases.iter().zip(seen["results"].as_array().unwrap()) {
        let answer = &answer["structured"];
        assert_eq!(answer["decision"], "permit", "{command}: {answer:#}");
        let requests = answer["requests"].as_array().unwrap();
        let pair = |r: &Value| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["resource"].as_str().unwrap().to_owned(),
            )
        };
        let always: BTreeSet<_> = requests
            .iter()
            .filter(|r| r["when"].is_null())
            .map(pair)
            .collect();
        let any: BTreeSet<_> = requests.iter().map(pair).collect();
        let quoted: Vec<String> = args
            .iter()
            .map(|a| Value::from(a.as_str()).to_string())
            .collect();
        let script = format!("{command}({})", quoted.join(", "));
        let recorded = recorded_requests(&s, &script);
        assert!(
            always.is_subset(&recorded),
            "{command}: check_access names requests the run did not make:\n{:#?}",
            always.difference(&recorded).collect::<Vec<_>>()
        );
        assert!(
            recorded.is_subset(&any),
            "{command}: the run made requests check_access did not name:\n{:#?}",
            recorded.difference(&any).collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_agent_that_follows_list_permissions_counts_errors_per_log_file_in_at_most_5_calls() {
    let (s, args) = logs();
    ensure_python_client();
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_agent.py"))
        .arg(s.path(""))
        .arg(binary())
        .arg("mcp")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the agent did not finish:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = done["calls"].as_array().unwrap();
    assert!(calls.len() <= 5, "{} calls: {calls:?}", calls.len());
    assert_eq!(calls[0], "list_permissions");
    assert_eq!(calls[calls.len() - 1], "run_script");
    // Every file it may read, none it may not, and no denial on the way.
    assert_eq!(
        done["counts"],
        json!({
            s.path("log/app/api.log"): 3,
            s.path("log/app/worker.log"): 1,
            s.path("log/nginx/access.log"): 0,
        }),
        "{done:#}"
    );
    let records = s.records();
    assert!(
        records
            .iter()
            .filter(|r| r["kind"] == "decision" && r["probe"] != true)
            .all(|r| r["decision"] == "permit"),
        "{records:#?}"
    );
}
