use super::*;

fn primary(node: usize, slots: &[(u16, f64, u64)]) -> PrimaryLoad {
    PrimaryLoad { node, slots: slots.to_vec() }
}

#[test]
fn hot_slots_on_one_primary_spread_to_the_others() {
    let primaries = [
        primary(0, &[(1, 40.0, 5), (2, 30.0, 5), (3, 20.0, 5), (4, 10.0, 5)]),
        primary(1, &[(5000, 10.0, 5)]),
        primary(2, &[(10000, 10.0, 5)]),
    ];
    let plan = plan(&primaries, 32, 1.1);
    assert_eq!(plan.stop, Stop::TargetReached);
    let loads = |p: &Plan| {
        let mut l = [100.0, 10.0, 10.0];
        for m in &p.moves {
            l[m.from] -= m.load;
            l[m.to] += m.load;
        }
        l
    };
    let after = loads(&plan);
    assert!(after.iter().all(|l| *l <= 1.1 * 40.0 + 1e-9), "{after:?}");
    assert!(plan.after.max_over_mean.unwrap() < plan.before.max_over_mean.unwrap());
    assert_eq!(plan.keys_to_migrate, 5 * plan.moves.len() as u64);
}

#[test]
fn an_empty_primary_is_a_receiver() {
    let primaries =
        [primary(0, &[(1, 50.0, 1), (2, 50.0, 1)]), primary(1, &[(3, 50.0, 1), (4, 50.0, 1)]), primary(2, &[])];
    let plan = plan(&primaries, 32, 1.0);
    assert!(!plan.moves.is_empty());
    assert!(plan.moves.iter().all(|m| m.to == 2), "{:?}", plan.moves);
}

#[test]
fn equal_gain_prefers_fewer_keys_then_the_lower_slot() {
    let primaries = [primary(0, &[(7, 10.0, 900), (8, 10.0, 3), (9, 10.0, 3)]), primary(1, &[])];
    let plan = plan(&primaries, 1, 1.0);
    assert_eq!(plan.moves.len(), 1);
    assert_eq!((plan.moves[0].slot, plan.moves[0].keys), (8, 3));
    assert_eq!(plan.stop, Stop::MaxMoves);
}

#[test]
fn a_single_slot_that_would_just_move_the_peak_is_not_moved() {
    let primaries = [primary(0, &[(1, 100.0, 1)]), primary(1, &[(2, 1.0, 1)])];
    let plan = plan(&primaries, 32, 1.1);
    assert!(plan.moves.is_empty());
    assert_eq!(plan.stop, Stop::NoMoveHelps);
    assert_eq!(plan.after, plan.before);
}

#[test]
fn nothing_loaded_is_nothing_to_balance() {
    let plan = plan(&[primary(0, &[(1, 0.0, 9)]), primary(1, &[])], 32, 1.1);
    assert_eq!((plan.moves.len(), plan.stop), (0, Stop::NothingToBalance));
}

proptest::proptest! {
    /// On any loads: the maximum never rises, no receiver ends busier than its giver
    /// was, the plan is the same when asked twice, and it respects max_moves.
    #[test]
    fn moves_never_raise_the_maximum(
        bins in proptest::collection::vec(proptest::collection::vec((0.0f64..1000.0, 0u64..100), 0..30), 2..6),
        max_moves in 0usize..40,
        target in 1.0f64..2.0,
    ) {
        let mut next_slot = 0u16;
        let primaries: Vec<PrimaryLoad> = bins
            .iter()
            .enumerate()
            .map(|(node, slots)| PrimaryLoad {
                node,
                slots: slots.iter().map(|&(load, keys)| { next_slot += 1; (next_slot, load, keys) }).collect(),
            })
            .collect();
        let result = plan(&primaries, max_moves, target);
        proptest::prop_assert!(result.moves.len() <= max_moves);
        proptest::prop_assert_eq!(&result, &plan(&primaries, max_moves, target));
        let mut loads: Vec<f64> = primaries.iter().map(PrimaryLoad::total).collect();
        for m in &result.moves {
            let max_before = loads.iter().copied().fold(0.0, f64::max);
            let giver_before = loads[m.from];
            loads[m.from] -= m.load;
            loads[m.to] += m.load;
            let max_after = loads.iter().copied().fold(0.0, f64::max);
            proptest::prop_assert!(max_after <= max_before + 1e-9, "max rose: {max_before} -> {max_after}");
            proptest::prop_assert!(loads[m.to] < giver_before + 1e-9, "receiver ended busier than the giver was");
        }
    }
}
