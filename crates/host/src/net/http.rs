//! `curl(url)` and `http_get(url, options)`: one GET, authorized hop by hop.
//!
//! The client never decides on its own where to go: proxies from the environment are ignored
//! (a proxy would be a host the policy never saw), and redirects are not followed by the
//! client but here, each `Location` canonicalized and authorized like the first URL before
//! anything is sent to it.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tollgate_policy::{Action, Resource};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use super::url::HttpUrl;
use crate::error::{HostError, HostResult};
use crate::Host;

/// Bounds of one `http_get`, settable from the script's options map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// Time for the whole call, every hop and the body included (`timeout_ms`).
    pub timeout: Duration,
    /// Largest body returned (`max_bytes`); never more than the run's string limit.
    pub max_bytes: u64,
    /// Redirects followed before giving up (`max_redirects`).
    pub max_redirects: u32,
    /// Keep the first `max_bytes` of a longer body instead of failing: what a script asks
    /// for with `Client().max_text_bytes(n)`. The run's own string limit still fails.
    pub truncate: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            max_bytes: 10 << 20,
            max_redirects: 5,
            truncate: false,
        }
    }
}

/// A response, after the last hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case; repeated headers joined with ", ".
    pub headers: Vec<(String, String)>,
    pub text: String,
    /// The canonical URL that answered (the last hop).
    pub url: String,
}

/// Statuses whose `Location` is a redirect to follow with another GET.
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Read size of the body loop; between reads the run's stop flag is checked.
const CHUNK: usize = 64 << 10;

/// The client of every request: no proxy, no automatic redirects, statuses as values.
pub(crate) fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        LiteralFirst::default(),
    )
}

/// Resolves host names as ureq does (on a helper thread, so the timeout bounds the lookup),
/// but answers an IP address in the URL at once: it needs no lookup, and starting a thread
/// per request cost milliseconds on a busy host.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.host().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        });
        let Some(ip) = literal else {
            return self.0.resolve(uri, config, timeout);
        };
        // Request URLs are http or https (HttpUrl guarantees it), so these are the defaults.
        let default_port = if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        };
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, uri.port_u16().unwrap_or(default_port)));
        Ok(addrs)
    }
}

impl Host {
    /// GETs `raw`, after `network::Action::"GET"` on its canonical `network::url`, and on
    /// every URL a redirect leads to.
    pub fn http_get(&self, raw: &str, options: &HttpOptions) -> HostResult<HttpResponse> {
        let mut url = HttpUrl::parse(raw)?;
        let max_bytes = options.max_bytes.min(self.limits.max_string_bytes as u64);
        let deadline = Instant::now() + self.interrupt.bound(options.timeout);
        let mut hops = 0;
        loop {
            self.interrupt.check()?;
            let target = Resource::Url(url.canonical().to_owned());
            let permit = self.gate.authorize(&[Action::NetGet], &target)?;
            let left = deadline.saturating_duration_since(Instant::now());
            let timed_out = || {
                if self.interrupt.past_deadline() {
                    return HostError::Interrupted;
                }
                HostError::TimedOut(format!(
                    "{}: no answer within {} ms; raise timeout_ms if the server is slow",
                    url.canonical(),
                    options.timeout.as_millis()
                ))
            };
            if left.is_zero() {
                return Err(timed_out());
            }
            // The request goes to the canonical URL the permit is for, and nowhere else.
            crate::effect::check(&permit, &[Action::NetGet], &target).map_err(|e| {
                HostError::Network {
                    target: url.canonical().to_owned(),
                    reason: e.to_string(),
                }
            })?;
            let response = self
                .http
                .get(url.request())
                .config()
                .timeout_global(Some(left))
                .build()
                .call()
                .map_err(|e| request_error(&url, e, timed_out))?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            if let (true, Some(location)) = (REDIRECTS.contains(&status), location) {
                if hops == options.max_redirects {
                    return Err(HostError::Network {
                        target: url.canonical().to_owned(),
                        reason: format!(
                            "stopped after {hops} redirects (max_redirects), this one to {location:?}; raise max_redirects or request the final URL"
                        ),
                    });
                }
                hops += 1;
                url = url.join(&location)?;
                continue;
            }
            let mut headers: Vec<(String, String)> = Vec::new();
            for (name, value) in response.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
                    Some((_, v)) => {
                        v.push_str(", ");
                        v.push_str(&value);
                    }
                    None => headers.push((name.as_str().to_owned(), value)),
                }
            }
            let body = self.read_body(response.into_body(), &url, max_bytes, options, timed_out)?;
            return Ok(HttpResponse {
                status,
                headers,
                text: String::from_utf8_lossy(&body).into_owned(),
                url: url.canonical().to_owned(),
            });
        }
    }

    /// Reads at most `max_bytes` of the body; one byte more is an error, not a truncation,
    /// so a script never mistakes part of a document for all of it, unless the script asked
    /// for the truncation (`truncate`, within the run's string limit).
    fn read_body(
        &self,
        body: ureq::Body,
        url: &HttpUrl,
        max_bytes: u64,
        options: &HttpOptions,
        timed_out: impl Fn() -> HostError,
    ) -> HostResult<Vec<u8>> {
        let mut reader = body.into_reader();
        let mut out = Vec::new();
        let mut chunk = vec![0u8; CHUNK];
        loop {
            self.interrupt.check()?;
            let n = reader
                .read(&mut chunk)
                .map_err(|e| request_error(url, ureq::Error::from(e), &timed_out))?;
            if n == 0 {
                return Ok(out);
            }
            if (out.len() + n) as u64 > max_bytes {
                if options.truncate && max_bytes == options.max_bytes {
                    // Within max_bytes, which fits in memory (it is at most the string limit).
                    let keep = (max_bytes as usize).saturating_sub(out.len()).min(n);
                    out.extend_from_slice(&chunk[..keep]);
                    return Ok(out);
                }
                let which = if max_bytes < options.max_bytes {
                    "--max-string-size"
                } else {
                    "max_bytes"
                };
                return Err(HostError::TooLarge {
                    what: format!("the response body of {}", url.canonical()),
                    limit: format!("{max_bytes} bytes ({which})"),
                });
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }
}

fn request_error(url: &HttpUrl, e: ureq::Error, timed_out: impl Fn() -> HostError) -> HostError {
    match e {
        ureq::Error::Timeout(_) => timed_out(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => timed_out(),
        other => HostError::Network {
            target: url.canonical().to_owned(),
            reason: other.to_string(),
        },
    }
}
