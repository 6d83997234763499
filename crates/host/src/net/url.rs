//! Canonical URLs: the one spelling of a network target that the policy sees and the request
//! uses.
//!
//! A policy names `network::url::"https://example.com:443/status"`; a script may write
//! `HTTPS://Example.COM./status#top`. Both must be the same resource, and the request must go
//! to exactly the resource that was authorized, so the URL is parsed once (WHATWG rules, as a
//! browser parses it: `.` and `..` in the path, and the host by [`canonical_host`]), and both
//! the Cedar id and the request are built from the parsed value. A `connect` target gets the
//! same host rules, so `tcp://127.0.0.1:22` is forbidden however the script spells it.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use url::Host;

use crate::error::{HostError, HostResult};

/// The one spelling of a host, for both `connect` and HTTP: WHATWG host parsing (lower case,
/// percent-decoding, IDNA to punycode, every numeric IPv4 form that `inet_aton` takes, such
/// as `127.1`, `2130706433`, `0x7f.1` or `0177.0.0.1`, as a dotted quad, IPv6 compressed),
/// then steps of Tollgate's own: an IPv4-mapped IPv6 address becomes its IPv4 address (a
/// connection to `::ffff:127.0.0.1` reaches 127.0.0.1), a trailing dot is dropped
/// (`localhost.` is the name `localhost`), and the unspecified addresses are refused (the
/// kernel connects `0.0.0.0` and `::` to the loopback address, so they would be a second
/// spelling of it). `raw` is a host as written in a URL, an IPv6 address in brackets. The
/// error completes a sentence that starts with the host.
///
/// A name stays a name: it is never resolved here, since the policy decides on what the
/// script named, and a resolver's answer can change between the decision and the connection.
pub(crate) fn canonical_host(raw: &str) -> Result<Host, &'static str> {
    const NOT_A_HOST: &str = "is not a host name or IP address (e.g. db.internal, 10.0.0.5, ::1)";
    let host = match Host::parse(raw).map_err(|_| NOT_A_HOST)? {
        Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => Host::Ipv4(v4),
            None => Host::Ipv6(ip),
        },
        // A numeric IPv4 form with a trailing dot is already an address; a name loses one
        // dot, and one that has more (`a..`) or nothing else (`.`) names nothing.
        Host::Domain(name) => match name.strip_suffix('.') {
            None => Host::Domain(name),
            Some(rest) if rest.is_empty() || rest.ends_with('.') => return Err(NOT_A_HOST),
            Some(rest) => Host::Domain(rest.to_owned()),
        },
        v4 @ Host::Ipv4(_) => v4,
    };
    let unspecified = match &host {
        Host::Ipv4(ip) => ip.is_unspecified(),
        Host::Ipv6(ip) => ip.is_unspecified(),
        Host::Domain(_) => false,
    };
    if unspecified {
        return Err("is the unspecified address, which reaches this host's loopback; name the address itself (127.0.0.1 or ::1)");
    }
    Ok(host)
}

/// An http or https URL in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// What the policy sees: `scheme://host:port/path?query`, port always explicit.
    canonical: String,
    /// The same target as sent on the wire, with a default port left out (so the `Host`
    /// header is what servers expect).
    request: String,
    parsed: url::Url,
}

impl HttpUrl {
    /// Parses a URL a script gave. Only http and https are accepted; user-info is refused
    /// rather than sent, since credentials in a URL end up in logs and in the audit trail.
    pub fn parse(raw: &str) -> HostResult<HttpUrl> {
        let parsed = url::Url::parse(raw).map_err(|e| {
            HostError::InvalidInput(format!(
                "{raw:?} is not a URL ({e}); give an absolute http:// or https:// URL"
            ))
        })?;
        HttpUrl::from_parsed(parsed, raw)
    }

    /// Resolves a redirect's `Location` against this URL.
    pub fn join(&self, location: &str) -> HostResult<HttpUrl> {
        let parsed = self.parsed.join(location).map_err(|e| {
            HostError::InvalidInput(format!(
                "{} redirected to {location:?}, which is not a URL ({e})",
                self.canonical
            ))
        })?;
        HttpUrl::from_parsed(parsed, location)
    }

    fn from_parsed(mut parsed: url::Url, raw: &str) -> HostResult<HttpUrl> {
        let scheme = parsed.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(HostError::InvalidInput(format!(
                "{raw:?}: only http and https URLs are allowed, not {scheme}:"
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(HostError::InvalidInput(format!(
                "{raw:?} carries user-info (user:password@); URLs with credentials are refused, remove them"
            )));
        }
        // http(s) URLs always have a host and a known default port under WHATWG parsing;
        // checked anyway so that nothing unnamed is ever requested.
        let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
            return Err(HostError::InvalidInput(format!(
                "{raw:?} names no host; give an absolute http:// or https:// URL"
            )));
        };
        let host = canonical_host(host)
            .map_err(|why| HostError::InvalidInput(format!("{raw:?}: its host {host:?} {why}")))?;
        // The request goes to the host the policy saw, not to the script's spelling of it.
        let host = host.to_string();
        if parsed.host_str() != Some(host.as_str()) {
            parsed.set_host(Some(&host)).map_err(|e| {
                HostError::InvalidInput(format!("{raw:?}: cannot use host {host} ({e})"))
            })?;
        }
        parsed.set_fragment(None);
        if parsed.query() == Some("") {
            parsed.set_query(None);
        }
        let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
        let canonical = format!("{scheme}://{host}:{port}{}{query}", parsed.path());
        let request = parsed.as_str().to_owned();
        Ok(HttpUrl {
            canonical,
            request,
            parsed,
        })
    }

    /// The id and `url` attribute of the `network::url` resource.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The URL the request is sent to (same scheme, host, port, path and query).
    pub fn request(&self) -> &str {
        &self.request
    }
}

/// A `connect` target: the canonical `tcp://host:port` the policy decides on, and the host
/// and port the connection goes to, both from one parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpEndpoint {
    url: String,
    host: Host,
    port: u16,
}

impl TcpEndpoint {
    /// The id and `url` attribute of the `network::url` resource.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host in canonical form, an IPv6 address in brackets.
    pub fn host(&self) -> String {
        self.host.to_string()
    }

    /// The addresses to try: an address is itself; a name is what the resolver answers for
    /// the canonical name (the one the policy saw).
    pub fn addresses(&self) -> io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Ipv4(ip) => Ok(vec![SocketAddr::new(IpAddr::V4(*ip), self.port)]),
            Host::Ipv6(ip) => Ok(vec![SocketAddr::new(IpAddr::V6(*ip), self.port)]),
            Host::Domain(name) => Ok((name.as_str(), self.port).to_socket_addrs()?.collect()),
        }
    }
}

/// Parses a `connect` target. A bare IPv6 address is accepted as well as the bracketed URL
/// form.
pub fn tcp_endpoint(host: &str, port: i64) -> HostResult<TcpEndpoint> {
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| HostError::InvalidInput(format!("{port} is not a port (1 to 65535)")))?;
    let bracketed = match host.parse::<Ipv6Addr>() {
        Ok(_) => format!("[{host}]"),
        Err(_) => host.to_owned(),
    };
    let canonical = canonical_host(&bracketed)
        .map_err(|why| HostError::InvalidInput(format!("{host:?} {why}")))?;
    Ok(TcpEndpoint {
        url: format!("tcp://{canonical}:{port}"),
        host: canonical,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> String {
        HttpUrl::parse(raw).unwrap().canonical().to_owned()
    }

    #[test]
    fn canonical_form_has_lower_case_host_and_explicit_port() {
        assert_eq!(
            canon("HTTP://Example.COM/a/../b?x=1#frag"),
            "http://example.com:80/b?x=1"
        );
        assert_eq!(canon("https://example.com"), "https://example.com:443/");
        assert_eq!(canon("http://127.1:8080/x?"), "http://127.0.0.1:8080/x");
        assert_eq!(canon("http://[::1]/"), "http://[::1]:80/");
    }

    #[test]
    fn request_url_is_the_same_target() {
        let u = HttpUrl::parse("http://Example.com:80/p?q#f").unwrap();
        assert_eq!(u.request(), "http://example.com/p?q");
    }

    #[test]
    fn refuses_user_info_other_schemes_and_garbage() {
        for bad in [
            "http://user:pw@example.com/",
            "http://user@example.com/",
            "file:///etc/passwd",
            "ftp://example.com/",
            "example.com/x",
            "http://",
        ] {
            assert!(
                matches!(HttpUrl::parse(bad), Err(HostError::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let u = HttpUrl::parse("http://a.example:8080/x/y").unwrap();
        assert_eq!(u.join("/z").unwrap().canonical(), "http://a.example:8080/z");
        assert_eq!(
            u.join("https://B.example/").unwrap().canonical(),
            "https://b.example:443/"
        );
        assert!(u.join("http://u:p@b.example/").is_err());
    }

    fn host(raw: &str) -> String {
        canonical_host(raw).unwrap().to_string()
    }

    #[test]
    fn numeric_ipv4_forms_are_dotted_quads() {
        assert_eq!(host("127.0.0.1"), "127.0.0.1");
        assert_eq!(host("127.1"), "127.0.0.1");
        assert_eq!(host("127.0.1"), "127.0.0.1");
        assert_eq!(host("2130706433"), "127.0.0.1");
        assert_eq!(host("0x7f.1"), "127.0.0.1");
        assert_eq!(host("0X7F.0.0.1"), "127.0.0.1");
        assert_eq!(host("0177.0.0.1"), "127.0.0.1");
        assert_eq!(host("0x7f000001"), "127.0.0.1");
        assert_eq!(host("017700000001"), "127.0.0.1");
        assert_eq!(host("127.0.0.1."), "127.0.0.1");
        assert_eq!(host("127%2e1"), "127.0.0.1");
    }

    #[test]
    fn ipv4_mapped_ipv6_is_the_ipv4_address() {
        assert_eq!(host("[::ffff:127.0.0.1]"), "127.0.0.1");
        assert_eq!(host("[::ffff:7f00:1]"), "127.0.0.1");
        assert_eq!(host("[0:0:0:0:0:FFFF:7F00:0001]"), "127.0.0.1");
        // Not mapped: these stay IPv6 (the kernel does not send them to 127.0.0.1).
        assert_eq!(host("[::1]"), "[::1]");
        assert_eq!(host("[::7f00:1]"), "[::7f00:1]");
    }

    #[test]
    fn ipv6_is_compressed_lower_case() {
        assert_eq!(host("[0:0:0:0:0:0:0:1]"), "[::1]");
        assert_eq!(host("[FE80:0000::0001]"), "[fe80::1]");
        assert_eq!(host("[2001:db8:0:0:1:0:0:1]"), "[2001:db8::1:0:0:1]");
    }

    #[test]
    fn names_are_lower_case_ascii_without_a_trailing_dot() {
        assert_eq!(host("LocalHost"), "localhost");
        assert_eq!(host("localhost."), "localhost");
        assert_eq!(host("DB.Internal."), "db.internal");
        assert_eq!(host("Bücher.Example"), "xn--bcher-kva.example");
        assert_eq!(host("XN--BCHER-KVA.example."), "xn--bcher-kva.example");
        assert_eq!(host("ｅｘａｍｐｌｅ.com"), "example.com");
        // A name is not resolved: localhost is not 127.0.0.1 to the policy.
        assert_eq!(host("localhost"), "localhost");
    }

    #[test]
    fn what_names_no_host_is_refused() {
        for bad in [
            "",
            ".",
            "a..",
            "a/b",
            "a b",
            "u@h",
            "h?q",
            "h#f",
            "h:22",
            "256.1",
            "1.2.3.4.5",
            "foo.1",
            "127.0.0.1\nfoo",
            "fe80::1%eth0",
            "[::1",
        ] {
            let why = canonical_host(bad).unwrap_err();
            assert!(why.contains("not a host"), "{bad:?}: {why}");
        }
    }

    #[test]
    fn unspecified_addresses_are_refused_as_a_second_spelling_of_loopback() {
        for bad in ["0.0.0.0", "0", "0x0", "[::]", "[::ffff:0.0.0.0]"] {
            let why = canonical_host(bad).unwrap_err();
            assert!(why.contains("unspecified"), "{bad:?}: {why}");
        }
        assert!(tcp_endpoint("0.0.0.0", 22).is_err());
        assert!(tcp_endpoint("::", 22).is_err());
        assert!(HttpUrl::parse("http://0:8080/").is_err());
    }

    #[test]
    fn http_urls_use_the_canonical_host_for_the_policy_and_the_request() {
        for spelling in [
            "127.1",
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
            "0x7f000001",
            "127.0.0.1.",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
        ] {
            let u = HttpUrl::parse(&format!("http://{spelling}:8080/x")).unwrap();
            assert_eq!(u.canonical(), "http://127.0.0.1:8080/x", "{spelling}");
            assert_eq!(u.request(), "http://127.0.0.1:8080/x", "{spelling}");
        }
        let u = HttpUrl::parse("https://Bücher.Example./a").unwrap();
        assert_eq!(u.canonical(), "https://xn--bcher-kva.example:443/a");
        assert_eq!(u.request(), "https://xn--bcher-kva.example/a");
        let u = HttpUrl::parse("http://a.example/").unwrap();
        assert_eq!(
            u.join("http://[::ffff:10.0.0.1]/z").unwrap().canonical(),
            "http://10.0.0.1:80/z"
        );
        assert!(HttpUrl::parse("http://a../").is_err());
    }

    #[test]
    fn tcp_endpoints_are_canonical() {
        assert_eq!(
            tcp_endpoint("LocalHost.", 22).unwrap().url(),
            "tcp://localhost:22"
        );
        assert_eq!(tcp_endpoint("::1", 5432).unwrap().url(), "tcp://[::1]:5432");
        assert_eq!(
            tcp_endpoint("[::1]", 5432).unwrap().url(),
            "tcp://[::1]:5432"
        );
        for spelling in [
            "127.1",
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
            "::ffff:127.0.0.1",
            "[::ffff:7f00:1]",
        ] {
            let e = tcp_endpoint(spelling, 80).unwrap();
            assert_eq!(e.url(), "tcp://127.0.0.1:80", "{spelling}");
            assert_eq!(
                e.addresses().unwrap(),
                ["127.0.0.1:80".parse::<SocketAddr>().unwrap()],
                "{spelling}: the connection goes where the policy decided"
            );
        }
        assert_eq!(
            tcp_endpoint("::1", 22).unwrap().addresses().unwrap(),
            ["[::1]:22".parse::<SocketAddr>().unwrap()]
        );
        assert!(tcp_endpoint("a/b", 80).is_err());
        assert!(tcp_endpoint("localhost..", 80).is_err());
        assert!(tcp_endpoint("host", 0).is_err());
        assert!(tcp_endpoint("host", 70000).is_err());
    }
}
