//! A real Prometheus server for a test, and a client for its HTTP API (over the
//! harness's HTTP client, `support::http`).

use super::files::require_tool;
use crate::support::eventually::{Unmet, try_eventually_async};
use crate::support::free_local_addr;
use crate::support::http::{HttpResponse, Request};
use crate::support::process::{ChildGuard, spawn};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// How long Prometheus may take to start answering /-/ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one HTTP request to Prometheus may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts at starting Prometheus, each on a new free port (another process may
/// take a port between our check and Prometheus' bind).
const START_ATTEMPTS: usize = 3;

/// A Prometheus server listening on 127.0.0.1 only, killed when dropped.
pub struct Prometheus {
    pub addr: SocketAddr,
    process: ChildGuard,
}

impl Prometheus {
    /// Starts Prometheus with the configuration file `config`, storing its data and
    /// logs in `dir`, and waits until it is ready. Call on the test's own thread.
    pub async fn start(config: &Path, dir: &Path) -> Prometheus {
        let program = require_tool("prometheus");
        let mut failures = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            let addr = free_local_addr();
            let args = [
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join(format!("data-{attempt}")).display()),
                format!("--web.listen-address={addr}"),
                "--log.level=warn".to_owned(),
            ];
            let process = spawn(&program, &args, dir, &format!("prometheus-{attempt}")).expect("spawn prometheus");
            let mut prometheus = Prometheus { addr, process };
            match prometheus.wait_ready().await {
                Ok(()) => return prometheus,
                Err(error) => failures.push(format!("{error}\n{}", prometheus.process.output_tail(20))),
            }
        }
        panic!("Prometheus did not start:\n{}", failures.join("\n"));
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let (addr, process) = (self.addr, &mut self.process);
        let what = format!("prometheus on {addr} is ready");
        try_eventually_async(&what, READY_TIMEOUT, Duration::from_millis(100), || {
            // Asked here, outside the future, which may then borrow nothing.
            let exited = process.exit_status();
            async move {
                if let Some(status) = exited {
                    return Err(Unmet::Never(format!("exited with {status}")));
                }
                match Request::get("/-/ready").timeout(REQUEST_TIMEOUT).try_send(addr).await {
                    Ok(response) if response.status == 200 => Ok(()),
                    other => Err(Unmet::NotYet(format!("{:?}", other.map(|r| r.status)))),
                }
            }
        })
        .await
    }

    /// The end of Prometheus' logs, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.output_tail(30)
    }

    /// An instant query at `time` (Unix seconds; now if `None`).
    pub async fn query(&self, expr: &str, time: Option<f64>) -> Result<QueryResult, String> {
        let mut path = format!("/api/v1/query?query={}", url_encode(expr));
        if let Some(time) = time {
            path.push_str(&format!("&time={time:.3}"));
        }
        self.api(&path).await.and_then(|data| QueryResult::parse(&data))
    }

    /// A range query over the last `range`, one point per `step`.
    pub async fn query_range(&self, expr: &str, range: Duration, step: Duration) -> Result<QueryResult, String> {
        let end = unix_now();
        let start = end - range.as_secs_f64();
        let path = format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={}",
            url_encode(expr),
            step.as_secs_f64()
        );
        self.api(&path).await.and_then(|data| QueryResult::parse(&data))
    }

    /// Values of `label` on series matching `selector` over the last hour, as
    /// Grafana's `label_values(selector, label)` asks for them.
    pub async fn label_values(&self, selector: &str, label: &str) -> Result<Vec<String>, String> {
        let end = unix_now();
        let path = format!(
            "/api/v1/label/{label}/values?match[]={}&start={:.3}&end={end:.3}",
            url_encode(selector),
            end - 3600.0
        );
        let data = self.api(&path).await?;
        let values = data.as_array().ok_or_else(|| format!("label values are not a list: {data}"))?;
        Ok(values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    }

    /// One GET, within [`REQUEST_TIMEOUT`]; the answer or why there is none.
    async fn get(&self, path: &str) -> Result<HttpResponse, String> {
        Request::get(path).timeout(REQUEST_TIMEOUT).try_send(self.addr).await
    }

    /// GETs an API path; the `data` member of a successful answer, or why it failed.
    async fn api(&self, path: &str) -> Result<serde_json::Value, String> {
        let response = self.get(path).await?;
        let status = response.status;
        let reply: serde_json::Value = serde_json::from_slice(&response.body).map_err(|e| {
            format!("HTTP {status}, body is not JSON ({e}): {}", String::from_utf8_lossy(&response.body))
        })?;
        if status != 200 || reply["status"] != "success" {
            return Err(format!("HTTP {status}: {} {}", reply["errorType"], reply["error"]));
        }
        Ok(reply["data"].clone())
    }
}

/// One series of a query result: its labels and every value it returned.
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub values: Vec<f64>,
}

impl Series {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// The last value (an instant query has only one).
    pub fn last(&self) -> f64 {
        *self.values.last().expect("a series has at least one value")
    }
}

/// The result of an instant or range query.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub series: Vec<Series>,
}

impl QueryResult {
    fn parse(data: &serde_json::Value) -> Result<QueryResult, String> {
        let result = &data["result"];
        let series = match data["resultType"].as_str() {
            Some("vector") => result.as_array().map(|items| {
                items.iter().map(|item| series(&item["metric"], std::slice::from_ref(&item["value"]))).collect()
            }),
            Some("matrix") => result.as_array().map(|items| {
                items
                    .iter()
                    .map(|item| series(&item["metric"], item["values"].as_array().map_or(&[][..], Vec::as_slice)))
                    .collect()
            }),
            Some("scalar") => Some(vec![series(&serde_json::Value::Null, std::slice::from_ref(result))]),
            _ => None,
        };
        series.map(|series| QueryResult { series }).ok_or_else(|| format!("unexpected query result: {data}"))
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every value of every series.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().flat_map(|s| s.values.iter().copied())
    }
}

fn series(metric: &serde_json::Value, points: &[serde_json::Value]) -> Series {
    let labels = metric
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    // A point is [time, "value"]; Prometheus writes NaN and infinities as strings too.
    let values = points.iter().map(|p| p[1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)).collect();
    Series { labels, values }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}
