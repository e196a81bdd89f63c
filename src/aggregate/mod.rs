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
}

/// The running state of one cluster: each new snapshot is folded into it, in order.
pub struct Aggregator {
    /// Behind a lock only to be shared; the cache folds one snapshot at a time.
    ledger: Mutex<Ledger>,
}

impl Aggregator {
    /// `range_size` slots per `slot_range`; it divides 16384 (checked by the config).
    pub fn new(range_size: u16) -> Self {
        Aggregator { ledger: Mutex::new(Ledger::new(range_size)) }
    }

    /// Folds `snapshot` into the running state.
    pub fn observe(&self, snapshot: Snapshot) -> Observation {
        let snapshot = Arc::new(snapshot);
        let mut ledger = self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (totals, window) = ledger.fold(&snapshot);
        Observation { snapshot, window, totals }
    }
}
