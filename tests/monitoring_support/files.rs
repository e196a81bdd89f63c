//! The monitoring files of the repository, and the tools that check them.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The rules file: the source of truth for every rule.
pub const RULES: &str = "rules/valkey-slot-exporter.rules.yml";
/// Its promtool unit tests.
pub const RULE_TESTS: &str = "rules/valkey-slot-exporter.rules.test.yml";
/// The PrometheusRule generated from [`RULES`].
pub const PROMETHEUS_RULE: &str = "deploy/kubernetes/prometheusrule.yaml";
/// The dashboard.
pub const DASHBOARD: &str = "grafana/dashboards/valkey-slot-exporter.json";
/// Grafana's datasource provisioning.
pub const DATASOURCE_PROVISIONING: &str = "grafana/provisioning/datasources/prometheus.yml";
/// Grafana's dashboard provisioning.
pub const DASHBOARD_PROVISIONING: &str = "grafana/provisioning/dashboards/valkey-slot-exporter.yml";
/// The plain-Prometheus example configuration.
pub const PROMETHEUS_EXAMPLE: &str = "deploy/prometheus/prometheus.yml";
/// The Prometheus example that finds every cluster through the exporter's `/sd`.
pub const PROMETHEUS_SD: &str = "deploy/prometheus/prometheus-sd.yml";
/// The Prometheus configuration of the docker-compose stack.
pub const PROMETHEUS_COMPOSE: &str = "deploy/compose/prometheus.yml";
/// The docker-compose stack.
pub const COMPOSE: &str = "deploy/docker-compose.yml";
/// The Kubernetes manifests.
pub const KUBERNETES_DIR: &str = "deploy/kubernetes";
/// The kustomize overlay for one exporter of several clusters, on top of KUBERNETES_DIR.
pub const KUBERNETES_SEVERAL_DIR: &str = "deploy/kubernetes-several-clusters";
/// The kustomize base and shard overlays for clusters split across exporters.
pub const KUBERNETES_FLEET_DIR: &str = "deploy/kubernetes-fleet";
/// The guide to running many clusters: sizing, splitting, Prometheus at scale.
pub const FLEET_DOC: &str = "docs/fleet.md";
/// Folders whose every JSON and YAML file must parse.
pub const MONITORING_DIRS: [&str; 3] = ["grafana", "deploy", "rules"];

/// `relative` inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The text of a repository file; panics with its path if unreadable.
pub fn read(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every YAML document in `text` (`---`-separated), as generic values.
pub fn yaml_documents(text: &str, name: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| {
            serde_norway::Value::deserialize(document).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
        })
        .collect()
}

/// The single YAML document of a repository file.
pub fn yaml(relative: &str) -> serde_norway::Value {
    let mut documents = yaml_documents(&read(relative), relative);
    assert_eq!(documents.len(), 1, "{relative}: expected one YAML document");
    documents.remove(0)
}

/// The single YAML document of a repository file, as JSON (every key here is a string),
/// to read it with serde_json's indexing and comparisons.
pub fn yaml_as_json(relative: &str) -> serde_json::Value {
    serde_json::to_value(yaml(relative)).unwrap_or_else(|e| panic!("{relative} does not map to JSON: {e}"))
}

/// A repository JSON file.
pub fn json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not valid JSON: {e}"))
}

/// The text of every fenced code block of `markdown` whose info string is `info`
/// (```` ```yaml ````), in order.
pub fn fenced_blocks(markdown: &str, info: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().strip_prefix("```") == Some(info) => current = Some(String::new()),
            Some(_) if line.trim_start() == "```" => blocks.push(current.take().expect("an open block")),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "a ```{info} block is never closed");
    blocks
}

/// Files under `relative` (recursively), as repository-relative paths, sorted.
pub fn files_under(relative: &str) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).expect("under the root").to_string_lossy().into_owned());
            }
        }
    }
    let root = repo_path("");
    let mut out = Vec::new();
    walk(&repo_path(relative), &root, &mut out);
    out.sort();
    out
}

/// The path of `name` on PATH; panics with the install instructions if it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file()).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: run scripts/install-deps.sh (it installs Debian's `prometheus` \
             package, which brings prometheus and promtool), then rerun the tests."
        )
    })
}

/// Runs promtool with `args` in `dir`, feeding `stdin`; returns its output.
pub fn promtool(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(require_tool("promtool"))
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    if let Some(input) = stdin {
        // promtool reads all of stdin before it writes, so writing first cannot deadlock.
        child.stdin.take().expect("piped stdin").write_all(input).expect("write promtool's stdin");
    }
    child.wait_with_output().expect("promtool runs")
}

/// promtool's stdout and stderr together, for assertion messages.
pub fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
