//! Support for `tests/monitoring_stack.rs`, `tests/fleet.rs` (and the system
//! benchmark's `prometheus` section): the repository's monitoring files ([`files`]),
//! its exporter configuration files loaded as the exporter loads them
//! ([`exporter_config`]), the Grafana dashboards as data ([`dashboards`]), a real Prometheus with a client for its HTTP API
//! ([`prometheus`]), run as a child process that cannot outlive the test
//! (`support::process`), the questions the tests ask it ([`checks`]), and read
//! traffic for a cluster ([`traffic`]).

// Each test binary compiles its own copy of this module and may use only part of it.
#![allow(dead_code)]

pub mod checks;
pub mod dashboards;
pub mod exporter_config;
pub mod files;
pub mod prometheus;
pub mod traffic;
