//! Canonical URLs: the one spelling of a network target that the policy sees and the request
//! uses.
//!
//! A policy names `network::url::"https://example.com:443/status"`; a script may write
//! `HTTPS://Example.COM/status#top`. Both must be the same resource, and the request must go
//! to exactly the resource that was authorized, so the URL is parsed once (WHATWG rules, as a
//! browser parses it: lower-case host, IDNA, numeric IPv4 forms, `.` and `..` in the path), and
//! both the Cedar id and the request are built from the parsed value.

use std::net::Ipv6Addr;

use crate::error::{HostError, HostResult};

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
        let host = host.to_owned();
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

/// The canonical `tcp://host:port` of a `connect` target, and the host as it is resolved.
pub fn tcp_endpoint(host: &str, port: i64) -> HostResult<(String, String)> {
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| HostError::InvalidInput(format!("{port} is not a port (1 to 65535)")))?;
    // A bare IPv6 address is accepted as well as the bracketed URL form.
    let bracketed = match host.parse::<Ipv6Addr>() {
        Ok(_) => format!("[{host}]"),
        Err(_) => host.to_owned(),
    };
    let not_a_host = || {
        HostError::InvalidInput(format!(
            "{host:?} is not a host name or IP address (e.g. db.internal, 10.0.0.5, ::1)"
        ))
    };
    if bracketed.is_empty() || bracketed.contains(['/', '@', '?', '#', ' ']) {
        return Err(not_a_host());
    }
    let parsed = url::Url::parse(&format!("tcp://{bracketed}:{port}")).map_err(|_| not_a_host())?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(not_a_host()),
    };
    let shown = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok((format!("tcp://{shown}:{port}"), host))
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

    #[test]
    fn tcp_endpoints_are_canonical() {
        assert_eq!(
            tcp_endpoint("LocalHost", 22).unwrap().0,
            "tcp://localhost:22"
        );
        assert_eq!(tcp_endpoint("::1", 5432).unwrap().0, "tcp://[::1]:5432");
        assert_eq!(tcp_endpoint("127.0.0.1", 80).unwrap().1, "127.0.0.1");
        assert!(tcp_endpoint("a/b", 80).is_err());
        assert!(tcp_endpoint("host", 0).is_err());
        assert!(tcp_endpoint("host", 70000).is_err());
    }
}
