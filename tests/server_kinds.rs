//! What the exporter says about servers that are not a healthy Valkey 8 cluster: a
//! standalone server, Redis 7 (no CLUSTER SLOT-STATS), and no server at all.

mod exporter_support;
mod support;

use exporter_support::start_exporter;
use std::time::Duration;
use support::{Standalone, ValkeyCluster, eventually_async};

/// The slot-stats answer, checked to be a success with no slots.
async fn empty_success(exporter: &exporter_support::RunningExporter) -> serde_json::Value {
    let response = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["slots"], serde_json::json!([]));
    assert_eq!(body["data"]["total_slots"], 0);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_server_gives_an_empty_success() {
    let server = Standalone::valkey();
    let exporter = start_exporter(&["--nodes", &server.url()]).await;
    let body = empty_success(&exporter).await;
    assert!(body["data"]["start_slot"].is_null() && body["data"]["end_slot"].is_null());
    assert!(body["data"].get("note").is_none());

    let metrics = exporter.metrics().await;
    assert_eq!(metrics.node_value("valkey_node_up", &server.addr()), Some(1.0));
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_7_without_slot_stats_gets_a_note() {
    let server = Standalone::redis7_cluster();
    let exporter = start_exporter(&["--nodes", &server.url()]).await;
    let body = empty_success(&exporter).await;
    assert_eq!(body["data"]["note"], "CLUSTER SLOT-STATS command not supported by this Redis/Valkey version");

    let metrics = exporter.metrics().await;
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_with_no_reachable_node_serves_health_and_recovers_by_itself() {
    let mut cluster = ValkeyCluster::start(3, 0);
    let seed = cluster.primaries()[0].clone();
    // The only configured seed is down when the exporter starts, and the exporter
    // has never seen the cluster, so nothing at all is reachable.
    cluster.kill(&seed);
    let exporter =
        start_exporter(&["--nodes", &format!("redis://{seed}"), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;

    assert_eq!(exporter.get("/healthz").await.status, 200);
    let metrics = exporter.metrics().await;
    assert_eq!(metrics.node_value("valkey_node_up", &seed), Some(0.0));
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);
    let api = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(api.status, 503);
    assert_eq!(api.json()["status"], "error");
    assert_eq!(api.json()["error"]["code"], "cluster_unreachable");
    assert!(api.json()["error"]["message"].as_str().unwrap().contains("connection refused"), "{}", api.text());

    cluster.restart(&seed);
    let recovered =
        eventually_async("the API recovers", Duration::from_secs(30), Duration::from_millis(200), || async {
            let response = exporter.get("/api/cluster/slot-stats").await;
            let healthy = response.json()["data"]["nodes_failed"].as_array().is_some_and(Vec::is_empty);
            if response.status == 200 && healthy { Ok(response) } else { Err(response.text().to_owned()) }
        })
        .await;
    assert_eq!(recovered.json()["data"]["total_slots"], 16384, "{}", recovered.text());
    let metrics = exporter.metrics().await;
    assert_eq!(metrics.node_value("valkey_node_up", &seed), Some(1.0));
    assert_eq!(metrics.named("valkey_slot_keys").count(), 16384);
    exporter.stop().await;
}
