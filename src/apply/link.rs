//! The commands a move sends, each a typed call over the collector's per-node clients
//! (same credentials, TLS, `allowed_nodes` and node timeout as every refresh).
//!
//! Errors name the node and the command, never the credentials: `MIGRATE` carries the
//! password to the target in its `AUTH`/`AUTH2` arguments, so its error text is scrubbed
//! of it before anyone sees it.

use super::Endpoint;
use crate::addr::NodeAddr;
use crate::collect::moves::parse_migration_jobs;
use crate::collect::node::{ConnectOptions, NodePool, RawCommand};
use crate::config::{ClusterSettings, Secret};
use crate::insight::commands::cli_for;
use crate::snapshot::NodeFailure;
use crate::snapshot::moves::MigrationJob;
use fred::types::Value;
use std::time::Duration;

/// A command a node refused or did not answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{node}: {command}: {detail}")]
pub(crate) struct CommandFailed {
    /// The node's `host:port`.
    pub(crate) node: String,
    /// The command, without its arguments (which may hold keys or a password).
    pub(crate) command: &'static str,
    /// The server's error text, or why there was no answer.
    pub(crate) detail: String,
}

/// Connections to the cluster's nodes for the moves.
pub(crate) struct Link {
    pool: NodePool,
    /// For `MIGRATE`'s own `AUTH`/`AUTH2`: the source logs in to the target with them.
    username: Option<String>,
    password: Option<Secret>,
    /// `MIGRATE`'s own timeout: below the node timeout, so a dead target fails the
    /// `MIGRATE` with the server's `IOERR` before the call itself times out.
    migrate_timeout: Duration,
    /// The nodes take TLS: the commands printed for an operator say `--tls`.
    tls: bool,
}

impl Link {
    pub(crate) fn new(settings: &ClusterSettings) -> Link {
        let options = ConnectOptions {
            tls: settings.valkey_tls.clone(),
            username: settings.username.clone(),
            password: settings.password.clone(),
            timeout: settings.node_timeout,
        };
        Link {
            pool: NodePool::new(options).allowing(settings.allowed_nodes.clone()),
            username: settings.username.clone(),
            password: settings.password.clone(),
            migrate_timeout: (settings.node_timeout / 2).max(Duration::from_millis(100)),
            tls: settings.valkey_tls.is_some(),
        }
    }

    /// `valkey-cli -h H -p P` for `node`, for the commands an operator is shown.
    pub(crate) fn cli(&self, node: &NodeAddr) -> String {
        cli_for(node, self.tls)
    }

    /// Whether the nodes take TLS.
    pub(crate) fn tls(&self) -> bool {
        self.tls
    }

    async fn call(&self, node: &NodeAddr, command: &'static str, args: Vec<Value>) -> Result<Value, CommandFailed> {
        let (name, label) = split(command);
        let mut full = label.map(|sub| vec![Value::from(sub)]).unwrap_or_default();
        full.extend(args);
        self.pool.call(node, name, full).await.map_err(|failure| self.failed(node, command, failure))
    }

    fn failed(&self, node: &NodeAddr, command: &'static str, failure: NodeFailure) -> CommandFailed {
        let mut detail = failure.detail;
        if let Some(password) = self.password.as_ref().map(Secret::expose).filter(|p| !p.is_empty()) {
            detail = detail.replace(password, "***");
        }
        CommandFailed { node: node.as_str().to_string(), command, detail }
    }

    /// `CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE id`, or `STABLE` without an id.
    pub(crate) async fn setslot(
        &self,
        node: &NodeAddr,
        slot: u16,
        how: &str,
        id: Option<&str>,
    ) -> Result<(), CommandFailed> {
        let mut args = vec![Value::from(slot.to_string()), Value::from(how)];
        args.extend(id.map(Value::from));
        self.call(node, "CLUSTER SETSLOT", args).await.map(drop)
    }

    /// Up to `count` key names of `slot`, as the server stores them (bytes).
    pub(crate) async fn keys_in_slot(
        &self,
        node: &NodeAddr,
        slot: u16,
        count: usize,
    ) -> Result<Vec<Value>, CommandFailed> {
        let args = vec![Value::from(slot.to_string()), Value::from(count.to_string())];
        match self.call(node, "CLUSTER GETKEYSINSLOT", args).await? {
            Value::Array(keys) => Ok(keys),
            Value::Null => Ok(Vec::new()),
            other => Err(self.failed(node, "CLUSTER GETKEYSINSLOT", unexpected(&other))),
        }
    }

    /// How many keys of `slot` the node holds.
    pub(crate) async fn count_keys(&self, node: &NodeAddr, slot: u16) -> Result<u64, CommandFailed> {
        let reply = self.call(node, "CLUSTER COUNTKEYSINSLOT", vec![Value::from(slot.to_string())]).await?;
        reply.as_u64().ok_or_else(|| self.failed(node, "CLUSTER COUNTKEYSINSLOT", unexpected(&reply)))
    }

    /// `MIGRATE` of `keys` from `source` to `target`, logging in to the target as the
    /// exporter does; a key already on the target fails the batch (`BUSYKEY`) rather
    /// than being overwritten.
    pub(crate) async fn migrate(
        &self,
        source: &NodeAddr,
        target: &NodeAddr,
        keys: Vec<Value>,
    ) -> Result<(), CommandFailed> {
        let mut args = vec![
            Value::from(target.host()),
            Value::from(target.port().to_string()),
            Value::from(""),
            Value::from("0"),
            Value::from(self.migrate_timeout.as_millis().to_string()),
        ];
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => {
                args.extend([Value::from("AUTH2"), Value::from(user.as_str()), Value::from(password.expose())])
            }
            (None, Some(password)) => args.extend([Value::from("AUTH"), Value::from(password.expose())]),
            _ => {}
        }
        args.push(Value::from("KEYS"));
        args.extend(keys);
        match self.call(source, "MIGRATE", args).await? {
            Value::String(s) if s == "OK" || s == "NOKEY" => Ok(()),
            other => Err(self.failed(source, "MIGRATE", unexpected(&other))),
        }
    }

    /// `CLUSTER MIGRATESLOTS SLOTSRANGE a b [a b ...] NODE id` on the source.
    pub(crate) async fn migrate_slots(
        &self,
        source: &NodeAddr,
        ranges: &[(u16, u16)],
        target: &Endpoint,
    ) -> Result<(), CommandFailed> {
        let mut args = vec![Value::from("SLOTSRANGE")];
        for (start, end) in ranges {
            args.extend([Value::from(start.to_string()), Value::from(end.to_string())]);
        }
        args.extend([Value::from("NODE"), Value::from(target.id.as_str())]);
        self.call(source, "CLUSTER MIGRATESLOTS", args).await.map(drop)
    }

    /// The jobs the node lists.
    pub(crate) async fn jobs(&self, node: &NodeAddr) -> Result<Vec<MigrationJob>, CommandFailed> {
        let command = RawCommand { name: "CLUSTER", args: vec!["GETSLOTMIGRATIONS".into()] };
        let frame =
            self.pool.call_raw(node, command).await.map_err(|f| self.failed(node, "CLUSTER GETSLOTMIGRATIONS", f))?;
        parse_migration_jobs(&frame).map_err(|e| CommandFailed {
            node: node.as_str().to_string(),
            command: "CLUSTER GETSLOTMIGRATIONS",
            detail: e.to_string(),
        })
    }

    /// `CLUSTER CANCELSLOTMIGRATIONS`: stops every job the node drives.
    pub(crate) async fn cancel_jobs(&self, node: &NodeAddr) -> Result<(), CommandFailed> {
        self.call(node, "CLUSTER CANCELSLOTMIGRATIONS", Vec::new()).await.map(drop)
    }
}

/// `"CLUSTER SETSLOT"` as the command's name and its subcommand.
fn split(command: &'static str) -> (&'static str, Option<&'static str>) {
    match command.split_once(' ') {
        Some((name, sub)) => (name, Some(sub)),
        None => (command, None),
    }
}

fn unexpected(reply: &Value) -> NodeFailure {
    crate::collect::failure::server_error(&format!("unexpected reply {:.60}", format!("{reply:?}")))
}
