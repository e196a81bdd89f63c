//! The command line: every setting as an optional flag, so an absent flag does not
//! override the layers below it (environment, file, defaults).

use super::{Secret, SlotSeries};
use clap::{ArgAction, Parser};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub(super) const ENV_HELP: &str = "\
Every flag can also be set in a TOML file (--config, keys with underscores, e.g. \
cache_ttl = \"30s\") or an environment variable VALKEY_SLOT_EXPORTER_<KEY> \
(e.g. VALKEY_SLOT_EXPORTER_NODES=redis://10.0.0.1:6379,redis://10.0.0.2:6379). \
Precedence: flags > environment > file > defaults. Prefer --password-file or \
VALKEY_SLOT_EXPORTER_PASSWORD over --password, which other users can see in the \
process list.";

/// Command-line flags. Each is optional so that an absent flag does not override the
/// layers below it; serialized into figment as the top layer.
#[derive(Parser, Serialize, Debug, Default)]
#[command(name = "valkey-slot-exporter", version, about, after_help = ENV_HELP)]
pub struct Cli {
    /// TOML configuration file (it must exist).
    #[arg(long, value_name = "PATH", env = "VALKEY_SLOT_EXPORTER_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to serve /metrics and the JSON API on [default: 0.0.0.0:9765].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,

    /// Seed nodes of the cluster, comma-separated redis://, valkey://, rediss:// or
    /// valkeys:// URLs; the topology is discovered from any one that answers
    /// [default: redis://localhost:6379].
    #[arg(long, value_name = "URL[,URL...]", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,

    /// ACL user name for Valkey.
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,

    /// Password for Valkey (visible in the process list: prefer --password-file).
    #[arg(long, value_name = "PASSWORD", hide_default_value = true, value_parser = parse_secret)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,

    /// File holding the Valkey password (a trailing newline is ignored).
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,

    /// How long a snapshot is served before the next request refreshes it, e.g. 30s,
    /// 500ms, 2m [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub cache_ttl: Option<Duration>,

    /// How long one node may take to connect and answer before it is reported down
    /// [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub node_timeout: Option<Duration>,

    /// Also query replicas; their slot series carry their own `node` label.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_replicas: Option<bool>,

    /// Per-slot series on /metrics: all, top:N (the N hottest slots by CPU, by network
    /// and by keys) or none; node, slot-range and hottest-slot series are always there
    /// [default: all].
    #[arg(long, value_name = "PROFILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_series: Option<SlotSeries>,

    /// Width of the slot ranges the slot_range series sum over; must divide 16384
    /// [default: 128, i.e. 128 ranges].
    #[arg(long, value_name = "SLOTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_range_size: Option<u32>,

    /// CA certificate(s) (PEM) that Valkey's server certificates must chain to, for
    /// rediss:// and valkeys:// nodes [default: the system's CA bundle].
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,

    /// Client certificate (PEM) to present to Valkey (with --tls-client-key-file).
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_cert_file: Option<PathBuf>,

    /// Private key (PEM) of the client certificate.
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_key_file: Option<PathBuf>,

    /// Prometheus exporter-toolkit web config (YAML) for TLS and basic auth on the
    /// exporter's own endpoint.
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_config_file: Option<PathBuf>,

    /// Most concurrent HTTP connections; more are answered 503 and closed [default: 256].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,

    /// Log filter: error, warn, info, debug, trace, or a tracing filter directive
    /// [default: info].
    #[arg(long, value_name = "LEVEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,

    /// Log format: text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

fn parse_duration_flag(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// Durations must carry a unit (`30s`, `500ms`, `2m`); the message says so rather than
/// repeat humantime's terse "unknown time unit".
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration `{s}`: {e} (e.g. 30s, 500ms, 2m)"))
}
