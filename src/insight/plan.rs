//! The rebalance planner: which slots to move from where to where so that the busiest
//! primary's load comes down towards `target` x the mean.
//!
//! Greedy, and sound:
//! - each move takes a slot from the currently busiest primary (ties: the first in
//!   address order) to the least loaded one, choosing the slot that lowers the larger
//!   of the two loads the most;
//! - a move is made only if both the giver and the receiver end below the giver's load
//!   before the move, so the maximum never rises and the receiver never ends busier
//!   than the giver was; the sum of squared loads strictly falls, so moves never cycle;
//! - at equal gain the slot with fewer keys wins (cheaper to migrate), then the lower
//!   slot number: the plan is deterministic;
//! - it stops at `target`, at `max_moves`, or when no move helps.
//!
//! Loads are the last window's rates (or key counts): the plan predicts the loads that
//! would follow if each slot kept its load on its new owner.

use super::PrimaryLoad;
use super::stats::{Imbalance, imbalance};

/// One slot to move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Move {
    pub(crate) slot: u16,
    /// Indices into `Snapshot::nodes`.
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) keys: u64,
    /// The slot's load in the planned measure.
    pub(crate) load: f64,
}

/// Why the planner stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The busiest primary is at or below target x mean.
    TargetReached,
    /// `max_moves` moves were planned.
    MaxMoves,
    /// No single move lowers the busiest primary's load without making another one
    /// at least as busy.
    NoMoveHelps,
    /// Nothing is loaded (or there are fewer than two primaries).
    NothingToBalance,
}

impl Stop {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stop::TargetReached => "target_reached",
            Stop::MaxMoves => "max_moves",
            Stop::NoMoveHelps => "no_move_helps",
            Stop::NothingToBalance => "nothing_to_balance",
        }
    }
}

/// A plan and what it predicts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) moves: Vec<Move>,
    pub(crate) before: Imbalance,
    /// Predicted after the moves.
    pub(crate) after: Imbalance,
    pub(crate) keys_to_migrate: u64,
    pub(crate) stop: Stop,
}

/// Plans moves over `primaries` (their slots and loads in one measure).
pub(crate) fn plan(primaries: &[PrimaryLoad], max_moves: usize, target: f64) -> Plan {
    let mut bins: Vec<Bin> = primaries.iter().map(Bin::from).collect();
    let before = imbalance(&totals(&bins));
    let mut moves = Vec::new();
    let stop = loop {
        let loads = totals(&bins);
        let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
        if bins.len() < 2 || mean <= 0.0 {
            break Stop::NothingToBalance;
        }
        let busiest = index_of_max(&loads);
        if loads[busiest] <= target * mean {
            break Stop::TargetReached;
        }
        if moves.len() >= max_moves {
            break Stop::MaxMoves;
        }
        let Some(chosen) = best_move(&bins, busiest) else { break Stop::NoMoveHelps };
        moves.push(apply(&mut bins, busiest, chosen));
    };
    let keys_to_migrate = moves.iter().map(|m| m.keys).sum();
    Plan { moves, before, after: imbalance(&totals(&bins)), keys_to_migrate, stop }
}

/// A primary during planning.
struct Bin {
    node: usize,
    load: f64,
    /// `(slot, load, keys)`.
    slots: Vec<(u16, f64, u64)>,
}

impl From<&PrimaryLoad> for Bin {
    fn from(primary: &PrimaryLoad) -> Self {
        Bin { node: primary.node, load: primary.total(), slots: primary.slots.clone() }
    }
}

/// The chosen move: which slot of the busiest (by position in its list) to which bin.
struct Candidate {
    position: usize,
    receiver: usize,
    gain: f64,
    keys: u64,
    slot: u16,
}

fn best_move(bins: &[Bin], busiest: usize) -> Option<Candidate> {
    let giver = &bins[busiest];
    let receiver = (0..bins.len()).filter(|&i| i != busiest).min_by(|&a, &b| bins[a].load.total_cmp(&bins[b].load))?;
    let (high, low) = (giver.load, bins[receiver].load);
    let tolerance = high.abs() * 1e-12;
    let mut best: Option<Candidate> = None;
    for (position, &(slot, load, keys)) in giver.slots.iter().enumerate() {
        if load <= 0.0 {
            continue;
        }
        let gain = high - (high - load).max(low + load);
        if gain <= tolerance {
            continue;
        }
        let candidate = Candidate { position, receiver, gain, keys, slot };
        if best.as_ref().is_none_or(|b| better(&candidate, b, tolerance)) {
            best = Some(candidate);
        }
    }
    best
}

/// More gain; at equal gain fewer keys; then the lower slot.
fn better(a: &Candidate, b: &Candidate, tolerance: f64) -> bool {
    if (a.gain - b.gain).abs() > tolerance {
        return a.gain > b.gain;
    }
    (a.keys, a.slot) < (b.keys, b.slot)
}

fn apply(bins: &mut [Bin], busiest: usize, chosen: Candidate) -> Move {
    let (slot, load, keys) = bins[busiest].slots.remove(chosen.position);
    bins[busiest].load -= load;
    let receiver = &mut bins[chosen.receiver];
    receiver.load += load;
    let at = receiver.slots.partition_point(|s| s.0 < slot);
    receiver.slots.insert(at, (slot, load, keys));
    Move { slot, from: bins[busiest].node, to: bins[chosen.receiver].node, keys, load }
}

fn totals(bins: &[Bin]) -> Vec<f64> {
    bins.iter().map(|b| b.load).collect()
}

/// The first index of the largest value.
fn index_of_max(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests;
