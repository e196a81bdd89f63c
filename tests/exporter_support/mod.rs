//! Running the exporter in-process for end-to-end tests, and reading what it serves.
//!
//! The exporter is started through the library's own `serve` on a listener bound to
//! port 0, exactly as `main` does it, with flags parsed by the real `Cli`. Requests go
//! through the harness's HTTP client (`support::http`): test files using this module
//! also declare `mod support;`.

#![allow(dead_code)]

use clap::Parser;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use valkey_slot_exporter::config::{self, Cli};
use valkey_slot_exporter::http::ServeOptions;
use valkey_slot_exporter::{Exporter, serve};

pub use crate::support::http::HttpResponse;

/// An exporter serving on 127.0.0.1 until stopped or dropped.
pub struct RunningExporter {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts an exporter with these command-line flags (no program name).
pub async fn start_exporter(flags: &[&str]) -> RunningExporter {
    let mut argv = vec!["valkey-slot-exporter"];
    argv.extend_from_slice(flags);
    let cli = Cli::try_parse_from(argv).expect("test flags parse");
    let settings = config::load(cli).expect("test configuration is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("bound address");
    let exporter = Arc::new(Exporter::from_settings(&settings));
    let options = ServeOptions::from_settings(&settings).expect("web options");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, exporter, options, async move {
        let _ = rx.await;
    }));
    RunningExporter { addr, shutdown: Some(tx), task: Some(task) }
}

impl RunningExporter {
    pub async fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[]).await
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        crate::support::http::request(self.addr, method, path, headers).await
    }

    /// `/metrics` parsed into samples.
    pub async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200, "{}", response.text());
        Metrics::parse(response.text())
    }

    /// Scrapes until `valkey_node_up` of `node` is `up` (1 or 0), for up to `within`.
    pub async fn node_up_until(&self, node: &str, up: f64, within: Duration) -> Metrics {
        let what = format!("valkey_node_up of {node} is {up}");
        self.metrics_until(&what, within, |m| m.node_value("valkey_node_up", node) == Some(up)).await
    }

    /// Scrapes `/metrics` every 200 ms until `done` holds, for up to `within`; fails
    /// naming `what` and the nodes' `valkey_node_up` in the last scrape.
    pub async fn metrics_until(&self, what: &str, within: Duration, done: impl Fn(&Metrics) -> bool) -> Metrics {
        crate::support::eventually_async(what, within, Duration::from_millis(200), || async {
            let metrics = self.metrics().await;
            if done(&metrics) {
                return Ok(metrics);
            }
            let up: Vec<String> =
                metrics.named("valkey_node_up").map(|s| format!("{}={}", s.label("node"), s.value)).collect();
            Err(format!("valkey_node_up {up:?}"))
        })
        .await
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task).await.expect("exporter stops").expect("no panic");
        }
    }
}

impl Drop for RunningExporter {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Samples of a Prometheus text exposition, by metric name.
pub struct Metrics {
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or_default()
    }
}

impl Metrics {
    /// Parses the subset of the text format the exporter writes (label values
    /// without escaped quotes).
    pub fn parse(text: &str) -> Metrics {
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(parse_line).collect();
        Metrics { samples }
    }

    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// Values of a per-slot family, by slot (panics on a slot reported twice).
    pub fn by_slot(&self, name: &str) -> BTreeMap<u16, (String, f64)> {
        let mut out = BTreeMap::new();
        for s in self.named(name) {
            let slot: u16 = s.label("slot").parse().expect("slot label is a number");
            let previous = out.insert(slot, (s.label("node").to_string(), s.value));
            assert!(previous.is_none(), "{name}: slot {slot} appears twice");
        }
        out
    }

    /// The value of a per-node family for `node`.
    pub fn node_value(&self, name: &str, node: &str) -> Option<f64> {
        self.named(name).find(|s| s.label("node") == node).map(|s| s.value)
    }
}

fn parse_line(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').expect("sample has a value");
    let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
    let (name, labels) = match series.split_once('{') {
        None => (series.to_string(), BTreeMap::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}').expect("closing brace");
            let labels = inner
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").expect("label k=\"v\"");
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels)
        }
    };
    Sample { name, labels, value }
}
