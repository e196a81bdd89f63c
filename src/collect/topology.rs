//! The cluster topology: which primary owns which slot, and which replicas follow it,
//! parsed from `CLUSTER SLOTS`.
//!
//! It is read afresh from one seed on every refresh, so failovers and resharding show
//! up within one cache TTL, and every slot has exactly one owner in a snapshot: the
//! owner that one node's view names.

use super::reply::ReplyError;
use crate::config::format_addr;
use crate::snapshot::{MAX_SLOT, Role, SLOT_COUNT};
use fred::types::Value;
use std::collections::HashMap;

/// A node named by the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyNode {
    /// Announced `host:port`.
    pub addr: String,
    pub node_id: String,
    pub role: Role,
    /// For a replica: index of its primary in [`Topology::nodes`].
    pub primary: Option<usize>,
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
    pub fn from_cluster_slots(reply: Value, queried_host: &str) -> Result<Self, ReplyError> {
        let Value::Array(ranges) = reply else {
            return Err(ReplyError(format!("CLUSTER SLOTS: expected an array, got {}", reply.kind())));
        };
        let mut builder = Builder { queried_host, nodes: Vec::new(), by_key: HashMap::new() };
        let mut owner = vec![None; SLOT_COUNT];
        for range in ranges {
            let Value::Array(parts) = range else {
                return Err(ReplyError("CLUSTER SLOTS: range entry is not an array".into()));
            };
            builder.add_range(parts, &mut owner)?;
        }
        // A primary that owns no slot appears in no range, and so not here: it has no
        // slot statistics to give.
        Ok(Topology { nodes: builder.nodes, owner })
    }

    /// Index of the primary owning `slot`.
    pub fn owner_of(&self, slot: u16) -> Option<usize> {
        self.owner.get(slot as usize).copied().flatten().map(|i| i as usize)
    }

    /// Whether the node at `index` answers for `slot`: a primary for its own slots, a
    /// replica for its primary's.
    pub fn serves(&self, index: usize, slot: u16) -> bool {
        let primary = self.nodes[index].primary.unwrap_or(index);
        self.owner_of(slot) == Some(primary)
    }

    /// Number of slots the node at `index` serves.
    pub fn slots_served(&self, index: usize) -> u32 {
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
    fn add_range(&mut self, parts: Vec<Value>, owner: &mut [Option<u32>]) -> Result<(), ReplyError> {
        let mut parts = parts.into_iter();
        let start = slot_number(parts.next())?;
        let end = slot_number(parts.next())?;
        if start > end {
            return Err(ReplyError(format!("CLUSTER SLOTS: range {start}-{end} is reversed")));
        }
        let primary_desc = parts.next().ok_or_else(|| ReplyError("CLUSTER SLOTS: range without a primary".into()))?;
        let primary = self.node(primary_desc, None)?;
        for slot in start..=end {
            owner[slot as usize] = Some(primary as u32);
        }
        for replica in parts {
            self.node(replica, Some(primary))?;
        }
        Ok(())
    }

    fn node(&mut self, desc: Value, primary: Option<usize>) -> Result<usize, ReplyError> {
        let Value::Array(fields) = desc else {
            return Err(ReplyError("CLUSTER SLOTS: node entry is not an array".into()));
        };
        let mut fields = fields.into_iter();
        let host = fields.next().and_then(|v| v.as_string()).unwrap_or_default();
        let host = if host.is_empty() || host == "?" { self.queried_host.to_string() } else { host };
        let port = fields
            .next()
            .and_then(|v| v.as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| ReplyError("CLUSTER SLOTS: node entry without a valid port".into()))?;
        let node_id = fields.next().and_then(|v| v.as_string()).unwrap_or_default();
        let addr = format_addr(&host, port);
        let key = if node_id.is_empty() { addr.clone() } else { node_id.clone() };
        if let Some(&index) = self.by_key.get(&key) {
            return Ok(index);
        }
        let role = if primary.is_some() { Role::Replica } else { Role::Primary };
        self.nodes.push(TopologyNode { addr, node_id, role, primary });
        self.by_key.insert(key, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }
}

fn slot_number(value: Option<Value>) -> Result<u16, ReplyError> {
    value
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|s| *s <= u64::from(MAX_SLOT))
        .map(|s| s as u16)
        .ok_or_else(|| ReplyError("CLUSTER SLOTS: invalid slot number".into()))
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
        assert_eq!(t.nodes[0].addr, "127.0.0.1:7000");
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
}
