//! Primaries that own no slots, from `CLUSTER SHARDS`.
//!
//! `CLUSTER SLOTS` lists only nodes that serve slots, so a primary just added to scale
//! out (met, but given no slots yet) is invisible there — yet it is exactly where load
//! should go. `CLUSTER SHARDS` lists every shard, empty ones included. It is asked of
//! the node that gave the topology, best effort: without it (an ACL that lacks
//! `+cluster|shards`) the exporter works as before, just without empty primaries.

use crate::addr::NodeAddr;
use fred::types::Value;

/// A primary that serves no slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EmptyPrimary {
    pub(crate) addr: NodeAddr,
    pub(crate) node_id: String,
}

/// The online primaries of slot-less shards in a `CLUSTER SHARDS` reply. `queried_host`
/// stands in for a node that reports no address of its own.
pub(crate) fn empty_primaries(reply: &Value, queried_host: &str) -> Vec<EmptyPrimary> {
    let Value::Array(shards) = reply else { return Vec::new() };
    shards.iter().filter_map(|shard| empty_shard_primary(shard, queried_host)).collect()
}

fn empty_shard_primary(shard: &Value, queried_host: &str) -> Option<EmptyPrimary> {
    let fields = pairs(shard);
    let slots = field(&fields, "slots")?;
    if !matches!(slots, Value::Array(ranges) if ranges.is_empty()) {
        return None;
    }
    let Value::Array(nodes) = field(&fields, "nodes")? else { return None };
    nodes.iter().find_map(|node| online_primary(node, queried_host))
}

fn online_primary(node: &Value, queried_host: &str) -> Option<EmptyPrimary> {
    let fields = pairs(node);
    let text = |name| field(&fields, name).and_then(Value::as_string);
    let role = text("role")?;
    if !(role == "master" || role == "primary") || text("health").as_deref() != Some("online") {
        return None;
    }
    let port = field(&fields, "port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok())?;
    let host = text("endpoint").or_else(|| text("ip")).filter(|h| !h.is_empty() && h != "?");
    let node_id = text("id")?;
    Some(EmptyPrimary { addr: NodeAddr::new(host.unwrap_or_else(|| queried_host.to_string()), port), node_id })
}

/// A RESP2 `name, value, ...` array (or a RESP3 map) as name/value pairs.
fn pairs(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Array(flat) => {
            flat.chunks_exact(2).filter_map(|pair| pair[0].as_string().map(|name| (name, &pair[1]))).collect()
        }
        Value::Map(map) => map.iter().filter_map(|(k, v)| k.as_str().map(|name| (name.to_string(), v))).collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(fields: &[(String, &'a Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    fn node(id: &str, port: i64, role: &str, health: &str) -> Value {
        Value::Array(vec![
            s("id"),
            s(id),
            s("port"),
            Value::Integer(port),
            s("ip"),
            s("127.0.0.1"),
            s("endpoint"),
            s("127.0.0.1"),
            s("role"),
            s(role),
            s("replication-offset"),
            Value::Integer(0),
            s("health"),
            s(health),
        ])
    }

    fn shard(slots: Vec<i64>, nodes: Vec<Value>) -> Value {
        let slots = Value::Array(slots.into_iter().map(Value::Integer).collect());
        Value::Array(vec![s("slots"), slots, s("nodes"), Value::Array(nodes), s("id"), s("shard")])
    }

    #[test]
    fn finds_the_online_primaries_of_empty_shards_only() {
        let reply = Value::Array(vec![
            shard(vec![], vec![node("new", 7004, "master", "online")]),
            shard(vec![0, 16383], vec![node("old", 7001, "master", "online"), node("rep", 7002, "replica", "online")]),
            shard(vec![], vec![node("dead", 7005, "master", "fail")]),
            shard(vec![], vec![node("lonely-replica", 7006, "replica", "online")]),
        ]);
        let found = empty_primaries(&reply, "x");
        assert_eq!(found, vec![EmptyPrimary { addr: NodeAddr::new("127.0.0.1", 7004), node_id: "new".into() }]);
    }

    #[test]
    fn anything_else_is_no_empty_primary() {
        assert!(empty_primaries(&Value::Integer(1), "x").is_empty());
        assert!(empty_primaries(&Value::Array(vec![Value::Null, s("junk")]), "x").is_empty());
    }
}
