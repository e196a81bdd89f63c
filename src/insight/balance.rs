//! Balance: what each primary carries of the cluster's keys, CPU and network, and how
//! uneven that is.

use super::primary_loads;
use super::stats::{Imbalance, imbalance};
use crate::aggregate::Observation;
use crate::question::Measure;
use crate::snapshot::Role;

/// One primary's load and share of each measure. Values are `None` for a primary that
/// did not answer, and rates are `None` before there are two snapshots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PrimaryBalance {
    /// Index into `Snapshot::nodes`.
    pub(crate) node: usize,
    pub(crate) slots: u32,
    pub(crate) keys: Option<u64>,
    pub(crate) cpu_usec_per_sec: Option<f64>,
    /// Bytes in plus bytes out per second.
    pub(crate) network_bytes_per_sec: Option<f64>,
    pub(crate) keys_share: Option<f64>,
    pub(crate) cpu_share: Option<f64>,
    pub(crate) network_share: Option<f64>,
}

/// Every primary, and the imbalance of each measure over those that answered.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Balance {
    pub(crate) primaries: Vec<PrimaryBalance>,
    pub(crate) keys: Imbalance,
    pub(crate) cpu: Imbalance,
    pub(crate) network: Imbalance,
}

pub(crate) fn balance(observation: &Observation) -> Balance {
    let snapshot = &observation.snapshot;
    let has_rates = observation.window.has_rates();
    let keys = per_primary(observation, Measure::Keys, true);
    let cpu = per_primary(observation, Measure::Cpu, has_rates);
    let network = per_primary(observation, Measure::Network, has_rates);
    let primaries: Vec<PrimaryBalance> = snapshot
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.role == Role::Primary)
        .map(|(node, status)| {
            let value = |column: &[(usize, f64)]| column.iter().find(|(n, _)| *n == node).map(|(_, v)| *v);
            let (k, c, w) = (value(&keys), value(&cpu), value(&network));
            PrimaryBalance {
                node,
                slots: status.slots_served,
                keys: k.map(|k| k as u64),
                cpu_usec_per_sec: c,
                network_bytes_per_sec: w,
                keys_share: share(k, &keys),
                cpu_share: share(c, &cpu),
                network_share: share(w, &network),
            }
        })
        .collect();
    Balance {
        primaries,
        keys: imbalance(&values(&keys)),
        cpu: imbalance(&values(&cpu)),
        network: imbalance(&values(&network)),
    }
}

/// `(node, total)` of every primary that answered; empty when `known` is false.
fn per_primary(observation: &Observation, measure: Measure, known: bool) -> Vec<(usize, f64)> {
    if !known {
        return Vec::new();
    }
    primary_loads(observation, measure).iter().map(|load| (load.node, load.total())).collect()
}

fn values(column: &[(usize, f64)]) -> Vec<f64> {
    column.iter().map(|(_, v)| *v).collect()
}

fn share(value: Option<f64>, column: &[(usize, f64)]) -> Option<f64> {
    let total: f64 = column.iter().map(|(_, v)| v).sum();
    value.filter(|_| total > 0.0).map(|v| v / total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::test_support::{node, snapshot};

    #[test]
    fn shares_sum_to_one_and_an_empty_primary_counts_zero() {
        let nodes = || {
            vec![
                node("a:1", "A", Role::Primary, true),
                node("b:1", "B", Role::Primary, true),
                node("c:1", "C", Role::Primary, true),
                node("d:1", "D", Role::Primary, false),
            ]
        };
        let aggregator = Aggregator::new(128);
        aggregator.observe(snapshot(0, nodes(), &[(1, 0, 0, 0, 0, 3), (2, 1, 0, 0, 0, 1)]));
        let o = aggregator.observe(snapshot(10, nodes(), &[(1, 0, 300, 10, 10, 3), (2, 1, 100, 0, 0, 1)]));
        let b = balance(&o);
        assert_eq!(b.primaries.len(), 4, "the empty and the down primary are listed");
        let (a, bb, c, d) = (b.primaries[0], b.primaries[1], b.primaries[2], b.primaries[3]);
        assert_eq!((a.keys, a.cpu_usec_per_sec, a.network_bytes_per_sec), (Some(3), Some(30.0), Some(2.0)));
        assert_eq!((c.keys, c.cpu_usec_per_sec, c.cpu_share), (Some(0), Some(0.0), Some(0.0)));
        assert_eq!((d.keys, d.cpu_usec_per_sec, d.cpu_share), (None, None, None), "unknown, not 0");
        assert_eq!((a.keys_share, bb.keys_share), (Some(0.75), Some(0.25)));
        assert_eq!((a.cpu_share, bb.cpu_share), (Some(0.75), Some(0.25)));
        assert!((b.cpu.max_over_mean.unwrap() - 30.0 / (40.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn before_a_window_only_keys_are_known() {
        let o = Aggregator::new(128).observe(snapshot(
            0,
            vec![node("a:1", "A", Role::Primary, true)],
            &[(1, 0, 5, 5, 5, 2)],
        ));
        let b = balance(&o);
        assert_eq!((b.primaries[0].keys, b.primaries[0].cpu_usec_per_sec), (Some(2), None));
        assert_eq!(b.cpu, Imbalance::default());
    }
}
