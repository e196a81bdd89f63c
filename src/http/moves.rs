//! `/api/cluster/migrations`: no parameter besides `cluster`; the slots held open and
//! the migration jobs of the cached snapshot. Like the insight endpoints it sends
//! Valkey nothing: the refresh already asked every primary.

use super::insight::observed;
use super::request::Asked;
use super::respond::{Answer, json_response};
use crate::render::moves as render;

pub(super) async fn migrations(asked: Asked<'_, ()>) -> Answer {
    let Asked { target, now, .. } = asked;
    let (observation, cached) = observed(target, now).await?;
    Ok(json_response(render::migrations(&observation, cached, now)))
}
