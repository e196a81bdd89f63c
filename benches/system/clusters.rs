//! Many clusters in one process (issue 12): what an extra cluster costs, and whether
//! one stalled cluster slows the others.
//!
//! Ten clusters of three primaries, each filled like the other sections' cluster. Two
//! release exporters run side by side: one serving all ten, one serving only the first.
//! Both are scraped every 5 s (their cache TTL), like Prometheus would, for a minute:
//! - peak RSS of each, and (ten − one) / 9: what one more cluster costs;
//! - the first cluster's (c0) refresh time in each (`valkey_exporter_refresh_duration`);
//! - then, in the ten-cluster exporter, `/metrics` latency of c1–c9 while
//!   nothing is wrong, and while every node of c0 is paused (`CLIENT PAUSE`),
//!   c0 being scraped all along as Prometheus would: the p99 of each cluster,
//!   normal and paused. The two phases alternate every 5 s, so that the machine's
//!   other load falls on both alike.

use crate::load::{median, percentile};
use crate::procs;
use crate::support::http::Request;
use crate::support::{ExporterBinary, ValkeyCluster, fill};
use std::fmt::Write as _;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const CLUSTERS: usize = 10;
const SCRAPE_EVERY: Duration = Duration::from_secs(5);

/// `count` clusters of 3 primaries, each filled with `keys_per_slot` keys per slot,
/// started on the calling (main) thread (their servers die with the thread that
/// started them). The fleet section reuses this with 50 clusters and few keys.
pub fn start_clusters(count: usize, keys_per_slot: fn(u16) -> u64) -> Vec<ValkeyCluster> {
    (0..count)
        .map(|i| {
            eprintln!("   cluster {} of {count}", i + 1);
            let cluster = ValkeyCluster::start(3, 0);
            fill(&cluster, keys_per_slot);
            cluster
        })
        .collect()
}

/// An exporter serving `clusters`, named c0, c1, ... in a config file at `config`,
/// every cluster with the cache TTL `ttl`.
pub fn start_exporter(clusters: &[ValkeyCluster], ttl: &str, config: &Path) -> ExporterBinary {
    let mut toml = format!("cache_ttl = \"{ttl}\"\n");
    for (i, cluster) in clusters.iter().enumerate() {
        let _ = writeln!(toml, "[clusters.c{i}]\nnodes = [\"{}\"]", cluster.seed_url());
    }
    std::fs::write(config, toml).expect("write the config");
    ExporterBinary::start(&["--config", config.to_str().expect("UTF-8 path"), "--log-level", "warn"])
}

#[derive(Default)]
pub struct Figures {
    seconds: f64,
    peak_rss_one: u64,
    peak_rss_ten: u64,
    refresh_one_ms: Vec<f64>,
    refresh_ten_ms: Vec<f64>,
    /// Per cluster c1..c9: (p99 ms before, p99 ms while c0 is paused, samples).
    p99: Vec<(f64, f64, usize)>,
}

/// Scrapes both exporters every 5 s for `seconds`, gathering refresh times and RSS.
pub async fn scrape_side_by_side(one: &ExporterBinary, ten: &ExporterBinary, seconds: f64) -> Figures {
    let mut figures = Figures { seconds, ..Figures::default() };
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut round = 0;
    while Instant::now() < until {
        let started = Instant::now();
        // Which exporter goes first alternates, so neither always follows the other's work.
        if round % 2 == 0 {
            figures.refresh_one_ms.push(scrape(one.addr, 0).await);
        }
        for i in 0..CLUSTERS {
            let refreshed = scrape(ten.addr, i).await;
            if i == 0 {
                figures.refresh_ten_ms.push(refreshed);
            }
        }
        if round % 2 == 1 {
            figures.refresh_one_ms.push(scrape(one.addr, 0).await);
        }
        round += 1;
        tokio::time::sleep(SCRAPE_EVERY.saturating_sub(started.elapsed())).await;
    }
    figures.peak_rss_one = procs::rss(one.pid()).1;
    figures.peak_rss_ten = procs::rss(ten.pid()).1;
    figures
}

/// One gzip scrape of cluster `c{index}`; the refresh time it reports, in ms.
async fn scrape(addr: SocketAddr, index: usize) -> f64 {
    let path = format!("/metrics?cluster=c{index}");
    let response = Request::get(&path).header("accept-encoding", "gzip").send(addr).await;
    assert_eq!(response.status, 200, "{path}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&response.body[..]).read_to_string(&mut text).expect("gzip body");
    let line = text
        .lines()
        .find(|l| l.starts_with("valkey_exporter_refresh_duration_seconds "))
        .expect("the refresh duration");
    line.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()).expect("a number") * 1e3
}

/// Latencies of one scrape loop: every `every`, a gzip `/metrics` of `c{index}`,
/// each sample tagged with whether c0 was paused when it started.
async fn scrape_loop(
    ten: SocketAddr,
    index: usize,
    paused: Arc<AtomicBool>,
    until: Instant,
    every: Duration,
) -> Vec<(bool, Duration)> {
    let mut samples = Vec::new();
    let path = format!("/metrics?cluster=c{index}");
    while Instant::now() < until {
        let (started, during) = (Instant::now(), paused.load(Ordering::Relaxed));
        let response = Request::get(&path).header("accept-encoding", "gzip").send(ten).await;
        assert_eq!(response.status, 200, "{path}");
        samples.push((during, started.elapsed()));
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    samples
}

/// p99 of c1..c9, normal and while every node of c0 is paused; the two
/// phases alternate every 5 s for `seconds`, and c0 is scraped all along.
pub async fn stalled_neighbour(ten: &ExporterBinary, first: &ValkeyCluster, seconds: f64, figures: &mut Figures) {
    let paused = Arc::new(AtomicBool::new(false));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut loops = Vec::new();
    for index in 0..CLUSTERS {
        let every = if index == 0 { SCRAPE_EVERY } else { Duration::from_millis(100) };
        loops.push(tokio::spawn(scrape_loop(ten.addr, index, paused.clone(), until, every)));
    }
    let phase = SCRAPE_EVERY;
    while Instant::now() + phase < until {
        let pause = !paused.load(Ordering::Relaxed);
        for node in first.primaries() {
            if pause {
                first.cmd(&node, &["CLIENT", "PAUSE", &(phase.as_millis() * 2).to_string(), "ALL"]);
            } else {
                first.cmd(&node, &["CLIENT", "UNPAUSE"]);
            }
        }
        paused.store(pause, Ordering::Relaxed);
        tokio::time::sleep(phase).await;
    }
    for node in first.primaries() {
        first.cmd(&node, &["CLIENT", "UNPAUSE"]);
    }
    let mut all = Vec::new();
    for handle in loops {
        all.push(handle.await.expect("scrape loop"));
    }
    let p99 = |mut s: Vec<Duration>| {
        s.sort();
        (percentile(&s, 0.99).as_secs_f64() * 1e3, s.len())
    };
    figures.p99 = all
        .into_iter()
        .skip(1)
        .map(|samples| {
            let (normal, during): (Vec<_>, Vec<_>) = samples.into_iter().partition(|(p, _)| !p);
            let (before, n) = p99(normal.into_iter().map(|(_, d)| d).collect());
            let (while_paused, m) = p99(during.into_iter().map(|(_, d)| d).collect());
            (before, while_paused, n.min(m))
        })
        .collect();
}

impl Figures {
    pub fn markdown(&self) -> String {
        let mb = |b: u64| b as f64 / 1e6;
        let per_extra = (mb(self.peak_rss_ten) - mb(self.peak_rss_one)) / (CLUSTERS - 1) as f64;
        let (one, ten) = (median(&self.refresh_one_ms), median(&self.refresh_ten_ms));
        let mut o = String::new();
        let _ =
            writeln!(o, "### Ten clusters in one process ({:.0} s of scrapes every 5 s, side by side)\n", self.seconds);
        let _ = writeln!(o, "| figure | one cluster | ten clusters | ratio / per cluster | aim |");
        let _ = writeln!(o, "|---|---:|---:|---:|---|");
        let _ = writeln!(
            o,
            "| peak RSS | {:.1} MB | {:.1} MB | {per_extra:.1} MB per extra cluster | under 12 MB |",
            mb(self.peak_rss_one),
            mb(self.peak_rss_ten)
        );
        let _ = writeln!(o, "| refresh of c0, median | {one:.1} ms | {ten:.1} ms | {:.2}× | within 10% |", ten / one);
        let _ = writeln!(
            o,
            "\n`/metrics` p99 of each other cluster, normal and while every node of c0 is paused (phases of 5 s, alternating):\n"
        );
        let _ = writeln!(o, "| cluster | p99 normal ms | p99 paused ms | ratio | samples per phase |");
        let _ = writeln!(o, "|---|---:|---:|---:|---:|");
        for (i, (before, during, samples)) in self.p99.iter().enumerate() {
            let _ = writeln!(o, "| c{} | {before:.1} | {during:.1} | {:.2} | {samples} |", i + 1, during / before);
        }
        let worst = self.p99.iter().map(|(b, d, _)| d / b).fold(0.0, f64::max);
        let _ = writeln!(o, "\nWorst ratio {worst:.2} (aim: unchanged within 20%, i.e. ≤ 1.20).\n");
        o
    }
}
