//! Several clusters from one exporter (issue 12), on real clusters: every endpoint
//! picks its cluster by name only, credentials stay with their cluster, and a stalled
//! or dead cluster never delays or changes another's answers.

mod exporter_support;
mod support;

use exporter_support::{Metrics, RunningExporter, start_exporter};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{ValkeyCluster, acl};

/// Writes `toml` (with `DIR` standing for `dir`) and starts an exporter with it.
async fn exporter_with(dir: &Path, toml: &str) -> RunningExporter {
    let path = dir.join("exporter.toml");
    std::fs::write(&path, toml.replace("DIR", &dir.display().to_string())).expect("write the config");
    start_exporter(&["--config", path.to_str().unwrap()]).await
}

fn seeds(cluster: &ValkeyCluster) -> String {
    let urls: Vec<String> = cluster.primaries().iter().map(|a| format!("\"redis://{a}\"")).collect();
    format!("[{}]", urls.join(", "))
}

fn nodes_in(metrics: &Metrics) -> BTreeSet<String> {
    metrics.named("valkey_node_up").map(|s| s.label("node").to_string()).collect()
}

async fn metrics_of(exporter: &RunningExporter, cluster: &str) -> Metrics {
    let response = exporter.get(&format!("/metrics?cluster={cluster}")).await;
    assert_eq!(response.status, 200, "{cluster}: {}", response.text());
    Metrics::parse(response.text())
}

async fn error_code(exporter: &RunningExporter, path: &str) -> (u16, String) {
    let response = exporter.get(path).await;
    let code = response.json()["error"]["code"].as_str().unwrap_or_default().to_string();
    (response.status, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_picks_its_cluster_by_name_and_credentials_stay_with_their_cluster() {
    let alpha = ValkeyCluster::start(3, 0);
    let beta = ValkeyCluster::start(3, 0);
    let gamma = ValkeyCluster::start(1, 0);
    acl::create_user(&alpha, "user-a", &acl::exporter_rules(), "Pw-alpha-3Kq9");
    acl::create_user(&beta, "user-b", &acl::exporter_rules(), "Pw-beta-7Zx2");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alpha.pw"), "Pw-alpha-3Kq9\n").unwrap();
    std::fs::write(dir.path().join("beta.pw"), "Pw-beta-7Zx2\n").unwrap();
    // beta's seeds name one of alpha's nodes first: it is still only ever spoken to
    // with beta's credentials, and refuses them.
    let alpha_node = alpha.primaries()[0].clone();
    let beta_seeds = seeds(&beta).replacen('[', &format!("[\"redis://{alpha_node}\", "), 1);
    let toml = format!(
        "cache_ttl = \"1s\"\nnode_timeout = \"1s\"\n\
         [clusters.alpha]\nnodes = {}\nusername = \"user-a\"\npassword_file = \"DIR/alpha.pw\"\n\
         [clusters.beta]\nnodes = {beta_seeds}\nusername = \"user-b\"\npassword_file = \"DIR/beta.pw\"\n\
         [clusters.gamma]\nnodes = {}\nslot_series = \"none\"\n",
        seeds(&alpha),
        seeds(&gamma)
    );
    let exporter = exporter_with(dir.path(), &toml).await;

    for (name, cluster) in [("alpha", &alpha), ("beta", &beta), ("gamma", &gamma)] {
        let metrics = metrics_of(&exporter, name).await;
        let expected: BTreeSet<String> = cluster.primaries().into_iter().collect();
        let up: BTreeSet<String> =
            metrics.named("valkey_node_up").filter(|s| s.value == 1.0).map(|s| s.label("node").to_string()).collect();
        assert_eq!(up, expected, "{name}: its own nodes, all up");
        assert_eq!(metrics.named("valkey_slot_range_keys").count(), 128, "{name}: the whole slot space");
        if name != "gamma" {
            assert_eq!(metrics.by_slot("valkey_slot_keys").len(), 16384, "{name}");
        }
        for path in [
            "/api/cluster/slot-stats?end_slot=10",
            "/api/cluster/hot-slots?by=keys",
            "/api/cluster/balance",
            "/api/cluster/rebalance-plan?by=keys",
            "/api/cluster/slot-map",
            "/api/cluster/nodes",
        ] {
            let separator = if path.contains('?') { '&' } else { '?' };
            let response = exporter.get(&format!("{path}{separator}cluster={name}")).await;
            assert_eq!(response.status, 200, "{path} for {name}: {}", response.text());
            let mentioned: BTreeSet<String> = all_node_fields(&response.json());
            assert!(mentioned.is_subset(&expected), "{path} for {name}: {mentioned:?}");
            // An empty cluster is balanced: its plan names no node.
            assert!(!mentioned.is_empty() || path.contains("rebalance-plan"), "{path} for {name}");
        }
    }
    assert!(!nodes_in(&metrics_of(&exporter, "beta").await).contains(&alpha_node), "alpha's node is not beta's");

    for path in ["/metrics", "/api/cluster/slot-stats", "/api/cluster/balance", "/api/cluster/hot-slots"] {
        assert_eq!(error_code(&exporter, path).await, (400, "cluster_required".into()), "{path}");
        let (status, code) = error_code(&exporter, &format!("{path}?cluster=delta")).await;
        assert_eq!((status, code.as_str()), (404, "unknown_cluster"), "{path}");
        assert_eq!(error_code(&exporter, &format!("{path}?cluster=alpha&cluster=beta")).await.0, 400);
        for malformed in ["Alpha", "", "a%2Fb", "..", "alpha%00"] {
            assert_eq!(error_code(&exporter, &format!("{path}?cluster={malformed}")).await.0, 400, "{malformed}");
        }
        for host in ["target=127.0.0.1:1", "node=127.0.0.1:1", "url=redis://127.0.0.1:1"] {
            let (status, code) = error_code(&exporter, &format!("{path}?cluster=alpha&{host}")).await;
            assert_eq!((status, code.as_str()), (400, "unknown_parameter"), "no parameter names a host: {host}");
        }
    }
    let message = exporter.get("/metrics").await.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("alpha, beta, gamma"), "lists the names: {message}");

    let clusters = exporter.get("/api/clusters").await.json();
    let listed = clusters["data"]["clusters"].as_array().unwrap();
    assert_eq!(listed.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["alpha", "beta", "gamma"]);
    assert_eq!(listed[0]["nodes_up"], 3);
    let body = clusters.to_string();
    assert!(!body.contains("Pw-") && !body.contains("user-a"), "no credentials: {body}");

    let sd = exporter.request("GET", "/sd", &[("host", "exporter.example:9765")]).await.json();
    let groups = sd.as_array().expect("http_sd is a list of target groups");
    assert_eq!(groups.len(), 3);
    for (group, name) in groups.iter().zip(["alpha", "beta", "gamma"]) {
        assert_eq!(group["targets"], serde_json::json!(["exporter.example:9765"]));
        assert_eq!(group["labels"]["__param_cluster"], name);
        assert_eq!(group["labels"]["valkey_cluster"], name);
    }
    let (status, code) = {
        let response = exporter.request("GET", "/sd", &[("host", "evil.example/x?y")]).await;
        (response.status, response.json()["error"]["code"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!((status, code.as_str()), (400, "host_required"), "a Host that is not host:port is refused");

    // alpha's credentials reached no node of beta; beta's reached only the alpha node
    // its own seeds named, which refused them.
    assert!(acl::denials(&beta).iter().all(|d| d.user != "user-a"), "{:?}", acl::denials(&beta));
    let on_alpha = acl::denials(&alpha);
    assert!(on_alpha.iter().any(|d| d.user == "user-b" && d.reason == "auth"), "{on_alpha:?}");
    assert!(on_alpha.iter().all(|d| d.user == "user-b" && d.reason == "auth"), "{on_alpha:?}");
    // INFO commandstats counts every AUTH, refused or not: gamma, which has no
    // credentials, was never sent any; no AUTH failed on beta, nor on alpha but
    // for the node beta's seeds named.
    for node in gamma.node_addrs() {
        assert_eq!(acl::auth_calls(&gamma, &node), (0, 0), "{node} of gamma was sent credentials");
    }
    for node in beta.node_addrs() {
        let (calls, failed) = acl::auth_calls(&beta, &node);
        assert!(calls > 0 && failed == 0, "{node} of beta: {calls} AUTH, {failed} failed");
    }
    for node in alpha.node_addrs().into_iter().filter(|node| *node != alpha_node) {
        let (calls, failed) = acl::auth_calls(&alpha, &node);
        assert!(calls > 0 && failed == 0, "{node} of alpha: {calls} AUTH, {failed} failed");
    }
    exporter.stop().await;
}

/// Every `node` and nested `node` string in a JSON answer.
fn all_node_fields(value: &Json) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    match value {
        Json::Object(map) => {
            for (key, v) in map {
                match v {
                    Json::String(s) if key == "node" => {
                        found.insert(s.clone());
                    }
                    _ => found.extend(all_node_fields(v)),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|v| found.extend(all_node_fields(v))),
        _ => {}
    }
    found
}

/// Beta's TTL and node timeout in the stall test (its table says "5s").
const BETA_TTL: Duration = Duration::from_secs(5);
/// How long beta's nodes stay paused: past its TTL with 3.4 s to spare for alpha's
/// scrapes, and over before beta's node timeout, so beta is read late, not never.
const BETA_PAUSE: Duration = Duration::from_millis(8500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_dead_cluster_never_delays_or_changes_another() {
    let alpha = ValkeyCluster::start(3, 0);
    let mut beta = ValkeyCluster::start(3, 0);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "cache_ttl = \"1s\"\nnode_timeout = \"1s\"\n\
         [clusters.alpha]\nnodes = {}\n[clusters.beta]\nnodes = {}\ncache_ttl = \"5s\"\nnode_timeout = \"5s\"\n",
        seeds(&alpha),
        seeds(&beta)
    );
    let exporter = std::sync::Arc::new(exporter_with(dir.path(), &toml).await);
    let healthy = metrics_of(&exporter, "alpha").await;
    metrics_of(&exporter, "beta").await;

    // Every beta node stalls: beta's refresh now takes up to its 5 s node timeout. Once
    // beta's 5 s TTL has passed, about 3.4 s of pause remain, shorter than the node
    // timeout. The pause ends no earlier than `paused_until`, taken before it began:
    // until then beta's refresh cannot have finished, whatever the machine's load.
    let paused_until = Instant::now() + BETA_PAUSE;
    for addr in beta.primaries() {
        beta.cmd(&addr, &["CLIENT", "PAUSE", &BETA_PAUSE.as_millis().to_string(), "ALL"]);
    }
    tokio::time::sleep(BETA_TTL + Duration::from_millis(100)).await;
    let stalled = tokio::spawn({
        let exporter = exporter.clone();
        async move { metrics_of(&exporter, "beta").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut while_paused = 0;
    for _ in 0..5 {
        let during = metrics_of(&exporter, "alpha").await;
        let beta_finished = stalled.is_finished();
        // Only a scrape answered while beta was surely paused shows that beta's stall
        // costs alpha nothing; later ones (on a slow machine) still check alpha.
        if Instant::now() < paused_until {
            assert!(!beta_finished, "beta's refresh is still waiting for its paused nodes");
            while_paused += 1;
        }
        assert_eq!(nodes_in(&during), nodes_in(&healthy));
        assert_eq!(during.by_slot("valkey_slot_keys").len(), 16384, "alpha complete while beta stalls");
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    assert!(while_paused > 0, "no alpha scrape was answered within beta's {BETA_PAUSE:?} pause");
    let beta_stalled = stalled.await.unwrap();
    assert!(beta_stalled.named("valkey_node_up").any(|s| s.value == 1.0), "beta read late, once unpaused");

    // A dead beta node: beta reports it down, alpha is unchanged.
    let dead = beta.primaries()[1].clone();
    beta.kill(&dead);
    tokio::time::sleep(BETA_TTL + Duration::from_millis(100)).await;
    let beta_now = metrics_of(&exporter, "beta").await;
    assert_eq!(beta_now.node_value("valkey_node_up", &dead), Some(0.0));
    let alpha_now = metrics_of(&exporter, "alpha").await;
    assert_eq!(alpha_now.named("valkey_node_up").filter(|s| s.value == 1.0).count(), 3);
    assert_eq!(alpha_now.by_slot("valkey_slot_keys").len(), 16384);
    assert!(alpha_now.samples.iter().all(|s| !s.label("node").contains(&dead)));
    match std::sync::Arc::try_unwrap(exporter) {
        Ok(exporter) => exporter.stop().await,
        Err(_) => panic!("the exporter is still shared"),
    }
}
