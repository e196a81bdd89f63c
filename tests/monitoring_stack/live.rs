//! Against a real Prometheus: three real clusters under traffic, served by one
//! exporter as three named clusters, one per `--slot-series` profile (all, top:100,
//! none), found by a Prometheus configured from the shipped
//! deploy/prometheus/prometheus-sd.yml (the exporter's `/sd`) with the shipped rules.
//! Every series carries `valkey_cluster`; every rule and every dashboard query returns
//! data for each cluster, and only that cluster's when the dashboard picks one: the
//! stack may depend neither on per-slot series nor on one cluster per exporter.
//! `sessions` runs Valkey 9.1, the others Valkey 8: each holds a slot left open, and
//! `sessions` lists a cancelled and a failed migration job (see [`moves`]), so that the
//! moves panels have data and both move alerts are seen pending on the right nodes.
//!
//! [`moves`]: crate::moves

use crate::exporter_support::{RunningExporter, start_exporter};
use crate::monitoring_support::checks::{Check, Scope, run_until_all_pass};
use crate::monitoring_support::dashboards::{self, Substitution};
use crate::monitoring_support::files::{self, repo_path};
use crate::monitoring_support::prometheus::{Prometheus, QueryResult};
use crate::monitoring_support::traffic::{Load, Traffic};
use crate::moves::{self, Expected};
use crate::rules::{Rule, rules};
use crate::support::eventually::{eventually_async, try_eventually_async};
use crate::support::{SLOT_COUNT, ValkeyCluster, expected_keys, fill};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
/// The job name in deploy/prometheus/prometheus-sd.yml.
const JOB: &str = "valkey-slot-exporter";
/// The exporter's default `--slot-range-size`.
const SLOTS_PER_RANGE: u16 = 128;
/// The exporter's clusters by name, each with its `slot_series` profile.
const CLUSTERS: [(&str, &str); 3] = [("orders", "all"), ("carts", "top:100"), ("sessions", "none")];
/// The label service discovery puts on each cluster's series: every rule must keep it.
const TARGET_LABEL: &str = "valkey_cluster";
/// The cluster running Valkey 9.1, the only one that can list atomic migration jobs.
const VALKEY9_CLUSTER: &str = "sessions";
/// What a dashboard query names when it reads the jobs, which Valkey 8 has none of.
const JOBS_METRIC: &str = "valkey_slot_migration_jobs";

/// One Valkey cluster, as the exporter names it, and the traffic on it.
struct Target {
    name: &'static str,
    profile: &'static str,
    cluster: ValkeyCluster,
    traffic: Traffic,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_rule_returns_data_for_every_discovered_cluster_and_profile() {
    files::require_tool("prometheus");
    files::require_tool("promtool");
    let dir = tempfile::Builder::new().prefix("monitoring-stack-").tempdir().expect("temp dir");
    let mut targets = Vec::new();
    let mut total_keys = 0;
    let mut moved = Expected::default();
    for (name, profile) in CLUSTERS {
        let cluster =
            if name == VALKEY9_CLUSTER { ValkeyCluster::start_valkey9(3, 0) } else { ValkeyCluster::start(3, 0) };
        total_keys = fill(&cluster, expected_keys);
        if name == VALKEY9_CLUSTER {
            moves::fail_two_jobs(&cluster, name, &mut moved);
        }
        moves::open_a_slot(&cluster, name, &mut moved);
        let traffic = Traffic::start(&cluster, &Load::steady());
        targets.push(Target { name, profile, cluster, traffic });
    }
    let exporter = start_exporter(&["--config", &write_exporter_config(dir.path(), &targets)]).await;
    let config = write_test_prometheus_config(dir.path(), &exporter);
    let prometheus = Prometheus::start(&config, dir.path()).await;
    let rules = rules();
    wait_for_scrapes_and_rules(&prometheus, &rules).await;

    let mut checks = rule_checks(&rules);
    checks.extend(dashboard_checks(&exporter, &targets));
    run_until_all_pass(&prometheus, checks, SCRAPE_INTERVAL, SETTLE_TIMEOUT).await;
    moves::check_moves_reach_prometheus(&prometheus, &moved, SCRAPE_INTERVAL).await;
    check_each_cluster_runs_its_profile(&prometheus).await;
    check_slot_ranges_add_up(&prometheus, total_keys).await;
    check_slot_maps_are_in_slot_order(&prometheus, &exporter).await;
    check_metrics_with_promtool(&exporter).await;

    for target in targets {
        target.traffic.stop();
    }
    // Prometheus first: it holds keep-alive connections that the exporter would wait for.
    drop(prometheus);
    exporter.stop().await;
}

/// The exporter's TOML: a cache TTL below the scrape interval (every scrape sees a new
/// snapshot), and one `[clusters.NAME]` table per target.
fn write_exporter_config(dir: &Path, targets: &[Target]) -> String {
    let mut toml = String::from("cache_ttl = \"1s\"\nnode_timeout = \"1s\"\n");
    for target in targets {
        let seed = target.cluster.seed_url();
        toml += &format!("\n[clusters.{}]\nnodes = [\"{seed}\"]\nslot_series = \"{}\"\n", target.name, target.profile);
    }
    let path = dir.join("exporter.toml");
    std::fs::write(&path, toml).expect("write exporter.toml");
    path.display().to_string()
}

/// deploy/prometheus/prometheus-sd.yml as shipped, but for the discovery URL (the
/// test's exporter), the intervals (seconds instead of 30s) and the rule file's path.
fn write_test_prometheus_config(dir: &Path, exporter: &RunningExporter) -> PathBuf {
    let mut config = files::yaml(files::PROMETHEUS_SD);
    let interval = format!("{}s", SCRAPE_INTERVAL.as_secs());
    config["global"]["evaluation_interval"] = interval.clone().into();
    config["rule_files"] = vec![repo_path(files::RULES).display().to_string()].into();
    let job = &mut config["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some(JOB), "the example's first job scrapes the exporter");
    job["scrape_interval"] = interval.clone().into();
    job["scrape_timeout"] = interval.into();
    let discovery = &mut job["http_sd_configs"][0];
    let shipped = discovery["url"].as_str().expect("an http_sd url").to_owned();
    assert!(shipped.ends_with(":9765/sd"), "the example asks the exporter's /sd: {shipped}");
    discovery["url"] = format!("http://{}/sd", exporter.addr).into();
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, serde_norway::to_string(&config).expect("serialize YAML")).expect("write prometheus.yml");
    path
}

/// Waits until Prometheus holds three scrapes of every target and every recording
/// rule has a series for each.
async fn wait_for_scrapes_and_rules(prometheus: &Prometheus, rules: &[Rule]) {
    let step = Duration::from_millis(500);
    let warm = try_eventually_async("three scrapes of each target and every rule", WARM_UP_TIMEOUT, step, || async {
        let mut missing = Vec::new();
        let scrapes = prometheus.query("count_over_time(valkey_exporter_build_info[5m])", None).await;
        match scrapes.as_ref().map(|r| (r.series.len(), r.values().fold(f64::INFINITY, f64::min))) {
            Ok((3, fewest)) if fewest >= 3.0 => {}
            other => missing.push(format!("three scrapes of each target (have {other:?})")),
        }
        for rule in rules.iter().filter(|r| !r.is_alert) {
            let clusters = prometheus.query(&rule.name, None).await.map(|r| labels_of(&r, TARGET_LABEL));
            if !clusters.is_ok_and(|c| c == names()) {
                missing.push(rule.name.clone());
            }
        }
        if missing.is_empty() { Ok(()) } else { Err(format!("missing: {missing:?}")) }
    })
    .await;
    if let Err(failure) = warm {
        let up = prometheus.query("up", None).await;
        let durations = prometheus.query("scrape_duration_seconds", None).await;
        panic!("{failure}\nup: {up:?}\nscrape durations: {durations:?}\n{}", prometheus.log_tail());
    }
}

fn labels_of(result: &QueryResult, label: &str) -> BTreeSet<String> {
    result.series.iter().map(|s| s.label(label).to_owned()).collect()
}

/// Every recording rule, its expression and its series, has data of its own for each
/// cluster (so it keeps the target label too); every alert expression evaluates.
fn rule_checks(rules: &[Rule]) -> Vec<Check> {
    let each = Scope::Each { label: TARGET_LABEL.into(), values: names().into_iter().collect() };
    let mut checks = Vec::new();
    for rule in rules {
        if rule.is_alert {
            checks.push(Check::evaluates(format!("alert {}", rule.name), &rule.expr));
        } else {
            let expression = format!("recording rule {} (its expression)", rule.name);
            checks.push(Check::instant(expression, &rule.expr, each.clone()));
            let series = format!("recording rule {} (its series)", rule.name);
            checks.push(Check::instant(series, &rule.name, each.clone()));
        }
    }
    checks
}

/// Every panel query and variable of the dashboard, with the variables on "All" (a query
/// that keeps the cluster label must show every cluster, whatever its profile), and on
/// each cluster in turn (one of its nodes): then the data must be that cluster's only.
/// The jobs panel has data on Valkey 9.1 only, and must be empty on a Valkey 8 cluster.
fn dashboard_checks(exporter: &RunningExporter, targets: &[Target]) -> Vec<Check> {
    let dashboard = files::json(files::DASHBOARD);
    let instance = exporter.addr.to_string();
    let all_primaries: Vec<String> = targets.iter().flat_map(|t| t.cluster.primaries()).collect();
    let all = (Substitution::all(RATE_INTERVAL), None, names().into_iter().collect(), all_primaries, "all clusters");
    let mut substitutions = vec![all];
    for target in targets {
        let primaries = target.cluster.primaries();
        let substitution = Substitution {
            job: JOB.into(),
            instance: instance.clone(),
            valkey_cluster: target.name.into(),
            node: primaries[0].clone(),
            rate_interval: RATE_INTERVAL.into(),
        };
        substitutions.push((substitution, Some(target.name), vec![target.name.to_owned()], primaries, target.name));
    }
    let mut checks = Vec::new();
    for (substitution, only, clusters, primaries, whose) in substitutions {
        for query in dashboards::queries(&dashboard) {
            let name = format!("panel {} \"{}\" query {} on {whose}", query.panel_id, query.panel_title, query.ref_id);
            let expr = substitution.apply(&query.expr);
            let with_data: Vec<String> = clusters
                .iter()
                .filter(|cluster| !query.expr.contains(JOBS_METRIC) || *cluster == VALKEY9_CLUSTER)
                .cloned()
                .collect();
            let scope = match only {
                _ if with_data.is_empty() => {
                    checks.push(Check::empty(name, &expr, !query.instant));
                    continue;
                }
                Some(cluster) => Scope::Only { label: TARGET_LABEL.into(), value: cluster.into() },
                None => Scope::EachWhereKept { label: TARGET_LABEL.into(), values: with_data },
            };
            checks.push(if query.instant {
                Check::instant(name, &expr, scope)
            } else {
                Check::range(name, &expr, scope)
            });
        }
        for variable in dashboards::label_values_variables(&dashboard) {
            let must_contain = match variable.name.as_str() {
                "job" => vec![JOB.to_owned()],
                "instance" => vec![instance.clone()],
                "valkey_cluster" => clusters.clone(),
                "node" => primaries.clone(),
                other => panic!("unexpected dashboard variable {other}"),
            };
            let name = format!("variable ${} on {whose}", variable.name);
            let selector = substitution.apply(&variable.selector);
            checks.push(Check::label_values(name, &selector, &variable.label, must_contain));
        }
    }
    checks
}

/// The names of the exporter's clusters.
fn names() -> BTreeSet<String> {
    CLUSTERS.iter().map(|(name, _)| (*name).to_owned()).collect()
}

/// Each cluster runs the profile its table names, so the checks above really saw the
/// dashboard without per-slot series (none) and with only some (top:100).
async fn check_each_cluster_runs_its_profile(prometheus: &Prometheus) {
    eventually_async("every cluster runs its profile", SETTLE_TIMEOUT, SCRAPE_INTERVAL, || async {
        for (name, profile) in CLUSTERS {
            let selector = format!("{{{TARGET_LABEL}=\"{name}\"}}");
            let served = prometheus.query(&format!("valkey_exporter_slot_series{selector}"), None).await?;
            if labels_of(&served, "profile") != BTreeSet::from([profile.to_owned()]) {
                return Err(format!("{profile}: valkey_exporter_slot_series is {served:?}"));
            }
            let slots = prometheus.query(&format!("count(valkey_slot_keys{selector})"), None).await?;
            let count = first_value(&slots).unwrap_or(0.0);
            let expected = match profile {
                "all" => count == f64::from(SLOT_COUNT),
                // The 100 slots with the most keys, and any slot above the floor on
                // CPU or network (the traffic's hot slots): at most 300.
                "top:100" => (100.0..=300.0).contains(&count),
                _ => count == 0.0,
            };
            if !expected {
                return Err(format!("{profile}: {count} slots have valkey_slot_keys"));
            }
        }
        Ok(())
    })
    .await;
}

/// The exporter's slot ranges cover all 16384 slots exactly once, in every cluster:
/// keys per range equal the keys the test wrote there, and the range counters add up
/// to the primaries' node counters of the same scrape.
async fn check_slot_ranges_add_up(prometheus: &Prometheus, total_keys: u64) {
    let mut expected = BTreeMap::new();
    for slot in 0..SLOT_COUNT {
        *expected.entry(slot_range_label(slot)).or_insert(0.0) += expected_keys(slot) as f64;
    }
    assert_eq!(expected.len(), 128, "16384 slots in ranges of 128");
    assert_eq!(expected.values().sum::<f64>(), total_keys as f64);
    eventually_async("the slot ranges add up", SETTLE_TIMEOUT, SCRAPE_INTERVAL, || async {
        let mut problems = Vec::new();
        for (name, _) in CLUSTERS {
            let selector = format!("{TARGET_LABEL}=\"{name}\"");
            let keys = prometheus.query(&format!("valkey_slot_range_keys{{{selector}}}"), None).await?;
            let actual: BTreeMap<String, f64> =
                keys.series.iter().map(|s| (s.label("slot_range").to_owned(), s.last())).collect();
            if actual != expected {
                let wrong: Vec<_> = expected.iter().filter(|(r, k)| actual.get(*r) != Some(k)).take(5).collect();
                problems.push(format!("{name}: key ranges differ from the keys written; first wrong: {wrong:?}"));
            }
            for counter in ["cpu_seconds_total", "network_receive_bytes_total", "network_transmit_bytes_total"] {
                let at = Some(unix_now() - 1.0);
                let ranges = format!("sum(valkey_slot_range_{counter}{{{selector}}})");
                let nodes = format!(
                    "sum(valkey_node_slot_{counter}{{{selector}}} and ignoring (node_id, role, server, version) valkey_node_info{{role=\"primary\"}})"
                );
                let ranges = first_value(&prometheus.query(&ranges, at).await?);
                let nodes = first_value(&prometheus.query(&nodes, at).await?);
                let agree = matches!((ranges, nodes), (Some(r), Some(n)) if n > 0.0 && ((r - n) / n).abs() < 1e-9);
                if !agree {
                    problems.push(format!("{name} {counter}: ranges add up to {ranges:?}, nodes to {nodes:?}"));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
    })
    .await;
}

/// The slot maps' queries return the 128 ranges in slot order, as Grafana draws their
/// rows, on each cluster.
async fn check_slot_maps_are_in_slot_order(prometheus: &Prometheus, exporter: &RunningExporter) {
    let dashboard = files::json(files::DASHBOARD);
    let heatmaps: BTreeSet<u64> = dashboards::panels(&dashboard)
        .iter()
        .filter(|p| p["type"] == "heatmap")
        .filter_map(|p| p["id"].as_u64())
        .collect();
    let in_order: Vec<String> = (0..SLOT_COUNT).step_by(usize::from(SLOTS_PER_RANGE)).map(slot_range_label).collect();
    for query in dashboards::queries(&dashboard).into_iter().filter(|q| heatmaps.contains(&q.panel_id)) {
        for (name, _) in CLUSTERS {
            let substitution = Substitution {
                instance: exporter.addr.to_string(),
                valkey_cluster: name.into(),
                ..Substitution::all(RATE_INTERVAL)
            };
            let expr = substitution.apply(&query.expr);
            let what = format!("panel \"{}\" on {name}: rows in slot order", query.panel_title);
            eventually_async(&what, SETTLE_TIMEOUT, SCRAPE_INTERVAL, || async {
                let result = prometheus.query_range(&expr, Duration::from_secs(60), SCRAPE_INTERVAL).await?;
                let rows: Vec<&str> = result.series.iter().map(|s| s.label("slot_range")).collect();
                if rows == in_order { Ok(()) } else { Err(format!("{rows:?}")) }
            })
            .await;
        }
    }
}

/// `promtool check metrics` finds nothing in a real scrape of each cluster. Any
/// finding here must be fixed in the exporter, or explained in docs/monitoring.md
/// ("promtool check metrics") and listed here.
async fn check_metrics_with_promtool(exporter: &RunningExporter) {
    for (name, profile) in CLUSTERS {
        let response = exporter.get(&format!("/metrics?cluster={name}")).await;
        assert_eq!(response.status, 200);
        let families: &[&str] = match profile {
            "all" => &["valkey_slot_cpu_seconds_total{", "valkey_node_hottest_slot_share{", "valkey_slot_range_keys{"],
            _ => &["valkey_node_slot_cpu_seconds_total{", "valkey_node_hottest_slot_share{"],
        };
        for family in families {
            assert!(response.text().contains(family), "{profile}: {family} missing");
        }
        let output = files::promtool(&["check", "metrics"], &repo_path(""), Some(&response.body[..]));
        let findings = files::output_text(&output);
        assert!(
            output.status.success() && findings.trim().is_empty(),
            "promtool check metrics ({profile}):\n{findings}"
        );
    }
}

/// The `slot_range` label of `slot`: its range's first slot, zero-padded to 5 digits.
fn slot_range_label(slot: u16) -> String {
    format!("{:05}", slot / SLOTS_PER_RANGE * SLOTS_PER_RANGE)
}

fn first_value(result: &QueryResult) -> Option<f64> {
    result.series.first().map(|s| s.last())
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}
