//! `allowed_nodes`: the only addresses the exporter may connect to, and so the only
//! places its Valkey credentials can go.
//!
//! The topology decides which nodes the exporter asks, and the cluster bus has no
//! authentication: whoever reaches a bus port can `CLUSTER MEET` a node of their own
//! into the cluster, and it then shows up in `CLUSTER SHARDS` as an empty primary. An
//! allow-list keeps such a node from ever being contacted (no connection, no AUTH).
//!
//! Entries: CIDRs (`10.0.0.0/8`, `fd00::/8`), single IP addresses, host names (exact,
//! case-insensitive) and `*.example.com` suffix patterns. IP entries match nodes
//! announced by IP address; name entries match nodes announced by name. A name is
//! never resolved to check it against a CIDR: the answer could differ from the one
//! the connection gets a moment later. An empty list allows any node (as before the
//! setting existed).

use super::NodeUrl;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::net::IpAddr;

/// Which node addresses may be contacted. Empty: any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedNodes {
    /// The parsed entries, in the order given; a host is allowed if any matches.
    entries: Vec<Entry>,
}

/// One allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// An IPv4 network: address bits and prefix length (a single address is /32).
    V4 { bits: u32, prefix: u8 },
    /// An IPv6 network: address bits and prefix length (a single address is /128).
    V6 { bits: u128, prefix: u8 },
    /// An exact host name, lowercased, without a trailing dot.
    Host(String),
    /// `*.example.com` as `.example.com`: any name ending in it (not the bare domain).
    Suffix(String),
}

impl AllowedNodes {
    /// Parses the configured entries; the error names the entry and says what is wrong.
    pub(crate) fn parse(entries: &[String]) -> Result<Self, InvalidEntry> {
        let entries = entries
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_entry(text).map_err(|why| InvalidEntry {
                    index: i + 1,
                    count: entries.len(),
                    shown: shown(text),
                    why,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedNodes { entries })
    }

    /// Whether the list is empty, so every node may be contacted.
    #[cfg(test)]
    pub(crate) fn allows_any(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a node announced with `host` (an IP address or a name, IPv6 without
    /// brackets) may be contacted.
    pub(crate) fn allows(&self, host: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            // An IPv4-mapped IPv6 address is the IPv4 node it maps to.
            let ip = ip.to_canonical();
            return self.entries.iter().any(|entry| entry.contains_ip(ip));
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|entry| match entry {
            Entry::Host(exact) => *exact == name,
            Entry::Suffix(suffix) => name.len() > suffix.len() && name.ends_with(suffix.as_str()),
            Entry::V4 { .. } | Entry::V6 { .. } => false,
        })
    }
}

impl Entry {
    fn contains_ip(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Entry::V4 { bits, prefix }, IpAddr::V4(ip)) => same_prefix_v4(*bits, u32::from(ip), *prefix),
            (Entry::V6 { bits, prefix }, IpAddr::V6(ip)) => same_prefix_v6(*bits, u128::from(ip), *prefix),
            _ => false,
        }
    }
}

fn same_prefix_v4(a: u32, b: u32, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    a & mask == b & mask
}

fn same_prefix_v6(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    a & mask == b & mask
}

fn parse_entry(text: &str) -> Result<Entry, EntryProblem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EntryProblem::Empty);
    }
    if text.contains("://") {
        return Err(EntryProblem::Url);
    }
    if let Some((address, prefix)) = text.split_once('/') {
        return parse_cidr(address, prefix);
    }
    if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(match ip.to_canonical() {
            IpAddr::V4(ip) => Entry::V4 { bits: ip.into(), prefix: 32 },
            IpAddr::V6(ip) => Entry::V6 { bits: ip.into(), prefix: 128 },
        });
    }
    if text.contains(':') {
        return Err(EntryProblem::Port);
    }
    if text == "*" {
        return Err(EntryProblem::Star);
    }
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(domain) => check_host_name(domain).map(|()| Entry::Suffix(format!(".{domain}"))),
        None => check_host_name(&name).map(|()| Entry::Host(name)),
    }
}

fn parse_cidr(address: &str, prefix: &str) -> Result<Entry, EntryProblem> {
    let ip: IpAddr = address.parse().map_err(|_| EntryProblem::CidrAddress(shown(address)))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= max)
        .ok_or_else(|| EntryProblem::Prefix { shown: shown(prefix), max })?;
    Ok(match ip {
        IpAddr::V4(ip) => Entry::V4 { bits: ip.into(), prefix },
        IpAddr::V6(ip) => Entry::V6 { bits: ip.into(), prefix },
    })
}

/// Labels of letters, digits, `-` and `_`, none empty; a name whose last label is all
/// digits would be a mistyped IPv4 address (`10.0.0.256`), not a host.
fn check_host_name(name: &str) -> Result<(), EntryProblem> {
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(EntryProblem::NotAHost);
    }
    if name.rsplit('.').next().is_some_and(|last| last.chars().all(|c| c.is_ascii_digit())) {
        return Err(EntryProblem::BadIp);
    }
    Ok(())
}

/// An entry as quoted in an error: bounded, so a pasted blob does not flood the log.
fn shown(text: &str) -> String {
    text.chars().take(80).collect()
}

/// An allow-list entry that was refused: which one, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} of {count} `{shown}`: {why}")]
pub(crate) struct InvalidEntry {
    /// Its position, from 1, so an operator finds it in a long list.
    index: usize,
    /// How many entries the list has.
    count: usize,
    /// The entry as given, bounded (see [`shown`]).
    shown: String,
    /// What is wrong with it.
    why: EntryProblem,
}

/// What is wrong with an allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EntryProblem {
    /// Blank.
    #[error("is empty")]
    Empty,
    /// `redis://...`: the entry is a host, not a URL.
    #[error("is a URL; give the host only (a CIDR, an IP address or a host name)")]
    Url,
    /// The address part of `address/prefix`, as given, is not an IP address.
    #[error("`{0}` is not an IP address")]
    CidrAddress(String),
    /// The prefix length, as given, is not 0 to `max`.
    #[error("prefix length `{shown}` must be a number from 0 to {max}")]
    Prefix { shown: String, max: u8 },
    /// A `:` outside an IPv6 address: most likely a port.
    #[error("is not an IP address (ports do not belong in allowed_nodes)")]
    Port,
    /// `*` alone, which would allow everything while looking like a restriction.
    #[error("`*` alone is not a pattern; leave allowed_nodes empty to allow any node")]
    Star,
    /// Neither a CIDR, an IP address, a host name nor a `*.domain` pattern.
    #[error("is not a CIDR, an IP address, a host name or a `*.domain` pattern")]
    NotAHost,
    /// A name whose last label is all digits: a mistyped IPv4 address.
    #[error("is not a valid IP address")]
    BadIp,
}

/// The seeds outside `allowed`, as `host:port`, so start-up can refuse them: a seed the
/// exporter may not contact could never give a topology.
pub(super) fn seeds_outside<'a>(allowed: &AllowedNodes, seeds: &'a [NodeUrl]) -> Vec<&'a str> {
    seeds.iter().filter(|s| !allowed.allows(s.addr.host())).map(|s| s.addr.as_str()).collect()
}

/// A list in TOML and flags, a comma-separated string in the environment.
pub(super) fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d).map_err(|_| {
        de::Error::custom("expected a list of CIDRs, IP addresses and host names (comma-separated in the environment)")
    })? {
        OneOrMany::One(s) => s.split(',').map(str::to_string).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// [`list`] for a `[clusters.NAME]` table, where absence means "inherit".
pub(super) fn optional_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    list(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedNodes {
        AllowedNodes::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).expect("valid entries")
    }

    fn refused(entry: &str) -> EntryProblem {
        AllowedNodes::parse(&[entry.to_string()]).expect_err(entry).why
    }

    #[test]
    fn empty_allows_anything() {
        let any = allowed(&[]);
        assert!(any.allows_any() && any.allows("10.9.9.9") && any.allows("evil.example"));
    }

    #[test]
    fn cidrs_and_single_addresses_match_ip_hosts_only() {
        let list = allowed(&["10.0.0.0/8", "192.168.1.7", "fd00::/8", "127.0.0.1/32", "::1"]);
        assert!(list.allows("10.255.0.1") && list.allows("192.168.1.7") && list.allows("127.0.0.1"));
        assert!(!list.allows("11.0.0.1") && !list.allows("192.168.1.8") && !list.allows("127.0.0.2"));
        assert!(list.allows("fd12:3456::1") && list.allows("::1") && list.allows("[::1]"));
        assert!(!list.allows("fe80::1") && !list.allows("::2"));
        assert!(list.allows("::ffff:10.1.2.3"), "an IPv4-mapped address is its IPv4 node");
        assert!(!list.allows("localhost"), "names are not resolved to match a CIDR");
        assert!(allowed(&["0.0.0.0/0"]).allows("203.0.113.9") && !allowed(&["0.0.0.0/0"]).allows("::1"));
        assert!(allowed(&["10.1.2.3/8"]).allows("10.9.9.9"), "host bits in a CIDR are ignored");
    }

    #[test]
    fn names_match_exactly_or_by_suffix_ignoring_case() {
        let list = allowed(&["Valkey-0.Prod.example", "*.cache.example.com"]);
        assert!(list.allows("valkey-0.prod.example") && list.allows("VALKEY-0.PROD.EXAMPLE."));
        assert!(!list.allows("valkey-1.prod.example"));
        assert!(list.allows("a.cache.example.com") && list.allows("a.b.Cache.Example.com"));
        assert!(!list.allows("cache.example.com"), "the bare domain is not under itself");
        assert!(!list.allows("evilcache.example.com") && !list.allows("a.cache.example.com.evil"));
        assert!(!list.allows("10.0.0.1"));
    }

    #[test]
    fn bad_entries_say_which_and_why() {
        assert_eq!(refused("10.0.0.0/33"), EntryProblem::Prefix { shown: "33".into(), max: 32 });
        assert_eq!(refused("fd00::/129"), EntryProblem::Prefix { shown: "129".into(), max: 128 });
        assert_eq!(refused("10.0.0/8"), EntryProblem::CidrAddress("10.0.0".into()));
        assert_eq!(refused("10.0.0.256"), EntryProblem::BadIp);
        assert_eq!(refused("10.0.0.1:6379"), EntryProblem::Port);
        assert_eq!(refused("redis://10.0.0.1:6379"), EntryProblem::Url);
        assert_eq!(refused("*"), EntryProblem::Star);
        assert_eq!(refused("a.*.example"), EntryProblem::NotAHost);
        assert_eq!(refused("bad host"), EntryProblem::NotAHost);
        assert_eq!(refused(" "), EntryProblem::Empty);
        let two = AllowedNodes::parse(&["10.0.0.0/8".into(), "x..y".into()]).unwrap_err();
        assert_eq!(
            two.to_string(),
            "entry 2 of 2 `x..y`: is not a CIDR, an IP address, a host name or a `*.domain` pattern"
        );
    }

    /// `load` with `flags`, and a TOML file holding `toml` when it is not empty.
    fn load(toml: &str, flags: &[&str]) -> Result<crate::config::Settings, crate::config::ConfigError> {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exporter.toml");
        std::fs::write(&path, toml).unwrap();
        let mut argv = vec!["valkey-slot-exporter", "--config", path.to_str().unwrap()];
        argv.extend_from_slice(flags);
        crate::config::load(crate::config::Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn tables_override_the_top_level_list_and_flags_override_the_file() {
        let toml = r#"
allowed_nodes = ["10.0.0.0/8", "*.prod.example"]
[clusters.a]
nodes = ["redis://10.1.2.3:7000", "redis://v1.prod.example:7000"]
[clusters.b]
nodes = "redis://192.168.5.5:7000"
allowed_nodes = ["192.168.5.0/24"]
[clusters.c]
nodes = "redis://203.0.113.1:7000"
allowed_nodes = []
"#;
        let s = load(toml, &[]).expect("loads");
        let [a, b, c] = [0, 1, 2].map(|i| &s.clusters[i].allowed_nodes);
        assert!(a.allows("10.200.0.1") && a.allows("v2.prod.example") && !a.allows("192.168.5.5"));
        assert!(b.allows("192.168.5.9") && !b.allows("10.0.0.1"), "the table's list replaces the top-level one");
        assert!(c.allows_any(), "an empty table list allows any node");
        let flat = load(
            "nodes = \"redis://127.0.0.1:1\"\nallowed_nodes = [\"10.0.0.0/8\"]\n",
            &["--allowed-nodes", "127.0.0.0/8,::1"],
        );
        let flat = flat.expect("loads");
        assert!(flat.clusters[0].allowed_nodes.allows("::1") && !flat.clusters[0].allowed_nodes.allows("10.0.0.1"));
        assert!(load("", &[]).expect("loads").clusters[0].allowed_nodes.allows_any(), "default: any node");
    }

    #[test]
    fn bad_entries_and_seeds_outside_name_the_key_and_its_source() {
        let e = load("nodes = \"redis://10.0.0.1:1\"\nallowed_nodes = [\"10.0.0.0/40\"]\n", &[]).unwrap_err();
        assert_eq!(e.key(), Some("allowed_nodes"));
        assert!(e.origin().is_some_and(|o| o.starts_with("key `allowed_nodes` in TOML file")), "{e}");
        let e = load("", &["--nodes", "redis://10.0.0.1:1", "--allowed-nodes", "10.0.0.0/8,nope:1"]).unwrap_err();
        assert_eq!((e.key(), e.origin()), (Some("allowed_nodes"), Some("command-line flag --allowed-nodes")));
        assert!(e.message().starts_with("entry 2 of 2"), "{e}");
        let table = "[clusters.x]\nnodes = [\"redis://10.0.0.1:1\", \"redis://seed.example:2\"]\nallowed_nodes = [\"10.0.0.0/8\"]\n";
        let e = load(table, &[]).unwrap_err();
        assert_eq!(e.key(), Some("clusters.x.allowed_nodes"));
        let m = e.message();
        assert!(m.contains("seed.example:2") && !m.contains("10.0.0.1:1"), "names only the seed outside: {m}");
        assert!(m.contains("`clusters.x.nodes`") && m.contains("`clusters.x.allowed_nodes`"), "{m}");
        let e = load("", &["--allowed-nodes", "10.0.0.0/8"]).unwrap_err();
        assert_eq!(e.key(), Some("allowed_nodes"));
        assert!(e.message().contains("localhost:6379"), "the default seed counts too: {e}");
    }
}
