//! Per-slot families (`valkey_slot_*`, labels `node` and `slot`), for the slots the
//! profile selects.

use crate::aggregate::Observation;
use crate::aggregate::rank::{SlotSet, top_slots};
use crate::config::SlotSeries;
use crate::snapshot::{SlotRecord, SlotStats, Snapshot};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt;

/// The slots whose series a render writes.
#[derive(Debug)]
pub(super) enum Selection {
    All,
    Some(Box<SlotSet>),
    None,
}

impl Selection {
    pub(super) fn of(observation: &Observation, profile: SlotSeries) -> Selection {
        match profile {
            SlotSeries::All => Selection::All,
            SlotSeries::None => Selection::None,
            SlotSeries::Top(n) => Selection::Some(Box::new(top_slots(observation, usize::from(n)))),
        }
    }

    pub(super) fn contains(&self, slot: u16) -> bool {
        match self {
            Selection::All => true,
            Selection::Some(set) => set.contains(slot),
            Selection::None => false,
        }
    }

    /// How many distinct slots are written, for `valkey_exporter_slot_series`.
    pub(super) fn slots(&self, snapshot: &Snapshot) -> usize {
        match self {
            Selection::All => {
                let mut slots: Vec<u16> = snapshot.slots.iter().map(|r| r.slot).collect();
                slots.dedup();
                slots.len()
            }
            Selection::Some(set) => set.len(),
            Selection::None => 0,
        }
    }
}

/// One per-slot family: its name, unit, type, HELP, and the field it shows.
struct SlotFamily {
    name: &'static str,
    unit: Option<Unit>,
    metric_type: MetricType,
    help: &'static str,
    value: fn(&SlotStats) -> Option<SlotValue>,
}

enum SlotValue {
    Int(u64),
    Float(f64),
}

const SLOT_FAMILIES: &[SlotFamily] = &[
    SlotFamily {
        name: "valkey_slot_keys",
        unit: None,
        metric_type: MetricType::Gauge,
        help: "Keys in the slot (CLUSTER SLOT-STATS key-count).",
        value: |s| s.key_count.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_cpu",
        unit: Some(Unit::Seconds),
        metric_type: MetricType::Counter,
        help: "CPU time spent on the slot's commands since the slot came to this node (cpu-usec / 1e6).",
        value: |s| s.cpu_usec.map(|u| SlotValue::Float(u as f64 / 1e6)),
    },
    SlotFamily {
        name: "valkey_slot_network_receive",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Counter,
        help: "Bytes received for the slot's commands (network-bytes-in).",
        value: |s| s.network_bytes_in.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_network_transmit",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Counter,
        help: "Bytes sent for the slot's commands (network-bytes-out).",
        value: |s| s.network_bytes_out.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_memory",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Gauge,
        help: "Memory used by the slot's keys (memory-bytes, Redis 8.2+).",
        value: |s| s.memory_bytes.map(SlotValue::Int),
    },
];

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    observation: &Observation,
    selection: &Selection,
    cached: &str,
) -> fmt::Result {
    if matches!(selection, Selection::None) {
        return Ok(());
    }
    for family in SLOT_FAMILIES {
        encode_family(encoder, &observation.snapshot, selection, family, cached)?;
    }
    Ok(())
}

fn encode_family(
    encoder: &mut DescriptorEncoder,
    snapshot: &Snapshot,
    selection: &Selection,
    family: &SlotFamily,
    cached: &str,
) -> fmt::Result {
    let mut series = snapshot
        .slots
        .iter()
        .filter(|r| selection.contains(r.slot))
        .filter_map(|r| (family.value)(&r.stats).map(|v| (r, v)))
        .peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let help = format!("{}{cached}", family.help);
    let mut metric = encoder.encode_descriptor(family.name, &help, family.unit.as_ref(), family.metric_type)?;
    for (record, value) in series {
        let labels = slot_labels(snapshot, record);
        let mut sample = metric.encode_family(&labels)?;
        match (family.metric_type, value) {
            (MetricType::Counter, SlotValue::Int(v)) => sample.encode_counter::<NoLabelSet, _, u64>(&v, None)?,
            (MetricType::Counter, SlotValue::Float(v)) => sample.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
            (_, SlotValue::Int(v)) => sample.encode_gauge(&v)?,
            (_, SlotValue::Float(v)) => sample.encode_gauge(&v)?,
        }
    }
    Ok(())
}

/// `node` then `slot`: two label sets of different value types, encoded without allocating.
type SlotLabels<'a> = ([(&'static str, &'a str); 1], [(&'static str, u16); 1]);

fn slot_labels<'a>(snapshot: &'a Snapshot, record: &SlotRecord) -> SlotLabels<'a> {
    ([("node", snapshot.node(record).addr.as_str())], [("slot", record.slot)])
}
