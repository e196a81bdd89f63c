//! The insight endpoints: a parsed question in, computation from `crate::insight`,
//! JSON out.
//!
//! | path | parameters (defaults: [`crate::question`]) |
//! |---|---|
//! | `/api/cluster/hot-slots` | `by` = cpu, network, network_in, network_out, keys (cpu); `limit` 1..16384 (20) |
//! | `/api/cluster/balance` | none |
//! | `/api/cluster/slot-map` | `by` = keys, cpu, network, all (keys): every slot's owner and value (`all`: in each measure), for the page |
//! | `/api/cluster/nodes` | none: each node's role, state, answer time, error and version |
//! | `/api/cluster/rebalance-plan` | `by` = cpu, network, keys (cpu); `max_moves` 1..1024 (32); `target` 1..10 (1.10) |
//!
//! Nothing here sends Valkey anything: every answer is computed from the cached
//! observation.

use super::request::Asked;
use super::respond::{Answer, Rejection, json_response, unavailable_response};
use crate::aggregate::Observation;
use crate::cache::Served;
use crate::insight::{balance, hot, rebalance};
use crate::question::{HotQuestion, MapQuestion, PlanQuestion};
use crate::render::insight as render;
use crate::render::json;
use crate::target::Target;
use std::sync::Arc;
use std::time::SystemTime;

pub(super) async fn hot_slots(asked: Asked<'_, HotQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let (observation, cached) = observed(target, now).await?;
    let hot = hot::hot_slots(&observation, question.measure, question.limit);
    Ok(json_response(render::hot_slots(&observation, &hot, question.limit, cached, now)))
}

pub(super) async fn slot_map(asked: Asked<'_, MapQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let (observation, cached) = observed(target, now).await?;
    let reply = match question {
        MapQuestion::One(measure) => render::slot_map(&observation, measure, cached, now),
        MapQuestion::All => render::slot_maps(&observation, cached, now),
    };
    Ok(json_response(reply))
}

pub(super) async fn nodes(asked: Asked<'_, ()>) -> Answer {
    let Asked { target, now, .. } = asked;
    let Served { value, cached } = target.cache.get(None).await.map_err(|u| unavailable_response(u, now))?;
    let facts = render::ClusterFacts {
        name: &target.name,
        profile: target.exposition.slot_series.name(),
        cache_ttl: target.exposition.ttl,
    };
    Ok(json_response(render::nodes(&value, facts, cached, now)))
}

pub(super) async fn balance(asked: Asked<'_, ()>) -> Answer {
    let Asked { target, now, .. } = asked;
    let (observation, cached) = observed(target, now).await?;
    Ok(json_response(render::balance(&observation, &balance::balance(&observation), cached, now)))
}

pub(super) async fn rebalance_plan(asked: Asked<'_, PlanQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let (observation, cached) = observed(target, now).await?;
    let rebalance = rebalance(&observation, &question, target.valkey_tls);
    Ok(json_response(render::plan(&observation, &question, &rebalance, cached, now)))
}

/// The current observation and whether it came from the cache, or the error answer
/// when there is none or no node answered.
pub(super) async fn observed(target: &Target, now: SystemTime) -> Result<(Arc<Observation>, bool), Rejection> {
    let Served { value, cached } = target.cache.get(None).await.map_err(|u| unavailable_response(u, now))?;
    if value.snapshot.nothing_answered() {
        let message = json::unreachable_message(&value.snapshot);
        return Err(json_response(json::error(503, "cluster_unreachable", &message, now)).into());
    }
    Ok((value, cached))
}
