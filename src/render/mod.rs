//! Renderers: pure functions from a snapshot to response bodies.
//!
//! - [`metrics`]: Prometheus text 0.0.4 / OpenMetrics, through prometheus-client.
//! - [`json`]: the JSON API envelope, error envelope and endpoint index.

pub mod json;
pub mod metrics;
