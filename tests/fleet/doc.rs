//! The configuration blocks of docs/fleet.md: its Prometheus configurations, each
//! named by its first comment line (`# prometheus-split.yml: ...`), its other YAML,
//! and its exporter configuration files (```` ```toml ````), in the guide's order.

use crate::monitoring_support::{exporter_config, files};
use std::collections::BTreeSet;

/// Top-level keys of a Prometheus configuration file: a YAML block with any of them is
/// one, and must pass `promtool check config`.
const PROMETHEUS_KEYS: [&str; 9] = [
    "global",
    "rule_files",
    "scrape_config_files",
    "scrape_configs",
    "alerting",
    "remote_write",
    "remote_read",
    "storage",
    "tracing",
];
/// The name of the configuration with one Prometheus and every exporter's `/sd`.
pub const SPLIT: &str = "prometheus-split.yml";
/// The names of the `hashmod` shards' configurations, shard 0 first.
pub const SHARDS: [&str; 2] = ["prometheus-shard-0-a.yml", "prometheus-shard-1-b.yml"];

/// One ```` ```yaml ```` block of the guide.
pub struct YamlBlock {
    /// What its first comment line names (before the colon), or "" without one.
    pub name: String,
    pub text: String,
    pub value: serde_norway::Value,
}

impl YamlBlock {
    pub fn is_prometheus_config(&self) -> bool {
        let keys = self.value.as_mapping().into_iter().flat_map(|m| m.keys().filter_map(|k| k.as_str()));
        keys.into_iter().any(|key| PROMETHEUS_KEYS.contains(&key))
    }
}

/// Every YAML block of the guide; panics naming the block that does not parse.
pub fn yaml_blocks() -> Vec<YamlBlock> {
    let guide = files::read(files::FLEET_DOC);
    files::fenced_blocks(&guide, "yaml")
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let name = text
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("# "))
                .and_then(|comment| comment.split_once(':'))
                .map_or("", |(name, _)| name)
                .to_owned();
            let what = format!("{} YAML block {} ({name})", files::FLEET_DOC, i + 1);
            let value = files::yaml_documents(&text, &what).remove(0);
            YamlBlock { name, text, value }
        })
        .collect()
}

/// The Prometheus configuration named `name`; panics if the guide has none.
pub fn prometheus_config(name: &str) -> serde_norway::Value {
    let blocks = yaml_blocks();
    let block = blocks.into_iter().find(|b| b.name == name && b.is_prometheus_config());
    block.unwrap_or_else(|| panic!("{} has no Prometheus configuration `# {name}: ...`", files::FLEET_DOC)).value
}

/// Each exporter configuration file of the guide (its ```` ```toml ```` blocks, in
/// order): the names of its clusters, as the exporter's own loader reads them.
pub fn exporter_clusters() -> Vec<BTreeSet<String>> {
    let guide = files::read(files::FLEET_DOC);
    files::fenced_blocks(&guide, "toml")
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let what = format!("{} TOML block {}", files::FLEET_DOC, i + 1);
            let settings =
                exporter_config::load_with_password_files(text, &exporter_config::password_files(text), &what);
            settings.clusters.iter().map(|c| c.name.as_str().to_owned()).collect()
        })
        .collect()
}
