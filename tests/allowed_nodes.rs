//! Where the credentials may go (`allowed_nodes`), against real servers.
//!
//! The cluster bus has no authentication: anyone who reaches a bus port can join a
//! node of their own with `CLUSTER MEET`, and it shows up in `CLUSTER SHARDS` as an
//! empty primary. Here such a rogue runs on 127.0.0.2, a host of its own, next to a
//! real 3-primary cluster with an ACL user. With `allowed_nodes = 127.0.0.1/32` the
//! exporter lists the rogue as `not allowed` and never connects to it (its own
//! counters say so); without the setting it does send the rogue AUTH, which shows the
//! counters would have seen it. Start-up errors go through the real binary.

mod exporter_support;
mod support;

use exporter_support::Metrics;
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::time::Duration;
use support::{Conn, ExporterBinary, SLOT_COUNT, ValkeyCluster, acl, expected_keys, fill, http};

const USER: &str = "slotexporter";
/// Distinctive, so that a leak cannot hide behind a common word.
const PASSWORD: &str = "Al-pw-4Rt9xQm2-Zv";
/// Longer than the TTL, so each request after it starts a new refresh.
const PAST_TTL: Duration = Duration::from_millis(1_200);

/// What the rogue's own counters say about its clients, read over one connection
/// held for the whole test so that reading them adds no connection.
struct RogueCounters {
    conn: Conn,
    addr: String,
}

impl RogueCounters {
    /// (connections accepted, AUTH calls) since the rogue started.
    fn read(&mut self) -> (u64, u64) {
        let info = self.conn.cmd(&["INFO", "stats", "commandstats"]).expect("INFO from the rogue");
        let text = info.as_str().expect("INFO is text").to_owned();
        let connections = text
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("total_connections_received:"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: no total_connections_received in\n{text}", self.addr));
        let auth_calls = text
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("cmdstat_auth:calls="))
            .map_or(0, |rest| rest.split(',').next().and_then(|n| n.parse().ok()).expect("a call count"));
        (connections, auth_calls)
    }
}

/// Asks for `/metrics` `refreshes` times, each after the TTL ran out, and returns the
/// last body; panics unless each came from a new snapshot.
async fn scrape_after_refreshes(exporter: SocketAddr, refreshes: usize) -> String {
    let mut taken = Vec::new();
    let mut body = String::new();
    for _ in 0..refreshes {
        tokio::time::sleep(PAST_TTL).await;
        let metrics = http::request(exporter, "GET", "/metrics", &[]).await;
        assert_eq!(metrics.status, 200, "{}", metrics.text());
        body = metrics.text().to_owned();
        let api = http::request(exporter, "GET", "/api/cluster/slot-stats?start_slot=0&end_slot=0", &[]).await;
        let stamp = api.json()["data"]["snapshot_timestamp"].as_str().map(str::to_owned);
        taken.push(stamp.unwrap_or_else(|| panic!("a snapshot timestamp: {}", api.text())));
    }
    taken.dedup();
    assert_eq!(taken.len(), refreshes, "each scrape came from a new snapshot: {taken:?}");
    body
}

/// Every slot is reported once, by the primary that owns it, with the keys put there.
fn assert_every_slot_right(cluster: &ValkeyCluster, metrics: &Metrics) {
    let keys = metrics.by_slot("valkey_slot_keys");
    assert_eq!(keys.len(), usize::from(SLOT_COUNT));
    let owners = cluster.slot_owners();
    for (slot, (node, value)) in keys {
        assert_eq!(node, owners[usize::from(slot)], "owner of slot {slot}");
        assert_eq!(value, expected_keys(slot) as f64, "keys in slot {slot}");
    }
}

fn exporter_flags<'a>(cluster_seed: &'a str, password_file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec![
        "--nodes",
        cluster_seed,
        "--username",
        USER,
        "--password-file",
        password_file,
        "--cache-ttl",
        "1s",
        "--node-timeout",
        "1s",
    ];
    flags.extend_from_slice(extra);
    flags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_outside_allowed_nodes_is_listed_as_not_allowed_and_never_contacted() {
    let mut cluster = ValkeyCluster::start(3, 0);
    // The user exists on the real nodes only: the rogue's owner does not know it.
    acl::create_user(&cluster, USER, &acl::exporter_rules(), PASSWORD);
    fill(&cluster, expected_keys);
    let rogue = cluster.add_empty_primary_on("127.0.0.2");
    let primaries = cluster.primaries();
    assert!(!primaries.contains(&rogue), "the rogue owns no slots: {primaries:?}");
    let mut counters =
        RogueCounters { conn: Conn::connect(&rogue).expect("connect to the rogue"), addr: rogue.clone() };
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let (seed, password_path) = (cluster.seed_url(), password_file.to_str().unwrap().to_owned());

    // With the list: never contacted, listed as not allowed.
    let before = counters.read();
    let exporter = ExporterBinary::start(&exporter_flags(&seed, &password_path, &["--allowed-nodes", "127.0.0.1/32"]));
    let body = scrape_after_refreshes(exporter.addr, 3).await;
    assert_eq!(counters.read(), before, "(connections, AUTH calls) on the rogue {rogue}: it was never contacted");

    let metrics = Metrics::parse(&body);
    assert_eq!(metrics.node_value("valkey_node_up", &rogue), Some(0.0), "{body}");
    for node in &primaries {
        assert_eq!(metrics.node_value("valkey_node_up", node), Some(1.0), "{node}");
    }
    assert_every_slot_right(&cluster, &metrics);

    let nodes = http::request(exporter.addr, "GET", "/api/cluster/nodes", &[]).await;
    assert_eq!(nodes.status, 200, "{}", nodes.text());
    let nodes_json = nodes.json();
    let listed: Vec<&Json> = nodes_json["data"]["nodes"]
        .as_array()
        .expect("a node list")
        .iter()
        .filter(|n| n["node"] == rogue.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "the rogue is listed once: {}", nodes.text());
    assert_eq!((&listed[0]["up"], &listed[0]["error"]), (&Json::Bool(false), &Json::from("not allowed")));
    assert_eq!(listed[0]["slots"], 0, "{}", nodes.text());
    assert!(listed[0]["detail"].as_str().unwrap().contains("never contacted"), "{}", nodes.text());

    let api = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(api.status, 200, "{}", api.text());
    let data = &api.json()["data"];
    assert_eq!(data["total_slots"], SLOT_COUNT);
    let failed = data["nodes_failed"].as_array().expect("nodes_failed");
    assert_eq!(failed.len(), 1, "only the rogue is down: {}", api.text());
    assert_eq!((&failed[0]["node"], &failed[0]["error"]), (&Json::from(rogue.as_str()), &Json::from("not allowed")));
    let log = exporter.stderr();
    assert!(!log.contains(PASSWORD) && !body.contains(PASSWORD) && !api.text().contains(PASSWORD), "{log}");
    drop(exporter);
    assert_eq!(counters.read(), before, "nothing reached the rogue {rogue}");

    // Without the list the same rogue is sent AUTH: the counters above could see it.
    let exporter = ExporterBinary::start(&exporter_flags(&seed, &password_path, &[]));
    let body = scrape_after_refreshes(exporter.addr, 2).await;
    let (connections, auth_calls) = counters.read();
    assert!(connections > before.0, "the exporter connected to the rogue {rogue}");
    assert!(auth_calls > before.1, "the exporter sent AUTH to the rogue {rogue}");
    let metrics = Metrics::parse(&body);
    assert_eq!(metrics.node_value("valkey_node_up", &rogue), Some(0.0), "the rogue refused the user: {body}");
    assert_every_slot_right(&cluster, &metrics);
}

#[test]
fn bad_entries_and_seeds_outside_the_list_stop_start_up_naming_the_key_and_its_source() {
    let variable = "VALKEY_SLOT_EXPORTER_ALLOWED_NODES";
    let run = ExporterBinary::run(&["--nodes", "redis://127.0.0.1:1"], &[(variable, "127.0.0.0/8, 10.0.0.0/33")]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains(variable) && run.stderr.contains("entry 2 of 2 `10.0.0.0/33`"), "{}", run.stderr);

    let run = ExporterBinary::run(&["--nodes", "redis://127.0.0.1:1,redis://127.0.0.2:1"], &[(variable, "127.0.0.1")]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    for part in ["127.0.0.2:1", "--nodes", variable] {
        assert!(run.stderr.contains(part), "names {part}: {}", run.stderr);
    }

    let run = ExporterBinary::run(&["--nodes", "redis://[::1]:1", "--allowed-nodes", "valkey.example,*.example"], &[]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("[::1]:1") && run.stderr.contains("--allowed-nodes"), "{}", run.stderr);
}
