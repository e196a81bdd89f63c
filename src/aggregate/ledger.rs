//! Counters that stay counters: CPU and network sums per node and per slot range that
//! never decrease while the exporter runs.
//!
//! A plain sum of per-slot counters drops whenever a slot moves away or a node restarts,
//! and Prometheus reads a drop as a counter reset: a false spike in `rate()`. So the
//! exporter accumulates the sums itself, from each slot's growth:
//! - per slot record it keeps the last value and which node reported it;
//! - same node, higher value: the difference is added;
//! - same node, lower value (a reset): the new value is added;
//! - another node (migration, failover: a promoted replica brings its own history), or
//!   a record first seen after the start (its node was down): the record is re-based,
//!   nothing is added;
//! - the first snapshot starts every sum at its current total.
//!
//! A node that does not answer keeps its last values, so the traffic it served while
//! unreachable is counted when it answers again. Key counts are gauges and are simply
//! summed per snapshot.

use super::window::{Counters, SlotRates, Window, counters, growth, rates};
use crate::addr::NodeAddr;
use crate::snapshot::{NodeStatus, Role, SLOT_COUNT, SlotRecord, Snapshot};
use std::collections::HashMap;
use std::time::SystemTime;

/// Keys and accumulated counters of a node or a slot range. A field is `None` until
/// some slot reported it: a statistic the servers do not send is absent, not 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    /// Keys now (a gauge).
    pub(crate) keys: Option<u64>,
    /// CPU µs, bytes in, bytes out, accumulated (monotonic counters).
    pub(crate) counters: Counters,
}

/// Per-node and per-range sums of one snapshot.
#[derive(Debug, Default)]
pub struct Totals {
    /// Slots per range.
    pub(crate) range_size: u16,
    /// Aligned with `Snapshot::nodes`.
    pub(crate) nodes: Vec<Sums>,
    /// One per range, in slot order; primaries only, so no slot is counted twice.
    pub(crate) ranges: Vec<Sums>,
}

/// What the exporter remembers between snapshots.
pub(crate) struct Ledger {
    range_size: u16,
    /// Snapshots folded so far; numbers the observations.
    observations: u64,
    /// When the previous snapshot was taken: the start of the rate window.
    previous_taken_at: Option<SystemTime>,
    /// By node identity (node id, or address when the id is unknown): the node's
    /// counters from the last snapshot it answered in. Nodes gone from the topology
    /// are forgotten.
    last_seen: HashMap<String, NodeHistory>,
    /// Accumulated counters per node address (the `node` label).
    node_counters: HashMap<NodeAddr, Counters>,
    /// Accumulated counters per slot range.
    range_counters: Vec<Counters>,
}

struct NodeHistory {
    /// The observation these values come from: rates need the one just before.
    observation: u64,
    /// Sorted by slot.
    slots: Vec<(u16, Counters)>,
}

impl Ledger {
    pub(crate) fn new(range_size: u16) -> Self {
        let ranges = SLOT_COUNT / usize::from(range_size.max(1));
        Ledger {
            range_size: range_size.max(1),
            observations: 0,
            previous_taken_at: None,
            last_seen: HashMap::new(),
            node_counters: HashMap::new(),
            range_counters: vec![[None; 3]; ranges],
        }
    }

    /// Folds the next snapshot in: its totals and its rate window.
    pub(crate) fn fold(&mut self, snapshot: &Snapshot) -> (Totals, Window) {
        self.observations += 1;
        let seconds = self.window_seconds(snapshot.taken_at);
        let mut window = Window { seconds, rates: vec![None; snapshot.slots.len()] };
        let mut range_keys = vec![None; self.range_counters.len()];
        let mut node_keys = vec![None; snapshot.nodes.len()];
        let records = records_by_node(snapshot);
        let mut seen = HashMap::with_capacity(snapshot.nodes.len());
        for (index, node) in snapshot.nodes.iter().enumerate() {
            let identity = identity(node);
            let previous = self.last_seen.remove(&identity);
            if !node.is_up() {
                // Keep what it last reported, to count its traffic when it is back.
                if let Some(previous) = previous {
                    seen.insert(identity, previous);
                }
                continue;
            }
            let step = Step { snapshot, node, records: &records[index], previous: previous.as_ref(), seconds };
            let history = self.account(step, &mut window.rates, &mut node_keys[index], &mut range_keys);
            seen.insert(identity, history);
        }
        self.last_seen = seen;
        self.node_counters.retain(|addr, _| snapshot.nodes.iter().any(|n| &n.addr == addr));
        self.previous_taken_at = Some(snapshot.taken_at);
        (self.totals(snapshot, node_keys, range_keys), window)
    }

    fn window_seconds(&self, taken_at: SystemTime) -> Option<f64> {
        let previous = self.previous_taken_at?;
        let seconds = taken_at.duration_since(previous).ok()?.as_secs_f64();
        (seconds > 0.0).then_some(seconds)
    }

    /// Accounts one answered node's records: adds their growth to the node's and the
    /// ranges' counters, writes their rates, and returns what to remember of them.
    fn account(
        &mut self,
        step: Step<'_>,
        rates_out: &mut [Option<SlotRates>],
        node_keys: &mut Option<u64>,
        range_keys: &mut [Option<u64>],
    ) -> NodeHistory {
        let first = self.observations == 1;
        let fresh = step.previous.is_some_and(|p| p.observation + 1 == self.observations);
        let node_counters = self.node_counters.entry(step.node.addr.clone()).or_insert([None; 3]);
        let mut slots = Vec::with_capacity(step.records.len());
        let mut earlier = step.previous.map_or(&[][..], |p| &p.slots[..]).iter().peekable();
        for &position in step.records {
            let record: &SlotRecord = &step.snapshot.slots[position];
            while earlier.next_if(|(slot, _)| *slot < record.slot).is_some() {}
            let before = earlier.next_if(|(slot, _)| *slot == record.slot).map(|(_, c)| c);
            let now = counters(&record.stats);
            let grown = growth_of(before, &now, first);
            add(node_counters, &grown);
            add_keys(node_keys, record.stats.key_count);
            if step.node.role == Role::Primary {
                let range = usize::from(record.slot / self.range_size);
                add(&mut self.range_counters[range], &grown);
                add_keys(&mut range_keys[range], record.stats.key_count);
            }
            if let (true, Some(before), Some(seconds)) = (fresh, before, step.seconds) {
                rates_out[position] = Some(rates(before, &now, seconds));
            }
            slots.push((record.slot, now));
        }
        NodeHistory { observation: self.observations, slots }
    }

    fn totals(&self, snapshot: &Snapshot, node_keys: Vec<Option<u64>>, range_keys: Vec<Option<u64>>) -> Totals {
        let nodes = snapshot
            .nodes
            .iter()
            .zip(node_keys)
            .map(|(node, keys)| Sums {
                keys,
                counters: self.node_counters.get(&node.addr).copied().unwrap_or_default(),
            })
            .collect();
        let ranges = self
            .range_counters
            .iter()
            .zip(range_keys)
            .map(|(counters, keys)| Sums { keys, counters: *counters })
            .collect();
        Totals { range_size: self.range_size, nodes, ranges }
    }
}

/// One answered node's part of a fold.
struct Step<'a> {
    snapshot: &'a Snapshot,
    node: &'a NodeStatus,
    /// Positions in `snapshot.slots` of the node's records, in slot order.
    records: &'a [usize],
    previous: Option<&'a NodeHistory>,
    seconds: Option<f64>,
}

/// Who reported a value: the node id, which survives address changes; the address for
/// a node whose id is unknown.
fn identity(node: &NodeStatus) -> String {
    if node.node_id.is_empty() { node.addr.to_string() } else { node.node_id.clone() }
}

/// Positions of each node's records, in slot order (records are sorted by slot).
fn records_by_node(snapshot: &Snapshot) -> Vec<Vec<usize>> {
    let mut by_node = vec![Vec::new(); snapshot.nodes.len()];
    for (position, record) in snapshot.slots.iter().enumerate() {
        by_node[record.node as usize].push(position);
    }
    by_node
}

/// What a record adds to the sums: its growth since `before`; everything on the very
/// first snapshot (sums start at the current totals); nothing for a record the same
/// node did not report before (re-based).
fn growth_of(before: Option<&Counters>, now: &Counters, first: bool) -> Counters {
    let mut grown = [None; 3];
    for (i, value) in now.iter().enumerate() {
        grown[i] = value.map(|current| match before.and_then(|b| b[i]) {
            Some(previous) => growth(previous, current),
            None if first => current,
            None => 0,
        });
    }
    grown
}

fn add(sum: &mut Counters, grown: &Counters) {
    for (total, value) in sum.iter_mut().zip(grown) {
        if let Some(value) = value {
            *total = Some(total.unwrap_or(0).saturating_add(*value));
        }
    }
}

fn add_keys(sum: &mut Option<u64>, keys: Option<u64>) {
    if let Some(keys) = keys {
        *sum = Some(sum.unwrap_or(0) + keys);
    }
}

#[cfg(test)]
mod tests;
