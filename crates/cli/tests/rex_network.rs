//! Rex's network and common-utility SDK in Tollgate: the HTTP `Client`, `curl`'s `Response`,
//! `network_stats()` and its socket types, `ip_addresses()`, `connect` with a
//! `TransportProtocol`, `DateTime`, `Duration`, `random_alphanumeric`, `to_json`, and the
//! metrics and alarms a script publishes into the run's output. Real loopback servers,
//! listeners and sockets made by each test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use common::*;
use serde_json::{json, Value};

/// A loopback HTTP server that answers every GET with `body`; its port.
fn server(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn get_on(port: u16) -> String {
    format!(
        r#"permit(principal, action == network::Action::"GET", resource is network::url) when {{ resource.url like "http://127.0.0.1:{port}/*" }};"#
    )
}

const ALL: &str = "permit(principal, action, resource);";

fn value(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("{e}: {}", r.ok()))
}

/// A script that makes `call` and returns what it raised: `[kind as text, source, message]`.
fn caught(call: &str) -> String {
    format!(
        r#"let out = (); try {{ {call}; }} catch (e) {{ out = [e.kind.to_string(), e.source, e.message]; }} out"#
    )
}

#[test]
fn curl_returns_a_response_with_status_text_and_to_map() {
    let port = server("hello");
    let s = Sandbox::new();
    let url = format!("http://127.0.0.1:{port}/x");
    let r = s.run(
        &get_on(port),
        &format!(
            r#"let r = curl("{url}"); [type_of(r), r.status, r.text, r.status == 200, r.to_map().keys(), r.url]"#
        ),
    );
    assert_eq!(
        value(&r),
        json!([
            "rust_safe_network::client::Response",
            200,
            "hello",
            true,
            // Rex's shape: Tollgate's headers and url are getters only.
            ["status", "text"],
            format!("http://127.0.0.1:{port}/x")
        ])
    );
    // Returned as the final value, a response prints as its map.
    let r = s.run(&get_on(port), &format!(r#"curl("{url}")"#));
    let v = value(&r);
    assert_eq!(
        (v["status"].clone(), v["text"].clone()),
        (json!(200), json!("hello"))
    );

    let r = s.run("", &format!(r#"curl("{url}")"#));
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains(r#"network::Action::"GET""#),
        "{}",
        r.message()
    );
}

#[test]
fn a_failed_request_is_a_network_error() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let s = Sandbox::new();
    let r = s.run(
        &get_on(port),
        &caught(&format!(r#"curl("http://127.0.0.1:{port}/")"#)),
    );
    let v = value(&r);
    assert_eq!(v[0], "RequestError");
    assert_eq!(v[1], "NetworkErrorKind");
}

#[test]
fn a_client_builds_requests_and_max_text_bytes_keeps_the_start_of_the_body() {
    let port = server("hello world");
    let s = Sandbox::new();
    let url = format!("http://127.0.0.1:{port}/c");
    let script = format!(
        r#"
        let c = Client();
        let q = c.get("{url}");
        let small = Client().max_text_bytes(5).get("{url}");
        let r = small.send();
        [type_of(c), type_of(q), q.url, q.method, q.max_text_size, q.to_map(), small.max_text_size,
         r.status, r.text, q.send().text]
        "#
    );
    assert_eq!(
        value(&s.run(&get_on(port), &script)),
        json!([
            "rust_safe_network::client::Client",
            "rust_safe_network::client::Request",
            url,
            "Get",
            null,
            {"max_text_size": null, "method": "Get", "url": url},
            5,
            200,
            "hello",
            "hello world"
        ])
    );
    // Building a request asks nothing; sending it asks GET.
    let r = s.run("", &format!(r#"Client().get("{url}").url"#));
    assert_eq!(r.ok(), url);
    let r = s.run("", &format!(r#"Client().get("{url}").send()"#));
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains(r#"network::Action::"GET""#),
        "{}",
        r.message()
    );
    let r = s.run("", &caught("Client().max_text_bytes(-1)"));
    assert_eq!(value(&r)[0], "InvalidArguments");
}

const PROC_NET: &str = r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/proc/net");"#;

#[test]
fn network_stats_lists_internet_and_unix_sockets_as_typed_objects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap().to_string();
    let s = Sandbox::new();
    let sock = s.path("app.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let script = format!(
        r#"
        let n = network_stats();
        let c = n.internet_connections.filter(|c| c.local_address.to_string() == "{local}")[0];
        let u = n.unix_sockets.filter(|u| u.path == "{sock}")[0];
        [type_of(n), type_of(c), c.protocol == NetworkProtocol::TCP, c.protocol.to_string(),
         c.state == TcpState::LISTEN, c.state.to_string(), type_of(c.local_address),
         c.remote_address.to_string(), c.inode > 0, c.recv_queue, c.send_queue, c.process_info,
         c.to_map()["state"], c.to_map()["local_address"],
         type_of(u), u.protocol == UnixProtocol::STREAM, u.protocol.to_string(),
         u.state == UnixSocketState::UNCONNECTED, u.state.to_string(), u.inode > 0,
         u.ref_count > 0, u.to_map()["protocol"], n.to_map().keys()]
        "#
    );
    let r = s.run_with(
        PROC_NET,
        &script,
        &[
            "--max-map-size",
            "100000000",
            "--max-array-size",
            "100000000",
        ],
    );
    assert_eq!(
        value(&r),
        json!([
            "rust_safe_network::netstat::common::NetworkStats",
            "rust_safe_network::netstat::common::InternetConnection",
            true,
            "Tcp",
            true,
            "Listen",
            "SocketAddr",
            "0.0.0.0:0",
            true,
            0,
            0,
            null,
            "Listen",
            local,
            "rust_safe_network::netstat::common::UnixSocket",
            true,
            "Stream",
            true,
            "Unconnected",
            true,
            true,
            "Stream",
            ["internet_connections", "unix_sockets"]
        ])
    );

    // The owner is shown where the policy lets the principal list the process.
    let list_me = format!(
        "{PROC_NET}\npermit(principal, action == process_system::Action::\"list\", resource == process_system::Process::\"{}\");",
        std::process::id()
    );
    let script = format!(
        r#"let p = network_stats().internet_connections.filter(|c| c.local_address.to_string() == "{local}")[0].process_info;
           [type_of(p), p.pid, p.to_map().keys()]"#
    );
    let r = s.run_with(
        &list_me,
        &script,
        &[
            "--max-map-size",
            "100000000",
            "--max-array-size",
            "100000000",
        ],
    );
    assert_eq!(
        value(&r),
        json!(["ProcessInfo", std::process::id(), ["pid", "process_name"]])
    );

    let r = s.run("", "network_stats()");
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains("/proc/net/tcp"), "{}", r.message());
    // The Unix table is read like the others.
    let no_unix = format!(
        "{PROC_NET}\nforbid(principal, action, resource == file_system::File::\"/proc/net/unix\");"
    );
    let r = s.run(&no_unix, "network_stats()");
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains("/proc/net/unix"), "{}", r.message());
    drop(listener);
}

#[test]
fn netstat_is_rexs_map_of_internet_and_unix_sockets() {
    let s = Sandbox::new();
    let sock = s.path("n.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let script = format!(
        r#"let n = netstat(); [n.keys(), n.unix.filter(|u| u.path == "{sock}").map(|u| [u.protocol, u.state, u.ref_count > 0])]"#
    );
    let r = s.run_with(
        PROC_NET,
        &script,
        &[
            "--max-map-size",
            "100000000",
            "--max-array-size",
            "100000000",
        ],
    );
    assert_eq!(
        value(&r),
        json!([["internet", "unix"], [["Stream", "Unconnected", true]]])
    );
}

#[test]
fn ip_addresses_are_network_objects_like_ip_addr() {
    let s = Sandbox::new();
    let sys =
        r#"permit(principal, action == sysinfo::Action::"list", resource is sysinfo::Sysinfo);"#;
    let script = r#"
        let lo = ip_addresses().filter(|n| n.interface_name == "lo")[0];
        [type_of(lo), lo.addresses.contains("127.0.0.1"), lo.networks.contains("127.0.0.1/8"),
         lo.loopback, lo.to_map().keys(), type_of(ip_addr()[0])]
    "#;
    assert_eq!(
        value(&s.run(sys, script)),
        json!([
            "rust_safe_network::network::Network",
            true,
            true,
            true,
            // Rex's shape: Tollgate's networks, mac, up and loopback are getters only.
            ["addresses", "interface_name"],
            "rust_safe_network::network::Network"
        ])
    );
    let r = s.run("", "ip_addresses()");
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(r.message().contains("sysinfo::Sysinfo"), "{}", r.message());
}

#[test]
fn connect_with_a_transport_protocol_returns_a_connection_or_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == network::Action::"connect", resource);"#;
    let r = s.run(
        policy,
        &format!(
            r#"let c = connect("127.0.0.1", {port}, TransportProtocol::TCP); [type_of(c), c.url, c.address]"#
        ),
    );
    assert_eq!(
        value(&r),
        json!([
            "rust_safe_network::network::Connection",
            format!("tcp://127.0.0.1:{port}"),
            format!("127.0.0.1:{port}")
        ])
    );
    let r = s.run(
        policy,
        &caught(&format!(
            r#"connect("127.0.0.1", {closed_port}, TransportProtocol::TCP)"#
        )),
    );
    assert_eq!(value(&r)[1], "NetworkErrorKind");
    let r = s.run(
        policy,
        &caught(&format!(
            r#"connect("127.0.0.1", {port}, TransportProtocol::UDP)"#
        )),
    );
    assert_eq!(value(&r)[0], "InvalidArguments");
    let r = s.run(
        "",
        &format!(r#"connect("127.0.0.1", {port}, TransportProtocol::TCP)"#),
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION");
    assert!(
        r.message().contains(r#"network::Action::"connect""#),
        "{}",
        r.message()
    );
}

#[test]
fn datetime_fields_formats_and_arithmetic() {
    let s = Sandbox::new();
    let script = r#"
        let d = DateTime(2024, 2, 29, 13, 5, 9, 123);
        let e = d + 86400;
        [type_of(d), d.year, d.month, d.day, d.hour, d.minute, d.second, d.nanosecond, d.nanos(),
         d.epoch_seconds(), d.month_str(), d.month_str_short(),
         d.to_string(DateTimeFormat::RFC3339), d.to_string(DateTimeFormat::RFC2822),
         e.month, e.day, e - d, d < e, d <= d, e > d, e >= e, d == d, d != e, (d - 10).second,
         from_epoch_seconds(0).to_string(DateTimeFormat::RFC3339),
         from_epoch_nanos(1, 5).to_string(DateTimeFormat::RFC3339),
         parse_datetime("2024-02-29T13:05:09.5+02:00", DateTimeFormat::RFC3339).to_string(DateTimeFormat::RFC3339),
         parse_datetime("Thu, 29 Feb 2024 13:05:09 +0000", DateTimeFormat::RFC2822).epoch_seconds(),
         now().nanosecond, now_nanos() >= now() - 1, type_of(DateTimeFormat::RFC3339)]
    "#;
    assert_eq!(
        value(&s.run("", script)),
        json!([
            "rust_sdk_common_utils::types::datetime::DateTime",
            2024,
            2,
            29,
            13,
            5,
            9,
            123,
            123,
            1709211909_i64,
            "February",
            "Feb",
            "2024-02-29T13:05:09.000000123Z",
            "Thu, 29 Feb 2024 13:05:09 +0000",
            3,
            1,
            86400,
            true,
            true,
            true,
            true,
            true,
            true,
            59,
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:01.000000005Z",
            "2024-02-29T11:05:09.5Z",
            1709211909_i64,
            0,
            true,
            "rust_sdk_common_utils::types::datetime::DateTimeFormat"
        ])
    );
    // A date returned as the result prints as its RFC 3339 text.
    let r = s.run("", "DateTime(2024, 1, 2, 3, 4, 5, 0)");
    assert_eq!(r.ok(), "2024-01-02T03:04:05Z");
}

#[test]
fn datetime_errors_carry_common_utils_kinds() {
    let s = Sandbox::new();
    let r = s.run("", &caught("DateTime(2024, 13, 1, 0, 0, 0, 0)"));
    let v = value(&r);
    assert_eq!(
        (v[0].clone(), v[1].clone()),
        (json!("InvalidArguments"), json!("CommonUtilsErrorKind"))
    );
    let r = s.run(
        "",
        &caught(r#"parse_datetime("yesterday", DateTimeFormat::RFC3339)"#),
    );
    assert_eq!(value(&r)[0], "ParseError");
    let r = s.run(
        "",
        r#"let ok = false; try { parse_datetime("x", DateTimeFormat::RFC2822) } catch (e) { ok = e.kind == CommonUtilsErrorKind::ParseError; } ok"#,
    );
    assert_eq!(r.ok(), "true");
    let r = s.run(
        "",
        &caught("DateTime(1800, 1, 1, 0, 0, 0, 0).to_string(DateTimeFormat::RFC2822)"),
    );
    assert_eq!(value(&r)[0], "FormatError");
    let r = s.run("", &caught("from_epoch_nanos(1, -5)"));
    assert_eq!(value(&r)[0], "InvalidArguments");
}

#[test]
fn duration_random_strings_and_to_json() {
    let s = Sandbox::new();
    let script = r#"
        let r = random_alphanumeric(40);
        [type_of(Duration::from_secs(5)), type_of(from_secs(5)), r.len(),
         r.to_chars().all(|c| (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')),
         random_alphanumeric(40) != r, random_alphanumeric(-1).len(), random_alphanumeric(0),
         to_json(#{a: 1, b: [1, "x", true, ()], c: #{d: "e\"f"}}),
         #{when: DateTime(2024, 1, 2, 3, 4, 5, 0)}.to_json()]
    "#;
    assert_eq!(
        value(&s.run("", script)),
        json!([
            "core::time::Duration",
            "core::time::Duration",
            40,
            true,
            true,
            16,
            "",
            r#"{"a":1,"b":[1,"x",true,null],"c":{"d":"e\"f"}}"#,
            r#"{"when":"2024-01-02T03:04:05Z"}"#
        ])
    );
    let r = s.run_with(
        "",
        "random_alphanumeric(2000)",
        &["--max-string-size", "1000"],
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
}

#[test]
fn published_metrics_and_alarms_are_in_the_output() {
    let s = Sandbox::new();
    let script = r#"
        let dims = MetricDimensionsBuilder().add("host", "web1").add("disk", "/var").build();
        MetricBuilder().name("disk_used").value(71.5).unit(MetricUnitType::PERCENT).dimensions(dims).publish();
        MetricBuilder().name("runs").value(1.0).unit(MetricUnitType::COUNT).publish();
        // The same name again replaces the earlier value, as in Rex.
        MetricBuilder().name("runs").value(2.0).unit(MetricUnitType::COUNT).publish();
        AlarmBuilder().type("DiskAlmostFull").details("/var at 71.5%").publish();
        AlarmBuilder().type("Checked").publish();
        "done"
    "#;
    let r = s.run("", script);
    assert_eq!(r.ok(), "done");
    let metrics = r.json["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2, "{:#}", r.json);
    assert_eq!(metrics[0]["metric_name"], "disk_used");
    assert_eq!(metrics[0]["metric_value"], 71.5);
    assert_eq!(metrics[0]["metric_unit"], "PERCENT");
    assert_eq!(
        metrics[0]["metric_dimension"],
        json!({"host": "web1", "disk": "/var"})
    );
    let stamp = metrics[0]["metric_timestamp"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
    assert_eq!(
        (
            metrics[1]["metric_name"].clone(),
            metrics[1]["metric_value"].clone(),
            metrics[1]["metric_dimension"].clone()
        ),
        (json!("runs"), json!(2.0), json!({}))
    );
    assert_eq!(
        r.json["alarms"],
        json!([
            {"alarm_type": "DiskAlmostFull", "alarm_details": "/var at 71.5%"},
            {"alarm_type": "Checked"}
        ])
    );
    // A run that publishes nothing has neither field.
    let r = s.run("", "1");
    assert!(
        r.json.get("metrics").is_none() && r.json.get("alarms").is_none(),
        "{:#}",
        r.json
    );
}

#[test]
fn metrics_and_alarms_survive_a_failing_script() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        r#"AlarmBuilder().type("BeforeFailure").publish(); throw "broken";"#,
    );
    assert_eq!(r.error_type(), "SCRIPT_EXCEPTION");
    assert_eq!(r.json["alarms"], json!([{"alarm_type": "BeforeFailure"}]));
}

#[test]
fn incomplete_or_reserved_reports_are_refused() {
    let s = Sandbox::new();
    for call in [
        r#"MetricBuilder().name("x").unit(MetricUnitType::COUNT).publish()"#,
        r#"MetricBuilder().value(1.0).unit(MetricUnitType::COUNT).publish()"#,
        r#"MetricBuilder().name("x").value(1.0).publish()"#,
        r#"AlarmBuilder().details("d").publish()"#,
        r#"MetricBuilder().name("RexRunnerThing").value(1.0).unit(MetricUnitType::COUNT).publish()"#,
        r#"AlarmBuilder().type("rexAlarm").publish()"#,
    ] {
        let r = s.run("", &caught(call));
        assert_eq!(value(&r)[0], "InvalidArguments", "{call}");
    }
    // A setter's result unused changes nothing: the builder is a value.
    let r = s.run("", &caught(r#"let m = MetricBuilder(); m.name("x"); m.value(1.0); m.unit(MetricUnitType::COUNT); m.publish()"#));
    assert!(
        value(&r)[2].as_str().unwrap().contains("metric_name"),
        "{:#}",
        r.json
    );
}

#[test]
fn reports_are_bounded_in_count_and_by_the_output_limit() {
    let s = Sandbox::new();
    let r = s.run(
        "",
        r#"for i in 0..1001 { AlarmBuilder().type("A" + i).publish(); } "unreachable""#,
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    assert!(r.message().contains("1000 alarms"), "{}", r.message());

    let r = s.run(
        "",
        r#"let d = "x"; d.pad(5000, "x"); AlarmBuilder().type("Big").details(d).publish();"#,
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);

    // What is published counts against --max-output with the result and the logs.
    let r = s.run_with(
        "",
        r#"for i in 0..100 { AlarmBuilder().type("Alarm" + i).details("some details").publish(); } "ok""#,
        &["--max-output", "2000"],
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    assert!(r.json.get("alarms").is_none(), "{:#}", r.json);
}

#[test]
fn human_output_lists_metrics_and_alarms_on_stderr() {
    let s = Sandbox::new();
    let r = s.run_with(
        "",
        r#"MetricBuilder().name("latency").value(12.0).unit(MetricUnitType::TIME).publish(); AlarmBuilder().type("Slow").details("12 ms").publish(); 1"#,
        &["--output", "human"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("[METRIC] latency = 12 TIME"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[ALARM] Slow: 12 ms"), "{}", r.stderr);
}

#[test]
fn enum_constants_compare_and_print_as_in_rex() {
    let s = Sandbox::new();
    let script = r#"
        [TcpState::SYN_SENT.to_string(), TcpState::NONE.to_string(), NetworkProtocol::UDP6.to_string(),
         UnixProtocol::SEQPACKET.to_string(), UnixSocketState::DISCONNECTING.to_string(),
         TcpState::LISTEN == TcpState::LISTEN, TcpState::LISTEN != TcpState::CLOSE,
         TcpState::LISTEN == "Listen", type_of(TcpState::LISTEN), type_of(MetricUnitType::COUNT)]
    "#;
    assert_eq!(
        value(&s.run("", script)),
        json!([
            "SynSent",
            "None",
            "Udp6",
            "Seqpacket",
            "Disconnecting",
            true,
            true,
            true,
            "TcpState",
            "rex_metrics_and_alarms::common::MetricUnitType"
        ])
    );
}

#[test]
fn all_permitted_network_calls_still_authorize_each_request() {
    // Sanity: under a permit-all policy the Rex calls work end to end.
    let port = server("ok");
    let s = Sandbox::new();
    let r = s.run(
        ALL,
        &format!(r#"Client().get("http://127.0.0.1:{port}/").send().text"#),
    );
    assert_eq!(r.ok(), "ok");
}
