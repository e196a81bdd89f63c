//! `/metrics`: a prometheus-client [`Collector`] that renders straight from an
//! observation (a snapshot and what was derived from it).
//!
//! There are no metric objects kept in step with the cluster: each render walks the
//! immutable observation once per family. A value the server did not report is
//! skipped, so a missing statistic is an absent series, never a zero. Each file writes
//! one group of families: [`slots`] (per slot, as the profile selects), [`nodes`],
//! [`moves`] (open slots and migration jobs), [`ranges`] (per slot range) and
//! [`exporter`] (the exporter itself).
//!
//! An observation is rendered once per format and encoding ([`super::bodies`]).

mod exporter;
mod moves;
mod nodes;
mod ranges;
mod slots;
#[cfg(test)]
pub(crate) mod tests;

use super::gzip::GzipSink;
use super::negotiate::Format;
use crate::aggregate::Observation;
use crate::config::SlotSeries;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use slots::Selection;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What shapes a cluster's exposition besides the observation itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exposition {
    /// How long a snapshot is served; quoted in HELP texts so readers know the values
    /// can be up to that old.
    pub ttl: Duration,
    /// Which per-slot series to write.
    pub slot_series: SlotSeries,
}

/// Renders a whole observation in `format`.
pub fn render(observation: Arc<Observation>, exposition: Exposition, format: Format) -> String {
    let selection = Selection::of(&observation, exposition.slot_series);
    let mut out = String::with_capacity(estimated_size(&observation, &selection));
    render_into(&mut out, ObservationCollector { observation, exposition, selection, aggregates: true }, format);
    out
}

/// Renders a whole observation in `format` straight into gzip, without the
/// uncompressed body ever existing whole: what a Prometheus scrape needs, in an
/// eighth of the memory.
pub fn render_gzip(observation: Arc<Observation>, exposition: Exposition, format: Format) -> Vec<u8> {
    let selection = Selection::of(&observation, exposition.slot_series);
    let mut sink = GzipSink::new(estimated_size(&observation, &selection) / 6);
    render_into(&mut sink, ObservationCollector { observation, exposition, selection, aggregates: true }, format);
    sink.finish()
}

/// The exposition as it was before the node and range aggregates existed (per-slot,
/// node status and exporter families only): the baseline the benchmark compares the
/// aggregates' cost with. Not served.
pub fn render_without_aggregates(observation: Arc<Observation>, exposition: Exposition, format: Format) -> String {
    let selection = Selection::of(&observation, exposition.slot_series);
    let mut out = String::with_capacity(estimated_size(&observation, &selection));
    let collector = ObservationCollector { observation, exposition, selection, aggregates: false };
    render_into(&mut out, collector, format);
    out
}

fn render_into(out: &mut impl fmt::Write, collector: ObservationCollector, format: Format) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    let written = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, &registry),
    };
    // Writing into memory cannot fail, and every name and label here is ours.
    written.expect("rendering metrics into memory");
}

/// Room for the whole body up front, so a 5 MB render is not copied at every doubling:
/// a per-slot sample line is under 100 bytes; the rest is a few tens of kilobytes.
fn estimated_size(observation: &Observation, selection: &Selection) -> usize {
    let records = observation.snapshot.slots.iter().filter(|r| selection.contains(r.slot)).count();
    records * 4 * 96 + observation.snapshot.nodes.len() * 2048 + observation.totals.ranges.len() * 512 + 16 * 1024
}

#[derive(Debug)]
struct ObservationCollector {
    observation: Arc<Observation>,
    exposition: Exposition,
    /// The slots whose per-slot series are written.
    selection: Selection,
    /// False only for the benchmark's baseline.
    aggregates: bool,
}

impl Collector for ObservationCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let cached =
            format!(" Served from a snapshot cached up to {}.", humantime::format_duration(self.exposition.ttl));
        let observation = &self.observation;
        slots::encode(&mut encoder, observation, &self.selection, &cached)?;
        if !self.aggregates {
            nodes::encode_status(&mut encoder, &observation.snapshot.nodes, &cached)?;
            return exporter::encode(&mut encoder, observation, self.exposition.slot_series, &self.selection);
        }
        nodes::encode(&mut encoder, observation, &cached)?;
        moves::encode(&mut encoder, &observation.snapshot, &cached)?;
        ranges::encode(&mut encoder, &observation.totals, &cached)?;
        exporter::encode(&mut encoder, observation, self.exposition.slot_series, &self.selection)
    }
}
