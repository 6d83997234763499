//! Network: Rex's `curl`, HTTP `Client` and `Request`, `netstat`, `network_stats`, `ip_addr`
//! and `ip_addresses`, and Tollgate's `http_get` and `connect`.
//!
//! Every request goes through the host's one GET, which authorizes the canonical URL and
//! each redirect hop (`network::Action::"GET"`), whether the script called `curl`,
//! `Client().get(url).send()` or `http_get`.

use std::net::SocketAddr;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use tollgate_host::net::{
    ConnectReport, HttpOptions, HttpResponse, Interface, Socket, SocketOwner, SocketTables,
    UnixSocket as HostUnixSocket, CONNECT_TIMEOUT,
};
use tollgate_host::HostError;

use super::objects::{enumeration, object, Kind};
use super::sdk_host::Sdk;
use super::system::TransportProtocol;
use super::{host_error, invalid, map};

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    Response::KIND,
    Request::KIND,
    Network::KIND,
    NetworkStats::KIND,
    InternetConnection::KIND,
    UnixSocket::KIND,
    SocketProcess::KIND,
    Connection::KIND,
    NetworkProtocol::KIND,
    TcpState::KIND,
    UnixProtocol::KIND,
    UnixSocketState::KIND,
    Kind {
        register: register_socket_addr,
        plain: |v| {
            v.read_lock::<SocketAddr>()
                .map(|a| Dynamic::from(a.to_string()))
        },
    },
    Kind {
        register: |engine| {
            engine.register_type_with_name::<Client>("rust_safe_network::client::Client");
        },
        plain: |_| None,
    },
];

object! {
    /// What an HTTP GET answered (`curl(url)`, `request.send()`): Rex's `status` and `text`,
    /// and Tollgate's `headers` (lower-case names) and `url` (the canonical URL that
    /// answered, after any redirects).
    pub(crate) struct Response as "rust_safe_network::client::Response" {
        status: i64,
        text: String,
    } extra {
        headers: Map,
        url: String,
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} from {} ({} bytes)",
            self.status,
            self.url,
            self.text.len()
        )
    }
}

object! {
    /// A GET to be sent (`Client().get(url)`): its URL, method (`Get`) and the body limit
    /// its client set, if any.
    pub(crate) struct Request as "rust_safe_network::client::Request" {
        url: String,
        method: String,
        max_text_size: Option<i64>,
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// `Client()`: makes requests; `max_text_bytes(n)` makes one that keeps only the first n
/// bytes of each body.
#[derive(Clone, Debug, Default)]
pub(crate) struct Client {
    max_text_bytes: Option<u64>,
}

object! {
    /// One network interface (`ip_addr()`): Rex's `interface_name` and `addresses`, and
    /// Tollgate's `networks` (each address with its prefix length), `mac`, `up`, `loopback`.
    pub(crate) struct Network as "rust_safe_network::network::Network" {
        interface_name: String,
        addresses: Array,
    } extra {
        networks: Array,
        mac: Option<String>,
        up: bool,
        loopback: bool,
    }
}

object! {
    /// The host's sockets (`network_stats()`).
    pub(crate) struct NetworkStats as "rust_safe_network::netstat::common::NetworkStats" {
        internet_connections: Array,
        unix_sockets: Array,
    }
}

impl std::fmt::Display for NetworkStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} internet connections, {} unix sockets",
            self.internet_connections.len(),
            self.unix_sockets.len()
        )
    }
}

object! {
    /// One TCP or UDP socket. `process_info` is its owner, or `()` when unknown or when the
    /// policy does not let the principal list the owning process.
    pub(crate) struct InternetConnection as "rust_safe_network::netstat::common::InternetConnection" {
        protocol: Dynamic,
        recv_queue: i64,
        send_queue: i64,
        local_address: Dynamic,
        remote_address: Dynamic,
        state: Dynamic,
        inode: i64,
        process_info: Dynamic,
    }
}

impl std::fmt::Display for InternetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {} {}",
            self.protocol, self.local_address, self.remote_address, self.state
        )
    }
}

object! {
    /// One Unix socket; `process_info` as for an internet connection.
    pub(crate) struct UnixSocket as "rust_safe_network::netstat::common::UnixSocket" {
        protocol: Dynamic,
        ref_count: i64,
        state: Dynamic,
        inode: i64,
        path: String,
        process_info: Dynamic,
    }
}

impl std::fmt::Display for UnixSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.protocol, self.state, self.path)
    }
}

object! {
    /// The process a socket belongs to.
    pub(crate) struct SocketProcess as "ProcessInfo" {
        pid: i64,
        process_name: String,
    }
}

impl std::fmt::Display for SocketProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.process_name, self.pid)
    }
}

object! {
    /// A connection made by `connect(host, port, TransportProtocol::TCP)`, closed at once:
    /// Rex's `Connection`, with Tollgate's `url` (the canonical `tcp://host:port` that was
    /// authorized), `address` (the one that answered) and `time_ms`.
    pub(crate) struct Connection as "rust_safe_network::network::Connection" {
        url: String,
        address: Option<String>,
        time_ms: f64,
    }
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connected to {}", self.url)
    }
}

enumeration! {
    /// An internet socket's protocol (`NetworkProtocol::TCP` prints `Tcp`).
    pub(crate) enum NetworkProtocol as "NetworkProtocol" in "NetworkProtocol" {
        Tcp = "TCP", Tcp6 = "TCP6", Udp = "UDP", Udp6 = "UDP6"
    }
}

enumeration! {
    /// A TCP socket's state, by the kernel's names (`TcpState::SYN_SENT` prints `SynSent`);
    /// a UDP socket's is `NONE`.
    pub(crate) enum TcpState as "TcpState" in "TcpState" {
        Established = "ESTABLISHED", SynSent = "SYN_SENT", SynRecv = "SYN_RECV",
        FinWait1 = "FIN_WAIT1", FinWait2 = "FIN_WAIT2", TimeWait = "TIME_WAIT",
        Close = "CLOSE", CloseWait = "CLOSE_WAIT", LastAck = "LAST_ACK", Listen = "LISTEN",
        Closing = "CLOSING", NewSynRecv = "NEW_SYN_RECV", None = "NONE"
    }
}

enumeration! {
    /// A Unix socket's type (`UnixProtocol::STREAM` prints `Stream`).
    pub(crate) enum UnixProtocol as "UnixProtocol" in "UnixProtocol" {
        Stream = "STREAM", Dgram = "DGRAM", Seqpacket = "SEQPACKET"
    }
}

enumeration! {
    /// A Unix socket's state (`UnixSocketState::CONNECTED` prints `Connected`).
    pub(crate) enum UnixSocketState as "UnixSocketState" in "UnixSocketState" {
        Unconnected = "UNCONNECTED", Connecting = "CONNECTING", Connected = "CONNECTED",
        Disconnecting = "DISCONNECTING"
    }
}

fn register_socket_addr(engine: &mut Engine) {
    engine.register_type_with_name::<SocketAddr>("SocketAddr");
    engine.register_fn("to_string", |a: &mut SocketAddr| a.to_string());
    engine.register_fn("to_debug", |a: &mut SocketAddr| a.to_string());
}

/// A network failure as Rex's caught error: its `source` is `NetworkErrorKind`. Denials and
/// limits are as every area raises them.
fn net_error(e: HostError) -> Box<EvalAltResult> {
    let plain_failure = !matches!(
        e,
        HostError::Denied(_) | HostError::Interrupted | HostError::TooLarge { .. }
    );
    let mut err = host_error(e);
    if plain_failure {
        if let EvalAltResult::ErrorRuntime(value, _) = &mut *err {
            if let Some(mut m) = value.write_lock::<Map>() {
                m.insert(
                    "source".into(),
                    Dynamic::from("NetworkErrorKind".to_owned()),
                );
            }
        }
    }
    err
}

/// A positive integer option of `command`'s options map.
fn positive(command: &str, key: &str, value: &Dynamic) -> Result<u64, Box<EvalAltResult>> {
    value
        .as_int()
        .ok()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            invalid(format!(
                "{command}: {key} must be a positive integer, not {value}"
            ))
        })
}

/// `http_get`'s options; an unknown key is an error, so a misspelt limit is never ignored.
fn http_options(options: &Map) -> Result<HttpOptions, Box<EvalAltResult>> {
    let mut o = HttpOptions::default();
    for (key, value) in options {
        match key.as_str() {
            "timeout_ms" => o.timeout = Duration::from_millis(positive("http_get", key, value)?),
            "max_bytes" => o.max_bytes = positive("http_get", key, value)?,
            "max_redirects" => {
                o.max_redirects = match value.as_int() {
                    Ok(v) if (0..=100).contains(&v) => v as u32,
                    _ => {
                        return Err(invalid(format!(
                            "http_get: max_redirects must be an integer from 0 to 100, not {value}"
                        )))
                    }
                }
            }
            other => {
                return Err(invalid(format!(
                    "http_get: unknown option {other:?}; the options are timeout_ms, max_bytes and max_redirects"
                )))
            }
        }
    }
    Ok(o)
}

fn connect_timeout(options: &Map) -> Result<Duration, Box<EvalAltResult>> {
    let mut timeout = CONNECT_TIMEOUT;
    for (key, value) in options {
        match key.as_str() {
            "timeout_ms" => timeout = Duration::from_millis(positive("connect", key, value)?),
            other => {
                return Err(invalid(format!(
                    "connect: unknown option {other:?}; the only option is timeout_ms"
                )))
            }
        }
    }
    Ok(timeout)
}

fn headers(r: &mut HttpResponse) -> Map {
    std::mem::take(&mut r.headers)
        .into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v)))
        .collect()
}

/// `http_get`'s map.
fn response(mut r: HttpResponse) -> Dynamic {
    let headers = headers(&mut r);
    map([
        ("status", Dynamic::from(i64::from(r.status))),
        ("headers", Dynamic::from_map(headers)),
        ("text", Dynamic::from(r.text)),
        ("url", Dynamic::from(r.url)),
    ])
}

/// `curl`'s and `send`'s object.
fn response_object(mut r: HttpResponse) -> Response {
    Response {
        status: i64::from(r.status),
        headers: headers(&mut r),
        text: r.text,
        url: r.url,
    }
}

fn owner(o: Option<SocketOwner>) -> Dynamic {
    o.map_or(Dynamic::UNIT, |o| {
        Dynamic::from(SocketProcess {
            pid: i64::from(o.pid),
            process_name: o.name,
        })
    })
}

fn protocol(s: &Socket) -> NetworkProtocol {
    match s.protocol {
        "tcp6" => NetworkProtocol::Tcp6,
        "udp" => NetworkProtocol::Udp,
        "udp6" => NetworkProtocol::Udp6,
        _ => NetworkProtocol::Tcp,
    }
}

/// The state as Rex reports it: a TCP state by the kernel's name, and `None` for UDP,
/// which has none.
fn tcp_state(s: &Socket) -> TcpState {
    if s.protocol.starts_with("udp") {
        return TcpState::None;
    }
    TcpState::ALL
        .iter()
        .copied()
        .find(|t| t.constant() == s.state)
        .unwrap_or(TcpState::None)
}

fn internet_connection(s: Socket) -> InternetConnection {
    InternetConnection {
        protocol: Dynamic::from(protocol(&s)),
        recv_queue: s.recv_queue as i64,
        send_queue: s.send_queue as i64,
        local_address: Dynamic::from(s.local_address),
        remote_address: Dynamic::from(s.remote_address),
        state: Dynamic::from(tcp_state(&s)),
        inode: s.inode as i64,
        process_info: owner(s.owner),
    }
}

fn unix_protocol(s: &HostUnixSocket) -> UnixProtocol {
    match s.kind {
        "dgram" => UnixProtocol::Dgram,
        "seqpacket" => UnixProtocol::Seqpacket,
        _ => UnixProtocol::Stream,
    }
}

fn unix_state(s: &HostUnixSocket) -> UnixSocketState {
    match s.state {
        "connecting" => UnixSocketState::Connecting,
        "connected" => UnixSocketState::Connected,
        "disconnecting" => UnixSocketState::Disconnecting,
        _ => UnixSocketState::Unconnected,
    }
}

fn unix_socket(s: HostUnixSocket) -> UnixSocket {
    let (protocol, state) = (unix_protocol(&s), unix_state(&s));
    UnixSocket {
        protocol: Dynamic::from(protocol),
        ref_count: i64::from(s.ref_count),
        state: Dynamic::from(state),
        inode: s.inode as i64,
        path: s.path,
        process_info: owner(s.owner),
    }
}

fn network_stats(t: SocketTables) -> NetworkStats {
    NetworkStats {
        internet_connections: t
            .internet
            .into_iter()
            .map(|s| Dynamic::from(internet_connection(s)))
            .collect(),
        unix_sockets: t
            .unix
            .into_iter()
            .map(|s| Dynamic::from(unix_socket(s)))
            .collect(),
    }
}

/// `netstat()`'s map, as Rex shapes it: `internet` and `unix`, each socket a map with its
/// enums as text (`Tcp`, `Listen`, `Stream`), plus Tollgate's `inode` and `process_info`.
fn netstat_map(t: SocketTables) -> Dynamic {
    let text = |v: &dyn std::fmt::Display| Dynamic::from(v.to_string());
    let internet: Array = t
        .internet
        .into_iter()
        .map(|s| {
            map([
                ("protocol", text(&protocol(&s))),
                ("local_address", text(&s.local_address)),
                ("remote_address", text(&s.remote_address)),
                ("state", text(&tcp_state(&s))),
                ("recv_queue", Dynamic::from(s.recv_queue as i64)),
                ("send_queue", Dynamic::from(s.send_queue as i64)),
            ])
        })
        .collect();
    let unix: Array = t
        .unix
        .into_iter()
        .map(|s| {
            map([
                ("protocol", text(&unix_protocol(&s))),
                ("state", text(&unix_state(&s))),
                ("ref_count", Dynamic::from(i64::from(s.ref_count))),
                ("path", Dynamic::from(s.path)),
            ])
        })
        .collect();
    map([
        ("internet", Dynamic::from_array(internet)),
        ("unix", Dynamic::from_array(unix)),
    ])
}

fn network(i: Interface) -> Network {
    let strings = |v: Vec<String>| v.into_iter().map(Dynamic::from).collect();
    Network {
        interface_name: i.name,
        addresses: strings(i.addresses),
        networks: strings(i.networks),
        mac: i.mac,
        up: i.up,
        loopback: i.loopback,
    }
}

fn connect_report(r: ConnectReport) -> Dynamic {
    let opt = |v: Option<String>| v.map_or(Dynamic::UNIT, Dynamic::from);
    map([
        ("url", Dynamic::from(r.url)),
        ("connected", Dynamic::from(r.connected)),
        ("address", opt(r.address)),
        ("time_ms", Dynamic::from(r.time_ms)),
        ("error", opt(r.error)),
    ])
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    let h = host.clone();
    engine.register_fn("curl", move |url: &str| {
        let h = h.call("curl");
        h.http_get(url, &HttpOptions::default())
            .map(response_object)
            .map_err(net_error)
    });
    register_client(engine, &host);
    let h = host.clone();
    engine.register_fn("http_get", move |url: &str| {
        let h = h.call("http_get");
        h.http_get(url, &HttpOptions::default())
            .map(response)
            .map_err(net_error)
    });
    let h = host.clone();
    engine.register_fn("http_get", move |url: &str, options: Map| {
        let h = h.call("http_get");
        let options = http_options(&options)?;
        h.http_get(url, &options).map(response).map_err(net_error)
    });
    let h = host.clone();
    engine.register_fn("connect", move |host: &str, port: i64| {
        let h = h.call("connect");
        h.connect(host, port, CONNECT_TIMEOUT)
            .map(connect_report)
            .map_err(net_error)
    });
    let h = host.clone();
    engine.register_fn("connect", move |host: &str, port: i64, options: Map| {
        let h = h.call("connect");
        let timeout = connect_timeout(&options)?;
        h.connect(host, port, timeout)
            .map(connect_report)
            .map_err(net_error)
    });
    let h = host.clone();
    engine.register_fn(
        "connect",
        move |host: &str, port: i64, protocol: TransportProtocol| { let h = h.call("connect"); 
            // Tollgate checks TCP reachability only: a UDP "connection" sends nothing, so it
            // cannot tell whether anything listens (Rex's AUTO falls back to it, which always
            // succeeds). AUTO is TCP here.
            if protocol == TransportProtocol::UDP {
                return Err(invalid(
                    "connect: UDP is not supported (a UDP connect sends nothing, so it shows nothing); use TransportProtocol::TCP",
                ));
            }
            let r = h.connect(host, port, CONNECT_TIMEOUT).map_err(net_error)?;
            if !r.connected {
                let reason = r.error.unwrap_or_else(|| "no connection".to_owned());
                return Err(net_error(HostError::Network {
                    target: r.url,
                    reason,
                }));
            }
            Ok(Connection {
                url: r.url,
                address: r.address,
                time_ms: r.time_ms,
            })
        },
    );
    let h = host.clone();
    engine.register_fn("netstat", move || {
        let h = h.call("netstat");
        h.netstat(false).map(netstat_map).map_err(net_error)
    });
    let h = host.clone();
    engine.register_fn("network_stats", move || {
        let h = h.call("network_stats");
        h.netstat(true).map(network_stats).map_err(net_error)
    });
    for name in ["ip_addr", "ip_addresses"] {
        let h = host.clone();
        engine.register_fn(name, move || {
            let interfaces = h.call(name).ip_addr().map_err(host_error)?;
            Ok::<_, Box<EvalAltResult>>(
                interfaces
                    .into_iter()
                    .map(|i| Dynamic::from(network(i)))
                    .collect::<Array>(),
            )
        });
    }
}

/// `Client()`, `client.max_text_bytes(n)`, `client.get(url)` and `request.send()`.
fn register_client(engine: &mut Engine, host: &Sdk) {
    engine.register_fn("Client", Client::default);
    engine.register_fn(
        "max_text_bytes",
        |_: &mut Client, n: i64| -> Result<Client, Box<EvalAltResult>> {
            let n = u64::try_from(n).map_err(|_| {
                invalid(format!(
                    "max_text_bytes: {n} is not a number of bytes (0 or more)"
                ))
            })?;
            Ok(Client {
                max_text_bytes: Some(n),
            })
        },
    );
    engine.register_fn("get", |c: &mut Client, url: &str| Request {
        url: url.to_owned(),
        method: "Get".to_owned(),
        max_text_size: c.max_text_bytes.map(|n| n.min(i64::MAX as u64) as i64),
    });
    let h = host.clone();
    engine.register_fn("send", move |r: &mut Request| {
        let h = h.call("Request.send");
        let mut options = HttpOptions::default();
        if let Some(n) = r.max_text_size {
            // Within the run's string limit, which the host applies on top.
            options.max_bytes = n as u64;
            options.truncate = true;
        }
        h.http_get(&r.url, &options)
            .map(response_object)
            .map_err(net_error)
    });
}

super::objects::display_as_type_name!(Network);
