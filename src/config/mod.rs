//! Configuration: built-in defaults < TOML file (`--config`) < `VALKEY_SLOT_EXPORTER_*`
//! environment variables < command-line flags, merged by figment.
//!
//! Everything a user can get wrong is caught here, at start-up, with a message that
//! names the key and the layer it came from (flag, variable, file or default). The rest
//! of the program only ever sees a validated [`Settings`].

mod cli;
mod node_url;
mod raw;
mod secret;
mod slot_series;
pub mod tls;
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
    /// TLS and basic auth on the exporter's own endpoint.
    pub web: WebConfig,
    /// Cap on concurrent HTTP connections, so a flood cannot exhaust memory or file
    /// descriptors.
    pub max_connections: usize,
    /// tracing filter directive.
    pub log_level: String,
    pub log_format: LogFormat,
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
    validate(raw, &figment)
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

fn validate(raw: RawConfig, figment: &Figment) -> Result<Settings, ConfigError> {
    let err = |key: &str, msg: String| ConfigError(format!("{msg} (from {})", source_of(figment, key)));

    let listen = parse_listen(&raw.listen).map_err(|m| err("listen", m))?;
    let seeds = parse_seeds(&raw.nodes).map_err(|m| err("nodes", m))?;
    let tls = seeds[0].tls;
    let valkey_tls = valkey_tls(&raw, tls, figment)?;
    let web = match &raw.web_config_file {
        Some(path) => web::load(path).map_err(|m| err("web_config_file", m))?,
        None => WebConfig::default(),
    };
    if raw.max_connections == 0 {
        return Err(err("max_connections", "must be at least 1".into()));
    }
    if seeds.iter().any(|s| s.tls != tls) {
        return Err(err(
            "nodes",
            "seed nodes mix TLS (rediss://, valkeys://) and plain URLs; a cluster is one or the other".into(),
        ));
    }
    let password = match (raw.password, raw.password_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(format!(
                "both `password` ({}) and `password_file` ({}) are set; choose one",
                source_of(figment, "password"),
                source_of(figment, "password_file")
            )));
        }
        (Some(p), None) => Some(p),
        (None, Some(path)) => Some(read_password_file(&path).map_err(|m| err("password_file", m))?),
        (None, None) => None,
    };
    let (cache_ttl, node_timeout) = (raw.cache_ttl, raw.node_timeout);
    let slot_range_size = slot_range_size(raw.slot_range_size).map_err(|m| err("slot_range_size", m))?;
    if node_timeout.is_zero() {
        return Err(err("node_timeout", "must be greater than zero".into()));
    }
    if tracing_subscriber::EnvFilter::try_new(&raw.log_level).is_err() {
        return Err(err(
            "log_level",
            format!("invalid log level `{}` (use error, warn, info, debug or trace)", raw.log_level),
        ));
    }
    let log_format = match raw.log_format.to_ascii_lowercase().as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => return Err(err("log_format", format!("invalid log format `{other}` (use text or json)"))),
    };
    Ok(Settings {
        listen,
        seeds,
        valkey_tls,
        username: raw.username.filter(|u| !u.is_empty()),
        password,
        cache_ttl,
        node_timeout,
        include_replicas: raw.include_replicas,
        slot_series: raw.slot_series,
        slot_range_size,
        web,
        max_connections: raw.max_connections,
        log_level: raw.log_level,
        log_format,
    })
}

/// Builds the Valkey client TLS config when the seeds ask for TLS, and refuses TLS
/// files given for plain-text seeds (they would be silently unused).
fn valkey_tls(raw: &RawConfig, tls: bool, figment: &Figment) -> Result<Option<ValkeyTls>, ConfigError> {
    let err = |key: &str, msg: String| ConfigError(format!("{msg} (from {})", source_of(figment, key)));
    let files = [
        ("tls_ca_file", &raw.tls_ca_file),
        ("tls_client_cert_file", &raw.tls_client_cert_file),
        ("tls_client_key_file", &raw.tls_client_key_file),
    ];
    if !tls {
        return match files.iter().find(|(_, v)| v.is_some()) {
            Some((key, _)) => Err(err(key, "is set but the nodes are not rediss:// or valkeys:// URLs".into())),
            None => Ok(None),
        };
    }
    let cert_and_key = match (&raw.tls_client_cert_file, &raw.tls_client_key_file) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        (None, None) => None,
        (Some(_), None) => return Err(err("tls_client_cert_file", "needs tls_client_key_file too".into())),
        (None, Some(_)) => return Err(err("tls_client_key_file", "needs tls_client_cert_file too".into())),
    };
    // Read each file under its own key first, so an unreadable one is blamed on the
    // setting that named it; what remains below is a certificate/key mismatch.
    if let Some(ca) = &raw.tls_ca_file {
        tls::read_certs(ca).map_err(|m| err("tls_ca_file", m))?;
    }
    if let Some((cert, key)) = cert_and_key {
        tls::read_certs(cert).map_err(|m| err("tls_client_cert_file", m))?;
        tls::read_key(key).map_err(|m| err("tls_client_key_file", m))?;
    }
    let key = if cert_and_key.is_some() { "tls_client_cert_file" } else { "tls_ca_file" };
    tls::client_config(raw.tls_ca_file.as_deref(), cert_and_key).map(|c| Some(ValkeyTls(c))).map_err(|m| err(key, m))
}

/// A range width that tiles the 16384 slots exactly: 1, 2, 4, ... 16384.
fn slot_range_size(size: u32) -> Result<u16, String> {
    match u16::try_from(size) {
        Ok(size) if (1..=16384).contains(&size) && 16384 % size == 0 => Ok(size),
        _ => Err(format!("slot range size {size} must divide 16384 (1, 2, 4, ..., 128, ..., 16384)")),
    }
}

/// Accepts `host:port`, `[v6]:port` and Go's `:port` (all interfaces).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let with_host = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    with_host
        .parse()
        .map_err(|_| format!("invalid listen address `{s}` (expected e.g. 0.0.0.0:{DEFAULT_PORT} or :{DEFAULT_PORT})"))
}

fn parse_seeds(urls: &[String]) -> Result<Vec<NodeUrl>, String> {
    if urls.is_empty() {
        return Err("no seed nodes given".into());
    }
    urls.iter()
        .enumerate()
        .map(|(i, u)| parse_node_url(u).map_err(|m| format!("node {} of {}: {m}", i + 1, urls.len())))
        .collect()
}

fn read_password_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read password file {}: {}", path.display(), e.kind()))?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
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
        assert_eq!(s.cache_ttl, Duration::from_secs(30));
        assert_eq!(s.seeds[0].addr.as_str(), "localhost:6379");
        assert!(!s.include_replicas);
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
        assert_eq!(s.seeds.len(), 2);
        assert_eq!(s.cache_ttl, Duration::from_millis(500));
        assert_eq!(s.node_timeout, Duration::from_secs(120));
        assert!(s.include_replicas);
        assert_eq!(s.listen.to_string(), "0.0.0.0:9999");
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
        assert_eq!((s.slot_series, s.slot_range_size), (SlotSeries::Top(50), 256));
        let defaults = load(cli(&[])).expect("loads");
        assert_eq!((defaults.slot_series, defaults.slot_range_size), (SlotSeries::All, 128));
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
