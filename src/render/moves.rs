//! `GET /api/cluster/migrations` as JSON: the slots held open by classic migrations and
//! the atomic migration jobs the primaries list, from the cached snapshot, in the API's
//! envelope with the same cache fields as the insight answers.

use super::json::{JsonReply, rfc3339, rfc3339_millis, success};
use crate::aggregate::Observation;
use crate::snapshot::Snapshot;
use crate::snapshot::moves::{MigrationJob, OpenSlot};
use serde::Serialize;
use std::time::SystemTime;

#[derive(Serialize)]
struct OpenSlotEntry<'a> {
    slot: u16,
    /// The `node` label of the node holding it open.
    node: &'a str,
    node_id: &'a str,
    /// `migrating` or `importing`.
    state: &'static str,
    /// The other side: the target when migrating, the source when importing.
    peer_node_id: &'a str,
}

#[derive(Serialize)]
struct JobEntry<'a> {
    /// The node that lists the job.
    node: &'a str,
    name: &'a str,
    /// `export` (on the source) or `import` (on the target).
    operation: &'static str,
    source_node_id: &'a str,
    target_node_id: &'a str,
    /// Inclusive `[start, end]` pairs.
    slot_ranges: &'a [(u16, u16)],
    state: &'a str,
    message: &'a str,
    /// RFC 3339; `null` when the server did not say.
    created: Option<String>,
    updated: Option<String>,
}

#[derive(Serialize)]
struct MigrationsData<'a> {
    /// Sorted by slot, then node.
    open_slots: Vec<OpenSlotEntry<'a>>,
    /// Jobs under way first, then by `updated`, newest first.
    jobs: Vec<JobEntry<'a>>,
    /// Seconds between the two snapshots the rates come from, as in every insight
    /// answer (no value here depends on it); `null` with one snapshot.
    window_seconds: Option<f64>,
    snapshot_timestamp: String,
    /// True when answered from an existing snapshot without waiting for a refresh.
    cached: bool,
}

fn open_slot<'a>(snapshot: &'a Snapshot, open: &'a OpenSlot) -> OpenSlotEntry<'a> {
    OpenSlotEntry {
        slot: open.slot,
        node: snapshot.nodes[open.node as usize].addr.as_str(),
        node_id: &open.node_id,
        state: open.state.as_str(),
        peer_node_id: &open.peer_node_id,
    }
}

fn job<'a>(snapshot: &'a Snapshot, job: &'a MigrationJob) -> JobEntry<'a> {
    JobEntry {
        node: snapshot.nodes[job.node as usize].addr.as_str(),
        name: &job.name,
        operation: job.operation.as_str(),
        source_node_id: &job.source_node_id,
        target_node_id: &job.target_node_id,
        slot_ranges: &job.slot_ranges,
        state: &job.state,
        message: &job.message,
        created: job.created.map(rfc3339),
        updated: job.updated.map(rfc3339),
    }
}

pub(crate) fn migrations(observation: &Observation, cached: bool, now: SystemTime) -> JsonReply {
    let snapshot = &observation.snapshot;
    let data = MigrationsData {
        open_slots: snapshot.moves.open_slots.iter().map(|o| open_slot(snapshot, o)).collect(),
        jobs: snapshot.moves.jobs.iter().map(|j| job(snapshot, j)).collect(),
        window_seconds: observation.window.seconds,
        snapshot_timestamp: rfc3339_millis(snapshot.taken_at),
        cached,
    };
    success(data, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::test_support::{node, snapshot};
    use crate::snapshot::Role;
    use crate::snapshot::moves::{JobOperation, Moves, SlotState};
    use std::time::Duration;

    #[test]
    fn open_slots_and_jobs_with_ranges_and_times() {
        let mut snap = snapshot(100, vec![node("10.0.0.1:1", "A", Role::Primary, true)], &[]);
        snap.moves = Moves {
            open_slots: vec![OpenSlot {
                slot: 42,
                node: 0,
                node_id: "A".into(),
                state: SlotState::Importing,
                peer_node_id: "B".into(),
            }],
            jobs: vec![MigrationJob {
                node: 0,
                name: "n".into(),
                operation: JobOperation::Import,
                source_node_id: "B".into(),
                target_node_id: "A".into(),
                slot_ranges: vec![(0, 99), (200, 200)],
                state: "success".into(),
                message: String::new(),
                created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_409_251)),
                updated: None,
            }],
            nodes: Vec::new(),
        };
        let observation = Aggregator::new(16).observe(snap);
        let reply = migrations(&observation, true, SystemTime::UNIX_EPOCH);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            body["data"]["open_slots"],
            serde_json::json!([{"slot": 42, "node": "10.0.0.1:1", "node_id": "A", "state": "importing", "peer_node_id": "B"}])
        );
        assert_eq!(
            body["data"]["jobs"],
            serde_json::json!([{
                "node": "10.0.0.1:1", "name": "n", "operation": "import", "source_node_id": "B",
                "target_node_id": "A", "slot_ranges": [[0, 99], [200, 200]], "state": "success", "message": "",
                "created": "2026-12-04T18:34:11Z", "updated": null
            }])
        );
        assert_eq!((body["data"]["cached"].as_bool(), body["status"].as_str()), (Some(true), Some("success")));
        assert_eq!(body["data"]["snapshot_timestamp"], "1970-01-01T00:01:40.000Z");
    }
}
