//! `/metrics` with `Accept-Encoding: gzip` against a real Valkey 8 cluster: the gzip
//! body decodes to exactly the identity body of the same snapshot, in both formats,
//! whichever of the two is asked for first.

mod exporter_support;
mod support;

use bytes::Bytes;
use exporter_support::start_exporter;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use std::io::Read;
use std::net::SocketAddr;
use support::{ValkeyCluster, expected_keys, fill};
use tokio::net::TcpStream;

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// A GET whose body is returned as bytes (a gzip body is not UTF-8).
async fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> (hyper::HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect to exporter");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("HTTP handshake");
    tokio::spawn(connection);
    let mut request = Request::get("/metrics").header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new()).expect("request")).await.expect("response");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.into_body().collect().await.expect("body").to_bytes())
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
    let (plain_headers, plain) = get(exporter.addr, &[]).await;
    let (gzip_headers, gzipped) = get(exporter.addr, &[("accept-encoding", "gzip, deflate")]).await;
    // OpenMetrics: gzip first (rendered straight into gzip), then identity.
    let (om_gzip_headers, om_gzipped) =
        get(exporter.addr, &[("accept", OPENMETRICS), ("accept-encoding", "gzip")]).await;
    let (om_plain_headers, om_plain) = get(exporter.addr, &[("accept", OPENMETRICS)]).await;

    for (headers, body) in [(&plain_headers, &plain), (&om_plain_headers, &om_plain)] {
        assert_eq!(header(headers, "content-encoding"), None);
        assert_eq!(header(headers, "vary"), Some("Accept-Encoding"));
        assert!(body.len() > 1_000_000, "a full snapshot: {} bytes", body.len());
    }
    let pairs = [
        (&gzip_headers, &gzipped, &plain_headers, &plain),
        (&om_gzip_headers, &om_gzipped, &om_plain_headers, &om_plain),
    ];
    for (headers, body, identity_headers, identity) in pairs {
        assert_eq!(header(headers, "content-encoding"), Some("gzip"));
        assert_eq!(header(headers, "vary"), Some("Accept-Encoding"));
        assert_eq!(header(headers, "content-type"), header(identity_headers, "content-type"));
        assert!(body.len() * 4 < identity.len(), "gzip is much smaller: {} vs {}", body.len(), identity.len());
        assert!(gunzip(body) == identity.as_ref(), "the gzip body decodes to exactly the identity body");
    }
    assert!(om_plain.ends_with(b"# EOF\n") && !plain.ends_with(b"# EOF\n"));

    // A client that refuses gzip gets identity.
    let (refused_headers, refused) = get(exporter.addr, &[("accept-encoding", "gzip;q=0, identity")]).await;
    assert_eq!(header(&refused_headers, "content-encoding"), None);
    assert_eq!(refused, plain);
    exporter.stop().await;
}
