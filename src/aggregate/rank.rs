//! Rankings over one observation: slots by a measure, each node's
//! hottest slot, and the slots a `top:N` profile keeps.
//!
//! Rankings are by the rates of the last window (see [`super::window`]), never by
//! lifetime totals: a slot that was busy an hour ago is not hot now. Ties go to the
//! lower slot number, so every ranking is deterministic.

use super::Observation;
use crate::question::Measure;
use crate::snapshot::{Role, SLOT_COUNT};
use std::cmp::Ordering;

/// The value of `measure` for the record at `position`, if known: keys from the
/// snapshot, rates from the window.
pub(crate) fn measured(observation: &Observation, measure: Measure, position: usize) -> Option<f64> {
    let record = &observation.snapshot.slots[position];
    let rates = match measure {
        Measure::Keys => return record.stats.key_count.map(|k| k as f64),
        _ => observation.window.rates.get(position).copied().flatten()?,
    };
    match measure {
        Measure::Cpu => rates.cpu_usec,
        Measure::Network => rates.network(),
        Measure::NetworkIn => rates.network_bytes_in,
        Measure::NetworkOut => rates.network_bytes_out,
        Measure::Keys => None,
    }
}

/// Positions of the primaries' records that have `measure`, highest first, ties by
/// slot. Replicas repeat their primary's slots and are left out.
pub(crate) fn ranked(observation: &Observation, measure: Measure) -> Vec<(usize, f64)> {
    let snapshot = &observation.snapshot;
    let mut ranked = primary_values(observation, measure);
    ranked.sort_by(|a, b| descending(a.1, b.1).then(snapshot.slots[a.0].slot.cmp(&snapshot.slots[b.0].slot)));
    ranked
}

/// Positions of the primaries' records that have `measure`, in snapshot order.
fn primary_values(observation: &Observation, measure: Measure) -> Vec<(usize, f64)> {
    let snapshot = &observation.snapshot;
    (0..snapshot.slots.len())
        .filter(|&p| snapshot.node(&snapshot.slots[p]).role == Role::Primary)
        .filter_map(|p| measured(observation, measure, p).map(|value| (p, value)))
        .collect()
}

fn descending(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// A node's busiest slot in the window and the share of the node's rate it took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hottest {
    /// Index into `Snapshot::nodes`.
    pub(crate) node: usize,
    pub(crate) slot: u16,
    /// 0..1.
    pub(crate) share: f64,
}

/// Each node's hottest slot by `measure` (a rate); nodes with no rate, or a rate of
/// 0, have none.
pub(crate) fn hottest_per_node(observation: &Observation, measure: Measure) -> Vec<Hottest> {
    let snapshot = &observation.snapshot;
    // Per node: (total, best value, best slot).
    let mut best: Vec<(f64, f64, Option<u16>)> = vec![(0.0, 0.0, None); snapshot.nodes.len()];
    for (position, record) in snapshot.slots.iter().enumerate() {
        let Some(value) = measured(observation, measure, position) else { continue };
        let entry = &mut best[record.node as usize];
        entry.0 += value;
        if entry.2.is_none() || value > entry.1 {
            *entry = (entry.0, value, Some(record.slot));
        }
    }
    best.iter()
        .enumerate()
        .filter_map(|(node, &(total, value, slot))| match slot {
            Some(slot) if total > 0.0 => Some(Hottest { node, slot, share: value / total }),
            _ => None,
        })
        .collect()
}

/// A set of slot numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotSet([u64; SLOT_COUNT / 64]);

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet::empty()
    }
}

impl SlotSet {
    pub(crate) fn empty() -> Self {
        SlotSet([0; SLOT_COUNT / 64])
    }

    /// The slots in both.
    pub(crate) fn and(&self, other: &SlotSet) -> SlotSet {
        let mut both = self.clone();
        for (word, other) in both.0.iter_mut().zip(other.0) {
            *word &= other;
        }
        both
    }

    pub(crate) fn insert(&mut self, slot: u16) {
        self.0[usize::from(slot) / 64] |= 1 << (slot % 64);
    }

    pub(crate) fn contains(&self, slot: u16) -> bool {
        self.0[usize::from(slot) / 64] & (1 << (slot % 64)) != 0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// The smallest share of the cluster's CPU or network rate a slot must take, in this
/// window and the one before, to be kept by a `top:N` profile: 0.1 %, about 16 times
/// an even slot's share.
///
/// Why a floor: under an even load the tail of a rate ranking is chance, and each
/// snapshot drew a different tail. Every newcomer is a new series in Prometheus, which
/// keeps series for two to three hours: measured with `top:100`, 3,580 new series a
/// minute and a head that outgrew `all`'s. Why two windows: on a lightly loaded
/// cluster one slow command (a page fault, a big `HGETALL`) lifts a quiet slot over
/// the floor for one window; a slot that stands out by its load does so again. Keys
/// are a gauge without that noise and have no floor.
pub(crate) const TOP_RATE_FLOOR: f64 = 0.001;

/// Slots at or above [`TOP_RATE_FLOOR`] of the cluster's CPU and of its network rate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AboveFloor {
    cpu: SlotSet,
    network: SlotSet,
}

impl AboveFloor {
    /// The slots above the floor in `observation`'s window (none without a window).
    pub(crate) fn of(observation: &Observation) -> AboveFloor {
        let above = |measure| {
            let values = primary_values(observation, measure);
            let floor = values.iter().map(|(_, value)| value).sum::<f64>() * TOP_RATE_FLOOR;
            let mut set = SlotSet::empty();
            for (position, _) in values.into_iter().filter(|(_, value)| *value > 0.0 && *value >= floor) {
                set.insert(observation.snapshot.slots[position].slot);
            }
            set
        };
        AboveFloor { cpu: above(Measure::Cpu), network: above(Measure::Network) }
    }

    /// The slots above the floor in both.
    pub(crate) fn and(&self, other: &AboveFloor) -> AboveFloor {
        AboveFloor { cpu: self.cpu.and(&other.cpu), network: self.network.and(&other.network) }
    }

    fn contains(&self, measure: Measure, slot: u16) -> bool {
        match measure {
            Measure::Cpu => self.cpu.contains(slot),
            Measure::Network => self.network.contains(slot),
            _ => true,
        }
    }
}

/// The slots a `top:N` profile keeps: the union of the `n` with the highest CPU rate,
/// the `n` with the highest network rate and the `n` with the most keys (keys alone
/// while there are no rates yet). Slots at 0 are not "top" and are left out, and so
/// are slots not above [`TOP_RATE_FLOOR`] in this window and the previous one
/// ([`Observation::sustained`]) for CPU or network.
pub(crate) fn top_slots(observation: &Observation, n: usize) -> SlotSet {
    let mut set = SlotSet::empty();
    for measure in [Measure::Cpu, Measure::Network, Measure::Keys] {
        let slot = |position: usize| observation.snapshot.slots[position].slot;
        let kept = ranked(observation, measure)
            .into_iter()
            .filter(|&(position, value)| value > 0.0 && observation.sustained.contains(measure, slot(position)));
        for (position, _) in kept.take(n) {
            set.insert(slot(position));
        }
    }
    set
}

#[cfg(test)]
mod tests;
