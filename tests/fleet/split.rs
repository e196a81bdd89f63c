//! The split of docs/fleet.md on real servers: a Valkey cluster (3 primaries) for each
//! cluster the guide's exporter files name, two exporter processes each serving the
//! clusters of its own file, and real Prometheus servers configured from the guide:
//! the split configuration (one job, one `/sd` per exporter) and the two `hashmod`
//! shards. Only the addresses, the intervals (seconds, not 30 s) and the rules' path
//! are the test's; remote write and Alertmanager, which the test has neither of, are
//! left out of the shards.

use crate::doc::{self, SHARDS, SPLIT};
use crate::monitoring_support::files::{self, repo_path};
use crate::monitoring_support::prometheus::Prometheus;
use crate::support::eventually::{Unmet, eventually_async};
use crate::support::http::Request;
use crate::support::{ExporterBinary, ValkeyCluster, send, sets};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// Primaries per cluster: the smallest cluster `valkey-cli --cluster create` builds.
const PRIMARIES: usize = 3;
/// Scrape and evaluation interval of the test's Prometheus servers; the exporters'
/// cache TTL is 1 s, so every scrape sees a fresh snapshot.
const SCRAPE_INTERVAL: &str = "2s";
/// How often the test's Prometheus servers ask each exporter's `/sd`.
const SD_REFRESH: &str = "1s";
/// How long discovery, scrapes and a lost exporter may take to show in Prometheus.
const WITHIN: Duration = Duration::from_secs(60);
/// How often Prometheus is asked again meanwhile.
const STEP: Duration = Duration::from_millis(500);
/// The slot the test's keys go to (any slot will do: the sums are per cluster).
const KEY_SLOT: u16 = 1000;
/// `up` of the job every configuration in the guide scrapes the exporters with.
const UP: &str = "up{job=\"valkey-slot-exporter\"}";

/// One cluster of the guide: its name, the exporter (index of the guide's exporter
/// file) that serves it, the real cluster, its primaries and the keys written to it.
struct Served {
    name: String,
    exporter: usize,
    cluster: ValkeyCluster,
    /// Asked once, before any Prometheus runs (the harness's client blocks).
    primaries: BTreeSet<String>,
    /// A count of its own per cluster, so a cluster's sums cannot be another's.
    keys: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_exporters_with_disjoint_clusters_are_each_scraped_once_through_both_sd_endpoints() {
    files::require_tool("prometheus");
    let dir = tempfile::Builder::new().prefix("fleet-split-").tempdir().expect("temp dir");
    let mut served = Vec::new();
    for (exporter, names) in doc::exporter_clusters().into_iter().enumerate() {
        for name in names {
            let cluster = ValkeyCluster::start(PRIMARIES, 0);
            let keys = 5 * (served.len() as u64 + 1);
            let owner = cluster.slot_owners()[usize::from(KEY_SLOT)].clone();
            send(&owner, &sets(KEY_SLOT, keys as usize, 8));
            let primaries = cluster.primaries().into_iter().collect();
            served.push(Served { name, exporter, cluster, primaries, keys });
        }
    }
    let exporter_count = served.iter().map(|s| s.exporter + 1).max().expect("clusters");
    let mut exporters: Vec<Option<ExporterBinary>> =
        (0..exporter_count).map(|index| Some(start_exporter(dir.path(), index, &served))).collect();
    let addrs: Vec<String> = exporters.iter().flatten().map(|e| e.addr.to_string()).collect();

    let split = start_prometheus(dir.path(), SPLIT, &addrs).await;
    let shards =
        [start_prometheus(dir.path(), SHARDS[0], &addrs).await, start_prometheus(dir.path(), SHARDS[1], &addrs).await];
    every_cluster_is_scraped_once_from_its_own_exporter(&split, &served, &addrs).await;
    the_shards_scrape_every_cluster_once_between_them(&shards, &served).await;

    // The second exporter goes away: its /sd fails, and Prometheus keeps the targets it
    // last discovered from it, now down, rather than losing its clusters silently.
    let failures_before = sd_failures(&split).await;
    drop(exporters[1].take());
    let lost = &addrs[1];
    eventually_async("the lost exporter's clusters stay, down", WITHIN, STEP, || async {
        let failures = sd_failures(&split).await;
        if failures <= failures_before {
            return Err(Unmet::NotYet(format!("no failed /sd yet ({failures})")));
        }
        let up = targets(&split).await?;
        let expected: BTreeMap<String, (String, f64)> = served
            .iter()
            .map(|s| {
                let instance = addrs[s.exporter].clone();
                let value = if &instance == lost { 0.0 } else { 1.0 };
                (s.name.clone(), (instance, value))
            })
            .collect();
        if up == expected { Ok(()) } else { Err(Unmet::NotYet(format!("{up:?}, expected {expected:?}"))) }
    })
    .await;

    // Prometheus first: it holds keep-alive connections to the exporters.
    drop(shards);
    drop(split);
    drop(exporters);
    drop(served);
}

/// Starts the exporter serving the clusters of the guide's exporter file `index`,
/// seeded by the test's clusters, with a 1 s cache TTL and no per-slot series (the
/// node series are what the test reads).
fn start_exporter(dir: &Path, index: usize, served: &[Served]) -> ExporterBinary {
    let mut toml = String::from("cache_ttl = \"1s\"\nnode_timeout = \"1s\"\nslot_series = \"none\"\n");
    for s in served.iter().filter(|s| s.exporter == index) {
        toml += &format!("\n[clusters.{}]\nnodes = [\"{}\"]\n", s.name, s.cluster.seed_url());
    }
    let path = dir.join(format!("exporter-{index}.toml"));
    std::fs::write(&path, toml).expect("write the exporter's config");
    ExporterBinary::start(&["--config", path.to_str().expect("a UTF-8 path")])
}

/// Starts a Prometheus with the guide's configuration `name`, its `/sd` URLs pointed in
/// order at the exporters in `addrs`.
async fn start_prometheus(dir: &Path, name: &str, addrs: &[String]) -> Prometheus {
    let mut config = doc::prometheus_config(name);
    config["global"]["evaluation_interval"] = SCRAPE_INTERVAL.into();
    config["rule_files"] = vec![repo_path(files::RULES).display().to_string()].into();
    let top = config.as_mapping_mut().expect("a mapping");
    top.remove("remote_write");
    top.remove("alerting");
    let job = &mut config["scrape_configs"][0];
    job["scrape_interval"] = SCRAPE_INTERVAL.into();
    job["scrape_timeout"] = SCRAPE_INTERVAL.into();
    let discovery = job["http_sd_configs"].as_sequence_mut().expect("http_sd_configs");
    assert_eq!(discovery.len(), addrs.len(), "{name}: one /sd per exporter");
    for (sd, addr) in discovery.iter_mut().zip(addrs) {
        sd["url"] = format!("http://{addr}/sd").into();
        sd["refresh_interval"] = SD_REFRESH.into();
    }
    let home = dir.join(name.trim_end_matches(".yml"));
    std::fs::create_dir_all(&home).expect("a folder per Prometheus");
    let path = home.join("prometheus.yml");
    std::fs::write(&path, serde_norway::to_string(&config).expect("serialize YAML")).expect("write prometheus.yml");
    Prometheus::start(&path, &home).await
}

/// Every `up` series of the job: cluster name -> (instance, value); an error if a
/// cluster has two targets or a series has no `valkey_cluster`.
async fn targets(prometheus: &Prometheus) -> Result<BTreeMap<String, (String, f64)>, Unmet> {
    let up = prometheus.query(UP, None).await.map_err(Unmet::NotYet)?;
    let mut targets = BTreeMap::new();
    for series in &up.series {
        let (cluster, instance) = (series.label("valkey_cluster"), series.label("instance"));
        if cluster.is_empty() {
            return Err(Unmet::Never(format!("a target without valkey_cluster: {:?}", series.labels)));
        }
        if let Some(first) = targets.insert(cluster.to_owned(), (instance.to_owned(), series.last())) {
            return Err(Unmet::Never(format!("{cluster} is scraped twice: from {} and {instance}", first.0)));
        }
    }
    Ok(targets)
}

/// `expr`'s value per `valkey_cluster`.
async fn per_cluster(prometheus: &Prometheus, expr: &str) -> Result<BTreeMap<String, f64>, Unmet> {
    let result = prometheus.query(expr, None).await.map_err(Unmet::NotYet)?;
    Ok(result.series.iter().map(|s| (s.label("valkey_cluster").to_owned(), s.last())).collect())
}

/// One target per cluster, up, from the exporter whose file names it; its slots, keys
/// and nodes its own cluster's.
async fn every_cluster_is_scraped_once_from_its_own_exporter(
    prometheus: &Prometheus,
    served: &[Served],
    addrs: &[String],
) {
    let expected_targets: BTreeMap<String, (String, f64)> =
        served.iter().map(|s| (s.name.clone(), (addrs[s.exporter].clone(), 1.0))).collect();
    let expected_slots: BTreeMap<String, f64> = served.iter().map(|s| (s.name.clone(), 16384.0)).collect();
    let expected_keys: BTreeMap<String, f64> = served.iter().map(|s| (s.name.clone(), s.keys as f64)).collect();
    let expected_nodes: BTreeMap<String, BTreeSet<String>> =
        served.iter().map(|s| (s.name.clone(), s.primaries.clone())).collect();
    eventually_async("every cluster scraped once, from its own exporter", WITHIN, STEP, || async {
        let up = targets(prometheus).await?;
        if up != expected_targets {
            return Err(Unmet::NotYet(format!("targets {up:?}, expected {expected_targets:?}")));
        }
        let slots = per_cluster(prometheus, "sum by (valkey_cluster) (valkey_node_slots)").await?;
        let keys = per_cluster(prometheus, "sum by (valkey_cluster) (valkey_node_slot_keys)").await?;
        let up_nodes = prometheus.query("valkey_node_up == 1", None).await.map_err(Unmet::NotYet)?;
        let mut nodes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for series in &up_nodes.series {
            nodes.entry(series.label("valkey_cluster").to_owned()).or_default().insert(series.label("node").to_owned());
        }
        if (&slots, &keys, &nodes) == (&expected_slots, &expected_keys, &expected_nodes) {
            Ok(())
        } else {
            Err(Unmet::NotYet(format!("slots {slots:?}, keys {keys:?}, nodes up {nodes:?}")))
        }
    })
    .await;
}

/// Between them, the two shards scrape every cluster exactly once, each target up.
async fn the_shards_scrape_every_cluster_once_between_them(shards: &[Prometheus; 2], served: &[Served]) {
    let all: BTreeSet<String> = served.iter().map(|s| s.name.clone()).collect();
    eventually_async("the shards split the clusters", WITHIN, STEP, || async {
        let mut kept = Vec::new();
        for shard in shards {
            let up = targets(shard).await?;
            let clusters: BTreeSet<String> =
                up.iter().filter(|(_, (_, v))| *v == 1.0).map(|(c, _)| c.clone()).collect();
            kept.push(clusters);
        }
        if let Some(both) = kept[0].intersection(&kept[1]).next() {
            return Err(Unmet::Never(format!("{both} is scraped by both shards: {kept:?}")));
        }
        let union: BTreeSet<String> = kept[0].union(&kept[1]).cloned().collect();
        if union == all { Ok(()) } else { Err(Unmet::NotYet(format!("shards keep {kept:?}, expected {all:?}"))) }
    })
    .await;
}

/// `prometheus_sd_http_failures_total` from Prometheus' own /metrics: failed `/sd` requests.
async fn sd_failures(prometheus: &Prometheus) -> f64 {
    let response = Request::get("/metrics").timeout(Duration::from_secs(10)).send(prometheus.addr).await;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    text.lines()
        .filter(|line| line.starts_with("prometheus_sd_http_failures_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
