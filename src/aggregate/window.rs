//! Per-slot rates between two consecutive snapshots.
//!
//! A rate is the counter's difference over the time between the two snapshots; a
//! counter that went down (reset by `CONFIG RESETSTAT` or a restart) counts its new
//! value. A slot with no value in the previous snapshot from the same node — it
//! changed owner (migration, failover), or its node did not answer last time — has no
//! rate: that is `None`, never 0.

use crate::snapshot::SlotStats;

/// Rates of one slot record, per second. A field is `None` when the node does not
/// report that statistic (`cluster-slot-stats-enabled no`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SlotRates {
    pub(crate) cpu_usec: Option<f64>,
    pub(crate) network_bytes_in: Option<f64>,
    pub(crate) network_bytes_out: Option<f64>,
}

impl SlotRates {
    /// Bytes in and out together.
    pub(crate) fn network(&self) -> Option<f64> {
        match (self.network_bytes_in, self.network_bytes_out) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        }
    }
}

/// The rates of every slot record of a snapshot.
#[derive(Debug, Default)]
pub struct Window {
    /// Seconds between the previous snapshot and this one; `None` for the first.
    pub(crate) seconds: Option<f64>,
    /// Aligned with `Snapshot::slots`: `rates[i]` belongs to `slots[i]`.
    pub(crate) rates: Vec<Option<SlotRates>>,
}

impl Window {
    /// Whether any rate could be computed (there was an earlier snapshot).
    pub(crate) fn has_rates(&self) -> bool {
        self.seconds.is_some()
    }
}

/// The three counters of a slot, in a fixed order: CPU µs, bytes in, bytes out.
pub(crate) type Counters = [Option<u64>; 3];

pub(crate) fn counters(stats: &SlotStats) -> Counters {
    [stats.cpu_usec, stats.network_bytes_in, stats.network_bytes_out]
}

/// How much a counter grew from `previous` to `current`: the difference, or the new
/// value when it went down (a reset: everything since then is new).
pub(crate) fn growth(previous: u64, current: u64) -> u64 {
    if current >= previous { current - previous } else { current }
}

pub(crate) fn rates(previous: &Counters, current: &Counters, seconds: f64) -> SlotRates {
    let rate = |i: usize| match (previous[i], current[i]) {
        (Some(p), Some(c)) if seconds > 0.0 => Some(growth(p, c) as f64 / seconds),
        _ => None,
    };
    SlotRates { cpu_usec: rate(0), network_bytes_in: rate(1), network_bytes_out: rate(2) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_counts_a_reset_as_new_value() {
        assert_eq!(growth(10, 15), 5);
        assert_eq!(growth(10, 10), 0);
        assert_eq!(growth(100, 7), 7);
    }

    #[test]
    fn rates_per_field_and_absent_fields_stay_absent() {
        let r = rates(&[Some(100), Some(10), None], &[Some(300), Some(4), None], 2.0);
        assert_eq!(r.cpu_usec, Some(100.0));
        assert_eq!(r.network_bytes_in, Some(2.0), "a reset counts the new value");
        assert_eq!(r.network_bytes_out, None);
        assert_eq!(r.network(), Some(2.0));
        assert_eq!(SlotRates::default().network(), None);
    }
}
