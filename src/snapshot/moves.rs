//! Slot moves as one refresh saw them: slots left open by a classic migration (every
//! version), atomic migration jobs (Valkey 9.0+), and per node whether its jobs could
//! be listed. Plain data like the rest of the snapshot: `/metrics`, the JSON API and,
//! later, `plan --apply`'s preconditions all read these values and nothing else.

use std::time::SystemTime;

/// Which side of a classic migration a node is on for one slot, as its own
/// `CLUSTER NODES` line says (`[slot->-id]` or `[slot-<-id]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotState {
    /// `CLUSTER SETSLOT slot MIGRATING target`: the node still owns the slot and sends
    /// clients to the target for keys it no longer holds.
    Migrating,
    /// `CLUSTER SETSLOT slot IMPORTING source`: the node receives the slot's keys.
    Importing,
}

impl SlotState {
    /// Both states, in the order their series are written.
    pub const ALL: [SlotState; 2] = [SlotState::Migrating, SlotState::Importing];

    /// The `state` label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Migrating => "migrating",
            SlotState::Importing => "importing",
        }
    }
}

/// One slot a primary holds open, on one side of a move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSlot {
    pub slot: u16,
    /// Index into [`Snapshot::nodes`](super::Snapshot::nodes) of the node that said so.
    pub node: u32,
    /// That node's id, so a reader can match it with `peer_node_id` of the other side.
    pub node_id: String,
    pub state: SlotState,
    /// The other side: the target when migrating, the source when importing.
    pub peer_node_id: String,
}

/// Which end of an atomic migration a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobOperation {
    /// On the source primary, which drives the job.
    Export,
    /// On the target primary.
    Import,
}

impl JobOperation {
    /// The `operation` label and JSON value (the server says `EXPORT` / `IMPORT`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobOperation::Export => "export",
            JobOperation::Import => "import",
        }
    }
}

/// Job states after which the server does nothing more for the job (Valkey 9.0's
/// `success`, `failed`, `cancelled`); every other state is a job under way.
const FINISHED_STATES: [&str; 3] = ["success", "failed", "cancelled"];

/// One job from a primary's `CLUSTER GETSLOTMIGRATIONS` (Valkey 9.0+). A move shows as
/// two jobs with the same `name`: `export` on the source, `import` on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationJob {
    /// Index into [`Snapshot::nodes`](super::Snapshot::nodes) of the node that lists it.
    pub node: u32,
    /// The job's id (40 hex characters), the same on both ends.
    pub name: String,
    pub operation: JobOperation,
    pub source_node_id: String,
    pub target_node_id: String,
    /// Inclusive `(start, end)` ranges, in the server's order.
    pub slot_ranges: Vec<(u16, u16)>,
    /// As the server names it, lower-cased (`snapshotting`, `success`, ...): new states
    /// in later servers pass through unchanged.
    pub state: String,
    /// The server's status message: empty while all is well, the reason on failure.
    pub message: String,
    /// When the job was created; `None` when the server did not say.
    pub created: Option<SystemTime>,
    /// When the job last changed state; `None` when the server did not say.
    pub updated: Option<SystemTime>,
}

impl MigrationJob {
    /// Whether the job is still under way (neither succeeded, failed nor cancelled).
    pub fn in_progress(&self) -> bool {
        !FINISHED_STATES.contains(&self.state.as_str())
    }
}

/// Whether a node's migration jobs are known, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum MigrationListing {
    /// `CLUSTER GETSLOTMIGRATIONS` answered: the node's jobs are all in the snapshot.
    Listed,
    /// The server is older than Valkey 9.0 (or not Valkey): it has no jobs to list, and
    /// was not asked.
    NotSupported,
    /// The server answered with an error (an ACL without `+cluster|getslotmigrations`);
    /// the server's short error text.
    NotPermitted(String),
    /// The answer had a shape the exporter does not know; the parser's words.
    Unreadable(String),
    /// Not asked: the node did not answer this refresh, is a replica, or its version
    /// is unknown (its ACL refuses `INFO`).
    #[default]
    NotAsked,
}

impl MigrationListing {
    /// The JSON value of `/api/cluster/nodes`' `migrations`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MigrationListing::Listed => "listed",
            MigrationListing::NotSupported => "not_supported",
            MigrationListing::NotPermitted(_) => "not_permitted",
            MigrationListing::Unreadable(_) => "unreadable",
            MigrationListing::NotAsked => "not_asked",
        }
    }

    /// Why the jobs are unknown, when there is more to say than [`Self::as_str`].
    pub fn detail(&self) -> Option<&str> {
        match self {
            MigrationListing::NotPermitted(detail) | MigrationListing::Unreadable(detail) => Some(detail),
            _ => None,
        }
    }
}

/// What one node said about moves.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeMoves {
    /// Whether its jobs were listed.
    pub listing: MigrationListing,
    /// Whether its `CLUSTER NODES` line was read: only then is "no open slot" a fact
    /// (a 0 gauge) rather than something unknown (no series).
    pub open_slots_read: bool,
}

/// Every move under way (and every job the servers still list) at snapshot time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Moves {
    /// Sorted by slot, then node.
    pub open_slots: Vec<OpenSlot>,
    /// Jobs under way first, then by last update, newest first.
    pub jobs: Vec<MigrationJob>,
    /// Per node, in the order of [`Snapshot::nodes`](super::Snapshot::nodes); empty when
    /// no node was asked (no topology was read).
    pub nodes: Vec<NodeMoves>,
}

/// What a node that was never asked said: nothing.
const NOT_ASKED: NodeMoves = NodeMoves { listing: MigrationListing::NotAsked, open_slots_read: false };

impl Moves {
    /// What the node at `index` of the snapshot's nodes said.
    pub fn of_node(&self, index: usize) -> &NodeMoves {
        self.nodes.get(index).unwrap_or(&NOT_ASKED)
    }

    /// Puts open slots and jobs in the order their fields promise.
    pub fn sort(&mut self) {
        self.open_slots.sort_by_key(|o| (o.slot, o.node));
        self.jobs.sort_by(|a, b| {
            (b.in_progress(), b.updated, &a.name, a.node).cmp(&(a.in_progress(), a.updated, &b.name, b.node))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn job(name: &str, state: &str, updated: u64) -> MigrationJob {
        MigrationJob {
            node: 0,
            name: name.into(),
            operation: JobOperation::Export,
            source_node_id: String::new(),
            target_node_id: String::new(),
            slot_ranges: vec![(0, 1)],
            state: state.into(),
            message: String::new(),
            created: None,
            updated: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(updated)),
        }
    }

    #[test]
    fn jobs_under_way_come_first_then_the_newest() {
        let mut moves = Moves {
            jobs: vec![job("a", "success", 10), job("b", "snapshotting", 5), job("c", "failed", 20)],
            ..Moves::default()
        };
        moves.sort();
        let names: Vec<&str> = moves.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        assert!(!job("x", "cancelled", 0).in_progress());
        assert!(job("x", "a-state-from-valkey-10", 0).in_progress());
    }

    #[test]
    fn a_node_never_asked_has_said_nothing() {
        let moves = Moves::default();
        assert_eq!(moves.of_node(3), &NodeMoves::default());
        assert_eq!(moves.of_node(3).listing.as_str(), "not_asked");
        assert_eq!(MigrationListing::NotPermitted("NOPERM".into()).detail(), Some("NOPERM"));
    }
}
