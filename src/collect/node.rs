//! Connections to individual nodes: one fred client per node address.
//!
//! fred's shared cluster client let one dead primary stall commands to healthy ones;
//! a centralized client per node isolates failures. Clients are kept across refreshes
//! and replaced after any connection-level failure, so a node that comes back is
//! picked up on the next refresh without the exporter restarting.

use super::failure::{classify, server_error};
use crate::addr::NodeAddr;
use crate::config::{AllowedNodes, Secret, ValkeyTls};
use crate::snapshot::{FailureKind, NodeFailure};
use fred::interfaces::ClientLike;
use fred::prelude::{Builder, Client, Config, ServerConfig};
use fred::types::config::{Server, TlsConnector};
use fred::types::{ClusterHash, ConnectHandle, CustomCommand, Resp3Frame, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_rustls::TlsConnector as RustlsConnector;

/// How to reach any node of the cluster.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// TLS client settings when the nodes are rediss:// or valkeys://.
    pub tls: Option<ValkeyTls>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Bound on connecting plus answering one command.
    pub timeout: Duration,
}

/// A connected client and the task that drives its connection.
struct NodeClient {
    client: Client,
    /// Aborted on drop: a stalled server would otherwise keep an evicted connection
    /// (and its task) alive indefinitely.
    task: ConnectHandle,
}

impl Drop for NodeClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The clients of every node seen so far, by address.
pub struct NodePool {
    options: ConnectOptions,
    clients: Mutex<HashMap<NodeAddr, Arc<NodeClient>>>,
    /// When the current refresh must be done by. Refreshes of one pool never overlap
    /// (the cache lets one run at a time), so one deadline per pool is enough.
    refresh_deadline: Mutex<Option<Instant>>,
    /// The only hosts a connection may be opened to: checked here, where every
    /// connection starts, so no caller can send the credentials past it.
    allowed: AllowedNodes,
}

impl NodePool {
    pub fn new(options: ConnectOptions) -> Self {
        NodePool {
            options,
            clients: Mutex::new(HashMap::new()),
            refresh_deadline: Mutex::new(None),
            allowed: AllowedNodes::default(),
        }
    }

    /// Connects only to hosts `allowed` admits; others fail with
    /// [`FailureKind::NotAllowed`] before any connection is opened.
    pub(crate) fn allowing(mut self, allowed: AllowedNodes) -> Self {
        self.allowed = allowed;
        self
    }

    /// Whether a connection to `addr` may be opened.
    pub(crate) fn allows(&self, addr: &NodeAddr) -> bool {
        self.allowed.allows(addr.host())
    }

    /// Runs one command on the node at `addr`, connecting first if needed, all within
    /// the node timeout.
    pub async fn command(&self, addr: &NodeAddr, args: &[&'static str]) -> Result<Value, NodeFailure> {
        self.bounded(addr, self.command_unbounded(addr, args)).await
    }

    /// Runs one command with arguments made at run time (slot numbers, node ids, keys as
    /// the server gave them: binary keys stay bytes) on the node at `addr`, within the
    /// node timeout: what `plan --apply` sends.
    pub(crate) async fn call(
        &self,
        addr: &NodeAddr,
        name: &'static str,
        args: Vec<Value>,
    ) -> Result<Value, NodeFailure> {
        self.bounded(addr, async {
            let node = self.client(addr).await?;
            let command = CustomCommand::new_static(name, ClusterHash::FirstKey, false);
            node.client.custom::<Value, _>(command, args).await.map_err(|e| classify(&e))
        })
        .await
    }

    /// [`Self::call`] with the reply as fred's raw frame, for the parsers that walk frames
    /// (`collect::moves`); a server error reply is a failure.
    pub(crate) async fn call_raw(&self, addr: &NodeAddr, command: RawCommand) -> Result<Resp3Frame, NodeFailure> {
        let mut reply = None;
        self.pipeline_raw(addr, vec![command], |frame| {
            reply = Some(frame?);
            Ok(())
        })
        .await?;
        reply.ok_or_else(|| super::failure::server_error("no reply"))
    }

    /// Sends `commands` to the node at `addr` back to back on its one connection (fred
    /// pipelines them) and hands each raw reply frame to `each` as soon as it and the
    /// ones before it have arrived, all within one node timeout. Each frame is dropped
    /// once `each` returns, so a large answer split over several commands never holds
    /// more than a few replies' frames at once; raw frames are walked in place instead
    /// of being turned into [`Value`]s (a full SLOT-STATS reply holds ~50,000 elements).
    /// A server error reply reaches `each` as a failure, so a command whose refusal is
    /// harmless need not fail the others; `each` returning an error ends the pipeline.
    pub async fn pipeline_raw(
        &self,
        addr: &NodeAddr,
        commands: Vec<RawCommand>,
        each: impl FnMut(Result<Resp3Frame, NodeFailure>) -> Result<(), NodeFailure>,
    ) -> Result<(), NodeFailure> {
        self.bounded(addr, self.pipeline_raw_unbounded(addr, commands, each)).await
    }

    async fn pipeline_raw_unbounded(
        &self,
        addr: &NodeAddr,
        commands: Vec<RawCommand>,
        mut each: impl FnMut(Result<Resp3Frame, NodeFailure>) -> Result<(), NodeFailure>,
    ) -> Result<(), NodeFailure> {
        use futures_util::StreamExt;
        let node = self.client(addr).await?;
        // Polled together, the commands are all written before the first reply is read.
        let mut replies: futures_util::stream::FuturesOrdered<_> = commands
            .into_iter()
            .map(|c| {
                let command = CustomCommand::new_static(c.name, ClusterHash::FirstKey, false);
                node.client.custom_raw::<String>(command, c.args)
            })
            .collect();
        while let Some(reply) = replies.next().await {
            each(error_frame_to_failure(reply.map_err(|e| classify(&e))?))?;
        }
        Ok(())
    }

    /// Bounds every command from now on by `deadline` as well as the node timeout:
    /// discovery and statistics together then end within one node timeout, with late
    /// nodes reported as timed out.
    pub(crate) fn set_refresh_deadline(&self, deadline: Instant) {
        *crate::sync::lock(&self.refresh_deadline) = Some(deadline);
    }

    /// Runs `work` within the node timeout and the refresh deadline; after a timeout
    /// or a lost connection the node's client is dropped, so the next refresh starts
    /// on a fresh connection.
    async fn bounded<T>(
        &self,
        addr: &NodeAddr,
        work: impl Future<Output = Result<T, NodeFailure>>,
    ) -> Result<T, NodeFailure> {
        let started = Instant::now();
        let mut until = started + self.options.timeout;
        if let Some(deadline) = *crate::sync::lock(&self.refresh_deadline) {
            until = until.min(deadline);
        }
        let result = tokio::time::timeout_at(until.into(), work).await;
        let failure = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
            Err(_) => NodeFailure {
                kind: FailureKind::Timeout,
                detail: format!("no answer within {:?}", until.saturating_duration_since(started)),
            },
        };
        // After a timeout a late reply could still arrive on the connection; after a
        // disconnect there is no connection. Either way, start afresh next time.
        let connected = self.lookup(addr).is_some_and(|c| c.client.is_connected());
        if failure.kind == FailureKind::Timeout || !connected {
            self.evict(addr);
        }
        Err(failure)
    }

    async fn command_unbounded(&self, addr: &NodeAddr, args: &[&'static str]) -> Result<Value, NodeFailure> {
        let node = self.client(addr).await?;
        let (name, rest) = args.split_first().expect("a command has a name");
        let command = CustomCommand::new_static(name, ClusterHash::FirstKey, false);
        node.client.custom::<Value, _>(command, rest.to_vec()).await.map_err(|e| classify(&e))
    }

    async fn client(&self, addr: &NodeAddr) -> Result<Arc<NodeClient>, NodeFailure> {
        if let Some(existing) = self.lookup(addr) {
            if existing.client.is_connected() {
                return Ok(existing);
            }
            self.evict(addr);
        }
        let fresh = Arc::new(self.connect(addr).await?);
        crate::sync::lock(&self.clients).insert(addr.clone(), fresh.clone());
        Ok(fresh)
    }

    fn lookup(&self, addr: &NodeAddr) -> Option<Arc<NodeClient>> {
        crate::sync::lock(&self.clients).get(addr).cloned()
    }

    fn evict(&self, addr: &NodeAddr) {
        crate::sync::lock(&self.clients).remove(addr);
    }

    /// Drops the clients of nodes that are neither seeds nor in the current topology.
    pub(crate) fn retain(&self, keep: &HashSet<NodeAddr>) {
        crate::sync::lock(&self.clients).retain(|addr, _| keep.contains(addr));
    }

    async fn connect(&self, addr: &NodeAddr) -> Result<NodeClient, NodeFailure> {
        if !self.allows(addr) {
            return Err(super::failure::not_allowed(0));
        }
        let client = self.build_client(addr)?;
        let task = client.init().await.map_err(|e| classify(&e))?;
        Ok(NodeClient { client, task })
    }

    fn build_client(&self, addr: &NodeAddr) -> Result<Client, NodeFailure> {
        let config = Config {
            server: ServerConfig::Centralized { server: Server::new(addr.host(), addr.port()) },
            username: self.options.username.clone(),
            password: self.options.password.as_ref().map(|p| p.expose().to_string()),
            fail_fast: true,
            tls: self.tls_config()?,
            ..Config::default()
        };
        let timeout = self.options.timeout;
        Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = timeout;
                c.internal_command_timeout = timeout;
                // A refresh is the retry; fred retrying inside one would blur timings.
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .build()
            .map_err(|e| classify(&e))
    }

    /// Server certificates are verified against the configured CA (or system roots);
    /// a certificate that does not verify fails the connection, with no fallback.
    fn tls_config(&self) -> Result<Option<fred::types::config::TlsConfig>, NodeFailure> {
        Ok(self.options.tls.as_ref().map(|tls| TlsConnector::from(RustlsConnector::from(tls.0.clone())).into()))
    }
}

/// One command for [`NodePool::pipeline_raw`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCommand {
    pub(crate) name: &'static str,
    pub(crate) args: Vec<String>,
}

/// `custom_raw` hands server errors back as frames; they are failures like any other.
fn error_frame_to_failure(frame: Resp3Frame) -> Result<Resp3Frame, NodeFailure> {
    match &frame {
        Resp3Frame::SimpleError { data, .. } => Err(server_error(data)),
        Resp3Frame::BlobError { data, .. } => Err(server_error(&String::from_utf8_lossy(data))),
        _ => Ok(frame),
    }
}
