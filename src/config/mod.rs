//! Configuration: built-in defaults < TOML file (`--config`) < `VALKEY_SLOT_EXPORTER_*`
//! environment variables < command-line flags, merged by figment.
//!
//! Everything a user can get wrong is caught here, at start-up, with a message that
//! names the key and the layer it came from (flag, variable, file or default). The rest
//! of the program only ever sees a validated [`Settings`].

mod node_url;
mod secret;
pub mod tls;
pub mod web;

pub use node_url::{NodeUrl, parse_node_url};
pub use secret::{REDACTED, Secret};
pub use web::WebConfig;

use clap::{ArgAction, Parser};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Prefix of every environment variable the exporter reads.
pub const ENV_PREFIX: &str = "VALKEY_SLOT_EXPORTER_";

/// Default port. The Prometheus exporter port range (9100–9999) is fully allocated;
/// 9765 is not used by any widely deployed exporter (9121 is redis_exporter's).
pub const DEFAULT_PORT: u16 = 9765;

const ENV_HELP: &str = "\
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
fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration `{s}`: {e} (e.g. 30s, 500ms, 2m)"))
}

/// The merged, not yet validated configuration: exactly the keys a user may set.
#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: String,
    #[serde(deserialize_with = "string_or_list")]
    nodes: Vec<String>,
    #[serde(default, deserialize_with = "optional_scalar_string")]
    username: Option<String>,
    #[serde(default)]
    password: Option<Secret>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    cache_ttl: Duration,
    #[serde(deserialize_with = "duration", serialize_with = "humantime_serde::serialize")]
    node_timeout: Duration,
    include_replicas: bool,
    #[serde(default)]
    tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    tls_client_cert_file: Option<PathBuf>,
    #[serde(default)]
    tls_client_key_file: Option<PathBuf>,
    #[serde(default)]
    web_config_file: Option<PathBuf>,
    max_connections: usize,
    log_level: String,
    log_format: String,
}

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
            tls_ca_file: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            web_config_file: None,
            max_connections: 256,
            log_level: "info".into(),
            log_format: "text".into(),
        }
    }
}

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

/// Parses the process's flags and environment into settings.
pub fn load_from_env() -> Result<Settings, ConfigError> {
    load(Cli::parse())
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
