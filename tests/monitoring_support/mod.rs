//! Support for `tests/monitoring_stack.rs`: the repository's monitoring files
//! ([`files`]), the Grafana dashboards as data ([`dashboards`]), and a real Prometheus
//! with a client for its HTTP API ([`prometheus`]), run as a child process that cannot
//! outlive the test (`support::process`).

// Each test binary compiles its own copy of this module and may use only part of it.
#![allow(dead_code)]

pub mod dashboards;
pub mod files;

pub mod prometheus;
