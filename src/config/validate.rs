//! From the merged raw configuration to validated [`Settings`]: the process-wide
//! settings here, each cluster's in [`super::clusters`]. Every error names the key and
//! where its value came from.

use super::clusters::{self, ClusterInput};
use super::http_limits;
use super::raw::RawConfig;
use super::{ConfigError, DEFAULT_PORT, LogFormat, Settings, WebConfig, web};
use crate::addr::is_host_port;
use figment::Figment;
use std::net::SocketAddr;

pub(super) fn settings(raw: RawConfig, figment: &Figment) -> Result<Settings, ConfigError> {
    let listen = parse_listen(&raw.listen).map_err(|m| ConfigError::at(figment, "listen", m))?;
    let web = match &raw.web_config_file {
        Some(path) => web::load(path).map_err(|m| ConfigError::at(figment, "web_config_file", m))?,
        None => WebConfig::default(),
    };
    if raw.max_connections == 0 {
        return Err(ConfigError::at(figment, "max_connections", "must be at least 1"));
    }
    if tracing_subscriber::EnvFilter::try_new(&raw.log_level).is_err() {
        let message = format!("invalid log level `{}` (use error, warn, info, debug or trace)", raw.log_level);
        return Err(ConfigError::at(figment, "log_level", message));
    }
    let log_format = match raw.log_format.to_ascii_lowercase().as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::at(
                figment,
                "log_format",
                format!("invalid log format `{other}` (use text or json)"),
            ));
        }
    };
    let web_external_address = raw
        .web_external_address
        .as_deref()
        .map(|a| external_address(a).map_err(|m| ConfigError::at(figment, "web_external_address", m)))
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
fn parse_listen(s: &str) -> Result<SocketAddr, InvalidListen> {
    let with_host = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    with_host.parse().map_err(|_| InvalidListen { given: s.to_string() })
}

/// A `listen` value that is not a socket address.
#[derive(Debug, thiserror::Error)]
#[error("invalid listen address `{given}` (expected e.g. 0.0.0.0:{port} or :{port})", port = DEFAULT_PORT)]
struct InvalidListen {
    /// The value as given, quoted back so the operator sees what was read.
    given: String,
}

/// What `/sd` hands Prometheus as a target: `host:port`, nothing else (a port is
/// required here, where a `Host` header may leave it out).
fn external_address(address: &str) -> Result<String, InvalidExternalAddress> {
    let has_port = address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if is_host_port(address) && has_port {
        Ok(address.to_string())
    } else {
        Err(InvalidExternalAddress { given: address.to_string() })
    }
}

/// A `web_external_address` Prometheus could not scrape.
#[derive(Debug, thiserror::Error)]
#[error("`{given}` is not a host:port address Prometheus can scrape (e.g. exporter.example:9765)")]
struct InvalidExternalAddress {
    /// The value as given, quoted back.
    given: String,
}
