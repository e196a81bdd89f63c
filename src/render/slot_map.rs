//! The slot map as JSON, for the page: every slot's owner and its value in one measure
//! (`by=keys|cpu|network`) or in all of them at once (`by=all`), in the insight
//! answers' envelope and with their basis (window, when rates come).

use super::insight::{Basis, Freshness, NodeRef, basis, node_ref};
use super::json::{JsonReply, success};
use crate::aggregate::Observation;
use crate::aggregate::rank::measured;
use crate::insight::hot::NO_WINDOW_NOTE;
use crate::question::{MAPPED, Measure};
use serde::Serialize;
use std::time::SystemTime;

#[derive(Serialize)]
struct MapNode<'a> {
    #[serde(flatten)]
    node: NodeRef<'a>,
    up: bool,
}

#[derive(Serialize)]
struct SlotMapData<'a> {
    by: &'static str,
    /// The primaries, in address order; `owners` points into this list.
    nodes: Vec<MapNode<'a>>,
    /// Per slot (16384), the index in `nodes` of its owner; `null` when unassigned.
    owners: Vec<Option<usize>>,
    /// Per slot, the measure (keys, or a rate per second); `null` when unknown: its
    /// primary did not answer, or the slot has no rate in this window.
    values: Vec<Option<f64>>,
    #[serde(flatten)]
    basis: Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// `by=all`: the map in every measure at once, so the page asks once per refresh.
#[derive(Serialize)]
struct AllMapsData<'a> {
    by: &'static str,
    /// The size of the slot space, so the page need not hard-code it.
    slot_count: usize,
    /// As in [`SlotMapData`].
    nodes: Vec<MapNode<'a>>,
    /// As in [`SlotMapData`].
    owners: Vec<Option<usize>>,
    /// Per measure name (`keys`, `cpu`, `network`), per slot, as `values` in
    /// [`SlotMapData`]; an object, so the page finds a measure by its name.
    values: ByMeasure,
    #[serde(flatten)]
    basis: Basis,
    /// Set when the rate measures (cpu, network) have no window yet; keys never lack one.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// Values per measure, written as a JSON object keyed by the measure's name, in order.
struct ByMeasure(Vec<(&'static str, Vec<Option<f64>>)>);

impl Serialize for ByMeasure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, values)| (name, values)))
    }
}

/// The primaries (in address order) and each slot's owner as an index among them.
fn map_owners(observation: &Observation) -> (Vec<MapNode<'_>>, Vec<Option<usize>>) {
    let snapshot = &observation.snapshot;
    let primaries: Vec<usize> =
        (0..snapshot.nodes.len()).filter(|&i| snapshot.nodes[i].role == crate::snapshot::Role::Primary).collect();
    let index_of = |node: u32| primaries.iter().position(|&p| p == node as usize);
    let owners = if snapshot.owners.is_empty() {
        vec![None; crate::snapshot::SLOT_COUNT]
    } else {
        snapshot.owners.iter().map(|o| o.and_then(index_of)).collect()
    };
    let nodes = primaries
        .iter()
        .map(|&i| MapNode { node: node_ref(&snapshot.nodes[i]), up: snapshot.nodes[i].is_up() })
        .collect();
    (nodes, owners)
}

/// Each slot's value of `measure` on its primary, to two decimals; `null` when unknown.
fn map_values(observation: &Observation, measure: Measure) -> Vec<Option<f64>> {
    let snapshot = &observation.snapshot;
    let mut values = vec![None; crate::snapshot::SLOT_COUNT];
    for (position, record) in snapshot.slots.iter().enumerate() {
        if snapshot.node(record).role == crate::snapshot::Role::Primary {
            values[usize::from(record.slot)] =
                measured(observation, measure, position).map(|v| (v * 100.0).round() / 100.0);
        }
    }
    values
}

/// The whole slot space in one measure, for the page's map: one owner and one value
/// per slot, compact (about 100 KB for a rate, a fraction of that gzipped).
pub(crate) fn one(observation: &Observation, measure: Measure, freshness: Freshness, now: SystemTime) -> JsonReply {
    let (nodes, owners) = map_owners(observation);
    let no_rates = measure.is_rate() && !observation.window.has_rates();
    let data = SlotMapData {
        by: measure.name(),
        nodes,
        owners,
        values: map_values(observation, measure),
        basis: basis(observation, freshness),
        note: no_rates.then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}

/// The slot space in keys, CPU and network with the owners once: what the page draws
/// and shows in its tooltip, in one answer per refresh instead of three.
pub(crate) fn all(observation: &Observation, freshness: Freshness, now: SystemTime) -> JsonReply {
    let (nodes, owners) = map_owners(observation);
    let values = ByMeasure(MAPPED.iter().map(|&m| (m.name(), map_values(observation, m))).collect());
    let data = AllMapsData {
        by: "all",
        slot_count: crate::snapshot::SLOT_COUNT,
        nodes,
        owners,
        values,
        basis: basis(observation, freshness),
        note: (!observation.window.has_rates()).then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}
