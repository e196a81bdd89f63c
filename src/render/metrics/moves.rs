//! Slot moves (labels `node`, `state`, `operation`): slots held open by a classic
//! migration and the atomic migration jobs each primary lists. Written in every
//! `--slot-series` profile: they are a few series per primary, and a half-moved slot is
//! the thing an operator must not miss.

use crate::snapshot::Snapshot;
use crate::snapshot::moves::SlotState;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use std::collections::BTreeMap;
use std::fmt;

pub(super) fn encode(encoder: &mut DescriptorEncoder, snapshot: &Snapshot, cached: &str) -> fmt::Result {
    encode_open_slots(encoder, snapshot, cached)?;
    encode_jobs(encoder, snapshot, cached)
}

/// Both states for every primary whose `CLUSTER NODES` line was read, 0 when none is
/// open, so that an alert can tell "nothing open" from "not known".
fn encode_open_slots(encoder: &mut DescriptorEncoder, snapshot: &Snapshot, cached: &str) -> fmt::Result {
    let read: Vec<usize> = (0..snapshot.nodes.len()).filter(|&i| snapshot.moves.of_node(i).open_slots_read).collect();
    if read.is_empty() {
        return Ok(());
    }
    let help = format!(
        "Slots the primary holds open in a classic migration, as its own CLUSTER NODES line says: state migrating \
         (CLUSTER SETSLOT MIGRATING, keys leaving) or importing (SETSLOT IMPORTING, keys arriving); 0 when none, \
         absent when the node did not answer or refused CLUSTER NODES.{cached}"
    );
    let mut metric = encoder.encode_descriptor("valkey_cluster_open_slots", &help, None, MetricType::Gauge)?;
    for i in read {
        for state in SlotState::ALL {
            let count = snapshot.moves.open_slots.iter().filter(|o| o.node as usize == i && o.state == state).count();
            let labels = [("node", snapshot.nodes[i].addr.as_str()), ("state", state.as_str())];
            metric.encode_family(&labels)?.encode_gauge(&(count as i64))?;
        }
    }
    Ok(())
}

/// One series per (node, operation, state) that some job has: a finished job stays
/// listed by the server for a while, so `state` tells a move under way from one done.
fn encode_jobs(encoder: &mut DescriptorEncoder, snapshot: &Snapshot, cached: &str) -> fmt::Result {
    let mut counts: BTreeMap<(u32, &str, &str), i64> = BTreeMap::new();
    for job in &snapshot.moves.jobs {
        *counts.entry((job.node, job.operation.as_str(), job.state.as_str())).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let help = format!(
        "Atomic slot migration jobs the primary lists in CLUSTER GETSLOTMIGRATIONS (Valkey 9.0+), by operation \
         (export on the source, import on the target) and state as the server names it, lower-cased (success, \
         failed, cancelled, or a step under way); finished jobs stay listed for a while.{cached}"
    );
    let mut metric = encoder.encode_descriptor("valkey_slot_migration_jobs", &help, None, MetricType::Gauge)?;
    for ((node, operation, state), count) in counts {
        let labels =
            [("node", snapshot.nodes[node as usize].addr.as_str()), ("operation", operation), ("state", state)];
        metric.encode_family(&labels)?.encode_gauge(&count)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Exposition, render};
    use crate::aggregate::Aggregator;
    use crate::config::SlotSeries;
    use crate::render::negotiate::Format;
    use crate::snapshot::moves::{JobOperation, MigrationJob, MigrationListing, Moves, NodeMoves, OpenSlot, SlotState};
    use crate::snapshot::{ClusterState, NodeStatus, Role, Snapshot};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    fn node(addr: &str) -> NodeStatus {
        NodeStatus {
            addr: crate::addr::test_addr(addr),
            node_id: format!("id-{addr}"),
            role: Role::Primary,
            slots_served: 1,
            failure: None,
            duration: Duration::ZERO,
            slot_stats_enabled: Some(true),
            version: None,
        }
    }

    fn job(node: u32, operation: JobOperation, state: &str) -> MigrationJob {
        MigrationJob {
            node,
            name: "j".into(),
            operation,
            source_node_id: "id-a:1".into(),
            target_node_id: "id-b:1".into(),
            slot_ranges: vec![(0, 9)],
            state: state.into(),
            message: String::new(),
            created: None,
            updated: None,
        }
    }

    /// a:1 migrates slot 5 to b:1, which imports it; c:1 refused CLUSTER NODES.
    fn snapshot() -> Snapshot {
        let read = |listing| NodeMoves { listing, open_slots_read: true };
        let open = |node: u32, state, peer: &str| OpenSlot {
            slot: 5,
            node,
            node_id: format!("id-{}", ["a:1", "b:1"][node as usize]),
            state,
            peer_node_id: peer.into(),
        };
        Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            refresh_duration: Duration::ZERO,
            state: ClusterState::Cluster,
            nodes: vec![node("a:1"), node("b:1"), node("c:1")],
            slots: Vec::new(),
            owners: Vec::new(),
            moves: Moves {
                open_slots: vec![open(0, SlotState::Migrating, "id-b:1"), open(1, SlotState::Importing, "id-a:1")],
                jobs: vec![
                    job(0, JobOperation::Export, "success"),
                    job(0, JobOperation::Export, "success"),
                    job(1, JobOperation::Import, "snapshotting"),
                ],
                nodes: vec![read(MigrationListing::Listed), read(MigrationListing::Listed), NodeMoves::default()],
            },
        }
    }

    #[test]
    fn open_slots_in_both_states_with_zeros_and_jobs_by_operation_and_state_in_every_profile() {
        let observation = Arc::new(Aggregator::new(16).observe(snapshot()));
        for slot_series in [SlotSeries::All, SlotSeries::Top(1), SlotSeries::None] {
            let exposition = Exposition { ttl: Duration::from_secs(1), slot_series };
            let out = render(observation.clone(), exposition, Format::Text);
            let lines: Vec<&str> = out
                .lines()
                .filter(|l| l.starts_with("valkey_cluster_open") || l.starts_with("valkey_slot_mig"))
                .collect();
            assert_eq!(
                lines,
                [
                    r#"valkey_cluster_open_slots{node="a:1",state="migrating"} 1"#,
                    r#"valkey_cluster_open_slots{node="a:1",state="importing"} 0"#,
                    r#"valkey_cluster_open_slots{node="b:1",state="migrating"} 0"#,
                    r#"valkey_cluster_open_slots{node="b:1",state="importing"} 1"#,
                    r#"valkey_slot_migration_jobs{node="a:1",operation="export",state="success"} 2"#,
                    r#"valkey_slot_migration_jobs{node="b:1",operation="import",state="snapshotting"} 1"#,
                ],
                "{slot_series:?}"
            );
            assert!(out.contains("# TYPE valkey_cluster_open_slots gauge"));
        }
    }

    #[test]
    fn nothing_read_means_no_family() {
        let snapshot = Snapshot { moves: Moves::default(), ..snapshot() };
        let exposition = Exposition { ttl: Duration::from_secs(1), slot_series: SlotSeries::All };
        let out = render(Arc::new(Aggregator::new(16).observe(snapshot)), exposition, Format::Text);
        assert!(!out.contains("valkey_cluster_open_slots") && !out.contains("valkey_slot_migration_jobs"), "{out}");
    }
}
