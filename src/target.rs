//! Targets: a named cluster with its collector and its snapshot cache.
//!
//! Everything per-cluster hangs off a [`Target`], so serving several named clusters
//! from one process is a matter of building more of them; today the configuration
//! describes one, named `default`.

use crate::cache::{SnapshotCache, SnapshotSource};
use crate::collect::ClusterCollector;
use crate::config::Settings;
use crate::render::bodies::RenderedBodies;
use crate::render::json::SlotStatsJson;
use std::sync::Arc;

/// One cluster the exporter reports on.
pub(crate) struct Target {
    /// The cluster's snapshot cache; it owns the collector that refreshes it.
    pub cache: Arc<SnapshotCache<ClusterCollector>>,
    /// `/metrics` bodies of the current snapshot, rendered once and served to every scrape.
    pub metrics_bodies: RenderedBodies,
    /// The JSON slot entries of the current snapshot, encoded once for every range query.
    pub slot_stats_json: SlotStatsJson,
}

impl SnapshotSource for ClusterCollector {
    type Output = crate::snapshot::Snapshot;

    fn refresh(&self) -> impl std::future::Future<Output = Self::Output> + Send {
        ClusterCollector::refresh(self)
    }
}

/// Everything the HTTP layer serves from.
pub struct Exporter {
    /// Never empty.
    targets: Vec<Target>,
}

impl Exporter {
    pub fn from_settings(settings: &Settings) -> Self {
        let collector = Arc::new(ClusterCollector::new(settings));
        let target = Target {
            cache: SnapshotCache::new(collector, settings.cache_ttl),
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
