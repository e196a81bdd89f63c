//! Authentication to Valkey: a least-privilege ACL user reads every slot, a wrong
//! password marks every node down, and the password never shows.

use crate::exporter_support::{Metrics, start_exporter};
use crate::plain;
use crate::support::{ExporterBinary, SLOT_COUNT, ValkeyCluster, acl, http};
use clap::Parser;
use valkey_slot_exporter::config::{self, Cli};
/// Distinctive, so that a leak cannot hide behind a common word.
const GOOD_PASSWORD: &str = "Gd-pw-7Qx3vKz9-Wq";
const WRONG_PASSWORD: &str = "Wr-pw-Lm4tZr8-Yn";
const ACL_USER: &str = "slotexporter";

/// The bare minimum that still reads every slot: the exporter tolerates the refusal of
/// the rest (no versions, no slot-less primaries, no open slots), which then shows up in
/// `ACL LOG`: `CLUSTER SHARDS` once, `CLIENT ID` and `INFO` once per connection,
/// `CLUSTER NODES` on every refresh.
const ACL_RULE_MINIMAL: &[&str] =
    &["on", "resetkeys", "resetchannels", "-@all", "+cluster|slots", "+cluster|slot-stats"];
const ACL_USER_MINIMAL: &str = "slotexporter-min";

/// Creates both exporter users, with the same password, on every node.
fn create_acl_users(cluster: &ValkeyCluster) {
    acl::create_user(cluster, ACL_USER, &acl::exporter_rules(), GOOD_PASSWORD);
    acl::create_user(cluster, ACL_USER_MINIMAL, ACL_RULE_MINIMAL, GOOD_PASSWORD);
}

fn assert_no_leak(what: &str, text: &str) {
    for secret in [GOOD_PASSWORD, WRONG_PASSWORD] {
        assert!(!text.contains(secret), "{what} contains the password {secret}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_least_privilege_acl_user_reads_every_slot_and_its_password_is_never_shown() {
    let cluster = ValkeyCluster::start(3, 0);
    create_acl_users(&cluster);
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{GOOD_PASSWORD}\n")).unwrap();
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &cluster.seed_url(),
        "--username",
        ACL_USER,
        "--password-file",
        password_file.to_str().unwrap(),
        "--log-level",
        "trace",
    ]);

    let api = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(api.status, 200, "{}\n{}", api.text(), exporter.stderr());
    let data = &api.json()["data"];
    assert_eq!(data["total_slots"], SLOT_COUNT, "{}", api.text());
    assert_eq!(data["nodes_failed"], serde_json::json!([]), "{}", api.text());
    let metrics_body = http::request(exporter.addr, "GET", "/metrics", &[]).await.text().to_owned();
    let metrics = Metrics::parse(&metrics_body);
    assert_eq!(metrics.by_slot("valkey_slot_keys").len(), usize::from(SLOT_COUNT));
    for node in cluster.primaries() {
        assert_eq!(metrics.node_value("valkey_node_up", &node), Some(1.0), "{node}\n{metrics_body}");
    }
    // Nothing the exporter sent was refused: the rule is enough, not merely tolerated.
    assert_eq!(acl::denials(&cluster), vec![], "ACL denials with the README's rule");

    let log = plain(&exporter.stderr());
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "trace logging is on:\n{log}");
    assert_no_leak("stderr at trace level", &log);
    assert_no_leak("/metrics", &metrics_body);
    assert_no_leak("JSON", api.text());
    for path in ["/", "/api/cluster/slot-stats?slot=0-10", "/nope"] {
        let response = http::request(exporter.addr, "GET", path, &[]).await;
        assert_no_leak(path, response.text());
    }
    drop(exporter);

    // The bare minimum works too; only the optional commands are refused.
    let exporter =
        start_exporter(&["--nodes", &cluster.seed_url(), "--username", ACL_USER_MINIMAL, "--password", GOOD_PASSWORD])
            .await;
    let api = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["data"]["total_slots"], SLOT_COUNT, "{}", api.text());
    assert_eq!(api.json()["data"]["nodes_failed"], serde_json::json!([]), "{}", api.text());
    let refused: std::collections::BTreeSet<(String, String)> =
        acl::denials(&cluster).into_iter().map(|d| (d.user, d.object)).collect();
    let expected = ["client|id", "info", "cluster|shards", "cluster|nodes"]
        .map(|object| (ACL_USER_MINIMAL.to_owned(), object.to_owned()));
    assert_eq!(refused, expected.into_iter().collect(), "with rule {ACL_RULE_MINIMAL:?}");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_marks_every_node_down_with_authentication_failed_and_is_never_shown() {
    let cluster = ValkeyCluster::start(3, 0);
    create_acl_users(&cluster);
    let nodes: Vec<String> = cluster.node_addrs().iter().map(|a| format!("redis://{a}")).collect();
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &nodes.join(","),
        "--username",
        ACL_USER,
        "--password",
        WRONG_PASSWORD,
        "--log-level",
        "trace",
        "--cache-ttl",
        "1s",
        "--node-timeout",
        "1s",
    ]);

    let metrics_body = http::request(exporter.addr, "GET", "/metrics", &[]).await.text().to_owned();
    let metrics = Metrics::parse(&metrics_body);
    for node in cluster.node_addrs() {
        assert_eq!(metrics.node_value("valkey_node_up", &node), Some(0.0), "{node}\n{metrics_body}");
    }
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);

    let api = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(api.status, 503, "{}", api.text());
    let body = api.json();
    assert_eq!(body["error"]["code"], "cluster_unreachable", "{}", api.text());
    let message = body["error"]["message"].as_str().unwrap();
    for node in cluster.node_addrs() {
        assert!(message.contains(&format!("{node}: authentication failed")), "{message}");
    }

    let log = plain(&exporter.stderr());
    for node in cluster.node_addrs() {
        let line = log
            .lines()
            .find(|l| l.contains("node did not answer") && l.contains(&format!("node={node}")))
            .unwrap_or_else(|| panic!("no failure line for {node}:\n{log}"));
        assert!(line.contains("authentication failed"), "{line}");
        assert!(line.contains("WRONGPASS"), "the server's reason is kept: {line}");
    }
    assert_no_leak("stderr at trace level", &log);
    assert_no_leak("/metrics", &metrics_body);
    assert_no_leak("JSON", api.text());
    let index = http::request(exporter.addr, "GET", "/", &[]).await;
    assert_no_leak("/", index.text());
}

#[test]
fn the_password_is_not_in_help_or_in_the_parsed_settings() {
    let output = ExporterBinary::run(&["--help"], &[("VALKEY_SLOT_EXPORTER_PASSWORD", GOOD_PASSWORD)]);
    assert!(output.status.success());
    assert_no_leak("--help", &output.stdout);
    assert_no_leak("--help stderr", &output.stderr);

    let parse = |args: &[&str]| {
        let mut argv = vec!["valkey-slot-exporter"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse")
    };
    let cli = parse(&["--password", GOOD_PASSWORD, "--username", ACL_USER]);
    assert_no_leak("Debug of Cli", &format!("{cli:?}"));
    let settings = config::load(cli);
    let shown = format!("{settings:?}");
    assert!(shown.contains(ACL_USER) && shown.contains(config::REDACTED), "{shown}");
    assert_no_leak("Debug of Settings", &shown);
    assert_eq!(settings.unwrap().clusters[0].password.as_ref().unwrap().expose(), GOOD_PASSWORD);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, GOOD_PASSWORD).unwrap();
    let settings = config::load(parse(&["--password-file", file.to_str().unwrap()]));
    assert_no_leak("Debug of Settings (password file)", &format!("{settings:?}"));
    // A failed load names the problem, not the secret.
    let error = config::load(parse(&["--password", GOOD_PASSWORD, "--password-file", file.to_str().unwrap()]));
    assert_no_leak("configuration error", &error.unwrap_err().to_string());
}
