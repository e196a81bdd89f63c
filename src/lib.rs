//! valkey-slot-exporter: per-slot statistics of a Valkey cluster (and Redis 8.2+) for
//! Prometheus and for people with curl.
//!
//! # Layout
//!
//! Data flows one way, from Valkey to HTTP; no module reaches back up the list.
//!
//! - [`config`]: flags, environment, TOML file and defaults merged into [`config::Settings`].
//! - [`collect`]: one refresh: topology from any seed ([`collect::topology`]),
//!   `CLUSTER SLOT-STATS` from every primary at once ([`collect::node`]), replies parsed
//!   ([`collect::reply`]) and attributed to slots ([`collect::merge`]).
//! - [`snapshot`]: the result, plain immutable data: per slot, its node and statistics;
//!   per node, whether and how fast it answered.
//! - [`cache`]: the snapshot served until the TTL runs out, one refresh at a time.
//! - [`target`]: a cluster with its collector and cache; the [`target::Exporter`] holds them.
//! - [`render`]: snapshot to `/metrics` text ([`render::metrics`]) and JSON ([`render::json`]).
//! - [`http`]: hyper server, routes, query parsing, graceful shutdown.

pub mod addr;
pub mod cache;
pub mod collect;
pub mod config;
pub mod http;
pub mod render;
pub mod snapshot;
pub mod target;

pub use http::serve;
pub use target::Exporter;
