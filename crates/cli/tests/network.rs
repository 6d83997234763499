//! Network commands, gated: real loopback HTTP servers and listeners started by each test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// What the test server answers to one request path.
enum Reply {
    Ok(&'static str),
    Redirect(String),
    /// Nothing at all until this long has passed, then a short answer.
    Slow(Duration),
    Body(usize),
}

/// A loopback HTTP/1.1 server that records each request line it reads.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(route: impl Fn(&str) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &route, &log);
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The request lines seen so far, after giving a late request time to arrive.
    fn seen(&self) -> Vec<String> {
        thread::sleep(Duration::from_millis(100));
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, route: &impl Fn(&str) -> Reply, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    log.lock().unwrap().push(line.clone());
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut out = stream;
    let (status, extra, body) = match route(&path) {
        Reply::Ok(body) => ("200 OK", String::new(), body.to_owned()),
        Reply::Redirect(to) => ("302 Found", format!("Location: {to}\r\n"), String::new()),
        Reply::Slow(wait) => {
            thread::sleep(wait);
            ("200 OK", String::new(), "late".to_owned())
        }
        Reply::Body(n) => ("200 OK", String::new(), "x".repeat(n)),
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nX-Test: a\r\nX-Test: b\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn get_anything_on(port: u16) -> String {
    format!(
        r#"permit(principal, action == network::Action::"GET", resource is network::url) when {{ resource.url like "http://127.0.0.1:{port}/*" }};"#
    )
}

/// A script that makes `call` and returns the `kind` of the error it raised.
fn kind_of(call: &str) -> String {
    format!(r#"let kind = "none"; try {{ {call}; }} catch (e) {{ kind = e.kind; }} kind"#)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap()
}

#[test]
fn permitted_get_returns_status_headers_and_text() {
    let server = Server::start(|_| Reply::Ok("hello"));
    let s = Sandbox::new();
    let policy = format!(
        r#"permit(principal, action == network::Action::"GET", resource == network::url::"http://127.0.0.1:{}/hello");"#,
        server.port
    );
    let with_ours = |call: String| {
        format!("let r = {call}; #{{status: r.status, text: r.text, headers: r.headers, url: r.url, map: r.to_map()}}")
    };
    let r = json(&s.run(
        &policy,
        &with_ours(format!(r#"curl("{}")"#, server.url("/hello"))),
    ));
    // Rex's shape in to_map (and so in the output); Tollgate's fields through getters.
    assert_eq!(
        r["map"],
        serde_json::json!({"status": 200, "text": "hello"})
    );
    assert_eq!(r["status"], 200);
    assert_eq!(r["text"], "hello");
    assert_eq!(r["headers"]["content-type"], "text/plain");
    assert_eq!(r["headers"]["x-test"], "a, b");
    assert_eq!(r["url"], server.url("/hello"));
    assert_eq!(server.seen(), ["GET /hello HTTP/1.1"]);
    // `.status` and `.text` as in Rex, and the same through http_get with options.
    let script = format!(
        r#"let r = http_get("{}", #{{timeout_ms: 2000}}); `${{r.status}} ${{r.text}}`"#,
        server.url("/hello")
    );
    assert_eq!(s.run(&policy, &script).ok(), "200 hello");
}

#[test]
fn denied_get_sends_nothing() {
    let server = Server::start(|_| Reply::Ok("hello"));
    let s = Sandbox::new();
    let r = s.run("", &format!(r#"curl("{}")"#, server.url("/hello")));
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    let want = format!(
        r#"network::Action::"GET" on network::url::"http://127.0.0.1:{}/hello""#,
        server.port
    );
    assert!(r.message().contains(&want), "{}", r.message());
    assert!(server.seen().is_empty(), "the server saw a request");
    // A script can catch the denial, as any other.
    let script = kind_of(&format!(r#"curl("{}")"#, server.url("/hello")));
    assert_eq!(s.run("", &script).ok(), "PermissionDenied");
    assert!(server.seen().is_empty());
}

#[test]
fn urls_are_matched_in_canonical_form() {
    let server = Server::start(|_| Reply::Ok("hi"));
    let s = Sandbox::new();
    let policy = format!(
        r#"permit(principal, action == network::Action::"GET", resource == network::url::"http://localhost:{}/a/b?q=1");"#,
        server.port
    );
    // Upper-case scheme and host, a dot segment, a fragment: the same resource.
    let script = format!(
        r#"curl("HTTP://LocalHost:{}/a/./x/../b?q=1#top").text"#,
        server.port
    );
    assert_eq!(s.run(&policy, &script).ok(), "hi");
    assert_eq!(server.seen(), ["GET /a/b?q=1 HTTP/1.1"]);
    // The default port is made explicit; the request is refused before any connection.
    let r = s.run(&policy, r#"curl("http://LOCALHOST/a/b?q=1")"#);
    assert_eq!(r.code, 4);
    assert!(
        r.message()
            .contains(r#"network::url::"http://localhost:80/a/b?q=1""#),
        "{}",
        r.message()
    );
    let r = s.run(&policy, r#"curl("https://localhost/")"#);
    assert!(
        r.message()
            .contains(r#"network::url::"https://localhost:443/""#),
        "{}",
        r.message()
    );
}

#[test]
fn urls_with_user_info_are_refused_without_a_request() {
    let server = Server::start(|_| Reply::Ok("hello"));
    let s = Sandbox::new();
    let policy = get_anything_on(server.port);
    let url = format!("http://admin:secret@127.0.0.1:{}/x", server.port);
    let r = s.run(&policy, &format!(r#"curl("{url}")"#));
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert_eq!(r.error_type(), "SCRIPT_EXCEPTION");
    assert!(r.message().contains("user-info"), "{}", r.message());
    let r = s.run(&policy, &kind_of(&format!(r#"curl("{url}")"#)));
    assert_eq!(r.ok(), "InvalidArguments");
    assert!(server.seen().is_empty());
}

#[test]
fn malformed_and_non_http_urls_are_errors() {
    let s = Sandbox::new();
    let all = r#"permit(principal, action in network::Action::"NetworkAction", resource);"#;
    let r = s.run(all, r#"curl("not a url")"#);
    assert_eq!(r.code, 5);
    assert!(r.message().contains("is not a URL"), "{}", r.message());
    let r = s.run(all, r#"curl("file:///etc/passwd")"#);
    assert_eq!(r.code, 5);
    assert!(
        r.message().contains("only http and https"),
        "{}",
        r.message()
    );
    let r = s.run(all, r#"http_get("http://127.0.0.1:1/", #{timeout: 5})"#);
    assert_eq!(r.code, 5);
    assert!(r.message().contains("unknown option"), "{}", r.message());
}

#[test]
fn redirects_are_authorized_hop_by_hop() {
    let port = Arc::new(Mutex::new(0u16));
    let p = Arc::clone(&port);
    let server = Server::start(move |path| match path {
        "/start" => Reply::Redirect(format!("http://127.0.0.1:{}/secret", p.lock().unwrap())),
        "/moved" => Reply::Redirect("/final".to_owned()),
        _ => Reply::Ok("final text"),
    });
    *port.lock().unwrap() = server.port;
    let s = Sandbox::new();
    let only = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| format!(r#"permit(principal, action == network::Action::"GET", resource == network::url::"http://127.0.0.1:{}{p}");"#, server.port))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let r = s.run(
        &only(&["/start"]),
        &format!(r#"curl("{}")"#, server.url("/start")),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("/secret"), "{}", r.message());
    assert_eq!(server.seen(), ["GET /start HTTP/1.1"]);
    // With both hops permitted, the relative Location is followed to the end.
    let r = json(&s.run(
        &only(&["/moved", "/final"]),
        &format!(
            r#"let r = curl("{}"); #{{status: r.status, text: r.text, url: r.url}}"#,
            server.url("/moved")
        ),
    ));
    assert_eq!(r["status"], 200);
    assert_eq!(r["text"], "final text");
    assert_eq!(r["url"], server.url("/final"));
}

#[test]
fn a_redirect_loop_stops_at_the_hop_limit() {
    let server = Server::start(|_| Reply::Redirect("/loop".to_owned()));
    let s = Sandbox::new();
    let policy = get_anything_on(server.port);
    let r = s.run(&policy, &format!(r#"curl("{}")"#, server.url("/loop")));
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message()
            .contains("stopped after 5 redirects (max_redirects)"),
        "{}",
        r.message()
    );
    assert_eq!(server.seen().len(), 6, "the first request and 5 redirects");
    let script = kind_of(&format!(
        r#"http_get("{}", #{{max_redirects: 1}})"#,
        server.url("/loop")
    ));
    assert_eq!(s.run(&policy, &script).ok(), "RequestError");
    assert_eq!(server.seen().len(), 8);
}

#[test]
fn a_response_larger_than_max_bytes_is_stopped() {
    let server = Server::start(|_| Reply::Body(5000));
    let s = Sandbox::new();
    let policy = get_anything_on(server.port);
    let url = server.url("/big");
    let r = s.run(
        &policy,
        &format!(r#"http_get("{url}", #{{max_bytes: 4096}})"#),
    );
    assert_eq!(r.code, 6, "{:#}", r.json);
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED");
    assert!(
        r.message().contains("4096 bytes (max_bytes)"),
        "{}",
        r.message()
    );
    let r = s.run(
        &policy,
        &format!(r#"http_get("{url}", #{{max_bytes: 5000}}).text.len()"#),
    );
    assert_eq!(r.ok(), "5000");
    // The run's string limit bounds the body too.
    let r = s.run_with(
        &policy,
        &format!(r#"curl("{url}")"#),
        &["--max-string-size", "1000"],
    );
    assert_eq!(r.code, 6);
    assert!(r.message().contains("--max-string-size"), "{}", r.message());
}

#[test]
fn a_slow_response_is_stopped_at_timeout_ms() {
    let server = Server::start(|_| Reply::Slow(Duration::from_secs(3)));
    let s = Sandbox::new();
    let policy = get_anything_on(server.port);
    let start = Instant::now();
    let r = s.run(
        &policy,
        &format!(
            r#"http_get("{}", #{{timeout_ms: 300}})"#,
            server.url("/slow")
        ),
    );
    assert!(start.elapsed() < Duration::from_millis(2500));
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("no answer within 300 ms"),
        "{}",
        r.message()
    );
    let script = kind_of(&format!(
        r#"http_get("{}", #{{timeout_ms: 300}})"#,
        server.url("/slow")
    ));
    assert_eq!(s.run(&policy, &script).ok(), "TimedOut");
}

#[test]
fn connect_reports_permitted_denied_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = Sandbox::new();
    let policy = [port, closed]
        .map(|p| format!(r#"permit(principal, action == network::Action::"connect", resource == network::url::"tcp://127.0.0.1:{p}");"#))
        .join("\n");
    let r = json(&s.run(&policy, &format!("connect(\"127.0.0.1\", {port})")));
    assert_eq!(r["connected"], true, "{r}");
    assert_eq!(r["url"], format!("tcp://127.0.0.1:{port}"));
    assert!(r["time_ms"].as_f64().unwrap() >= 0.0);
    assert!(listener.accept().is_ok(), "the listener saw the connection");

    let r = json(&s.run(&policy, &format!("connect(\"127.0.0.1\", {closed})")));
    assert_eq!(r["connected"], false, "{r}");
    assert!(r["error"].as_str().unwrap().contains("refused"), "{r}");

    let r = s.run("", &format!("connect(\"127.0.0.1\", {port})"));
    assert_eq!(r.code, 4);
    assert!(
        r.message().contains(&format!(
            r#"network::Action::"connect" on network::url::"tcp://127.0.0.1:{port}""#
        )),
        "{}",
        r.message()
    );
    thread::sleep(Duration::from_millis(100));
    assert!(
        listener.accept().is_err(),
        "a denied connect reached the listener"
    );

    let r = s.run(&policy, "connect(\"127.0.0.1\", 0)");
    assert_eq!(r.code, 5);
    assert!(r.message().contains("not a port"), "{}", r.message());
}

const PROC_NET: &str = r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/proc/net");"#;

#[test]
fn netstat_lists_sockets_and_owners_only_of_listable_processes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap().to_string();
    let s = Sandbox::new();
    // A busy host (or one that just ran many tests) can hold thousands of sockets: the
    // script keeps only ours, and the map limit leaves room for all of them meanwhile.
    // netstat() is Rex's map; the inode and the owner are network_stats()'s (Tollgate's).
    let script = format!(
        r#"let rex = netstat().internet.filter(|s| s.local_address == "{local}" && s.protocol == "Tcp");
           let typed = network_stats().internet_connections.filter(|c| c.local_address.to_string() == "{local}" && c.protocol == NetworkProtocol::TCP);
           if rex.len() != 1 || typed.len() != 1 {{ throw `not listed once: ${{rex.len()}} ${{typed.len()}}` }}
           let m = rex[0];
           m.inode = typed[0].inode;
           m.process_info = typed[0].process_info;
           [m]"#
    );
    let find = |policy: &str| -> Value {
        let r = s.run_with(policy, &script, &["--max-map-size", "100000000"]);
        let v: Vec<Value> = serde_json::from_str(r.ok()).unwrap();
        assert_eq!(v.len(), 1, "{local} not listed once: {v:?}");
        v[0].clone()
    };
    let mine = find(PROC_NET);
    assert_eq!(mine["state"], "Listen");
    assert_eq!(mine["remote_address"], "0.0.0.0:0");
    assert!(mine["inode"].as_i64().unwrap() > 0);
    assert!(
        mine["process_info"].is_null(),
        "owner shown without list: {mine}"
    );

    let list_me = format!(
        "{PROC_NET}\npermit(principal, action == process_system::Action::\"list\", resource == process_system::Process::\"{}\");",
        std::process::id()
    );
    let mine = find(&list_me);
    assert_eq!(mine["process_info"]["pid"], std::process::id());

    let r = s.run("", "netstat()");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/proc/net/tcp"), "{}", r.message());
    drop(listener);
}

#[test]
fn ip_addr_needs_list_on_sysinfo() {
    let s = Sandbox::new();
    let sys =
        r#"permit(principal, action == sysinfo::Action::"list", resource is sysinfo::Sysinfo);"#;
    // Tollgate's fields (networks, mac, up, loopback) are getters; to_map is Rex's shape.
    let script = "ip_addr().map(|i| #{interface_name: i.interface_name, addresses: i.addresses, networks: i.networks, loopback: i.loopback, keys: i.to_map().keys()})";
    let list: Vec<Value> = serde_json::from_str(s.run(sys, script).ok()).unwrap();
    let lo = list
        .iter()
        .find(|i| i["interface_name"] == "lo")
        .unwrap_or_else(|| panic!("no lo: {list:?}"));
    assert!(
        lo["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1"),
        "{lo}"
    );
    assert!(
        lo["networks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1/8"),
        "{lo}"
    );
    assert_eq!(lo["loopback"], true);
    assert_eq!(
        lo["keys"],
        serde_json::json!(["addresses", "interface_name"])
    );
    let r = s.run("", "ip_addr()");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("sysinfo::Sysinfo"), "{}", r.message());
}

#[test]
fn human_output_of_a_response_is_readable() {
    let server = Server::start(|_| Reply::Ok("line one\nline two"));
    let s = Sandbox::new();
    let r = s.run_with(
        &get_anything_on(server.port),
        &format!(r#"curl("{}")"#, server.url("/h")),
        &["--output", "human"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.json.as_str().unwrap();
    // Rex's fields, as to_map gives them.
    assert!(out.contains("status: 200"), "{out}");
    assert!(out.contains("text:\n  line one\n  line two"), "{out}");
}

#[test]
fn proxy_settings_in_the_environment_are_ignored() {
    let server = Server::start(|_| Reply::Ok("direct"));
    let proxy = Server::start(|_| Reply::Ok("through the proxy"));
    let s = Sandbox::new();
    let policy = s.write("net.cedar", &get_anything_on(server.port));
    let mut child = std::process::Command::new(binary())
        .args(["run", "-", "--policy", &policy, "--no-audit"])
        .envs(["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"].map(|k| (k, proxy.url(""))))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(r#"curl("{}").text"#, server.url("/p"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output"], "direct", "{v}");
    assert_eq!(server.seen(), ["GET /p HTTP/1.1"]);
    assert!(proxy.seen().is_empty(), "the proxy saw a request");
}

/// An HTTPS server on loopback with a self-signed certificate (made by `openssl`), served by
/// Python's `ssl` module; it prints its port, then what became of the first connection.
fn start_untrusted_tls_server(dir: &std::path::Path) -> (std::process::Child, u16) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let server = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[1])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
conn, _ = s.accept()
try:
    tls = ctx.wrap_socket(conn, server_side=True)
    print("REQUEST", tls.recv(100), flush=True)
except (ssl.SSLError, OSError) as e:
    print("HANDSHAKE FAILED", e, flush=True)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", server])
        .arg(&key)
        .arg(&cert)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().expect("port"))
}

#[test]
fn https_to_a_server_whose_certificate_is_not_trusted_fails_before_any_request() {
    let s = Sandbox::new();
    let (mut server, port) = start_untrusted_tls_server(&s.root());
    let url = format!("https://127.0.0.1:{port}/secret");
    let policy = format!(
        r#"permit(principal, action == network::Action::"GET", resource == network::url::"{url}");"#
    );
    let r = s.run(&policy, &format!("curl(\"{url}\")"));
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().to_lowercase().contains("certificate") || r.message().contains("UnknownIssuer"),
        "{}",
        r.message()
    );
    let mut report = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut report)
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        report.starts_with("HANDSHAKE FAILED"),
        "the server read a request over an untrusted connection: {report}"
    );
}

/// A listener whose accept queue is full, so that the kernel drops further SYNs and a
/// connection attempt hangs until its own timeout (as behind a firewall that drops).
fn port_that_drops_syns() -> (TcpListener, Vec<TcpStream>, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; the listener takes it.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as u16;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        TcpListener::from_raw_fd(fd)
    };
    let port = listener.local_addr().unwrap().port();
    // Fill the queue (a backlog of 0 still holds one); later attempts go unanswered.
    let mut held = Vec::new();
    for _ in 0..2 {
        if let Ok(c) = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_millis(300),
        ) {
            held.push(c);
        }
    }
    (listener, held, port)
}

#[test]
fn blocking_network_calls_end_with_the_runs_time_whatever_timeout_the_script_asks() {
    let server = Server::start(|_| Reply::Slow(Duration::from_secs(20)));
    let (_listener, _held, dropping) = port_that_drops_syns();
    let s = Sandbox::new();
    let policy = format!(
        "{}\npermit(principal, action == network::Action::\"connect\", resource == network::url::\"tcp://127.0.0.1:{dropping}\");",
        get_anything_on(server.port)
    );
    for call in [
        format!(
            r#"http_get("{}", #{{timeout_ms: 60000}})"#,
            server.url("/slow")
        ),
        format!(r#"connect("127.0.0.1", {dropping}, #{{timeout_ms: 60000}})"#),
        // Catching does not help: the run's time limit is not a script's to swallow.
        format!(
            r#"try {{ connect("127.0.0.1", {dropping}, #{{timeout_ms: 60000}}) }} catch (e) {{ "caught" }}"#
        ),
    ] {
        let start = Instant::now();
        let r = s.run_with(
            &policy,
            &format!(r#"print("before"); {call}"#),
            &["--timeout", "1s"],
        );
        let took = start.elapsed();
        assert_eq!(r.code, 6, "{call}: {:#}", r.json);
        assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{call}");
        assert!(r.message().contains("--timeout"), "{call}: {}", r.message());
        assert!(took < Duration::from_millis(1900), "{call} took {took:?}");
        // The worker ended the call itself at the limit and reported (its logs are
        // there), rather than being killed by its supervisor.
        assert!(
            r.json.to_string().contains("before"),
            "{call}: {:#}",
            r.json
        );
    }
}
