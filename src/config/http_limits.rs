//! How long and how much the HTTP endpoint gives each connection, so that clients that
//! hold connections open, trickle their requests or stop reading cannot lock out
//! Prometheus or pin memory. The anchors: nginx's `client_header_timeout`,
//! `keepalive_timeout` and `send_timeout`; Go's `http.Server` `ReadHeaderTimeout`,
//! `IdleTimeout` and `WriteTimeout`; HTTP/2's `SETTINGS_MAX_CONCURRENT_STREAMS`.

use super::ConfigError;
use super::raw::RawConfig;
use figment::Figment;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Per-connection bounds of the HTTP server (`http_*` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// From accepting a connection (or finishing the previous answer on it) to a
    /// complete request head, TLS handshake and protocol sniffing included; a client
    /// that has sent no complete request by then is closed (`http_header_timeout`).
    pub header_timeout: Duration,
    /// How long a keep-alive connection (HTTP/1.1 or HTTP/2) may sit with no request in
    /// progress before it is closed (`http_idle_timeout`).
    pub(crate) idle_timeout: Duration,
    /// How long an answer may make no progress towards the client (a write that
    /// cannot proceed, or an HTTP/2 stream with no flow-control window) before the
    /// connection is dropped (`http_send_timeout`).
    pub(crate) send_timeout: Duration,
    /// Requests in progress at once on one HTTP/2 connection
    /// (`http2_max_concurrent_streams`).
    pub(crate) http2_max_concurrent_streams: u32,
}

impl HttpLimits {
    /// Prometheus sends its request right after connecting and scrapes at least once
    /// a minute; browsers reuse a connection within seconds.
    pub const DEFAULT: HttpLimits = HttpLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(30),
        http2_max_concurrent_streams: 16,
    };
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits::DEFAULT
    }
}

/// Below 100 ms a slow but honest client (a TLS handshake across a WAN) is cut off;
/// above an hour a held connection is as good as never released.
const TIMEOUT_RANGE: RangeInclusive<Duration> = Duration::from_millis(100)..=Duration::from_secs(3600);

/// At least one stream, or HTTP/2 clients can ask nothing; at most 1000, so one
/// connection cannot hold more answers in memory than the whole connection cap would.
const STREAMS_RANGE: RangeInclusive<u32> = 1..=1000;

/// The `http_*` settings, each checked against its range; an error names the key and
/// where its value came from.
pub(super) fn from_raw(raw: &RawConfig, figment: &Figment) -> Result<HttpLimits, ConfigError> {
    let timeout = |key: &str, value: Duration| {
        if TIMEOUT_RANGE.contains(&value) {
            Ok(value)
        } else {
            let message = format!(
                "{} is out of range ({} to {})",
                humantime::format_duration(value),
                humantime::format_duration(*TIMEOUT_RANGE.start()),
                humantime::format_duration(*TIMEOUT_RANGE.end())
            );
            Err(ConfigError::at(figment, key, message))
        }
    };
    let streams = raw.http2_max_concurrent_streams;
    if !STREAMS_RANGE.contains(&streams) {
        let message = format!("{streams} is out of range ({} to {})", STREAMS_RANGE.start(), STREAMS_RANGE.end());
        return Err(ConfigError::at(figment, "http2_max_concurrent_streams", message));
    }
    Ok(HttpLimits {
        header_timeout: timeout("http_header_timeout", raw.http_header_timeout)?,
        idle_timeout: timeout("http_idle_timeout", raw.http_idle_timeout)?,
        send_timeout: timeout("http_send_timeout", raw.http_send_timeout)?,
        http2_max_concurrent_streams: streams,
    })
}
