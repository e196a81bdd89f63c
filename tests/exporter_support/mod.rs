//! Running the exporter in-process for end-to-end tests, and reading what it serves.
//!
//! The exporter is started through the library's own `serve` on a listener bound to
//! port 0, exactly as `main` does it, with flags parsed by the real `Cli`.

#![allow(dead_code)]

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use valkey_slot_exporter::config::{self, Cli};
use valkey_slot_exporter::http::ServeOptions;
use valkey_slot_exporter::{Exporter, serve};

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

/// One HTTP answer.
pub struct HttpResponse {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

impl RunningExporter {
    pub async fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[]).await
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        request(self.addr, method, path, headers).await
    }

    /// `/metrics` parsed into samples.
    pub async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200, "{}", response.body);
        Metrics::parse(&response.body)
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

/// A plain HTTP/1.1 request on a fresh connection.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.expect("connect to exporter");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("HTTP handshake");
    tokio::spawn(connection);
    let mut builder = Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = sender.send_request(builder.body(Empty::<Bytes>::new()).expect("request")).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    HttpResponse { status, headers, body: String::from_utf8(body.to_vec()).expect("UTF-8 body") }
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
