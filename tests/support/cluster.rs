//! Real servers for integration tests: a Valkey cluster, and single servers.
//!
//! [`ValkeyCluster`] starts `valkey-server` nodes with slot statistics enabled,
//! joins them into a cluster and returns only once every node agrees on the full
//! layout, so a test can scrape right away without racing the cluster's own
//! convergence. [`Standalone`] covers the two "no slot stats" cases the exporter
//! must handle: a server without cluster mode, and a Redis 7 cluster, which has
//! no `CLUSTER SLOT-STATS`.
//!
//! Everything is torn down on drop (also when a test panics), and servers die
//! with the test process even if it is killed; see `process.rs` for the one rule
//! that comes with that: create these on the test's own thread.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::eventually::try_eventually;
use super::process;
use super::resp::Value;
use super::server::{self, Server, ServerKind, query};
use super::slots::SLOT_COUNT;
use super::topology::{self, SlotRange};

/// How long a new cluster may take until every node agrees on the layout.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a converging cluster is asked again: gossip moves in ~100 ms steps.
const CONVERGE_STEP: Duration = Duration::from_millis(100);

/// How long `valkey-cli --cluster create` may run.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// `valkey-cli --cluster create` refuses to build clusters smaller than this.
const CLI_MIN_PRIMARIES: usize = 3;

/// A running Valkey cluster of `primaries * (1 + replicas_per_primary)` nodes on
/// 127.0.0.1, all in one temp dir (one subdirectory and log per node).
///
/// Nodes run with `cluster-node-timeout 5000` (default 15000) so that gossip and
/// failovers take seconds, and with replication tuned so that replicas show up in
/// `CLUSTER SLOTS` promptly; see `server.rs` for the exact options.
pub struct ValkeyCluster {
    /// In start order. Dropped (killed) by `Drop` before `dir` is removed.
    nodes: Vec<Server>,
    /// Which server the nodes run (Debian's Valkey 8, or Valkey 9.1).
    kind: ServerKind,
    replicas_per_primary: usize,
    /// Learned once the cluster is up; node ids never change during a node's life.
    node_ids: HashMap<String, String>,
    dir: TempDir,
}

impl ValkeyCluster {
    /// Starts and joins a cluster, e.g. `start(3, 1)` for three primaries with
    /// one replica each, and waits until every node reports `cluster_state:ok`
    /// and the same owner for all 16384 slots with all replicas attached.
    ///
    /// With three or more primaries the cluster is built by
    /// `valkey-cli --cluster create`, as an operator would; smaller clusters
    /// (which the CLI refuses) are built with `CLUSTER ADDSLOTSRANGE`, `MEET`
    /// and `REPLICATE`.
    pub fn start(primaries: usize, replicas_per_primary: usize) -> Self {
        Self::start_kind(ServerKind::ValkeyClusterNode, primaries, replicas_per_primary)
    }

    /// Like [`start`](Self::start), with Valkey 9.1 nodes (atomic slot migration).
    pub fn start_valkey9(primaries: usize, replicas_per_primary: usize) -> Self {
        Self::start_kind(ServerKind::Valkey9ClusterNode, primaries, replicas_per_primary)
    }

    fn start_kind(kind: ServerKind, primaries: usize, replicas_per_primary: usize) -> Self {
        assert!(
            (1..=usize::from(SLOT_COUNT)).contains(&primaries),
            "a cluster needs 1..=16384 primaries, got {primaries}"
        );
        let dir =
            tempfile::Builder::new().prefix("valkey-cluster-").tempdir().expect("create a temp dir for the cluster");
        let node_count = primaries * (1 + replicas_per_primary);
        let nodes = (0..node_count).map(|_| server::launch(kind, dir.path())).collect();
        let mut cluster = ValkeyCluster { nodes, kind, replicas_per_primary, node_ids: HashMap::new(), dir };
        if primaries >= CLI_MIN_PRIMARIES {
            cluster.create_with_cli();
        } else {
            cluster.create_by_hand(primaries);
        }
        try_eventually("the cluster converges", CONVERGE_TIMEOUT, CONVERGE_STEP, || cluster.check_converged(primaries))
            .unwrap_or_else(|error| cluster.fail("the cluster did not converge", &error));
        cluster.node_ids = cluster.ask_node_ids();
        cluster
    }

    /// "redis://127.0.0.1:P" of the first node started.
    pub fn seed_url(&self) -> String {
        format!("redis://{}", self.nodes[0].addr())
    }

    /// "127.0.0.1:P" of every node in start order, killed ones included.
    pub fn node_addrs(&self) -> Vec<String> {
        self.nodes.iter().map(Server::addr).collect()
    }

    /// Slot-owning primaries, sorted, per `CLUSTER SLOTS` asked now.
    pub fn primaries(&self) -> Vec<String> {
        topology::primaries(&self.current_ranges())
    }

    /// Replicas of slot-owning primaries, sorted, per `CLUSTER SLOTS` asked now.
    pub fn replicas(&self) -> Vec<String> {
        topology::replicas(&self.current_ranges())
    }

    /// The primary owning each slot (index = slot, 16384 entries), per
    /// `CLUSTER SLOTS` asked now; "" for a slot no node serves.
    pub fn slot_owners(&self) -> Vec<String> {
        topology::slot_owners(&self.current_ranges())
    }

    /// The owner of every slot as the node at `addr` sees it (its own `CLUSTER SLOTS`).
    pub fn slot_owners_seen_by(&self, addr: &str) -> Vec<String> {
        let reply = self.cmd(addr, &["CLUSTER", "SLOTS"]);
        topology::slot_owners(&topology::parse(&reply).unwrap_or_else(|error| panic!("{addr}: {error}")))
    }

    /// The primary the replica at `replica` follows, from its `ROLE` ("127.0.0.1:P").
    pub fn primary_of(&self, replica: &str) -> String {
        let role = self.cmd(replica, &["ROLE"]);
        let parts = role.as_array().unwrap_or_else(|| panic!("{replica}: ROLE is {role:?}"));
        format!("{}:{}", parts[1].as_str().expect("primary host"), parts[2].as_int().expect("primary port"))
    }

    /// Node id of every node, by address ("127.0.0.1:P"), killed ones included.
    pub fn node_ids(&self) -> HashMap<String, String> {
        self.node_ids.clone()
    }

    /// Runs one command on the node at `addr` over a fresh connection. Server
    /// errors are returned as [`Value::Error`]; a connection failure panics.
    pub fn cmd(&self, addr: &str, args: &[&str]) -> Value {
        query(addr, args).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`Self::cmd`] for a node that may be down: the connection failure as an error.
    pub fn try_cmd(&self, addr: &str, args: &[&str]) -> Result<Value, String> {
        query(addr, args)
    }

    /// SIGKILLs the node at `addr` (for fault tests). The node stays in
    /// [`node_addrs`](Self::node_addrs) and [`node_ids`](Self::node_ids), and
    /// later topology questions are asked of the nodes still running.
    pub fn kill(&mut self, addr: &str) {
        self.nodes
            .iter_mut()
            .find(|node| node.addr() == addr)
            .unwrap_or_else(|| panic!("kill: {addr} is not a node of this cluster"))
            .kill();
    }

    /// How many times `CLUSTER SLOT-STATS` ran on the primaries, summed, from
    /// `INFO commandstats`: how tests count the exporter's refreshes.
    pub fn slot_stats_calls(&self) -> u64 {
        let calls = |addr: &String| -> u64 {
            let info = self.cmd(addr, &["INFO", "commandstats"]);
            let text = info.as_str().expect("INFO commandstats is text").to_string();
            text.lines()
                .find_map(|line| line.strip_prefix("cmdstat_cluster|slot-stats:calls="))
                .map_or(0, |rest| rest.split(',').next().and_then(|n| n.parse().ok()).expect("a call count"))
        };
        self.primaries().iter().map(calls).sum()
    }

    /// Starts a killed node again on its port, with its `nodes.conf` (same node id).
    /// It rejoins the cluster by itself; callers wait for what they need.
    pub fn restart(&mut self, addr: &str) {
        self.nodes
            .iter_mut()
            .find(|node| node.addr() == addr)
            .unwrap_or_else(|| panic!("restart: {addr} is not a node of this cluster"))
            .restart();
    }

    /// Starts one more node and introduces it with `CLUSTER MEET`: a primary that owns
    /// no slots, as when an operator scales out. Returns its "127.0.0.1:P" once every
    /// node lists it as an online primary in `CLUSTER SHARDS`.
    pub fn add_empty_primary(&mut self) -> String {
        self.add_empty_primary_on("127.0.0.1")
    }

    /// [`add_empty_primary`](Self::add_empty_primary) with the node bound to another
    /// loopback address (`127.0.0.2`): a node that joins from a host of its own, as one
    /// joined by anyone who reaches a cluster-bus port would. Its "host:P" is returned.
    pub fn add_empty_primary_on(&mut self, host: &'static str) -> String {
        let node = server::launch_on(self.kind, self.dir.path(), host);
        let addr = node.addr();
        let seed_port = self.nodes[0].port().to_string();
        expect_simple_ok(self.cmd(&addr, &["CLUSTER", "MEET", "127.0.0.1", &seed_port]))
            .unwrap_or_else(|error| self.fail(&format!("{addr}: CLUSTER MEET"), &error));
        self.nodes.push(node);
        let id = self.cmd(&addr, &["CLUSTER", "MYID"]).as_str().expect("CLUSTER MYID").to_owned();
        let running: Vec<String> = self.nodes.iter().filter(|n| !n.is_killed()).map(Server::addr).collect();
        // The newcomer refuses MIGRATE with CLUSTERDOWN until it has learnt who owns
        // every slot, some time after the others list it.
        try_eventually("every node lists the newcomer", CONVERGE_TIMEOUT, CONVERGE_STEP, || {
            check_state_ok(&addr)?;
            for other in &running {
                let shards = query(other, &["CLUSTER", "SHARDS"])?;
                if !format!("{shards:?}").contains(&id) {
                    return Err(format!("{other} does not list {addr} yet"));
                }
            }
            Ok(())
        })
        .unwrap_or_else(|error| self.fail(&format!("{addr} did not join"), &error));
        self.node_ids.insert(addr.clone(), id);
        addr
    }

    /// The temp dir holding every node's data, `nodes.conf` and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `valkey-cli --cluster create ... --cluster-yes`, output in the temp dir.
    fn create_with_cli(&self) {
        let cli = server::require_program("valkey-cli");
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(self.node_addrs());
        args.extend([
            "--cluster-replicas".to_owned(),
            self.replicas_per_primary.to_string(),
            "--cluster-yes".to_owned(),
        ]);
        let mut create = process::spawn(&cli, &args, self.dir(), "cluster-create")
            .unwrap_or_else(|error| panic!("spawn {}: {error}", cli.display()));
        match create.wait_until(Instant::now() + CREATE_TIMEOUT) {
            Some(status) if status.success() => {}
            outcome => panic!("valkey-cli --cluster create failed ({outcome:?}):\n{}", create.output_tail(30)),
        }
    }

    /// Builds the cluster with plain commands: the first `primaries` nodes split
    /// the slots, the rest replicate them round-robin.
    fn create_by_hand(&self, primaries: usize) {
        let addrs = self.node_addrs();
        let (primary_addrs, replica_addrs) = addrs.split_at(primaries);
        for (index, addr) in primary_addrs.iter().enumerate() {
            // Distinct epochs up front, as valkey-cli does, so that the nodes do
            // not first have to resolve an epoch collision.
            self.expect_ok(addr, &["CLUSTER", "SET-CONFIG-EPOCH", &(index + 1).to_string()]);
            let (first, last) = slot_share(index, primaries);
            let (first, last) = (first.to_string(), last.to_string());
            self.expect_ok(addr, &["CLUSTER", "ADDSLOTSRANGE", &first, &last]);
        }
        let seed_port = self.nodes[0].port().to_string();
        for addr in &addrs[1..] {
            self.expect_ok(addr, &["CLUSTER", "MEET", "127.0.0.1", &seed_port]);
        }
        let ids = self.ask_node_ids();
        for (index, replica) in replica_addrs.iter().enumerate() {
            let primary_id = &ids[&primary_addrs[index % primaries]];
            // Fails with "Unknown node" until the MEET gossip has reached `replica`.
            try_eventually("CLUSTER REPLICATE succeeds", CONVERGE_TIMEOUT, CONVERGE_STEP, || {
                expect_simple_ok(query(replica, &["CLUSTER", "REPLICATE", primary_id])?)
            })
            .unwrap_or_else(|error| self.fail(&format!("{replica} did not attach"), &error));
        }
    }

    /// `Ok` once every node is `cluster_state:ok` and all agree on a complete layout.
    fn check_converged(&self, primaries: usize) -> Result<(), String> {
        let mut agreed: Option<(String, Vec<SlotRange>)> = None;
        for addr in self.node_addrs() {
            check_state_ok(&addr)?;
            let ranges = topology::parse(&query(&addr, &["CLUSTER", "SLOTS"])?)?;
            match &agreed {
                Some((first, expected)) if *expected != ranges => {
                    return Err(format!("{addr} and {first} disagree: {ranges:?} vs {expected:?}"));
                }
                Some(_) => {}
                None => agreed = Some((addr, ranges)),
            }
        }
        let (_, ranges) = agreed.ok_or("the cluster has no nodes")?;
        topology::check_complete(&ranges, primaries, self.replicas_per_primary, &self.node_addrs())
    }

    /// `CLUSTER SLOTS` of the first node still running.
    fn current_ranges(&self) -> Vec<SlotRange> {
        let node = self.nodes.iter().find(|node| !node.is_killed()).expect("every node of the cluster has been killed");
        let reply = self.cmd(&node.addr(), &["CLUSTER", "SLOTS"]);
        topology::parse(&reply).unwrap_or_else(|error| panic!("{}: {error}", node.addr()))
    }

    fn ask_node_ids(&self) -> HashMap<String, String> {
        self.node_addrs()
            .into_iter()
            .map(|addr| {
                let reply = self.cmd(&addr, &["CLUSTER", "MYID"]);
                let id = reply.as_str().unwrap_or_else(|| panic!("{addr}: CLUSTER MYID returned {reply:?}")).to_owned();
                (addr, id)
            })
            .collect()
    }

    fn expect_ok(&self, addr: &str, args: &[&str]) {
        expect_simple_ok(self.cmd(addr, args))
            .unwrap_or_else(|error| self.fail(&format!("{addr}: {}", args.join(" ")), &error));
    }

    /// Panics with every node's recent log: the temp dir, and with it the full
    /// logs, is removed while the panic unwinds.
    fn fail(&self, what: &str, error: &str) -> ! {
        let mut logs: Vec<String> = self.nodes.iter().map(Server::log_tail).collect();
        let create_log = self.dir().join("cluster-create.stdout");
        if create_log.exists() {
            logs.push(format!("--- {} ---\n{}", create_log.display(), process::file_tail(&create_log, 30)));
        }
        panic!("{what}: {error}\n{}", logs.join("\n"));
    }
}

impl Drop for ValkeyCluster {
    /// Kills and reaps every node before the temp dir is removed.
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}

/// The slot range `index` of `count` primaries serves when the slots are split evenly.
fn slot_share(index: usize, count: usize) -> (usize, usize) {
    let slots = usize::from(SLOT_COUNT);
    (index * slots / count, (index + 1) * slots / count - 1)
}

fn expect_simple_ok(reply: Value) -> Result<(), String> {
    match reply {
        Value::Simple(text) if text == "OK" => Ok(()),
        other => Err(format!("expected OK, got {other:?}")),
    }
}

/// `Ok` if `CLUSTER INFO` on `addr` says `cluster_state:ok`.
fn check_state_ok(addr: &str) -> Result<(), String> {
    let info = query(addr, &["CLUSTER", "INFO"])?;
    let ok = info.as_str().is_some_and(|text| text.lines().any(|line| line.trim_end() == "cluster_state:ok"));
    if ok { Ok(()) } else { Err(format!("{addr} is not cluster_state:ok yet")) }
}

/// One server outside a Valkey cluster, in its own temp dir.
pub struct Standalone {
    /// Declared before `dir` so that it is dropped (killed) first.
    server: Server,
    dir: TempDir,
}

impl Standalone {
    /// A plain `valkey-server` without cluster mode: cluster commands answer
    /// "ERR This instance has cluster support disabled".
    pub fn valkey() -> Self {
        Self::launch(ServerKind::ValkeyStandalone)
    }

    /// Debian's `redis-server` 7 as a one-node cluster owning all 16384 slots:
    /// a working cluster whose server has no `CLUSTER SLOT-STATS`.
    pub fn redis7_cluster() -> Self {
        let standalone = Self::launch(ServerKind::Redis7ClusterNode);
        let addr = standalone.addr();
        let reply = standalone.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        expect_simple_ok(reply).unwrap_or_else(|error| panic!("{addr}: ADDSLOTSRANGE: {error}"));
        // A new cluster node waits about 2 s after start before it reports ok.
        try_eventually("cluster_state:ok", CONVERGE_TIMEOUT, CONVERGE_STEP, || check_state_ok(&addr)).unwrap_or_else(
            |error| panic!("{addr} did not become cluster_state:ok: {error}\n{}", standalone.server.log_tail()),
        );
        standalone
    }

    /// "redis://127.0.0.1:P".
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// "127.0.0.1:P".
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    /// Runs one command over a fresh connection. Server errors are returned as
    /// [`Value::Error`]; a connection failure panics.
    pub fn cmd(&self, args: &[&str]) -> Value {
        query(&self.addr(), args).unwrap_or_else(|error| panic!("{error}"))
    }

    /// The temp dir holding the server's data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(kind: ServerKind) -> Self {
        let dir =
            tempfile::Builder::new().prefix("valkey-standalone-").tempdir().expect("create a temp dir for the server");
        let server = server::launch(kind, dir.path());
        Standalone { server, dir }
    }
}
