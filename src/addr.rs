//! Node addresses: the one vocabulary for "where a node listens" shared by the
//! configuration (seeds), collection (connections, topology) and the snapshot (the
//! `node` label).

use std::fmt;

/// Where a node listens: host and port, kept apart so nothing has to parse them back
/// out of a string, with the `host:port` text (the `node` label) made once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    /// `host:port`, IPv6 hosts bracketed, as Valkey announces addresses. First, so
    /// addresses sort by it.
    text: String,
    /// Host name or IP address (IPv6 without brackets), as given to the resolver.
    host: String,
    port: u16,
}

impl NodeAddr {
    pub(crate) fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        NodeAddr { text: format_addr(&host, port), host, port }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`: the `node` label everywhere.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `host:port`, bracketing IPv6 literals so the port stays unambiguous.
fn format_addr(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Whether `text` is a host name or address, with or without `:port`, and nothing
/// else: no scheme, path, user info or spaces, and at most 255 bytes. What may be
/// handed to Prometheus as a scrape target (`/sd`), from the configuration or from a
/// request's `Host` header.
pub(crate) fn is_host_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 255 && text.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
}

/// `"host:port"` as a [`NodeAddr`], for hand-built test snapshots.
#[cfg(test)]
pub(crate) fn test_addr(label: &str) -> NodeAddr {
    let (host, port) = label.rsplit_once(':').expect("host:port");
    NodeAddr::new(host, port.parse().expect("a port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_are_bracketed_and_kept_apart() {
        let a = NodeAddr::new("::1", 7000);
        assert_eq!((a.host(), a.port(), a.as_str()), ("::1", 7000, "[::1]:7000"));
        assert_eq!(NodeAddr::new("h", 1).to_string(), "h:1");
    }

    #[test]
    fn host_port_is_a_host_and_an_optional_port_and_nothing_else() {
        for good in ["exporter:9765", "[::1]:9765", "10.0.0.1", "a_b-c.example:1", &"h".repeat(255)] {
            assert!(is_host_port(good), "{good}");
        }
        for bad in ["", "a b", "evil/x", "user@host", "h:1?x", "http://x:1", "ä:1", &"h".repeat(256)] {
            assert!(!is_host_port(bad), "{bad}");
        }
    }
}
