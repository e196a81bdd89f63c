//! Each cluster's settings: the flat top-level keys describe one cluster, `default`;
//! or the file holds `[clusters.NAME]` tables, each with its own nodes and credentials,
//! where the top-level `cache_ttl`, `node_timeout`, `slot_series`, `include_replicas`
//! and TLS files are defaults a table may override.
//!
//! Credentials and nodes are per table only: top-level `nodes`, `username`, `password`
//! or `password_file` next to `[clusters.*]` is an error, so a password can never be
//! meant for one cluster and sent to another's nodes.

use super::allowed_nodes::{self, AllowedNodes};
use super::error::source_of;
use super::node_url::parse_seeds;
use super::raw::{RawCluster, RawConfig};
use super::{ClusterName, ClusterSettings, ConfigError, NodeUrl, Secret, SlotSeries, ValkeyTls, tls};
use figment::Figment;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One cluster's inputs, each with the key it came from, so an error names the table
/// key or the top-level default the value was inherited from.
pub(super) struct ClusterInput<'a> {
    nodes: Keyed<&'a [String]>,
    username: Option<&'a String>,
    password: Keyed<Option<&'a Secret>>,
    password_file: Keyed<Option<&'a PathBuf>>,
    tls_files: [Keyed<Option<&'a PathBuf>>; 3],
    include_replicas: bool,
    cache_ttl: Keyed<Duration>,
    node_timeout: Keyed<Duration>,
    slot_series: SlotSeries,
    allowed_nodes: Keyed<&'a [String]>,
}

/// A value and the configuration key it came from.
#[derive(Clone)]
struct Keyed<T> {
    value: T,
    key: String,
}

fn keyed<T>(value: T, key: impl Into<String>) -> Keyed<T> {
    Keyed { value, key: key.into() }
}

const TLS_KEYS: [&str; 3] = ["tls_ca_file", "tls_client_cert_file", "tls_client_key_file"];

impl<'a> ClusterInput<'a> {
    /// The flat top-level settings.
    pub(super) fn defaults(raw: &'a RawConfig) -> Self {
        let files = [&raw.tls_ca_file, &raw.tls_client_cert_file, &raw.tls_client_key_file];
        ClusterInput {
            nodes: keyed(&raw.nodes[..], "nodes"),
            username: raw.username.as_ref(),
            password: keyed(raw.password.as_ref(), "password"),
            password_file: keyed(raw.password_file.as_ref(), "password_file"),
            tls_files: std::array::from_fn(|i| keyed(files[i].as_ref(), TLS_KEYS[i])),
            include_replicas: raw.include_replicas,
            cache_ttl: keyed(raw.cache_ttl, "cache_ttl"),
            node_timeout: keyed(raw.node_timeout, "node_timeout"),
            slot_series: raw.slot_series,
            allowed_nodes: keyed(&raw.allowed_nodes[..], "allowed_nodes"),
        }
    }

    /// A `[clusters.NAME]` table over the top-level defaults.
    fn table(&self, name: &str, table: &'a RawCluster) -> Self {
        let key = |field: &str| format!("clusters.{name}.{field}");
        let files = [&table.tls_ca_file, &table.tls_client_cert_file, &table.tls_client_key_file];
        ClusterInput {
            nodes: keyed(&table.nodes[..], key("nodes")),
            username: table.username.as_ref(),
            password: keyed(table.password.as_ref(), key("password")),
            password_file: keyed(table.password_file.as_ref(), key("password_file")),
            tls_files: std::array::from_fn(|i| match files[i] {
                Some(path) => keyed(Some(path), key(TLS_KEYS[i])),
                None => self.tls_files[i].clone(),
            }),
            include_replicas: table.include_replicas.unwrap_or(self.include_replicas),
            cache_ttl: match table.cache_ttl {
                Some(ttl) => keyed(ttl, key("cache_ttl")),
                None => self.cache_ttl.clone(),
            },
            node_timeout: match table.node_timeout {
                Some(timeout) => keyed(timeout, key("node_timeout")),
                None => self.node_timeout.clone(),
            },
            slot_series: table.slot_series.unwrap_or(self.slot_series),
            allowed_nodes: match &table.allowed_nodes {
                Some(list) => keyed(&list[..], key("allowed_nodes")),
                None => self.allowed_nodes.clone(),
            },
        }
    }
}

/// Every configured cluster, in name order.
pub(super) fn all(
    raw: &RawConfig,
    figment: &Figment,
    defaults: ClusterInput<'_>,
) -> Result<Vec<ClusterSettings>, ConfigError> {
    let range_size =
        slot_range_size(raw.slot_range_size).map_err(|m| ConfigError::at(figment, "slot_range_size", m))?;
    if raw.clusters.is_empty() {
        return Ok(vec![cluster(ClusterName::flat(), &defaults, range_size, true, figment)?]);
    }
    refuse_flat_cluster_keys(raw, figment)?;
    let clusters = raw
        .clusters
        .iter()
        .map(|(name, table)| {
            let valid =
                ClusterName::parse(name).map_err(|m| ConfigError::at(figment, &format!("clusters.{name}"), m))?;
            cluster(valid, &defaults.table(name, table), range_size, false, figment)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if clusters.iter().all(|c| c.valkey_tls.is_none())
        && let Some(file) = defaults.tls_files.iter().find(|f| f.value.is_some())
    {
        let message = "is set but no cluster's nodes are rediss:// or valkeys:// URLs";
        return Err(ConfigError::at(figment, &file.key, message));
    }
    Ok(clusters)
}

/// Nodes and credentials belong to a cluster table once there are tables.
fn refuse_flat_cluster_keys(raw: &RawConfig, figment: &Figment) -> Result<(), ConfigError> {
    let nodes_given = figment.find_metadata("nodes").is_some_and(|md| md.name != "built-in default");
    let given = [
        ("nodes", nodes_given),
        ("username", raw.username.is_some()),
        ("password", raw.password.is_some()),
        ("password_file", raw.password_file.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((key, _)) => Err(ConfigError::about(
            key,
            format!(
                "`{key}` ({}) cannot be combined with [clusters.NAME] tables ({}): put each cluster's nodes and \
                 credentials in its own table",
                source_of(figment, key),
                source_of(figment, "clusters")
            ),
        )),
        None => Ok(()),
    }
}

/// One cluster's settings; `flat` for the one the top-level keys describe.
fn cluster(
    name: ClusterName,
    input: &ClusterInput<'_>,
    slot_range_size: u16,
    flat: bool,
    figment: &Figment,
) -> Result<ClusterSettings, ConfigError> {
    let err = |key: &str, msg: &dyn fmt::Display| ConfigError::at(figment, key, msg);
    let seeds = parse_seeds(input.nodes.value).map_err(|m| err(&input.nodes.key, &m))?;
    let tls = seeds[0].tls;
    if seeds.iter().any(|s| s.tls != tls) {
        let message = "seed nodes mix TLS (rediss://, valkeys://) and plain URLs; a cluster is one or the other";
        return Err(err(&input.nodes.key, &message));
    }
    let valkey_tls = valkey_tls(&input.tls_files, tls, flat, figment)?;
    let allowed_nodes = allowed_nodes(input, &seeds, figment)?;
    let password = match (input.password.value, input.password_file.value) {
        (Some(_), Some(_)) => {
            let message = format!(
                "both `password` ({}) and `password_file` ({}) are set; choose one",
                source_of(figment, &input.password.key),
                source_of(figment, &input.password_file.key)
            );
            return Err(ConfigError::about(&input.password.key, message));
        }
        (Some(p), None) => Some(p.clone()),
        (None, Some(path)) => Some(Secret::from_file(path).map_err(|m| err(&input.password_file.key, &m))?),
        (None, None) => None,
    };
    check_ttls(&input.cache_ttl, &input.node_timeout, figment)?;
    Ok(ClusterSettings {
        name,
        seeds,
        valkey_tls,
        username: input.username.filter(|u| !u.is_empty()).cloned(),
        password,
        cache_ttl: input.cache_ttl.value,
        node_timeout: input.node_timeout.value,
        include_replicas: input.include_replicas,
        slot_series: input.slot_series,
        slot_range_size,
        allowed_nodes,
    })
}

/// The shortest snapshot lifetime: below it, nearly every request would start a round
/// of SLOT-STATS on every node (about 22 calls per primary).
const MIN_CACHE_TTL: Duration = Duration::from_secs(1);

/// A snapshot lives at least [`MIN_CACHE_TTL`], and a refresh (bounded by the node
/// timeout) never outlasts the snapshot it replaces, so refreshes cannot pile up back to
/// back. Checked after a table's overrides apply; errors name the key that set each value.
fn check_ttls(
    cache_ttl: &Keyed<Duration>,
    node_timeout: &Keyed<Duration>,
    figment: &Figment,
) -> Result<(), ConfigError> {
    let show = |d: Duration| humantime::format_duration(d).to_string();
    if cache_ttl.value < MIN_CACHE_TTL {
        let message = format!("cache TTL {} is too short (at least {})", show(cache_ttl.value), show(MIN_CACHE_TTL));
        return Err(ConfigError::at(figment, &cache_ttl.key, message));
    }
    if node_timeout.value.is_zero() {
        return Err(ConfigError::at(figment, &node_timeout.key, "must be greater than zero"));
    }
    if node_timeout.value > cache_ttl.value {
        let message = format!(
            "node timeout {} ({}) is longer than the cache TTL {} ({}); it must be at most the TTL, so that a \
             refresh ends before the snapshot it replaces expires",
            show(node_timeout.value),
            source_of(figment, &node_timeout.key),
            show(cache_ttl.value),
            source_of(figment, &cache_ttl.key)
        );
        return Err(ConfigError::about(&node_timeout.key, message));
    }
    Ok(())
}

/// The cluster's allow-list, which must admit its seeds: the exporter could not even
/// ask a seed outside it for the topology.
fn allowed_nodes(input: &ClusterInput<'_>, seeds: &[NodeUrl], figment: &Figment) -> Result<AllowedNodes, ConfigError> {
    let key = &input.allowed_nodes.key;
    let allowed = AllowedNodes::parse(input.allowed_nodes.value).map_err(|m| ConfigError::at(figment, key, m))?;
    match allowed_nodes::seeds_outside(&allowed, seeds).as_slice() {
        [] => Ok(allowed),
        outside => Err(ConfigError::about(
            key,
            format!(
                "seed node(s) {} ({}) are not in allowed_nodes ({}): the exporter may not contact them",
                outside.join(", "),
                source_of(figment, &input.nodes.key),
                source_of(figment, key)
            ),
        )),
    }
}

/// Builds the Valkey client TLS config when the seeds ask for TLS, and refuses TLS
/// files given for plain-text seeds (they would be silently unused).
fn valkey_tls(
    files: &[Keyed<Option<&PathBuf>>; 3],
    tls: bool,
    flat: bool,
    figment: &Figment,
) -> Result<Option<ValkeyTls>, ConfigError> {
    let err = |file: &Keyed<Option<&PathBuf>>, msg: &dyn fmt::Display| ConfigError::at(figment, &file.key, msg);
    let [ca, cert, key] = files;
    if !tls {
        // Files inherited from the top level may serve other, TLS clusters (checked once
        // for all in `all`); a file set for these very nodes must not go unused.
        let own = |f: &&Keyed<Option<&PathBuf>>| f.value.is_some() && (flat || f.key.starts_with("clusters."));
        return match files.iter().find(own) {
            Some(file) => Err(err(file, &"is set but the nodes are not rediss:// or valkeys:// URLs")),
            None => Ok(None),
        };
    }
    let cert_and_key = match (cert.value, key.value) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        (None, None) => None,
        (Some(_), None) => return Err(err(cert, &"needs tls_client_key_file too")),
        (None, Some(_)) => return Err(err(key, &"needs tls_client_cert_file too")),
    };
    // Read each file under its own key first, so an unreadable one is blamed on the
    // setting that named it; what remains below is a certificate/key mismatch.
    if let Some(path) = ca.value {
        tls::read_certs(path).map_err(|m| err(ca, &m))?;
    }
    if let Some((cert_path, key_path)) = cert_and_key {
        tls::read_certs(cert_path).map_err(|m| err(cert, &m))?;
        tls::read_key(key_path).map_err(|m| err(key, &m))?;
    }
    let blamed = if cert_and_key.is_some() { cert } else { ca };
    tls::client_config(ca.value.map(|p| p.as_path()), cert_and_key)
        .map(|c| Some(ValkeyTls(c)))
        .map_err(|m| err(blamed, &m))
}

/// A range width that tiles the 16384 slots exactly: 1, 2, 4, ... 16384.
fn slot_range_size(size: u32) -> Result<u16, InvalidSlotRangeSize> {
    match u16::try_from(size) {
        Ok(size) if (1..=16384).contains(&size) && 16384 % size == 0 => Ok(size),
        _ => Err(InvalidSlotRangeSize(size)),
    }
}

/// A `slot_range_size` that does not divide 16384, as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("slot range size {0} must divide 16384 (1, 2, 4, ..., 128, ..., 16384)")]
struct InvalidSlotRangeSize(u32);
