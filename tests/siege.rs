//! The exporter under a hostile network neighbour (issue 15), against the real binary
//! and a real cluster: connections held open in every way that used to lock Prometheus
//! out, each bound closing the connections it is meant to close, and clients that ask
//! for every slot and never read.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::http::Request;
use support::siege::{Holder, Holders, time_to_close, unread_answers};
use support::{ExporterBinary, ValkeyCluster};

/// A scrape as Prometheus makes it: a fresh connection, the request sent at once, and
/// a 3 s timeout; from 127.0.0.2, as Prometheus runs on another host than the
/// neighbour holding connections (127.0.0.1).
async fn scrape(addr: SocketAddr) -> bool {
    let prometheus = [127, 0, 0, 2].into();
    let answer = Request::get("/metrics").from(prometheus).timeout(Duration::from_secs(3)).try_send(addr).await;
    answer.is_ok_and(|response| response.status == 200)
}

/// `count` scrapes one every `every`; how many got a 200.
async fn scrapes_answered(addr: SocketAddr, count: usize, every: Duration) -> usize {
    let mut answered = 0;
    for _ in 0..count {
        let started = Instant::now();
        answered += usize::from(scrape(addr).await);
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_held_open_never_lock_out_a_prompt_scraper() {
    let cluster = ValkeyCluster::start(3, 0);
    let exporter = ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--max-connections", "32"]);
    assert!(scrape(exporter.addr).await, "answers before the siege");
    // 64 holders, 16 of each kind, twice the cap, each reopening when closed.
    let holders = Holders::start(exporter.addr, &Holder::ALL, 16);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = scrapes_answered(exporter.addr, 12, Duration::from_millis(500)).await;
    let opened = holders.opened();
    holders.stop();
    assert!(opened >= 64, "the siege held connections: {opened} opened");
    assert!(answered >= 11, "only {answered} of 12 scrapes answered during the siege");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bound_closes_the_connections_it_is_meant_to_close() {
    let cluster = ValkeyCluster::start(3, 0);
    let (header, idle) = (Duration::from_secs(1), Duration::from_secs(2));
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &cluster.seed_url(),
        "--http-header-timeout",
        "1s",
        "--http-idle-timeout",
        "2s",
    ]);
    let addr = exporter.addr;
    let closed = tokio::task::spawn_blocking(move || {
        Holder::ALL.map(|kind| {
            let mut stream = kind.open(addr).unwrap_or_else(|| panic!("{kind:?}: could not open"));
            (kind, time_to_close(&mut stream, Duration::from_secs(10)))
        })
    })
    .await
    .unwrap();
    for (kind, after) in closed {
        let limit = match kind {
            Holder::Silent | Holder::Http2Preface => header,
            Holder::Http1IdleAfterAnswer | Holder::Http2IdleAfterAnswer => idle,
        };
        let after = after.unwrap_or_else(|| panic!("{kind:?}: still open after 10 s"));
        // The watchdog looks again at least once a second.
        assert!(after + Duration::from_millis(300) >= limit, "{kind:?}: closed after {after:?}, before {limit:?}");
        assert!(after <= limit + Duration::from_secs(2), "{kind:?}: closed only after {after:?} ({limit:?})");
    }
    assert!(scrape(addr).await, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_pin_no_memory_and_are_dropped() {
    let cluster = ValkeyCluster::start(3, 0);
    let send_timeout = Duration::from_secs(3);
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &cluster.seed_url(),
        "--cache-ttl",
        "60s",
        "--http-send-timeout",
        "3s",
        "--max-connections",
        "512",
    ]);
    let everything = "/api/cluster/slot-stats";
    let full = Request::get(everything).header("accept-encoding", "identity").send(exporter.addr).await;
    assert_eq!(full.status, 200);
    assert!(scrape(exporter.addr).await);
    let warm = exporter.rss_kib();

    let mut unread = unread_answers(exporter.addr, everything, 200, 4, 100).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let under_siege = exporter.rss_kib();
    let started = Instant::now();
    assert!(scrape(exporter.addr).await, "/metrics answers during the siege");
    let scrape_time = started.elapsed();
    let growth_mib = under_siege.saturating_sub(warm) / 1024;
    assert!(growth_mib <= 64, "RSS grew {growth_mib} MiB under 900 unread answers ({warm} KiB warm)");
    assert!(scrape_time < Duration::from_secs(2), "/metrics took {scrape_time:?} during the siege");

    // Past the send timeout, every one of them is cut off. (A client whose answers had
    // all been sent would be kept as an idle keep-alive for 60 s.)
    tokio::time::sleep(send_timeout).await;
    let body_size = full.body.len();
    tokio::task::spawn_blocking(move || {
        for (i, stream) in unread.iter_mut().enumerate() {
            let closed = time_to_close(stream, Duration::from_secs(10));
            assert!(closed.is_some(), "client {i}: still connected long after the send timeout");
        }
    })
    .await
    .unwrap();
    assert!(body_size > 1_000_000, "a full-range answer is large ({body_size} bytes)");
    assert!(scrape(exporter.addr).await, "still serving");
}
