//! Renderers: from a snapshot to response bodies.
//!
//! - [`metrics`]: the Prometheus exposition (text 0.0.4 / OpenMetrics) through a
//!   prometheus-client collector; [`negotiate`] picks format and encoding, [`gzip`]
//!   compresses, [`bodies`] keeps each body of the current snapshot once rendered.
//! - [`json`]: the JSON API envelope, error envelope and endpoint index.
//! - [`insight`]: the hot-slot, balance and rebalance-plan answers; [`tables`] the
//!   same as text for the one-shot commands.
//! - [`slot_map`]: every slot's owner and value, for the page's map.
//! - [`moves`]: open slots and migration jobs (`/api/cluster/migrations`).
//! - [`page`]: the embedded page (HTML, CSS, JS) and its Content-Security-Policy.
//! - [`per_snapshot`]: work done once per snapshot, off the async threads.

pub(crate) mod apply;
pub(crate) mod bodies;
pub(crate) mod gzip;
pub(crate) mod insight;
pub(crate) mod json;
pub(crate) mod metrics;
pub(crate) mod moves;
pub(crate) mod negotiate;
pub(crate) mod page;
pub(crate) mod per_snapshot;
pub(crate) mod slot_entries;
pub(crate) mod slot_map;
pub(crate) mod tables;
