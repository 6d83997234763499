//! URL rules: where an endpoint is, by the prefix of the canonical URL the gate is asked
//! about.
//!
//! A `network::url` resource is named by its canonical URL (`scheme://host:port/path?query`:
//! lower-case scheme and host, the port always written, no user-info, no fragment), so a
//! prefix is brought to that form when the labels file is read, and matched only at a
//! boundary: `https://api.eu.example.com/` becomes `https://api.eu.example.com:443/`, which
//! `https://api.eu.example.com.evil.net:443/` does not start with, and a prefix
//! `https://h:443/v1` covers `/v1` and `/v1/...` but not `/v1evil`. A prefix this cannot
//! bring to one exact spelling (a host in another script, a numeric host that is not a
//! dotted quad, user-info, a query or fragment, `.` or `..` in the path) is refused: a rule
//! that silently never matched would leave an endpoint without its jurisdiction.

use std::net::Ipv6Addr;

/// Brings a URL prefix to the canonical form the gate's `network::url` ids have. The error
/// completes "URL prefix ...: ".
pub fn canonical_prefix(raw: &str) -> Result<String, String> {
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
        format!("{raw:?} is not a URL; write it as https://host/path or tcp://host:port")
    })?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        "tcp" => None,
        _ => {
            return Err(format!(
                "{raw:?}: only http, https and tcp URLs are requested, not {scheme}:"
            ))
        }
    };
    if raw.contains(['?', '#']) {
        return Err(format!(
            "{raw:?} has a query or fragment; a prefix is a scheme, host, port and path"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!(
            "{raw:?} carries user-info (user@); Tollgate never requests such a URL, so write the host alone"
        ));
    }
    let (host, port) = split_port(authority).map_err(|why| format!("{raw:?}: {why}"))?;
    let host = canonical_host(host).map_err(|why| format!("{raw:?}: its host {host:?} {why}"))?;
    let port = match (port, default_port) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(format!(
                "{raw:?}: a tcp URL names its port, e.g. tcp://db.internal:5432"
            ))
        }
    };
    let path = match (scheme.as_str(), path) {
        ("tcp", "") => String::new(),
        ("tcp", _) => return Err(format!("{raw:?}: a tcp URL has no path")),
        (_, "") => "/".to_owned(),
        (_, p) => canonical_path(p).map_err(|why| format!("{raw:?}: {why}"))?,
    };
    Ok(format!("{scheme}://{host}:{port}{path}"))
}

/// Whether canonical `url` falls under canonical `prefix`: the same text, or more of it
/// after a `/` (or a `?` where the prefix ends a path).
pub fn under(url: &str, prefix: &str) -> bool {
    match url.strip_prefix(prefix) {
        None => false,
        Some("") => true,
        Some(more) => prefix.ends_with('/') || more.starts_with(['/', '?']),
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                match after {
                    "" => (host, None),
                    p => match p.strip_prefix(':') {
                        Some(p) => (host, Some(p)),
                        None => return Err("has text after the IPv6 address".to_owned()),
                    },
                }
            }
            None => return Err("opens an IPv6 address with [ but never closes it".to_owned()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("{p:?} is not a port (1 to 65535)"))?,
        ),
    };
    Ok((host, port))
}

/// The host as the gate's ids spell it: a name in lower-case ASCII without a trailing dot, an
/// IPv4 address as a dotted quad, an IPv6 address compressed in brackets (an IPv4-mapped one
/// as its IPv4 address). Anything with a second spelling is refused, not guessed at.
fn canonical_host(host: &str) -> Result<String, &'static str> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = inner.parse().map_err(|_| "is not an IPv6 address")?;
        if ip.is_unspecified() {
            return Err("is the unspecified address, which no request goes to");
        }
        return Ok(match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{ip}]"),
        });
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err("is not a host name (an empty label)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(
            "has characters a canonical host name does not (write an international name in punycode, xn--...)",
        );
    }
    // A name whose last label is a number is an IPv4 address to a URL parser, in any of
    // several spellings (127.1, 0x7f.1, 2130706433): only the dotted quad is taken.
    let last = name.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x");
    if numeric {
        let quad: Vec<&str> = name.split('.').collect();
        let canonical = quad.len() == 4
            && quad.iter().all(|p| {
                p.bytes().all(|b| b.is_ascii_digit())
                    && (p.len() == 1 || !p.starts_with('0'))
                    && p.parse::<u8>().is_ok()
            });
        if !canonical {
            return Err("is a numeric address not written as a dotted quad (e.g. 10.0.0.5)");
        }
        if name == "0.0.0.0" {
            return Err("is the unspecified address, which no request goes to");
        }
    }
    Ok(name)
}

/// A path as a parsed URL keeps it: `.` and `..` segments and characters a URL parser
/// would percent-encode or rewrite are refused, so the prefix is the one spelling.
fn canonical_path(path: &str) -> Result<String, String> {
    if path.split('/').any(|segment| {
        matches!(
            segment.to_ascii_lowercase().as_str(),
            "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
        )
    }) {
        return Err("has a . or .. segment in its path; write the path normalized".to_owned());
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b);
    if let Some(c) = path.bytes().find(|b| !allowed(*b)) {
        return Err(format!(
            "has {:?} in its path, which a URL is not spelled with; percent-encode it",
            c as char
        ));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> String {
        canonical_prefix(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn prefixes_take_the_canonical_form_of_the_gates_urls() {
        assert_eq!(
            canon("https://api.eu.example.com/"),
            "https://api.eu.example.com:443/"
        );
        assert_eq!(
            canon("HTTPS://API.EU.Example.COM"),
            "https://api.eu.example.com:443/"
        );
        assert_eq!(
            canon("http://h.example.:8080/v1"),
            "http://h.example:8080/v1"
        );
        assert_eq!(canon("https://h:0443/x"), "https://h:443/x");
        assert_eq!(canon("tcp://DB.internal:5432"), "tcp://db.internal:5432");
        assert_eq!(canon("http://[::FFFF:10.0.0.1]/"), "http://10.0.0.1:80/");
        assert_eq!(canon("http://[0:0::1]:81/"), "http://[::1]:81/");
        assert_eq!(canon("http://10.0.0.5/"), "http://10.0.0.5:80/");
    }

    #[test]
    fn prefixes_with_a_second_spelling_or_credentials_are_refused() {
        for (bad, why) in [
            ("api.eu.example.com/", "not a URL"),
            ("ftp://h/", "only http, https and tcp"),
            ("https://user@api.eu.example.com/", "user-info"),
            ("https://u:p@h/", "user-info"),
            ("https://h/x?y", "query or fragment"),
            ("https://h/#x", "query or fragment"),
            ("https://h/a/../b", ". or .."),
            ("https://h/a/%2E%2E/b", ". or .."),
            ("https://h/a b", "percent-encode"),
            ("https://h/a\\b", "percent-encode"),
            ("https://bücher.example/", "punycode"),
            ("https://127.1/", "dotted quad"),
            ("https://0x7f.0.0.1/", "dotted quad"),
            ("https://2130706433/", "dotted quad"),
            ("https://010.0.0.1/", "dotted quad"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://a..b/", "empty label"),
            ("https://h:99999/", "not a port"),
            ("https://h:/", "not a port"),
            ("tcp://db.internal", "names its port"),
            ("tcp://db.internal:5432/x", "no path"),
            ("https://[::1/", "never closes"),
        ] {
            let e = canonical_prefix(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_prefix_matches_at_a_boundary_only() {
        let eu = canon("https://api.eu.example.com/");
        assert!(under("https://api.eu.example.com:443/", &eu));
        assert!(under(
            "https://api.eu.example.com:443/v1/customers?id=7",
            &eu
        ));
        // Only looks like the EU host: another host, another port, another scheme.
        assert!(!under("https://api.eu.example.com.evil.net:443/", &eu));
        assert!(!under("https://api.eu.example.com:4443/", &eu));
        assert!(!under("http://api.eu.example.com:80/", &eu));
        let v1 = canon("https://h/v1");
        assert!(under("https://h:443/v1", &v1));
        assert!(under("https://h:443/v1/x", &v1));
        assert!(under("https://h:443/v1?q=1", &v1));
        assert!(!under("https://h:443/v1evil", &v1));
        let db = canon("tcp://db:22");
        assert!(under("tcp://db:22", &db));
        assert!(!under("tcp://db:2222", &db));
    }
}
