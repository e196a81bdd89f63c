//! A TLS Valkey for the security tests.
//!
//! [`TlsValkey`]: a one-node Valkey cluster owning all 16384 slots that serves TLS on
//! one port and plain text on another (the harness's own client speaks only plain text,
//! so setup and checks go through the plain port). Asked over TLS, `CLUSTER SLOTS`
//! announces the TLS port, so an exporter given the TLS port only ever learns TLS
//! addresses.
//!
//! It is killed on drop and dies with the spawning thread (see `process.rs`): start it
//! on the test's own thread.

use std::path::Path;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::eventually::{Unmet, try_eventually};
use super::pki::Pki;
use super::ports;
use super::process::{self, ChildGuard};
use super::resp::{Conn, Value};
use super::server::{query, require_program};

/// How many port pairs to try before giving up on starting the server.
const LAUNCH_ATTEMPTS: usize = 5;
/// How long a started process may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a starting server is asked whether it is up.
const READY_STEP: Duration = Duration::from_millis(20);
/// A new cluster node reports `cluster_state:ok` about 2 s after it has all slots.
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether the TLS port asks clients for a certificate (`tls-auth-clients`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCerts {
    /// A client certificate is verified if sent, and not required.
    Optional,
    /// The handshake fails without a client certificate signed by the CA.
    Required,
}

/// A one-node Valkey cluster with a TLS port (and TLS cluster bus) and a plain port.
pub struct TlsValkey {
    plain_port: u16,
    tls_port: u16,
    /// Declared before `dir` so that it is dropped (killed) first.
    process: ChildGuard,
    dir: TempDir,
}

impl TlsValkey {
    /// Starts the server with the certificates of `pki`, gives it every slot and waits
    /// for `cluster_state:ok`.
    pub fn start(pki: &Pki, client_certs: ClientCerts) -> TlsValkey {
        let program = require_program("valkey-server");
        let mut failures = Vec::new();
        for _ in 0..LAUNCH_ATTEMPTS {
            let (plain_port, tls_port) = (ports::next_free_port(), ports::next_free_port());
            match Self::try_start(&program, pki, client_certs, plain_port, tls_port) {
                Ok(server) => return server.with_all_slots(),
                Err(error) => failures.push(format!("ports {plain_port}/{tls_port}: {error}")),
            }
        }
        panic!("could not start a TLS valkey-server:\n{}", failures.join("\n"));
    }

    fn try_start(
        program: &Path,
        pki: &Pki,
        client_certs: ClientCerts,
        plain_port: u16,
        tls_port: u16,
    ) -> Result<TlsValkey, String> {
        let dir = tempfile::Builder::new().prefix("valkey-tls-").tempdir().map_err(|e| e.to_string())?;
        let path = |p: &Path| p.display().to_string();
        let auth_clients = match client_certs {
            ClientCerts::Optional => "optional",
            ClientCerts::Required => "yes",
        };
        let args: Vec<String> = [
            "--port",
            &plain_port.to_string(),
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &path(&pki.server_cert),
            "--tls-key-file",
            &path(&pki.server_key),
            "--tls-ca-cert-file",
            &path(&pki.ca_cert),
            "--tls-auth-clients",
            auth_clients,
            "--tls-cluster",
            "yes",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-slot-stats-enabled",
            "yes",
            "--bind",
            "127.0.0.1",
            "--dir",
            &path(dir.path()),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            &path(&dir.path().join("log")),
        ]
        .map(str::to_owned)
        .to_vec();
        let process = process::spawn(program, &args, dir.path(), "server").map_err(|e| format!("spawn: {e}"))?;
        let mut server = TlsValkey { plain_port, tls_port, process, dir };
        try_eventually("the TLS server answers as itself", READY_TIMEOUT, READY_STEP, || {
            if let Some(status) = server.process.exit_status() {
                return Err(Unmet::Never(format!("exited with {status}")));
            }
            if server.answers_as_itself() { Ok(()) } else { Err(Unmet::NotYet("no answer".into())) }
        })
        .map_err(|error| format!("{error}\n{}", server.log_tail()))?;
        Ok(server)
    }

    /// Whether the plain port is answered by this process (not by another test's server
    /// that took the port first).
    fn answers_as_itself(&self) -> bool {
        let expected = format!("process_id:{}", self.process.pid());
        query(&self.plain_addr(), &["INFO", "server"])
            .ok()
            .and_then(|info| info.as_str().map(|text| text.lines().any(|line| line.trim_end() == expected)))
            .unwrap_or(false)
    }

    fn with_all_slots(self) -> TlsValkey {
        let reply = self.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        assert_eq!(reply, Value::Simple("OK".into()), "ADDSLOTSRANGE on {}", self.plain_addr());
        try_eventually("cluster_state:ok", CLUSTER_OK_TIMEOUT, READY_STEP, || {
            let info = query(&self.plain_addr(), &["CLUSTER", "INFO"])?;
            let ok = info.as_str().is_some_and(|t| t.lines().any(|l| l.trim_end() == "cluster_state:ok"));
            if ok { Ok(()) } else { Err(format!("not cluster_state:ok yet: {info:?}")) }
        })
        .unwrap_or_else(|error| panic!("{}: {error}\n{}", self.plain_addr(), self.log_tail()));
        self
    }

    /// "rediss://127.0.0.1:T".
    pub fn tls_url(&self) -> String {
        format!("rediss://{}", self.tls_addr())
    }

    /// "127.0.0.1:T": the `node` label the exporter uses for this server.
    pub fn tls_addr(&self) -> String {
        format!("127.0.0.1:{}", self.tls_port)
    }

    /// "127.0.0.1:P" (plain text).
    pub fn plain_addr(&self) -> String {
        format!("127.0.0.1:{}", self.plain_port)
    }

    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// Runs one command over the plain port; a connection failure panics.
    pub fn cmd(&self, args: &[&str]) -> Value {
        query(&self.plain_addr(), args).unwrap_or_else(|error| panic!("{error}"))
    }

    /// `CLIENT LIST` lines of the clients connected to `port`, except the connection
    /// asking.
    pub fn clients_on_port(&self, port: u16) -> Vec<String> {
        let mut conn = Conn::connect(&self.plain_addr()).expect("connect to the plain port");
        let me = conn.cmd(&["CLIENT", "ID"]).expect("CLIENT ID").as_int().expect("CLIENT ID is an integer");
        let list = conn.cmd(&["CLIENT", "LIST"]).expect("CLIENT LIST");
        let laddr = format!(" laddr=127.0.0.1:{port} ");
        list.as_str()
            .expect("CLIENT LIST is text")
            .lines()
            .filter(|line| !line.starts_with(&format!("id={me} ")) && line.contains(&laddr))
            .map(str::to_owned)
            .collect()
    }

    /// Recent server log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.dir.path().join("log");
        format!("--- {} ---\n{}", log.display(), process::file_tail(&log, 20))
    }
}
