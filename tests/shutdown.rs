//! Graceful shutdown of the real binary: on SIGTERM or SIGINT it stops accepting
//! connections at once, lets requests in flight finish (up to the drain timeout) and
//! exits with status 0.
//!
//! A request is kept in flight by pausing the Valkey node (`CLIENT PAUSE ... ALL`):
//! the refresh it triggers waits for the node, well within the node timeout.

mod support;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{ExporterBinary, SLOT_COUNT, Standalone, ValkeyCluster, Value, eventually, free_local_addr, http};
use valkey_slot_exporter::http::DRAIN_TIMEOUT;

/// How long the node is paused: the time the request stays in flight.
const PAUSE: Duration = Duration::from_millis(2500);
/// When the signal is sent, after the request.
const SIGNAL_AFTER: Duration = Duration::from_millis(500);

/// Waits until connecting to `addr` is refused; panics after `timeout`.
fn wait_until_refused(addr: SocketAddr, timeout: Duration) -> Duration {
    let started = Instant::now();
    eventually(&format!("{addr} refuses connections"), timeout, Duration::from_millis(20), || {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
            other => Err(format!("connect: {other:?}")),
        }
    });
    started.elapsed()
}

fn expect_ok(reply: Value, what: &str) {
    assert_eq!(reply, Value::Simple("OK".into()), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0() {
    let cluster = ValkeyCluster::start(1, 0);
    let node = cluster.node_addrs()[0].clone();
    let mut exporter =
        ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--node-timeout", "4s", "--cache-ttl", "4s"]);
    // Warm up: the exporter is serving and connected; then its snapshot expires.
    let warm = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(warm.status, 200, "{}", warm.text());
    tokio::time::sleep(Duration::from_millis(4100)).await;

    let millis = PAUSE.as_millis().to_string();
    expect_ok(cluster.cmd(&node, &["CLIENT", "PAUSE", &millis, "ALL"]), "CLIENT PAUSE");
    let sent = Instant::now();
    let addr = exporter.addr;
    let in_flight = tokio::spawn(async move { http::request(addr, "GET", "/api/cluster/slot-stats", &[]).await });
    tokio::time::sleep(SIGNAL_AFTER).await;
    assert!(!in_flight.is_finished(), "the request should wait for the paused node");

    exporter.signal(libc::SIGTERM);
    let refused_after = wait_until_refused(exporter.addr, Duration::from_secs(2));
    assert!(!in_flight.is_finished(), "new connections were refused while the request was still in flight");

    let response = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the request in flight is answered")
        .expect("no panic");
    let took = sent.elapsed();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["data"]["total_slots"], SLOT_COUNT, "{}", response.text());
    assert_eq!(response.json()["data"]["nodes_failed"], serde_json::json!([]), "{}", response.text());
    assert!(took >= PAUSE - Duration::from_millis(200), "answered after the pause, not before: {took:?}");

    let status = exporter
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running 5 s after the request in flight finished:\n{}", exporter.stderr()));
    assert_eq!(status.code(), Some(0), "{status}\n{}", exporter.stderr());
    let log = exporter.stderr();
    for line in ["SIGTERM received", "draining in-flight requests", "stopped"] {
        assert!(log.contains(line), "no `{line}` in the log:\n{log}");
    }
    assert!(!log.contains("did not finish"), "{log}");
    eprintln!("listener closed {refused_after:?} after SIGTERM; request answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_up_on_a_stuck_request_after_the_drain_timeout_and_still_exits_0() {
    let server = Standalone::valkey();
    // The node timeout is longer than the drain timeout: the request would not end by itself.
    let mut exporter =
        ExporterBinary::start(&["--nodes", &server.url(), "--node-timeout", "60s", "--cache-ttl", "60s"]);
    assert_eq!(http::request(exporter.addr, "GET", "/healthz", &[]).await.status, 200);
    expect_ok(server.cmd(&["CLIENT", "PAUSE", "30000", "ALL"]), "CLIENT PAUSE");
    let addr = exporter.addr;
    let in_flight = tokio::spawn(async move { http::Request::get("/metrics").try_send(addr).await.map(|r| r.status) });
    tokio::time::sleep(SIGNAL_AFTER).await;

    let signalled = Instant::now();
    exporter.signal(libc::SIGTERM);
    wait_until_refused(exporter.addr, Duration::from_secs(2));
    let bound = DRAIN_TIMEOUT + Duration::from_secs(2);
    let status = exporter
        .wait_exit(bound)
        .unwrap_or_else(|| panic!("still running {bound:?} after SIGTERM:\n{}", exporter.stderr()));
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{status}\n{}", exporter.stderr());
    assert!(took >= DRAIN_TIMEOUT - Duration::from_millis(500), "waited for the drain timeout: {took:?}");
    let log = exporter.stderr();
    assert!(log.contains("did not finish within"), "the abandoned request is logged:\n{log}");
    let outcome = tokio::time::timeout(Duration::from_secs(5), in_flight).await.expect("the client is released");
    // Failed at `request`: no response head came, not even a cut-off body.
    let outcome = outcome.expect("no panic");
    assert!(
        outcome.as_ref().is_err_and(|e| e.contains(": request: ")),
        "the stuck request is cut off, not answered: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_when_idle_exits_0_promptly() {
    let nowhere = format!("redis://{}", free_local_addr());
    let mut exporter = ExporterBinary::start(&["--nodes", &nowhere, "--node-timeout", "1s"]);
    // Served once: the server loop runs, so the signal handlers are installed.
    assert_eq!(http::request(exporter.addr, "GET", "/healthz", &[]).await.status, 200);

    let signalled = Instant::now();
    exporter.signal(libc::SIGINT);
    let status = exporter
        .wait_exit(Duration::from_secs(3))
        .unwrap_or_else(|| panic!("still running 3 s after SIGINT:\n{}", exporter.stderr()));
    assert_eq!(status.code(), Some(0), "{status}\n{}", exporter.stderr());
    assert!(signalled.elapsed() < Duration::from_secs(1), "idle shutdown is prompt: {:?}", signalled.elapsed());
    let log = exporter.stderr();
    assert!(log.contains("SIGINT received") && log.contains("stopped"), "{log}");
    assert!(TcpStream::connect(exporter.addr).is_err(), "nothing listens any more");
}
