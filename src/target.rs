//! Targets: the named clusters the exporter reports on, each with its own collector,
//! aggregates, cache and rendered bodies.
//!
//! Nothing is shared between targets: one cluster down, stalled or refusing the
//! password costs the others nothing, and each target's connections carry only its
//! own credentials. A request names a target by name (`?cluster=NAME`), never by
//! address: no request can point the exporter at a host.

use crate::aggregate::{Aggregator, Observation};
use crate::cache::{SnapshotCache, SnapshotSource};
use crate::collect::ClusterCollector;
use crate::config::{ClusterName, ClusterSettings, NodeUrl, Settings, Unpicked, pick};
use crate::render::bodies::RenderedBodies;
use crate::render::metrics::Exposition;
use crate::render::slot_entries::SlotStatsJson;
use std::sync::Arc;

/// One cluster the exporter reports on.
pub(crate) struct Target {
    /// The cluster's name: `default` for the flat configuration.
    pub(crate) name: ClusterName,
    /// Where discovery starts, without credentials (URLs never carry any): for
    /// `/api/clusters`.
    pub(crate) seeds: Vec<NodeUrl>,
    /// The cluster's observation cache; it owns the collector that refreshes it.
    pub(crate) cache: Arc<SnapshotCache<ClusterSource>>,
    /// How `/metrics` is shaped for this cluster (TTL quoted in HELP, slot profile).
    pub(crate) exposition: Exposition,
    /// Whether the nodes speak TLS: the rebalance commands then say `--tls`.
    pub(crate) valkey_tls: bool,
    /// `/metrics` bodies of the current snapshot, rendered once and served to every scrape.
    pub(crate) metrics_bodies: RenderedBodies,
    /// The JSON slot entries of the current snapshot, encoded once for every range query.
    pub(crate) slot_stats_json: SlotStatsJson,
}

impl Target {
    fn new(settings: &ClusterSettings) -> Self {
        let source = ClusterSource {
            collector: ClusterCollector::new(settings),
            aggregator: Aggregator::new(settings.slot_range_size),
        };
        Target {
            name: settings.name.clone(),
            seeds: settings.seeds.clone(),
            cache: SnapshotCache::new(Arc::new(source), settings.cache_ttl),
            exposition: Exposition { ttl: settings.cache_ttl, slot_series: settings.slot_series },
            valkey_tls: settings.valkey_tls.is_some(),
            metrics_bodies: RenderedBodies::default(),
            slot_stats_json: SlotStatsJson::default(),
        }
    }
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

    fn window_seconds(observation: &Observation) -> Option<f64> {
        observation.window.seconds
    }
}

/// Everything the HTTP layer serves from.
pub struct Exporter {
    /// In name order; never empty.
    targets: Vec<Target>,
    /// What `/sd` announces as the target address, when configured.
    pub(crate) external_address: Option<String>,
}

impl Exporter {
    pub fn from_settings(settings: &Settings) -> Self {
        Exporter {
            targets: settings.clusters.iter().map(Target::new).collect(),
            external_address: settings.web_external_address.clone(),
        }
    }

    /// The cluster a request names; with one cluster configured, the name may be left out.
    pub(crate) fn target(&self, name: Option<&str>) -> Result<&Target, Unpicked> {
        pick(&self.targets, name, |t| &t.name)
    }

    pub(crate) fn targets(&self) -> &[Target] {
        &self.targets
    }
}
