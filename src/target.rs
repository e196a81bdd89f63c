//! Targets: a named cluster with its collector and its snapshot cache.
//!
//! Everything per-cluster hangs off a [`Target`], so serving several named clusters
//! from one process is a matter of building more of them; today the configuration
//! describes one, named `default`.

use crate::cache::SnapshotCache;
use crate::collect::ClusterCollector;
use crate::config::Settings;
use crate::render::json::SlotStatsJson;
use crate::render::metrics::RenderedBodies;
use std::sync::Arc;

/// One cluster the exporter reports on.
pub struct Target {
    /// Name for logs and, later, for choosing among several clusters.
    pub name: String,
    /// The cluster's snapshot cache; it owns the collector that refreshes it.
    pub cache: Arc<SnapshotCache<ClusterCollector>>,
    /// `/metrics` bodies of the current snapshot, rendered once and served to every scrape.
    pub metrics_bodies: RenderedBodies,
    /// The JSON slot entries of the current snapshot, encoded once for every range query.
    pub slot_stats_json: SlotStatsJson,
}

/// Everything the HTTP layer serves from.
pub struct Exporter {
    /// Never empty.
    targets: Vec<Target>,
}

impl Exporter {
    pub fn from_settings(settings: &Settings) -> Self {
        keep_large_buffers_out_of_the_heap();
        let collector = Arc::new(ClusterCollector::new(settings));
        let target = Target {
            name: "default".into(),
            cache: SnapshotCache::new(collector, settings.cache_ttl),
            metrics_bodies: RenderedBodies::default(),
            slot_stats_json: SlotStatsJson::default(),
        };
        Exporter { targets: vec![target] }
    }

    /// The cluster served on the unqualified paths (`/metrics`, `/api/...`).
    pub fn default_target(&self) -> &Target {
        &self.targets[0]
    }
}

/// Every refresh and render makes buffers of several megabytes (a body per format and
/// encoding, the snapshot, the JSON entries) that live until the next snapshot. glibc
/// serves such buffers with mmap, but raises that threshold to the size of the first
/// one freed, after which they come from the heap, where freed space is rarely given
/// back: resident memory then stays near the worst overlap of two snapshots (77 MB
/// instead of 49 MB with replicas, docs/performance.md). A fixed threshold keeps them
/// mapped, and each is returned to the system when freed.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        const THRESHOLD: libc::c_int = 256 * 1024;
        // SAFETY: mallopt only tunes the allocator, which stays valid for any value.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        });
    }
}
