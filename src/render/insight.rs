//! JSON answers of the insight endpoints (hot slots, balance, rebalance plan, nodes; the
//! slot map is in `slot_map.rs`), in the API's envelope. Rates are per second in the
//! server's units (µs of CPU, bytes), like the slot-stats API; a value that cannot be
//! known is `null`, never 0. Every answer says what its rates rest on ([`Basis`]).

use super::json::{JsonReply, rfc3339_millis, success};
use crate::aggregate::Observation;
use crate::insight::Rebalance;
use crate::insight::balance::Balance;
use crate::insight::hot::{HotSlots, NO_WINDOW_NOTE};
use crate::insight::plan::Move;
use crate::insight::stats::Imbalance;
use crate::question::PlanQuestion;
use crate::snapshot::NodeStatus;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// How an answer's observation was served.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Freshness {
    /// True when answered from an existing snapshot without waiting for a refresh.
    pub(crate) cached: bool,
    /// When the observation has no current rates (none yet, or over a window spanning
    /// a long idle time): how long until a snapshot with them is taken (the first
    /// window, `cache.rs`), so the client knows when to ask again.
    pub(crate) rates_ready_in: Option<Duration>,
}

/// What every insight answer says about the observation it comes from.
#[derive(Serialize)]
pub(super) struct Basis {
    /// Seconds between the two snapshots the rates come from; `null` with one snapshot.
    window_seconds: Option<f64>,
    /// Seconds until current rates can be asked for, rounded up to a tenth; `null`
    /// when this answer's rates are current (or it needs none).
    rates_ready_in_seconds: Option<f64>,
    snapshot_timestamp: String,
    /// True when answered from an existing snapshot without waiting for a refresh.
    cached: bool,
}

pub(super) fn basis(observation: &Observation, freshness: Freshness) -> Basis {
    Basis {
        window_seconds: observation.window.seconds,
        rates_ready_in_seconds: freshness.rates_ready_in.map(|d| (d.as_secs_f64() * 10.0).ceil() / 10.0),
        snapshot_timestamp: rfc3339_millis(observation.snapshot.taken_at),
        cached: freshness.cached,
    }
}

#[derive(Serialize)]
pub(super) struct NodeRef<'a> {
    node: &'a str,
    node_id: &'a str,
}

pub(super) fn node_ref(node: &NodeStatus) -> NodeRef<'_> {
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
    freshness: Freshness,
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
    let data =
        HotSlotsData { by: hot.measure.name(), limit, slots, basis: basis(observation, freshness), note: hot.note };
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

pub(crate) fn balance(
    observation: &Observation,
    balance: &Balance,
    freshness: Freshness,
    now: SystemTime,
) -> JsonReply {
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
        basis: basis(observation, freshness),
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
    freshness: Freshness,
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
        basis: basis(observation, freshness),
        note: no_rates.then_some(NO_WINDOW_NOTE),
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

pub(crate) fn nodes(
    observation: &Observation,
    facts: ClusterFacts<'_>,
    freshness: Freshness,
    now: SystemTime,
) -> JsonReply {
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
        basis: basis(observation, freshness),
    };
    success(data, now)
}
