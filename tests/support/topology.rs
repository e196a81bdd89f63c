//! Reading a cluster's layout from `CLUSTER SLOTS`.
//!
//! The harness derives primaries, replicas and slot owners from `CLUSTER SLOTS`
//! (rather than remembering what it asked for at creation) because the layout
//! changes under fault tests: after a failover the tests must compare the
//! exporter's output with what the cluster says *now*.

use std::collections::BTreeSet;

use super::resp::Value;
use super::slots::SLOT_COUNT;

/// One `CLUSTER SLOTS` entry: a contiguous slot range and the nodes serving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    pub first: u16,
    pub last: u16,
    /// "127.0.0.1:P" of the primary.
    pub primary: String,
    /// "127.0.0.1:P" of each replica, sorted (nodes may list them in any order).
    pub replicas: Vec<String>,
}

/// Parses a `CLUSTER SLOTS` reply into ranges sorted by first slot.
pub fn parse(reply: &Value) -> Result<Vec<SlotRange>, String> {
    let entries = reply.as_array().ok_or_else(|| format!("CLUSTER SLOTS returned {reply:?}"))?;
    let mut ranges = entries.iter().map(parse_range).collect::<Result<Vec<_>, _>>()?;
    ranges.sort_by_key(|range| range.first);
    Ok(ranges)
}

/// `[first, last, primary, replica...]`.
fn parse_range(entry: &Value) -> Result<SlotRange, String> {
    let fields = entry.as_array().ok_or_else(|| format!("slot range is not an array: {entry:?}"))?;
    let [first, last, primary, replicas @ ..] = fields else {
        return Err(format!("slot range too short: {entry:?}"));
    };
    let mut replicas = replicas.iter().map(parse_node).collect::<Result<Vec<_>, _>>()?;
    replicas.sort();
    Ok(SlotRange { first: parse_slot(first)?, last: parse_slot(last)?, primary: parse_node(primary)?, replicas })
}

fn parse_slot(value: &Value) -> Result<u16, String> {
    value
        .as_int()
        .and_then(|slot| u16::try_from(slot).ok())
        .filter(|&slot| slot < SLOT_COUNT)
        .ok_or_else(|| format!("bad slot number {value:?}"))
}

/// `[host, port, id, ...]` to "host:port". An empty host (a node that has not
/// learned its own address, as in a one-node cluster) means the node we asked,
/// and every node here is on 127.0.0.1.
fn parse_node(value: &Value) -> Result<String, String> {
    let fields = value.as_array().unwrap_or_default();
    let (Some(host), Some(port)) = (fields.first().and_then(Value::as_str), fields.get(1).and_then(Value::as_int))
    else {
        return Err(format!("bad node entry {value:?}"));
    };
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    Ok(format!("{host}:{port}"))
}

/// The owning primary of every slot (index = slot); "" for unassigned slots.
pub fn slot_owners(ranges: &[SlotRange]) -> Vec<String> {
    let mut owners = vec![String::new(); usize::from(SLOT_COUNT)];
    for range in ranges {
        for owner in &mut owners[usize::from(range.first)..=usize::from(range.last)] {
            owner.clone_from(&range.primary);
        }
    }
    owners
}

/// Every primary that owns at least one slot, sorted.
pub fn primaries(ranges: &[SlotRange]) -> Vec<String> {
    let set: BTreeSet<&String> = ranges.iter().map(|range| &range.primary).collect();
    set.into_iter().cloned().collect()
}

/// Every replica of a slot-owning primary, sorted.
pub fn replicas(ranges: &[SlotRange]) -> Vec<String> {
    let set: BTreeSet<&String> = ranges.iter().flat_map(|range| &range.replicas).collect();
    set.into_iter().cloned().collect()
}

/// Checks that `ranges` describe the finished cluster: all slots assigned,
/// `primary_count` primaries, `replicas_per_primary` replicas each, and every
/// node in `nodes` present.
pub fn check_complete(
    ranges: &[SlotRange],
    primary_count: usize,
    replicas_per_primary: usize,
    nodes: &[String],
) -> Result<(), String> {
    let unowned = slot_owners(ranges).iter().filter(|o| o.is_empty()).count();
    if unowned > 0 {
        return Err(format!("{unowned} slots unassigned"));
    }
    if let Some(range) = ranges.iter().find(|range| range.replicas.len() != replicas_per_primary) {
        return Err(format!(
            "slots {}-{} have replicas {:?}, want {replicas_per_primary}",
            range.first, range.last, range.replicas
        ));
    }
    let primaries = primaries(ranges);
    if primaries.len() != primary_count {
        return Err(format!("primaries {primaries:?}, want {primary_count}"));
    }
    let seen: BTreeSet<String> = primaries.into_iter().chain(replicas(ranges)).collect();
    let expected: BTreeSet<String> = nodes.iter().cloned().collect();
    if seen != expected {
        return Err(format!("CLUSTER SLOTS shows {seen:?}, want {expected:?}"));
    }
    Ok(())
}
