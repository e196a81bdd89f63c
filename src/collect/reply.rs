//! Parsing `CLUSTER SLOT-STATS` replies into per-slot records.
//!
//! The reply is an array of `[slot, stats]` pairs. Under RESP2 `stats` is a flat
//! `name, value, name, value…` array; under RESP3 it is a map. Fields are matched by
//! name, so the order does not matter, fields the exporter does not know (Valkey may
//! add some) are skipped, and `memory-bytes` (Redis 8.2+) is kept.

use crate::snapshot::{MAX_SLOT, SlotStats};
use fred::types::Value;

/// A reply that is not shaped like CLUSTER SLOT-STATS output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError(pub String);

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected CLUSTER SLOT-STATS reply: {}", self.0)
    }
}

/// Parses a whole reply into `(slot, stats)` pairs, in the order the server sent them.
pub fn parse_slot_stats(reply: Value) -> Result<Vec<(u16, SlotStats)>, ReplyError> {
    let entries = match reply {
        Value::Array(entries) => entries,
        Value::Null => return Ok(Vec::new()),
        other => return Err(ReplyError(format!("expected an array, got {}", other.kind()))),
    };
    entries.into_iter().map(parse_entry).collect()
}

fn parse_entry(entry: Value) -> Result<(u16, SlotStats), ReplyError> {
    let Value::Array(pair) = entry else {
        return Err(ReplyError(format!("expected a [slot, stats] pair, got {}", entry.kind())));
    };
    let [slot, stats]: [Value; 2] = pair
        .try_into()
        .map_err(|v: Vec<Value>| ReplyError(format!("expected 2 elements per slot, got {}", v.len())))?;
    let slot = as_u64(&slot)
        .filter(|s| *s <= u64::from(MAX_SLOT))
        .ok_or_else(|| ReplyError(format!("invalid slot number {slot:?}")))? as u16;
    let stats = match stats {
        Value::Array(flat) => parse_flat_fields(slot, flat)?,
        Value::Map(map) => {
            let mut stats = SlotStats::default();
            for (name, value) in map.inner() {
                set_field(&mut stats, name.as_str().unwrap_or_default(), &value, slot)?;
            }
            stats
        }
        other => return Err(ReplyError(format!("slot {slot}: expected stats array or map, got {}", other.kind()))),
    };
    Ok((slot, stats))
}

/// RESP2: `name, value, name, value…`.
fn parse_flat_fields(slot: u16, flat: Vec<Value>) -> Result<SlotStats, ReplyError> {
    if !flat.len().is_multiple_of(2) {
        return Err(ReplyError(format!("slot {slot}: odd number of name/value elements")));
    }
    let mut stats = SlotStats::default();
    for pair in flat.chunks_exact(2) {
        let name = pair[0].as_str().unwrap_or_default();
        set_field(&mut stats, &name, &pair[1], slot)?;
    }
    Ok(stats)
}

fn set_field(stats: &mut SlotStats, name: &str, value: &Value, slot: u16) -> Result<(), ReplyError> {
    let target = match name {
        "key-count" => &mut stats.key_count,
        "cpu-usec" => &mut stats.cpu_usec,
        "network-bytes-in" => &mut stats.network_bytes_in,
        "network-bytes-out" => &mut stats.network_bytes_out,
        "memory-bytes" => &mut stats.memory_bytes,
        // Fields added by later server versions must not break older exporters.
        _ => return Ok(()),
    };
    let n = as_u64(value).ok_or_else(|| ReplyError(format!("slot {slot}: field {name} is not a count")))?;
    *target = Some(n);
    Ok(())
}

/// Counts arrive as integers, but accept their string form too (some proxies and
/// RESP2 bridges stringify).
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => u64::try_from(*i).ok(),
        Value::String(s) => s.parse().ok(),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::{Key, Map};

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn resp2_entry(slot: i64, fields: &[(&str, i64)]) -> Value {
        let flat = fields.iter().flat_map(|(k, v)| [s(k), Value::Integer(*v)]).collect();
        Value::Array(vec![Value::Integer(slot), Value::Array(flat)])
    }

    fn resp3_entry(slot: i64, fields: &[(&str, i64)]) -> Value {
        let map: Map = fields.iter().map(|(k, v)| (Key::from(*k), Value::Integer(*v))).collect();
        Value::Array(vec![Value::Integer(slot), Value::Map(map)])
    }

    const FULL: &[(&str, i64)] =
        &[("key-count", 3), ("cpu-usec", 150), ("network-bytes-in", 20), ("network-bytes-out", 40)];

    fn full_stats() -> SlotStats {
        SlotStats {
            key_count: Some(3),
            cpu_usec: Some(150),
            network_bytes_in: Some(20),
            network_bytes_out: Some(40),
            memory_bytes: None,
        }
    }

    #[test]
    fn resp2_flat_fields() {
        let reply = Value::Array(vec![resp2_entry(0, FULL), resp2_entry(16383, &[("key-count", 0)])]);
        let parsed = parse_slot_stats(reply).unwrap();
        assert_eq!(parsed[0], (0, full_stats()));
        assert_eq!(parsed[1], (16383, SlotStats { key_count: Some(0), ..Default::default() }));
    }

    #[test]
    fn resp3_map_fields() {
        let parsed = parse_slot_stats(Value::Array(vec![resp3_entry(42, FULL)])).unwrap();
        assert_eq!(parsed, vec![(42, full_stats())]);
    }

    #[test]
    fn memory_bytes_kept_and_unknown_fields_ignored_in_both_protocols() {
        let fields = &[("repl-stream-bytes", 9), ("key-count", 1), ("memory-bytes", 4096), ("future", 1)];
        for reply in [resp2_entry(7, fields), resp3_entry(7, fields)] {
            let parsed = parse_slot_stats(Value::Array(vec![reply])).unwrap();
            let expected = SlotStats { key_count: Some(1), memory_bytes: Some(4096), ..Default::default() };
            assert_eq!(parsed, vec![(7, expected)]);
        }
    }

    #[test]
    fn field_order_does_not_matter() {
        let reversed: Vec<_> = FULL.iter().rev().copied().collect();
        let parsed = parse_slot_stats(Value::Array(vec![resp2_entry(1, &reversed)])).unwrap();
        assert_eq!(parsed[0].1, full_stats());
    }

    #[test]
    fn empty_and_null_replies_have_no_slots() {
        assert!(parse_slot_stats(Value::Array(vec![])).unwrap().is_empty());
        assert!(parse_slot_stats(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(parse_slot_stats(s("OK")).is_err());
        assert!(parse_slot_stats(Value::Array(vec![Value::Integer(1)])).is_err());
        assert!(parse_slot_stats(Value::Array(vec![resp2_entry(16384, FULL)])).is_err());
        assert!(parse_slot_stats(Value::Array(vec![resp2_entry(-1, FULL)])).is_err());
        let odd = Value::Array(vec![Value::Integer(1), Value::Array(vec![s("key-count")])]);
        assert!(parse_slot_stats(Value::Array(vec![odd])).is_err());
        let bad_value = Value::Array(vec![Value::Integer(1), Value::Array(vec![s("key-count"), s("x")])]);
        assert!(parse_slot_stats(Value::Array(vec![bad_value])).is_err());
    }
}
