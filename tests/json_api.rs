//! `GET /api/cluster/slot-stats` and the other JSON endpoints against a real cluster.

mod exporter_support;
mod support;

use exporter_support::{RunningExporter, start_exporter};
use serde_json::Value as Json;
use std::time::{Duration, Instant};
use support::{ValkeyCluster, expected_keys, fill};

/// Slot ids and owners of a success answer, after checking the envelope.
fn slot_owners_in(body: &Json) -> Vec<(u16, String)> {
    assert_eq!(body["status"], "success", "{body}");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let slots = body["data"]["slots"].as_array().expect("slots array");
    assert_eq!(body["data"]["total_slots"].as_u64().unwrap() as usize, slots.len());
    slots.iter().map(|s| (s["slot_id"].as_u64().unwrap() as u16, s["node"].as_str().unwrap().to_string())).collect()
}

async fn get_json(exporter: &RunningExporter, path: &str) -> (u16, Json) {
    let response = exporter.get(path).await;
    assert_eq!(response.header("content-type"), Some("application/json"), "{path}");
    (response.status, response.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_return_exactly_the_expected_slots() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url()]).await;
    let expect =
        |from: u16, to: u16| -> Vec<(u16, String)> { (from..=to).map(|s| (s, owners[s as usize].clone())).collect() };

    let (status, all) = get_json(&exporter, "/api/cluster/slot-stats").await;
    assert_eq!(status, 200);
    assert_eq!(slot_owners_in(&all), expect(0, 16383));
    assert_eq!((all["data"]["start_slot"].as_u64(), all["data"]["end_slot"].as_u64()), (Some(0), Some(16383)));
    for entry in all["data"]["slots"].as_array().unwrap() {
        let slot = entry["slot_id"].as_u64().unwrap() as u16;
        assert_eq!(entry["key_count"].as_u64(), Some(expected_keys(slot)), "slot {slot}");
        for field in ["cpu_usec", "network_bytes_in", "network_bytes_out"] {
            assert!(entry[field].is_u64(), "slot {slot} {field}");
        }
        assert!(entry.get("memory_bytes").is_none(), "not reported by Valkey, so absent");
        assert_eq!(entry["role"], "primary");
    }

    let (_, one) = get_json(&exporter, "/api/cluster/slot-stats?start_slot=777&end_slot=777").await;
    assert_eq!(slot_owners_in(&one), expect(777, 777));
    let (_, start_only) = get_json(&exporter, "/api/cluster/slot-stats?start_slot=16000").await;
    assert_eq!(slot_owners_in(&start_only), expect(16000, 16383));
    assert_eq!(start_only["data"]["end_slot"], 16383);
    let (_, end_only) = get_json(&exporter, "/api/cluster/slot-stats?end_slot=99").await;
    assert_eq!(slot_owners_in(&end_only), expect(0, 99));
    assert_eq!(end_only["data"]["start_slot"], 0);

    let boundary = (1..16384u16).find(|s| owners[*s as usize] != owners[*s as usize - 1]).expect("two owners");
    let path = format!("/api/cluster/slot-stats?start_slot={}&end_slot={}", boundary - 5, boundary + 5);
    let (_, across) = get_json(&exporter, &path).await;
    let got = slot_owners_in(&across);
    assert_eq!(got, expect(boundary - 5, boundary + 5));
    assert_ne!(got.first().unwrap().1, got.last().unwrap().1, "the range spans two nodes");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_flips_within_the_ttl_and_a_new_snapshot_follows_it() {
    let cluster = ValkeyCluster::start(3, 0);
    // A TTL long enough that the second request surely comes within it, however busy
    // the machine: the test proves the flip, not how short a TTL can be.
    const TTL: Duration = Duration::from_secs(3);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "3s", "--node-timeout", "1s"]).await;
    let path = "/api/cluster/slot-stats?start_slot=0&end_slot=0";

    let (_, first) = get_json(&exporter, path).await;
    // The TTL runs from the snapshot, taken before this answer arrived: waiting a TTL
    // from here is past it; 100 ms covers the timers' granularity.
    let expired_at = Instant::now() + TTL + Duration::from_millis(100);
    assert_eq!(first["data"]["cached"], false);
    assert!(first["data"]["cache_timestamp"].is_null());
    let (_, second) = get_json(&exporter, path).await;
    assert_eq!(second["data"]["cached"], true);
    assert_eq!(second["data"]["cache_timestamp"], first["data"]["snapshot_timestamp"]);

    tokio::time::sleep_until(expired_at.into()).await;
    let (_, third) = get_json(&exporter, path).await;
    assert_eq!(third["data"]["cached"], false, "expired snapshots are never presented as fresh");
    assert_ne!(third["data"]["snapshot_timestamp"], first["data"]["snapshot_timestamp"]);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_after_expiry_cause_one_refresh() {
    let cluster = ValkeyCluster::start(3, 0);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "3s", "--node-timeout", "1s"]).await;
    exporter.get("/metrics").await;
    // A refresh may split a node's slots over a few SLOT-STATS commands; one refresh
    // is however many the first one took.
    let warm = cluster.slot_stats_calls();
    assert!(warm >= 3, "at least one SLOT-STATS per primary for the first snapshot");
    tokio::time::sleep(Duration::from_millis(3100)).await;

    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..60)
        .map(|i| {
            let addr = exporter.addr;
            tokio::spawn(async move {
                let path = if i % 2 == 0 { "/metrics" } else { "/api/cluster/slot-stats?end_slot=10" };
                support::http::request(addr, "GET", path, &[]).await
            })
        })
        .collect();
    let mut snapshots = std::collections::BTreeSet::new();
    for request in requests {
        let response = request.await.expect("request task");
        assert_eq!(response.status, 200, "{}", response.text());
        if response.header("content-type") == Some("application/json") {
            snapshots.insert(response.json()["data"]["snapshot_timestamp"].as_str().unwrap().to_string());
        }
    }
    // The burst must fit in one TTL for "one refresh" to be the right expectation.
    assert!(started.elapsed() < Duration::from_secs(3), "burst took {:?}", started.elapsed());
    assert_eq!(snapshots.len(), 1, "every answer came from the same snapshot");
    assert_eq!(cluster.slot_stats_calls() - warm, warm, "exactly one more refresh for the whole burst");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_400_naming_the_parameter() {
    // No server is needed to refuse bad input: it is checked before any refresh.
    let exporter = start_exporter(&["--nodes", "redis://127.0.0.1:1"]).await;
    let cases = [
        ("start_slot=-1", "start_slot", "invalid_parameter"),
        ("start_slot=16384", "start_slot", "invalid_parameter"),
        ("end_slot=1.5", "end_slot", "invalid_parameter"),
        ("end_slot=0x10", "end_slot", "invalid_parameter"),
        ("start_slot=", "start_slot", "invalid_parameter"),
        ("start_slot=abc", "start_slot", "invalid_parameter"),
        ("end_slot=99999999999999999999999999", "end_slot", "invalid_parameter"),
        ("start_slot=1&start_slot=2", "start_slot", "duplicate_parameter"),
        ("start_slot=10&end_slot=5", "start_slot", "invalid_range"),
        ("slot=5", "slot", "unknown_parameter"),
    ];
    for (query, parameter, code) in cases {
        let response = exporter.get(&format!("/api/cluster/slot-stats?{query}")).await;
        assert_eq!(response.status, 400, "{query}");
        let body = response.json();
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], code, "{query}");
        assert!(body["error"]["message"].as_str().unwrap().contains(parameter), "{query}: {body}");
        assert!(body["timestamp"].is_string());
    }

    let index = exporter.get("/").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.json()["data"]["endpoints"]["cluster"]["slot_stats"], "/api/cluster/slot-stats");
    assert_eq!(index.json()["data"]["endpoints"]["metrics"], "/metrics");
    let missing = exporter.get("/nope").await;
    assert_eq!((missing.status, missing.json()["error"]["code"].as_str()), (404, Some("not_found")));
    let post = exporter.request("POST", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(post.json()["status"], "error");
    exporter.stop().await;
}
