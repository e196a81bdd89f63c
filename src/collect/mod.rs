//! Collection: one refresh turns a live cluster into a [`Snapshot`].
//!
//! 1. [`topology`]: `CLUSTER SLOTS` from the first seed (or previously seen node) to
//!    answer.
//! 2. [`node`]: `CLUSTER SLOT-STATS SLOTSRANGE` for the slots each primary (and replica,
//!    when enabled) serves, to all at once, each over its own reused connection and
//!    within the node timeout.
//!    A primary is also asked, in the same task, `CLUSTER NODES` and (Valkey 9.0+)
//!    `CLUSTER GETSLOTMIGRATIONS`: the slot moves under way, parsed by [`moves`].
//! 3. [`reply`]: each answer walked as fred's raw frames and parsed by field name.
//! 4. [`merge`]: answers attributed to slots by the topology, into the snapshot.

pub(crate) mod failure;
#[cfg(test)]
mod frames_for_tests;
pub(crate) mod info;
pub(crate) mod merge;
pub(crate) mod moves;
pub(crate) mod node;
pub(crate) mod reply;
pub(crate) mod shards;
pub(crate) mod topology;

use crate::addr::NodeAddr;
use crate::config::{ClusterSettings, NodeUrl};
use crate::snapshot::moves::{MigrationJob, MigrationListing, OpenSlot};
use crate::snapshot::{ClusterState, FailureKind, Moves, NodeFailure, NodeStatus, Role, ServerVersion, Snapshot};
use merge::NodeAnswer;
use node::{ConnectOptions, NodePool, RawCommand};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::task::JoinSet;
use topology::Topology;

const CLUSTER_SLOTS: &[&str] = &["CLUSTER", "SLOTS"];
const CLUSTER_SHARDS: &[&str] = &["CLUSTER", "SHARDS"];

fn info_server_request() -> RawCommand {
    RawCommand { name: "INFO", args: vec!["server".into()] }
}

fn cluster_request(subcommand: &str) -> RawCommand {
    RawCommand { name: "CLUSTER", args: vec![subcommand.into()] }
}

/// What a primary said about moves, by its address (the snapshot's node order is
/// known only after the merge).
type Moved = (NodeAddr, moves::MovesAnswer);

/// How many nodes from the last topology are asked, besides the configured seeds,
/// when looking for the topology: enough to survive losing the seeds, few enough not
/// to load a large cluster with CLUSTER SLOTS calls.
const EXTRA_TOPOLOGY_CANDIDATES: usize = 5;

/// Reads one cluster. Shared (`Arc`) by the cache that calls [`refresh`](Self::refresh).
pub struct ClusterCollector {
    seeds: Vec<NodeUrl>,
    include_replicas: bool,
    /// Bound on a whole refresh: nodes are asked concurrently, so one node timeout
    /// covers discovery and statistics together.
    node_timeout: std::time::Duration,
    pool: Arc<NodePool>,
    /// Addresses from the last topology, so discovery survives the seeds going away.
    known_nodes: Mutex<Vec<NodeAddr>>,
    /// Set once `CLUSTER SHARDS` was refused (ACL or server), so it is not asked again.
    shards_refused: AtomicBool,
}

/// How discovery ended.
enum Discovery {
    /// The topology, and the node that gave it.
    Found(Topology, NodeAddr),
    /// A seed answered that it is not a cluster node.
    NotCluster(NodeStatus),
    /// No candidate answered; one status per candidate.
    Unreachable(Vec<NodeStatus>),
}

impl ClusterCollector {
    pub fn new(settings: &ClusterSettings) -> Self {
        let options = ConnectOptions {
            tls: settings.valkey_tls.clone(),
            username: settings.username.clone(),
            password: settings.password.clone(),
            timeout: settings.node_timeout,
        };
        ClusterCollector {
            seeds: settings.seeds.clone(),
            include_replicas: settings.include_replicas,
            node_timeout: settings.node_timeout,
            pool: Arc::new(NodePool::new(options).allowing(settings.allowed_nodes.clone())),
            known_nodes: Mutex::new(Vec::new()),
            shards_refused: AtomicBool::new(false),
        }
    }

    /// Reads topology and slot statistics now, finishing within the node timeout: nodes
    /// are asked concurrently, so one timeout bounds discovery and statistics together.
    /// Never fails: whatever went wrong is recorded in the snapshot, which is what the
    /// exporter then reports.
    pub async fn refresh(&self) -> Snapshot {
        let taken_at = SystemTime::now();
        let started = Instant::now();
        self.pool.set_refresh_deadline(started + self.node_timeout);
        let (state, merge::Merged { nodes, slots, owners }, moves) = match self.discover().await {
            Discovery::Found(topology, from) => self.collect(topology, &from).await,
            Discovery::NotCluster(seed) => (ClusterState::NotCluster, merged(vec![seed]), Moves::default()),
            Discovery::Unreachable(statuses) => {
                let first = statuses
                    .iter()
                    .find_map(|s| s.failure.clone())
                    .unwrap_or(NodeFailure { kind: FailureKind::Other, detail: "no seed node configured".into() });
                (ClusterState::Unreachable(first), merged(statuses), Moves::default())
            }
        };
        let snapshot = Snapshot { taken_at, refresh_duration: started.elapsed(), state, nodes, slots, owners, moves };
        log_outcome(&snapshot);
        snapshot
    }

    async fn collect(&self, mut topology: Topology, from: &NodeAddr) -> (ClusterState, merge::Merged, Moves) {
        topology.add_empty_primaries(self.empty_primaries(from).await);
        self.remember(&topology);
        let targets: Vec<usize> = (0..topology.nodes.len())
            .filter(|&i| self.include_replicas || topology.nodes[i].role == Role::Primary)
            .collect();
        let (answers, moved) = self.ask_slot_stats(&topology, &targets).await;
        let all_unsupported = !answers.is_empty()
            && answers.iter().all(|a| matches!(&a.result, Err(f) if f.kind == FailureKind::Unsupported));
        let state = if all_unsupported { ClusterState::Unsupported } else { ClusterState::Cluster };
        let merged = merge::merge(&topology, answers);
        let moves = moves::assemble(&merged.nodes, moved);
        (state, merged, moves)
    }

    /// Primaries without slots, from `CLUSTER SHARDS` on the node that gave the
    /// topology. Best effort: a server or an ACL that refuses it costs nothing but them,
    /// and once refused it is not asked again, so ACL LOG does not fill up.
    async fn empty_primaries(&self, from: &NodeAddr) -> Vec<shards::EmptyPrimary> {
        if self.shards_refused.load(Ordering::Relaxed) {
            return Vec::new();
        }
        match self.pool.command(from, CLUSTER_SHARDS).await {
            Ok(reply) => shards::empty_primaries(&reply, from.host()),
            Err(failure) if matches!(failure.kind, FailureKind::AuthFailed | FailureKind::Unsupported) => {
                self.shards_refused.store(true, Ordering::Relaxed);
                tracing::warn!(
                    node = %from,
                    detail = %failure.detail,
                    "CLUSTER SHARDS refused: primaries without slots will not be listed (grant +cluster|shards)"
                );
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Sends `INFO server`, `CLUSTER NODES` (primaries) and SLOT-STATS (for the slots
    /// each serves) to every target at once, pipelined on each node's connection, then
    /// `CLUSTER GETSLOTMIGRATIONS` to primaries whose `INFO` says Valkey 9.0+; each answer
    /// carries its own timing. Each node's reply is parsed in that node's task, so the
    /// decoding of several large replies is spread over the runtime's threads. A target
    /// outside `allowed_nodes` is not asked: its answer is the failure that says so.
    async fn ask_slot_stats(&self, topology: &Topology, targets: &[usize]) -> (Vec<NodeAnswer>, Vec<Moved>) {
        let mut tasks = JoinSet::new();
        let mut refused = Vec::new();
        for &index in targets {
            if !self.pool.allows(&topology.nodes[index].addr) {
                let result = Err(failure::not_allowed(topology.slots_served(index)));
                refused.push(NodeAnswer { index, duration: std::time::Duration::ZERO, result, version: None });
                continue;
            }
            let pool = self.pool.clone();
            let addr = topology.nodes[index].addr.clone();
            let primary = topology.nodes[index].role == Role::Primary;
            let stats = topology.slot_stats_requests(index);
            tasks.spawn(async move { ask_node(&pool, index, addr, primary, stats).await });
        }
        let (mut answers, moved): (Vec<NodeAnswer>, Vec<Option<Moved>>) = tasks.join_all().await.into_iter().unzip();
        answers.append(&mut refused);
        (answers, moved.into_iter().flatten().collect())
    }

    /// Asks every seed (and a few nodes from the last topology) for CLUSTER SLOTS at
    /// once and takes the first good answer, so a dead or stalled seed costs nothing
    /// while another answers.
    async fn discover(&self) -> Discovery {
        let candidates = self.topology_candidates();
        let mut tasks = JoinSet::new();
        for addr in candidates.iter().cloned() {
            let pool = self.pool.clone();
            tasks.spawn(async move {
                let started = Instant::now();
                let result = pool.command(&addr, CLUSTER_SLOTS).await;
                (addr, started.elapsed(), result)
            });
        }
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((addr, duration, result)) = joined else { continue };
            match result.and_then(|value| parse_topology(value, &addr)) {
                Ok(topology) => return Discovery::Found(topology, addr),
                Err(failure) if failure.kind == FailureKind::ClusterDisabled => {
                    return Discovery::NotCluster(seed_status(addr, duration, None));
                }
                Err(failure) => failed.push(seed_status(addr, duration, Some(failure))),
            }
        }
        failed.sort_by(|a, b| a.addr.cmp(&b.addr));
        Discovery::Unreachable(failed)
    }

    fn topology_candidates(&self) -> Vec<NodeAddr> {
        let mut seen = HashSet::new();
        let seeds = self.seeds.iter().map(|seed| seed.addr.clone());
        let known = crate::sync::lock(&self.known_nodes).clone();
        seeds
            .chain(known.into_iter().take(EXTRA_TOPOLOGY_CANDIDATES))
            .filter(|a| self.pool.allows(a) && seen.insert(a.clone()))
            .collect()
    }

    /// Keeps the topology's allowed addresses for the next discovery and lets go of
    /// clients for nodes that left the cluster.
    fn remember(&self, topology: &Topology) {
        let of_role = |role: Role| {
            topology.nodes.iter().filter(move |n| n.role == role && self.pool.allows(&n.addr)).map(|n| n.addr.clone())
        };
        let mut addrs: Vec<NodeAddr> = of_role(Role::Primary).collect();
        addrs.extend(of_role(Role::Replica));
        let mut keep: HashSet<NodeAddr> = addrs.iter().cloned().collect();
        keep.extend(self.seeds.iter().map(|seed| seed.addr.clone()));
        self.pool.retain(&keep);
        *crate::sync::lock(&self.known_nodes) = addrs;
    }
}

/// One node's task: `INFO server`, `CLUSTER NODES` (a primary) and its SLOT-STATS
/// requests, pipelined; then, on a primary whose `INFO` says Valkey 9.0+, `CLUSTER
/// GETSLOTMIGRATIONS`, all within the node's bound. The statistics alone decide
/// whether the node answered: a refused or odd moves command costs only the moves
/// (one debug line; the snapshot's per-node listing says why), so an ACL without those
/// commands neither fails the node nor fills the log.
async fn ask_node(
    pool: &NodePool,
    index: usize,
    addr: NodeAddr,
    primary: bool,
    slot_stats: Vec<RawCommand>,
) -> (NodeAnswer, Option<Moved>) {
    let started = Instant::now();
    let mut requests = vec![info_server_request()];
    if primary {
        requests.push(cluster_request("NODES"));
    }
    requests.extend(slot_stats);
    let (mut rows, mut version, mut open_slots, mut replies) = (Vec::new(), None, None, 0usize);
    let result = pool
        .pipeline_raw(&addr, requests, |frame| {
            replies += 1;
            match replies {
                // Only an ACL without +info refuses it: the version stays unknown.
                1 => version = frame.ok().and_then(|f| info::parse_info_frame(&f)),
                2 if primary => open_slots = read_open_slots(&addr, frame),
                _ => return reply::parse_slot_stats_into(&frame?, &mut rows).map_err(failure::protocol),
            }
            Ok(())
        })
        .await
        .map(|()| rows);
    let moved = match (&result, primary) {
        (Ok(_), true) => {
            let (listing, jobs) = list_jobs(pool, &addr, version.as_ref()).await;
            Some((addr, moves::MovesAnswer { open_slots, listing, jobs }))
        }
        _ => None,
    };
    (NodeAnswer { index, duration: started.elapsed(), result, version }, moved)
}

/// The node's open slots from its `CLUSTER NODES` reply; `None` when it was refused or
/// unreadable, which is said once per refresh at debug level.
fn read_open_slots(addr: &NodeAddr, frame: Result<fred::types::Resp3Frame, NodeFailure>) -> Option<Vec<OpenSlot>> {
    let read = frame.and_then(|f| moves::parse_open_slots(&f).map_err(failure::protocol));
    read.map_err(|failure| {
        tracing::debug!(node = %addr, detail = %failure.detail, "CLUSTER NODES not read: open slots unknown (grant +cluster|nodes)");
    })
    .ok()
}

/// The node's atomic migration jobs, or why they are not known. Servers before Valkey
/// 9.0 have none and are not asked; neither is a node whose version is unknown.
async fn list_jobs(
    pool: &NodePool,
    addr: &NodeAddr,
    version: Option<&ServerVersion>,
) -> (MigrationListing, Vec<MigrationJob>) {
    match version {
        None => return (MigrationListing::NotAsked, Vec::new()),
        Some(v) if !v.has_atomic_slot_migration() => return (MigrationListing::NotSupported, Vec::new()),
        Some(_) => {}
    }
    let mut listed = (MigrationListing::NotAsked, Vec::new());
    let asked = pool
        .pipeline_raw(addr, vec![cluster_request("GETSLOTMIGRATIONS")], |frame| {
            listed = match frame.and_then(|f| moves::parse_migration_jobs(&f).map_err(failure::protocol)) {
                Ok(jobs) => (MigrationListing::Listed, jobs),
                Err(f) if f.kind == FailureKind::Protocol => (MigrationListing::Unreadable(f.detail), Vec::new()),
                Err(f) => (MigrationListing::NotPermitted(f.detail), Vec::new()),
            };
            Ok(())
        })
        .await;
    if let Some(detail) = asked.err().map(|f| f.detail).or_else(|| listed.0.detail().map(str::to_string)) {
        tracing::debug!(node = %addr, %detail, "CLUSTER GETSLOTMIGRATIONS not read: migration jobs unknown (grant +cluster|getslotmigrations)");
    }
    listed
}

fn parse_topology(value: fred::types::Value, addr: &NodeAddr) -> Result<Topology, NodeFailure> {
    Topology::from_cluster_slots(value, addr.host()).map_err(failure::protocol)
}

/// Nodes without any slot: what discovery knows when it found no cluster.
fn merged(nodes: Vec<NodeStatus>) -> merge::Merged {
    merge::Merged { nodes, slots: Vec::new(), owners: Vec::new() }
}

/// A seed seen only during discovery: its node id and role are unknown, since no
/// topology named it.
fn seed_status(addr: NodeAddr, duration: std::time::Duration, failure: Option<NodeFailure>) -> NodeStatus {
    NodeStatus {
        addr,
        node_id: String::new(),
        role: Role::Unknown,
        slots_served: 0,
        failure,
        duration,
        slot_stats_enabled: None,
        version: None,
    }
}

fn log_outcome(snapshot: &Snapshot) {
    for node in snapshot.failed_nodes() {
        let failure = node.failure.as_ref().expect("failed node has a failure");
        tracing::warn!(node = %node.addr, error = failure.kind.as_str(), detail = %failure.detail, "node did not answer");
    }
    tracing::debug!(
        state = ?snapshot.state,
        nodes = snapshot.nodes.len(),
        slots = snapshot.slots.len(),
        duration_ms = snapshot.refresh_duration.as_secs_f64() * 1e3,
        "refreshed snapshot"
    );
}
