//! A client's `X-Prometheus-Scrape-Timeout-Seconds` must never make the snapshot worse
//! for everyone else (issue 8). Run against the real binary: a hostile header as the
//! very first request and again right after the cache expired, then an ordinary scrape
//! must see every node up and all 16384 slots.

mod exporter_support;
mod support;

use exporter_support::Metrics;
use std::time::Duration;
use support::ExporterBinary;
use support::ValkeyCluster;
use support::http::request;

/// Timeouts a hostile or broken client might announce: far too short, zero, negative,
/// not a number, infinite, and just above the 0.1 s floor.
const HOSTILE: [&str; 7] = ["0.001", "0", "-1", "NaN", "inf", "1e-300", "0.15"];

/// `/metrics` with the given scrape-timeout header: a 200 parsed into samples, or the
/// 503 `refresh_in_progress` the exporter gives when the first snapshot is not ready
/// within the announced timeout.
async fn hurried_scrape(exporter: &ExporterBinary, timeout: &str) -> Option<Metrics> {
    let response = request(exporter.addr, "GET", "/metrics", &[("x-prometheus-scrape-timeout-seconds", timeout)]).await;
    match response.status {
        200 => Some(Metrics::parse(response.text())),
        503 => {
            assert_eq!(response.json()["error"]["code"], "refresh_in_progress", "{}", response.text());
            assert_eq!(response.header("retry-after"), Some("1"));
            None
        }
        other => panic!("timeout {timeout}: status {other}: {}", response.text()),
    }
}

/// An ordinary scrape (no header) must see the whole healthy cluster.
async fn assert_complete(exporter: &ExporterBinary, cluster: &ValkeyCluster, after: &str) {
    let response = request(exporter.addr, "GET", "/metrics", &[]).await;
    assert_eq!(response.status, 200, "{after}: {}", response.text());
    let metrics = Metrics::parse(response.text());
    let up: Vec<f64> = metrics.named("valkey_node_up").map(|s| s.value).collect();
    assert_eq!(up, vec![1.0; cluster.primaries().len()], "{after}: every node up");
    assert_eq!(metrics.by_slot("valkey_slot_keys").len(), 16384, "{after}: every slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scrape_timeouts_never_poison_the_shared_snapshot() {
    let cluster = ValkeyCluster::start(3, 0);
    for timeout in HOSTILE {
        // A fresh exporter each time, so the hostile request is the very first one.
        let exporter = ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--cache-ttl", "60s"]);
        if let Some(metrics) = hurried_scrape(&exporter, timeout).await {
            assert_eq!(metrics.by_slot("valkey_slot_keys").len(), 16384, "timeout {timeout} ignored or honoured");
        }
        assert_complete(&exporter, &cluster, &format!("first request with timeout {timeout}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scrape_timeouts_right_after_expiry_never_poison_the_shared_snapshot() {
    let cluster = ValkeyCluster::start(3, 0);
    let ttl = Duration::from_millis(1500);
    let exporter =
        ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1500ms", "--node-timeout", "1500ms"]);
    assert_complete(&exporter, &cluster, "start").await;
    for timeout in HOSTILE {
        tokio::time::sleep(ttl).await;
        // After expiry there is a previous snapshot: a hurried request gets it (or the
        // new one, if it is ready in time), never an error and never an empty one.
        let metrics = hurried_scrape(&exporter, timeout).await.expect("a previous snapshot to fall back on");
        assert_eq!(metrics.by_slot("valkey_slot_keys").len(), 16384, "timeout {timeout}");
        assert_complete(&exporter, &cluster, &format!("timeout {timeout} right after expiry")).await;
    }
}
