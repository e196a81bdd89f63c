//! Hand-built snapshots for the aggregation tests.

use crate::addr::test_addr;
use crate::snapshot::{ClusterState, FailureKind, NodeFailure, NodeStatus, Role, SlotRecord, SlotStats, Snapshot};
use std::time::{Duration, SystemTime};

/// A node: address `addr`, node id `id`.
pub(crate) fn node(addr: &str, id: &str, role: Role, up: bool) -> NodeStatus {
    NodeStatus {
        addr: test_addr(addr),
        node_id: id.into(),
        role,
        slots_served: 0,
        failure: (!up).then(|| NodeFailure { kind: FailureKind::Timeout, detail: String::new() }),
        duration: Duration::ZERO,
        slot_stats_enabled: Some(true),
        version: None,
    }
}

/// `(slot, node index, cpu, bytes in, bytes out, keys)`.
pub(crate) type Row = (u16, u32, u64, u64, u64, u64);

pub(crate) fn snapshot(at_secs: u64, nodes: Vec<NodeStatus>, rows: &[Row]) -> Snapshot {
    let mut slots: Vec<SlotRecord> = rows
        .iter()
        .map(|&(slot, node, cpu, net_in, net_out, keys)| SlotRecord {
            slot,
            node,
            stats: SlotStats {
                key_count: Some(keys),
                cpu_usec: Some(cpu),
                network_bytes_in: Some(net_in),
                network_bytes_out: Some(net_out),
                memory_bytes: None,
            },
        })
        .collect();
    slots.sort_by_key(|r| (r.slot, r.node));
    Snapshot {
        taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(at_secs),
        refresh_duration: Duration::ZERO,
        state: ClusterState::Cluster,
        nodes,
        slots,
        owners: Vec::new(),
        moves: Default::default(),
    }
}
