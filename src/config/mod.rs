//! Configuration: built-in defaults < TOML file (`--config`) < `VALKEY_SLOT_EXPORTER_*`
//! environment variables < command-line flags, merged by figment.
//!
//! Everything a user can get wrong is caught here, at start-up, with a message that
//! names the key and the layer it came from (flag, variable, file or default). The rest
//! of the program only ever sees a validated [`Settings`].

mod allowed_nodes;
mod cli;
mod cluster_name;
mod clusters;
mod env;
mod error;
mod http_limits;
mod node_url;
mod raw;
mod secret;
mod slot_series;
pub(crate) mod tls;
mod validate;
pub mod web;

pub use allowed_nodes::AllowedNodes;
pub use cli::{Cli, Command, PlanArgs, TopArgs};
pub use cluster_name::{CLUSTER_NAME_GRAMMAR, ClusterName, InvalidClusterName};
pub(crate) use cluster_name::{Unpicked, pick};
pub use error::ConfigError;
pub use http_limits::HttpLimits;
pub use node_url::{NodeUrl, NodeUrlError, parse_node_url};
pub use secret::{REDACTED, Secret};
pub use slot_series::SlotSeries;
pub use web::WebConfig;

use clap::Parser;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use raw::RawConfig;
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Prefix of every environment variable the exporter reads.
pub const ENV_PREFIX: &str = "VALKEY_SLOT_EXPORTER_";

/// Default port. The Prometheus exporter port range (9100–9999) is fully allocated;
/// 9765 is not used by any widely deployed exporter (9121 is redis_exporter's).
pub const DEFAULT_PORT: u16 = 9765;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings: everything the rest of the program needs, in its own types.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// The clusters served, in name order; never empty. The flat settings describe one,
    /// named `default`.
    pub clusters: Vec<ClusterSettings>,
    /// TLS and basic auth on the exporter's own endpoint.
    pub web: WebConfig,
    /// `host:port` `/sd` announces as the target; `None`: the request's `Host`.
    pub(crate) web_external_address: Option<String>,
    /// Cap on concurrent HTTP connections, so a flood cannot exhaust memory or file
    /// descriptors.
    pub(crate) max_connections: usize,
    /// Per-connection timeouts and the HTTP/2 stream limit.
    pub(crate) http_limits: HttpLimits,
    /// tracing filter directive.
    pub log_level: String,
    pub log_format: LogFormat,
}

/// Everything about one cluster: where it is, how to reach it, and how to report it.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// Chosen by `?cluster=` and carried as the `valkey_cluster` discovery label.
    pub name: ClusterName,
    /// Seed nodes; any one that answers gives the topology.
    pub seeds: Vec<NodeUrl>,
    /// TLS for connections to Valkey: present exactly when the seeds are rediss://
    /// or valkeys:// (they all agree).
    pub valkey_tls: Option<ValkeyTls>,
    /// ACL user, if any.
    pub username: Option<String>,
    /// Password from `password` or the contents of `password_file`.
    pub password: Option<Secret>,
    /// Lifetime of a snapshot before a request triggers the next refresh.
    pub cache_ttl: Duration,
    /// Per-node bound on connecting and answering, so one stalled node cannot hold
    /// up a refresh.
    pub node_timeout: Duration,
    /// Query replicas too.
    pub include_replicas: bool,
    /// Which per-slot series `/metrics` carries.
    pub slot_series: SlotSeries,
    /// Slots per `slot_range` series; divides 16384.
    pub slot_range_size: u16,
    /// The nodes the exporter may contact (and send the credentials to); the seeds are
    /// among them. Nodes the topology names outside it are reported, never contacted.
    pub(crate) allowed_nodes: AllowedNodes,
}

impl Settings {
    /// The cluster a one-shot command reads: the one named, or the only one.
    pub fn cluster(&self, name: Option<&str>) -> Result<&ClusterSettings, ConfigError> {
        pick(&self.clusters, name, |c| &c.name).map_err(|unpicked| {
            let message = match unpicked {
                Unpicked::Unknown => format!(
                    "no cluster named `{}` is configured (configured: {})",
                    name.unwrap_or_default(),
                    self.cluster_names()
                ),
                Unpicked::Required => {
                    format!("several clusters are configured; choose one with --cluster ({})", self.cluster_names())
                }
            };
            ConfigError::about("cluster", message)
        })
    }

    fn cluster_names(&self) -> String {
        self.clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Client TLS for Valkey connections. Debug shows only that it is set: the config
/// holds the client key.
#[derive(Clone)]
pub struct ValkeyTls(pub std::sync::Arc<rustls::ClientConfig>);

impl fmt::Debug for ValkeyTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValkeyTls(..)")
    }
}

/// Parses the process's flags and environment into settings, and the one-shot command
/// if one was given.
pub fn load_from_env() -> Result<(Settings, Option<Command>), ConfigError> {
    let mut cli = Cli::parse();
    let command = cli.command.take();
    load(cli).map(|settings| (settings, command))
}

/// Merges defaults, the file named by `cli.config`, the environment and `cli`, then
/// validates the result.
pub fn load(cli: Cli) -> Result<Settings, ConfigError> {
    load_with_env(cli, env::RawStrings::from_process())
}

/// [`load`] with the string settings of the environment taken from `env`.
fn load_with_env(cli: Cli, env: env::RawStrings) -> Result<Settings, ConfigError> {
    let figment = build_figment(&cli, env)?;
    let raw: RawConfig = figment.extract().map_err(ConfigError::from_figment)?;
    validate::settings(raw, &figment)
}

fn build_figment(cli: &Cli, env: env::RawStrings) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(defaults_layer());
    if let Some(path) = &cli.config {
        // `Toml::file` silently skips a missing file; a file the user named must exist.
        if !path.is_file() {
            let message = format!(
                "config file {} (from --config or VALKEY_SLOT_EXPORTER_CONFIG) does not exist or is not a file",
                path.display()
            );
            return Err(ConfigError::about("config", message));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    // Numbers, booleans and durations through figment's parsing; strings raw.
    Ok(figment.merge(env::typed_layer()).merge(env).merge(flags_layer(cli)))
}

/// A serialized layer with a name users recognise ("command-line flag", "built-in
/// default") instead of figment's generic "Serialized".
struct Labelled<T> {
    value: T,
    metadata: Metadata,
}

impl<T: Serialize> Provider for Labelled<T> {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.value).data()
    }
}

fn flags_layer(cli: &Cli) -> Labelled<&Cli> {
    let metadata = Metadata::named("command-line flag")
        .interpolater(|_: &Profile, keys: &[&str]| format!("--{}", keys.join(".").replace('_', "-")));
    Labelled { value: cli, metadata }
}

fn defaults_layer() -> Labelled<RawConfig> {
    Labelled { value: RawConfig::default(), metadata: Metadata::named("built-in default") }
}

#[cfg(test)]
mod tests;
