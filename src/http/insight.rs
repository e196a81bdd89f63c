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
//! Nothing here sends Valkey anything itself: every answer is computed from the cached
//! observation. A question that needs rates and finds none current may cause the
//! cache's first window, and says when it is due (`rates_ready_in_seconds`).

use super::request::Asked;
use super::respond::{Answer, Rejection, json_response, unavailable_response};
use crate::aggregate::Observation;
use crate::cache::{ForRates, Served};
use crate::insight::{balance, hot, rebalance};
use crate::question::{HotQuestion, MapQuestion, PlanQuestion};
use crate::render::insight::{self as render, Freshness};
use crate::render::{json, slot_map};
use crate::target::Target;
use std::sync::Arc;
use std::time::SystemTime;

pub(super) async fn hot_slots(asked: Asked<'_, HotQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let (observation, freshness) = asked_of(target, now, question.measure.is_rate()).await?;
    let hot = hot::hot_slots(&observation, question.measure, question.limit);
    Ok(json_response(render::hot_slots(&observation, &hot, question.limit, freshness, now)))
}

pub(super) async fn slot_map(asked: Asked<'_, MapQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let rates = match question {
        MapQuestion::One(measure) => measure.is_rate(),
        MapQuestion::All => true,
    };
    let (observation, freshness) = asked_of(target, now, rates).await?;
    let reply = match question {
        MapQuestion::One(measure) => slot_map::one(&observation, measure, freshness, now),
        MapQuestion::All => slot_map::all(&observation, freshness, now),
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
    Ok(json_response(render::nodes(&value, facts, Freshness { cached, rates_ready_in: None }, now)))
}

pub(super) async fn balance(asked: Asked<'_, ()>) -> Answer {
    let Asked { target, now, .. } = asked;
    let (observation, freshness) = asked_of(target, now, true).await?;
    Ok(json_response(render::balance(&observation, &balance::balance(&observation), freshness, now)))
}

pub(super) async fn rebalance_plan(asked: Asked<'_, PlanQuestion>) -> Answer {
    let Asked { target, params: question, now } = asked;
    let (observation, freshness) = asked_of(target, now, question.measure.is_rate()).await?;
    let rebalance = rebalance(&observation, &question, target.valkey_tls);
    Ok(json_response(render::plan(&observation, &question, &rebalance, freshness, now)))
}

/// The current observation and whether it came from the cache, or the error answer
/// when there is none or no node answered.
pub(super) async fn observed(target: &Target, now: SystemTime) -> Result<(Arc<Observation>, bool), Rejection> {
    asked_of(target, now, false).await.map(|(observation, freshness)| (observation, freshness.cached))
}

/// The current observation and how it was served, or the error answer when there is
/// none or no node answered. A question that needs `rates` may cause the first window
/// (`cache.rs`) and is then told when its rates come.
async fn asked_of(target: &Target, now: SystemTime, rates: bool) -> Result<(Arc<Observation>, Freshness), Rejection> {
    let unavailable = |u| unavailable_response(u, now);
    let (Served { value, cached }, rates_ready_in) = if rates {
        let ForRates { served, rates_ready_in } = target.cache.get_for_rates().await.map_err(unavailable)?;
        (served, rates_ready_in)
    } else {
        (target.cache.get(None).await.map_err(unavailable)?, None)
    };
    if value.snapshot.nothing_answered() {
        let message = json::unreachable_message(&value.snapshot);
        return Err(json_response(json::error(503, "cluster_unreachable", &message, now)).into());
    }
    Ok((value, Freshness { cached, rates_ready_in }))
}
