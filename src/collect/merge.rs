//! Merging per-node answers into one snapshot's node list and slot records.
//!
//! This is where a slot is attributed to a node: a record is kept only if the
//! topology says the reporting node serves that slot, so a node with a stale view
//! (still answering for a slot that has moved) cannot put a slot under two primaries.
//! A node outside `allowed_nodes` was never asked, and the slots it claims are
//! attributed to no node: the topology's word is not enough for a node not trusted.

use super::topology::Topology;
use crate::snapshot::{FailureKind, MAX_SLOT, NodeFailure, NodeStatus, ServerVersion, SlotRecord, SlotStats};
use std::time::Duration;

/// What one queried node gave.
pub struct NodeAnswer {
    /// Index into [`Topology::nodes`].
    pub index: usize,
    pub duration: Duration,
    pub result: Result<Vec<(u16, SlotStats)>, NodeFailure>,
    /// From `INFO server`, which precedes the statistics on the same connection.
    pub version: Option<ServerVersion>,
}

/// The snapshot's parts built from one topology and its nodes' answers.
pub struct Merged {
    /// Sorted by role, then address.
    pub nodes: Vec<NodeStatus>,
    /// Sorted by slot, then primary first, then address.
    pub slots: Vec<SlotRecord>,
    /// For each slot, the position in `nodes` of the primary that owns it, whether or not
    /// it answered.
    pub owners: Vec<Option<u32>>,
}

/// Builds the snapshot's node list, slot records and slot owners.
pub fn merge(topology: &Topology, answers: Vec<NodeAnswer>) -> Merged {
    let mut answers = answers;
    answers.sort_by(|a, b| {
        let (na, nb) = (&topology.nodes[a.index], &topology.nodes[b.index]);
        (na.role, &na.addr).cmp(&(nb.role, &nb.addr))
    });

    let mut nodes = Vec::with_capacity(answers.len());
    let mut slots = Vec::new();
    let mut position_of = vec![None; topology.nodes.len()];
    for answer in answers {
        let position = nodes.len() as u32;
        let trusted = !matches!(&answer.result, Err(f) if f.kind == FailureKind::NotAllowed);
        if trusted {
            position_of[answer.index] = Some(position);
        }
        let node = &topology.nodes[answer.index];
        let (failure, slot_stats_enabled) = match answer.result {
            Ok(rows) => {
                let before = slots.len();
                slots.extend(
                    rows.into_iter()
                        .filter(|(slot, _)| topology.serves(answer.index, *slot))
                        .map(|(slot, stats)| SlotRecord { slot, node: position, stats }),
                );
                let kept = &slots[before..];
                let enabled = (!kept.is_empty()).then(|| kept.iter().any(|r| r.stats.has_usage_stats()));
                (None, enabled)
            }
            Err(failure) => (Some(failure), None),
        };
        nodes.push(NodeStatus {
            addr: node.addr.clone(),
            node_id: node.node_id.clone(),
            role: node.role,
            slots_served: if trusted { topology.slots_served(answer.index) } else { 0 },
            failure,
            duration: answer.duration,
            slot_stats_enabled,
            version: answer.version,
        });
    }
    // Nodes are already in (role, addr) order, so the node index orders ties.
    slots.sort_unstable_by_key(|r| (r.slot, r.node));
    let owners = (0..=MAX_SLOT).map(|slot| topology.owner_of(slot).and_then(|i| position_of[i])).collect();
    Merged { nodes, slots, owners }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{FailureKind, Role};
    use fred::types::Value;

    /// Slots 0-9 on b (replica d), 10-16383 on a.
    fn topology() -> Topology {
        let node = |host: &str, id: &str| {
            Value::Array(vec![Value::String(host.into()), Value::Integer(1), Value::String(id.into())])
        };
        let range = |s: i64, e: i64, mut ns: Vec<Value>| {
            let mut v = vec![Value::Integer(s), Value::Integer(e)];
            v.append(&mut ns);
            Value::Array(v)
        };
        let reply = Value::Array(vec![
            range(0, 9, vec![node("b", "B"), node("d", "D")]),
            range(10, 16383, vec![node("a", "A")]),
        ]);
        Topology::from_cluster_slots(reply, "x").unwrap()
    }

    fn keys(n: u64) -> SlotStats {
        SlotStats { key_count: Some(n), ..Default::default() }
    }

    #[test]
    fn keeps_only_served_slots_and_orders_everything() {
        let t = topology();
        let (b, d, a) = (0, 1, 2);
        let answers = vec![
            NodeAnswer { index: d, duration: Duration::ZERO, version: None, result: Ok(vec![(0, keys(1))]) },
            // a still reports slot 5 (stale after a migration): must not be kept.
            NodeAnswer {
                index: a,
                duration: Duration::ZERO,
                version: None,
                result: Ok(vec![(5, keys(9)), (10, keys(2))]),
            },
            NodeAnswer {
                index: b,
                duration: Duration::ZERO,
                version: None,
                result: Ok(vec![(0, keys(1)), (9, keys(3))]),
            },
        ];
        let Merged { nodes, slots, owners } = merge(&t, answers);
        let addrs: Vec<_> = nodes.iter().map(|n| (n.addr.as_str(), n.role)).collect();
        assert_eq!(addrs, vec![("a:1", Role::Primary), ("b:1", Role::Primary), ("d:1", Role::Replica)]);
        let got: Vec<_> = slots.iter().map(|r| (r.slot, nodes[r.node as usize].addr.as_str())).collect();
        assert_eq!(got, vec![(0, "b:1"), (0, "d:1"), (9, "b:1"), (10, "a:1")]);
        assert_eq!(nodes[0].slots_served, 16374);
        assert_eq!(nodes[2].slots_served, 10);
        assert_eq!(nodes[0].slot_stats_enabled, Some(false));
        assert_eq!((owners[0], owners[9], owners[10], owners[16383]), (Some(1), Some(1), Some(0), Some(0)));
    }

    #[test]
    fn failed_nodes_are_listed_without_slots() {
        let t = topology();
        let failure = NodeFailure { kind: FailureKind::ConnectionRefused, detail: "refused".into() };
        let answers = vec![
            NodeAnswer { index: 2, duration: Duration::from_millis(3), version: None, result: Err(failure.clone()) },
            NodeAnswer { index: 0, duration: Duration::ZERO, version: None, result: Ok(vec![(1, keys(1))]) },
        ];
        let Merged { nodes, slots, owners } = merge(&t, answers);
        assert_eq!(nodes[0].failure, Some(failure));
        assert_eq!(nodes[0].slot_stats_enabled, None);
        assert_eq!(slots.len(), 1);
        assert_eq!(nodes[slots[0].node as usize].addr.as_str(), "b:1");
        assert_eq!(owners[100], Some(0), "a dead primary still owns its slots, without records");
    }

    #[test]
    fn a_node_outside_allowed_nodes_is_listed_but_owns_nothing() {
        let t = topology();
        let answers = vec![
            NodeAnswer {
                index: 0,
                duration: Duration::ZERO,
                version: None,
                result: Err(crate::collect::failure::not_allowed(t.slots_served(0))),
            },
            NodeAnswer { index: 2, duration: Duration::ZERO, version: None, result: Ok(vec![(10, keys(1))]) },
        ];
        let Merged { nodes, owners, .. } = merge(&t, answers);
        let b = nodes.iter().find(|n| n.addr.as_str() == "b:1").expect("b is listed");
        assert_eq!(b.failure.as_ref().map(|f| f.kind), Some(FailureKind::NotAllowed));
        assert!(b.failure.as_ref().unwrap().detail.contains("claims 10 slots"), "{:?}", b.failure);
        assert_eq!(b.slots_served, 0);
        assert_eq!((owners[0], owners[9], owners[10]), (None, None, Some(0)), "b's claimed slots have no owner");
    }
}
