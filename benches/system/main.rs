//! The exporter's performance, measured against the physical floor on this machine.
//!
//! Run it with `scripts/bench.sh` (`cargo bench --bench system`, after installing valkey
//! and nginx when missing); `cargo test` only checks that it builds. Every figure is a ratio of two things measured side
//! by side in the same run, so a slower or busier machine moves both:
//!
//! - refresh: the exporter's whole refresh (topology, SLOT-STATS from every primary,
//!   decode, merge) against the floor, a minimal raw RESP client ([`floor`]) fetching
//!   the same replies from the same nodes over kept connections;
//! - serving: `/metrics` throughput and p99 latency at 1, 16 and 64 clients, identity
//!   and gzip, against nginx serving the identical bytes, same load generator ([`load`]);
//! - memory: the exporter process's peak RSS while refreshing and serving every body,
//!   replicas excluded and included;
//! - growth: refresh time and peak RSS for 3, 6 and 12 primaries;
//! - auth: an authorized scrape's latency while 32 clients flood wrong passwords, and
//!   an unknown user's answer time against a known user's ([`auth`]);
//! - siege: scrapes answered while connections are held open, memory under unread
//!   answers, `/metrics` under the costliest answers, a cold credential during a
//!   password flood, each beside the quiet run ([`siege`]);
//! - prometheus: what the aggregates cost the exporter (refresh and render with them
//!   against without, [`aggregates`]), and what the exporter costs Prometheus: the
//!   shipped rules' evaluation time against the rules at 538d7e6, and samples per
//!   scrape, head series and memory per `--slot-series` profile ([`prometheus`]);
//! - footprint: what the exporter costs the cluster, per primary per refresh, for 3 and
//!   12 primaries: calls, server time and the longest call ([`footprint`]);
//! - moves: 16 slots holding 50,000 keys moved by `plan --apply` and by `valkey-cli
//!   --cluster reshard` on Valkey 8.0, and by `plan --apply` on Valkey 9.1 ([`moves`]);
//! - fleet: 1, 10 and 50 clusters in one exporter scraped every 15 s, side by side: RSS,
//!   CPU per refresh round, `/metrics` p99, one cluster's refresh, and the sizing rule
//!   they give ([`fleet`]); then two exporters on one cluster against one, in server
//!   time on its primaries ([`fleet_replicas`]).
//!
//! Everything runs on 127.0.0.1, bounded in time, and every process started is killed
//! on the way out. The report goes to stdout and to `target/bench-report.md`.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../../tests/monitoring_support/mod.rs"]
mod monitoring_support;

// The `plan --apply` tests' command line and checks; the benchmark uses part of them.
#[allow(dead_code)]
#[path = "../../tests/apply_support/mod.rs"]
mod apply_support;

mod aggregates;
mod auth;
mod clusters;
mod fleet;
mod fleet_replicas;
mod floor;
mod footprint;
mod load;
mod moves;
mod procs;
mod prometheus;
mod siege;

use clap::Parser as _;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{ExporterBinary, ValkeyCluster, expected_keys, fill};
use valkey_slot_exporter::addr::NodeAddr;
use valkey_slot_exporter::config::{self, Cli};
use valkey_slot_exporter::for_benchmarks::{
    ClusterCollector, ConnectOptions, NodePool, RawCommand, Role, Topology, all_slots_request,
};

const SLOT_STATS_ALL: &[&str] = &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "16383"];
const CONCURRENCY: [usize; 3] = [1, 16, 64];

/// How long each side of a run is measured, and how many refresh rounds are timed.
struct Budget {
    load_seconds: f64,
    refresh_rounds: usize,
    memory_seconds: f64,
    /// How long each password flood lasts.
    flood_seconds: f64,
    /// Unknown-user and known-user requests timed, each.
    auth_probes: usize,
    /// How long the Prometheus servers run before anything is measured, and then how
    /// long they are measured.
    prometheus_warm_up_seconds: f64,
    prometheus_seconds: f64,
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary too,
    // without it, and must not start clusters.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("system benchmark: run it with scripts/bench.sh");
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    // `--only=memory` (or refresh, serving, growth, auth, siege, clusters, prometheus, footprint,
    // moves, fleet) runs one section.
    let only = std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_string));
    let runs = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let budget = if quick {
        Budget {
            load_seconds: 1.0,
            refresh_rounds: 8,
            memory_seconds: 2.0,
            flood_seconds: 2.0,
            auth_probes: 6,
            prometheus_warm_up_seconds: 60.0,
            prometheus_seconds: 60.0,
        }
    } else {
        Budget {
            load_seconds: 4.0,
            refresh_rounds: 30,
            memory_seconds: 5.0,
            flood_seconds: 6.0,
            auth_probes: 20,
            prometheus_warm_up_seconds: 150.0,
            prometheus_seconds: 180.0,
        }
    };
    let dir = tempfile::Builder::new().prefix("valkey-slot-exporter-bench-").tempdir().expect("a temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut report = Report::new();

    if runs("auth") {
        eprintln!("== auth: starting 3 primaries, {} keys", support::EXPECTED_KEYS_TOTAL);
        let cluster = ValkeyCluster::start(3, 0);
        // Filled like the other sections' cluster, so the scrape is a real one.
        fill(&cluster, expected_keys);
        let web_config = auth::write_web_config(dir.path());
        let seed = cluster.seed_url();
        let flags = ["--nodes", &seed, "--cache-ttl", "1h", "--log-level", "warn", "--web-config-file", &web_config];
        let exporter = ExporterBinary::start(&flags);
        let figures = runtime.block_on(auth::measure(exporter.addr, &budget));
        report.append(&figures.markdown());
    }
    if only.as_deref() == Some("auth") {
        return finish(report);
    }
    if runs("siege") {
        eprintln!("== siege: starting 3 primaries, {} keys", support::EXPECTED_KEYS_TOTAL);
        let cluster = ValkeyCluster::start(3, 0);
        fill(&cluster, expected_keys);
        let (scrapes, seconds) = if quick { (10, 5.0) } else { (25, 15.0) };
        let figures = runtime.block_on(siege::measure(&cluster.seed_url(), scrapes, seconds));
        report.append(&figures.markdown());
    }
    if only.as_deref() == Some("siege") {
        return finish(report);
    }
    if runs("footprint") {
        let mut figures = footprint::Figures::default();
        for primaries in footprint::PRIMARIES {
            eprintln!("== footprint: starting {primaries} primaries, {} keys", support::EXPECTED_KEYS_TOTAL);
            let cluster = ValkeyCluster::start(primaries, 0);
            fill(&cluster, expected_keys);
            figures.measure(&cluster, &runtime, if quick { 5 } else { 10 });
        }
        report.append(&figures.markdown());
    }
    if only.as_deref() == Some("footprint") {
        return finish(report);
    }
    if runs("moves") {
        eprintln!("== moves: 16 slots, 50,000 keys, by --apply and valkey-cli reshard (Valkey 8.0), --apply (9.1)");
        report.append(&moves::measure(if quick { 1 } else { 3 }).markdown());
    }
    if only.as_deref() == Some("moves") {
        return finish(report);
    }
    if runs("clusters") {
        eprintln!("== clusters: starting {} clusters of 3 primaries", clusters::CLUSTERS);
        let all = clusters::start_clusters(clusters::CLUSTERS, expected_keys);
        let config = |count: usize| dir.path().join(format!("clusters-{count}.toml"));
        let (one, ten) =
            (clusters::start_exporter(&all[..1], "5s", &config(1)), clusters::start_exporter(&all, "5s", &config(10)));
        let seconds = if quick { 20.0 } else { 60.0 };
        let mut figures = runtime.block_on(clusters::scrape_side_by_side(&one, &ten, seconds));
        runtime.block_on(clusters::stalled_neighbour(&ten, &all[0], seconds, &mut figures));
        report.append(&figures.markdown());
    }
    if only.as_deref() == Some("clusters") {
        return finish(report);
    }
    if runs("fleet") {
        let largest = fleet::SIZES[fleet::SIZES.len() - 1];
        eprintln!("== fleet: starting {largest} clusters of 3 primaries, 1 key per slot");
        let before = fleet::mem_available();
        let all = clusters::start_clusters(largest, |_| 1);
        let after = fleet::mem_available();
        let seconds = |s: u64| Duration::from_secs(s);
        let (warm_up, measured) = if quick { (seconds(15), seconds(60)) } else { (seconds(30), seconds(180)) };
        {
            let exporters = fleet::start_exporters(&all, dir.path());
            eprintln!(
                "   three exporters ({:?} clusters), scraped every 15 s for {:?}",
                fleet::SIZES,
                warm_up + measured
            );
            let window = fleet::Window { warm_up, measured };
            let figures = runtime.block_on(fleet::measure(&exporters, window, (before, after)));
            report.append(&figures.markdown());
        }
        eprintln!("   two exporters on one cluster, one on another, for {:?}", seconds(15) + measured);
        let exporters = fleet_replicas::start_exporters(&all[..1], &all[1..2], dir.path());
        let window = fleet::Window { warm_up: seconds(15), measured };
        let figures = runtime.block_on(fleet_replicas::measure(&all[0], &all[1], &exporters, window));
        report.append(&figures.markdown());
    }
    if only.as_deref() == Some("fleet") {
        return finish(report);
    }
    if runs("prometheus") {
        eprintln!("== prometheus: starting 3 primaries, {} keys, with traffic", support::EXPECTED_KEYS_TOTAL);
        let cluster = ValkeyCluster::start(3, 0);
        fill(&cluster, expected_keys);
        let traffic = monitoring_support::traffic::Traffic::start(&cluster, &prometheus::load());
        eprintln!("   refresh and render, without and with the aggregates");
        let cost = runtime.block_on(aggregates::measure(&cluster.seed_url(), budget.refresh_rounds));
        report.append(&cost.markdown());
        eprintln!(
            "   five Prometheus servers: rules at 538d7e6, shipped rules, per-slot series dropped; all, top:100, none"
        );
        let figures = runtime.block_on(prometheus::measure(dir.path(), &cluster.seed_url(), &budget));
        report.append(&figures.markdown());
        traffic.stop();
    }
    if only.as_deref() == Some("prometheus") {
        return finish(report);
    }

    eprintln!("== starting 3 primaries + 3 replicas, {} keys", support::EXPECTED_KEYS_TOTAL);
    let cluster = ValkeyCluster::start(3, 1);
    fill(&cluster, expected_keys);
    let seed = cluster.seed_url();

    let mut refresh = Refresh::default();
    if runs("refresh") || runs("growth") {
        eprintln!("== refresh");
        refresh = runtime.block_on(measure_refresh(&cluster.primaries(), &seed, budget.refresh_rounds));
        report.refresh(&refresh);
    }
    if runs("serving") {
        eprintln!("== serving");
        let exporter = start_exporter(&seed, "1h", "5s", false);
        let serving = runtime.block_on(measure_serving(&exporter, dir.path(), &budget));
        report.serving(&serving);
    }
    let mut without = (0, 0);
    if runs("memory") || runs("growth") {
        eprintln!("== memory");
        without = runtime.block_on(peak_rss(&seed, false, budget.memory_seconds));
        let with = runtime.block_on(peak_rss(&seed, true, budget.memory_seconds));
        report.memory(without, with);
    }
    drop(cluster);
    if !runs("growth") {
        return finish(report);
    }

    eprintln!("== growth");
    let mut growth = vec![(3, refresh.clone(), without)];
    for primaries in [6, 12] {
        eprintln!("   {primaries} primaries");
        let cluster = ValkeyCluster::start(primaries, 0);
        fill(&cluster, expected_keys);
        let seed = cluster.seed_url();
        let refresh = runtime.block_on(measure_refresh(&cluster.primaries(), &seed, budget.refresh_rounds));
        let rss = runtime.block_on(peak_rss(&seed, false, budget.memory_seconds));
        growth.push((primaries, refresh, rss));
    }
    report.growth(&growth);
    finish(report);
}

fn finish(report: Report) {
    let text = report.finish();
    println!("{text}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-report.md");
    if std::fs::write(&out, &text).is_ok() {
        eprintln!("report written to {}", out.display());
    }
}

/// The exporter binary cargo built for this benchmark (same release profile), as users
/// run it, serving `seed` on a fresh port.
fn start_exporter(seed: &str, ttl: &str, node_timeout: &str, include_replicas: bool) -> ExporterBinary {
    let replicas = if include_replicas { "true" } else { "false" };
    let timeouts = ["--cache-ttl", ttl, "--node-timeout", node_timeout];
    ExporterBinary::start(
        &[&timeouts[..], &["--nodes", seed, "--include-replicas", replicas, "--log-level", "warn"]].concat(),
    )
}

/// Median of durations, in milliseconds.
fn median_ms(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    load::percentile(&sorted, 0.5).as_secs_f64() * 1e3
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Medians (wall ms, this process's CPU ms) per variant.
#[derive(Clone, Default)]
struct Refresh {
    floor: (f64, f64),
    /// One command per node, then at most 4096, 1024 and 256 slots per command.
    fred: [(f64, f64); 4],
    exporter: (f64, f64),
    reply_bytes: usize,
}

/// Times, round after round and interleaved so that background load hits all alike:
/// the raw floor, fred fetching the replies without the exporter's decoding (one
/// command per node, then commands of at most 4096, 1024 and 256 slots), and the
/// exporter's whole refresh.
async fn measure_refresh(primaries: &[String], seed: &str, rounds: usize) -> Refresh {
    let mut conns = Vec::new();
    for addr in primaries {
        conns.push(floor::RawConn::connect(addr).await.expect("raw connection"));
    }
    let cli = Cli::try_parse_from(["valkey-slot-exporter", "--nodes", seed, "--node-timeout", "10s"]).expect("flags");
    let collector = ClusterCollector::new(&config::load(cli).expect("settings").clusters[0]);
    let pool =
        NodePool::new(ConnectOptions { tls: None, username: None, password: None, timeout: Duration::from_secs(10) });
    let topology = {
        let seed = config::parse_node_url(seed).expect("seed URL");
        let reply = pool.command(&seed.addr, &["CLUSTER", "SLOTS"]).await.expect("CLUSTER SLOTS");
        Topology::from_cluster_slots(reply, "127.0.0.1").expect("topology")
    };
    let primaries: Vec<usize> =
        (0..topology.nodes.len()).filter(|&i| topology.nodes[i].role == Role::Primary).collect();
    let one: Vec<(NodeAddr, Vec<RawCommand>)> =
        primaries.iter().map(|&i| (topology.nodes[i].addr.clone(), vec![all_slots_request()])).collect();
    let chunked = |per: usize| -> Vec<(NodeAddr, Vec<RawCommand>)> {
        primaries.iter().map(|&i| (topology.nodes[i].addr.clone(), topology.slot_stats_requests_of(i, per))).collect()
    };
    let plans = [one, chunked(4096), chunked(1024), chunked(256)];

    let mut samples: [Vec<(Duration, Duration)>; 6] = Default::default();
    let mut reply_bytes = 0;
    for round in 0..rounds + 2 {
        let floor = timed(async {
            let sizes = futures_util::future::join_all(conns.iter_mut().map(|c| c.fetch(SLOT_STATS_ALL))).await;
            sizes.into_iter().map(|s| s.expect("raw fetch")).sum::<usize>()
        })
        .await;
        reply_bytes = floor.2;
        let mut fred = Vec::new();
        for plan in &plans {
            let (wall, cpu, ()) = timed(fetch_raw(&pool, plan)).await;
            fred.push((wall, cpu));
        }
        let exporter = timed(async {
            let snapshot = collector.refresh().await;
            assert_eq!(snapshot.failed_nodes().count(), 0, "a node failed during the benchmark");
            assert_eq!(snapshot.slots.len(), 16384, "every slot reported");
        })
        .await;
        // The first rounds connect and warm up allocators; they are not counted.
        if round >= 2 {
            let timings = [(floor.0, floor.1), fred[0], fred[1], fred[2], fred[3], (exporter.0, exporter.1)];
            for (variant, timing) in samples.iter_mut().zip(timings) {
                variant.push(timing);
            }
        }
    }
    let summary = |s: &[(Duration, Duration)]| {
        let walls: Vec<Duration> = s.iter().map(|x| x.0).collect();
        let cpus: Vec<Duration> = s.iter().map(|x| x.1).collect();
        (median_ms(&walls), median_ms(&cpus))
    };
    Refresh {
        floor: summary(&samples[0]),
        fred: [summary(&samples[1]), summary(&samples[2]), summary(&samples[3]), summary(&samples[4])],
        exporter: summary(&samples[5]),
        reply_bytes,
    }
}

/// Runs `work`, returning its wall time, this process's CPU time meanwhile, and its output.
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (Duration, Duration, T) {
    let (cpu, started) = (cpu_time(), Instant::now());
    let out = work.await;
    (started.elapsed(), cpu_time() - cpu, out)
}

/// Every node's replies through fred, as raw frames, dropped unread.
async fn fetch_raw(pool: &NodePool, plan: &[(NodeAddr, Vec<RawCommand>)]) {
    let fetches =
        plan.iter().map(|(addr, commands)| pool.pipeline_raw(addr, commands.clone(), |frame| frame.map(drop)));
    for fetched in futures_util::future::join_all(fetches).await {
        fetched.expect("fred fetch");
    }
}

/// One serving measurement: exporter and nginx at one concurrency and encoding.
struct ServingRow {
    clients: usize,
    gzip: bool,
    exporter: load::LoadResult,
    nginx: load::LoadResult,
}

struct Serving {
    identity_len: usize,
    gzip_len: usize,
    rows: Vec<ServingRow>,
    nginx_workers: usize,
}

async fn measure_serving(exporter: &ExporterBinary, dir: &Path, budget: &Budget) -> Serving {
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
async fn peak_rss(seed: &str, replicas: bool, seconds: f64) -> (u64, u64) {
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

/// The report, in Markdown, ready for docs/performance.md.
struct Report {
    out: String,
}

impl Report {
    fn new() -> Report {
        let mut out = String::new();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let valkey = std::process::Command::new("valkey-server")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "## Results\n\nMachine: {cpus} CPUs; {valkey}; exporter and load generator on the same machine.\n"
        );
        Report { out }
    }

    fn refresh(&mut self, r: &Refresh) {
        let o = &mut self.out;
        let _ = writeln!(o, "### Refresh (3 primaries, {} KB of RESP2 per round)\n", r.reply_bytes / 1024);
        let _ = writeln!(o, "| what | median wall ms | median client CPU ms | × floor (wall) |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        let rows = [
            ("floor: raw RESP client, one command per node", r.floor),
            ("fred fetch only, one command per node", r.fred[0]),
            ("fred fetch only, ≤4096 slots per command", r.fred[1]),
            ("fred fetch only, ≤1024 slots per command", r.fred[2]),
            ("fred fetch only, ≤256 slots per command", r.fred[3]),
            ("**exporter refresh** (topology, fetch, decode, merge)", r.exporter),
        ];
        for (name, (wall, cpu)) in rows {
            let _ = writeln!(o, "| {name} | {wall:.1} | {cpu:.1} | {:.2} |", wall / r.floor.0);
        }
        let _ = writeln!(o);
    }

    fn serving(&mut self, s: &Serving) {
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "### Serving /metrics ({} KB identity, {} KB gzip; nginx {} workers)\n",
            s.identity_len / 1024,
            s.gzip_len / 1024,
            s.nginx_workers
        );
        let _ = writeln!(
            o,
            "| encoding | clients | exporter req/s | nginx req/s | throughput ratio | exporter p99 ms | nginx p99 ms | p99 ratio |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for row in &s.rows {
            let (e, n) = (&row.exporter, &row.nginx);
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                if row.gzip { "gzip" } else { "identity" },
                row.clients,
                e.throughput(),
                n.throughput(),
                e.throughput() / n.throughput(),
                e.percentile_ms(0.99),
                n.percentile_ms(0.99),
                e.percentile_ms(0.99) / n.percentile_ms(0.99),
            );
        }
        let _ = writeln!(o);
    }

    fn memory(&mut self, without: (u64, u64), with: (u64, u64)) {
        let o = &mut self.out;
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = writeln!(o, "### Memory (3 primaries + 3 replicas, refreshing every 500 ms, every body served)\n");
        let _ = writeln!(o, "| replicas | peak RSS MB | RSS at end MB | × 64 MB target |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        for (name, (peak, now)) in [("excluded", without), ("included", with)] {
            let _ = writeln!(o, "| {name} | {:.1} | {:.1} | {:.2} |", mb(peak), mb(now), mb(peak) / 64.0);
        }
        let _ = writeln!(o);
    }

    fn growth(&mut self, rows: &[(usize, Refresh, (u64, u64))]) {
        let o = &mut self.out;
        let _ = writeln!(o, "### Growth with the number of primaries (16384 slots in all)\n");
        let _ =
            writeln!(o, "| primaries | floor ms | exporter refresh ms | × floor | × 3-primary refresh | peak RSS MB |");
        let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|");
        let base = rows.first().map_or(1.0, |r| r.1.exporter.0);
        for (primaries, refresh, (peak, _)) in rows {
            let _ = writeln!(
                o,
                "| {primaries} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} |",
                refresh.floor.0,
                refresh.exporter.0,
                refresh.exporter.0 / refresh.floor.0,
                refresh.exporter.0 / base,
                *peak as f64 / (1024.0 * 1024.0),
            );
        }
        let _ = writeln!(o);
    }

    /// A section written elsewhere ([`auth`]).
    fn append(&mut self, section: &str) {
        self.out.push_str(section);
    }

    fn finish(self) -> String {
        self.out
    }
}
