//! Resources have one spelling: a policy may only name files by normalized paths, and a
//! network target is decided on (and reached) in canonical form whatever the script wrote.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;

/// Spellings of 127.0.0.1 that the host canonicalizes, each as a `connect` host and as the
/// host of a URL.
const LOOPBACK_SPELLINGS: &[(&str, &str)] = &[
    ("127.0.0.1", "127.0.0.1"),
    ("127.1", "127.1"),
    ("2130706433", "2130706433"),
    ("0x7f.1", "0x7f.1"),
    ("0177.0.0.1", "0177.0.0.1"),
    ("0x7f000001", "0x7f000001"),
    ("127.0.0.1.", "127.0.0.1."),
    ("::ffff:127.0.0.1", "[::ffff:127.0.0.1]"),
    ("[::ffff:7f00:1]", "[::FFFF:7F00:1]"),
];

/// A Rhai array literal of `items`.
fn array(items: impl IntoIterator<Item = String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A script that makes `call` (with `h` bound to each of `hosts`) and returns, per host,
/// what happened: `PermissionDenied`, another error kind, or `ok`.
fn outcomes(hosts: &[String], call: &str) -> String {
    format!(
        r#"let out = []; for h in {} {{ try {{ {call}; out.push(h + " ok"); }} catch (e) {{ out.push(h + " " + e.kind); }} }} out"#,
        array(hosts.iter().cloned())
    )
}

fn lines(r: &Run) -> Vec<String> {
    serde_json::from_str(r.ok()).unwrap()
}

/// A loopback listener that counts the connections made to it.
struct Listener {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    /// Answers each connection as an HTTP server would, recording its request line.
    fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // A `connect` probe closes at once and sends nothing.
                let _ = reader.read_line(&mut line);
                log.lock().unwrap().push(line.trim_end().to_owned());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
                );
            }
        });
        Listener { port, requests }
    }

    /// The request lines seen so far (empty for a `connect` probe), after a moment for a
    /// late one to arrive.
    fn seen(&self) -> Vec<String> {
        thread::sleep(Duration::from_millis(100));
        self.requests.lock().unwrap().clone()
    }
}

#[test]
fn a_forbidden_address_is_forbidden_in_every_spelling_of_connect() {
    let listener = Listener::start();
    let port = listener.port;
    let s = Sandbox::new();
    let policy = format!(
        "permit(principal, action == network::Action::\"connect\", resource);\n\
         forbid(principal, action == network::Action::\"connect\", resource == network::url::\"tcp://127.0.0.1:{port}\");\n\
         forbid(principal, action == network::Action::\"connect\", resource == network::url::\"tcp://localhost:{port}\");"
    );
    let mut hosts: Vec<String> = LOOPBACK_SPELLINGS
        .iter()
        .map(|(h, _)| h.to_string())
        .collect();
    hosts.extend(["localhost.".into(), "LocalHost".into()]);
    let got = lines(&s.run(&policy, &outcomes(&hosts, &format!("connect(h, {port})"))));
    let expected: Vec<String> = hosts
        .iter()
        .map(|h| format!("{h} PermissionDenied"))
        .collect();
    assert_eq!(got, expected);
    // The kernel takes the unspecified address for loopback: one more spelling, refused.
    for unspecified in ["0", "0.0.0.0", "::"] {
        let r = s.run(&policy, &format!("connect({unspecified:?}, {port})"));
        assert_eq!(r.code, 5, "{unspecified}: {:#}", r.json);
        assert!(r.message().contains("unspecified"), "{}", r.message());
    }
    assert!(
        listener.seen().is_empty(),
        "a denied connect reached the listener"
    );

    // The denial names the canonical resource, not the script's spelling.
    let r = s.run(&policy, &format!("connect(\"0x7f.1\", {port})"));
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message()
            .contains(&format!(r#"network::url::"tcp://127.0.0.1:{port}""#)),
        "{}",
        r.message()
    );
}

#[test]
fn connect_in_any_spelling_goes_to_the_address_the_policy_permitted() {
    let listener = Listener::start();
    let port = listener.port;
    let s = Sandbox::new();
    let policy = format!(
        "permit(principal, action == network::Action::\"connect\", resource == network::url::\"tcp://127.0.0.1:{port}\");"
    );
    let hosts: Vec<String> = LOOPBACK_SPELLINGS
        .iter()
        .map(|(h, _)| h.to_string())
        .collect();
    let script = format!(
        r#"let out = []; for h in {} {{ let r = connect(h, {port}); out.push(`${{r.url}} ${{r.connected}}`); }} out"#,
        array(hosts.iter().cloned())
    );
    let got = lines(&s.run(&policy, &script));
    let expected = vec![format!("tcp://127.0.0.1:{port} true"); hosts.len()];
    assert_eq!(got, expected);
    assert_eq!(listener.seen().len(), hosts.len());
    // `localhost` is a name, not 127.0.0.1: the policy above does not cover it.
    let r = s.run(&policy, &format!("connect(\"localhost\", {port})"));
    assert_eq!(r.code, 4, "{:#}", r.json);
}

#[test]
fn a_forbidden_url_is_forbidden_in_every_spelling_of_its_host() {
    let listener = Listener::start();
    let port = listener.port;
    let s = Sandbox::new();
    let policy = format!(
        "permit(principal, action == network::Action::\"GET\", resource);\n\
         forbid(principal, action == network::Action::\"GET\", resource == network::url::\"http://127.0.0.1:{port}/secret\");\n\
         forbid(principal, action == network::Action::\"GET\", resource == network::url::\"http://localhost:{port}/secret\");"
    );
    let mut hosts: Vec<String> = LOOPBACK_SPELLINGS
        .iter()
        .map(|(_, h)| h.to_string())
        .collect();
    hosts.extend(["localhost.".into(), "LOCALHOST".into()]);
    for call in [
        format!(r#"curl(`http://${{h}}:{port}/secret`)"#),
        format!(r#"http_get(`http://${{h}}:{port}/secret`, #{{timeout_ms: 2000}})"#),
    ] {
        let got = lines(&s.run(&policy, &outcomes(&hosts, &call)));
        let expected: Vec<String> = hosts
            .iter()
            .map(|h| format!("{h} PermissionDenied"))
            .collect();
        assert_eq!(got, expected, "{call}");
    }
    assert!(
        listener.seen().is_empty(),
        "a denied GET reached the server"
    );
}

#[test]
fn a_get_in_any_spelling_goes_to_the_url_the_policy_permitted() {
    let listener = Listener::start();
    let port = listener.port;
    let s = Sandbox::new();
    let policy = format!(
        "permit(principal, action == network::Action::\"GET\", resource == network::url::\"http://127.0.0.1:{port}/ok\");"
    );
    let hosts: Vec<String> = LOOPBACK_SPELLINGS
        .iter()
        .map(|(_, h)| h.to_string())
        .collect();
    let script = format!(
        r#"let out = []; for h in {} {{ let r = http_get(`http://${{h}}:{port}/ok`, #{{timeout_ms: 2000}}); out.push(`${{r.url}} ${{r.text}}`); }} out"#,
        array(hosts.iter().cloned())
    );
    let got = lines(&s.run(&policy, &script));
    let expected = vec![format!("http://127.0.0.1:{port}/ok hi"); hosts.len()];
    assert_eq!(got, expected);
    assert_eq!(
        listener.seen(),
        vec!["GET /ok HTTP/1.1".to_owned(); hosts.len()]
    );
}

/// Ids that no File or Dir ever has, with the id the error tells the writer to use.
const UNNORMALIZED: &[(&str, &str)] = &[
    ("/d/secret/", "/d/secret"),
    ("/d//secret", "/d/secret"),
    ("/d/./secret", "/d/secret"),
    ("/d/x/../secret", "/d/secret"),
    ("/d/secret/..", "/d"),
    ("d/secret", "is relative"),
];

/// Policies with `id` in the resource scope and in a condition, and the line and column
/// where the literal starts.
fn unnormalized_policies(id: &str) -> [(String, &'static str); 2] {
    [
        (
            format!(
                "permit(principal, action, resource);\nforbid(principal, action, resource in file_system::Dir::\"{id}\");\n"
            ),
            "2:39",
        ),
        (
            format!(
                "permit(principal, action, resource);\nforbid(principal, action, resource)\n  when {{ resource in [file_system::Dir::\"/x\", file_system::Dir::\"{id}\"] }};\n"
            ),
            "3:47",
        ),
    ]
}

#[test]
fn a_run_under_a_policy_naming_an_unnormalized_path_is_a_validation_error() {
    let s = Sandbox::new();
    for (id, says) in UNNORMALIZED {
        for (policy, at) in unnormalized_policies(id) {
            let r = s.run(&policy, "1");
            assert_eq!(r.code, 3, "{policy}: {:#}", r.json);
            assert_eq!(r.error_type(), "VALIDATION_EXCEPTION", "{:#}", r.json);
            let msg = r.message();
            assert!(
                msg.contains(&format!("policy.cedar:{at}: ")),
                "{policy}: {msg}"
            );
            assert!(msg.contains("can never match"), "{msg}");
            let hint = if says.starts_with('/') {
                format!("write file_system::Dir::\"{says}\"")
            } else {
                says.to_string()
            };
            assert!(msg.contains(&hint), "{msg}");
        }
    }
}

#[test]
fn policy_check_reports_an_unnormalized_path_with_line_and_column() {
    let s = Sandbox::new();
    let config = s.write("host/config.json", "{}");
    let audit_log = s.path("host/audit");
    for (id, says) in UNNORMALIZED {
        for (policy, at) in unnormalized_policies(id) {
            let path = s.write("check.cedar", &policy);
            let (code, out, err) = tollgate_output(&[
                "policy",
                "check",
                &path,
                "--config",
                &config,
                "--audit-log",
                &audit_log,
            ]);
            assert_eq!(code, 3, "{policy}: {out}{err}");
            assert!(err.contains(&format!("check.cedar:{at}: ")), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }
    // The root is a normalized path.
    let path = s.write(
        "check.cedar",
        "forbid(principal, action, resource in file_system::Dir::\"/\");\n",
    );
    let (code, out, err) = tollgate_output(&[
        "policy",
        "check",
        &path,
        "--config",
        &config,
        "--audit-log",
        &audit_log,
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
