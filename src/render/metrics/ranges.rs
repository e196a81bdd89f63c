//! Per-slot-range families (label `slot_range`, the range's first slot zero-padded to
//! five digits): the slot space at a glance in a few hundred series, summed over the
//! primaries so no slot counts twice.

use super::nodes::ACCUMULATION;
use crate::aggregate::ledger::{Sums, Totals};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt;

pub(super) fn encode(encoder: &mut DescriptorEncoder, totals: &Totals, cached: &str) -> fmt::Result {
    let labels: Vec<String> =
        (0..totals.ranges.len()).map(|i| format!("{:05}", i * usize::from(totals.range_size))).collect();
    let ranges = || labels.iter().map(String::as_str).zip(&totals.ranges);
    let width = totals.range_size;
    let keys: Vec<(&str, u64)> = ranges().filter_map(|(label, sums)| sums.keys.map(|k| (label, k))).collect();
    if !keys.is_empty() {
        let help = format!(
            "Keys in the {width} slots starting at slot_range, on the primaries that own them; absent while none of \
             those slots is known.{cached}"
        );
        let mut metric = encoder.encode_descriptor("valkey_slot_range_keys", &help, None, MetricType::Gauge)?;
        for (label, value) in keys {
            metric.encode_family(&[("slot_range", label)])?.encode_gauge(&(value as i64))?;
        }
    }
    let counters: [(&str, Unit, &str, f64); 3] = [
        ("valkey_slot_range_cpu", Unit::Seconds, "CPU time spent on the commands of the range's slots.", 1e6),
        (
            "valkey_slot_range_network_receive",
            Unit::Bytes,
            "Bytes received for the commands of the range's slots.",
            1.0,
        ),
        ("valkey_slot_range_network_transmit", Unit::Bytes, "Bytes sent for the commands of the range's slots.", 1.0),
    ];
    for (field, (name, unit, help, divisor)) in counters.into_iter().enumerate() {
        let series: Vec<(&str, f64)> = ranges()
            .filter_map(|(label, sums): (&str, &Sums)| sums.counters[field].map(|v| (label, v as f64 / divisor)))
            .collect();
        if series.is_empty() {
            continue;
        }
        let help = format!("{help} The {width} slots from slot_range, primaries only.{ACCUMULATION}{cached}");
        let mut metric = encoder.encode_descriptor(name, &help, Some(&unit), MetricType::Counter)?;
        for (label, value) in series {
            metric.encode_family(&[("slot_range", label)])?.encode_counter::<NoLabelSet, _, f64>(&value, None)?;
        }
    }
    Ok(())
}
