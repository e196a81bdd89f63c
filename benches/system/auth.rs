//! Basic auth under a password flood: whether guessing passwords is a lever on the
//! exporter's CPU, and whether an unknown user answers faster than a known one.
//!
//! The release binary serves a 3-primary cluster with one user whose bcrypt hash has
//! cost 10 (what `htpasswd -nBC 10` gives). One client scrapes `/metrics` (gzip) with
//! the right credentials, first alone, then while 32 other clients send wrong
//! passwords as fast as they are answered: all distinct (each one a bcrypt run, the
//! worst case) and one repeated (remembered after its first run). Then unknown-user and
//! known-user requests alternate, with passwords never sent before, so both pay bcrypt.

use crate::{Budget, load, median_ms};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

const USER: &str = "prometheus";
const PASSWORD: &str = "bench-pw-4Hq9";
/// What `htpasswd -nBC 10` gives, and what the figures in the issue were measured with.
pub const COST: u32 = 10;
const FLOOD_CLIENTS: usize = 32;

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
    /// 401s answered to the flooding clients, per flood.
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
    let until = Instant::now() + duration;
    let clients: Vec<_> =
        (0..FLOOD_CLIENTS).map(|client| tokio::spawn(flood_client(addr, guesses, client, until))).collect();
    let mut refused = 0;
    for client in clients {
        refused += client.await.expect("flood client panicked");
    }
    refused
}

async fn flood_client(addr: SocketAddr, guesses: Guesses, client: usize, until: Instant) -> usize {
    let mut connection = Connection::open(addr).await;
    let mut sent = 0;
    while Instant::now() < until {
        let password = match guesses {
            Guesses::Distinct => format!("flood-{client}-{sent}"),
            Guesses::Repeated => "flood-guess".to_string(),
        };
        let (status, _) = connection.get(&basic(USER, &password)).await;
        assert_eq!(status, 401, "a wrong password was not refused");
        sent += 1;
    }
    sent
}

/// Latencies of `probes` unknown-user and known-user requests, alternated so that
/// drift hits both, with passwords never sent before so that both pay bcrypt.
async fn probe_users(addr: SocketAddr, probes: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut connection = Connection::open(addr).await;
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
    async fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        Connection { addr, sender }
    }

    /// The status, and the time until the whole body was read.
    async fn get(&mut self, authorization: &str) -> (u16, Duration) {
        self.sender.ready().await.expect("connection stays open");
        let request = hyper::Request::get("/metrics")
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
