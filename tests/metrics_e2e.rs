//! `/metrics` against a real Valkey 8 cluster (3 primaries + 3 replicas) filled with a
//! known number of keys in every slot.

mod exporter_support;
mod support;

use exporter_support::start_exporter;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{ValkeyCluster, eventually, expected_keys, fill, slot_key};

const SLOT_FAMILIES_WITH_USAGE: [&str; 3] = [
    "valkey_slot_cpu_seconds_total",
    "valkey_slot_network_receive_bytes_total",
    "valkey_slot_network_transmit_bytes_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slot_reports_its_keys_under_the_primary_that_owns_it() {
    let cluster = ValkeyCluster::start(3, 1);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let ids = cluster.node_ids();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "30s"]).await;

    let response = exporter.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let metrics = exporter_support::Metrics::parse(response.text());

    let keys = metrics.by_slot("valkey_slot_keys");
    assert_eq!(keys.len(), 16384, "one valkey_slot_keys series per slot");
    for (slot, (node, value)) in &keys {
        assert_eq!(*value, expected_keys(*slot) as f64, "keys in slot {slot}");
        assert_eq!(node, &owners[*slot as usize], "owner of slot {slot}");
    }
    for family in SLOT_FAMILIES_WITH_USAGE {
        assert_eq!(metrics.by_slot(family).len(), 16384, "{family}");
    }
    assert_eq!(metrics.named("valkey_slot_memory_bytes").count(), 0, "Valkey 8 reports no memory-bytes");

    let primaries = cluster.primaries();
    let mut slots_per_node = 0.0;
    for primary in &primaries {
        assert_eq!(metrics.node_value("valkey_node_up", primary), Some(1.0), "{primary} up");
        assert_eq!(metrics.node_value("valkey_node_slot_stats_enabled", primary), Some(1.0));
        assert!(metrics.node_value("valkey_node_scrape_duration_seconds", primary).unwrap() > 0.0);
        slots_per_node += metrics.node_value("valkey_node_slots", primary).unwrap();
        let info = metrics.named("valkey_node_info").find(|s| s.label("node") == primary).expect("node info");
        assert_eq!(info.label("node_id"), ids[primary]);
        assert_eq!(info.label("role"), "primary");
    }
    assert_eq!(slots_per_node, 16384.0);
    assert_eq!(metrics.named("valkey_node_up").count(), 3, "replicas are not queried by default");
    assert!(metrics.named("valkey_exporter_last_refresh_timestamp_seconds").next().unwrap().value > 1.6e9);
    assert!(metrics.named("valkey_exporter_refresh_duration_seconds").next().unwrap().value > 0.0);
    assert_eq!(metrics.named("valkey_exporter_build_info").next().unwrap().label("version"), env!("CARGO_PKG_VERSION"));
    assert!(metrics.samples.iter().all(|s| !s.labels.contains_key("cluster")));

    let open = exporter
        .request("GET", "/metrics", &[("accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")])
        .await;
    assert_eq!(open.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(open.text().ends_with("# EOF\n"));
    assert!(open.text().contains("# UNIT valkey_slot_cpu_seconds seconds"));
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_to_one_slot_raises_only_its_counters() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    let before = exporter.metrics().await;

    let hot: u16 = 4242;
    let key = slot_key(hot);
    let mut conn = support::Conn::connect(&owners[hot as usize]).expect("connect to the hot slot's owner");
    let commands: Vec<Vec<String>> = (0..2000)
        .map(|i| if i % 2 == 0 { vec!["GET".into(), key.clone()] } else { vec!["SET".into(), key.clone(), "v".into()] })
        .collect();
    conn.pipeline(&commands).expect("traffic to the hot slot");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = exporter.metrics().await;
    for family in SLOT_FAMILIES_WITH_USAGE {
        let (b, a) = (before.by_slot(family)[&hot].1, after.by_slot(family)[&hot].1);
        assert!(a > b, "{family} of slot {hot}: {b} -> {a}");
    }
    let (keys_before, keys_after) = (before.by_slot("valkey_slot_keys"), after.by_slot("valkey_slot_keys"));
    let changed: Vec<u16> = keys_before.keys().filter(|s| keys_before[s].1 != keys_after[s].1).copied().collect();
    // SET on an existing key changes no key count anywhere.
    assert!(changed.is_empty(), "key counts changed in slots {changed:?}");
    // Compare increases, not totals: a fill command that was preempted on a loaded
    // machine can leave some other slot with more CPU in total than 2000 fast commands.
    let (cpu_before, cpu_after) =
        (before.by_slot("valkey_slot_cpu_seconds_total"), after.by_slot("valkey_slot_cpu_seconds_total"));
    let increase = |slot: &u16| cpu_after[slot].1 - cpu_before[slot].1;
    let hottest = cpu_after.keys().max_by(|a, b| increase(a).total_cmp(&increase(b))).unwrap();
    assert_eq!(*hottest, hot, "the hot slot is the one whose CPU grew most");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_slot_stats_disabled_reports_only_key_counts() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let quiet = cluster.primaries()[1].clone();
    let reply = cluster.cmd(&quiet, &["CONFIG", "SET", "cluster-slot-stats-enabled", "no"]);
    assert_eq!(reply.as_str(), Some("OK"));
    let exporter = start_exporter(&["--nodes", &cluster.seed_url()]).await;
    let metrics = exporter.metrics().await;

    let keys = metrics.by_slot("valkey_slot_keys");
    assert_eq!(keys.len(), 16384, "key counts still come for every slot");
    for family in SLOT_FAMILIES_WITH_USAGE {
        let series = metrics.by_slot(family);
        let expected: Vec<u16> = (0..16384u16).filter(|s| owners[*s as usize] != quiet).collect();
        assert_eq!(series.keys().copied().collect::<Vec<_>>(), expected, "{family}: absent for {quiet}, never zero");
    }
    assert_eq!(metrics.node_value("valkey_node_slot_stats_enabled", &quiet), Some(0.0));
    assert_eq!(metrics.node_value("valkey_node_up", &quiet), Some(1.0));
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_when_included_report_under_their_own_node() {
    let cluster = ValkeyCluster::start(3, 1);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let replicas = cluster.replicas();
    let ids = cluster.node_ids();
    // Replicas learn keys asynchronously; wait until each holds its primary's count.
    wait_for_replication(&cluster);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--include-replicas"]).await;
    let metrics = exporter.metrics().await;

    assert_eq!(metrics.named("valkey_node_up").count(), 6);
    let mut per_slot: BTreeMap<u16, Vec<(String, f64)>> = BTreeMap::new();
    for s in metrics.named("valkey_slot_keys") {
        per_slot.entry(s.label("slot").parse().unwrap()).or_default().push((s.label("node").into(), s.value));
    }
    assert_eq!(per_slot.len(), 16384);
    for (slot, series) in &per_slot {
        assert_eq!(series.len(), 2, "slot {slot}: its primary and its replica");
        assert!(series.iter().any(|(n, _)| n == &owners[*slot as usize]));
        assert!(series.iter().any(|(n, _)| replicas.contains(n)), "slot {slot}: a replica series");
        assert!(series.iter().all(|(_, v)| *v == expected_keys(*slot) as f64));
    }
    for replica in &replicas {
        let info = metrics.named("valkey_node_info").find(|s| s.label("node") == replica).expect("replica info");
        assert_eq!(info.label("role"), "replica");
        assert_eq!(info.label("node_id"), ids[replica]);
    }
    exporter.stop().await;
}

fn wait_for_replication(cluster: &ValkeyCluster) {
    let total = |addrs: &[String]| -> i64 { addrs.iter().map(|a| cluster.cmd(a, &["DBSIZE"]).as_int().unwrap()).sum() };
    eventually("the replicas catch up", Duration::from_secs(30), Duration::from_millis(100), || {
        let (replicas, primaries) = (total(&cluster.replicas()), total(&cluster.primaries()));
        if replicas == primaries {
            Ok(())
        } else {
            Err(format!("{replicas} keys on replicas, {primaries} on primaries"))
        }
    });
}
