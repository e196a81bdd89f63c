//! Insight: direct answers to the questions operators ask, computed from one
//! observation (a snapshot and the rates of its window).
//!
//! - [`hot`]: which slots are hot *now*, ranked by the last window's rates (or keys);
//! - [`balance`]: how evenly the primaries carry keys, CPU and network;
//! - [`plan`]: which slots to move where to even out a load, greedily and soundly;
//! - [`commands`]: the operator's commands that would carry a plan out (the exporter
//!   never runs them);
//! - [`stats`]: the imbalance figures (max over mean, Gini, coefficient of variation).
//!
//! Plain computation: no I/O, nothing sent to Valkey. HTTP and the one-shot commands
//! render these results; they do not compute.

pub(crate) mod balance;
pub(crate) mod commands;
pub(crate) mod hot;
pub(crate) mod plan;
pub(crate) mod stats;

use crate::aggregate::Observation;
use crate::aggregate::rank::measured;
use crate::question::{Measure, PlanQuestion};
use crate::snapshot::Role;

/// One primary's slots with their load in some measure, the planner's and the
/// balance's input.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PrimaryLoad {
    /// Index into `Snapshot::nodes`.
    pub(crate) node: usize,
    /// `(slot, load, keys)`, in slot order. A slot without a rate counts 0.
    pub(crate) slots: Vec<(u16, f64, u64)>,
}

impl PrimaryLoad {
    pub(crate) fn total(&self) -> f64 {
        self.slots.iter().map(|s| s.1).sum()
    }
}

/// Every primary that answered, slot-less ones included, with its slots' loads in
/// `measure`.
pub(crate) fn primary_loads(observation: &Observation, measure: Measure) -> Vec<PrimaryLoad> {
    let snapshot = &observation.snapshot;
    let mut loads: Vec<PrimaryLoad> = snapshot
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.role == Role::Primary && n.is_up())
        .map(|(node, _)| PrimaryLoad { node, slots: Vec::new() })
        .collect();
    for (position, record) in snapshot.slots.iter().enumerate() {
        let Some(load) = loads.iter_mut().find(|l| l.node == record.node as usize) else { continue };
        let value = measured(observation, measure, position).unwrap_or(0.0);
        load.slots.push((record.slot, value, record.stats.key_count.unwrap_or(0)));
    }
    loads
}

/// A rebalance plan and the commands that would carry it out: what the CLI's `plan`
/// and `/api/cluster/rebalance-plan` both answer.
#[derive(Clone, Debug)]
pub(crate) struct Rebalance {
    pub(crate) plan: plan::Plan,
    pub(crate) commands: commands::Commands,
}

/// Plans moves that even out `question.measure` across the primaries, and writes the
/// commands for them (`tls`: the nodes take TLS, which the classic script must say).
pub(crate) fn rebalance(observation: &Observation, question: &PlanQuestion, tls: bool) -> Rebalance {
    let loads = primary_loads(observation, question.measure);
    let plan = plan::plan(&loads, question.max_moves, question.target);
    let commands = commands::commands(&plan.moves, &observation.snapshot, tls);
    Rebalance { plan, commands }
}

/// How unevenly the primaries carry `measure` in `observation`: what `plan --apply`
/// measures after its moves, to set beside the plan's prediction.
pub(crate) fn measured_imbalance(observation: &Observation, measure: Measure) -> stats::Imbalance {
    let totals: Vec<f64> = primary_loads(observation, measure).iter().map(PrimaryLoad::total).collect();
    stats::imbalance(&totals)
}
