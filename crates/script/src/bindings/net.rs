//! Network: `curl`, `http_get`, `connect`, `netstat`, `ip_addr`.

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

use std::rc::Rc;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use tollgate_host::net::{ConnectReport, HttpOptions, HttpResponse, CONNECT_TIMEOUT};
use tollgate_host::Host;

use super::{host_error, invalid, map};

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

fn response(r: HttpResponse) -> Dynamic {
    let headers: Map = r
        .headers
        .into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v)))
        .collect();
    map([
        ("status", Dynamic::from(i64::from(r.status))),
        ("headers", Dynamic::from_map(headers)),
        ("text", Dynamic::from(r.text)),
        ("url", Dynamic::from(r.url)),
    ])
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

pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    let h = Rc::clone(&host);
    engine.register_fn("curl", move |url: &str| {
        h.http_get(url, &HttpOptions::default())
            .map(response)
            .map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("http_get", move |url: &str| {
        h.http_get(url, &HttpOptions::default())
            .map(response)
            .map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("http_get", move |url: &str, options: Map| {
        let options = http_options(&options)?;
        h.http_get(url, &options).map(response).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("connect", move |host: &str, port: i64| {
        h.connect(host, port, CONNECT_TIMEOUT)
            .map(connect_report)
            .map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("connect", move |host: &str, port: i64, options: Map| {
        let timeout = connect_timeout(&options)?;
        h.connect(host, port, timeout)
            .map(connect_report)
            .map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("netstat", move || {
        let sockets = h.netstat().map_err(host_error)?;
        let internet: Array = sockets
            .into_iter()
            .map(|s| {
                let owner = s.owner.map_or(Dynamic::UNIT, |o| {
                    map([
                        ("pid", Dynamic::from(i64::from(o.pid))),
                        ("process_name", Dynamic::from(o.name)),
                    ])
                });
                map([
                    ("protocol", Dynamic::from(s.protocol.to_owned())),
                    ("local_address", Dynamic::from(s.local_address.to_string())),
                    (
                        "remote_address",
                        Dynamic::from(s.remote_address.to_string()),
                    ),
                    ("state", Dynamic::from(s.state.to_owned())),
                    ("send_queue", Dynamic::from(s.send_queue as i64)),
                    ("recv_queue", Dynamic::from(s.recv_queue as i64)),
                    ("inode", Dynamic::from(s.inode as i64)),
                    ("process_info", owner),
                ])
            })
            .collect();
        Ok::<_, Box<EvalAltResult>>(map([("internet", Dynamic::from_array(internet))]))
    });
    let h = host;
    engine.register_fn("ip_addr", move || {
        let interfaces = h.ip_addr().map_err(host_error)?;
        let items: Array = interfaces
            .into_iter()
            .map(|i| {
                map([
                    ("interface_name", Dynamic::from(i.name)),
                    (
                        "addresses",
                        Dynamic::from_array(i.addresses.into_iter().map(Dynamic::from).collect()),
                    ),
                    ("mac", i.mac.map_or(Dynamic::UNIT, Dynamic::from)),
                    ("up", Dynamic::from(i.up)),
                    ("loopback", Dynamic::from(i.loopback)),
                ])
            })
            .collect();
        Ok::<_, Box<EvalAltResult>>(Dynamic::from_array(items))
    });
}
