//! Against a real Prometheus: the exporter, a real cluster under traffic, and every
//! query of the dashboard and the rules.

use crate::exporter_support::start_exporter;
use crate::monitoring_support::dashboards::{self, Substitution};
use crate::monitoring_support::files::{self, repo_path};
use crate::monitoring_support::prometheus::{Prometheus, QueryResult};
use crate::rules::{Rule, rules};
use crate::support::{self, SLOT_COUNT, ValkeyCluster, expected_keys, fill, slot_tag};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Scrape and rule evaluation interval of the test's Prometheus. A debug build of the
/// exporter needs up to a second or two per refresh on a busy 2-core machine; 3s keeps
/// scrapes within their timeout while rates still appear within seconds.
const SCRAPE_INTERVAL: Duration = Duration::from_secs(3);
/// What Grafana's `$__rate_interval` stands for here: five scrapes.
const RATE_INTERVAL: &str = "15s";
/// How long to wait for the first scrapes and rule evaluations.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a failing check is retried before the test fails: a scrape in which a
/// node timed out leaves that node's series missing until the next one.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The job name in deploy/prometheus/prometheus.yml.
const JOB: &str = "valkey-slot-exporter";
/// The selector the rules join with to keep primaries only.
const PRIMARY: &str = r#"valkey_node_info{role="primary"}"#;
/// Slots per slot range of the `slot_range:` recording rules.
const SLOTS_PER_RANGE: u16 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_rule_returns_data_from_a_real_prometheus() {
    files::require_tool("prometheus");
    let cluster = ValkeyCluster::start(3, 0);
    let total_keys = fill(&cluster, expected_keys);
    // A TTL below the scrape interval: every scrape sees a new snapshot.
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s"]).await;
    let traffic = Traffic::start(&cluster);
    let dir = tempfile::Builder::new().prefix("monitoring-stack-").tempdir().expect("temp dir");
    let config = write_test_prometheus_config(dir.path(), exporter.addr);
    let prometheus = Prometheus::start(&config, dir.path()).await;
    let rules = rules();
    wait_for_scrapes_and_rules(&prometheus, &rules).await;

    let primaries = cluster.primaries();
    let mut checks = Vec::new();
    for rule in &rules {
        if rule.is_alert {
            checks.push(Check::evaluates(format!("alert {}", rule.name), &rule.expr));
        } else {
            checks.push(Check::instant(format!("recording rule {} (its expression)", rule.name), &rule.expr));
            checks.push(Check::instant(format!("recording rule {} (its series)", rule.name), &rule.name));
        }
    }
    let dashboard = files::json(files::DASHBOARD);
    let specific = Substitution {
        job: JOB.into(),
        instance: exporter.addr.to_string(),
        node: primaries[0].clone(),
        rate_interval: RATE_INTERVAL.into(),
    };
    for substitution in [Substitution::all(RATE_INTERVAL), specific] {
        for query in dashboards::queries(&dashboard) {
            let name = format!(
                "panel {} \"{}\" query {} with job={} instance={} node={}",
                query.panel_id,
                query.panel_title,
                query.ref_id,
                substitution.job,
                substitution.instance,
                substitution.node
            );
            let expr = substitution.apply(&query.expr);
            checks.push(if query.instant { Check::instant(name, &expr) } else { Check::range(name, &expr) });
        }
        for variable in dashboards::label_values_variables(&dashboard) {
            let must_contain = match variable.name.as_str() {
                "job" => vec![JOB.to_owned()],
                "instance" => vec![exporter.addr.to_string()],
                "node" => primaries.clone(),
                other => panic!("unexpected dashboard variable {other}"),
            };
            checks.push(Check::label_values(
                format!("variable ${} with job={} instance={}", variable.name, substitution.job, substitution.instance),
                &substitution.apply(&variable.selector),
                &variable.label,
                must_contain,
            ));
        }
    }
    run_until_all_pass(&prometheus, checks).await;
    check_slot_ranges_add_up(&prometheus, &rules, total_keys).await;

    traffic.stop();
    // Prometheus first: it holds a keep-alive connection that the exporter would wait for.
    drop(prometheus);
    exporter.stop().await;
}

/// deploy/prometheus/prometheus.yml, as shipped but for the target (the test's
/// exporter), the intervals (seconds instead of 30s) and the rule file's path.
fn write_test_prometheus_config(dir: &Path, exporter: SocketAddr) -> PathBuf {
    let mut config = files::yaml(files::PROMETHEUS_EXAMPLE);
    let interval = format!("{}s", SCRAPE_INTERVAL.as_secs());
    config["global"]["evaluation_interval"] = interval.clone().into();
    config["rule_files"] = vec![repo_path(files::RULES).display().to_string()].into();
    let job = &mut config["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some(JOB), "the example's first job scrapes the exporter");
    job["scrape_interval"] = interval.clone().into();
    job["scrape_timeout"] = interval.into();
    job["static_configs"][0]["targets"] = vec![exporter.to_string()].into();
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, serde_norway::to_string(&config).expect("serialize YAML")).expect("write prometheus.yml");
    path
}

/// Waits until Prometheus holds three scrapes and every recording rule has a series.
async fn wait_for_scrapes_and_rules(prometheus: &Prometheus, rules: &[Rule]) {
    let deadline = Instant::now() + WARM_UP_TIMEOUT;
    loop {
        let mut missing = Vec::new();
        let scrapes = prometheus.query("count_over_time(valkey_exporter_build_info[5m])", None).await;
        match scrapes.as_ref().map(|r| r.values().fold(0.0, f64::max)) {
            Ok(count) if count >= 3.0 => {}
            other => missing.push(format!("three scrapes (have {other:?})")),
        }
        for rule in rules.iter().filter(|r| !r.is_alert) {
            if !prometheus.query(&rule.name, None).await.is_ok_and(|r| !r.is_empty()) {
                missing.push(rule.name.clone());
            }
        }
        if missing.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let up = prometheus.query("up", None).await;
            let durations = prometheus.query("scrape_duration_seconds", None).await;
            panic!(
                "after {WARM_UP_TIMEOUT:?} still missing: {missing:?}\nup: {up:?}\nscrape durations: {durations:?}\n{}",
                prometheus.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One question asked of Prometheus.
struct Check {
    name: String,
    expr: String,
    kind: CheckKind,
}

enum CheckKind {
    /// An instant query returning series with finite values, some above zero.
    Instant,
    /// A range query over the last minute, as a Grafana time series panel sends it:
    /// series with a finite value each, some above zero.
    Range,
    /// An instant query that Prometheus accepts (an alert with nothing to say is empty).
    Evaluates,
    /// `label_values(expr, label)` lists these values among others.
    LabelValues { label: String, must_contain: Vec<String> },
}

impl Check {
    fn instant(name: String, expr: &str) -> Check {
        Check { name, expr: expr.to_owned(), kind: CheckKind::Instant }
    }

    fn range(name: String, expr: &str) -> Check {
        Check { name, expr: expr.to_owned(), kind: CheckKind::Range }
    }

    fn evaluates(name: String, expr: &str) -> Check {
        Check { name, expr: expr.to_owned(), kind: CheckKind::Evaluates }
    }

    fn label_values(name: String, selector: &str, label: &str, must_contain: Vec<String>) -> Check {
        let kind = CheckKind::LabelValues { label: label.to_owned(), must_contain };
        Check { name, expr: selector.to_owned(), kind }
    }

    async fn run(&self, prometheus: &Prometheus) -> Result<(), String> {
        match &self.kind {
            CheckKind::Instant => {
                let result = prometheus.query(&self.expr, None).await?;
                has_positive_data(&result)?;
                match result.values().find(|v| !v.is_finite()) {
                    Some(bad) => Err(format!("a value is {bad}: {result:?}")),
                    None => Ok(()),
                }
            }
            CheckKind::Range => {
                let result = prometheus.query_range(&self.expr, Duration::from_secs(60), SCRAPE_INTERVAL).await?;
                has_positive_data(&result)?;
                match result.series.iter().find(|s| !s.values.iter().any(|v| v.is_finite())) {
                    Some(bad) => Err(format!("a series has no finite value: {bad:?}")),
                    None => Ok(()),
                }
            }
            CheckKind::Evaluates => prometheus.query(&self.expr, None).await.map(drop),
            CheckKind::LabelValues { label, must_contain } => {
                let values = prometheus.label_values(&self.expr, label).await?;
                let absent: Vec<&String> = must_contain.iter().filter(|v| !values.contains(v)).collect();
                if absent.is_empty() { Ok(()) } else { Err(format!("{absent:?} not among {values:?}")) }
            }
        }
    }
}

/// Data, and traffic in it: every query here is about something that is above zero
/// while the cluster is up and busy (counts, keys, rates, durations, ratios >= 1).
fn has_positive_data(result: &QueryResult) -> Result<(), String> {
    if result.is_empty() {
        return Err("no data".into());
    }
    if !result.values().any(|v| v > 0.0) {
        return Err(format!("no value above zero: {result:?}"));
    }
    Ok(())
}

/// Runs every check; retries the failing ones each scrape until they pass or
/// [`SETTLE_TIMEOUT`] runs out, then fails the test listing every one still failing.
async fn run_until_all_pass(prometheus: &Prometheus, checks: Vec<Check>) {
    let total = checks.len();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut pending = checks;
    loop {
        let mut failing = Vec::new();
        for check in pending {
            if let Err(error) = check.run(prometheus).await {
                failing.push((check, error));
            }
        }
        if failing.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let report: Vec<String> =
                failing.iter().map(|(c, e)| format!("- {}\n  {}\n  => {e}", c.name, c.expr)).collect();
            panic!("{} of {total} checks still fail:\n{}\n{}", failing.len(), report.join("\n"), prometheus.log_tail());
        }
        pending = failing.into_iter().map(|(check, _)| check).collect();
        tokio::time::sleep(SCRAPE_INTERVAL).await;
    }
}

/// The slot-range rules cover all 16384 slots exactly once: keys per range equal the
/// keys the test wrote there, and the CPU and network ranges add up to the per-slot
/// rates they come from, evaluated at the same instant.
async fn check_slot_ranges_add_up(prometheus: &Prometheus, rules: &[Rule], total_keys: u64) {
    let mut expected = BTreeMap::new();
    for slot in 0..SLOT_COUNT {
        *expected.entry(slot_range_label(slot)).or_insert(0.0) += expected_keys(slot) as f64;
    }
    assert_eq!(expected.len(), 164, "16384 slots in ranges of 100");
    assert_eq!(expected.values().sum::<f64>(), total_keys as f64);

    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let mut problems = Vec::new();
        let keys = prometheus.query("slot_range:valkey_slot_keys:sum", None).await.expect("query key ranges");
        let actual: BTreeMap<String, f64> =
            keys.series.iter().map(|s| (s.label("slot_range").to_owned(), s.last())).collect();
        if actual != expected {
            let wrong: Vec<_> =
                expected.iter().filter(|(range, keys)| actual.get(*range) != Some(keys)).take(5).collect();
            problems.push(format!("key ranges differ from the keys written; first wrong: {wrong:?}"));
        }
        for series in &keys.series {
            let names: BTreeSet<&str> = series.labels.keys().map(String::as_str).collect();
            if names.contains("node") || names.contains("slot") {
                problems.push(format!("a slot range keeps node or slot: {:?}", series.labels));
            }
        }
        for (record, source) in [
            ("slot_range:valkey_slot_cpu_seconds:rate2m", "valkey_slot_cpu_seconds_total"),
            ("slot_range:valkey_slot_network_receive_bytes:rate2m", "valkey_slot_network_receive_bytes_total"),
            ("slot_range:valkey_slot_network_transmit_bytes:rate2m", "valkey_slot_network_transmit_bytes_total"),
        ] {
            let rule = rules.iter().find(|r| r.name == record).unwrap_or_else(|| panic!("rule {record}"));
            let at = Some(unix_now() - 1.0);
            let ranges = prometheus.query(&rule.expr, at).await.expect("query the rule's expression");
            let slot_sum = format!("sum(rate({source}[2m]) and on (job, instance, node) {PRIMARY})");
            let slot_sum = first_value(&prometheus.query(&slot_sum, at).await.expect("query the slots' sum"));
            let range_sum: f64 = ranges.values().sum();
            let ranges = ranges.series.len();
            if ranges != 164 {
                problems.push(format!("{record}: {ranges} ranges, expected 164"));
            }
            if !(slot_sum > 0.0 && ((range_sum - slot_sum) / slot_sum).abs() < 1e-9) {
                problems.push(format!("{record}: ranges add up to {range_sum}, slots to {slot_sum}"));
            }
        }
        if problems.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("slot ranges do not add up:\n{}", problems.join("\n"));
        }
        tokio::time::sleep(SCRAPE_INTERVAL).await;
    }
}

/// The `slot_range` label of `slot`: its range's first slot, zero-padded to 5 digits.
fn slot_range_label(slot: u16) -> String {
    format!("{:05}", slot / SLOTS_PER_RANGE * SLOTS_PER_RANGE)
}

fn first_value(result: &QueryResult) -> f64 {
    result.series.first().map_or(f64::NAN, |s| s.last())
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}

/// Steady reads over every slot of every primary from a background thread, so that
/// per-slot CPU and network counters grow between scrapes. Stopped on drop.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// GETs per primary per round; a round every [`TRAFFIC_PAUSE`] walks each primary's
/// slots in turn, so every slot sees commands every second or two.
const TRAFFIC_BATCH: usize = 300;
const TRAFFIC_PAUSE: Duration = Duration::from_millis(50);

impl Traffic {
    fn start(cluster: &ValkeyCluster) -> Traffic {
        let mut slots_by_owner: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for (slot, owner) in (0..SLOT_COUNT).zip(cluster.slot_owners()) {
            slots_by_owner.entry(owner).or_default().push(slot);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut connections: Vec<(support::Conn, Vec<u16>)> = slots_by_owner
                .into_iter()
                .map(|(owner, slots)| (support::Conn::connect(&owner).expect("connect for traffic"), slots))
                .collect();
            let mut round = 0;
            while !stopped.load(Ordering::Relaxed) {
                for (connection, slots) in &mut connections {
                    let commands: Vec<Vec<String>> = (0..TRAFFIC_BATCH)
                        .map(|i| {
                            let slot = slots[(round * TRAFFIC_BATCH + i) % slots.len()];
                            vec!["GET".to_owned(), format!("{{{}}}:0", slot_tag(slot))]
                        })
                        .collect();
                    // A failed round is only less traffic; the checks will say if it matters.
                    let _ = connection.pipeline(&commands);
                }
                round += 1;
                std::thread::sleep(TRAFFIC_PAUSE);
            }
        });
        Traffic { stop, thread: Some(thread) }
    }

    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_check_metrics_finds_nothing_in_a_real_scrape() {
    files::require_tool("promtool");
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url()]).await;
    let response = exporter.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response.body.contains("valkey_slot_cpu_seconds_total{"), "every family is present");
    let output = files::promtool(&["check", "metrics"], &repo_path(""), Some(response.body.as_bytes()));
    let findings = files::output_text(&output);
    // Any finding here must be fixed in the exporter, or explained in
    // docs/monitoring.md ("promtool check metrics") and listed here.
    assert!(output.status.success() && findings.trim().is_empty(), "promtool check metrics:\n{findings}");
    exporter.stop().await;
}
