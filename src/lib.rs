//! valkey-slot-exporter: per-slot statistics of a Valkey cluster (and Redis 8.2+) for
//! Prometheus and for people with curl.
//!
//! # Layout
//!
//! Data flows one way, from Valkey to HTTP; no module reaches back up the list
//! (`tests/architecture.rs` fails on any import circle between files).
//!
//! - [`config`]: flags, environment, TOML file and defaults merged into [`config::Settings`].
//! - `addr` and `question`: vocabularies every part shares (a node's address; the
//!   measures and the insight questions with their defaults and ranges).
//! - `collect`: one refresh: topology from any seed, `CLUSTER SLOT-STATS` from every
//!   primary at once, replies parsed and attributed to slots.
//! - `snapshot`: the result, plain immutable data: per slot, its node and statistics;
//!   per node, whether and how fast it answered.
//! - `aggregate`: each snapshot folded into running totals and the rates of its window
//!   (an *observation*), and the rankings over it.
//! - `cache`: the observation served until the TTL runs out, one refresh at a time.
//! - `target`: a cluster with its collector, aggregator and cache; the [`Exporter`]
//!   holds them by name.
//! - `insight`: hot slots, balance and the rebalance plan, computed from one observation.
//! - `render`: an observation to `/metrics` text, JSON, insight answers, tables and the page.
//! - [`http`]: hyper server, connection bounds, auth, request parsing, routes, shutdown.
//! - [`oneshot`]: the `plan` and `top` commands: two snapshots, an answer, exit.
//! - `sync`: the one policy for poisoned locks.

#![warn(unreachable_pub)]

pub mod addr;
pub(crate) mod aggregate;
pub(crate) mod apply;
pub(crate) mod cache;
pub(crate) mod collect;
pub mod config;
pub mod http;
pub(crate) mod insight;
pub mod oneshot;
pub(crate) mod question;
pub(crate) mod render;
pub(crate) mod snapshot;
pub(crate) mod sync;
pub(crate) mod target;

pub use http::serve;
pub use target::Exporter;

/// Internals the benchmarks (`benches/`) measure, gathered here so the public API stays
/// the few items above. Not a stable interface.
#[doc(hidden)]
pub mod for_benchmarks {
    pub use crate::aggregate::{Aggregator, Observation};
    pub use crate::cache::Served;
    pub use crate::collect::ClusterCollector;
    pub use crate::collect::merge::{NodeAnswer, merge};
    pub use crate::collect::node::{ConnectOptions, NodePool, RawCommand};
    pub use crate::collect::reply::parse_slot_stats;
    pub use crate::collect::topology::{Topology, all_slots_request};
    pub use crate::config::SlotSeries;
    pub use crate::render::gzip::gzip;
    pub use crate::render::metrics::{Exposition, render, render_gzip, render_without_aggregates};
    pub use crate::render::negotiate::Format;
    pub use crate::render::slot_entries::{EncodedSlots, slot_stats_from};
    pub use crate::snapshot::{ClusterState, Role, SlotStats, Snapshot};
}
