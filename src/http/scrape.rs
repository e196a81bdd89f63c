//! `/metrics` and `/api/cluster/slot-stats`: the snapshot itself, as Prometheus
//! exposition and as JSON, both rendered (and compressed) once per snapshot and
//! answered with shared bytes.

use super::body::Body;
use super::request::{Asked, ScrapeParams, SlotStatsParams};
use super::respond::{Answer, body_response, json_chunks, json_response, unavailable_response};
use crate::cache::Served;
use crate::render::json;
use hyper::StatusCode;
use hyper::header::{CONTENT_ENCODING, HeaderValue, VARY};

/// `GET /metrics`: the rendered exposition of the cluster's current observation.
pub(super) async fn metrics(asked: Asked<'_, ScrapeParams>) -> Answer {
    let Asked { target, params, now } = asked;
    let served = target.cache.get(params.deadline).await.map_err(|u| unavailable_response(u, now))?;
    // Rendered (and compressed) once per snapshot: see RenderedBodies.
    let body = target.metrics_bodies.get(&served.value, target.exposition, params.format, params.encoding).await;
    let mut response = body_response(StatusCode::OK, params.format.content_type(), Body::from(body));
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(coding) = params.encoding.content_encoding() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    Ok(response)
}

/// `GET /api/cluster/slot-stats`: a slot range of the current snapshot, as a slice of
/// entries encoded once per snapshot.
pub(super) async fn slot_stats(asked: Asked<'_, SlotStatsParams>) -> Answer {
    let Asked { target, params, now } = asked;
    let served = target.cache.get(None).await.map_err(|u| unavailable_response(u, now))?;
    let served = Served { value: served.value.snapshot.clone(), cached: served.cached };
    let reply = json::slot_stats_reply(&served, params.range, now).map_err(json_response)?;
    let status = reply.status;
    // Shared chunks, already compressed when asked: the router's gzip leaves them alone.
    let chunks = target.slot_stats_json.chunks(&served, reply, params.gzip).await;
    let mut response = json_chunks(status, Body::from_chunks(chunks));
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if params.gzip {
        response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}
