//! The fleet (issue 18): how many clusters one exporter serves, per core and per
//! 256 MiB, and what two exporters for availability cost each cluster
//! ([`fleet_replicas`](crate::fleet_replicas)).
//!
//! Fifty clusters of 3 primaries, one key per slot (the 16,384-slot reply is what is
//! measured, not keys). Three release exporters run side by side, each from a clusters
//! file at the default cache TTL (30 s): one serving c0, one c0–c9, one c0–c49. Every
//! cluster of every exporter is scraped every 15 s as Prometheus scrapes the targets
//! `/sd` announces: `/metrics?cluster=NAME`, OpenMetrics with gzip, a fresh connection,
//! a 10 s timeout, each target at its own offset within the interval (Prometheus
//! spreads targets the same way). After a warm-up (first refreshes, connections, first
//! renders), for the measured window:
//! - the exporter's CPU time (`/proc/PID/stat`) over the refreshes that started in the
//!   window: one refresh round is one refresh of every cluster;
//! - its RSS every second (the median is the steady figure) and `VmHWM` (peak);
//! - every scrape's latency, connect to last body byte, and its p99 over all clusters;
//! - every new snapshot's `valkey_exporter_refresh_duration_seconds`: the refresh of
//!   one cluster.
//!
//! The one-cluster exporter is the baseline: the others' per-cluster figures are given
//! as ratios to it. Running the three at once puts the machine's other load on all alike.

use crate::load::{median, percentile};
use crate::procs;
use crate::support::http::Request;
use crate::support::{ExporterBinary, ValkeyCluster};
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Clusters per exporter; the first is the baseline.
pub const SIZES: [usize; 3] = [1, 10, 50];

/// Prometheus's usual scrape interval.
pub const SCRAPE_EVERY: Duration = Duration::from_secs(15);

/// Prometheus's default `scrape_timeout`.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// What Prometheus 2.x sends.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// Share of one core the sizing rule lets refreshes use: refreshes come in bursts
/// (targets whose scrape offsets fall together, a slow node, reconnects after a
/// failover), and the scrapes' own work must still find a free core.
pub const CPU_HEADROOM: f64 = 0.5;

/// Share of a memory limit the sizing rule fills with measured peak RSS: the rest is
/// for what the measurement does not show (replies during a resharding, clients slow
/// to read a body, allocator fragmentation over weeks).
pub const MEMORY_HEADROOM: f64 = 0.75;

/// How long the scrapes run before, and then while, anything is measured.
#[derive(Clone, Copy)]
pub struct Window {
    pub warm_up: Duration,
    pub measured: Duration,
}

/// One scrape target (an exporter's cluster) seen through its scrapes in the window.
#[derive(Default)]
pub struct TargetLog {
    /// Latency of each scrape that started in the window.
    pub latencies: Vec<Duration>,
    /// `valkey_exporter_refresh_duration_seconds` of each snapshot first served in the
    /// window, in ms: one per refresh that started in it.
    pub refreshes_ms: Vec<f64>,
    /// Scrapes, warm-up included, that got no 200 within the timeout, with why.
    pub failures: Vec<String>,
}

/// One exporter over the window.
pub struct ExporterLog {
    /// One per cluster, in `/sd` order.
    pub targets: Vec<TargetLog>,
    /// CPU seconds the process used in the window.
    pub cpu_seconds: f64,
    /// VmRSS sampled every second in the window, bytes.
    pub rss_samples: Vec<u64>,
    /// VmHWM at the end: the peak over the process's life, warm-up included.
    pub peak_rss: u64,
}

impl ExporterLog {
    pub fn refreshes(&self) -> usize {
        self.targets.iter().map(|t| t.refreshes_ms.len()).sum()
    }
}

/// The `/metrics` paths of every cluster `exporter` serves, from its `/sd`, as
/// Prometheus's HTTP service discovery reads them.
pub async fn discovered_paths(exporter: &ExporterBinary) -> Vec<String> {
    let answer = Request::get("/sd").send(exporter.addr).await;
    assert_eq!(answer.status, 200, "/sd: {}", answer.text());
    let groups = answer.json();
    let groups = groups.as_array().expect("/sd is an array");
    groups
        .iter()
        .map(|g| g["labels"]["__param_cluster"].as_str().expect("__param_cluster").to_string())
        .map(|name| format!("/metrics?cluster={name}"))
        .collect()
}

/// Scrapes every path of every exporter every 15 s from now until the window ends,
/// each at its own offset, measuring as the module says. `at_window_start` runs once
/// the warm-up is over, before anything is measured (the replicas reset the servers'
/// statistics there).
pub async fn scrape_side_by_side(
    exporters: &[(&ExporterBinary, Vec<String>)],
    window: Window,
    at_window_start: impl FnOnce(),
) -> Vec<ExporterLog> {
    let first = Instant::now();
    let (start, end) = (first + window.warm_up, first + window.warm_up + window.measured);
    let mut tasks = Vec::new();
    for (e, (exporter, paths)) in exporters.iter().enumerate() {
        let mut handles = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            // Spread over the interval, and shifted per exporter so that no two
            // exporters' scrapes coincide; window edges (multiples of 15 s) fall
            // between a lone target's scrapes.
            let shift = (i as f64 + (e + 1) as f64 / (exporters.len() + 1) as f64) / paths.len() as f64;
            let offset = SCRAPE_EVERY.mul_f64(shift);
            handles.push(tokio::spawn(scrape_target(exporter.addr, path.clone(), first + offset, (start, end))));
        }
        tasks.push(handles);
    }
    tokio::time::sleep_until(start.into()).await;
    at_window_start();
    let pids: Vec<libc::pid_t> = exporters.iter().map(|(e, _)| e.pid()).collect();
    let cpu_start: Vec<f64> = pids.iter().map(|&p| procs::cpu_seconds(p)).collect();
    let mut rss_samples = vec![Vec::new(); pids.len()];
    while Instant::now() < end {
        for (samples, &pid) in rss_samples.iter_mut().zip(&pids) {
            samples.push(procs::rss(pid).1);
        }
        tokio::time::sleep(Duration::from_secs(1).min(end.saturating_duration_since(Instant::now()))).await;
    }
    let cpu_end: Vec<f64> = pids.iter().map(|&p| procs::cpu_seconds(p)).collect();
    let mut logs = Vec::new();
    for (e, handles) in tasks.into_iter().enumerate() {
        let mut targets = Vec::new();
        for handle in handles {
            targets.push(handle.await.expect("scrape loop"));
        }
        logs.push(ExporterLog {
            targets,
            cpu_seconds: cpu_end[e] - cpu_start[e],
            rss_samples: std::mem::take(&mut rss_samples[e]),
            peak_rss: procs::rss(pids[e]).0,
        });
    }
    logs
}

/// Scrapes `path` every 15 s from `first` until `window.1`.
async fn scrape_target(addr: SocketAddr, path: String, first: Instant, window: (Instant, Instant)) -> TargetLog {
    let mut log = TargetLog::default();
    let mut served: Option<f64> = None;
    let mut at = first;
    while at < window.1 {
        tokio::time::sleep_until(at.into()).await;
        at += SCRAPE_EVERY;
        let started = Instant::now();
        let request = Request::get(&path).header("accept", ACCEPT).header("accept-encoding", "gzip");
        let answer = request.timeout(SCRAPE_TIMEOUT).try_send(addr).await;
        let took = started.elapsed();
        let in_window = started >= window.0;
        let answer = match answer {
            Ok(answer) if answer.status == 200 => answer,
            Ok(answer) => {
                log.failures.push(format!("{path}: {} {}", answer.status, String::from_utf8_lossy(&answer.body)));
                continue;
            }
            Err(error) => {
                log.failures.push(error);
                continue;
            }
        };
        // Off the async threads: a 4.6 MB gunzip would hold up other scrapes' timing.
        let (taken_at, refresh_s) =
            tokio::task::spawn_blocking(move || own_gauges(&answer.body)).await.expect("gunzip");
        if in_window {
            log.latencies.push(took);
            if served != Some(taken_at) {
                log.refreshes_ms.push(refresh_s * 1e3);
            }
        }
        served = Some(taken_at);
    }
    log
}

/// `valkey_exporter_last_refresh_timestamp_seconds` and
/// `valkey_exporter_refresh_duration_seconds` of a gzipped exposition.
fn own_gauges(gzipped: &[u8]) -> (f64, f64) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gzipped).read_to_string(&mut text).expect("a gzip body");
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in the scrape"))
    };
    (gauge("valkey_exporter_last_refresh_timestamp_seconds"), gauge("valkey_exporter_refresh_duration_seconds"))
}

/// The fleet's figures, one exporter per entry of [`SIZES`].
pub struct Figures {
    window: Window,
    /// Memory the machine had available before and after the clusters started, bytes.
    available: (u64, u64),
    logs: Vec<ExporterLog>,
}

/// Measures the exporters of [`start_exporters`] side by side, as the module says.
pub async fn measure(exporters: &[ExporterBinary], window: Window, available: (u64, u64)) -> Figures {
    let mut targets = Vec::new();
    for exporter in exporters {
        targets.push((exporter, discovered_paths(exporter).await));
    }
    for ((_, paths), size) in targets.iter().zip(SIZES) {
        assert_eq!(paths.len(), size, "/sd lists every cluster");
    }
    let logs = scrape_side_by_side(&targets, window, || {}).await;
    Figures { window, available, logs }
}

/// The exporters, started on the main thread (they die with the thread that started
/// them), one per entry of [`SIZES`], each serving the first clusters at the default TTL.
pub fn start_exporters(clusters: &[ValkeyCluster], dir: &std::path::Path) -> Vec<ExporterBinary> {
    let ttl = format!("{}s", crate::footprint::DEFAULT_TTL.as_secs());
    SIZES
        .iter()
        .map(|&n| crate::clusters::start_exporter(&clusters[..n], &ttl, &dir.join(format!("fleet-{n}.toml"))))
        .collect()
}

/// `MemAvailable` from `/proc/meminfo`, bytes.
pub fn mem_available() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

const MIB: f64 = 1024.0 * 1024.0;

impl Figures {
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let ttl = crate::footprint::DEFAULT_TTL.as_secs_f64();
        let _ = writeln!(
            o,
            "### The fleet: 1, 10 and 50 clusters in one exporter ({:.0} s measured after {:.0} s of warm-up, side by side)\n",
            self.window.measured.as_secs_f64(),
            self.window.warm_up.as_secs_f64()
        );
        let _ = writeln!(
            o,
            "Clusters of 3 primaries, 1 key per slot; cache TTL {ttl:.0} s; every cluster scraped every {} s \
             (OpenMetrics, gzip). {} valkey-server processes took {:.0} MiB of the machine's memory ({:.0} MiB \
             available before, {:.0} MiB after).\n",
            SCRAPE_EVERY.as_secs(),
            SIZES[SIZES.len() - 1] * 3,
            (self.available.0.saturating_sub(self.available.1)) as f64 / MIB,
            self.available.0 as f64 / MIB,
            self.available.1 as f64 / MIB,
        );
        let _ = writeln!(
            o,
            "| clusters | refreshes | CPU s in window | CPU s per refresh round | CPU ms per cluster refresh (× 1 cluster) | peak RSS MiB | steady RSS MiB | `/metrics` p50 ms | `/metrics` p99 ms (× 1 cluster) | refresh of one cluster, median ms (× 1 cluster) | refresh p99 ms | scrapes (failed, warm-up included) |"
        );
        let _ = writeln!(o, "|---:|---:|---:|---:|---|---:|---:|---:|---|---|---:|---|");
        let base = self.logs.first().map(Row::of);
        for (log, n) in self.logs.iter().zip(SIZES) {
            let row = Row::of(log);
            let b = base.as_ref().unwrap_or(&row);
            let _ = writeln!(
                o,
                "| {n} | {} | {:.2} | {:.3} | {:.1} ({:.2}×) | {:.1} | {:.1} | {:.1} | {:.1} ({:.2}×) | {:.1} ({:.2}×) | {:.1} | {} ({}) |",
                row.refreshes,
                log.cpu_seconds,
                row.cpu_per_cluster * n as f64,
                row.cpu_per_cluster * 1e3,
                row.cpu_per_cluster / b.cpu_per_cluster,
                log.peak_rss as f64 / MIB,
                row.steady_rss / MIB,
                row.p50_ms,
                row.p99_ms,
                row.p99_ms / b.p99_ms,
                row.refresh_median_ms,
                row.refresh_median_ms / b.refresh_median_ms,
                row.refresh_p99_ms,
                row.scrapes,
                row.failures,
            );
        }
        for failure in self.logs.iter().flat_map(|l| l.targets.iter().flat_map(|t| t.failures.iter())) {
            let _ = writeln!(o, "\nFailed scrape: {failure}");
        }
        o.push_str(&self.sizing());
        o
    }

    /// Clusters per core and per 256 MiB, from the largest exporter against the smallest.
    fn sizing(&self) -> String {
        let (Some(small), Some(large)) = (self.logs.first(), self.logs.last()) else { return String::new() };
        let (n_small, n_large) = (SIZES[0] as f64, SIZES[SIZES.len() - 1] as f64);
        let ttl = crate::footprint::DEFAULT_TTL.as_secs_f64();
        let cpu = Row::of(large).cpu_per_cluster;
        let per_core = (CPU_HEADROOM * ttl / cpu).floor();
        let peak_per = (large.peak_rss as f64 - small.peak_rss as f64) / (n_large - n_small);
        let steady_per = (Row::of(large).steady_rss - Row::of(small).steady_rss) / (n_large - n_small);
        let base = small.peak_rss as f64 - n_small * peak_per;
        let limit = 256.0 * MIB * MEMORY_HEADROOM;
        let first_256 = ((limit - base) / peak_per).floor();
        let each_256 = (limit / peak_per).floor();
        let mut o = String::new();
        let _ = writeln!(o, "\nSizing, from the {n_large:.0}-cluster exporter against the {n_small:.0}-cluster one:\n");
        let _ = writeln!(o, "| figure | value |");
        let _ = writeln!(o, "|---|---:|");
        let _ =
            writeln!(o, "| CPU per cluster per refresh (refresh, render, serving its scrapes) | {:.1} ms |", cpu * 1e3);
        let _ = writeln!(o, "| share of one core per cluster at a {ttl:.0} s TTL | {:.3} % |", cpu / ttl * 100.0);
        let _ = writeln!(
            o,
            "| **clusters per core** (refreshes use at most {:.0} % of it) | **{per_core:.0}** |",
            CPU_HEADROOM * 100.0
        );
        let _ = writeln!(o, "| peak RSS per extra cluster | {:.1} MiB |", peak_per / MIB);
        let _ = writeln!(o, "| steady RSS per extra cluster | {:.1} MiB |", steady_per / MIB);
        let _ = writeln!(o, "| peak RSS with no cluster (base) | {:.1} MiB |", base / MIB);
        let _ = writeln!(
            o,
            "| **clusters in a 256 MiB limit** (peak RSS at most {:.0} % of it) | **{first_256:.0}** |",
            MEMORY_HEADROOM * 100.0
        );
        let _ = writeln!(o, "| **clusters per further 256 MiB** | **{each_256:.0}** |");
        let _ = writeln!(o);
        o
    }
}

/// One exporter's figures, as the report gives them.
struct Row {
    refreshes: usize,
    /// CPU seconds in the window per refresh that started in it.
    cpu_per_cluster: f64,
    steady_rss: f64,
    p50_ms: f64,
    p99_ms: f64,
    refresh_median_ms: f64,
    refresh_p99_ms: f64,
    /// Scrapes in the window.
    scrapes: usize,
    /// Scrapes that failed, warm-up included.
    failures: usize,
}

impl Row {
    fn of(log: &ExporterLog) -> Row {
        let mut latencies: Vec<Duration> = log.targets.iter().flat_map(|t| t.latencies.iter().copied()).collect();
        latencies.sort();
        let mut refreshes: Vec<f64> = log.targets.iter().flat_map(|t| t.refreshes_ms.iter().copied()).collect();
        refreshes.sort_by(f64::total_cmp);
        let rss: Vec<f64> = log.rss_samples.iter().map(|&b| b as f64).collect();
        let failures = log.targets.iter().map(|t| t.failures.len()).sum();
        Row {
            refreshes: log.refreshes(),
            cpu_per_cluster: log.cpu_seconds / log.refreshes().max(1) as f64,
            steady_rss: median(&rss),
            p50_ms: percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            p99_ms: percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            refresh_median_ms: median(&refreshes),
            refresh_p99_ms: percentile(&refreshes, 0.99),
            scrapes: latencies.len(),
            failures,
        }
    }
}
