use super::*;
use crate::aggregate::Aggregator;
use crate::aggregate::test_support::{Row, node, snapshot};

fn primaries() -> Vec<crate::snapshot::NodeStatus> {
    vec![node("a:1", "A", Role::Primary, true), node("b:1", "B", Role::Primary, true)]
}

/// Two observations 10 s apart: slot 5 on a grows 1000 µs (100/s), slot 6 on a 100
/// µs, slot 7 on b 500 µs; slot 8 on b has the most keys and no traffic.
fn observed() -> Observation {
    let aggregator = Aggregator::new(128);
    let before: [Row; 4] = [(5, 0, 0, 0, 0, 1), (6, 0, 0, 0, 0, 1), (7, 1, 0, 0, 0, 2), (8, 1, 0, 0, 0, 90)];
    let after: [Row; 4] =
        [(5, 0, 1000, 10, 10, 1), (6, 0, 100, 500, 500, 1), (7, 1, 500, 0, 0, 2), (8, 1, 0, 0, 0, 90)];
    aggregator.observe(snapshot(100, primaries(), &before));
    aggregator.observe(snapshot(110, primaries(), &after))
}

fn slots(observation: &Observation, ranked: &[(usize, f64)]) -> Vec<(u16, f64)> {
    ranked.iter().map(|&(p, v)| (observation.snapshot.slots[p].slot, v)).collect()
}

#[test]
fn slots_rank_by_rate_with_ties_to_the_lower_slot() {
    let o = observed();
    assert_eq!(slots(&o, &ranked(&o, Measure::Cpu)), vec![(5, 100.0), (7, 50.0), (6, 10.0), (8, 0.0)]);
    assert_eq!(slots(&o, &ranked(&o, Measure::Network)), vec![(6, 100.0), (5, 2.0), (7, 0.0), (8, 0.0)]);
    assert_eq!(slots(&o, &ranked(&o, Measure::Keys))[0], (8, 90.0));
}

#[test]
fn hottest_shares() {
    let o = observed();
    let hottest = hottest_per_node(&o, Measure::Cpu);
    assert_eq!(hottest.len(), 2);
    assert_eq!((hottest[0].node, hottest[0].slot), (0, 5));
    assert!((hottest[0].share - 100.0 / 110.0).abs() < 1e-9);
    assert_eq!((hottest[1].slot, hottest[1].share), (7, 1.0));
    let network = hottest_per_node(&o, Measure::Network);
    assert_eq!(network.len(), 1, "b has no network rate: no hottest slot");
}

#[test]
fn top_slots_are_the_union_of_the_three_rankings_without_idle_slots() {
    let o = observed();
    let top = top_slots(&o, 1);
    assert!(top.contains(5) && top.contains(6) && top.contains(8));
    assert_eq!(top.len(), 3);
    // Before there are rates, keys alone decide.
    let first = Aggregator::new(128).observe(snapshot(100, primaries(), &[(3, 0, 9, 9, 9, 4), (4, 1, 0, 0, 0, 7)]));
    let top = top_slots(&first, 1);
    assert_eq!((top.len(), top.contains(4)), (1, true));
    assert!(hottest_per_node(&first, Measure::Cpu).is_empty(), "no window, no hottest slot");
}

/// An even tail of 2,000 slots, each 1/2,010 of the CPU and network (under the 0.1 %
/// floor), and slot 0 with 10/2,010 (above it): `top:100` keeps slot 0 and the fullest
/// slot, never the tail, although the tail would fill the 100 places.
#[test]
fn top_slots_leave_out_a_tail_under_the_floor() {
    let aggregator = Aggregator::new(128);
    let tail = |slot: u16, step: u64| (slot, u32::from(slot % 2), step, step, 0, 0);
    let before: Vec<Row> = (0..=2000).map(|slot| tail(slot, 0)).collect();
    let mut after: Vec<Row> = (0..=2000).map(|slot| tail(slot, 10)).collect();
    after[0] = (0, 0, 100, 100, 0, 0);
    after[1999].5 = 50;
    aggregator.observe(snapshot(100, primaries(), &before));
    let o = aggregator.observe(snapshot(110, primaries(), &after));
    let top = top_slots(&o, 100);
    assert!(top.contains(0), "the slot above the floor is kept");
    assert!(top.contains(1999), "keys have no floor: the fullest slot is kept");
    assert_eq!(top.len(), 2, "no tail slot is kept");
}
