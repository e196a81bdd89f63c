//! From the merged raw configuration to validated [`Settings`]: the process-wide
//! settings here, each cluster's in [`super::clusters`]. Every error names the key and
//! where its value came from.

use super::clusters::{self, ClusterInput};
use super::http_limits;
use super::raw::RawConfig;
use super::{ConfigError, DEFAULT_PORT, LogFormat, Settings, WebConfig, source_of, web};
use figment::Figment;
use std::net::SocketAddr;

/// An error about `key`, naming where its value came from.
pub(super) fn error_at(figment: &Figment, key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{message} (from {})", source_of(figment, key)))
}

pub(super) fn settings(raw: RawConfig, figment: &Figment) -> Result<Settings, ConfigError> {
    let listen = parse_listen(&raw.listen).map_err(|m| error_at(figment, "listen", m))?;
    let web = match &raw.web_config_file {
        Some(path) => web::load(path).map_err(|m| error_at(figment, "web_config_file", m))?,
        None => WebConfig::default(),
    };
    if raw.max_connections == 0 {
        return Err(error_at(figment, "max_connections", "must be at least 1"));
    }
    if tracing_subscriber::EnvFilter::try_new(&raw.log_level).is_err() {
        let message = format!("invalid log level `{}` (use error, warn, info, debug or trace)", raw.log_level);
        return Err(error_at(figment, "log_level", message));
    }
    let log_format = match raw.log_format.to_ascii_lowercase().as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(error_at(figment, "log_format", format!("invalid log format `{other}` (use text or json)")));
        }
    };
    let web_external_address = raw
        .web_external_address
        .as_deref()
        .map(|a| external_address(a).map_err(|m| error_at(figment, "web_external_address", m)))
        .transpose()?;
    let http_limits = http_limits::from_raw(&raw, figment)?;
    let clusters = clusters::all(&raw, figment, ClusterInput::defaults(&raw))?;
    Ok(Settings {
        listen,
        clusters,
        web,
        web_external_address,
        max_connections: raw.max_connections,
        http_limits,
        log_level: raw.log_level,
        log_format,
    })
}

/// Accepts `host:port`, `[v6]:port` and Go's `:port` (all interfaces).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let with_host = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    with_host
        .parse()
        .map_err(|_| format!("invalid listen address `{s}` (expected e.g. 0.0.0.0:{DEFAULT_PORT} or :{DEFAULT_PORT})"))
}

/// What `/sd` hands Prometheus as a target: `host:port`, nothing else.
pub(super) fn external_address(address: &str) -> Result<String, String> {
    let valid = !address.is_empty()
        && address.len() <= 255
        && address.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        && address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(address.to_string())
    } else {
        Err(format!("`{address}` is not a host:port address Prometheus can scrape (e.g. exporter.example:9765)"))
    }
}
