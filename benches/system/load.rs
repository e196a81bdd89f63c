//! The load generator: `clients` keep-alive HTTP/1.1 connections, each sending GET
//! after GET for a fixed time, reading every body to the end (counting bytes, not
//! keeping them). The same code measures the exporter and the static server, so their
//! throughput and latency percentiles are measured the same way. It has its own
//! client, as it measures throughput over kept connections; single requests go through
//! the harness's (`support::http`), one connection each.

use crate::support::http;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What one load run gave.
pub struct LoadResult {
    pub requests: usize,
    pub elapsed: Duration,
    /// Sorted, in microseconds.
    pub latencies_us: Vec<u32>,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies_us, p) as f64 / 1e3
    }
}

/// The `p` quantile (0..=1) of sorted values.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median of `values` (the upper one of an even count), NaN when there are none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// What to ask for and what must come back.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub accept_encoding: Option<&'static str>,
    /// An `Authorization` header value, when the server requires credentials.
    pub authorization: Option<String>,
    /// The body length every answer must have.
    pub expected_len: usize,
    /// The `Content-Encoding` every answer must carry.
    pub expected_encoding: Option<&'static str>,
}

/// Runs `clients` connections against `target` for `duration`.
pub async fn run(target: &Target, clients: usize, duration: Duration) -> LoadResult {
    let started = Instant::now();
    let until = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move { client(&target, until).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.append(&mut task.await.expect("load client panicked"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    LoadResult { requests: latencies.len(), elapsed, latencies_us: latencies }
}

async fn client(target: &Target, until: Instant) -> Vec<u32> {
    let stream = TcpStream::connect(target.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("HTTP handshake");
    tokio::spawn(connection);
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let mut request = Request::get(target.path.as_str()).header("host", target.addr.to_string());
        if let Some(coding) = target.accept_encoding {
            request = request.header("accept-encoding", coding);
        }
        if let Some(authorization) = &target.authorization {
            request = request.header("authorization", authorization.as_str());
        }
        let request = request.body(Empty::<Bytes>::new()).expect("request");
        let sent = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), 200, "{}{}", target.addr, target.path);
        let coding = response.headers().get("content-encoding").and_then(|v| v.to_str().ok());
        assert_eq!(coding, target.expected_encoding, "{}{}", target.addr, target.path);
        let mut body = response.into_body();
        let mut len = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("body").into_data() {
                len += data.len();
            }
        }
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        assert_eq!(len, target.expected_len, "{}{}: body length", target.addr, target.path);
        sender.ready().await.expect("connection stays open");
    }
    latencies
}

/// One GET on a fresh connection (through the harness's client), which must answer
/// 200: its `Content-Encoding` and whole body.
pub async fn get(addr: SocketAddr, path: &str, accept_encoding: Option<&str>) -> (Option<String>, Bytes) {
    get_as(addr, path, accept_encoding, None).await
}

/// One GET with these credentials (an `Authorization` value), whole body returned.
pub async fn get_as(
    addr: SocketAddr,
    path: &str,
    accept_encoding: Option<&str>,
    authorization: Option<&str>,
) -> (Option<String>, Bytes) {
    let mut request = http::Request::get(path);
    if let Some(coding) = accept_encoding {
        request = request.header("accept-encoding", coding);
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send(addr).await;
    assert_eq!(response.status, 200, "GET {path}");
    (response.header("content-encoding").map(str::to_string), response.body)
}

/// Median of durations, in milliseconds.
pub fn median_ms(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    percentile(&sorted, 0.5).as_secs_f64() * 1e3
}
