//! The merged configuration before validation: exactly the keys a user may set, with
//! their built-in defaults, and the deserializers that turn file and environment text
//! into typed values (or an error that says what was expected).

use super::cli::parse_duration;
use super::{DEFAULT_PORT, HttpLimits, Secret, SlotSeries};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The merged, not yet validated configuration: exactly the keys a user may set.
#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: String,
    #[serde(deserialize_with = "string_or_list")]
    pub(super) nodes: Vec<String>,
    #[serde(default, deserialize_with = "optional_scalar_string")]
    pub(super) username: Option<String>,
    #[serde(default)]
    pub(super) password: Option<Secret>,
    #[serde(default)]
    pub(super) password_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    pub(super) cache_ttl: Duration,
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    pub(super) node_timeout: Duration,
    pub(super) include_replicas: bool,
    pub(super) slot_series: SlotSeries,
    pub(super) slot_range_size: u32,
    #[serde(default)]
    pub(super) tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls_client_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls_client_key_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) web_config_file: Option<PathBuf>,
    pub(super) max_connections: usize,
    /// [`super::HttpLimits::header_timeout`]; ranges are checked in `http_limits.rs`.
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    pub(super) http_header_timeout: Duration,
    /// [`super::HttpLimits::idle_timeout`].
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    pub(super) http_idle_timeout: Duration,
    /// [`super::HttpLimits::send_timeout`].
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    pub(super) http_send_timeout: Duration,
    /// [`super::HttpLimits::http2_max_concurrent_streams`].
    pub(super) http2_max_concurrent_streams: u32,
    pub(super) log_level: String,
    pub(super) log_format: String,
    /// `host:port` that `/sd` hands Prometheus as the target, instead of the request's
    /// `Host` header.
    #[serde(default)]
    pub(super) web_external_address: Option<String>,
    /// Named clusters (`[clusters.NAME]` in the file). Empty: the flat settings above
    /// describe one cluster, `default`.
    #[serde(default)]
    pub(super) clusters: BTreeMap<String, RawCluster>,
    /// Where nodes may be, for every cluster without its own list; empty: anywhere.
    #[serde(default, deserialize_with = "super::allowed_nodes::list")]
    pub(super) allowed_nodes: Vec<String>,
}

/// One `[clusters.NAME]` table: its nodes and credentials, and the shared settings it
/// overrides.
#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    #[serde(default, deserialize_with = "string_or_list")]
    pub(super) nodes: Vec<String>,
    #[serde(default, deserialize_with = "optional_scalar_string")]
    pub(super) username: Option<String>,
    #[serde(default)]
    pub(super) password: Option<Secret>,
    #[serde(default)]
    pub(super) password_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls_client_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tls_client_key_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) include_replicas: Option<bool>,
    #[serde(default, deserialize_with = "optional_duration", serialize_with = "humantime_serde::option::serialize")]
    pub(super) cache_ttl: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration", serialize_with = "humantime_serde::option::serialize")]
    pub(super) node_timeout: Option<Duration>,
    #[serde(default)]
    pub(super) slot_series: Option<SlotSeries>,
    /// Where this cluster's nodes may be, instead of the top-level list.
    #[serde(default, deserialize_with = "super::allowed_nodes::optional_list")]
    pub(super) allowed_nodes: Option<Vec<String>>,
}

/// Slots per `slot_range` by default: 128 ranges, a 128x128 map of the slot space.
pub(super) const DEFAULT_SLOT_RANGE_SIZE: u32 = 128;

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            listen: format!("0.0.0.0:{DEFAULT_PORT}"),
            nodes: vec!["redis://localhost:6379".into()],
            username: None,
            password: None,
            password_file: None,
            cache_ttl: Duration::from_secs(30),
            node_timeout: Duration::from_secs(5),
            include_replicas: false,
            slot_series: SlotSeries::All,
            slot_range_size: DEFAULT_SLOT_RANGE_SIZE,
            tls_ca_file: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            web_config_file: None,
            max_connections: 256,
            http_header_timeout: HttpLimits::DEFAULT.header_timeout,
            http_idle_timeout: HttpLimits::DEFAULT.idle_timeout,
            http_send_timeout: HttpLimits::DEFAULT.send_timeout,
            http2_max_concurrent_streams: HttpLimits::DEFAULT.http2_max_concurrent_streams,
            log_level: "info".into(),
            log_format: "text".into(),
            web_external_address: None,
            clusters: BTreeMap::new(),
            allowed_nodes: Vec::new(),
        }
    }
}

/// `nodes` is a list in TOML and flags but a comma-separated string in the environment.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d)
        .map_err(|_| de::Error::custom("expected a URL string, a comma-separated string of URLs, or a list"))?
    {
        OneOrMany::One(s) => s.split(',').map(str::to_string).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// A user name of digits arrives from the environment as an integer.
fn optional_scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
    }))
}

/// A duration from a file or the environment, parsed once into its type; the error
/// says a unit is needed instead of serde's type jargon.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)
        .map_err(|_| de::Error::custom("expected a duration with a unit, e.g. \"30s\", \"500ms\", \"2m\""))?;
    parse_duration(&s).map_err(de::Error::custom)
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}
