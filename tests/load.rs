//! Scrape load: bursts that arrive just after the snapshot expired, and a sustained
//! mixed load against the real binary, watching errors and memory. Loopback only,
//! bounded in count and time.

mod exporter_support;
mod support;

use exporter_support::start_exporter;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::{ExporterBinary, ValkeyCluster, eventually_async, expected_keys, fill, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_after_expiry_cause_one_refresh() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    // Long enough that the whole burst lands within one TTL even on a busy 2-core
    // machine (the single-refresh check needs that), short enough to wait out once.
    let ttl = Duration::from_secs(12);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "12s"]).await;
    let untouched = cluster.slot_stats_calls();
    exporter.get("/metrics").await;
    let before = cluster.slot_stats_calls();
    // A refresh may split a node's slots over a few SLOT-STATS commands; one refresh
    // is however many the first one took.
    let per_refresh = before - untouched;
    assert!(per_refresh >= 3, "at least one call per primary");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;

    let started = Instant::now();
    let paths = ["/metrics", "/api/cluster/slot-stats", "/api/cluster/slot-stats?start_slot=100&end_slot=200"];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let addr = exporter.addr;
            let path = paths[i % paths.len()];
            tokio::spawn(async move { http::request(addr, "GET", path, &[]).await })
        })
        .collect();
    let mut snapshot_times = std::collections::BTreeSet::new();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        if response.header("content-type") == Some("application/json") {
            snapshot_times.insert(response.json()["data"]["snapshot_timestamp"].as_str().unwrap().to_string());
        }
    }
    assert!(started.elapsed() < ttl, "the burst must fit in one TTL; took {:?}", started.elapsed());
    assert_eq!(snapshot_times.len(), 1, "all answers share one snapshot");
    assert_eq!(cluster.slot_stats_calls() - before, per_refresh, "exactly one refresh for the whole burst");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_mixed_load_has_no_errors_and_flat_memory() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &cluster.seed_url(),
        "--cache-ttl",
        "1s",
        "--node-timeout",
        "1s",
        "--log-level",
        "warn",
    ]);
    let step = Duration::from_millis(50);
    eventually_async("the exporter answers /healthz", Duration::from_secs(10), step, || {
        request_ok(exporter.addr, "/healthz")
    })
    .await;

    // Warm up, then measure memory over two equal rounds: a leak shows as growth
    // from the first round's end to the second's.
    run_load(exporter.addr, Duration::from_secs(3)).await.expect("warm-up round");
    let after_first = exporter.rss_kib();
    let requests = run_load(exporter.addr, Duration::from_secs(4)).await.expect("no request failed");
    let after_second = exporter.rss_kib();
    assert!(requests > 20, "the load ran ({requests} requests)");
    let growth = after_second.saturating_sub(after_first);
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB ({after_first} -> {after_second} KiB)");
}

/// Eight clients loop over /metrics and JSON ranges for `length`; returns how many
/// requests completed, or the first failure.
async fn run_load(addr: SocketAddr, length: Duration) -> Result<u64, String> {
    let stop = Instant::now() + length;
    let clients: Vec<_> = (0..8)
        .map(|client| {
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < stop {
                    let path = match (client + done as usize) % 3 {
                        0 => "/metrics".to_string(),
                        1 => format!("/api/cluster/slot-stats?start_slot={}&end_slot=16383", done % 16384),
                        _ => "/api/cluster/slot-stats?end_slot=50".to_string(),
                    };
                    request_ok(addr, &path).await?;
                    done += 1;
                }
                Ok::<u64, String>(done)
            })
        })
        .collect();
    let mut total = 0;
    for client in clients {
        total += client.await.map_err(|e| e.to_string())??;
    }
    Ok(total)
}

async fn request_ok(addr: SocketAddr, path: &str) -> Result<(), String> {
    let response = http::Request::get(path).timeout(Duration::from_secs(10)).try_send(addr).await?;
    if response.status == 200 { Ok(()) } else { Err(format!("{path}: HTTP {}", response.status)) }
}
