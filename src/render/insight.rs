//! JSON answers of the insight endpoints (hot slots, balance, rebalance plan), in the
//! API's envelope. Rates are per second in the server's units (µs of CPU, bytes), like
//! the slot-stats API; a value that cannot be known is `null`, never 0.

use super::json::{JsonReply, rfc3339_millis, success};
use crate::aggregate::Observation;
use crate::aggregate::rank::measured;
use crate::insight::Rebalance;
use crate::insight::balance::Balance;
use crate::insight::hot::{HotSlots, NO_WINDOW_NOTE};
use crate::insight::plan::Move;
use crate::insight::stats::Imbalance;
use crate::question::{MAPPED, Measure, PlanQuestion};
use crate::snapshot::NodeStatus;
use serde::Serialize;
use std::time::SystemTime;

/// What every insight answer says about the observation it comes from.
#[derive(Serialize)]
struct Basis {
    /// Seconds between the two snapshots the rates come from; `null` with one snapshot.
    window_seconds: Option<f64>,
    snapshot_timestamp: String,
    /// True when answered from an existing snapshot without waiting for a refresh.
    cached: bool,
}

fn basis(observation: &Observation, cached: bool) -> Basis {
    Basis {
        window_seconds: observation.window.seconds,
        snapshot_timestamp: rfc3339_millis(observation.snapshot.taken_at),
        cached,
    }
}

#[derive(Serialize)]
struct NodeRef<'a> {
    node: &'a str,
    node_id: &'a str,
}

fn node_ref(node: &NodeStatus) -> NodeRef<'_> {
    NodeRef { node: node.addr.as_str(), node_id: &node.node_id }
}

#[derive(Serialize)]
struct HotSlotEntry<'a> {
    slot_id: u16,
    #[serde(flatten)]
    node: NodeRef<'a>,
    key_count: Option<u64>,
    cpu_usec_per_sec: Option<f64>,
    network_bytes_in_per_sec: Option<f64>,
    network_bytes_out_per_sec: Option<f64>,
    share_of_node: Option<f64>,
    share_of_cluster: Option<f64>,
}

#[derive(Serialize)]
struct HotSlotsData<'a> {
    by: &'static str,
    limit: usize,
    slots: Vec<HotSlotEntry<'a>>,
    #[serde(flatten)]
    basis: Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

pub(crate) fn hot_slots(
    observation: &Observation,
    hot: &HotSlots,
    limit: usize,
    cached: bool,
    now: SystemTime,
) -> JsonReply {
    let snapshot = &observation.snapshot;
    let slots = hot
        .entries
        .iter()
        .map(|entry| {
            let record = &snapshot.slots[entry.position];
            let rates = observation.window.rates[entry.position].unwrap_or_default();
            HotSlotEntry {
                slot_id: record.slot,
                node: node_ref(snapshot.node(record)),
                key_count: record.stats.key_count,
                cpu_usec_per_sec: rates.cpu_usec,
                network_bytes_in_per_sec: rates.network_bytes_in,
                network_bytes_out_per_sec: rates.network_bytes_out,
                share_of_node: entry.share_of_node,
                share_of_cluster: entry.share_of_cluster,
            }
        })
        .collect();
    let data = HotSlotsData { by: hot.measure.name(), limit, slots, basis: basis(observation, cached), note: hot.note };
    success(data, now)
}

#[derive(Serialize)]
struct PrimaryEntry<'a> {
    #[serde(flatten)]
    node: NodeRef<'a>,
    up: bool,
    slots: u32,
    keys: Option<u64>,
    cpu_usec_per_sec: Option<f64>,
    network_bytes_per_sec: Option<f64>,
    keys_share: Option<f64>,
    cpu_share: Option<f64>,
    network_share: Option<f64>,
}

#[derive(Serialize)]
struct ImbalanceData {
    keys: Imbalance,
    cpu: Imbalance,
    network: Imbalance,
}

#[derive(Serialize)]
struct BalanceData<'a> {
    primaries: Vec<PrimaryEntry<'a>>,
    imbalance: ImbalanceData,
    #[serde(flatten)]
    basis: Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

pub(crate) fn balance(observation: &Observation, balance: &Balance, cached: bool, now: SystemTime) -> JsonReply {
    let nodes = &observation.snapshot.nodes;
    let primaries = balance
        .primaries
        .iter()
        .map(|p| PrimaryEntry {
            node: node_ref(&nodes[p.node]),
            up: nodes[p.node].is_up(),
            slots: p.slots,
            keys: p.keys,
            cpu_usec_per_sec: p.cpu_usec_per_sec,
            network_bytes_per_sec: p.network_bytes_per_sec,
            keys_share: p.keys_share,
            cpu_share: p.cpu_share,
            network_share: p.network_share,
        })
        .collect();
    let data = BalanceData {
        primaries,
        imbalance: ImbalanceData { keys: balance.keys, cpu: balance.cpu, network: balance.network },
        basis: basis(observation, cached),
        note: (!observation.window.has_rates()).then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}

#[derive(Serialize)]
struct MoveEntry<'a> {
    slot_id: u16,
    from: NodeRef<'a>,
    to: NodeRef<'a>,
    keys: u64,
    load: f64,
}

#[derive(Serialize)]
struct Prediction {
    max_over_mean: Option<f64>,
    gini: Option<f64>,
}

impl From<Imbalance> for Prediction {
    fn from(i: Imbalance) -> Self {
        Prediction { max_over_mean: i.max_over_mean, gini: i.gini }
    }
}

/// A move left out of the commands, and why.
#[derive(Serialize)]
struct LeftOutEntry<'a> {
    /// The slot of the move, as in `moves`.
    slot_id: u16,
    /// Why it was left out.
    reason: &'a str,
}

#[derive(Serialize)]
struct PlanData<'a> {
    by: &'static str,
    target: f64,
    max_moves: usize,
    moves: Vec<MoveEntry<'a>>,
    before: Prediction,
    after: Prediction,
    keys_to_migrate: u64,
    stop_reason: &'static str,
    commands_kind: &'static str,
    commands: &'a [String],
    /// Moves `commands` do not carry out (an odd node ID), so that nobody takes the
    /// commands for the whole plan; absent when every move is in them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    commands_left_out: Vec<LeftOutEntry<'a>>,
    #[serde(flatten)]
    basis: Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

pub(crate) fn plan(
    observation: &Observation,
    question: &PlanQuestion,
    rebalance: &Rebalance,
    cached: bool,
    now: SystemTime,
) -> JsonReply {
    let Rebalance { plan, commands } = rebalance;
    let nodes = &observation.snapshot.nodes;
    let entry = |m: &Move| MoveEntry {
        slot_id: m.slot,
        from: node_ref(&nodes[m.from]),
        to: node_ref(&nodes[m.to]),
        keys: m.keys,
        load: m.load,
    };
    let no_rates = question.measure.is_rate() && !observation.window.has_rates();
    let data = PlanData {
        by: question.measure.name(),
        target: question.target,
        max_moves: question.max_moves,
        moves: plan.moves.iter().map(entry).collect(),
        before: plan.before.into(),
        after: plan.after.into(),
        keys_to_migrate: plan.keys_to_migrate,
        stop_reason: plan.stop.as_str(),
        commands_kind: commands.kind.as_str(),
        commands: &commands.lines,
        commands_left_out: commands
            .left_out
            .iter()
            .map(|l| LeftOutEntry { slot_id: l.slot, reason: &l.reason })
            .collect(),
        basis: basis(observation, cached),
        note: no_rates.then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}

#[derive(Serialize)]
struct MapNode<'a> {
    #[serde(flatten)]
    node: NodeRef<'a>,
    up: bool,
}

#[derive(Serialize)]
struct SlotMapData<'a> {
    by: &'static str,
    /// The primaries, in address order; `owners` points into this list.
    nodes: Vec<MapNode<'a>>,
    /// Per slot (16384), the index in `nodes` of its owner; `null` when unassigned.
    owners: Vec<Option<usize>>,
    /// Per slot, the measure (keys, or a rate per second); `null` when unknown: its
    /// primary did not answer, or the slot has no rate in this window.
    values: Vec<Option<f64>>,
    #[serde(flatten)]
    basis: Basis,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// `by=all`: the map in every measure at once, so the page asks once per refresh.
#[derive(Serialize)]
struct AllMapsData<'a> {
    by: &'static str,
    /// The size of the slot space, so the page need not hard-code it.
    slot_count: usize,
    /// As in [`SlotMapData`].
    nodes: Vec<MapNode<'a>>,
    /// As in [`SlotMapData`].
    owners: Vec<Option<usize>>,
    /// Per measure name (`keys`, `cpu`, `network`), per slot, as `values` in
    /// [`SlotMapData`]; an object, so the page finds a measure by its name.
    values: ByMeasure,
    #[serde(flatten)]
    basis: Basis,
    /// Set when the rate measures (cpu, network) have no window yet; keys never lack one.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// Values per measure, written as a JSON object keyed by the measure's name, in order.
struct ByMeasure(Vec<(&'static str, Vec<Option<f64>>)>);

impl Serialize for ByMeasure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, values)| (name, values)))
    }
}

/// The primaries (in address order) and each slot's owner as an index among them.
fn map_owners(observation: &Observation) -> (Vec<MapNode<'_>>, Vec<Option<usize>>) {
    let snapshot = &observation.snapshot;
    let primaries: Vec<usize> =
        (0..snapshot.nodes.len()).filter(|&i| snapshot.nodes[i].role == crate::snapshot::Role::Primary).collect();
    let index_of = |node: u32| primaries.iter().position(|&p| p == node as usize);
    let owners = if snapshot.owners.is_empty() {
        vec![None; crate::snapshot::SLOT_COUNT]
    } else {
        snapshot.owners.iter().map(|o| o.and_then(index_of)).collect()
    };
    let nodes = primaries
        .iter()
        .map(|&i| MapNode { node: node_ref(&snapshot.nodes[i]), up: snapshot.nodes[i].is_up() })
        .collect();
    (nodes, owners)
}

/// Each slot's value of `measure` on its primary, to two decimals; `null` when unknown.
fn map_values(observation: &Observation, measure: Measure) -> Vec<Option<f64>> {
    let snapshot = &observation.snapshot;
    let mut values = vec![None; crate::snapshot::SLOT_COUNT];
    for (position, record) in snapshot.slots.iter().enumerate() {
        if snapshot.node(record).role == crate::snapshot::Role::Primary {
            values[usize::from(record.slot)] =
                measured(observation, measure, position).map(|v| (v * 100.0).round() / 100.0);
        }
    }
    values
}

/// The whole slot space in one measure, for the page's map: one owner and one value
/// per slot, compact (about 100 KB for a rate, a fraction of that gzipped).
pub(crate) fn slot_map(observation: &Observation, measure: Measure, cached: bool, now: SystemTime) -> JsonReply {
    let (nodes, owners) = map_owners(observation);
    let no_rates = measure.is_rate() && !observation.window.has_rates();
    let data = SlotMapData {
        by: measure.name(),
        nodes,
        owners,
        values: map_values(observation, measure),
        basis: basis(observation, cached),
        note: no_rates.then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}

/// The slot space in keys, CPU and network with the owners once: what the page draws
/// and shows in its tooltip, in one answer per refresh instead of three.
pub(crate) fn slot_maps(observation: &Observation, cached: bool, now: SystemTime) -> JsonReply {
    let (nodes, owners) = map_owners(observation);
    let values = ByMeasure(MAPPED.iter().map(|&m| (m.name(), map_values(observation, m))).collect());
    let data = AllMapsData {
        by: "all",
        slot_count: crate::snapshot::SLOT_COUNT,
        nodes,
        owners,
        values,
        basis: basis(observation, cached),
        note: (!observation.window.has_rates()).then_some(NO_WINDOW_NOTE),
    };
    success(data, now)
}

#[derive(Serialize)]
struct NodeEntry<'a> {
    #[serde(flatten)]
    node: NodeRef<'a>,
    role: &'static str,
    up: bool,
    slots: u32,
    /// Time the node took to answer (or fail) in the refresh that took the snapshot.
    answer_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    server: Option<&'a str>,
    version: Option<&'a str>,
    slot_stats_enabled: Option<bool>,
    /// Whether its migration jobs were listed: `listed`, `not_supported` (before Valkey
    /// 9.0), `not_permitted` (refused; see `migrations_detail`), `unreadable`, or
    /// `not_asked` (down, a replica, or its version unknown).
    migrations: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    migrations_detail: Option<&'a str>,
}

#[derive(Serialize)]
struct NodesData<'a> {
    cluster: &'a str,
    /// The `--slot-series` profile `/metrics` uses.
    profile: String,
    cache_ttl_seconds: f64,
    nodes: Vec<NodeEntry<'a>>,
    #[serde(flatten)]
    basis: Basis,
}

/// What the exporter knows about a cluster and its nodes, for the page's header and
/// node table.
pub(crate) struct ClusterFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) profile: String,
    pub(crate) cache_ttl: std::time::Duration,
}

pub(crate) fn nodes(observation: &Observation, facts: ClusterFacts<'_>, cached: bool, now: SystemTime) -> JsonReply {
    let moves = &observation.snapshot.moves;
    let nodes = observation
        .snapshot
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeEntry {
            node: node_ref(n),
            role: n.role.as_str(),
            up: n.is_up(),
            slots: n.slots_served,
            answer_ms: n.duration.as_secs_f64() * 1e3,
            error: n.failure.as_ref().map(|f| f.kind.as_str()),
            detail: n.failure.as_ref().map(|f| f.detail.as_str()),
            server: n.version.as_ref().map(|v| v.server.as_str()),
            version: n.version.as_ref().map(|v| v.version.as_str()),
            slot_stats_enabled: n.slot_stats_enabled,
            migrations: moves.of_node(i).listing.as_str(),
            migrations_detail: moves.of_node(i).listing.detail(),
        })
        .collect();
    let data = NodesData {
        cluster: facts.name,
        profile: facts.profile,
        cache_ttl_seconds: facts.cache_ttl.as_secs_f64(),
        nodes,
        basis: basis(observation, cached),
    };
    success(data, now)
}
