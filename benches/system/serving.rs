//! `/metrics` under load against nginx serving the identical bytes, and the exporter's
//! peak RSS while it refreshes and serves every body.

use crate::support::ExporterBinary;
use crate::{Budget, load, procs, support};
use std::path::Path;
use std::time::{Duration, Instant};

const CONCURRENCY: [usize; 3] = [1, 16, 64];

/// The exporter binary cargo built for this benchmark (same release profile), as users
/// run it, serving `seed` on a fresh port.
pub(crate) fn start_exporter(seed: &str, ttl: &str, node_timeout: &str, include_replicas: bool) -> ExporterBinary {
    let replicas = if include_replicas { "true" } else { "false" };
    let timeouts = ["--cache-ttl", ttl, "--node-timeout", node_timeout];
    ExporterBinary::start(
        &[&timeouts[..], &["--nodes", seed, "--include-replicas", replicas, "--log-level", "warn"]].concat(),
    )
}

/// One serving measurement: exporter and nginx at one concurrency and encoding.
pub(crate) struct ServingRow {
    pub(crate) clients: usize,
    pub(crate) gzip: bool,
    pub(crate) exporter: load::LoadResult,
    pub(crate) nginx: load::LoadResult,
}

pub(crate) struct Serving {
    pub(crate) identity_len: usize,
    pub(crate) gzip_len: usize,
    pub(crate) rows: Vec<ServingRow>,
    pub(crate) nginx_workers: usize,
}

pub(crate) async fn measure_serving(exporter: &ExporterBinary, dir: &Path, budget: &Budget) -> Serving {
    // The first scrapes refresh and render; nginx then gets exactly those bytes.
    let (_, identity) = load::get(exporter.addr, "/metrics", None).await;
    let (coding, gzip) = load::get(exporter.addr, "/metrics", Some("gzip")).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let nginx = procs::Nginx::start(dir, &identity, &gzip, workers);
    let duration = Duration::from_secs_f64(budget.load_seconds);
    let mut rows = Vec::new();
    for gzip_wanted in [false, true] {
        let (len, coding) = if gzip_wanted { (gzip.len(), Some("gzip")) } else { (identity.len(), None) };
        let accept = gzip_wanted.then_some("gzip");
        let exporter_target = load::Target {
            addr: exporter.addr,
            path: "/metrics".into(),
            accept_encoding: accept,
            authorization: None,
            expected_len: len,
            expected_encoding: coding,
        };
        let nginx_target = load::Target {
            addr: nginx.addr,
            path: if gzip_wanted { "/metrics.gz".into() } else { "/metrics".into() },
            ..exporter_target.clone()
        };
        for clients in CONCURRENCY {
            eprintln!("   {clients} clients, {}", if gzip_wanted { "gzip" } else { "identity" });
            // Warm both, then measure each; the order alternates to spread drift.
            load::run(&exporter_target, clients, Duration::from_millis(200)).await;
            load::run(&nginx_target, clients, Duration::from_millis(200)).await;
            let exporter = load::run(&exporter_target, clients, duration).await;
            let nginx = load::run(&nginx_target, clients, duration).await;
            rows.push(ServingRow { clients, gzip: gzip_wanted, exporter, nginx });
        }
    }
    Serving { identity_len: identity.len(), gzip_len: gzip.len(), rows, nginx_workers: workers }
}

/// Peak RSS of an exporter process that refreshes every second (the shortest TTL) for
/// `seconds` while being scraped in every format and encoding and asked for the full JSON range.
pub(crate) async fn peak_rss(seed: &str, replicas: bool, seconds: f64) -> (u64, u64) {
    let exporter = start_exporter(seed, "1s", "1s", replicas);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        let scrapes = [
            load::get(exporter.addr, "/metrics", None),
            load::get(exporter.addr, "/metrics", Some("gzip")),
            load::get(exporter.addr, "/api/cluster/slot-stats", None),
        ];
        futures_util::future::join_all(scrapes).await;
        openmetrics_scrape(exporter.addr).await;
    }
    let (peak, now) = procs::rss(exporter.pid());
    (peak, now)
}

/// An OpenMetrics scrape with gzip, as Prometheus sends it.
async fn openmetrics_scrape(addr: std::net::SocketAddr) {
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let request = support::http::Request::get("/metrics").header("accept", accept).header("accept-encoding", "gzip");
    request.send(addr).await;
}
