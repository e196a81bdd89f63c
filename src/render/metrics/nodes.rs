//! Per-node families (label `node`): whether each node answered, its identity, and
//! the sums and hottest slot of its slots.

use crate::aggregate::Observation;
use crate::aggregate::rank::hottest_per_node;
use crate::question::Measure;
use crate::snapshot::NodeStatus;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt;

/// How the node and range counters are kept, for their HELP texts.
pub(super) const ACCUMULATION: &str = " Accumulated by the exporter so it never decreases while the exporter runs: a \
slot's growth is added while the same node reports it, a reset adds the slot's new value, and a slot that changes \
owner (migration, failover) or first appears later (its node was down) is re-based without adding anything; the \
first snapshot starts the sum at its current total.";

pub(super) fn encode(encoder: &mut DescriptorEncoder, observation: &Observation, cached: &str) -> fmt::Result {
    encode_status(encoder, &observation.snapshot.nodes, cached)?;
    encode_sums(encoder, observation, cached)?;
    encode_hottest(encoder, observation, cached)
}

pub(super) fn encode_status(encoder: &mut DescriptorEncoder, nodes: &[NodeStatus], cached: &str) -> fmt::Result {
    let help = |text: &str| format!("{text}{cached}");
    node_gauge(
        encoder,
        nodes,
        "valkey_node_up",
        None,
        &help("1 if the node answered the last refresh, else 0."),
        |i| Some(i64::from(nodes[i].is_up())),
    )?;
    node_gauge(
        encoder,
        nodes,
        "valkey_node_slots",
        None,
        &help("Slots the node serves (a replica: its primary's)."),
        |i| Some(i64::from(nodes[i].slots_served)),
    )?;
    node_gauge(
        encoder,
        nodes,
        "valkey_node_slot_stats_enabled",
        None,
        &help(
            "1 if the node reports per-slot CPU and network (cluster-slot-stats-enabled yes), 0 if only key counts; absent when unknown.",
        ),
        |i| nodes[i].slot_stats_enabled.map(i64::from),
    )?;
    node_gauge(
        encoder,
        nodes,
        "valkey_node_scrape_duration",
        Some(Unit::Seconds),
        &help("Time the node took to answer (or fail) in the last refresh."),
        |i| Some(nodes[i].duration.as_secs_f64()),
    )?;
    let info_help =
        help("Node identity, role, and the server and version it runs (empty while unknown); value is always 1.");
    let mut info = encoder.encode_descriptor("valkey_node", &info_help, None, MetricType::Info)?;
    for node in nodes {
        let (server, version) = node.version.as_ref().map_or(("", ""), |v| (v.server.as_str(), v.version.as_str()));
        info.encode_info(&[
            ("node", node.addr.as_str()),
            ("node_id", &node.node_id),
            ("role", node.role.as_str()),
            ("server", server),
            ("version", version),
        ])?;
    }
    Ok(())
}

/// Keys and accumulated CPU and network of each node's slots.
fn encode_sums(encoder: &mut DescriptorEncoder, observation: &Observation, cached: &str) -> fmt::Result {
    let nodes = &observation.snapshot.nodes;
    let sums = &observation.totals.nodes;
    node_gauge(
        encoder,
        nodes,
        "valkey_node_slot_keys",
        None,
        &format!("Keys in the node's slots (sum of key-count).{cached}"),
        |i| sums[i].keys.map(|k| k as i64),
    )?;
    let counters: [(&str, Unit, &str, f64); 3] = [
        ("valkey_node_slot_cpu", Unit::Seconds, "CPU time spent on the commands of the node's slots.", 1e6),
        ("valkey_node_slot_network_receive", Unit::Bytes, "Bytes received for the commands of the node's slots.", 1.0),
        ("valkey_node_slot_network_transmit", Unit::Bytes, "Bytes sent for the commands of the node's slots.", 1.0),
    ];
    for (field, (name, unit, help, divisor)) in counters.into_iter().enumerate() {
        let mut series = nodes.iter().zip(sums).filter_map(|(n, s)| s.counters[field].map(|v| (n, v))).peekable();
        if series.peek().is_none() {
            continue;
        }
        let help = format!("{help}{ACCUMULATION}{cached}");
        let mut metric = encoder.encode_descriptor(name, &help, Some(&unit), MetricType::Counter)?;
        for (node, value) in series {
            let value = value as f64 / divisor;
            metric
                .encode_family(&[("node", node.addr.as_str())])?
                .encode_counter::<NoLabelSet, _, f64>(&value, None)?;
        }
    }
    Ok(())
}

/// Each node's busiest slot and its share of the node's rate, over the window between
/// the last two snapshots.
fn encode_hottest(encoder: &mut DescriptorEncoder, observation: &Observation, cached: &str) -> fmt::Result {
    let hottest: Vec<_> = [("cpu", Measure::Cpu), ("network", Measure::Network)]
        .into_iter()
        .flat_map(|(label, measure)| hottest_per_node(observation, measure).into_iter().map(move |h| (label, h)))
        .collect();
    if hottest.is_empty() {
        return Ok(());
    }
    let help = format!(
        "Share (0..1) of the node's CPU or network rate taken by its busiest slot, over the time between the last two \
         snapshots; absent before there are two, or when the node's rate is 0.{cached}"
    );
    let mut metric = encoder.encode_descriptor("valkey_node_hottest_slot_share", &help, None, MetricType::Gauge)?;
    let nodes = &observation.snapshot.nodes;
    for (label, hottest) in hottest {
        let labels = ([("node", nodes[hottest.node].addr.as_str()), ("metric", label)], [("slot", hottest.slot)]);
        metric.encode_family(&labels)?.encode_gauge(&hottest.share)?;
    }
    Ok(())
}

/// One `{node}` gauge family; nodes (by index) for which `value` is `None` get no series.
fn node_gauge<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    nodes: &[NodeStatus],
    name: &str,
    unit: Option<Unit>,
    help: &str,
    value: impl Fn(usize) -> Option<V>,
) -> fmt::Result {
    let mut series = (0..nodes.len()).filter_map(|i| value(i).map(|v| (i, v))).peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
    for (i, v) in series {
        metric.encode_family(&[("node", nodes[i].addr.as_str())])?.encode_gauge(&v)?;
    }
    Ok(())
}
