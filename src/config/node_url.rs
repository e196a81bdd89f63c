//! Seed node addresses: `redis://`, `valkey://`, `rediss://`, `valkeys://` URLs.
//!
//! Credentials inside a URL are refused rather than supported: a URL travels through
//! process lists, shell history and error messages, and one redacting rule for a
//! single `password` setting is easier to keep airtight than one per URL.

use crate::addr::NodeAddr;
use std::fmt;

/// One seed node the exporter may ask for the cluster topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUrl {
    /// The node; its port is 6379 when the URL has none, as with every Redis client.
    pub addr: NodeAddr,
    /// `rediss://`/`valkeys://`: the connection must be TLS.
    pub tls: bool,
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://{}", self.addr)
    }
}

/// Parses one seed URL. Errors describe the problem without echoing anything that
/// follows an `@`, so a mistyped URL with a password in it is not printed back.
pub fn parse_node_url(input: &str) -> Result<NodeUrl, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("empty node URL".into());
    }
    let (tls, rest) = split_scheme(input)?;
    if rest.contains('@') {
        return Err("credentials in node URLs are not accepted; \
                    use `username` and `password`/`password_file` instead"
            .into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_host_port(authority)?;
    Ok(NodeUrl { addr: NodeAddr::new(host, port), tls })
}

fn split_scheme(input: &str) -> Result<(bool, &str), String> {
    let Some((scheme, rest)) = input.split_once("://") else {
        // A bare `host:port` is what most people type; treat it as plain redis://.
        return Ok((false, input));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "valkey" => Ok((false, rest)),
        "rediss" | "valkeys" => Ok((true, rest)),
        other => Err(format!("unsupported scheme `{other}://` (use redis://, valkey://, rediss:// or valkeys://)")),
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in IPv6 address")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("node URL has no host".into());
    }
    let port = match port {
        None => 6379,
        Some(p) => {
            p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("invalid port `{p}` (expected 1-65535)"))?
        }
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_all_schemes_and_bare_addresses() {
        let u = parse_node_url("redis://10.0.0.1:7000").unwrap();
        assert_eq!((u.addr.host(), u.addr.port(), u.tls), ("10.0.0.1", 7000, false));
        assert!(parse_node_url("valkeys://h:1").unwrap().tls);
        assert!(parse_node_url("rediss://h").unwrap().tls);
        assert!(!parse_node_url("valkey://h").unwrap().tls);
        assert_eq!(parse_node_url("h:6380").unwrap().addr.port(), 6380);
        assert_eq!(parse_node_url("redis://h").unwrap().addr.port(), 6379);
        assert_eq!(parse_node_url("redis://h:7/0").unwrap().addr.port(), 7);
    }

    #[test]
    fn ipv6_is_bracketed_in_addr() {
        let u = parse_node_url("redis://[::1]:7000").unwrap();
        assert_eq!(u.addr.host(), "::1");
        assert_eq!(u.addr.as_str(), "[::1]:7000");
    }

    #[test]
    fn refuses_bad_input_without_echoing_credentials() {
        let err = parse_node_url("redis://user:s3cret@h:1").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(parse_node_url("http://h:1").is_err());
        assert!(parse_node_url("redis://h:0").is_err());
        assert!(parse_node_url("redis://h:99999").is_err());
        assert!(parse_node_url("redis://:1").is_err());
        assert!(parse_node_url("").is_err());
    }
}
