//! Each request parsed once, before any handler runs: the cluster it names and its
//! typed parameters, or the error answer (400 for a bad query, 404 for a cluster not
//! configured). A handler receives what it needs, already validated, in the manner of
//! axum's extractors; it never sees the query string.
//!
//! A request only ever picks a configured cluster by name; nothing in it can name a
//! host, a port or a URL, so no request can make the exporter connect anywhere or send
//! a password to a host of the requester's choosing.

use super::query::{Query, QueryError, slot_range};
use super::respond::{Rejection, bad_request, json_response};
use crate::config::{CLUSTER_NAME_GRAMMAR, ClusterName, Unpicked};
use crate::question::{BALANCEABLE, HOT_LIMIT, HotQuestion, MAPPED, MAX_MOVES, Measure, PlanQuestion, RANKABLE};
use crate::question::{MapQuestion, TARGET_RATIO};
use crate::render::json;
use crate::render::negotiate::{Encoding, Format};
use crate::target::{Exporter, Target};
use hyper::Request;
use hyper::header::{ACCEPT, ACCEPT_ENCODING, HOST, HeaderMap};
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The query parameter that picks a cluster.
const CLUSTER: &str = "cluster";

/// What an endpoint accepts, parsed from the query string and the headers.
pub(super) trait Params: Sized {
    /// The query parameters it accepts (besides `cluster` on per-cluster paths);
    /// anything else is refused by name.
    const NAMES: &'static [&'static str];
    fn parse(query: &Query<'_>, head: &Head<'_>) -> Result<Self, QueryError>;
}

/// What parameters may be read from besides the query: the request's headers, and
/// the authority an HTTP/2 request carries in its URI instead of a `Host` header.
pub(super) struct Head<'r> {
    headers: &'r HeaderMap,
    authority: Option<&'r str>,
}

impl<'r> Head<'r> {
    fn of<B>(request: &'r Request<B>) -> Self {
        Head { headers: request.headers(), authority: request.uri().authority().map(|a| a.as_str()) }
    }

    fn header(&self, name: hyper::header::HeaderName) -> Option<&'r str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request about one cluster, parsed.
pub(super) struct Asked<'e, P> {
    pub(super) target: &'e Target,
    pub(super) params: P,
    /// When the request arrived: every timestamp in its answer is from this instant.
    pub(super) now: SystemTime,
}

/// Parses a request about one cluster: the cluster it names (`?cluster=`, optional
/// with one configured) and the endpoint's parameters.
pub(super) fn per_cluster<'e, P: Params, B>(
    request: &Request<B>,
    exporter: &'e Exporter,
    now: SystemTime,
) -> Result<Asked<'e, P>, Rejection> {
    let names: Vec<&str> = P::NAMES.iter().copied().chain([CLUSTER]).collect();
    let query = Query::parse(request.uri().query(), &names).map_err(|e| bad_request(e, now))?;
    let target = choose(query.get(CLUSTER), exporter, now).map_err(json_response)?;
    let params = P::parse(&query, &Head::of(request)).map_err(|e| bad_request(e, now))?;
    Ok(Asked { target, params, now })
}

/// Parses a request about the exporter as a whole (no `cluster` parameter).
pub(super) fn exporter_wide<P: Params, B>(request: &Request<B>, now: SystemTime) -> Result<P, Rejection> {
    let query = Query::parse(request.uri().query(), P::NAMES).map_err(|e| bad_request(e, now))?;
    Ok(P::parse(&query, &Head::of(request)).map_err(|e| bad_request(e, now))?)
}

/// The cluster `name` picks, or the error answer.
fn choose<'e>(name: Option<&str>, exporter: &'e Exporter, now: SystemTime) -> Result<&'e Target, json::JsonReply> {
    if let Some(name) = name
        && ClusterName::parse(name).is_err()
    {
        let message = format!("cluster must be a configured cluster's name ({CLUSTER_NAME_GRAMMAR})");
        return Err(json::error(400, "invalid_parameter", &message, now));
    }
    match exporter.target(name) {
        Ok(target) => Ok(target),
        Err(Unpicked::Required) => {
            let message = format!("several clusters are configured; add ?cluster= with one of: {}", names_of(exporter));
            Err(json::error(400, "cluster_required", &message, now))
        }
        Err(Unpicked::Unknown) => {
            let message =
                format!("no cluster named \"{}\"; configured: {}", name.unwrap_or_default(), names_of(exporter));
            Err(json::error(404, "unknown_cluster", &message, now))
        }
    }
}

fn names_of(exporter: &Exporter) -> String {
    exporter.targets().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// No parameters.
impl Params for () {
    const NAMES: &'static [&'static str] = &[];
    fn parse(_: &Query<'_>, _: &Head<'_>) -> Result<Self, QueryError> {
        Ok(())
    }
}

impl Params for HotQuestion {
    const NAMES: &'static [&'static str] = &["by", "limit"];
    fn parse(query: &Query<'_>, _: &Head<'_>) -> Result<Self, QueryError> {
        Ok(HotQuestion {
            measure: query.measure("by", &RANKABLE, Measure::Cpu)?,
            limit: query.integer("limit", HOT_LIMIT.range(), HOT_LIMIT.default)? as usize,
        })
    }
}

impl Params for PlanQuestion {
    const NAMES: &'static [&'static str] = &["by", "max_moves", "target"];
    fn parse(query: &Query<'_>, _: &Head<'_>) -> Result<Self, QueryError> {
        Ok(PlanQuestion {
            measure: query.measure("by", &BALANCEABLE, Measure::Cpu)?,
            max_moves: query.integer("max_moves", MAX_MOVES.range(), MAX_MOVES.default)? as usize,
            target: query.number("target", TARGET_RATIO.range(), TARGET_RATIO.default)?,
        })
    }
}

impl Params for MapQuestion {
    const NAMES: &'static [&'static str] = &["by"];
    fn parse(query: &Query<'_>, _: &Head<'_>) -> Result<Self, QueryError> {
        if query.get("by") == Some("all") {
            return Ok(MapQuestion::All);
        }
        match query.measure("by", &MAPPED, Measure::Keys) {
            Ok(measure) => Ok(MapQuestion::One(measure)),
            // The error lists what `by` accepts: `all` too.
            Err(e) => Err(QueryError { message: e.message.replacen("; got", ", all; got", 1), ..e }),
        }
    }
}

/// `/api/cluster/slot-stats`: a slot range, and whether the answer may be gzipped
/// (its chunks are compressed once per snapshot, so it is decided here, not after).
pub(super) struct SlotStatsParams {
    pub(super) range: RangeInclusive<u16>,
    pub(super) gzip: bool,
}

impl Params for SlotStatsParams {
    const NAMES: &'static [&'static str] = &["start_slot", "end_slot"];
    fn parse(query: &Query<'_>, head: &Head<'_>) -> Result<Self, QueryError> {
        let gzip = Encoding::negotiate(head.header(ACCEPT_ENCODING)) == Encoding::Gzip;
        Ok(SlotStatsParams { range: slot_range(query)?, gzip })
    }
}

/// `/metrics`: format and encoding from the headers, and how long the scraper waits.
pub(super) struct ScrapeParams {
    pub(super) format: Format,
    pub(super) encoding: Encoding,
    /// When the wait for a snapshot gives up (`None`: wait for the refresh).
    pub(super) deadline: Option<Instant>,
}

impl Params for ScrapeParams {
    const NAMES: &'static [&'static str] = &[];
    fn parse(_: &Query<'_>, head: &Head<'_>) -> Result<Self, QueryError> {
        Ok(ScrapeParams {
            format: Format::negotiate(head.header(ACCEPT)),
            encoding: Encoding::negotiate(head.header(ACCEPT_ENCODING)),
            deadline: scrape_deadline(head.headers),
        })
    }
}

/// `/sd`: the address the request reached this exporter at (its `Host`), which `/sd`
/// hands Prometheus unless `--web-external-address` is set.
pub(super) struct ReachedAt(pub(super) Option<String>);

impl Params for ReachedAt {
    const NAMES: &'static [&'static str] = &[];
    fn parse(_: &Query<'_>, head: &Head<'_>) -> Result<Self, QueryError> {
        Ok(ReachedAt(head.header(HOST).or(head.authority).map(str::to_string)))
    }
}

/// Shortest scrape timeout taken into account: anything below is a mistake or an
/// attempt to make the exporter give up, and is ignored.
const MIN_SCRAPE_TIMEOUT_SECONDS: f64 = 0.1;

/// Prometheus announces how long it will wait for a scrape. The wait for a snapshot
/// ends well before that, leaving rendering and the network their share; the refresh
/// itself is never shortened by it (see `cache`). Values below 0.1 s and values that
/// are not finite numbers count as absent.
fn scrape_deadline(headers: &HeaderMap) -> Option<Instant> {
    let seconds: f64 = headers.get("x-prometheus-scrape-timeout-seconds")?.to_str().ok()?.trim().parse().ok()?;
    if !(seconds.is_finite() && seconds >= MIN_SCRAPE_TIMEOUT_SECONDS) {
        return None;
    }
    let budget = Duration::from_secs_f64(seconds.min(3600.0) * 0.85);
    Some(Instant::now() + budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_take_their_defaults_and_refuse_measures_outside_their_set() {
        let headers = HeaderMap::new();
        let headers = Head { headers: &headers, authority: None };
        let empty = Query::parse(None, &[]).unwrap();
        let hot = HotQuestion::parse(&empty, &headers).unwrap();
        assert_eq!((hot.measure, hot.limit), (Measure::Cpu, HOT_LIMIT.default as usize));
        let plan = PlanQuestion::parse(&empty, &headers).unwrap();
        assert_eq!((plan.max_moves, plan.target), (MAX_MOVES.default as usize, TARGET_RATIO.default));
        let network_in = Query::parse(Some("by=network_in"), &["by"]).unwrap();
        assert!(HotQuestion::parse(&network_in, &headers).is_ok());
        let refused = PlanQuestion::parse(&network_in, &headers).unwrap_err();
        assert_eq!(refused.message, "by must be one of cpu, network, keys; got \"network_in\"");
    }
}
