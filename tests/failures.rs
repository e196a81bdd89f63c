//! Telling the truth on a cluster's worst day: real faults injected into a real
//! cluster — a killed primary, a failover, a slot migration, a paused node, a node
//! that restarts, a dead seed — and what the exporter reports for each.

mod exporter_support;
mod support;

use exporter_support::{Metrics, RunningExporter, start_exporter};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::reshard::migrate_slots;
use support::{Conn, ValkeyCluster, expected_keys, fill, gets, slots_of};

/// The cache TTL and node timeout of the paused-node tests: short, so a fault shows
/// within seconds. The flags below spell them as "1s".
const SHORT: Duration = Duration::from_secs(1);
/// How long past a TTL a test waits before counting on expiry. The TTL runs from the
/// snapshot, which was taken before the previous answer arrived, so any wait beyond
/// the TTL after that answer is past it; 100 ms covers the timers' granularity.
const PAST_TTL: Duration = Duration::from_millis(100);
/// What a scrape may take beyond the node timeout when it triggers a refresh. The
/// refresh's one deadline bounds discovery and statistics together (`collect::refresh`);
/// what is left is merging, rendering and loopback HTTP, milliseconds on an idle
/// machine, but these tests share 2 cores with other builds and tests: 1.5 s.
const BEYOND_NODE_TIMEOUT: Duration = Duration::from_millis(1500);

/// A `CLIENT PAUSE` of `pause`, long enough to outlast what the test awaits.
fn client_pause(cluster: &ValkeyCluster, node: &str, pause: Duration) {
    let millis = pause.as_millis().to_string();
    assert_eq!(cluster.cmd(node, &["CLIENT", "PAUSE", &millis, "ALL"]).as_str(), Some("OK"), "{node}");
}

/// Scrapes until every one of `slots` is reported on `node`, for up to `within`.
async fn slots_reported_on(exporter: &RunningExporter, slots: &[u16], node: &str, within: Duration) -> Metrics {
    exporter
        .metrics_until(&format!("{} moved slots reported on {node}", slots.len()), within, |m| {
            let keys = m.by_slot("valkey_slot_keys");
            slots.iter().all(|s| keys.get(s).is_some_and(|(n, _)| n == node))
        })
        .await
}

/// A primary other than the seed the exporter was given.
fn non_seed_primary(cluster: &ValkeyCluster) -> String {
    let seed = cluster.seed_url().trim_start_matches("redis://").to_string();
    cluster.primaries().into_iter().find(|p| *p != seed).expect("a second primary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_is_down_and_its_slots_absent_while_the_rest_is_served() {
    let mut cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    exporter.metrics().await;
    let dead = non_seed_primary(&cluster);
    cluster.kill(&dead);

    let metrics = exporter.node_up_until(&dead, 0.0, Duration::from_secs(10)).await;
    let keys = metrics.by_slot("valkey_slot_keys");
    let lost = slots_of(&owners, &dead);
    assert_eq!(keys.len(), 16384 - lost.len(), "every healthy slot, none of the dead node's");
    for (slot, (node, value)) in &keys {
        assert_eq!(node, &owners[*slot as usize]);
        assert_eq!(*value, expected_keys(*slot) as f64, "slot {slot}");
    }
    assert!(metrics.samples.iter().filter(|s| s.name.starts_with("valkey_slot_")).all(|s| s.label("node") != dead));
    for alive in cluster.primaries().iter().filter(|p| **p != dead) {
        assert_eq!(metrics.node_value("valkey_node_up", alive), Some(1.0), "{alive}");
    }

    let response = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(response.status, 200, "a 503 only when no node answered");
    let body = response.json();
    assert_eq!(body["data"]["total_slots"].as_u64(), Some((16384 - lost.len()) as u64));
    assert_eq!(body["data"]["nodes_failed"][0]["node"], dead.as_str());
    assert_eq!(body["data"]["nodes_failed"][0]["error"], "connection refused");
    assert_eq!(body["data"]["nodes_failed"][0]["detail"], "connection refused", "a sentence, not Rust Debug text");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_slots_belong_to_the_new_primary_and_never_to_two() {
    let cluster = ValkeyCluster::start(3, 1);
    fill(&cluster, expected_keys);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    let before = exporter.metrics().await;
    let old_owners = cluster.slot_owners();

    let replica = cluster.replicas()[0].clone();
    let old_primary = cluster.primary_of(&replica);
    assert_eq!(cluster.cmd(&replica, &["CLUSTER", "FAILOVER"]).as_str(), Some("OK"));
    let moved = slots_of(&old_owners, &old_primary);

    let metrics = slots_reported_on(&exporter, &moved, &replica, Duration::from_secs(20)).await;
    // by_slot panics if a slot appears twice: one owner per slot in every snapshot.
    let keys = metrics.by_slot("valkey_slot_keys");
    assert_eq!(keys.len(), 16384);
    for slot in &moved {
        assert_eq!(keys[slot].1, expected_keys(*slot) as f64, "slot {slot} on its new primary");
    }
    let role = |m: &Metrics, node: &str| {
        m.named("valkey_node_info").find(|s| s.label("node") == node).map(|s| s.label("role").to_string())
    };
    assert_eq!(role(&metrics, &replica).as_deref(), Some("primary"));
    assert_eq!(role(&before, &old_primary).as_deref(), Some("primary"));
    assert!(role(&metrics, &old_primary).is_none(), "the demoted node is a replica now, not queried by default");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharded_slots_show_their_new_owner_keys_and_restarted_counters() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let primaries = cluster.primaries();
    let (from, to) = (primaries[0].clone(), primaries[1].clone());
    let moving: Vec<u16> = slots_of(&owners, &from).into_iter().filter(|s| expected_keys(*s) > 0).take(5).collect();

    // Give the moving slots CPU and network history on their old owner.
    let mut conn = Conn::connect(&from).unwrap();
    let commands: Vec<Vec<String>> = moving.iter().flat_map(|s| gets(*s, 200)).collect();
    conn.pipeline(&commands).unwrap();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    let before = exporter.metrics().await;
    let cpu_before = before.by_slot("valkey_slot_cpu_seconds_total");

    migrate_slots(&cluster, &moving, &from, &to);
    let metrics = slots_reported_on(&exporter, &moving, &to, Duration::from_secs(10)).await;
    let keys = metrics.by_slot("valkey_slot_keys");
    let cpu = metrics.by_slot("valkey_slot_cpu_seconds_total");
    let received = metrics.by_slot("valkey_slot_network_receive_bytes_total");
    assert_eq!(keys.len(), 16384);
    for slot in &moving {
        assert_eq!(keys[slot], (to.clone(), expected_keys(*slot) as f64), "slot {slot}: new owner, same keys");
        assert_eq!(cpu[slot].0, to);
        assert!(cpu_before[slot].1 > 0.0, "slot {slot} had CPU history on the old owner");
        assert!(cpu[slot].1 < cpu_before[slot].1, "slot {slot}: counters restart on the new owner");
        assert_eq!(received[slot].1, 0.0, "slot {slot}: no traffic since it arrived");
    }
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_is_reported_down_within_the_node_timeout_and_the_rest_is_served() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    exporter.metrics().await;
    let stalled = non_seed_primary(&cluster);
    // The pause outlasts the wait past the TTL and the whole refresh that follows.
    let bound = SHORT + BEYOND_NODE_TIMEOUT;
    client_pause(&cluster, &stalled, SHORT + PAST_TTL + bound);
    tokio::time::sleep(SHORT + PAST_TTL).await;

    let started = Instant::now();
    let metrics = exporter.metrics().await;
    let took = started.elapsed();
    assert!(took < bound, "refresh took {took:?} with a {SHORT:?} node timeout");
    assert_eq!(metrics.node_value("valkey_node_up", &stalled), Some(0.0));
    let keys = metrics.by_slot("valkey_slot_keys");
    assert_eq!(keys.len(), 16384 - slots_of(&owners, &stalled).len());
    let failed = exporter.get("/api/cluster/slot-stats?end_slot=0").await.json();
    assert_eq!(failed["data"]["nodes_failed"][0]["error"], "timeout");

    // When the pause ends the node is read again, over a fresh connection.
    cluster.cmd(&stalled, &["CLIENT", "UNPAUSE"]);
    exporter.node_up_until(&stalled, 1.0, Duration::from_secs(10)).await;
    exporter.stop().await;
}

/// The TTL and node timeout of the slow-refresh test (the flags say "5s").
const SLOW: Duration = Duration::from_secs(5);
/// The scrape timeout Prometheus announces in the slow-refresh test.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the exporter waits for a snapshot under that timeout: 85 % of it
/// (`scrape_deadline` in http/routes.rs), leaving 15 % (0.6 s) before Prometheus gives
/// up for answering the previous snapshot, already rendered.
const HURRIED_WAIT: Duration = Duration::from_millis(SCRAPE_TIMEOUT.as_millis() as u64 * 85 / 100);
/// How late the hurried scrape may start after the wait past the TTL and still find
/// the node paused through its whole wait.
const HURRY_MARGIN: Duration = Duration::from_millis(1200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_that_triggers_a_slow_refresh_gets_the_previous_snapshot_within_its_timeout() {
    let cluster = ValkeyCluster::start(3, 0);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "5s", "--node-timeout", "5s"]).await;
    let first = exporter.metrics().await;
    let refreshed_at = |m: &Metrics| m.named("valkey_exporter_last_refresh_timestamp_seconds").next().unwrap().value;
    let stalled = non_seed_primary(&cluster);
    // Once the TTL has passed, the pause still holds for the hurried scrape's whole wait
    // and a margin for the scrape to start late, and ends within the node timeout.
    let pause = SLOW + PAST_TTL + HURRIED_WAIT + HURRY_MARGIN;
    assert!(pause - SLOW - PAST_TTL < SLOW, "the paused node must answer within the node timeout");
    client_pause(&cluster, &stalled, pause);
    tokio::time::sleep(SLOW + PAST_TTL).await;

    let started = Instant::now();
    let header = SCRAPE_TIMEOUT.as_secs_f64().to_string();
    let response = exporter.request("GET", "/metrics", &[("x-prometheus-scrape-timeout-seconds", &header)]).await;
    let took = started.elapsed();
    assert_eq!(response.status, 200);
    assert!(took < SCRAPE_TIMEOUT, "answered after {took:?}, past Prometheus' {SCRAPE_TIMEOUT:?} timeout");
    let hurried = Metrics::parse(response.text());
    assert_eq!(refreshed_at(&hurried), refreshed_at(&first), "the previous snapshot, with its own timestamp");
    assert_eq!(hurried.named("valkey_node_up").filter(|s| s.value == 1.0).count(), 3);

    // The refresh that scrape started was not cut short: it waits for the paused node
    // (node timeout 5 s) and, once the pause ends, serves a complete newer snapshot.
    let after = exporter
        .metrics_until("a newer snapshot", Duration::from_secs(15), |m| refreshed_at(m) > refreshed_at(&first))
        .await;
    assert_eq!(after.node_value("valkey_node_up", &stalled), Some(1.0), "the paused node answered late, not never");
    assert_eq!(after.by_slot("valkey_slot_keys").len(), 16384);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_seed_does_not_stall_discovery_once_other_nodes_are_known() {
    let cluster = ValkeyCluster::start(3, 0);
    let seed = cluster.seed_url().trim_start_matches("redis://").to_string();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    exporter.metrics().await;
    let bound = SHORT + BEYOND_NODE_TIMEOUT;
    client_pause(&cluster, &seed, SHORT + PAST_TTL + bound);
    tokio::time::sleep(SHORT + PAST_TTL).await;
    let started = Instant::now();
    let metrics = exporter.metrics().await;
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    assert_eq!(metrics.node_value("valkey_node_up", &seed), Some(0.0));
    assert_eq!(metrics.named("valkey_node_up").filter(|s| s.value == 1.0).count(), 2);
    cluster.cmd(&seed, &["CLIENT", "UNPAUSE"]);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_restarts_is_read_again_and_a_dead_seed_does_not_matter() {
    let mut cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    // A seed nobody listens on comes first; the real one second.
    let dead_seed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nodes = format!("redis://{dead_seed},{}", cluster.seed_url());
    let exporter = start_exporter(&["--nodes", &nodes, "--cache-ttl", "3s", "--node-timeout", "3s"]).await;
    let first = exporter.metrics().await;
    let api = exporter.get("/api/cluster/slot-stats?end_slot=0").await.text().to_owned();
    assert_eq!(first.by_slot("valkey_slot_keys").len(), 16384, "the dead seed does not matter: {api}");

    let bouncing = non_seed_primary(&cluster);
    cluster.kill(&bouncing);
    exporter.node_up_until(&bouncing, 0.0, Duration::from_secs(10)).await;
    cluster.restart(&bouncing);
    // Data is not persisted in tests: the node comes back empty but owning its slots.
    let metrics = exporter.node_up_until(&bouncing, 1.0, Duration::from_secs(20)).await;
    let keys = metrics.by_slot("valkey_slot_keys");
    let back: BTreeMap<u16, f64> =
        keys.iter().filter(|(_, (n, _))| *n == bouncing).map(|(s, (_, v))| (*s, *v)).collect();
    assert_eq!(back.len(), slots_of(&owners, &bouncing).len(), "all its slots are reported again");
    exporter.stop().await;
}
