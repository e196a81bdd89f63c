//! Configuration: built-in defaults < TOML file (`--config`) < `VALKEY_SLOT_EXPORTER_*`
//! environment variables < command-line flags, merged by figment.
//!
//! Everything a user can get wrong is caught here, at start-up, with a message that
//! names the key and the layer it came from (flag, variable, file or default). The rest
//! of the program only ever sees a validated [`Settings`].

mod cli;
mod clusters;
mod node_url;
mod raw;
mod secret;
mod slot_series;
pub mod tls;
mod validate;
pub mod web;

pub use cli::{Cli, Command, PlanArgs, PlanBy, RankBy, TopArgs};
pub use node_url::{NodeUrl, parse_node_url};
pub use secret::{REDACTED, Secret};
pub use slot_series::SlotSeries;
pub use web::WebConfig;

use clap::Parser;
use figment::providers::{Env, Format, Serialized, Toml};
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
    pub web_external_address: Option<String>,
    /// Cap on concurrent HTTP connections, so a flood cannot exhaust memory or file
    /// descriptors.
    pub max_connections: usize,
    /// tracing filter directive.
    pub log_level: String,
    pub log_format: LogFormat,
}

/// Everything about one cluster: where it is, how to reach it, and how to report it.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// Chosen by `?cluster=` and carried as the `valkey_cluster` discovery label:
    /// `[a-z0-9][a-z0-9_-]{0,62}`.
    pub name: String,
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
}

impl Settings {
    /// The cluster a one-shot command reads: the one named, or the only one.
    pub fn cluster(&self, name: Option<&str>) -> Result<&ClusterSettings, ConfigError> {
        match name {
            Some(name) => self.clusters.iter().find(|c| c.name == name).ok_or_else(|| {
                ConfigError(format!("no cluster named `{name}` is configured (configured: {})", self.cluster_names()))
            }),
            None if self.clusters.len() == 1 => Ok(&self.clusters[0]),
            None => Err(ConfigError(format!(
                "several clusters are configured; choose one with --cluster ({})",
                self.cluster_names()
            ))),
        }
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

/// A configuration problem, already phrased for the operator.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

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
    let figment = build_figment(&cli)?;
    let raw: RawConfig = figment.extract().map_err(describe_figment_error)?;
    validate::settings(raw, &figment)
}

fn build_figment(cli: &Cli) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(defaults_layer());
    if let Some(path) = &cli.config {
        // `Toml::file` silently skips a missing file; a file the user named must exist.
        if !path.is_file() {
            return Err(ConfigError(format!(
                "config file {} (from --config or VALKEY_SLOT_EXPORTER_CONFIG) does not exist \
                 or is not a file",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    Ok(figment.merge(Env::prefixed(ENV_PREFIX).ignore(&["config"])).merge(flags_layer(cli)))
}

/// Turns every error figment collected into one line each, naming the key the way
/// the user wrote it: a flag, a full environment variable name, or a file key.
fn describe_figment_error(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            match &e.metadata {
                Some(md) => format!("{} (from {})", e.kind, describe_source(md, &key)),
                None => e.kind.to_string(),
            }
        })
        .collect();
    ConfigError(lines.join("; "))
}

/// "command-line flag --cache-ttl", "environment variable VALKEY_SLOT_EXPORTER_CACHE_TTL",
/// "key `cache_ttl` in TOML file /etc/x.toml", "key `cache_ttl` (default)".
fn describe_source(md: &Metadata, key: &str) -> String {
    if md.name.starts_with("command-line") {
        format!("{} {}", md.name, md.interpolate(&Profile::Default, &[key]))
    } else if md.name.contains("environment") {
        format!("environment variable {ENV_PREFIX}{}", key.to_ascii_uppercase().replace('.', "_"))
    } else if let Some(src) = &md.source {
        format!("key `{key}` in {} {src}", md.name)
    } else {
        format!("key `{key}` ({})", md.name)
    }
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

/// Where the final value of `key` came from, for errors found after extraction.
fn source_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(md) => describe_source(md, key),
        None => format!("key `{key}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["valkey-slot-exporter"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("flags parse")
    }

    #[test]
    fn defaults_are_sane() {
        let s = load(cli(&[])).expect("defaults load");
        assert_eq!(s.listen.port(), DEFAULT_PORT);
        let c = &s.clusters[0];
        assert_eq!(c.name, "default");
        assert_eq!(c.cache_ttl, Duration::from_secs(30));
        assert_eq!(c.seeds[0].addr.as_str(), "localhost:6379");
        assert!(!c.include_replicas);
    }

    #[test]
    fn flags_override_and_parse() {
        let s = load(cli(&[
            "--nodes",
            "redis://a:1,valkey://b:2",
            "--cache-ttl",
            "500ms",
            "--node-timeout",
            "2m",
            "--include-replicas",
            "--listen",
            ":9999",
        ]))
        .expect("loads");
        assert_eq!(s.listen.to_string(), "0.0.0.0:9999");
        let s = &s.clusters[0];
        assert_eq!(s.seeds.len(), 2);
        assert_eq!(s.cache_ttl, Duration::from_millis(500));
        assert_eq!(s.node_timeout, Duration::from_secs(120));
        assert!(s.include_replicas);
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let e = Cli::try_parse_from(["valkey-slot-exporter", "--cache-ttl", "soon"]).unwrap_err().to_string();
        assert!(e.contains("--cache-ttl") && e.contains("e.g. 30s"), "{e}");
        let e = load(cli(&["--nodes", "http://x"])).unwrap_err().to_string();
        assert!(e.contains("--nodes") && e.contains("scheme"), "{e}");
        let e = load(cli(&["--node-timeout", "0s"])).unwrap_err().to_string();
        assert!(e.contains("--node-timeout"), "{e}");
    }

    #[test]
    fn slot_profiles_and_range_sizes() {
        let s = load(cli(&["--slot-series", "top:50", "--slot-range-size", "256"])).expect("loads");
        assert_eq!((s.clusters[0].slot_series, s.clusters[0].slot_range_size), (SlotSeries::Top(50), 256));
        let defaults = load(cli(&[])).expect("loads");
        let d = &defaults.clusters[0];
        assert_eq!((d.slot_series, d.slot_range_size), (SlotSeries::All, 128));
        let e = load(cli(&["--slot-range-size", "100"])).unwrap_err().to_string();
        assert!(e.contains("--slot-range-size") && e.contains("divide 16384"), "{e}");
        assert!(load(cli(&["--slot-range-size", "0"])).is_err());
        let e = Cli::try_parse_from(["valkey-slot-exporter", "--slot-series", "top:0"]).unwrap_err().to_string();
        assert!(e.contains("--slot-series") && e.contains("top:N"), "{e}");
    }

    #[test]
    fn mixed_tls_is_refused() {
        let e = load(cli(&["--nodes", "rediss://a:1,redis://b:2"])).unwrap_err().to_string();
        assert!(e.contains("mix TLS"), "{e}");
    }

    #[test]
    fn password_and_file_together_are_refused_without_echo() {
        let e = load(cli(&["--password", "hunter2", "--password-file", "/nonexistent"])).unwrap_err().to_string();
        assert!(e.contains("choose one") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn cli_debug_redacts_password() {
        let c = cli(&["--password", "hunter2"]);
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
