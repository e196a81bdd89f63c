use super::*;
use crate::aggregate::Aggregator;
use crate::aggregate::test_support::{Row, node, snapshot};

fn primaries() -> Vec<crate::snapshot::NodeStatus> {
    vec![node("a:1", "A", Role::Primary, true), node("b:1", "B", Role::Primary, true)]
}

/// Snapshots 10 s apart in which each counter of `rows` grows by its value every
/// window (keys stay): the observation after `windows` windows.
fn steady(rows: &[Row], windows: u64) -> Observation {
    let aggregator = Aggregator::new(128);
    let at = |step: u64| -> Vec<Row> {
        rows.iter()
            .map(|&(slot, node, cpu, net_in, net_out, keys)| {
                (slot, node, cpu * step, net_in * step, net_out * step, keys)
            })
            .collect()
    };
    for step in 0..windows {
        aggregator.observe(snapshot(100 + 10 * step, primaries(), &at(step)));
    }
    aggregator.observe(snapshot(100 + 10 * windows, primaries(), &at(windows)))
}

/// Two windows of 10 s: slot 5 on a grows 1000 µs (100/s) in each, slot 6 on a 100
/// µs, slot 7 on b 500 µs; slot 8 on b has the most keys and no traffic.
fn observed() -> Observation {
    steady(&[(5, 0, 1000, 10, 10, 1), (6, 0, 100, 500, 500, 1), (7, 1, 500, 0, 0, 2), (8, 1, 0, 0, 0, 90)], 2)
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
    let mut rows: Vec<Row> = (0..=2000).map(|slot| (slot, u32::from(slot % 2), 10, 10, 0, 0)).collect();
    rows[0] = (0, 0, 100, 100, 0, 0);
    rows[1999].5 = 50;
    let top = top_slots(&steady(&rows, 2), 100);
    assert!(top.contains(0), "the slot above the floor is kept");
    assert!(top.contains(1999), "keys have no floor: the fullest slot is kept");
    assert_eq!(top.len(), 2, "no tail slot is kept");
}

/// Slot 0 is above the floor in both windows, slot 7 only in the last one (one slow
/// command): only slot 0 is kept, and it is kept only once it has two windows.
#[test]
fn top_slots_keep_a_slot_above_the_floor_in_two_windows_running() {
    let aggregator = Aggregator::new(128);
    let at = |step: u64, spike: u64| -> Vec<Row> {
        (0..=2000)
            .map(|slot| {
                let base = if slot == 0 { 100 } else { 10 };
                let extra = if slot == 7 { spike } else { 0 };
                (slot, u32::from(slot % 2), base * step + extra, base * step + extra, 0, 0)
            })
            .collect()
    };
    aggregator.observe(snapshot(100, primaries(), &at(0, 0)));
    let one_window = aggregator.observe(snapshot(110, primaries(), &at(1, 0)));
    assert_eq!(top_slots(&one_window, 100).len(), 0, "one window proves nothing yet");
    let o = aggregator.observe(snapshot(120, primaries(), &at(2, 500)));
    let top = top_slots(&o, 100);
    assert!(top.contains(0), "above the floor twice running");
    assert!(!top.contains(7), "a one-window spike is left out");
    assert_eq!(top.len(), 1);
}
