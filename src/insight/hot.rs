//! Hot slots: the slots that carry the most of a measure right now.

use crate::aggregate::Observation;
use crate::aggregate::rank::ranked;
use crate::question::Measure;
use std::collections::HashMap;

/// Said instead of a ranking when rates are asked for before there are two snapshots.
/// The exporter takes the second a couple of seconds after the first (the cache's first
/// window) and says when in `rates_ready_in_seconds`.
pub(crate) const NO_WINDOW_NOTE: &str = "rates need two snapshots and only one has been taken so far; the second follows within seconds: ask again after rates_ready_in_seconds";

/// One slot of the ranking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HotSlot {
    /// Index into `Snapshot::slots` (and `Window::rates`).
    pub(crate) position: usize,
    /// The slot's value in the ranked measure.
    pub(crate) value: f64,
    /// Share of its node's total in the measure; `None` when that total is 0.
    pub(crate) share_of_node: Option<f64>,
    /// Share of all primaries' total; `None` when that total is 0.
    pub(crate) share_of_cluster: Option<f64>,
}

/// The hottest slots by one measure.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HotSlots {
    pub(crate) measure: Measure,
    /// Highest first, ties to the lower slot; at most the limit asked for.
    pub(crate) entries: Vec<HotSlot>,
    /// Set when there is nothing to rank yet.
    pub(crate) note: Option<&'static str>,
}

/// The `limit` hottest slots of the primaries by `measure`.
pub(crate) fn hot_slots(observation: &Observation, measure: Measure, limit: usize) -> HotSlots {
    if measure.is_rate() && !observation.window.has_rates() {
        return HotSlots { measure, entries: Vec::new(), note: Some(NO_WINDOW_NOTE) };
    }
    let ranked = ranked(observation, measure);
    let slots = &observation.snapshot.slots;
    let mut node_totals: HashMap<u32, f64> = HashMap::new();
    for &(position, value) in &ranked {
        *node_totals.entry(slots[position].node).or_default() += value;
    }
    let cluster_total: f64 = node_totals.values().sum();
    let share = |value: f64, total: f64| (total > 0.0).then(|| value / total);
    let entries = ranked
        .into_iter()
        .take(limit)
        .map(|(position, value)| HotSlot {
            position,
            value,
            share_of_node: share(value, node_totals[&slots[position].node]),
            share_of_cluster: share(value, cluster_total),
        })
        .collect();
    HotSlots { measure, entries, note: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::test_support::{Row, node, snapshot};
    use crate::snapshot::Role;

    #[test]
    fn shares_of_node_and_cluster() {
        let nodes = || vec![node("a:1", "A", Role::Primary, true), node("b:1", "B", Role::Primary, true)];
        let aggregator = Aggregator::new(128);
        let zero: [Row; 3] = [(1, 0, 0, 0, 0, 1), (2, 0, 0, 0, 0, 1), (3, 1, 0, 0, 0, 1)];
        aggregator.observe(snapshot(0, nodes(), &zero));
        let grown: [Row; 3] = [(1, 0, 600, 0, 0, 1), (2, 0, 200, 0, 0, 1), (3, 1, 200, 0, 0, 1)];
        let o = aggregator.observe(snapshot(10, nodes(), &grown));
        let hot = hot_slots(&o, Measure::Cpu, 2);
        assert_eq!(hot.entries.len(), 2);
        let first = hot.entries[0];
        assert_eq!((o.snapshot.slots[first.position].slot, first.value), (1, 60.0));
        assert_eq!(first.share_of_node, Some(0.75));
        assert_eq!(first.share_of_cluster, Some(0.6));
        let second = hot.entries[1];
        assert_eq!(o.snapshot.slots[second.position].slot, 2, "ties go to the lower slot");
    }

    #[test]
    fn rates_before_a_window_are_a_note_and_keys_work_at_once() {
        let first = Aggregator::new(128).observe(snapshot(
            0,
            vec![node("a:1", "A", Role::Primary, true)],
            &[(7, 0, 5, 5, 5, 9)],
        ));
        let cpu = hot_slots(&first, Measure::Cpu, 20);
        assert!(cpu.entries.is_empty() && cpu.note.is_some());
        let keys = hot_slots(&first, Measure::Keys, 20);
        assert_eq!((keys.entries.len(), keys.note), (1, None));
    }
}
