//! The JSON API's bodies: the slot-stats envelope, the error envelope and the index.
//!
//! The envelope is a contract users script against:
//! `{"status":"success","data":{"slots":[…],"total_slots":…,"start_slot":…,
//! "end_slot":…,"cached":…,"cache_timestamp":…},"timestamp":…}`. Values are the
//! server's raw units (microseconds, bytes); a statistic the server did not send is
//! left out of its slot entry rather than invented as 0.
//!
//! Slot entries are encoded once per snapshot ([`super::slot_entries`]); a range
//! answer is the envelope around a slice of that text, shared, not copied.

use crate::cache::Served;
use crate::snapshot::{ClusterState, SlotRecord, Snapshot};
use serde::Serialize;
use serde_json::json;
use std::ops::{Range, RangeInclusive};
use std::time::SystemTime;

/// Text of the `note` for servers without CLUSTER SLOT-STATS.
pub(crate) const UNSUPPORTED_NOTE: &str = "CLUSTER SLOT-STATS command not supported by this Redis/Valkey version";

/// A rendered answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonReply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// `{"status","data","timestamp"}` in that order, as users see it in the docs.
#[derive(Serialize)]
struct Success<T> {
    status: &'static str,
    data: T,
    timestamp: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct Failure<'a> {
    status: &'static str,
    error: ErrorBody<'a>,
    timestamp: String,
}

pub(crate) fn success(data: impl Serialize, now: SystemTime) -> JsonReply {
    let body = Success { status: "success", data, timestamp: rfc3339(now) };
    JsonReply { status: 200, body: serde_json::to_string(&body).expect("serializing plain data") }
}

#[derive(Serialize)]
struct SlotEntry<'a> {
    slot_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_usec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_bytes_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_bytes_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<u64>,
    node: &'a str,
    /// Tells primaries from replicas when replicas are included.
    role: &'static str,
}

#[derive(Serialize)]
struct FailedNode<'a> {
    node: &'a str,
    error: &'static str,
    detail: &'a str,
}

#[derive(Serialize)]
struct Data<'a> {
    /// Always empty here: the entries are put in pre-encoded ([`SlotStatsReply`]).
    slots: [(); 0],
    total_slots: usize,
    start_slot: Option<u16>,
    end_slot: Option<u16>,
    cached: bool,
    /// When the snapshot was taken, if it was served from the cache.
    cache_timestamp: Option<String>,
    /// When the snapshot was taken, whether or not it was just refreshed.
    snapshot_timestamp: String,
    nodes_failed: Vec<FailedNode<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// RFC 3339 UTC with seconds, as in the envelope's `timestamp`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// A slot-stats answer before its slot entries are put in: the envelope up to the
/// entries, which records of the snapshot go there, and the rest of the envelope.
#[derive(Debug)]
pub(crate) struct SlotStatsReply {
    pub(crate) status: u16,
    /// Ends with `"slots":[`.
    pub(crate) before: String,
    /// Indices into the snapshot's records (and its encoded entries).
    pub(crate) records: Range<usize>,
    /// Starts with `]`.
    pub(crate) after: String,
}

/// The envelope of the slot-stats answer for `range`, or the error answer.
pub(crate) fn slot_stats_reply(
    served: &Served<Snapshot>,
    range: RangeInclusive<u16>,
    now: SystemTime,
) -> Result<SlotStatsReply, JsonReply> {
    let snapshot = &served.value;
    if snapshot.nothing_answered() {
        return Err(error(503, "cluster_unreachable", &unreachable_message(snapshot), now));
    }
    let (records, start_slot, end_slot, note) = match snapshot.state {
        ClusterState::NotCluster => (0..0, None, None, None),
        ClusterState::Unsupported => (0..0, Some(*range.start()), Some(*range.end()), Some(UNSUPPORTED_NOTE)),
        _ => (record_indices(snapshot, &range), Some(*range.start()), Some(*range.end()), None),
    };
    let nodes_failed = snapshot
        .failed_nodes()
        .map(|n| {
            let failure = n.failure.as_ref().expect("failed node has a failure");
            FailedNode { node: n.addr.as_str(), error: failure.kind.as_str(), detail: &failure.detail }
        })
        .collect();
    let data = Data {
        slots: [],
        total_slots: records.len(),
        start_slot,
        end_slot,
        cached: served.cached,
        cache_timestamp: served.cached.then(|| rfc3339_millis(snapshot.taken_at)),
        snapshot_timestamp: rfc3339_millis(snapshot.taken_at),
        nodes_failed,
        note,
    };
    let mut envelope = success(data, now);
    // The envelope's empty `"slots":[]` is the first field of `data`: no value before
    // it can contain that text.
    const EMPTY_SLOTS: &str = "\"slots\":[";
    let at = envelope.body.find(EMPTY_SLOTS).expect("the envelope has a slots field") + EMPTY_SLOTS.len();
    let after = envelope.body.split_off(at);
    Ok(SlotStatsReply { status: envelope.status, before: envelope.body, records, after })
}

/// Indices into `snapshot.slots` of the records whose slot lies in `range` (as
/// [`Snapshot::slots_in`], but as positions, to index the encoded entries).
fn record_indices(snapshot: &Snapshot, range: &RangeInclusive<u16>) -> std::ops::Range<usize> {
    let start = snapshot.slots.partition_point(|r| r.slot < *range.start());
    let end = snapshot.slots.partition_point(|r| r.slot <= *range.end());
    start..end
}

/// Appends the JSON object of `record` to `out`.
pub(crate) fn write_entry(out: &mut Vec<u8>, snapshot: &Snapshot, record: &SlotRecord) {
    serde_json::to_writer(out, &entry(snapshot, record)).expect("serializing plain data");
}

fn entry<'a>(snapshot: &'a Snapshot, record: &SlotRecord) -> SlotEntry<'a> {
    let node = snapshot.node(record);
    let s = record.stats;
    SlotEntry {
        slot_id: record.slot,
        key_count: s.key_count,
        cpu_usec: s.cpu_usec,
        network_bytes_in: s.network_bytes_in,
        network_bytes_out: s.network_bytes_out,
        memory_bytes: s.memory_bytes,
        node: node.addr.as_str(),
        role: node.role.as_str(),
    }
}

pub(crate) fn unreachable_message(snapshot: &Snapshot) -> String {
    let failures: Vec<String> =
        snapshot.nodes.iter().filter_map(|n| n.failure.as_ref().map(|f| describe_failure(n, f))).collect();
    if failures.is_empty() {
        "no Valkey node answered".to_string()
    } else {
        format!("no Valkey node answered ({})", failures.join("; "))
    }
}

/// `host:port: kind`, plus the detail when it says more than the kind.
fn describe_failure(node: &crate::snapshot::NodeStatus, failure: &crate::snapshot::NodeFailure) -> String {
    let kind = failure.kind.as_str();
    if failure.detail.is_empty() || failure.detail == kind {
        format!("{}: {kind}", node.addr)
    } else {
        format!("{}: {kind}: {}", node.addr, failure.detail)
    }
}

/// The error envelope: `{"status":"error","error":{"code","message"},"timestamp"}`.
pub(crate) fn error(status: u16, code: &str, message: &str, now: SystemTime) -> JsonReply {
    let body = Failure { status: "error", error: ErrorBody { code, message }, timestamp: rfc3339(now) };
    JsonReply { status, body: serde_json::to_string(&body).expect("serializing plain data") }
}

/// `GET /`: where everything is.
pub(crate) fn index(now: SystemTime) -> JsonReply {
    let data = json!({
        "name": "valkey-slot-exporter",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "metrics": "/metrics",
            "health": "/healthz",
            "ui": "/ui",
            "cluster": {
                "slot_stats": "/api/cluster/slot-stats",
                "hot_slots": "/api/cluster/hot-slots",
                "balance": "/api/cluster/balance",
                "rebalance_plan": "/api/cluster/rebalance-plan",
                "slot_map": "/api/cluster/slot-map",
                "nodes": "/api/cluster/nodes",
                "migrations": "/api/cluster/migrations",
            },
        },
    });
    success(data, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::slot_entries::{EncodedSlots, slot_stats_from};
    use crate::snapshot::{FailureKind, NodeFailure, NodeStatus, Role, SlotStats};
    use serde_json::Value;
    use std::sync::Arc;
    use std::time::Duration;

    /// The answer to `GET /api/cluster/slot-stats` for the slots in `range`, encoding
    /// the snapshot's slot entries on the spot (the server shares them between answers).
    fn slot_stats(served: &Served<Snapshot>, range: RangeInclusive<u16>, now: SystemTime) -> JsonReply {
        slot_stats_from(served, &EncodedSlots::new(&served.value), range, now)
    }

    fn node(addr: &str, failure: Option<FailureKind>) -> NodeStatus {
        NodeStatus {
            addr: crate::addr::test_addr(addr),
            node_id: String::new(),
            role: Role::Primary,
            slots_served: 1,
            failure: failure.map(|kind| NodeFailure { kind, detail: "d".into() }),
            duration: Duration::ZERO,
            slot_stats_enabled: None,
            version: None,
        }
    }

    fn served(state: ClusterState, nodes: Vec<NodeStatus>, slots: Vec<SlotRecord>, cached: bool) -> Served<Snapshot> {
        let snapshot = Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            refresh_duration: Duration::ZERO,
            state,
            nodes,
            slots,
            owners: Vec::new(),
            moves: Default::default(),
        };
        Served { value: Arc::new(snapshot), cached }
    }

    fn parse(reply: &JsonReply) -> Value {
        serde_json::from_str(&reply.body).unwrap()
    }

    #[test]
    fn envelope_shape_and_absent_statistics() {
        let stats = SlotStats { key_count: Some(3), ..Default::default() };
        let s = served(
            ClusterState::Cluster,
            vec![node("a:1", None), node("b:1", Some(FailureKind::ConnectionRefused))],
            vec![SlotRecord { slot: 4, node: 0, stats }, SlotRecord { slot: 9, node: 0, stats }],
            true,
        );
        let reply = slot_stats(&s, 0..=5, SystemTime::UNIX_EPOCH);
        assert_eq!(reply.status, 200);
        let v = parse(&reply);
        assert_eq!(v["status"], "success");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00Z");
        let data = &v["data"];
        assert_eq!(data["total_slots"], 1);
        assert_eq!(data["start_slot"], 0);
        assert_eq!(data["end_slot"], 5);
        assert_eq!(data["cached"], true);
        assert_eq!(data["cache_timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(data["slots"][0]["slot_id"], 4);
        assert_eq!(data["slots"][0]["key_count"], 3);
        assert_eq!(data["slots"][0]["node"], "a:1");
        assert!(data["slots"][0].get("cpu_usec").is_none());
        assert_eq!(data["nodes_failed"][0]["node"], "b:1");
        assert_eq!(data["nodes_failed"][0]["error"], "connection refused");
    }

    #[test]
    fn pre_encoded_ranges_match_the_records() {
        let stats = |n| SlotStats { key_count: Some(n), cpu_usec: Some(n * 10), ..Default::default() };
        let slots = (0..50u16).map(|s| SlotRecord { slot: s * 2, node: 0, stats: stats(u64::from(s)) }).collect();
        let s = served(ClusterState::Cluster, vec![node("a:1", None)], slots, false);
        let encoded = EncodedSlots::new(&s.value);
        for (first, last, expected) in [(0, 99, 50), (3, 9, 3), (98, 16383, 1), (99, 16383, 0), (0, 0, 1)] {
            let reply = slot_stats_from(&s, &encoded, first..=last, SystemTime::UNIX_EPOCH);
            let v = parse(&reply);
            let ids: Vec<u64> =
                v["data"]["slots"].as_array().unwrap().iter().map(|e| e["slot_id"].as_u64().unwrap()).collect();
            assert_eq!(ids.len(), expected, "{first}..={last}");
            assert_eq!(v["data"]["total_slots"], expected);
            assert!(ids.iter().all(|id| (u64::from(first)..=u64::from(last)).contains(id) && id % 2 == 0));
            if let Some(entry) = v["data"]["slots"].get(0) {
                assert_eq!(entry["cpu_usec"], entry["key_count"].as_u64().unwrap() * 10);
                assert_eq!(entry["role"], "primary");
            }
        }
    }

    #[test]
    fn fresh_answer_has_null_cache_timestamp() {
        let s = served(ClusterState::Cluster, vec![node("a:1", None)], vec![], false);
        let v = parse(&slot_stats(&s, 0..=16383, SystemTime::UNIX_EPOCH));
        assert_eq!(v["data"]["cached"], false);
        assert!(v["data"]["cache_timestamp"].is_null());
    }

    #[test]
    fn non_cluster_and_unsupported_shapes() {
        let s = served(ClusterState::NotCluster, vec![node("a:1", None)], vec![], false);
        let v = parse(&slot_stats(&s, 0..=16383, SystemTime::UNIX_EPOCH));
        assert_eq!(v["data"]["total_slots"], 0);
        assert!(v["data"]["start_slot"].is_null() && v["data"]["end_slot"].is_null());
        assert!(v["data"].get("note").is_none());

        let s = served(ClusterState::Unsupported, vec![node("a:1", Some(FailureKind::Unsupported))], vec![], false);
        let reply = slot_stats(&s, 0..=16383, SystemTime::UNIX_EPOCH);
        assert_eq!(reply.status, 200);
        assert_eq!(parse(&reply)["data"]["note"], UNSUPPORTED_NOTE);
    }

    #[test]
    fn nothing_answered_is_503() {
        let s = served(ClusterState::Cluster, vec![node("a:1", Some(FailureKind::Timeout))], vec![], false);
        let reply = slot_stats(&s, 0..=16383, SystemTime::UNIX_EPOCH);
        assert_eq!(reply.status, 503);
        let v = parse(&reply);
        assert_eq!(v["status"], "error");
        assert_eq!(v["error"]["code"], "cluster_unreachable");
    }
}
