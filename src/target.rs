//! Targets: a named cluster with its collector and its snapshot cache.
//!
//! Everything per-cluster hangs off a [`Target`], so serving several named clusters
//! from one process is a matter of building more of them; today the configuration
//! describes one, named `default`.

use crate::aggregate::{Aggregator, Observation};
use crate::cache::{SnapshotCache, SnapshotSource};
use crate::collect::ClusterCollector;
use crate::config::Settings;
use crate::render::bodies::RenderedBodies;
use crate::render::json::SlotStatsJson;
use crate::render::metrics::Exposition;
use std::sync::Arc;

/// One cluster the exporter reports on.
pub(crate) struct Target {
    /// The cluster's name: `default` for the flat configuration.
    pub name: String,
    /// The cluster's observation cache; it owns the collector that refreshes it.
    pub cache: Arc<SnapshotCache<ClusterSource>>,
    /// How `/metrics` is shaped for this cluster (TTL quoted in HELP, slot profile).
    pub exposition: Exposition,
    /// Whether the nodes speak TLS: the rebalance commands then say `--tls`.
    pub valkey_tls: bool,
    /// `/metrics` bodies of the current snapshot, rendered once and served to every scrape.
    pub metrics_bodies: RenderedBodies,
    /// The JSON slot entries of the current snapshot, encoded once for every range query.
    pub slot_stats_json: SlotStatsJson,
}

/// Where a cluster's observations come from: a refresh of the cluster, folded into
/// the running aggregates (the cache refreshes one at a time, so they fold in order).
pub(crate) struct ClusterSource {
    collector: ClusterCollector,
    aggregator: Aggregator,
}

impl SnapshotSource for ClusterSource {
    type Output = Observation;

    async fn refresh(&self) -> Observation {
        let snapshot = self.collector.refresh().await;
        self.aggregator.observe(snapshot)
    }
}

/// Everything the HTTP layer serves from.
pub struct Exporter {
    /// Never empty.
    targets: Vec<Target>,
}

impl Exporter {
    pub fn from_settings(settings: &Settings) -> Self {
        let source = ClusterSource {
            collector: ClusterCollector::new(settings),
            aggregator: Aggregator::new(settings.slot_range_size),
        };
        let target = Target {
            name: "default".into(),
            cache: SnapshotCache::new(Arc::new(source), settings.cache_ttl),
            exposition: Exposition { ttl: settings.cache_ttl, slot_series: settings.slot_series },
            valkey_tls: settings.valkey_tls.is_some(),
            metrics_bodies: RenderedBodies::default(),
            slot_stats_json: SlotStatsJson::default(),
        };
        Exporter { targets: vec![target] }
    }

    /// The cluster served on the unqualified paths (`/metrics`, `/api/...`).
    pub(crate) fn default_target(&self) -> &Target {
        &self.targets[0]
    }
}
