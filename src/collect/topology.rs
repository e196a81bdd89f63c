//! The cluster topology: which primary owns which slot, and which replicas follow it,
//! parsed from `CLUSTER SLOTS`.
//!
//! It is read afresh from one seed on every refresh, so failovers and resharding show
//! up within one cache TTL, and every slot has exactly one owner in a snapshot: the
//! owner that one node's view names. The `CLUSTER SLOT-STATS` requests each node gets
//! are built from it here too.

use super::node::RawCommand;
use crate::addr::NodeAddr;
use crate::snapshot::{MAX_SLOT, Role, SLOT_COUNT};
use fred::types::Value;
use std::collections::HashMap;

/// A `CLUSTER SLOTS` reply that does not describe a topology.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected CLUSTER SLOTS reply: {0}")]
pub struct TopologyError(String);

/// A node named by the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyNode {
    /// Announced address.
    pub addr: NodeAddr,
    pub(crate) node_id: String,
    pub role: Role,
    /// For a replica: index of its primary in [`Topology::nodes`].
    pub(crate) primary: Option<usize>,
}

/// Slot ownership as one node sees it.
#[derive(Clone, Debug)]
pub struct Topology {
    pub nodes: Vec<TopologyNode>,
    /// For each slot, index of the owning primary; `None` for an unassigned slot.
    owner: Vec<Option<u32>>,
}

impl Topology {
    /// Parses a `CLUSTER SLOTS` reply. `queried_host` stands in for an empty or `?`
    /// host, which a node reports before it has learned its own address.
    pub fn from_cluster_slots(reply: Value, queried_host: &str) -> Result<Self, TopologyError> {
        let Value::Array(ranges) = reply else {
            return Err(TopologyError(format!("expected an array, got {}", reply.kind())));
        };
        let mut builder = Builder { queried_host, nodes: Vec::new(), by_key: HashMap::new() };
        let mut owner = vec![None; SLOT_COUNT];
        for range in ranges {
            let Value::Array(parts) = range else {
                return Err(TopologyError("range entry is not an array".into()));
            };
            builder.add_range(parts, &mut owner)?;
        }
        // A primary that owns no slot appears in no range, and so not here: it has no
        // slot statistics to give.
        Ok(Topology { nodes: builder.nodes, owner })
    }

    /// Adds primaries that own no slots (from `CLUSTER SHARDS`) unless already known:
    /// they have no statistics, but they are where a rebalance should move load.
    pub(crate) fn add_empty_primaries(&mut self, primaries: Vec<super::shards::EmptyPrimary>) {
        for primary in primaries {
            if self.nodes.iter().any(|n| n.node_id == primary.node_id || n.addr == primary.addr) {
                continue;
            }
            self.nodes.push(TopologyNode {
                addr: primary.addr,
                node_id: primary.node_id,
                role: Role::Primary,
                primary: None,
            });
        }
    }

    /// Index of the primary owning `slot`.
    pub(crate) fn owner_of(&self, slot: u16) -> Option<usize> {
        self.owner.get(slot as usize).copied().flatten().map(|i| i as usize)
    }

    /// Whether the node at `index` answers for `slot`: a primary for its own slots, a
    /// replica for its primary's.
    pub(crate) fn serves(&self, index: usize, slot: u16) -> bool {
        let primary = self.nodes[index].primary.unwrap_or(index);
        self.owner_of(slot) == Some(primary)
    }

    /// Number of slots the node at `index` serves.
    pub(crate) fn slots_served(&self, index: usize) -> u32 {
        let primary = self.nodes[index].primary.unwrap_or(index) as u32;
        self.owner.iter().filter(|o| **o == Some(primary)).count() as u32
    }
}

struct Builder<'a> {
    queried_host: &'a str,
    nodes: Vec<TopologyNode>,
    /// Node id (or address when a server omits ids) to index, so a node listed in
    /// several ranges is one node.
    by_key: HashMap<String, usize>,
}

impl Builder<'_> {
    fn add_range(&mut self, parts: Vec<Value>, owner: &mut [Option<u32>]) -> Result<(), TopologyError> {
        let mut parts = parts.into_iter();
        let start = slot_number(parts.next())?;
        let end = slot_number(parts.next())?;
        if start > end {
            return Err(TopologyError(format!("range {start}-{end} is reversed")));
        }
        let primary_desc = parts.next().ok_or_else(|| TopologyError("range without a primary".into()))?;
        let primary = self.node(primary_desc, None)?;
        for slot in start..=end {
            owner[slot as usize] = Some(primary as u32);
        }
        for replica in parts {
            self.node(replica, Some(primary))?;
        }
        Ok(())
    }

    fn node(&mut self, desc: Value, primary: Option<usize>) -> Result<usize, TopologyError> {
        let Value::Array(fields) = desc else {
            return Err(TopologyError("node entry is not an array".into()));
        };
        let mut fields = fields.into_iter();
        let host = fields.next().and_then(|v| v.as_string()).unwrap_or_default();
        let host = if host.is_empty() || host == "?" { self.queried_host.to_string() } else { host };
        let port = fields
            .next()
            .and_then(|v| v.as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| TopologyError("node entry without a valid port".into()))?;
        let node_id = fields.next().and_then(|v| v.as_string()).unwrap_or_default();
        let addr = NodeAddr::new(host, port);
        let key = if node_id.is_empty() { addr.to_string() } else { node_id.clone() };
        if let Some(&index) = self.by_key.get(&key) {
            return Ok(index);
        }
        let role = if primary.is_some() { Role::Replica } else { Role::Primary };
        self.nodes.push(TopologyNode { addr, node_id, role, primary });
        self.by_key.insert(key, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }
}

fn slot_number(value: Option<Value>) -> Result<u16, TopologyError> {
    value
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|s| *s <= u64::from(MAX_SLOT))
        .map(|s| s as u16)
        .ok_or_else(|| TopologyError("invalid slot number".into()))
}

/// Most slots asked for in one command (a reply of ~28 KB). fred decodes a reply again
/// from its start each time more of it arrives from the socket, so one large reply
/// costs far more than its size; small replies also let each one's frames be dropped
/// before the next is decoded. The commands are pipelined, so the round trips do not
/// add up. 256 was the cheapest of 16384, 4096, 1024 and 256 in the benchmark
/// (docs/performance.md).
pub(crate) const MAX_SLOTS_PER_REQUEST: usize = 256;

impl Topology {
    /// The commands that fetch the statistics of every slot the node at `index` serves:
    /// `CLUSTER SLOT-STATS SLOTSRANGE a b` over windows of the slot space that each hold
    /// at most [`MAX_SLOTS_PER_REQUEST`] of its slots. A window may span slots the node
    /// does not serve; the server leaves those out of its reply.
    pub(crate) fn slot_stats_requests(&self, index: usize) -> Vec<RawCommand> {
        self.slot_stats_requests_of(index, MAX_SLOTS_PER_REQUEST)
    }

    /// [`slot_stats_requests`](Self::slot_stats_requests) with at most `per_request`
    /// served slots per command (the benchmark compares sizes).
    pub fn slot_stats_requests_of(&self, index: usize, per_request: usize) -> Vec<RawCommand> {
        let served = (0..=MAX_SLOT).filter(|&slot| self.serves(index, slot));
        windows(served, per_request.max(1)).into_iter().map(|(first, last)| slotsrange(first, last)).collect()
    }
}

/// `CLUSTER SLOT-STATS SLOTSRANGE 0 16383`: every slot, in one command.
pub fn all_slots_request() -> RawCommand {
    slotsrange(0, MAX_SLOT)
}

fn slotsrange(first: u16, last: u16) -> RawCommand {
    let args = vec!["SLOT-STATS".into(), "SLOTSRANGE".into(), first.to_string(), last.to_string()];
    RawCommand { name: "CLUSTER", args }
}

/// Groups ascending `slots` into `(first, last)` windows of at most `per_window` slots.
fn windows(slots: impl Iterator<Item = u16>, per_window: usize) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(SLOT_COUNT.div_ceil(per_window));
    let mut in_window = 0;
    for slot in slots {
        match out.last_mut() {
            Some((_, last)) if in_window < per_window => {
                *last = slot;
                in_window += 1;
            }
            _ => {
                out.push((slot, slot));
                in_window = 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: i64, id: &str) -> Value {
        Value::Array(vec![
            Value::String(host.into()),
            Value::Integer(port),
            Value::String(id.into()),
            Value::Array(vec![]),
        ])
    }

    fn range(start: i64, end: i64, nodes: Vec<Value>) -> Value {
        let mut v = vec![Value::Integer(start), Value::Integer(end)];
        v.extend(nodes);
        Value::Array(v)
    }

    #[test]
    fn parses_owners_replicas_and_split_ranges() {
        let reply = Value::Array(vec![
            range(0, 99, vec![node("10.0.0.1", 7000, "a"), node("10.0.0.4", 7003, "d")]),
            range(100, 16383, vec![node("10.0.0.2", 7001, "b")]),
            range(50, 60, vec![node("10.0.0.1", 7000, "a"), node("10.0.0.4", 7003, "d")]),
        ]);
        let t = Topology::from_cluster_slots(reply, "seed").unwrap();
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.nodes[1].role, Role::Replica);
        assert_eq!(t.nodes[1].primary, Some(0));
        assert_eq!(t.owner_of(0), Some(0));
        assert_eq!(t.owner_of(16383), Some(2));
        assert!(t.serves(1, 5) && !t.serves(1, 100));
        assert_eq!(t.slots_served(0), 100);
        assert_eq!(t.slots_served(1), 100);
        assert_eq!(t.slots_served(2), 16284);
    }

    #[test]
    fn empty_host_falls_back_to_the_queried_host() {
        let reply = Value::Array(vec![range(0, 16383, vec![node("", 7000, "a")])]);
        let t = Topology::from_cluster_slots(reply, "127.0.0.1").unwrap();
        assert_eq!(t.nodes[0].addr.as_str(), "127.0.0.1:7000");
    }

    #[test]
    fn unassigned_slots_have_no_owner() {
        let reply = Value::Array(vec![range(0, 10, vec![node("h", 1, "a")])]);
        let t = Topology::from_cluster_slots(reply, "h").unwrap();
        assert_eq!(t.owner_of(11), None);
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(Topology::from_cluster_slots(Value::Integer(1), "h").is_err());
        assert!(Topology::from_cluster_slots(Value::Array(vec![range(5, 1, vec![node("h", 1, "a")])]), "h").is_err());
        assert!(Topology::from_cluster_slots(Value::Array(vec![range(0, 1, vec![])]), "h").is_err());
    }

    #[test]
    fn requests_cover_exactly_the_served_slots_in_bounded_windows() {
        let node = |host: &str, id: &str| {
            Value::Array(vec![Value::String(host.into()), Value::Integer(1), Value::String(id.into())])
        };
        let range = |s: i64, e: i64, n: Value| Value::Array(vec![Value::Integer(s), Value::Integer(e), n]);
        // a: 0-99 and 10000-16383 (6484 slots); b: 100-9999.
        let reply = Value::Array(vec![
            range(0, 99, node("a", "A")),
            range(100, 9999, node("b", "B")),
            range(10000, 16383, node("a", "A")),
        ]);
        let topology = Topology::from_cluster_slots(reply, "x").unwrap();
        let args = |c: &RawCommand| (c.args[2].parse::<u16>().unwrap(), c.args[3].parse::<u16>().unwrap());
        let a: Vec<_> = topology.slot_stats_requests_of(0, 4096).iter().map(args).collect();
        assert_eq!(a, vec![(0, 13995), (13996, 16383)]);
        let b: Vec<_> = topology.slot_stats_requests_of(1, 4096).iter().map(args).collect();
        assert_eq!(b, vec![(100, 4195), (4196, 8291), (8292, 9999)]);
        let all = topology.slot_stats_requests(1);
        assert_eq!(all.len(), 9900usize.div_ceil(MAX_SLOTS_PER_REQUEST));
        assert_eq!(all_slots_request().args, ["SLOT-STATS", "SLOTSRANGE", "0", "16383"]);
    }
}
