//! Basic auth under a password flood: whether guessing passwords is a lever on the
//! exporter's CPU, and whether an unknown user answers faster than a known one.
//!
//! The release binary serves a 3-primary cluster with one user whose bcrypt hash has
//! cost 10 (what `htpasswd -nBC 10` gives). One client scrapes `/metrics` (gzip) with
//! the right credentials, first alone, then while 32 other clients send wrong
//! passwords as fast as they are answered: all distinct (each one a bcrypt run, the
//! worst case) and one repeated (remembered after its first run). Then unknown-user and
//! known-user requests alternate, with passwords never sent before, so both pay bcrypt.
//!
//! [`cold_credential_during_flood`] (reported by the siege section) times what a scraper whose credential is not yet
//! cached (after a restart or a rotation) waits for its 200 while many clients flood
//! distinct wrong passwords from another address: one bcrypt run per guess before each
//! address was held to one queued verification (8.1 s with 128 clients).

use crate::load::median_ms;
use crate::support::{ExporterBinary, free_local_addr};
use crate::{Budget, load};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;

const USER: &str = "prometheus";
const PASSWORD: &str = "bench-pw-4Hq9";
/// What `htpasswd -nBC 10` gives, and what the figures in the issue were measured with.
pub const COST: u32 = 10;
const FLOOD_CLIENTS: usize = 32;
/// Cold credentials timed (one flood each); the median is reported.
pub const COLD_RUNS: usize = 5;
/// How long each flood runs before the cold credential is sent: every client connected
/// and guessing.
const COLD_FLOOD_WARM_UP: Duration = Duration::from_millis(500);
/// Where the scraper of [`cold_credential_during_flood`] connects from; the flood comes
/// from 127.0.0.1, where the exporter listens.
const SCRAPER_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Writes a web-config file with the one user and returns its path.
pub fn write_web_config(dir: &Path) -> String {
    let hash = bcrypt::hash(PASSWORD, COST).expect("bcrypt hash");
    let file = dir.join("web-auth.yml");
    std::fs::write(&file, format!("basic_auth_users:\n  {USER}: '{hash}'\n")).expect("write the web config");
    file.display().to_string()
}

/// Which wrong passwords the flooding clients send.
#[derive(Clone, Copy)]
enum Guesses {
    /// Never the same twice: every one costs a bcrypt run.
    Distinct,
    /// Always the same: one bcrypt run, then answered from the cache.
    Repeated,
}

/// What the section measured.
pub struct AuthFigures {
    quiet: load::LoadResult,
    during_distinct: load::LoadResult,
    during_repeated: load::LoadResult,
    /// 401s and 429s answered to the flooding clients, per flood.
    distinct_refused: usize,
    repeated_refused: usize,
    unknown_user: Vec<Duration>,
    known_user: Vec<Duration>,
    flood_seconds: f64,
    /// The gzip body of `/metrics`, in bytes.
    body_len: usize,
}

pub async fn measure(addr: SocketAddr, budget: &Budget) -> AuthFigures {
    let authorization = basic(USER, PASSWORD);
    // The first scrape refreshes, renders, and verifies the credentials once.
    let (coding, body) = load::get_as(addr, "/metrics", Some("gzip"), Some(&authorization)).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    let scrape = load::Target {
        addr,
        path: "/metrics".into(),
        accept_encoding: Some("gzip"),
        authorization: Some(authorization),
        expected_len: body.len(),
        expected_encoding: Some("gzip"),
    };
    let flood_time = Duration::from_secs_f64(budget.flood_seconds);
    load::run(&scrape, 1, Duration::from_millis(200)).await;
    let quiet = load::run(&scrape, 1, Duration::from_secs_f64(budget.load_seconds)).await;
    eprintln!("   flood of distinct wrong passwords");
    let (distinct_refused, during_distinct) =
        tokio::join!(flood(addr, Guesses::Distinct, flood_time), load::run(&scrape, 1, flood_time));
    eprintln!("   flood of one repeated wrong password");
    let (repeated_refused, during_repeated) =
        tokio::join!(flood(addr, Guesses::Repeated, flood_time), load::run(&scrape, 1, flood_time));
    eprintln!("   unknown user against known user");
    let (unknown_user, known_user) = probe_users(addr, budget.auth_probes).await;
    AuthFigures {
        quiet,
        during_distinct,
        during_repeated,
        distinct_refused,
        repeated_refused,
        unknown_user,
        known_user,
        flood_seconds: budget.flood_seconds,
        body_len: scrape.expected_len,
    }
}

/// [`FLOOD_CLIENTS`] keep-alive clients sending wrong passwords for `duration`; how
/// many were refused. Clients finish the request they are in, so the queue of
/// verifications drains before the next measurement.
async fn flood(addr: SocketAddr, guesses: Guesses, duration: Duration) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = tokio::spawn(flood_until(addr, guesses, FLOOD_CLIENTS, "flood", stop.clone()));
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    flooding.await.expect("flood panicked")
}

/// `clients` keep-alive clients from 127.0.0.1 sending wrong passwords (starting with
/// `tag`, so that different floods never repeat one another's) until `stop`; how many
/// were refused, with a 401 or, while another guess from 127.0.0.1 is queued, a 429.
async fn flood_until(addr: SocketAddr, guesses: Guesses, clients: usize, tag: &str, stop: Arc<AtomicBool>) -> usize {
    let clients: Vec<_> = (0..clients)
        .map(|client| tokio::spawn(flood_client(addr, guesses, format!("{tag}-{client}"), stop.clone())))
        .collect();
    let mut refused = 0;
    for client in clients {
        refused += client.await.expect("flood client panicked");
    }
    refused
}

async fn flood_client(addr: SocketAddr, guesses: Guesses, client: String, stop: Arc<AtomicBool>) -> usize {
    let mut connection = Connection::open(addr, None).await;
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let password = match guesses {
            Guesses::Distinct => format!("{client}-{sent}"),
            Guesses::Repeated => "flood-guess".to_string(),
        };
        let (status, _) = connection.get(&basic(USER, &password)).await;
        assert!(status == 401 || status == 429, "a wrong password got {status}");
        sent += 1;
    }
    sent
}

/// The median time, over [`COLD_RUNS`] runs, from sending a correct credential the
/// exporter has not verified yet to its whole 200 answer, from 127.0.0.2, while
/// `clients` clients send distinct wrong passwords from 127.0.0.1. Starts its own
/// exporter (no Valkey: `/healthz` answers without one, so the time is the
/// credential's), with one user per run so that each run's credential is cold.
pub async fn cold_credential_during_flood(clients: usize) -> Duration {
    let dir = tempfile::tempdir().expect("a temp dir");
    let users: Vec<(String, String)> = (0..COLD_RUNS).map(|i| (format!("cold-{i}"), format!("cold-pw-{i}"))).collect();
    let mut yaml = String::from("basic_auth_users:\n");
    for (user, password) in &users {
        let hash = bcrypt::hash(password, COST).expect("bcrypt hash");
        let _ = writeln!(yaml, "  {user}: '{hash}'");
    }
    let web_config = dir.path().join("web-cold.yml");
    std::fs::write(&web_config, yaml).expect("write the web config");
    let seed = format!("redis://{}", free_local_addr());
    let web_config = web_config.display().to_string();
    let exporter = ExporterBinary::start(&["--nodes", &seed, "--log-level", "warn", "--web-config-file", &web_config]);
    let mut samples = Vec::new();
    for (run, (user, password)) in users.iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let tag = format!("cold-flood-{run}");
        let (addr, flood_stop) = (exporter.addr, stop.clone());
        let flooding =
            tokio::spawn(async move { flood_until(addr, Guesses::Distinct, clients, &tag, flood_stop).await });
        tokio::time::sleep(COLD_FLOOD_WARM_UP).await;
        let mut scraper = Connection::open(exporter.addr, Some(SCRAPER_ADDRESS)).await;
        let (status, waited) = scraper.get_path("/healthz", &basic(user, password)).await;
        assert_eq!(status, 200, "the cold credential was not accepted");
        samples.push(waited);
        stop.store(true, Ordering::Relaxed);
        flooding.await.expect("flood panicked");
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// Latencies of `probes` unknown-user and known-user requests, alternated so that
/// drift hits both, with passwords never sent before so that both pay bcrypt.
async fn probe_users(addr: SocketAddr, probes: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut connection = Connection::open(addr, None).await;
    let (mut unknown, mut known) = (Vec::new(), Vec::new());
    for i in 0..probes {
        let password = format!("probe-{i}");
        for (user, samples) in [("nobody", &mut unknown), (USER, &mut known)] {
            let (status, latency) = connection.get(&basic(user, &password)).await;
            assert_eq!(status, 401, "{user} with a wrong password was not refused");
            samples.push(latency);
        }
    }
    (unknown, known)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// One keep-alive HTTP/1.1 connection sending `GET /metrics` (gzip) with given
/// credentials.
struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Empty<Bytes>>,
}

impl Connection {
    /// Connects to `addr`, from `from` if given (127.0.0.0/8 all reaches the loopback).
    async fn open(addr: SocketAddr, from: Option<IpAddr>) -> Connection {
        let socket = TcpSocket::new_v4().expect("socket");
        if let Some(from) = from {
            socket.bind(SocketAddr::new(from, 0)).expect("bind the client's address");
        }
        let stream = socket.connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        Connection { addr, sender }
    }

    /// `GET /metrics`: the status, and the time until the whole body was read.
    async fn get(&mut self, authorization: &str) -> (u16, Duration) {
        self.get_path("/metrics", authorization).await
    }

    async fn get_path(&mut self, path: &str, authorization: &str) -> (u16, Duration) {
        self.sender.ready().await.expect("connection stays open");
        let request = hyper::Request::get(path)
            .header("host", self.addr.to_string())
            .header("accept-encoding", "gzip")
            .header("authorization", authorization)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let sent = Instant::now();
        let response = self.sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        response.into_body().collect().await.expect("body");
        (status, sent.elapsed())
    }
}

impl AuthFigures {
    /// The report section, in the format of the others.
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "### Basic auth under a password flood (bcrypt cost {COST}, {FLOOD_CLIENTS} flooding clients for {:.0} s, \
             {} KB gzip body)\n",
            self.flood_seconds,
            self.body_len / 1024
        );
        let _ =
            writeln!(o, "| authorized `GET /metrics` (gzip), one client | requests | median ms | × quiet (aim < 4) |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        let quiet = self.quiet.percentile_ms(0.5);
        let rows = [
            ("quiet".to_string(), &self.quiet),
            (
                format!("during a flood of distinct wrong passwords ({} refused)", self.distinct_refused),
                &self.during_distinct,
            ),
            (
                format!("during a flood of one repeated wrong password ({} refused)", self.repeated_refused),
                &self.during_repeated,
            ),
        ];
        for (name, run) in rows {
            let median = run.percentile_ms(0.5);
            let _ = writeln!(o, "| {name} | {} | {median:.2} | {:.2} |", run.requests, median / quiet);
        }
        let (unknown, known) = (median_ms(&self.unknown_user), median_ms(&self.known_user));
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| wrong credentials, never cached | requests each | unknown user median ms | known user median ms | ratio (aim 1/3 to 3) |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|");
        let _ = writeln!(
            o,
            "| unknown user / known user | {} | {unknown:.1} | {known:.1} | {:.2} |",
            self.known_user.len(),
            unknown / known
        );
        let _ = writeln!(o);
        o
    }
}
