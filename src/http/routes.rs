//! Request routing: which path gets which renderer, and the error answers.
//!
//! | path                       | answer                                          |
//! |----------------------------|-------------------------------------------------|
//! | `/`                        | the page to a browser (Accept prefers HTML), else the JSON index |
//! | `/ui`, `/ui/...`           | the page and its files ([`super::page`])        |
//! | `/metrics`                 | Prometheus text 0.0.4 or OpenMetrics (Accept)   |
//! | `/healthz`                 | 200 while the process serves, whatever Valkey does |
//! | `/api/cluster/slot-stats`  | JSON slot statistics for a slot range           |
//! | `/api/cluster/hot-slots`   | the hottest slots by a rate or keys ([`super::insight`]) |
//! | `/api/cluster/balance`     | each primary's share, and the imbalance         |
//! | `/api/cluster/rebalance-plan` | slot moves that even out a load, with commands |
//! | `/api/cluster/slot-map`    | every slot's owner and value, for the page's map |
//! | `/api/cluster/nodes`       | each node's state, answer time, error and version |
//! | `/api/clusters`            | every configured cluster: name, seeds, nodes up, snapshot age ([`super::clusters`]) |
//! | `/sd`                      | Prometheus HTTP service discovery: one target group per cluster |
//!
//! Every per-cluster path takes `?cluster=NAME` (optional with one cluster configured).
//! | anything else              | 404 JSON; a known path with another method: 405 |

use super::body::Body;
use super::clusters;
use super::query::slot_range;
use super::respond::{body_response, json_chunks, json_response, not_found, text_response, unavailable_response};
use super::{insight, page};
use crate::cache::Served;
use crate::render::json;
use crate::render::negotiate::{Encoding, Format};
use crate::target::Exporter;
use bytes::Bytes;
use hyper::header::{ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
const KNOWN_PATHS: [&str; 12] = [
    "/",
    "/api/clusters",
    "/sd",
    "/api/cluster/nodes",
    "/ui",
    "/api/cluster/slot-map",
    "/metrics",
    "/healthz",
    "/api/cluster/slot-stats",
    "/api/cluster/hot-slots",
    "/api/cluster/balance",
    "/api/cluster/rebalance-plan",
];

/// Answers one request. Never fails: every problem becomes a JSON error response.
/// Large JSON and page answers are gzipped for clients that accept it (`/metrics`
/// brings its own, rendered once per snapshot).
pub(crate) async fn handle<B>(request: Request<B>, exporter: Arc<Exporter>) -> Response<Body> {
    let encoding = Encoding::negotiate(request.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
    let response = route(request, exporter).await;
    compress(response, encoding).await
}

/// Below this, gzip saves less than it costs.
const GZIP_MIN_BYTES: usize = 1024;

async fn compress(response: Response<Body>, encoding: Encoding) -> Response<Body> {
    let compressible = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        ["application/json", "text/html", "text/javascript", "text/css", "image/svg+xml"]
            .iter()
            .any(|c| t.starts_with(c))
    });
    if encoding != Encoding::Gzip || !compressible || response.headers().contains_key(CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body.into_bytes();
    if bytes.len() < GZIP_MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let zipped = Bytes::from(crate::render::gzip::gzip(&bytes));
    parts.headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let vary = match parts.headers.get(VARY) {
        Some(existing) => format!("{}, Accept-Encoding", existing.to_str().unwrap_or_default()),
        None => "Accept-Encoding".to_string(),
    };
    if let Ok(vary) = HeaderValue::from_str(&vary) {
        parts.headers.insert(VARY, vary);
    }
    Response::from_parts(parts, Body::from(zipped))
}

async fn route<B>(request: Request<B>, exporter: Arc<Exporter>) -> Response<Body> {
    let now = SystemTime::now();
    let path = request.uri().path();
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return method_not_allowed(path, now);
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    match path {
        "/" if page::prefers_html(accept) => with_vary_accept(page::index()),
        "/" => with_vary_accept(json_response(json::index(now))),
        "/ui" => page::index(),
        "/api/cluster/slot-map" => insight::slot_map(&request, &exporter, now).await,
        "/api/cluster/nodes" => insight::nodes(&request, &exporter, now).await,
        _ if path.starts_with("/ui/") => page::asset(path).unwrap_or_else(|| not_found(path, now)),
        "/healthz" => text_response(StatusCode::OK, "text/plain; charset=utf-8", "ok\n"),
        "/api/clusters" => clusters::list(&request, &exporter, now),
        "/sd" => clusters::service_discovery(&request, &exporter, now),
        "/metrics" => serve_metrics(&request, &exporter, now).await,
        "/api/cluster/slot-stats" => serve_slot_stats(&request, &exporter, now).await,
        "/api/cluster/hot-slots" => insight::hot_slots(&request, &exporter, now).await,
        "/api/cluster/balance" => insight::balance(&request, &exporter, now).await,
        "/api/cluster/rebalance-plan" => insight::rebalance_plan(&request, &exporter, now).await,
        _ => not_found(path, now),
    }
}

/// `/` answers by `Accept`: caches must keep the page and the index apart.
fn with_vary_accept(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(hyper::header::VARY, HeaderValue::from_static("Accept"));
    response
}

async fn serve_metrics<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let header = |name| request.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let format = Format::negotiate(header(ACCEPT));
    let encoding = Encoding::negotiate(header(ACCEPT_ENCODING));
    let target = match clusters::choose(request, exporter, &[], now) {
        Ok((_, target)) => target,
        Err(reply) => return json_response(reply),
    };
    let served = match target.cache.get(scrape_deadline(request)).await {
        Ok(served) => served,
        Err(unavailable) => return unavailable_response(unavailable, now),
    };
    // Rendered (and compressed) once per snapshot: see RenderedBodies.
    let body = target.metrics_bodies.get(&served.value, target.exposition, format, encoding).await;
    let mut response = body_response(StatusCode::OK, format.content_type(), Body::from(body));
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(coding) = encoding.content_encoding() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    response
}

async fn serve_slot_stats<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let (query, target) = match clusters::choose(request, exporter, &["start_slot", "end_slot"], now) {
        Ok(chosen) => chosen,
        Err(reply) => return json_response(reply),
    };
    let range = match slot_range(&query) {
        Ok(range) => range,
        Err(e) => return clusters::bad_request(e, now),
    };
    let served = match target.cache.get(None).await {
        Ok(served) => served,
        Err(unavailable) => return unavailable_response(unavailable, now),
    };
    let served = Served { value: served.value.snapshot.clone(), cached: served.cached };
    let reply = match json::slot_stats_reply(&served, range, now) {
        Ok(reply) => reply,
        Err(error) => return json_response(error),
    };
    let status = reply.status;
    let accepted = request.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    let gzip = Encoding::negotiate(accepted) == Encoding::Gzip;
    // Shared chunks, already compressed when asked: `compress` leaves them alone.
    let chunks = target.slot_stats_json.chunks(&served, reply, gzip).await;
    let mut response = json_chunks(status, Body::from_chunks(chunks));
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Shortest scrape timeout taken into account: anything below is a mistake or an
/// attempt to make the exporter give up, and is ignored.
const MIN_SCRAPE_TIMEOUT_SECONDS: f64 = 0.1;

/// Prometheus announces how long it will wait for a scrape. The wait for a snapshot
/// ends well before that, leaving rendering and the network their share; the refresh
/// itself is never shortened by it (see `cache`). Values below 0.1 s and values that
/// are not finite numbers count as absent.
fn scrape_deadline<B>(request: &Request<B>) -> Option<Instant> {
    let seconds: f64 =
        request.headers().get("x-prometheus-scrape-timeout-seconds")?.to_str().ok()?.trim().parse().ok()?;
    if !(seconds.is_finite() && seconds >= MIN_SCRAPE_TIMEOUT_SECONDS) {
        return None;
    }
    let budget = Duration::from_secs_f64(seconds.min(3600.0) * 0.85);
    Some(Instant::now() + budget)
}

fn method_not_allowed(path: &str, now: SystemTime) -> Response<Body> {
    if !KNOWN_PATHS.contains(&path) && !page::is_asset(path) {
        return not_found(path, now);
    }
    let mut response = json_response(json::error(405, "method_not_allowed", "only GET and HEAD are supported", now));
    response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
