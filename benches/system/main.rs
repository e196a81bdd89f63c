//! The exporter's performance, measured against the physical floor on this machine.
//!
//! Run it with `scripts/bench.sh` (`cargo bench --bench system`, after installing valkey
//! and nginx when missing); `cargo test` only checks that it builds. Every figure is a ratio of two things measured side
//! by side in the same run, so a slower or busier machine moves both:
//!
//! - refresh: the exporter's whole refresh (topology, SLOT-STATS from every primary,
//!   decode, merge) against the floor, a minimal raw RESP client ([`floor`]) fetching
//!   the same replies from the same nodes over kept connections ([`refresh`]);
//! - serving: `/metrics` throughput and p99 latency at 1, 16 and 64 clients, identity
//!   and gzip, against nginx serving the identical bytes, same load generator ([`serving`], [`load`]);
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
mod refresh;
mod report;
mod serving;
mod siege;

use refresh::{Refresh, measure_refresh};
use report::Report;
use serving::{measure_serving, peak_rss, start_exporter};
use std::path::PathBuf;
use std::time::Duration;
use support::{ExporterBinary, ValkeyCluster, expected_keys, fill};

/// How long each side of a run is measured, and how many refresh rounds are timed.
pub(crate) struct Budget {
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
