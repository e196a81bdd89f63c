//! Request routing: which path gets which handler. Every request is parsed once
//! ([`super::request`]) into what its handler takes; a handler answers
//! [`Answer`](super::respond::Answer), its `Err` being the error answer.
//!
//! Every per-cluster path (`/metrics`, `/api/cluster/*`) takes `?cluster=NAME`
//! (optional with one cluster configured). A known path with another method than GET
//! or HEAD gets 405; anything else a 404 JSON answer.
//!
//! | path                       | answer                                          |
//! |----------------------------|-------------------------------------------------|
//! | `/`                        | the page to a browser (Accept prefers HTML), else the JSON index |
//! | `/ui`, `/ui/...`           | the page and its files ([`super::page`])        |
//! | `/metrics`                 | Prometheus text 0.0.4 or OpenMetrics (Accept) ([`super::scrape`]) |
//! | `/healthz`                 | 200 while the process serves, whatever Valkey does |
//! | `/api/cluster/slot-stats`  | JSON slot statistics for a slot range           |
//! | `/api/cluster/hot-slots`   | the hottest slots by a rate or keys ([`super::insight`]) |
//! | `/api/cluster/balance`     | each primary's share, and the imbalance         |
//! | `/api/cluster/rebalance-plan` | slot moves that even out a load, with commands |
//! | `/api/cluster/slot-map`    | every slot's owner and value, for the page's map |
//! | `/api/cluster/nodes`       | each node's state, answer time, error and version |
//! | `/api/cluster/migrations`  | slots held open and migration jobs ([`super::moves`]) |
//! | `/api/clusters`            | every configured cluster: name, seeds, nodes up, snapshot age ([`super::clusters`]) |
//! | `/sd`                      | Prometheus HTTP service discovery: one target group per cluster |

use super::body::Body;
use super::compress::compress;
use super::request::{exporter_wide, per_cluster};
use super::respond::{Answer, Rejection, json_response, not_found, text_response};
use super::{clusters, insight, moves, page, scrape};
use crate::render::json;
use crate::render::negotiate::Encoding;
use crate::target::Exporter;
use hyper::header::{ACCEPT, ACCEPT_ENCODING, ALLOW, HeaderValue, VARY};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::SystemTime;

/// Every path with an endpoint (the page's files aside), for the 405 answer.
const KNOWN_PATHS: [&str; 13] = [
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
    "/api/cluster/migrations",
];

/// Answers one request. Never fails: every problem becomes a JSON error response.
/// Large JSON and page answers are gzipped for clients that accept it.
pub(crate) async fn handle<B>(request: Request<B>, exporter: Arc<Exporter>) -> Response<Body> {
    let encoding = Encoding::negotiate(request.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
    let response = route(&request, &exporter, SystemTime::now()).await.unwrap_or_else(Rejection::into_response);
    compress(response, encoding)
}

async fn route<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Answer {
    let path = request.uri().path();
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return Err(method_not_allowed(path, now).into());
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    match path {
        "/" if page::prefers_html(accept) => Ok(with_vary_accept(page::index())),
        "/" => Ok(with_vary_accept(json_response(json::index(now)))),
        "/ui" => Ok(page::index()),
        _ if path.starts_with("/ui/") => page::asset(path).ok_or_else(|| not_found(path, now).into()),
        "/healthz" => Ok(text_response(StatusCode::OK, "text/plain; charset=utf-8", "ok\n")),
        "/api/clusters" => {
            exporter_wide::<(), B>(request, now)?;
            Ok(clusters::list(exporter, now))
        }
        "/sd" => clusters::service_discovery(exporter_wide(request, now)?, exporter, now),
        "/metrics" => scrape::metrics(per_cluster(request, exporter, now)?).await,
        "/api/cluster/slot-stats" => scrape::slot_stats(per_cluster(request, exporter, now)?).await,
        "/api/cluster/hot-slots" => insight::hot_slots(per_cluster(request, exporter, now)?).await,
        "/api/cluster/balance" => insight::balance(per_cluster(request, exporter, now)?).await,
        "/api/cluster/rebalance-plan" => insight::rebalance_plan(per_cluster(request, exporter, now)?).await,
        "/api/cluster/slot-map" => insight::slot_map(per_cluster(request, exporter, now)?).await,
        "/api/cluster/nodes" => insight::nodes(per_cluster(request, exporter, now)?).await,
        "/api/cluster/migrations" => moves::migrations(per_cluster(request, exporter, now)?).await,
        _ => Err(not_found(path, now).into()),
    }
}

/// `/` answers by `Accept`: caches must keep the page and the index apart.
fn with_vary_accept(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept"));
    response
}

fn method_not_allowed(path: &str, now: SystemTime) -> Response<Body> {
    if !KNOWN_PATHS.contains(&path) && !page::is_asset(path) {
        return not_found(path, now);
    }
    let mut response = json_response(json::error(405, "method_not_allowed", "only GET and HEAD are supported", now));
    response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
