//! Choosing the cluster a request is about (`?cluster=NAME`), and the endpoints about
//! all clusters: `/api/clusters` and Prometheus HTTP service discovery at `/sd`.
//!
//! A request only ever picks a configured name; nothing in it can name a host, a port
//! or a URL, so no request can make the exporter connect anywhere or send a password
//! to a host of the requester's choosing.

use super::body::Body;
use super::query::{Query, QueryError};
use super::respond::json_response;
use crate::render::json;
use crate::target::{Choice, Exporter, Target};
use hyper::header::HOST;
use hyper::{Request, Response};
use serde::Serialize;
use std::time::SystemTime;

/// The query parameter that picks a cluster.
pub(super) const CLUSTER: &str = "cluster";

/// The request's query (checked against `accepted` plus `cluster`) and the cluster it
/// names, or the error answer (400 for a bad query or a missing name, 404 for a name
/// not configured).
pub(super) fn choose<'q, 'e, B>(
    request: &'q Request<B>,
    exporter: &'e Exporter,
    accepted: &[&str],
    now: SystemTime,
) -> Result<(Query<'q>, &'e Target), json::JsonReply> {
    let mut names: Vec<&str> = accepted.to_vec();
    names.push(CLUSTER);
    let query = Query::parse(request.uri().query(), &names).map_err(|e| json::error(400, e.code, &e.message, now))?;
    let name = query.get(CLUSTER);
    if let Some(name) = name
        && !is_cluster_name(name)
    {
        let message = "cluster must be a configured cluster's name ([a-z0-9][a-z0-9_-]{0,62})";
        return Err(json::error(400, "invalid_parameter", message, now));
    }
    match exporter.target(name) {
        Ok(target) => Ok((query, target)),
        Err(Choice::Required) => {
            let message = format!("several clusters are configured; add ?cluster= with one of: {}", names_of(exporter));
            Err(json::error(400, "cluster_required", &message, now))
        }
        Err(Choice::Unknown) => {
            let message =
                format!("no cluster named \"{}\"; configured: {}", name.unwrap_or_default(), names_of(exporter));
            Err(json::error(404, "unknown_cluster", &message, now))
        }
    }
}

fn names_of(exporter: &Exporter) -> String {
    exporter.targets().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn is_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && name.len() <= 63
}

pub(super) fn bad_request(e: QueryError, now: SystemTime) -> Response<Body> {
    json_response(json::error(400, e.code, &e.message, now))
}

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
pub(super) fn list<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    if let Err(e) = Query::parse(request.uri().query(), &[]) {
        return bad_request(e, now);
    }
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
pub(super) fn service_discovery<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    if let Err(e) = Query::parse(request.uri().query(), &[]) {
        return bad_request(e, now);
    }
    let host =
        request.headers().get(HOST).and_then(|v| v.to_str().ok()).or(request.uri().authority().map(|a| a.as_str()));
    let address = match (&exporter.external_address, host) {
        (Some(configured), _) => configured.clone(),
        (None, Some(host)) if is_host_port(host) => host.to_string(),
        (None, _) => {
            let message = "the request has no usable Host header; set --web-external-address";
            return json_response(json::error(400, "host_required", message, now));
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
    json_response(json::JsonReply { status: 200, body })
}

/// A `Host` value fit to be a scrape target: a host name or address, with or without a
/// port, and nothing else (no path, no user info, no spaces).
fn is_host_port(host: &str) -> bool {
    !host.is_empty() && host.len() <= 255 && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hosts() {
        assert!(is_cluster_name("prod-eu_1") && is_cluster_name("0"));
        for bad in ["", "-x", "Prod", "a b", "a/b", "x".repeat(64).as_str(), "ä"] {
            assert!(!is_cluster_name(bad), "{bad}");
        }
        assert!(is_host_port("exporter:9765") && is_host_port("[::1]:9765") && is_host_port("10.0.0.1"));
        for bad in ["", "a b", "evil/x", "user@host", "h:1?x"] {
            assert!(!is_host_port(bad), "{bad}");
        }
    }
}
