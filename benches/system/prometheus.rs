//! What the exporter costs Prometheus (issue 9), side by side in one run.
//!
//! One 3-primary cluster under realistic traffic ([`load`]: a steady walk over every
//! slot plus a few hot slots) is read by three exporters (release binary), one per
//! `--slot-series` profile. Four Prometheus servers run at once, each scraping one
//! exporter and evaluating its rules every 5 s:
//! - `all` with the rules as they were at 538d7e6 (`baseline-rules-538d7e6.yml`,
//!   which scan every per-slot series), and `all` with the shipped rules: rule
//!   evaluation time per group and in total, read from Prometheus' own
//!   `prometheus_rule_group_last_duration_seconds` after each iteration;
//! - `all`, `top:100` and `none` with the shipped rules, and `all` with the per-slot
//!   series dropped by `metric_relabel_configs` (the README's example, [`DROP_PER_SLOT`]):
//!   samples per scrape (`scrape_samples_scraped`, and kept after relabelling), head
//!   series, series created (churn), resident memory and CPU of each server.
//!
//! Rates need full 2-minute windows before rule costs settle, so the servers warm up
//! before anything is measured. Every process is killed when the section ends.

use crate::Budget;
use crate::load::median;
use crate::monitoring_support::prometheus::Prometheus;
use crate::monitoring_support::traffic::{HotSlot, Load};
use crate::support::ExporterBinary;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Scrape and rule evaluation interval of every server.
const INTERVAL: &str = "5s";
/// The exporters' cache TTL: below the interval, so every scrape sees a new snapshot.
const TTL: &str = "4s";
const SHIPPED_RULES: &str = "rules/valkey-slot-exporter.rules.yml";
const BASELINE_RULES: &str = "benches/system/baseline-rules-538d7e6.yml";
/// The profiles, `all` first: it is the one the rules are compared on.
const PROFILES: [&str; 3] = ["all", "top:100", "none"];
/// The two servers whose rule evaluation is compared.
const BASELINE_SERVER: &str = "all, rules at 538d7e6";
const SHIPPED_SERVER: &str = "all, shipped rules";
/// The per-slot families, as the README's `metric_relabel_configs` example drops them.
const DROP_PER_SLOT: &str =
    "valkey_slot_(keys|cpu_seconds_total|network_receive_bytes_total|network_transmit_bytes_total|memory_bytes)";

/// Realistic traffic: 100 GETs per primary every 50 ms walking all slots (the long
/// tail), two slots hot on CPU (150 GETs each per round) and one hot on the network
/// (20 GETs of a 16 KB value per round).
pub fn load() -> Load {
    let cpu = |slot| HotSlot { slot, gets: 150, value_bytes: 8 };
    Load { background: 100, hot: vec![cpu(100), cpu(6000), HotSlot { slot: 12000, gets: 20, value_bytes: 16 * 1024 }] }
}

/// One Prometheus server, named by what it scrapes and loads.
struct Server {
    name: String,
    prometheus: Prometheus,
}

/// A rule group's evaluation times, one per iteration seen.
#[derive(Default)]
struct GroupTimes {
    iterations: f64,
    seconds: Vec<f64>,
}

/// Counters of a server at the start of the measurement.
struct Start {
    cpu: f64,
    created: f64,
}

pub struct Figures {
    measured: Duration,
    load: Load,
    /// Per server name: per group name, the evaluation times.
    groups: BTreeMap<String, BTreeMap<String, GroupTimes>>,
    rows: Vec<ProfileRow>,
}

struct ProfileRow {
    name: String,
    samples_per_scrape: f64,
    samples_kept: f64,
    head_series: f64,
    created_per_minute: f64,
    rss: f64,
    cpu_per_minute: f64,
}

pub async fn measure(dir: &Path, seed: &str, budget: &Budget) -> Figures {
    let exporters: Vec<ExporterBinary> = PROFILES
        .iter()
        .map(|profile| {
            ExporterBinary::start(&[
                "--nodes",
                seed,
                "--cache-ttl",
                TTL,
                "--node-timeout",
                TTL,
                "--log-level",
                "warn",
                "--slot-series",
                profile,
            ])
        })
        .collect();
    let servers = start_servers(&exporters, dir).await;
    eprintln!("   warming up for {:.0} s (full 2-minute rate windows)", budget.prometheus_warm_up_seconds);
    tokio::time::sleep(Duration::from_secs_f64(budget.prometheus_warm_up_seconds)).await;

    let mut starts = Vec::new();
    for server in &servers {
        let body = own_metrics(&server.prometheus).await;
        starts.push(Start {
            cpu: value(&body, "process_cpu_seconds_total"),
            created: value(&body, "prometheus_tsdb_head_series_created_total"),
        });
    }
    eprintln!("   measuring for {:.0} s", budget.prometheus_seconds);
    let started = Instant::now();
    let groups = watch_rule_groups(&servers, Duration::from_secs_f64(budget.prometheus_seconds)).await;
    let measured = started.elapsed();
    let mut rows = Vec::new();
    for (server, start) in servers.iter().zip(&starts) {
        rows.push(profile_row(server, start, measured).await);
    }
    drop(servers);
    drop(exporters);
    Figures { measured, load: load(), groups, rows }
}

/// What a server loads and keeps.
#[derive(Clone, Copy)]
struct Setup {
    rules: &'static str,
    drop_per_slot: bool,
}

/// The baseline and the relabelling servers on the `all` exporter, then one server
/// with the shipped rules per exporter.
async fn start_servers(exporters: &[ExporterBinary], dir: &Path) -> Vec<Server> {
    let shipped = Setup { rules: SHIPPED_RULES, drop_per_slot: false };
    let all = &exporters[0];
    let mut servers = vec![
        start_server(BASELINE_SERVER, Setup { rules: BASELINE_RULES, ..shipped }, all, dir).await,
        start_server(
            "all, per-slot series dropped by relabelling, shipped rules",
            Setup { drop_per_slot: true, ..shipped },
            all,
            dir,
        )
        .await,
    ];
    for (profile, exporter) in PROFILES.iter().zip(exporters) {
        servers.push(start_server(&format!("{profile}, shipped rules"), shipped, exporter, dir).await);
    }
    servers
}

async fn start_server(name: &str, setup: Setup, exporter: &ExporterBinary, dir: &Path) -> Server {
    let home = dir.join(format!("prometheus-{}", name.replace([' ', ',', ':'], "-")));
    std::fs::create_dir_all(&home).expect("a Prometheus directory");
    let config = write_config(&home, setup, exporter);
    Server { name: name.to_string(), prometheus: Prometheus::start(&config, &home).await }
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn write_config(dir: &Path, setup: Setup, exporter: &ExporterBinary) -> PathBuf {
    let mut config = format!(
        "global:\n  scrape_interval: {INTERVAL}\n  scrape_timeout: 4s\n  evaluation_interval: {INTERVAL}\n\
         rule_files:\n  - {}\n\
         scrape_configs:\n  - job_name: valkey-slot-exporter\n    static_configs:\n      - targets: ['{}']\n",
        repo_path(setup.rules).display(),
        exporter.addr
    );
    if setup.drop_per_slot {
        config.push_str(&format!(
            "    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: '{DROP_PER_SLOT}'\n        action: drop\n"
        ));
    }
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).expect("write prometheus.yml");
    path
}

/// Polls the `all` servers' rule-group metrics for `duration`, keeping the last
/// evaluation time of every iteration seen.
async fn watch_rule_groups(servers: &[Server], duration: Duration) -> BTreeMap<String, BTreeMap<String, GroupTimes>> {
    let mut groups: BTreeMap<String, BTreeMap<String, GroupTimes>> = BTreeMap::new();
    let until = Instant::now() + duration;
    while Instant::now() < until {
        for server in servers.iter().filter(|s| [BASELINE_SERVER, SHIPPED_SERVER].contains(&s.name.as_str())) {
            let body = own_metrics(&server.prometheus).await;
            let iterations = by_label(&body, "prometheus_rule_group_iterations_total", "rule_group");
            let durations = by_label(&body, "prometheus_rule_group_last_duration_seconds", "rule_group");
            for (group, count) in iterations {
                let name = group.rsplit(';').next().unwrap_or(&group).to_string();
                let times = groups.entry(server.name.clone()).or_default().entry(name).or_default();
                // The first poll only learns where the count stands.
                if times.iterations > 0.0 && count > times.iterations {
                    times.seconds.push(durations.get(&group).copied().unwrap_or(f64::NAN));
                }
                times.iterations = count;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    groups
}

async fn profile_row(server: &Server, start: &Start, measured: Duration) -> ProfileRow {
    let body = own_metrics(&server.prometheus).await;
    let failures: f64 = by_label(&body, "prometheus_rule_evaluation_failures_total", "rule_group").values().sum();
    assert_eq!(failures, 0.0, "{}: rule evaluations failed", server.name);
    let minutes = measured.as_secs_f64() / 60.0;
    let window = format!("{}s", measured.as_secs().max(10));
    let most = |series: &'static str| {
        let query = format!("max_over_time({series}[{window}])");
        async move { server.prometheus.query(&query, None).await.expect(series).values().fold(0.0, f64::max) }
    };
    ProfileRow {
        name: server.name.clone(),
        samples_per_scrape: most("scrape_samples_scraped").await,
        samples_kept: most("scrape_samples_post_metric_relabeling").await,
        head_series: value(&body, "prometheus_tsdb_head_series"),
        created_per_minute: (value(&body, "prometheus_tsdb_head_series_created_total") - start.created) / minutes,
        rss: value(&body, "process_resident_memory_bytes"),
        cpu_per_minute: (value(&body, "process_cpu_seconds_total") - start.cpu) / minutes,
    }
}

/// Prometheus' own /metrics.
async fn own_metrics(prometheus: &Prometheus) -> String {
    let response = crate::support::http::request(prometheus.addr, "GET", "/metrics", &[]).await;
    assert_eq!(response.status, 200, "Prometheus' /metrics: {}", response.text());
    response.text().to_string()
}

/// The values of `name` in a /metrics body, by the value of `label`.
fn by_label(body: &str, name: &str, label: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{name}{{");
    let key = format!("{label}=\"");
    body.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| {
            let start = line.find(&key)? + key.len();
            let end = start + line[start..].find('"')?;
            let value = line.rsplit(' ').next()?.parse().ok()?;
            Some((line[start..end].to_string(), value))
        })
        .collect()
}

/// The value of a series without labels in a /metrics body; NaN if absent.
fn value(body: &str, name: &str) -> f64 {
    let prefix = format!("{name} ");
    body.lines().find_map(|line| line.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok())).unwrap_or(f64::NAN)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

impl Figures {
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let hot: Vec<String> =
            self.load.hot.iter().map(|h| format!("slot {} ({} GETs of {} B)", h.slot, h.gets, h.value_bytes)).collect();
        let _ = writeln!(
            o,
            "### What Prometheus pays (3 primaries, scrape and evaluation every {INTERVAL}, {:.0} s measured after the \
             warm-up)\n\nTraffic, every 50 ms: {} GETs per primary walking all its slots, and {}.\n",
            self.measured.as_secs_f64(),
            self.load.background,
            hot.join(", ")
        );
        self.rule_table(&mut o);
        self.profile_table(&mut o);
        o
    }

    fn rule_table(&self, o: &mut String) {
        let baseline = self.groups.get(BASELINE_SERVER);
        let shipped = self.groups.get(SHIPPED_SERVER);
        let _ = writeln!(o, "Rule evaluation per iteration, profile all (the same exporter for both servers):\n");
        let _ = writeln!(
            o,
            "| group | rules at 538d7e6: mean ms (median) | shipped: mean ms (median) | iterations | shipped / 538d7e6 |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|");
        let mut names: Vec<&String> = baseline.into_iter().chain(shipped).flat_map(|g| g.keys()).collect();
        names.sort();
        names.dedup();
        let (mut old_total, mut new_total) = (0.0, 0.0);
        let cell = |times: Option<&GroupTimes>| match times {
            Some(t) if !t.seconds.is_empty() => (
                format!("{:.2} ({:.2})", mean(&t.seconds) * 1e3, median(&t.seconds) * 1e3),
                mean(&t.seconds) * 1e3,
                t.seconds.len(),
            ),
            _ => ("—".to_string(), 0.0, 0),
        };
        for name in names {
            let (old_text, old, old_n) = cell(baseline.and_then(|g| g.get(name)));
            let (new_text, new, new_n) = cell(shipped.and_then(|g| g.get(name)));
            let ratio = if old > 0.0 && new > 0.0 { format!("{:.1}%", new / old * 100.0) } else { "—".to_string() };
            let _ = writeln!(o, "| {name} | {old_text} | {new_text} | {old_n} / {new_n} | {ratio} |");
            old_total += old;
            new_total += new;
        }
        let _ = writeln!(
            o,
            "| **total** | **{old_total:.2}** | **{new_total:.2}** | | **{:.1}%** |\n",
            new_total / old_total * 100.0
        );
    }

    fn profile_table(&self, o: &mut String) {
        let _ = writeln!(o, "Per server (each its own Prometheus, all running at the same time):\n");
        let _ = writeln!(
            o,
            "| server | samples per scrape (most) | kept after relabelling | head series | series created per minute | RSS MB | CPU s per minute |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
        for r in &self.rows {
            let _ = writeln!(
                o,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
                r.name,
                r.samples_per_scrape,
                r.samples_kept,
                r.head_series,
                r.created_per_minute,
                r.rss / (1024.0 * 1024.0),
                r.cpu_per_minute
            );
        }
        let _ = writeln!(o);
    }
}
