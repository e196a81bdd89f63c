//! docs/fleet.md's configurations, checked by the programs that will read them:
//! promtool for the Prometheus ones, the exporter's own loader for the exporter ones.

use crate::doc::{self, SHARDS, SPLIT};
use crate::monitoring_support::files::{self, repo_path};
use serde_norway::Value;
use std::collections::BTreeSet;

/// The number of rules in the shipped rules file, which promtool reports when a
/// configuration loads it.
fn rule_count() -> usize {
    let rules = files::yaml_as_json(files::RULES);
    rules["groups"].as_array().expect("groups").iter().map(|g| g["rules"].as_array().map_or(0, Vec::len)).sum()
}

#[test]
fn every_prometheus_configuration_in_the_fleet_guide_passes_promtool_check_config() {
    let mut checked = BTreeSet::new();
    for block in doc::yaml_blocks().into_iter().filter(doc::YamlBlock::is_prometheus_config) {
        // Laid out as the guide says: the rules file next to the configuration.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("prometheus.yml"), &block.text).expect("write the configuration");
        std::fs::copy(repo_path(files::RULES), dir.path().join("valkey-slot-exporter.rules.yml")).expect("copy rules");
        let output = files::promtool(&["check", "config", "prometheus.yml"], dir.path(), None);
        let text = files::output_text(&output);
        assert!(output.status.success(), "promtool check config on {}:\n{}\n{text}", block.name, block.text);
        if block.value.get("rule_files").is_some() {
            let loaded = format!("SUCCESS: {} rules found", rule_count());
            assert!(text.contains(&loaded), "{} loads the shipped rules: {text}", block.name);
        }
        assert!(!block.name.is_empty(), "every Prometheus configuration is named by its first line:\n{}", block.text);
        assert!(checked.insert(block.name.clone()), "two configurations are named {}", block.name);
    }
    for name in std::iter::once(SPLIT).chain(SHARDS) {
        assert!(checked.contains(name), "{name} was checked (checked: {checked:?})");
    }
}

#[test]
fn the_guides_exporters_have_disjoint_clusters_and_every_prometheus_discovers_them_all() {
    let exporters = doc::exporter_clusters();
    assert!(exporters.len() >= 2, "the guide splits clusters across exporters");
    let mut seen = BTreeSet::new();
    for clusters in &exporters {
        assert!(!clusters.is_empty(), "an exporter file without clusters");
        for name in clusters {
            assert!(seen.insert(name.clone()), "cluster {name} is in two exporters' files");
        }
    }

    let split = doc::prometheus_config(SPLIT);
    let job = &split["scrape_configs"][0];
    let urls = sd_urls(job);
    assert_eq!(urls.len(), exporters.len(), "{SPLIT}: one /sd per exporter file, in one job");
    assert_eq!(split["scrape_configs"].as_sequence().map(Vec::len), Some(1), "{SPLIT}: one job");
    for (index, name) in SHARDS.iter().enumerate() {
        let shard = doc::prometheus_config(name);
        let shard_job = &shard["scrape_configs"][0];
        assert_eq!(shard_job["job_name"], job["job_name"], "{name}: the same job as {SPLIT}");
        assert_eq!(sd_urls(shard_job), urls, "{name}: every shard discovers every exporter");
        let relabel = shard_job["relabel_configs"].as_sequence().expect("relabel_configs");
        let hash = relabel.iter().find(|r| r["action"] == "hashmod").expect("a hashmod");
        assert_eq!(hash["source_labels"][0], "__param_cluster", "{name}: shards by the cluster parameter");
        assert_eq!(hash["modulus"].as_u64(), Some(SHARDS.len() as u64), "{name}: modulus = number of shards");
        let keep = relabel.iter().find(|r| r["action"] == "keep").expect("a keep");
        assert_eq!(keep["source_labels"][0], hash["target_label"], "{name}: keeps by the hash");
        assert_eq!(keep["regex"].as_str(), Some(index.to_string().as_str()), "{name}: keeps shard {index}");
    }
}

/// The `http_sd_configs` URLs of a scrape job, in order.
fn sd_urls(job: &Value) -> Vec<String> {
    let configs = job["http_sd_configs"].as_sequence().expect("http_sd_configs");
    configs.iter().map(|c| c["url"].as_str().expect("a url").to_owned()).collect()
}
