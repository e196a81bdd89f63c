//! The snapshot: one cluster's slot statistics at one moment, as plain immutable data.
//!
//! A refresh builds it, the cache shares it (`Arc<Snapshot>`), the renderers read
//! it. Nothing here does I/O, so every renderer can be tested on a hand-built value.

pub(crate) mod moves;

use crate::addr::NodeAddr;
pub(crate) use moves::Moves;
use serde::Serialize;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

/// Number of hash slots in a Valkey cluster.
pub(crate) const SLOT_COUNT: usize = 16384;
/// Highest slot number.
pub(crate) const MAX_SLOT: u16 = (SLOT_COUNT - 1) as u16;

/// What a node reported for one slot. `None` means the server did not send that
/// field (for example CPU and network when `cluster-slot-stats-enabled` is `no`, or
/// memory on Valkey): it is rendered as absent, never as zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotStats {
    /// Keys in the slot now (a gauge).
    pub key_count: Option<u64>,
    /// CPU microseconds spent on the slot's commands since the slot came to the node.
    pub cpu_usec: Option<u64>,
    /// Bytes received for the slot's commands (a counter).
    pub network_bytes_in: Option<u64>,
    /// Bytes sent for the slot's commands (a counter).
    pub network_bytes_out: Option<u64>,
    /// Memory used by the slot's keys (Redis 8.2+ only).
    pub memory_bytes: Option<u64>,
}

impl SlotStats {
    /// Whether the node sends the statistics that `cluster-slot-stats-enabled` gates.
    pub(crate) fn has_usage_stats(&self) -> bool {
        self.cpu_usec.is_some() || self.network_bytes_in.is_some() || self.network_bytes_out.is_some()
    }
}

/// The server software and version a node reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// `valkey` or `redis`.
    pub(crate) server: String,
    /// As reported, e.g. `9.1.2`.
    pub(crate) version: String,
}

impl ServerVersion {
    /// `(major, minor)`, when the version starts with two numbers.
    pub(crate) fn major_minor(&self) -> Option<(u32, u32)> {
        let mut parts = self.version.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// Whether the node has atomic slot migration (`CLUSTER MIGRATESLOTS`, Valkey 9.0+).
    pub(crate) fn has_atomic_slot_migration(&self) -> bool {
        self.server == "valkey" && self.major_minor().is_some_and(|v| v >= (9, 0))
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.server, self.version)
    }
}

/// A node's role in the topology the snapshot was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
    /// A seed that failed before any topology named it: it may be either.
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Unknown => "unknown",
        }
    }
}

/// Why a node did not answer, coarse enough to alert on and to show to a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureKind {
    ConnectionRefused,
    Timeout,
    AuthFailed,
    Tls,
    /// Valkey/Redis without CLUSTER SLOT-STATS (before Valkey 8.0 / Redis 8.2).
    Unsupported,
    /// A server running without cluster mode: it has no slots to report.
    ClusterDisabled,
    /// The server answered something the exporter could not make sense of.
    Protocol,
    /// The topology names the node but `allowed_nodes` does not: it was never
    /// contacted, so it never saw the credentials.
    NotAllowed,
    Other,
}

impl FailureKind {
    /// Human wording used in logs and the JSON API (`"error": "connection refused"`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureKind::ConnectionRefused => "connection refused",
            FailureKind::Timeout => "timeout",
            FailureKind::AuthFailed => "authentication failed",
            FailureKind::Tls => "tls error",
            FailureKind::Unsupported => "command not supported",
            FailureKind::ClusterDisabled => "cluster mode disabled",
            FailureKind::Protocol => "protocol error",
            FailureKind::NotAllowed => "not allowed",
            FailureKind::Other => "error",
        }
    }
}

/// A node failure: the kind, and a short detail safe to show (never a credential).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFailure {
    pub(crate) kind: FailureKind,
    pub(crate) detail: String,
}

/// One node as the snapshot saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeStatus {
    /// Announced address; its `host:port` text is the `node` label everywhere.
    pub(crate) addr: NodeAddr,
    /// Cluster node id (empty when the node was never reached through a topology).
    pub(crate) node_id: String,
    pub(crate) role: Role,
    /// Slots the node serves: its own for a primary, its primary's for a replica.
    pub(crate) slots_served: u32,
    /// `None` when the node answered.
    pub(crate) failure: Option<NodeFailure>,
    /// Time to get (or fail to get) this node's reply.
    pub(crate) duration: Duration,
    /// Whether CPU/network statistics are on; `None` when it cannot be told (the node
    /// failed, or serves no slot).
    pub(crate) slot_stats_enabled: Option<bool>,
    /// What the node runs, from `INFO server`; `None` when it did not answer.
    pub(crate) version: Option<ServerVersion>,
}

impl NodeStatus {
    pub(crate) fn is_up(&self) -> bool {
        self.failure.is_none()
    }
}

/// One slot's statistics from one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRecord {
    pub(crate) slot: u16,
    /// Index into [`Snapshot::nodes`] of the node that reported it.
    pub(crate) node: u32,
    pub(crate) stats: SlotStats,
}

/// What kind of server the seeds turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// A cluster whose topology was read; slot records come from the nodes that answered.
    Cluster,
    /// A server with cluster support disabled: there are no slots to report.
    NotCluster,
    /// A cluster whose servers lack CLUSTER SLOT-STATS.
    Unsupported,
    /// No seed answered: nothing is known.
    Unreachable(NodeFailure),
}

/// One cluster's statistics at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When the refresh that built this snapshot started.
    pub taken_at: SystemTime,
    /// How long that refresh took.
    pub refresh_duration: Duration,
    pub state: ClusterState,
    /// Every node queried (primaries, plus replicas when included), sorted by role then address.
    pub nodes: Vec<NodeStatus>,
    /// Sorted by slot, then primary before replica, then node address: ranges are a
    /// binary search away.
    pub slots: Vec<SlotRecord>,
    /// For each slot (16384 entries, or none when no topology was read), the index in
    /// `nodes` of the primary that owns it, whether or not it answered: how a dead
    /// node's slots are shown as its own, and missing.
    pub owners: Vec<Option<u32>>,
    /// Open slots and migration jobs, and per node whether they could be read.
    pub moves: Moves,
}

impl Snapshot {
    /// The records whose slot lies in `range`, in order.
    pub fn slots_in(&self, range: RangeInclusive<u16>) -> &[SlotRecord] {
        let start = self.slots.partition_point(|r| r.slot < *range.start());
        let end = self.slots.partition_point(|r| r.slot <= *range.end());
        &self.slots[start..end]
    }

    pub fn node(&self, record: &SlotRecord) -> &NodeStatus {
        &self.nodes[record.node as usize]
    }

    /// Nodes that did not answer.
    pub fn failed_nodes(&self) -> impl Iterator<Item = &NodeStatus> {
        self.nodes.iter().filter(|n| !n.is_up())
    }

    /// True when not one node answered: there is nothing to serve but the failure.
    pub(crate) fn nothing_answered(&self) -> bool {
        matches!(self.state, ClusterState::Unreachable(_))
            || (self.state == ClusterState::Cluster && !self.nodes.is_empty() && self.nodes.iter().all(|n| !n.is_up()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(slot: u16) -> SlotRecord {
        SlotRecord { slot, node: 0, stats: SlotStats::default() }
    }

    #[test]
    fn slots_in_finds_inclusive_ranges() {
        let snap = Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            refresh_duration: Duration::ZERO,
            state: ClusterState::Cluster,
            nodes: vec![],
            slots: vec![record(0), record(5), record(5), record(9), record(MAX_SLOT)],
            owners: Vec::new(),
            moves: Moves::default(),
        };
        assert_eq!(snap.slots_in(0..=MAX_SLOT).len(), 5);
        assert_eq!(snap.slots_in(5..=5).len(), 2);
        assert_eq!(snap.slots_in(1..=4).len(), 0);
        assert_eq!(snap.slots_in(6..=MAX_SLOT).len(), 2);
    }
}
