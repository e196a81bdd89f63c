//! The endpoints about all clusters: `/api/clusters` and Prometheus HTTP service
//! discovery at `/sd`.

use super::body::Body;
use super::request::ReachedAt;
use super::respond::{Answer, json_response};
use crate::addr::is_host_port;
use crate::render::json;
use crate::target::Exporter;
use hyper::Response;
use serde::Serialize;
use std::time::SystemTime;

#[derive(Serialize)]
struct ClusterEntry<'a> {
    name: &'a str,
    /// Seed URLs, which never carry credentials.
    seeds: Vec<String>,
    /// Of the last snapshot; `null` before the first.
    nodes_up: Option<usize>,
    nodes_listed: Option<usize>,
    snapshot_age_seconds: Option<f64>,
    snapshot_timestamp: Option<String>,
}

/// `GET /api/clusters`: every configured cluster, from what is cached (asking this
/// never refreshes a cluster).
pub(super) fn list(exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let clusters: Vec<ClusterEntry> = exporter
        .targets()
        .iter()
        .map(|target| {
            let latest = target.cache.latest();
            let snapshot = latest.as_ref().map(|o| &o.snapshot);
            ClusterEntry {
                name: &target.name,
                seeds: target.seeds.iter().map(ToString::to_string).collect(),
                nodes_up: snapshot.map(|s| s.nodes.iter().filter(|n| n.is_up()).count()),
                nodes_listed: snapshot.map(|s| s.nodes.len()),
                snapshot_age_seconds: snapshot
                    .map(|s| now.duration_since(s.taken_at).unwrap_or_default().as_secs_f64()),
                snapshot_timestamp: snapshot.map(|s| json::rfc3339_millis(s.taken_at)),
            }
        })
        .collect();
    json_response(json::success(serde_json::json!({ "clusters": clusters }), now))
}

#[derive(Serialize)]
struct TargetGroup {
    targets: [String; 1],
    labels: Labels,
}

#[derive(Serialize)]
struct Labels {
    #[serde(rename = "__param_cluster")]
    param_cluster: String,
    valkey_cluster: String,
}

/// `GET /sd`: Prometheus HTTP service discovery, one target group per cluster. The
/// target is this exporter as the request reached it (its `Host`), or
/// `--web-external-address`; Prometheus then scrapes `/metrics?cluster=NAME` and
/// labels every series `valkey_cluster=NAME`.
pub(super) fn service_discovery(reached_at: ReachedAt, exporter: &Exporter, now: SystemTime) -> Answer {
    let address = match (&exporter.external_address, reached_at.0) {
        (Some(configured), _) => configured.clone(),
        (None, Some(host)) if is_host_port(&host) => host,
        (None, _) => {
            let message = "the request has no usable Host header; set --web-external-address";
            return Err(json_response(json::error(400, "host_required", message, now)).into());
        }
    };
    let groups: Vec<TargetGroup> = exporter
        .targets()
        .iter()
        .map(|t| TargetGroup {
            targets: [address.clone()],
            labels: Labels { param_cluster: t.name.to_string(), valkey_cluster: t.name.to_string() },
        })
        .collect();
    let body = serde_json::to_string(&groups).expect("serializing plain data");
    Ok(json_response(json::JsonReply { status: 200, body }))
}
