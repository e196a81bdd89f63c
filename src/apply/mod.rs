//! Carrying a rebalance plan out (`plan --apply`): the one part of the exporter that
//! changes a cluster, reached only from the command line.
//!
//! - [`precheck`]: right before the first move, a fresh snapshot must show every node
//!   up, no slot open, no migration job under way and every move's source still owning
//!   its slot; otherwise nothing is sent.
//! - [`atomic`]: Valkey 9.0+, one `CLUSTER MIGRATESLOTS` job at a time (the moves from
//!   one source to one target share a job), followed in `CLUSTER GETSLOTMIGRATIONS`.
//! - [`classic`]: older servers, one slot at a time: `SETSLOT IMPORTING` / `MIGRATING`,
//!   `GETKEYSINSLOT` + `MIGRATE` in batches, `SETSLOT NODE` on every primary.
//! - [`link`]: the commands themselves, over the collector's per-node clients.
//!
//! Both ways stop at the first fault and say where they stopped: what moved, what did
//! not, and a slot left open (classic) or a job whose end is unknown (atomic), with the
//! commands that finish or undo it ([`Outcome`]). An interrupt (Ctrl-C) cancels the
//! running job, or lets the running batch finish, and stops the same way.

pub(crate) mod atomic;
pub(crate) mod classic;
pub(crate) mod link;
pub(crate) mod precheck;

use crate::addr::NodeAddr;
use crate::insight::plan::Move;
use crate::snapshot::Snapshot;
use std::time::Duration;
use tokio::sync::watch;

/// A primary as a move names it: by address (where to send commands) and by id (what
/// the commands name). Kept by value, not as an index into one snapshot, because the
/// precheck and the moves read later snapshots whose node order may differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Endpoint {
    pub(crate) addr: NodeAddr,
    pub(crate) id: String,
}

/// One slot to move from one primary to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotMove {
    pub(crate) slot: u16,
    pub(crate) source: Endpoint,
    pub(crate) target: Endpoint,
}

impl SlotMove {
    /// `m` of a plan made from `snapshot`, with its nodes named.
    pub(crate) fn from_plan(m: &Move, snapshot: &Snapshot) -> SlotMove {
        let endpoint = |index: usize| {
            let node = &snapshot.nodes[index];
            Endpoint { addr: node.addr.clone(), id: node.node_id.clone() }
        };
        SlotMove { slot: m.slot, source: endpoint(m.from), target: endpoint(m.to) }
    }
}

/// How the moves are carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `CLUSTER MIGRATESLOTS` jobs (every primary involved runs Valkey 9.0+).
    Atomic,
    /// The classic steps, one slot at a time.
    Classic,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Atomic => "atomic",
            Method::Classic => "classic",
        }
    }
}

/// How long to wait between two looks at a running job: short next to a job's seconds,
/// long next to the ~10 us `GETSLOTMIGRATIONS` costs the source.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What a move reports while it runs, for a progress bar or plain lines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Event {
    /// A job moving `slots` from `source` to `target` was accepted, under `name`.
    JobStarted { name: String, slots: Vec<u16>, source: NodeAddr, target: NodeAddr },
    /// The job changed state (as the server names it).
    JobState { name: String, state: String },
    /// A classic slot move started.
    SlotStarted { slot: u16, source: NodeAddr, target: NodeAddr },
    /// `keys` more keys of `slot` reached the target.
    KeysMoved { slot: u16, keys: u64 },
    /// These slots now belong to their target.
    SlotsDone { slots: Vec<u16> },
}

/// Where the events go.
pub(crate) trait Progress {
    fn event(&mut self, event: Event);
}

/// A stop request (Ctrl-C), watched between steps and while waiting on a job.
pub(crate) type Interrupt = watch::Receiver<bool>;

/// Whether a stop was requested.
pub(crate) fn interrupted(interrupt: &Interrupt) -> bool {
    *interrupt.borrow()
}

/// Why the moves stopped before the last one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stopped {
    /// A job failed or was cancelled by someone else, a node stopped answering, or a
    /// command was refused: the sentence says which and where.
    Fault(String),
    /// Ctrl-C.
    Interrupted,
}

/// A slot neither here nor there when the moves stopped, and what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LeftOpen {
    pub(crate) slot: u16,
    /// What is known of its state, in words.
    pub(crate) state: String,
    /// Commands that finish the move.
    pub(crate) finish: Vec<String>,
    /// Commands that undo it, or why it cannot simply be undone.
    pub(crate) roll_back: Vec<String>,
}

/// What the moves did.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct Outcome {
    /// Slots now owned by their targets, in the order they moved.
    pub(crate) moved: Vec<u16>,
    /// Slots still with their sources (never started, or rolled back by the server).
    pub(crate) not_moved: Vec<u16>,
    /// Slots left half-moved, or whose state could not be read.
    pub(crate) open: Vec<LeftOpen>,
    /// `None` when every move was made.
    pub(crate) stopped: Option<Stopped>,
}

impl Outcome {
    /// Records the rest of `moves` (after those accounted for) as not moved.
    pub(crate) fn not_started(&mut self, moves: &[SlotMove]) {
        let accounted = |slot: &u16| self.moved.contains(slot) || self.open.iter().any(|o| o.slot == *slot);
        let rest: Vec<u16> =
            moves.iter().map(|m| m.slot).filter(|s| !accounted(s) && !self.not_moved.contains(s)).collect();
        self.not_moved.extend(rest);
    }
}

/// `3 4 5 9` as `3-5 9`.
pub(crate) fn describe(slots: &[u16]) -> String {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    crate::insight::commands::ranges(&sorted)
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect::<Vec<_>>()
        .join(" ")
}
