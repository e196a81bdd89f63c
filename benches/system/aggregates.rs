//! What the aggregates cost the exporter: a refresh and a text render, without and
//! with them, on the same live cluster, round by round.
//!
//! Without is the exposition as it was before issue 9 (`render_without_aggregates`:
//! per-slot, node status and exporter families) of a bare observation; with is what
//! the exporter does now: the snapshot folded into the running aggregates
//! (`Aggregator::observe`: node and range counters, per-slot rates), then rendered with
//! the node, range and hottest-slot families, for each profile. Every variant does its
//! own refresh, in an order that rotates each round, so drift and the cluster's
//! traffic hit them alike.

use crate::load::median_ms;
use crate::refresh::timed;
use clap::Parser as _;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use valkey_slot_exporter::config::{self, Cli};
use valkey_slot_exporter::for_benchmarks::{
    Aggregator, ClusterCollector, Exposition, Format, Observation, SlotSeries, Snapshot, render,
    render_without_aggregates,
};

/// The variants, in the report's order: the baseline, then each profile with aggregates.
const VARIANTS: [(&str, Option<&str>); 4] = [
    ("without aggregates (before issue 9), all", None),
    ("with aggregates, all", Some("all")),
    ("with aggregates, top:100", Some("top:100")),
    ("with aggregates, none", Some("none")),
];

/// Medians of one variant, in ms.
struct Timing {
    refresh: f64,
    after_refresh: f64,
    total: f64,
    /// Of the last round.
    body_len: usize,
}

pub struct AggregateCost {
    rounds: usize,
    variants: Vec<(&'static str, Timing)>,
}

/// One variant: its aggregator (none for the baseline) and profile.
struct Variant {
    aggregator: Option<Aggregator>,
    exposition: Exposition,
    samples: Vec<(Duration, Duration, Duration)>,
    body_len: usize,
}

impl Variant {
    /// Refresh, then fold (with aggregates) and render; wall times of the refresh, of
    /// the rest, and of both.
    async fn round(&mut self, collector: &ClusterCollector) -> (Duration, Duration, Duration) {
        let (refresh, _, snapshot) = timed(collector.refresh()).await;
        assert_eq!(snapshot.failed_nodes().count(), 0, "a node failed during the benchmark");
        let (after, _, body) = timed(async { self.render(snapshot) }).await;
        self.body_len = body.len();
        (refresh, after, refresh + after)
    }

    fn render(&self, snapshot: Snapshot) -> String {
        match &self.aggregator {
            Some(aggregator) => render(Arc::new(aggregator.observe(snapshot)), self.exposition, Format::Text),
            None => {
                let bare = Observation {
                    snapshot: Arc::new(snapshot),
                    window: Default::default(),
                    totals: Default::default(),
                    sustained: Default::default(),
                };
                render_without_aggregates(Arc::new(bare), self.exposition, Format::Text)
            }
        }
    }
}

pub async fn measure(seed: &str, rounds: usize) -> AggregateCost {
    let cli = Cli::try_parse_from(["valkey-slot-exporter", "--nodes", seed, "--node-timeout", "10s"]).expect("flags");
    let settings = config::load(cli).expect("settings");
    let cluster = &settings.clusters[0];
    let collector = ClusterCollector::new(cluster);
    let mut variants: Vec<Variant> = VARIANTS
        .iter()
        .map(|(_, profile)| {
            let slot_series: SlotSeries = profile.unwrap_or("all").parse().expect("profile");
            Variant {
                aggregator: profile.map(|_| Aggregator::new(cluster.slot_range_size)),
                exposition: Exposition { ttl: cluster.cache_ttl, slot_series },
                samples: Vec::new(),
                body_len: 0,
            }
        })
        .collect();
    for round in 0..rounds + 2 {
        for i in 0..variants.len() {
            let variant = &mut variants[(round + i) % VARIANTS.len()];
            let timing = variant.round(&collector).await;
            // The first rounds connect, warm up allocators and give every aggregator a
            // previous snapshot (rates); they are not counted.
            if round >= 2 {
                variant.samples.push(timing);
            }
        }
    }
    let variants = VARIANTS
        .iter()
        .zip(variants)
        .map(|((name, _), v)| {
            let column = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
                median_ms(&v.samples.iter().map(pick).collect::<Vec<_>>())
            };
            let timing = Timing {
                refresh: column(|s| s.0),
                after_refresh: column(|s| s.1),
                total: column(|s| s.2),
                body_len: v.body_len,
            };
            (*name, timing)
        })
        .collect();
    AggregateCost { rounds, variants }
}

impl AggregateCost {
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let _ =
            writeln!(o, "### Refresh and render, without and with the aggregates (median of {} rounds)\n", self.rounds);
        let _ = writeln!(o, "| variant | refresh ms | fold + render ms | total ms | × without | text body KB |");
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
        let base = self.variants.first().map_or(1.0, |v| v.1.total);
        for (name, t) in &self.variants {
            let _ = writeln!(
                o,
                "| {name} | {:.1} | {:.1} | {:.1} | {:.3} | {} |",
                t.refresh,
                t.after_refresh,
                t.total,
                t.total / base,
                t.body_len / 1024
            );
        }
        let _ = writeln!(o);
        o
    }
}
