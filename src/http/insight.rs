//! The insight endpoints: parameters in, computation from `crate::insight`, JSON out.
//!
//! | path | parameters (defaults) |
//! |---|---|
//! | `/api/cluster/hot-slots` | `by` = cpu, network, network_in, network_out, keys (cpu); `limit` 1..16384 (20) |
//! | `/api/cluster/balance` | none |
//! | `/api/cluster/slot-map` | `by` = keys, cpu, network, all (keys): every slot's owner and value (`all`: in each measure), for the page |
//! | `/api/cluster/nodes` | none: each node's role, state, answer time, error and version |
//! | `/api/cluster/rebalance-plan` | `by` = cpu, network, keys (cpu); `max_moves` 1..1024 (32); `target` 1..10 (1.10) |
//!
//! Nothing here sends Valkey anything: every answer is computed from the cached
//! observation.

use super::body::Body;
use super::clusters::{bad_request, choose};
use super::query::QueryError;
use super::respond::{json_response, unavailable_response};
use crate::aggregate::Observation;
use crate::aggregate::rank::Measure;
use crate::cache::Served;
use crate::insight::plan::MAX_MOVES_LIMIT;
use crate::insight::{balance, commands, hot, plan, primary_loads};
use crate::render::insight::{self as render, PlanRequest};
use crate::render::json;
use crate::target::{Exporter, Target};
use hyper::{Request, Response};
use std::time::SystemTime;

const HOT_MEASURES: [(&str, Measure); 5] = [
    ("cpu", Measure::Cpu),
    ("network", Measure::Network),
    ("network_in", Measure::NetworkIn),
    ("network_out", Measure::NetworkOut),
    ("keys", Measure::Keys),
];
const PLAN_MEASURES: [(&str, Measure); 3] =
    [("cpu", Measure::Cpu), ("network", Measure::Network), ("keys", Measure::Keys)];

pub(super) async fn hot_slots<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let (query, target) = match choose(request, exporter, &["by", "limit"], now) {
        Ok(chosen) => chosen,
        Err(reply) => return json_response(reply),
    };
    let parsed = query
        .choice("by", &HOT_MEASURES, Measure::Cpu)
        .and_then(|measure| Ok((measure, query.integer("limit", 1..=16384, 20)? as usize)));
    let (measure, limit) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(e, now),
    };
    answer(target, now, |observation, cached| {
        render::hot_slots(observation, &hot::hot_slots(observation, measure, limit), limit, cached, now)
    })
    .await
}

/// `None`: `by=all`, every measure in one answer (what the page asks for).
const MAP_MEASURES: [(&str, Option<Measure>); 4] =
    [("keys", Some(Measure::Keys)), ("cpu", Some(Measure::Cpu)), ("network", Some(Measure::Network)), ("all", None)];

pub(super) async fn slot_map<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let (query, target) = match choose(request, exporter, &["by"], now) {
        Ok(chosen) => chosen,
        Err(reply) => return json_response(reply),
    };
    let measure = match query.choice("by", &MAP_MEASURES, Some(Measure::Keys)) {
        Ok(measure) => measure,
        Err(e) => return bad_request(e, now),
    };
    answer(target, now, |observation, cached| match measure {
        Some(measure) => render::slot_map(observation, measure, cached, now),
        None => render::slot_maps(observation, cached, now),
    })
    .await
}

pub(super) async fn nodes<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let target = match choose(request, exporter, &[], now) {
        Ok((_, target)) => target,
        Err(reply) => return json_response(reply),
    };
    let Served { value, cached } = match target.cache.get(None).await {
        Ok(served) => served,
        Err(unavailable) => return unavailable_response(unavailable, now),
    };
    let facts = render::ClusterFacts {
        name: &target.name,
        profile: target.exposition.slot_series.name(),
        cache_ttl: target.exposition.ttl,
    };
    json_response(render::nodes(&value, facts, cached, now))
}

pub(super) async fn balance<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let target = match choose(request, exporter, &[], now) {
        Ok((_, target)) => target,
        Err(reply) => return json_response(reply),
    };
    answer(target, now, |observation, cached| render::balance(observation, &balance::balance(observation), cached, now))
        .await
}

pub(super) async fn rebalance_plan<B>(request: &Request<B>, exporter: &Exporter, now: SystemTime) -> Response<Body> {
    let (q, target) = match choose(request, exporter, &["by", "max_moves", "target"], now) {
        Ok(chosen) => chosen,
        Err(reply) => return json_response(reply),
    };
    let parsed: Result<PlanRequest, QueryError> = (|| {
        Ok(PlanRequest {
            measure: q.choice("by", &PLAN_MEASURES, Measure::Cpu)?,
            max_moves: q.integer("max_moves", 1..=MAX_MOVES_LIMIT as u32, 32)? as usize,
            target: q.number("target", 1.0..=10.0, 1.10)?,
        })
    })();
    let request = match parsed {
        Ok(request) => request,
        Err(e) => return bad_request(e, now),
    };
    answer(target, now, |observation, cached| {
        let loads = primary_loads(observation, request.measure);
        let planned = plan::plan(&loads, request.max_moves, request.target);
        let lines = commands::commands(&planned.moves, &observation.snapshot, target.valkey_tls);
        render::plan(observation, &request, &planned, &lines, cached, now)
    })
    .await
}

/// The current observation through `render`, or the error answer when there is none
/// or no node answered.
async fn answer(
    target: &Target,
    now: SystemTime,
    render: impl FnOnce(&Observation, bool) -> json::JsonReply,
) -> Response<Body> {
    let Served { value, cached } = match target.cache.get(None).await {
        Ok(served) => served,
        Err(unavailable) => return unavailable_response(unavailable, now),
    };
    if value.snapshot.nothing_answered() {
        let message = json::unreachable_message(&value.snapshot);
        return json_response(json::error(503, "cluster_unreachable", &message, now));
    }
    json_response(render(&value, cached))
}
