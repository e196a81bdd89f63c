//! The command line: every setting as an optional flag, so an absent flag does not
//! override the layers below it (environment, file, defaults).

use super::{Secret, SlotSeries};
use crate::question::{BALANCEABLE, Bounded, HOT_LIMIT, MAX_MOVES, Measure, RANKABLE, TARGET_RATIO};
use clap::{ArgAction, Args, Parser, Subcommand};
use serde::Serialize;
use std::convert::Infallible;
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
/// layers below it; serialized into figment as the top layer. Every setting is
/// global: the one-shot commands take them after their name too.
#[derive(Parser, Serialize, Debug, Default)]
#[command(name = "valkey-slot-exporter", version, about, after_help = ENV_HELP)]
pub struct Cli {
    /// Without a command the exporter serves; a command runs once and exits.
    #[command(subcommand)]
    #[serde(skip)]
    pub(crate) command: Option<Command>,

    /// TOML configuration file (it must exist).
    #[arg(long, global = true, value_name = "PATH", env = "VALKEY_SLOT_EXPORTER_CONFIG")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,

    /// Address to serve /metrics and the JSON API on [default: 0.0.0.0:9765].
    #[arg(long, global = true, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<String>,

    /// Seed nodes of the cluster, comma-separated redis://, valkey://, rediss:// or
    /// valkeys:// URLs; the topology is discovered from any one that answers
    /// [default: redis://localhost:6379].
    #[arg(long, global = true, value_name = "URL[,URL...]", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nodes: Option<Vec<String>>,

    /// The only nodes the exporter may contact, and so send the credentials to:
    /// comma-separated CIDRs (10.0.0.0/8, fd00::/8), IP addresses, host names and
    /// *.domain patterns. Nodes the topology names elsewhere are reported as
    /// not_allowed and never contacted [default: empty, any node].
    #[arg(long, global = true, value_name = "ENTRY[,ENTRY...]", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_nodes: Option<Vec<String>>,

    /// ACL user name for Valkey.
    #[arg(long, global = true, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,

    /// Password for Valkey (visible in the process list: prefer --password-file).
    #[arg(long, global = true, value_name = "PASSWORD", hide_default_value = true, value_parser = parse_secret)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password: Option<Secret>,

    /// File holding the Valkey password (a trailing newline is ignored).
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password_file: Option<PathBuf>,

    /// How long a snapshot is served before the next request refreshes it, e.g. 30s,
    /// 2m; at least 1s [default: 30s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub(crate) cache_ttl: Option<Duration>,

    /// How long one node may take to connect and answer before it is reported down;
    /// at most the cache TTL [default: 5s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub(crate) node_timeout: Option<Duration>,

    /// Also query replicas; their slot series carry their own `node` label.
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) include_replicas: Option<bool>,

    /// Per-slot series on /metrics: all, top:N (the N hottest slots by CPU and by
    /// network among those above 0.1% of the cluster's rate two refreshes running, and
    /// the N with the most keys) or none; node, slot-range and hottest-slot series are
    /// always there [default: all].
    #[arg(long, global = true, value_name = "PROFILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slot_series: Option<SlotSeries>,

    /// Width of the slot ranges the slot_range series sum over; must divide 16384
    /// [default: 128, i.e. 128 ranges].
    #[arg(long, global = true, value_name = "SLOTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slot_range_size: Option<u32>,

    /// CA certificate(s) (PEM) that Valkey's server certificates must chain to, for
    /// rediss:// and valkeys:// nodes [default: the system's CA bundle].
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_ca_file: Option<PathBuf>,

    /// Client certificate (PEM) to present to Valkey (with --tls-client-key-file).
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_client_cert_file: Option<PathBuf>,

    /// Private key (PEM) of the client certificate.
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_client_key_file: Option<PathBuf>,

    /// Prometheus exporter-toolkit web config (YAML) for TLS and basic auth on the
    /// exporter's own endpoint.
    #[arg(long, global = true, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) web_config_file: Option<PathBuf>,

    /// Most concurrent HTTP connections; more are answered 503 and closed [default: 256].
    #[arg(long, global = true, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_connections: Option<usize>,

    /// How long a client has, from connecting (or from the end of its previous
    /// answer), to send a complete request head, TLS handshake included [default: 10s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub(crate) http_header_timeout: Option<Duration>,

    /// How long a keep-alive connection (HTTP/1.1 or HTTP/2) may stay open with no
    /// request in progress [default: 60s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub(crate) http_idle_timeout: Option<Duration>,

    /// How long an answer may make no progress towards a client that does not read it
    /// before the connection is dropped [default: 30s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_flag)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub(crate) http_send_timeout: Option<Duration>,

    /// Requests in progress at once on one HTTP/2 connection, 1-1000 [default: 16].
    #[arg(long, global = true, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http2_max_concurrent_streams: Option<u32>,

    /// host:port Prometheus should scrape, as /sd announces it [default: the Host
    /// header of the /sd request].
    #[arg(long, global = true, value_name = "HOST:PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) web_external_address: Option<String>,

    /// Log filter: error, warn, info, debug, trace, or a tracing filter directive
    /// [default: info].
    #[arg(long, global = true, value_name = "LEVEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log_level: Option<String>,

    /// Log format: text or json [default: text].
    #[arg(long, global = true, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log_format: Option<String>,
}

fn parse_secret(s: &str) -> Result<Secret, Infallible> {
    Ok(Secret::new(s))
}

fn parse_duration_flag(s: &str) -> Result<Duration, InvalidDuration> {
    parse_duration(s)
}

/// Durations must carry a unit (`30s`, `500ms`, `2m`); the message says so rather than
/// repeat humantime's terse "unknown time unit".
pub(super) fn parse_duration(s: &str) -> Result<Duration, InvalidDuration> {
    humantime::parse_duration(s.trim()).map_err(|error| InvalidDuration { given: s.to_string(), error })
}

/// A duration humantime cannot read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid duration `{given}`: {error} (e.g. 30s, 500ms, 2m)")]
pub(super) struct InvalidDuration {
    /// The text as given, quoted back.
    given: String,
    /// humantime's reason ("unknown time unit", ...).
    #[source]
    error: humantime::DurationError,
}

/// One-shot commands, for operators without a running exporter. Each takes two
/// snapshots `--window` apart with the same settings as the server, prints, exits 0
/// (1 when no node answers, 2 on bad flags).
#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum Command {
    /// Print the hottest slots, the balance across primaries and a rebalance plan.
    Plan(PlanArgs),
    /// Print the hottest slots.
    Top(TopArgs),
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct PlanArgs {
    /// Which configured cluster to read (required when the file names several).
    #[arg(long, value_name = "NAME")]
    pub(crate) cluster: Option<String>,
    /// The load to even out.
    #[arg(long, default_value = "cpu", value_parser = Measure::parser(&BALANCEABLE))]
    pub(crate) by: Measure,
    /// Time between the two snapshots the rates come from.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_window)]
    pub(crate) window: Duration,
    #[arg(long, value_name = "N", help = ranged("Most slot moves to propose", &MAX_MOVES),
          default_value_t = MAX_MOVES.default, value_parser = clap::value_parser!(u32).range(MAX_MOVES.clap_range()))]
    pub(crate) max_moves: u32,
    #[arg(long, value_name = "RATIO", help = ranged("Stop once the busiest primary carries at most this times the mean", &TARGET_RATIO),
          default_value_t = TARGET_RATIO.default, value_parser = parse_target)]
    pub(crate) target: f64,
    #[arg(long, value_name = "N", help = ranged("Hottest slots listed before the plan", &HOT_LIMIT),
          default_value_t = HOT_LIMIT.default, value_parser = clap::value_parser!(u32).range(HOT_LIMIT.clap_range()))]
    pub(crate) limit: u32,
    /// Print the API's JSON instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
    /// Carry the plan out: show it, ask for confirmation, check the cluster, move the
    /// slots (CLUSTER MIGRATESLOTS on Valkey 9.0+, the classic steps before), then
    /// measure again after one --window. Stops at the first fault (exit 1) or Ctrl-C
    /// (exit 130); refuses, moving nothing, when a node is down or slots are already
    /// moving (exit 3).
    #[arg(long)]
    pub(crate) apply: bool,
    /// With --apply: do not ask (required when stdin is not a terminal).
    #[arg(long, requires = "apply")]
    pub(crate) yes: bool,
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct TopArgs {
    /// Which configured cluster to read (required when the file names several).
    #[arg(long, value_name = "NAME")]
    pub(crate) cluster: Option<String>,
    /// What to rank by.
    #[arg(long, default_value = "cpu", value_parser = Measure::parser(&RANKABLE))]
    pub(crate) by: Measure,
    /// Time between the two snapshots the rates come from.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_window)]
    pub(crate) window: Duration,
    #[arg(long, value_name = "N", help = ranged("Slots listed", &HOT_LIMIT),
          default_value_t = HOT_LIMIT.default, value_parser = clap::value_parser!(u32).range(HOT_LIMIT.clap_range()))]
    pub(crate) limit: u32,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A window of at least 100 ms: rates over less are mostly noise.
fn parse_window(s: &str) -> Result<Duration, InvalidWindow> {
    let window = parse_duration(s).map_err(InvalidWindow::Duration)?;
    if window < Duration::from_millis(100) {
        return Err(InvalidWindow::TooShort(s.to_string()));
    }
    Ok(window)
}

/// Why `--window` was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
enum InvalidWindow {
    /// Not a duration.
    #[error(transparent)]
    Duration(InvalidDuration),
    /// Under 100 ms, as written.
    #[error("window `{0}` is too short (at least 100ms)")]
    TooShort(String),
}

fn parse_target(s: &str) -> Result<f64, InvalidTarget> {
    match s.trim().parse::<f64>() {
        Ok(t) if TARGET_RATIO.range().contains(&t) => Ok(t),
        _ => Err(InvalidTarget { given: s.to_string() }),
    }
}

/// A `--target` that is not a number within [`TARGET_RATIO`].
#[derive(Debug, thiserror::Error)]
#[error("target `{given}` must be a number from {min} to {max} (times the mean load)",
        min = TARGET_RATIO.min, max = TARGET_RATIO.max)]
pub(super) struct InvalidTarget {
    /// The text as given, quoted back.
    given: String,
}

/// A flag's help with its range, both from `crate::question`, so the help cannot
/// drift from what the flag accepts.
fn ranged<T: std::fmt::Display + Copy>(what: &str, bounds: &Bounded<T>) -> String {
    format!("{what} ({}-{})", bounds.min, bounds.max)
}
