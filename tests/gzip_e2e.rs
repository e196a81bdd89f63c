//! `/metrics` with `Accept-Encoding: gzip` against a real Valkey 8 cluster: the gzip
//! body decodes to exactly the identity body of the same snapshot, in both formats,
//! whichever of the two is asked for first.

mod exporter_support;
mod support;

use exporter_support::{HttpResponse, RunningExporter, start_exporter};
use std::io::Read;
use support::{ValkeyCluster, expected_keys, fill};

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// GET /metrics, which must answer 200 (its body stays bytes: a gzip body is not UTF-8).
async fn get(exporter: &RunningExporter, headers: &[(&str, &str)]) -> HttpResponse {
    let response = exporter.request("GET", "/metrics", headers).await;
    assert_eq!(response.status, 200);
    response
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("a valid gzip stream");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_responses_decode_to_exactly_the_identity_body() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    // One snapshot for the whole test, so both encodings show the same data.
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "5m"]).await;

    // Text: identity first, then gzip (compressed from the rendered body).
    let plain = get(&exporter, &[]).await;
    let gzip = get(&exporter, &[("accept-encoding", "gzip, deflate")]).await;
    // OpenMetrics: gzip first (rendered straight into gzip), then identity.
    let om_gzip = get(&exporter, &[("accept", OPENMETRICS), ("accept-encoding", "gzip")]).await;
    let om_plain = get(&exporter, &[("accept", OPENMETRICS)]).await;

    for identity in [&plain, &om_plain] {
        assert_eq!(identity.header("content-encoding"), None);
        assert_eq!(identity.header("vary"), Some("Accept-Encoding"));
        assert!(identity.body.len() > 1_000_000, "a full snapshot: {} bytes", identity.body.len());
    }
    for (gzipped, identity) in [(&gzip, &plain), (&om_gzip, &om_plain)] {
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
        assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"));
        assert_eq!(gzipped.header("content-type"), identity.header("content-type"));
        let (zipped, whole) = (gzipped.body.len(), identity.body.len());
        assert!(zipped * 4 < whole, "gzip is much smaller: {zipped} vs {whole}");
        assert!(gunzip(&gzipped.body) == identity.body.as_ref(), "the gzip body decodes to exactly the identity body");
    }
    assert!(om_plain.body.ends_with(b"# EOF\n") && !plain.body.ends_with(b"# EOF\n"));

    // A client that refuses gzip gets identity.
    let refused = get(&exporter, &[("accept-encoding", "gzip;q=0, identity")]).await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);
    exporter.stop().await;
}
