use super::*;
use crate::aggregate::test_support::{Row, node, snapshot};

fn two_primaries(a_up: bool) -> Vec<NodeStatus> {
    vec![node("a:1", "A", Role::Primary, a_up), node("b:1", "B", Role::Primary, true)]
}

fn cpu(sums: &Sums) -> Option<u64> {
    sums.counters[0]
}

#[test]
fn the_first_snapshot_starts_every_sum_at_its_total() {
    let mut ledger = Ledger::new(128);
    let first = snapshot(100, two_primaries(true), &[(0, 0, 10, 1, 2, 3), (1, 0, 20, 1, 2, 4), (200, 1, 5, 0, 0, 1)]);
    let (totals, window) = ledger.fold(&first);
    assert_eq!(totals.nodes[0], Sums { keys: Some(7), counters: [Some(30), Some(2), Some(4)] });
    assert_eq!(totals.nodes[1], Sums { keys: Some(1), counters: [Some(5), Some(0), Some(0)] });
    assert_eq!(totals.ranges.len(), 128);
    assert_eq!(totals.ranges[0], Sums { keys: Some(7), counters: [Some(30), Some(2), Some(4)] });
    assert_eq!(totals.ranges[1], Sums { keys: Some(1), counters: [Some(5), Some(0), Some(0)] });
    assert_eq!(totals.ranges[2], Sums::default(), "no slot there: absent, not 0");
    assert!(!window.has_rates() && window.rates.iter().all(Option::is_none));
}

#[test]
fn growth_is_added_and_a_reset_adds_the_new_value() {
    let mut ledger = Ledger::new(128);
    ledger.fold(&snapshot(100, two_primaries(true), &[(0, 0, 100, 0, 0, 1)]));
    let (totals, window) = ledger.fold(&snapshot(110, two_primaries(true), &[(0, 0, 150, 0, 0, 1)]));
    assert_eq!(cpu(&totals.nodes[0]), Some(150));
    assert_eq!(window.seconds, Some(10.0));
    assert_eq!(window.rates[0].unwrap().cpu_usec, Some(5.0));
    // CONFIG RESETSTAT: the counter starts again from 0 and reads 30 now.
    let (totals, window) = ledger.fold(&snapshot(120, two_primaries(true), &[(0, 0, 30, 0, 0, 1)]));
    assert_eq!(cpu(&totals.nodes[0]), Some(180), "never decreases");
    assert_eq!(window.rates[0].unwrap().cpu_usec, Some(3.0), "the new value counts");
}

#[test]
fn a_migrated_slot_is_rebased_on_its_new_owner_and_nothing_drops() {
    let mut ledger = Ledger::new(128);
    ledger.fold(&snapshot(100, two_primaries(true), &[(0, 0, 1000, 0, 0, 5), (1, 1, 10, 0, 0, 1)]));
    // Slot 0 moved from a to b, where its counters start again.
    let (totals, window) = ledger.fold(&snapshot(110, two_primaries(true), &[(0, 1, 4, 0, 0, 5), (1, 1, 12, 0, 0, 1)]));
    assert_eq!(cpu(&totals.nodes[0]), Some(1000), "a keeps what it accumulated");
    assert_eq!(cpu(&totals.nodes[1]), Some(12), "b adds only slot 1's growth: slot 0 is re-based");
    assert_eq!(cpu(&totals.ranges[0]), Some(1012), "the range keeps its total");
    assert_eq!(window.rates[0], None, "no rate across an owner change");
    assert_eq!(window.rates[1].unwrap().cpu_usec, Some(0.2));
    let (totals, _) = ledger.fold(&snapshot(120, two_primaries(true), &[(0, 1, 9, 0, 0, 5), (1, 1, 12, 0, 0, 1)]));
    assert_eq!(cpu(&totals.nodes[1]), Some(17), "then its growth on b counts");
}

#[test]
fn a_promoted_replica_is_a_new_owner_even_at_a_known_address() {
    let mut ledger = Ledger::new(128);
    ledger.fold(&snapshot(100, two_primaries(true), &[(0, 0, 1000, 0, 0, 5)]));
    // Failover: another node id now answers for slot 0 with its own (replica) history.
    let promoted = vec![node("a:1", "C", Role::Primary, true), node("b:1", "B", Role::Primary, true)];
    let (totals, window) = ledger.fold(&snapshot(110, promoted, &[(0, 0, 5000, 0, 0, 5)]));
    assert_eq!(cpu(&totals.nodes[0]), Some(1000));
    assert_eq!(window.rates[0], None);
}

#[test]
fn a_node_that_was_down_counts_its_traffic_when_back_but_has_no_rate_for_that_window() {
    let mut ledger = Ledger::new(128);
    ledger.fold(&snapshot(100, two_primaries(true), &[(0, 0, 100, 0, 0, 1)]));
    let (down, _) = ledger.fold(&snapshot(110, two_primaries(false), &[]));
    assert_eq!(cpu(&down.nodes[0]), Some(100), "kept while down");
    assert_eq!(down.nodes[0].keys, None, "no keys known while down");
    let (back, window) = ledger.fold(&snapshot(120, two_primaries(true), &[(0, 0, 160, 0, 0, 1)]));
    assert_eq!(cpu(&back.nodes[0]), Some(160));
    assert_eq!(window.rates[0], None, "its previous value is two snapshots old");
}

#[test]
fn a_node_first_seen_later_starts_at_zero() {
    let mut ledger = Ledger::new(128);
    ledger.fold(&snapshot(100, two_primaries(false), &[(1, 1, 10, 0, 0, 1)]));
    let (totals, _) = ledger.fold(&snapshot(110, two_primaries(true), &[(0, 0, 999, 0, 0, 1), (1, 1, 10, 0, 0, 1)]));
    assert_eq!(cpu(&totals.nodes[0]), Some(0), "re-based like an owner change");
    assert_eq!(cpu(&totals.ranges[0]), Some(10));
}

#[test]
fn replicas_have_their_own_sums_and_stay_out_of_ranges() {
    let nodes = vec![node("a:1", "A", Role::Primary, true), node("r:1", "R", Role::Replica, true)];
    let mut ledger = Ledger::new(16384);
    let (totals, _) = ledger.fold(&snapshot(100, nodes, &[(0, 0, 10, 1, 1, 2), (0, 1, 7, 50, 1, 2)]));
    assert_eq!(cpu(&totals.nodes[1]), Some(7));
    assert_eq!(totals.ranges, vec![Sums { keys: Some(2), counters: [Some(10), Some(1), Some(1)] }]);
}

proptest::proptest! {
    /// Whatever happens between snapshots — slots moving between three primaries,
    /// counters growing or resetting, nodes failing — no sum ever decreases, and key
    /// totals always equal the sums of the snapshot's per-slot keys.
    #[test]
    fn sums_never_decrease(steps in proptest::collection::vec(
        (proptest::collection::vec((0u16..64, 0u32..3, 0u64..1000, 0u64..5), 0..40), 0u8..8), 1..30)
    ) {
        let mut ledger = Ledger::new(16);
        let mut last: Option<Totals> = None;
        for (at, (rows, down)) in steps.iter().enumerate() {
            let nodes = (0..3u8)
                .map(|i| node(&format!("n{i}:1"), &format!("N{i}"), Role::Primary, down & (1 << i) == 0))
                .collect::<Vec<_>>();
            let mut owner = std::collections::BTreeMap::new();
            for &(slot, node_index, value, keys) in rows {
                if nodes[node_index as usize].is_up() {
                    owner.insert(slot, (node_index, value, keys));
                }
            }
            let rows: Vec<Row> = owner.iter().map(|(&s, &(n, v, k))| (s, n, v, v / 2, v / 3, k)).collect();
            let snap = snapshot(100 + at as u64 * 10, nodes, &rows);
            let (totals, _) = ledger.fold(&snap);
            let keys: u64 = rows.iter().map(|r| r.5).sum();
            let range_keys: u64 = totals.ranges.iter().filter_map(|r| r.keys).sum();
            proptest::prop_assert_eq!(range_keys, keys);
            if let Some(last) = &last {
                for (now, before) in totals.nodes.iter().zip(&last.nodes).chain(totals.ranges.iter().zip(&last.ranges)) {
                    for i in 0..3 {
                        proptest::prop_assert!(now.counters[i].unwrap_or(0) >= before.counters[i].unwrap_or(0));
                    }
                }
            }
            last = Some(totals);
        }
    }
}
