//! What must hold right before the first move, read from a fresh snapshot: moving
//! slots while a node is down, while someone else is moving slots, or after the plan's
//! picture of the cluster changed, is how keys get stranded. Any doubt refuses.

use super::{Method, SlotMove};
use crate::snapshot::moves::MigrationListing;
use crate::snapshot::{ClusterState, Role, Snapshot};

/// Why the moves were not started.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The cluster could not be read as a cluster.
    #[error("the cluster could not be read ({0}); nothing was moved")]
    NoCluster(String),
    /// A node did not answer.
    #[error("node {node} is not answering ({detail}); nothing was moved")]
    NodeDown { node: String, detail: String },
    /// A slot is migrating or importing somewhere.
    #[error("slot {slot} is open ({state} on {node}): someone else is moving slots; nothing was moved")]
    SlotOpen { slot: u16, node: String, state: &'static str },
    /// A migration job is running.
    #[error("migration job {name} is {state} on {node}: someone else is moving slots; nothing was moved")]
    JobRunning { name: String, node: String, state: String },
    /// Jobs cannot be listed on a Valkey 9.0+ node, so a running one cannot be ruled out.
    #[error(
        "cannot list migration jobs on {node} ({why}): the ACL user needs +cluster|getslotmigrations; nothing was moved"
    )]
    JobsUnknown { node: String, why: String },
    /// A primary's `CLUSTER NODES` line could not be read, so an open slot cannot be ruled out.
    #[error("cannot read CLUSTER NODES on {node}: the ACL user needs +cluster|nodes; nothing was moved")]
    OpenSlotsUnknown { node: String },
    /// The slot is no longer where the plan found it.
    #[error("slot {slot} is no longer on {owner} (the plan is out of date); nothing was moved")]
    SourceMoved { slot: u16, owner: String },
    /// The target is gone or no longer a primary.
    #[error("target {target} of slot {slot} is no longer an answering primary; nothing was moved")]
    TargetGone { slot: u16, target: String },
}

/// Checks `snapshot` (taken just now) before carrying out `moves` by `method`.
pub(crate) fn check(snapshot: &Snapshot, moves: &[SlotMove], method: Method) -> Result<(), Refusal> {
    match &snapshot.state {
        ClusterState::Cluster => {}
        ClusterState::Unreachable(failure) => return Err(Refusal::NoCluster(failure.detail.clone())),
        other => return Err(Refusal::NoCluster(format!("{other:?}"))),
    }
    if let Some(node) = snapshot.failed_nodes().next() {
        let detail = node.failure.as_ref().map(|f| f.detail.clone()).unwrap_or_default();
        return Err(Refusal::NodeDown { node: node.addr.as_str().to_string(), detail });
    }
    let moves_seen = &snapshot.moves;
    if let Some(open) = moves_seen.open_slots.first() {
        let node = snapshot.nodes[open.node as usize].addr.as_str().to_string();
        return Err(Refusal::SlotOpen { slot: open.slot, node, state: open.state.as_str() });
    }
    if let Some(job) = moves_seen.jobs.iter().find(|j| j.in_progress()) {
        let node = snapshot.nodes[job.node as usize].addr.as_str().to_string();
        return Err(Refusal::JobRunning { name: job.name.clone(), node, state: job.state.clone() });
    }
    for (index, node) in snapshot.nodes.iter().enumerate().filter(|(_, n)| n.role == Role::Primary) {
        let seen = moves_seen.of_node(index);
        if !seen.open_slots_read {
            return Err(Refusal::OpenSlotsUnknown { node: node.addr.as_str().to_string() });
        }
        let listing = &seen.listing;
        let unknown = match listing {
            MigrationListing::Listed => false,
            // Older servers have no jobs; the classic way is all they can be moved by.
            MigrationListing::NotSupported => method == Method::Atomic,
            _ => true,
        };
        if unknown {
            let why = listing.detail().unwrap_or(listing.as_str()).to_string();
            return Err(Refusal::JobsUnknown { node: node.addr.as_str().to_string(), why });
        }
    }
    for m in moves {
        let owner = snapshot.owners.get(m.slot as usize).copied().flatten().map(|i| &snapshot.nodes[i as usize]);
        if owner.is_none_or(|o| o.node_id != m.source.id || o.addr != m.source.addr) {
            return Err(Refusal::SourceMoved { slot: m.slot, owner: m.source.addr.as_str().to_string() });
        }
        let target_ok = snapshot
            .nodes
            .iter()
            .any(|n| n.node_id == m.target.id && n.addr == m.target.addr && n.role == Role::Primary && n.is_up());
        if !target_ok {
            return Err(Refusal::TargetGone { slot: m.slot, target: m.target.addr.as_str().to_string() });
        }
    }
    Ok(())
}
