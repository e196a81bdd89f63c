//! The exporter's own families: how fresh the snapshot is, how long it took, which
//! version and which slot profile.

use super::slots::Selection;
use crate::aggregate::Observation;
use crate::config::SlotSeries;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt;
use std::time::UNIX_EPOCH;

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    observation: &Observation,
    profile: SlotSeries,
    selection: &Selection,
) -> fmt::Result {
    let snapshot = &observation.snapshot;
    let taken_at = snapshot.taken_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    encoder
        .encode_descriptor(
            "valkey_exporter_last_refresh_timestamp",
            "Unix time when the snapshot being served was taken.",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?
        .encode_gauge(&taken_at)?;
    encoder
        .encode_descriptor(
            "valkey_exporter_refresh_duration",
            "How long the refresh that took the snapshot being served lasted.",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?
        .encode_gauge(&snapshot.refresh_duration.as_secs_f64())?;
    let slots = i64::try_from(selection.slots(snapshot)).unwrap_or(i64::MAX);
    encoder
        .encode_descriptor(
            "valkey_exporter_slot_series",
            "Slots whose per-slot series this scrape carries; profile is the --slot-series setting (all, top:N, none).",
            None,
            MetricType::Gauge,
        )?
        .encode_family(&[("profile", profile.name().as_str())])?
        .encode_gauge(&slots)?;
    encoder
        .encode_descriptor("valkey_exporter_build", "Exporter version; value is always 1.", None, MetricType::Info)?
        .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])
}
