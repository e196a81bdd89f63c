//! docs/fleet.md, proven rather than parsed:
//!
//! * [`doc_checks`]: every Prometheus configuration in it passes `promtool check
//!   config` (with the shipped rules where it loads them); every other YAML block
//!   parses; every exporter configuration loads with the exporter's own loader, and the
//!   exporters' clusters are disjoint.
//! * [`split`]: the split itself, on real servers: one Valkey cluster per cluster the
//!   guide's exporter files name, two exporter processes each serving its own file's
//!   clusters, and a real Prometheus configured from the guide's split configuration
//!   finding every cluster exactly once through both `/sd` endpoints; the guide's two
//!   `hashmod` shards beside it scrape every cluster once between them; and with one
//!   exporter gone, its clusters stay as targets with `up == 0`.
//!
//! [`doc`] reads the guide's blocks for both.

mod monitoring_support;
mod support;

#[path = "fleet/doc.rs"]
mod doc;
#[path = "fleet/doc_checks.rs"]
mod doc_checks;
#[path = "fleet/split.rs"]
mod split;
