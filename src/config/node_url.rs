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
    pub(crate) tls: bool,
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://{}", self.addr)
    }
}

/// Parses one seed URL. Errors describe the problem without echoing anything that
/// follows an `@`, so a mistyped URL with a password in it is not printed back.
pub fn parse_node_url(input: &str) -> Result<NodeUrl, NodeUrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(NodeUrlError::Empty);
    }
    let (tls, rest) = split_scheme(input)?;
    if rest.contains('@') {
        return Err(NodeUrlError::Credentials);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_host_port(authority)?;
    Ok(NodeUrl { addr: NodeAddr::new(host, port), tls })
}

/// The configured seed URLs, at least one.
pub(super) fn parse_seeds(urls: &[String]) -> Result<Vec<NodeUrl>, SeedsError> {
    if urls.is_empty() {
        return Err(SeedsError::None);
    }
    urls.iter()
        .enumerate()
        .map(|(i, u)| parse_node_url(u).map_err(|error| SeedsError::Node { index: i + 1, count: urls.len(), error }))
        .collect()
}

fn split_scheme(input: &str) -> Result<(bool, &str), NodeUrlError> {
    let Some((scheme, rest)) = input.split_once("://") else {
        // A bare `host:port` is what most people type; treat it as plain redis://.
        return Ok((false, input));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "valkey" => Ok((false, rest)),
        "rediss" | "valkeys" => Ok((true, rest)),
        other => Err(NodeUrlError::Scheme(other.to_string())),
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), NodeUrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(NodeUrlError::UnclosedBracket)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(NodeUrlError::NoHost);
    }
    let port = match port {
        None => 6379,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| NodeUrlError::Port(p.to_string()))?,
    };
    Ok((host.to_string(), port))
}

/// Why a seed URL was refused. No variant holds user info: what follows an `@` is
/// never kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeUrlError {
    /// Nothing but spaces.
    #[error("empty node URL")]
    Empty,
    /// `user:password@` in the URL.
    #[error("credentials in node URLs are not accepted; use `username` and `password`/`password_file` instead")]
    Credentials,
    /// A scheme other than redis, valkey, rediss or valkeys (lowercased).
    #[error("unsupported scheme `{0}://` (use redis://, valkey://, rediss:// or valkeys://)")]
    Scheme(String),
    /// `[` without `]` around an IPv6 address.
    #[error("unclosed `[` in IPv6 address")]
    UnclosedBracket,
    /// `redis://:6379` and the like.
    #[error("node URL has no host")]
    NoHost,
    /// A port that is not 1-65535, as written.
    #[error("invalid port `{0}` (expected 1-65535)")]
    Port(String),
}

/// Why the seed list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum SeedsError {
    /// The list is empty: discovery has nowhere to start.
    #[error("no seed nodes given")]
    None,
    /// Seed `index` (from 1) of `count` is not a node URL.
    #[error("node {index} of {count}: {error}")]
    Node {
        /// Which seed, from 1, so an operator finds it in a long list.
        index: usize,
        /// How many seeds were given.
        count: usize,
        /// What is wrong with that seed.
        #[source]
        error: NodeUrlError,
    },
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
        assert_eq!(err, NodeUrlError::Credentials);
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(parse_node_url("http://h:1"), Err(NodeUrlError::Scheme("http".into())));
        assert_eq!(parse_node_url("redis://h:0"), Err(NodeUrlError::Port("0".into())));
        assert_eq!(parse_node_url("redis://h:99999"), Err(NodeUrlError::Port("99999".into())));
        assert_eq!(parse_node_url("redis://:1"), Err(NodeUrlError::NoHost));
        assert_eq!(parse_node_url("redis://[::1:1"), Err(NodeUrlError::UnclosedBracket));
        assert_eq!(parse_node_url(" "), Err(NodeUrlError::Empty));
    }

    #[test]
    fn seed_lists_name_the_bad_entry() {
        assert_eq!(parse_seeds(&[]), Err(SeedsError::None));
        let seeds = ["redis://a:1".to_string(), "redis://b:0".to_string()];
        let err = parse_seeds(&seeds).unwrap_err();
        assert_eq!(err.to_string(), "node 2 of 2: invalid port `0` (expected 1-65535)");
    }
}
