//! Settings from the environment against a real cluster: a password that figment's
//! `Env` would have parsed (`007` as the number 7) authenticates as given.

mod exporter_support;
mod support;

use exporter_support::Metrics;
use support::{ExporterBinary, ValkeyCluster, acl, http};

/// A user of its own, so that nothing else on the cluster authenticates as it.
const USER: &str = "env-exporter";
/// Digits with a leading zero: read as a number, it would become `7`.
const PASSWORD: &str = "007";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_of_digits_from_the_environment_authenticates_as_given() {
    let cluster = ValkeyCluster::start(3, 0);
    acl::create_user(&cluster, USER, &acl::exporter_rules(), PASSWORD);
    let env = [("VALKEY_SLOT_EXPORTER_USERNAME", USER), ("VALKEY_SLOT_EXPORTER_PASSWORD", PASSWORD)];
    let exporter = ExporterBinary::start_with_env(&["--nodes", &cluster.seed_url()], &env);

    let body = http::request(exporter.addr, "GET", "/metrics", &[]).await;
    assert_eq!(body.status, 200, "{}\n{}", body.text(), exporter.stderr());
    let metrics = Metrics::parse(body.text());
    for node in cluster.primaries() {
        let up = metrics.node_value("valkey_node_up", &node);
        assert_eq!(up, Some(1.0), "{node}\n{}\n{}", body.text(), exporter.stderr());
    }
    assert_eq!(acl::denials(&cluster), vec![], "no AUTH was refused");
}
