//! Aggregation: what the exporter derives from consecutive snapshots of one cluster.
//!
//! A snapshot alone gives per-slot values. Folded in order with the ones before it, it
//! also gives:
//! - [`ledger`]: counters per node and per slot range that never decrease while the
//!   exporter runs, whatever slots move, nodes restart or counters reset, and key
//!   totals per node and per range;
//! - [`window`]: per-slot rates over the time since the previous snapshot;
//! - [`rank`]: rankings and shares over those rates (hottest slot per node, the top
//!   slots of a profile, per-node rates).
//!
//! Everything here is plain computation over snapshots: no I/O, no HTTP. The cache
//! folds each new snapshot once, through the cluster's [`Aggregator`]; renderers and
//! the insight endpoints read the resulting [`Observation`].

pub(crate) mod ledger;
pub(crate) mod rank;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod window;

use crate::snapshot::Snapshot;
use ledger::{Ledger, Totals};
use rank::AboveFloor;
use std::sync::{Arc, Mutex};
use window::Window;

/// One snapshot with what the exporter derived from it and its predecessors.
#[derive(Debug)]
pub struct Observation {
    pub snapshot: Arc<Snapshot>,
    /// Per-slot rates since the previous snapshot.
    pub window: Window,
    /// Monotonic counters and key totals per node and per slot range.
    pub totals: Totals,
    /// Slots above the `top:N` floor in this window and the one before: the slots that
    /// stand out by their load rather than by one window's chance.
    pub sustained: AboveFloor,
}

/// The running state of one cluster: each new snapshot is folded into it, in order.
pub struct Aggregator {
    /// Behind a lock only to be shared; the cache folds one snapshot at a time.
    state: Mutex<State>,
}

/// What the aggregator carries from one snapshot to the next.
struct State {
    ledger: Ledger,
    /// The slots above the floor in the previous window.
    above_floor: AboveFloor,
}

impl Aggregator {
    /// `range_size` slots per `slot_range`; it divides 16384 (checked by the config).
    pub fn new(range_size: u16) -> Self {
        Aggregator { state: Mutex::new(State { ledger: Ledger::new(range_size), above_floor: AboveFloor::default() }) }
    }

    /// Folds `snapshot` into the running state.
    pub fn observe(&self, snapshot: Snapshot) -> Observation {
        let snapshot = Arc::new(snapshot);
        let mut state = crate::sync::lock(&self.state);
        let (totals, window) = state.ledger.fold(&snapshot);
        let mut observation = Observation { snapshot, window, totals, sustained: AboveFloor::default() };
        let above_floor = AboveFloor::of(&observation);
        observation.sustained = above_floor.and(&state.above_floor);
        state.above_floor = above_floor;
        observation
    }
}
