//! What a hostile network neighbour costs (issue 15), each figure beside the same
//! measure on the same exporter left alone:
//! - held connections: scrapes answered (one a second, 3 s timeout, a fresh connection
//!   each, as Prometheus does) while the four kinds of connection holder of
//!   `tests/support/siege.rs` hold twice the cap: 64 at `--max-connections 32`, 512 at
//!   the default 256; the scraper on another host (127.0.0.2), and once on the holders'
//!   own address (127.0.0.1);
//! - unread answers: RSS growth while 200 HTTP/1.1 clients and one HTTP/2 client with
//!   100 zero-window streams ask for every slot's statistics and never read, and how
//!   long `/metrics` takes meanwhile;
//! - expensive answers: the `/metrics` median while 32 clients loop the costliest
//!   answers (a 1,024-move plan by keys, every slot's statistics gzipped, the slot map);
//! - bcrypt: a credential not yet verified, from another address, during a flood of
//!   distinct wrong passwords from 128 clients ([`super::auth`]).

use super::auth;
use super::support::ExporterBinary;
use super::support::http::Request;
use super::support::siege::{Holder, Holders, unread_answers};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Clients flooding wrong passwords from one address, as in the issue.
const COLD_FLOOD_CLIENTS: usize = 128;

/// The answers a client can make the exporter work hardest for.
const EXPENSIVE: [(&str, &str); 3] = [
    ("/api/cluster/rebalance-plan?by=keys&max_moves=1024", "identity"),
    ("/api/cluster/slot-stats", "gzip"),
    ("/api/cluster/slot-map", "identity"),
];

pub struct Figures {
    /// (label, answered while held, answered quiet, scrapes each).
    held: Vec<(String, usize, usize, usize)>,
    /// RSS warm and under the unread answers, KiB; `/metrics` time meanwhile.
    unread_rss_kib: (u64, u64),
    unread_scrape: Option<Duration>,
    /// `/metrics` medians, quiet and under the expensive loops.
    expensive: (Duration, Duration),
    /// Answers the 32 loops got meanwhile.
    expensive_answers: usize,
    cold_credential: Duration,
}

/// Runs every measure against `seed`'s cluster; `scrapes` per held-connection run.
pub async fn measure(seed: &str, scrapes: usize, seconds: f64) -> Figures {
    let mut held = Vec::new();
    // Prometheus from another host (127.0.0.2), then from the neighbour's own address.
    let runs = [(Some("32"), 16, PROMETHEUS), (None, 128, PROMETHEUS), (Some("32"), 16, NEIGHBOUR)];
    for (cap, holders, from) in runs {
        let mut flags = vec!["--nodes", seed, "--log-level", "warn"];
        if let Some(cap) = cap {
            flags.extend(["--max-connections", cap]);
        }
        let exporter = ExporterBinary::start(&flags);
        let quiet = scrapes_answered(exporter.addr, from, scrapes).await;
        let siege = Holders::start(exporter.addr, &Holder::ALL, holders);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let answered = scrapes_answered(exporter.addr, from, scrapes).await;
        siege.stop();
        let who = if from == PROMETHEUS { "scraper on another host" } else { "scraper on the holders' host" };
        let label = format!("{} held, cap {}, {who}", holders * 4, cap.unwrap_or("256 (default)"));
        eprintln!("   {label}: {answered}/{scrapes} answered ({quiet}/{scrapes} quiet)");
        held.push((label, answered, quiet, scrapes));
    }

    let exporter = ExporterBinary::start(&["--nodes", seed, "--log-level", "warn", "--cache-ttl", "1h"]);
    let everything = "/api/cluster/slot-stats";
    let full = Request::get(everything).header("accept-encoding", "identity").send(exporter.addr).await;
    assert_eq!(full.status, 200);
    let _ = scrape(exporter.addr).await;
    let warm = exporter.rss_kib();
    let unread = unread_answers(exporter.addr, everything, 200, 1, 100).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let under = exporter.rss_kib();
    let unread_scrape = scrape(exporter.addr).await;
    drop(unread);
    eprintln!("   unread answers: RSS {warm} -> {under} KiB, /metrics {unread_scrape:?}");

    let budget = Duration::from_secs_f64(seconds);
    let quiet = scrape_median(exporter.addr, budget).await;
    let stop = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..32)
        .map(|i| tokio::spawn(expensive_loop(exporter.addr, EXPENSIVE[i % EXPENSIVE.len()], stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = scrape_median(exporter.addr, budget).await;
    stop.store(true, Ordering::Relaxed);
    let mut expensive_answers = 0;
    for handle in loops {
        expensive_answers += handle.await.expect("loop");
    }
    eprintln!("   expensive answers: /metrics median {quiet:?} quiet, {loaded:?} loaded");

    let cold_credential = auth::cold_credential_during_flood(COLD_FLOOD_CLIENTS).await;
    eprintln!("   cold credential during a 128-client flood: {cold_credential:?}");
    Figures {
        held,
        unread_rss_kib: (warm, under),
        unread_scrape,
        expensive: (quiet, loaded),
        expensive_answers,
        cold_credential,
    }
}

/// Where the connection holders come from, and where Prometheus does.
const NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const PROMETHEUS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How long a Prometheus-like scrape from `from` took, if it got a 200 within 3 s.
async fn scrape_from(addr: SocketAddr, from: IpAddr) -> Option<Duration> {
    let started = Instant::now();
    let answer = Request::get("/metrics").from(from).timeout(Duration::from_secs(3)).try_send(addr).await;
    answer.ok().filter(|r| r.status == 200).map(|_| started.elapsed())
}

async fn scrape(addr: SocketAddr) -> Option<Duration> {
    scrape_from(addr, PROMETHEUS).await
}

async fn scrapes_answered(addr: SocketAddr, from: IpAddr, count: usize) -> usize {
    let mut answered = 0;
    for _ in 0..count {
        let started = Instant::now();
        answered += usize::from(scrape_from(addr, from).await.is_some());
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    answered
}

/// Median of back-to-back scrapes for `budget` (a failed scrape counts as 3 s).
async fn scrape_median(addr: SocketAddr, budget: Duration) -> Duration {
    let (started, mut times) = (Instant::now(), Vec::new());
    while started.elapsed() < budget || times.len() < 5 {
        times.push(scrape(addr).await.unwrap_or(Duration::from_secs(3)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    times.sort();
    times[times.len() / 2]
}

async fn expensive_loop(addr: SocketAddr, (path, coding): (&str, &str), stop: Arc<AtomicBool>) -> usize {
    let mut answers = 0;
    while !stop.load(Ordering::Relaxed) {
        let request = Request::get(path).header("accept-encoding", coding).timeout(Duration::from_secs(30));
        if request.try_send(addr).await.is_ok_and(|r| r.status == 200) {
            answers += 1;
        }
    }
    answers
}

impl Figures {
    pub fn markdown(&self) -> String {
        let mut out = String::from("\n## Siege: hostile clients against the same exporter left alone\n\n");
        out.push_str("| measure | under siege | quiet | goal |\n|---|---|---|---|\n");
        for (label, answered, quiet, of) in &self.held {
            let _ = writeln!(
                out,
                "| scrapes answered, {label} | {answered}/{of} | {quiet}/{of} | at least {}/{of} |",
                of - of / 25
            );
        }
        let (warm, under) = self.unread_rss_kib;
        let growth = under.saturating_sub(warm) as f64 / 1024.0;
        let scrape = self.unread_scrape.map_or("no answer".to_string(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3));
        let _ = writeln!(
            out,
            "| RSS, 300 unread full-range answers | {:.1} MB (+{growth:.1} MB) | {:.1} MB | at most +64 MB |",
            under as f64 / 1024.0,
            warm as f64 / 1024.0
        );
        let _ = writeln!(out, "| /metrics during the unread answers | {scrape} | | within 2 s |");
        let (quiet, loaded) = (self.expensive.0.as_secs_f64() * 1e3, self.expensive.1.as_secs_f64() * 1e3);
        let _ = writeln!(
            out,
            "| /metrics median, 32 clients looping the costliest answers ({} answers) | {loaded:.1} ms ({:.2}x) | {quiet:.1} ms | within 4x quiet + 20 ms ({:.1} ms) |",
            self.expensive_answers,
            loaded / quiet,
            4.0 * quiet + 20.0
        );
        let _ = writeln!(
            out,
            "| cold credential during a {COLD_FLOOD_CLIENTS}-client flood of wrong passwords (median of {}) | {:.0} ms | | at most 2 s |",
            auth::COLD_RUNS,
            self.cold_credential.as_secs_f64() * 1e3
        );
        out
    }
}
