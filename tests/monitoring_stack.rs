//! The monitoring stack in grafana/, rules/ and deploy/, proven rather than parsed.
//!
//! * A real Prometheus, configured from deploy/prometheus/prometheus.yml with the
//!   rules in rules/, scrapes the exporter, which scrapes a real Valkey cluster under
//!   traffic. Every dashboard query (variables substituted as Grafana does, both on
//!   "All" and on one value), every variable query and every recording rule returns
//!   data; every alert expression evaluates; the slot-range rules add up exactly to
//!   the cluster's totals.
//! * promtool: `check rules`; `test rules`, whose tests must show every alert both
//!   firing and not firing; `check config` on the example scrape configurations;
//!   `check metrics` on a real /metrics body.
//! * Structure: every JSON and YAML file parses; the dashboard has titles,
//!   descriptions, units and stable ids throughout; the Kubernetes manifests are
//!   restricted; the PrometheusRule is the rules file; docker-compose mounts files
//!   that exist; the Dockerfile is multi-stage and non-root; docs/monitoring.md names
//!   every row, panel and rule.

mod exporter_support;
mod monitoring_support;
mod support;

use exporter_support::start_exporter;
use monitoring_support::dashboards::{self, Substitution};
use monitoring_support::files::{self, repo_path};
use monitoring_support::prometheus::{Prometheus, QueryResult};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::{SLOT_COUNT, ValkeyCluster, expected_keys, fill, slot_tag};

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

// ---------------------------------------------------------------------------------
// Against a real Prometheus.
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// promtool.
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_check_metrics_finds_nothing_in_a_real_scrape() {
    files::require_tool("promtool");
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let exporter = start_exporter(&["--nodes", &cluster.seed_url()]).await;
    let response = exporter.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response.text().contains("valkey_slot_cpu_seconds_total{"), "every family is present");
    let output = files::promtool(&["check", "metrics"], &repo_path(""), Some(&response.body[..]));
    let findings = files::output_text(&output);
    // Any finding here must be fixed in the exporter, or explained in
    // docs/monitoring.md ("promtool check metrics") and listed here.
    assert!(output.status.success() && findings.trim().is_empty(), "promtool check metrics:\n{findings}");
    exporter.stop().await;
}

#[test]
fn promtool_check_rules_accepts_the_rules() {
    let output = files::promtool(&["check", "rules", files::RULES], &repo_path(""), None);
    let text = files::output_text(&output);
    assert!(output.status.success(), "promtool check rules:\n{text}");
    assert!(text.contains(&format!("SUCCESS: {} rules found", rules().len())), "{text}");
}

#[test]
fn promtool_rule_tests_pass_and_show_every_alert_firing_and_not_firing() {
    let output = files::promtool(&["test", "rules", files::RULE_TESTS], &repo_path(""), None);
    assert!(output.status.success(), "promtool test rules:\n{}", files::output_text(&output));

    let tests = files::yaml_as_json(files::RULE_TESTS);
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    let mut tested_expressions = BTreeSet::new();
    for test in tests["tests"].as_array().expect("tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let alert = case["alertname"].as_str().expect("alertname").to_owned();
            let fires = case["exp_alerts"].as_array().is_some_and(|alerts| !alerts.is_empty());
            if fires {
                firing.insert(alert)
            } else {
                silent.insert(alert)
            };
        }
        for case in test["promql_expr_test"].as_array().into_iter().flatten() {
            tested_expressions.insert(case["expr"].as_str().expect("expr").to_owned());
        }
    }
    for rule in rules() {
        if rule.is_alert {
            assert!(firing.contains(&rule.name), "no rule test shows {} firing", rule.name);
            assert!(silent.contains(&rule.name), "no rule test shows {} not firing", rule.name);
        } else {
            assert!(tested_expressions.contains(&rule.name), "no rule test checks the values of {}", rule.name);
        }
    }
}

#[test]
fn promtool_check_config_accepts_the_example_scrape_configurations() {
    for config in [files::PROMETHEUS_EXAMPLE, files::PROMETHEUS_COMPOSE] {
        // Laid out as documented: the rule file next to the configuration.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(repo_path(config), dir.path().join("prometheus.yml")).expect("copy config");
        std::fs::copy(repo_path(files::RULES), dir.path().join("valkey-slot-exporter.rules.yml")).expect("copy rules");
        let output = files::promtool(&["check", "config", "prometheus.yml"], dir.path(), None);
        let text = files::output_text(&output);
        assert!(output.status.success(), "promtool check config {config}:\n{text}");
        assert!(text.contains(&format!("SUCCESS: {} rules found", rules().len())), "{config} loads the rules: {text}");
    }
}

// ---------------------------------------------------------------------------------
// Rules, and the PrometheusRule that carries them.
// ---------------------------------------------------------------------------------

/// One rule of the rules file.
struct Rule {
    /// The recorded series, or the alert's name.
    name: String,
    is_alert: bool,
    expr: String,
    definition: Value,
}

fn rules() -> Vec<Rule> {
    let file = files::yaml_as_json(files::RULES);
    let mut out = Vec::new();
    for group in file["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let (name, is_alert) = match (rule["record"].as_str(), rule["alert"].as_str()) {
                (Some(record), None) => (record, false),
                (None, Some(alert)) => (alert, true),
                _ => panic!("a rule is either a recording or an alerting rule: {rule}"),
            };
            let expr = rule["expr"].as_str().expect("expr").trim().to_owned();
            out.push(Rule { name: name.to_owned(), is_alert, expr, definition: rule.clone() });
        }
    }
    out
}

#[test]
fn alerts_have_severity_summary_and_description() {
    let alerts: Vec<Rule> = rules().into_iter().filter(|r| r.is_alert).collect();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    let required = [
        "ValkeyNodeUnreachable",
        "ValkeySlotStatsDisabled",
        "ValkeyHotSlot",
        "ValkeyKeyImbalance",
        "ValkeyCpuImbalance",
        "ValkeySlotSnapshotStale",
    ];
    for alert in required {
        assert!(names.contains(alert), "missing alert {alert}");
    }
    for alert in &alerts {
        let severity = alert.definition["labels"]["severity"].as_str();
        assert!(matches!(severity, Some("critical" | "warning" | "info")), "{}: severity {severity:?}", alert.name);
        for annotation in ["summary", "description"] {
            let text = alert.definition["annotations"][annotation].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{}: {annotation} missing or too short", alert.name);
        }
        assert!(
            alert.definition["for"].as_str().is_some(),
            "{}: a `for` duration rides out one bad scrape",
            alert.name
        );
    }
}

/// Header of the generated PrometheusRule; the rules file follows under `spec:`.
const PROMETHEUS_RULE_HEADER: &str = "\
# GENERATED from rules/valkey-slot-exporter.rules.yml: edit that file, then run
#   UPDATE_PROMETHEUS_RULE=1 cargo test --test monitoring_stack prometheus_rule
# tests/monitoring_stack.rs fails while the two differ.
#
# The Prometheus Operator loads it into every Prometheus whose ruleSelector matches its
# labels: kube-prometheus-stack, for one, selects `release: <its Helm release name>`
# unless ruleSelectorNilUsesHelmValues is false; add that label if so.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: valkey-slot-exporter
  labels:
    app.kubernetes.io/name: valkey-slot-exporter
    app.kubernetes.io/component: rules
spec:
";

/// The PrometheusRule for `rules`: the header, then the rules file indented under
/// `spec:`, comments and all.
fn prometheus_rule_for(rules: &str) -> String {
    let mut out = PROMETHEUS_RULE_HEADER.to_owned();
    for line in rules.lines() {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn prometheus_rule_carries_exactly_the_rules_folder() {
    let rules_text = files::read(files::RULES);
    let generated = prometheus_rule_for(&rules_text);
    let path = repo_path(files::PROMETHEUS_RULE);
    if std::env::var_os("UPDATE_PROMETHEUS_RULE").is_some() {
        std::fs::write(&path, &generated).expect("write the PrometheusRule");
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == generated,
        "{} is not generated from {}: run UPDATE_PROMETHEUS_RULE=1 cargo test --test monitoring_stack prometheus_rule",
        files::PROMETHEUS_RULE,
        files::RULES
    );
    // The same rules also after YAML parsing, whatever the text.
    let rule = files::yaml(files::PROMETHEUS_RULE);
    assert_eq!(rule["kind"].as_str(), Some("PrometheusRule"));
    assert_eq!(rule["spec"], files::yaml(files::RULES), "spec is the rules file");
}

// ---------------------------------------------------------------------------------
// Files: parsing, dashboards, provisioning, deploy kit, docs.
// ---------------------------------------------------------------------------------

#[test]
fn every_json_and_yaml_file_parses() {
    let mut parsed = Vec::new();
    for dir in files::MONITORING_DIRS {
        for file in files::files_under(dir) {
            if file.ends_with(".json") {
                files::json(&file);
            } else if file.ends_with(".yml") || file.ends_with(".yaml") {
                let documents = files::yaml_documents(&files::read(&file), &file);
                assert!(!documents.is_empty(), "{file} is empty");
            } else {
                continue;
            }
            parsed.push(file);
        }
    }
    for expected in [
        files::DASHBOARD,
        files::DATASOURCE_PROVISIONING,
        files::DASHBOARD_PROVISIONING,
        files::RULES,
        files::RULE_TESTS,
        files::PROMETHEUS_RULE,
        files::PROMETHEUS_EXAMPLE,
        files::PROMETHEUS_COMPOSE,
        files::COMPOSE,
    ] {
        assert!(parsed.iter().any(|f| f == expected), "{expected} was not found among {parsed:?}");
    }
}

/// Core Grafana panel types the dashboard may use (no plugins to install).
const CORE_PANEL_TYPES: [&str; 6] = ["stat", "state-timeline", "bargauge", "heatmap", "table", "timeseries"];

#[test]
fn dashboard_panels_have_titles_questions_units_and_stable_ids() {
    let text = files::read(files::DASHBOARD);
    assert!(!text.contains("${DS_") && !text.contains("__inputs"), "import placeholders break file provisioning");
    let dashboard = files::json(files::DASHBOARD);
    let uid = dashboard["uid"].as_str().unwrap_or_default();
    assert!(
        (1..=40).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "stable, URL-friendly dashboard uid: {uid:?}"
    );
    assert!(dashboard["id"].is_null(), "no database id in a provisioned dashboard");
    assert!(!dashboard["title"].as_str().unwrap_or_default().is_empty());

    let datasource_uid = "${datasource}";
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for row in dashboards::rows(&dashboard) {
        assert!(ids.insert(row["id"].as_u64().expect("row id")), "duplicate id {}", row["id"]);
        assert!(row["title"].as_str().is_some_and(|t| t.ends_with('?')), "a row is named by its question: {row}");
    }
    for panel in dashboards::panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        let id = panel["id"].as_u64().unwrap_or_else(|| panel_fail(title, "has no id"));
        assert!(ids.insert(id), "duplicate panel id {id}");
        assert!(!title.is_empty(), "panel {id} has no title");
        assert!(CORE_PANEL_TYPES.contains(&panel["type"].as_str().unwrap_or_default()), "{title}: panel type");
        let description = panel["description"].as_str().unwrap_or_default();
        assert!(description.contains('?'), "{title}: the description says which question the panel answers");
        let unit = panel["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_default();
        assert!(!unit.is_empty(), "{title}: no unit");
        assert_eq!(panel["datasource"]["uid"].as_str(), Some(datasource_uid), "{title}: panel datasource");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panel_fail(title, "has no targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert_eq!(target["datasource"]["uid"].as_str(), Some(datasource_uid), "{title}: query datasource");
            assert!(ref_ids.insert(target["refId"].as_str().unwrap_or_default()), "{title}: duplicate refId");
            assert!(!target["expr"].as_str().unwrap_or_default().is_empty(), "{title}: empty query");
        }
        let grid = &panel["gridPos"];
        let (x, y, w, h) = (grid["x"].as_u64(), grid["y"].as_u64(), grid["w"].as_u64(), grid["h"].as_u64());
        let (Some(x), Some(y), Some(w), Some(h)) = (x, y, w, h) else { panel_fail(title, "has no gridPos") };
        assert!(x + w <= 24 && w > 0 && h > 0, "{title}: gridPos outside the 24-column grid");
        boxes.push((title.to_owned(), x, y, w, h));
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let overlap = a.1 < b.1 + b.3 && b.1 < a.1 + a.3 && a.2 < b.2 + b.4 && b.2 < a.2 + a.4;
            assert!(!overlap, "panels \"{}\" and \"{}\" overlap", a.0, b.0);
        }
    }

    let variables = dashboard["templating"]["list"].as_array().expect("template variables");
    let variable =
        |name: &str| variables.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no ${name} variable"));
    let datasource = variable("datasource");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let provisioned = files::yaml_as_json(files::DATASOURCE_PROVISIONING);
    let provisioned_uid = &provisioned["datasources"][0]["uid"];
    assert_eq!(&datasource["current"]["value"], provisioned_uid, "the default is the provisioned datasource");
    assert_eq!(provisioned["datasources"][0]["type"], "prometheus");
    for name in ["job", "instance", "node"] {
        let v = variable(name);
        assert_eq!(v["type"], "query", "${name}");
        assert_eq!(v["datasource"]["uid"].as_str(), Some(datasource_uid), "${name} datasource");
        assert_eq!(v["includeAll"], true, "${name} offers All");
        assert_eq!(v["allValue"], ".*", "${name}: All matches every value, also ones not listed yet");
    }
    assert_eq!(dashboards::label_values_variables(&dashboard).len(), 3);
}

fn panel_fail(title: &str, what: &str) -> ! {
    panic!("panel \"{title}\" {what}")
}

#[test]
fn grafana_provisioning_points_at_the_dashboards_as_compose_mounts_them() {
    let provider = files::yaml_as_json(files::DASHBOARD_PROVISIONING);
    let path = provider["providers"][0]["options"]["path"].as_str().expect("provider path");
    assert_eq!(provider["providers"][0]["type"], "file");
    let compose = files::yaml_as_json(files::COMPOSE);
    let mounts = volume_mounts(&compose["services"]["grafana"]);
    assert_eq!(mounts.get(path).map(String::as_str), Some("../grafana/dashboards"), "dashboards at {path}");
    assert_eq!(
        mounts.get("/etc/grafana/provisioning/dashboards").map(String::as_str),
        Some("../grafana/provisioning/dashboards")
    );
    assert_eq!(
        mounts.get("/etc/grafana/provisioning/datasources").map(String::as_str),
        Some("../grafana/provisioning/datasources")
    );
    let datasource = files::yaml_as_json(files::DATASOURCE_PROVISIONING);
    assert_eq!(datasource["datasources"][0]["url"], "http://prometheus:9090", "the compose service");
}

/// Bind mounts of a compose service: container path -> host path (as written).
fn volume_mounts(service: &Value) -> BTreeMap<String, String> {
    service["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let parts: Vec<&str> = v.as_str().expect("short volume syntax").split(':').collect();
            (parts[1].to_owned(), parts[0].to_owned())
        })
        .collect()
}

#[test]
fn compose_stack_has_a_cluster_the_exporter_prometheus_and_grafana() {
    let compose = files::yaml_as_json(files::COMPOSE);
    let services = compose["services"].as_object().expect("services");
    for n in 1..=6 {
        let node = &services[&format!("valkey-{n}")];
        let command: Vec<&str> =
            node["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
        let enabled = command.windows(2).any(|w| w == ["--cluster-slot-stats-enabled", "yes"]);
        assert!(enabled, "valkey-{n} reports per-slot CPU and network");
    }
    let init = &services["valkey-cluster-init"];
    assert_eq!(init["restart"], "no", "cluster creation is one-shot");
    assert_eq!(init["depends_on"].as_object().map(|d| d.len()), Some(6));
    let script = init["command"][0].as_str().unwrap_or_default();
    assert!(script.contains("--cluster create") && script.contains("--cluster-replicas 1"), "3 primaries + 3 replicas");
    let exporter = &services["exporter"];
    assert_eq!(exporter["build"]["context"], "..");
    assert!(repo_path(exporter["build"]["dockerfile"].as_str().expect("dockerfile")).is_file());
    assert_eq!(exporter["depends_on"]["valkey-cluster-init"]["condition"], "service_completed_successfully");

    let deploy = repo_path("deploy");
    for (name, service) in services {
        for (container_path, host_path) in volume_mounts(service) {
            assert!(deploy.join(&host_path).exists(), "{name}: {host_path} (for {container_path}) does not exist");
        }
        for port in service["ports"].as_array().into_iter().flatten() {
            assert!(
                port.as_str().is_some_and(|p| p.starts_with("127.0.0.1:")),
                "{name} publishes {port} beyond localhost"
            );
        }
    }
    // Prometheus finds its configuration and the rule file it names where they are mounted.
    let prometheus_mounts = volume_mounts(&services["prometheus"]);
    assert_eq!(prometheus_mounts["/etc/prometheus/prometheus.yml"], "./compose/prometheus.yml");
    let config = files::yaml_as_json(files::PROMETHEUS_COMPOSE);
    for rule_file in config["rule_files"].as_array().expect("rule_files") {
        let mounted = format!("/etc/prometheus/{}", rule_file.as_str().expect("path"));
        assert_eq!(
            prometheus_mounts.get(&mounted).map(String::as_str),
            Some("../rules/valkey-slot-exporter.rules.yml")
        );
    }
    let target = &config["scrape_configs"][0]["static_configs"][0]["targets"][0];
    assert_eq!(target, "exporter:9765", "Prometheus scrapes the compose exporter");
}

#[test]
fn scrape_intervals_match_the_exporter_cache_ttl() {
    use valkey_slot_exporter::config::{self, Cli};
    let cli = <Cli as clap::Parser>::try_parse_from(["valkey-slot-exporter"]).expect("no flags");
    let defaults = config::load(cli).expect("defaults load");
    let mut configs = Vec::new();
    for file in [files::PROMETHEUS_EXAMPLE, files::PROMETHEUS_COMPOSE] {
        let job = files::yaml_as_json(file)["scrape_configs"][0].clone();
        configs.push((file.to_owned(), job["scrape_interval"].clone(), job["scrape_timeout"].clone()));
    }
    let monitor = kubernetes_objects().remove("ServiceMonitor").expect("ServiceMonitor");
    let endpoint = &monitor["spec"]["endpoints"][0];
    configs.push(("ServiceMonitor".into(), endpoint["interval"].clone(), endpoint["scrapeTimeout"].clone()));
    for (name, interval, timeout) in configs {
        let parse = |v: &Value| humantime::parse_duration(v.as_str().expect("a duration")).expect("a duration");
        let (interval, timeout) = (parse(&interval), parse(&timeout));
        assert!(
            interval >= defaults.clusters[0].cache_ttl,
            "{name}: scraping faster than the cache TTL repeats snapshots"
        );
        assert!(interval <= 2 * defaults.clusters[0].cache_ttl, "{name}: far slower scrapes make 2m rates too coarse");
        assert!(timeout < interval, "{name}: timeout below the interval");
        assert!(timeout >= 2 * defaults.clusters[0].node_timeout, "{name}: timeout leaves room for a slow node");
    }
}

/// Every object in deploy/kubernetes, by kind (each kind appears once).
fn kubernetes_objects() -> BTreeMap<String, Value> {
    let mut objects = BTreeMap::new();
    for file in files::files_under(files::KUBERNETES_DIR) {
        for document in files::yaml_documents(&files::read(&file), &file) {
            let object: Value = serde_json::to_value(document).expect("YAML maps to JSON");
            let kind = object["kind"].as_str().unwrap_or_else(|| panic!("{file}: object without kind")).to_owned();
            assert!(objects.insert(kind.clone(), object).is_none(), "two {kind} objects");
        }
    }
    objects
}

#[test]
fn kubernetes_manifests_have_the_expected_kinds_and_a_restricted_pod() {
    let objects = kubernetes_objects();
    let kinds: BTreeSet<&str> = objects.keys().map(String::as_str).collect();
    let expected = ["Deployment", "Kustomization", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"];
    assert_eq!(kinds, BTreeSet::from(expected));
    for (kind, object) in &objects {
        if kind != "Kustomization" {
            assert!(object["metadata"]["name"].as_str().is_some(), "{kind} has a name");
            assert!(object["metadata"]["namespace"].is_null(), "{kind}: the namespace is chosen at apply time");
        }
    }
    let listed: BTreeSet<String> = objects["Kustomization"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| format!("{}/{}", files::KUBERNETES_DIR, r.as_str().expect("file name")))
        .collect();
    let on_disk: BTreeSet<String> =
        files::files_under(files::KUBERNETES_DIR).into_iter().filter(|f| !f.ends_with("kustomization.yaml")).collect();
    assert_eq!(listed, on_disk, "the kustomization lists every manifest");

    let deployment = &objects["Deployment"];
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert!(pod_security["runAsUser"].as_u64().is_some_and(|uid| uid > 0), "a non-root uid");
    assert_eq!(pod_security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], false, "no Kubernetes API token");
    assert_eq!(pod["serviceAccountName"], objects["ServiceAccount"]["metadata"]["name"]);
    assert!(pod["hostNetwork"].is_null() && pod["hostPID"].is_null(), "no host namespaces");
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], pod_labels);

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_ne!(security["privileged"], true);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(security["capabilities"]["add"].is_null(), "no capability added back");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["ports"][0]["containerPort"], 9765);
    assert_eq!(container["ports"][0]["name"], "metrics");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    assert!(container["resources"]["limits"]["memory"].is_string(), "a memory limit");

    // The password comes from a Secret, as a file the exporter reads.
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    let password_file =
        args.iter().find_map(|a| a.strip_prefix("--password-file=")).expect("--password-file, not --password");
    assert!(!args.iter().any(|a| a.starts_with("--password=")), "no password on the command line");
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| password_file.starts_with(m["mountPath"].as_str().unwrap_or("//")))
        .expect("the password file is on a mounted volume");
    assert_eq!(mount["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert!(volume["secret"]["secretName"].is_string(), "the password volume is a Secret");
    let item_path =
        format!("{}/{}", mount["mountPath"].as_str().unwrap(), volume["secret"]["items"][0]["path"].as_str().unwrap());
    assert_eq!(item_path, password_file);
    for env in container["env"].as_array().into_iter().flatten() {
        assert!(env["value"].is_null() || !env["name"].as_str().unwrap_or_default().contains("PASSWORD"));
    }

    let service = &objects["Service"];
    for (key, value) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&pod_labels[key], value, "the Service selects the pod");
    }
    assert_eq!(service["spec"]["ports"][0]["port"], 9765);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    let monitor = &objects["ServiceMonitor"];
    for (key, value) in monitor["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels") {
        assert_eq!(&service["metadata"]["labels"][key], value, "the ServiceMonitor selects the Service");
    }
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
}

#[test]
fn dockerfile_builds_in_stages_and_runs_as_non_root() {
    let dockerfile = files::read("Dockerfile");
    let instructions: Vec<&str> =
        dockerfile.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let from: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "a build stage and a runtime stage");
    assert!(from[0].contains(" AS "), "the build stage is named");
    let runtime = instructions.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let runtime_stage = &instructions[runtime..];
    let user = runtime_stage.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER in the runtime stage");
    assert!(!matches!(user.trim(), "root" | "0" | "0:0"), "runs as non-root, not {user}");
    assert!(runtime_stage.iter().any(|l| l.starts_with("EXPOSE 9765")), "the port is exposed");
    assert!(runtime_stage.iter().any(|l| l.starts_with("ENTRYPOINT")), "the exporter is the entrypoint");
    for label in
        ["org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version"]
    {
        assert!(dockerfile.contains(label), "OCI label {label}");
    }
    assert!(dockerfile.contains("--locked"), "builds the versions in Cargo.lock");
    let ignore = files::read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target" || l.trim() == "/target"), "target/ is not sent to the daemon");
}

#[test]
fn monitoring_docs_name_every_row_panel_and_rule() {
    let docs = files::read("docs/monitoring.md");
    let dashboard = files::json(files::DASHBOARD);
    let mut names: Vec<String> =
        dashboards::rows(&dashboard).iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect();
    names.extend(dashboards::panels(&dashboard).iter().map(|p| p["title"].as_str().unwrap().to_owned()));
    names.extend(rules().into_iter().map(|r| r.name));
    let missing: Vec<&String> = names.iter().filter(|n| !docs.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "docs/monitoring.md does not mention {missing:?}");
}
