//! Response builders and the error answers every handler shares. A leaf: it knows
//! bodies and the JSON envelope, nothing of routes or clusters.
//!
//! A handler answers [`Answer`]: `Err` carries an error response ([`Rejection`]), so
//! `?` ends a handler at the first problem with the answer for it.

use super::body::Body;
use super::query::QueryError;
use crate::cache::Unavailable;
use crate::render::json;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use std::time::SystemTime;

const JSON: &str = "application/json";

/// What a handler returns: the answer, or the error answer that ended it early.
pub(crate) type Answer = Result<Response<Body>, Rejection>;

/// An error answer on its way up through `?`: boxed, because a response is large and
/// an error rare, so every `Result` on the happy path stays small.
pub(crate) struct Rejection(Box<Response<Body>>);

impl Rejection {
    pub(crate) fn into_response(self) -> Response<Body> {
        *self.0
    }
}

impl From<Response<Body>> for Rejection {
    fn from(response: Response<Body>) -> Self {
        Rejection(Box::new(response))
    }
}

/// A JSON answer with the reply's status.
pub(crate) fn json_response(reply: json::JsonReply) -> Response<Body> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    body_response(status, JSON, Body::from(reply.body))
}

/// A JSON answer made of shared chunks (see [`Body`]).
pub(crate) fn json_chunks(status: u16, body: Body) -> Response<Body> {
    body_response(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), JSON, body)
}

pub(crate) fn text_response(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response<Body> {
    body_response(status, content_type, body.into())
}

pub(crate) fn body_response(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Each answer reflects one snapshot; intermediaries must not serve it again.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 400 naming the parameter the query got wrong.
pub(crate) fn bad_request(e: QueryError, now: SystemTime) -> Response<Body> {
    json_response(json::error(400, e.code, &e.message, now))
}

/// 404 naming the path (shortened: it is the client's text).
pub(crate) fn not_found(path: &str, now: SystemTime) -> Response<Body> {
    let path: String = path.chars().take(64).collect();
    json_response(json::error(404, "not_found", &format!("no endpoint at {path}; see /"), now))
}

/// 503 with the error envelope when there is no snapshot to serve yet.
pub(crate) fn unavailable_response(unavailable: Unavailable, now: SystemTime) -> Response<Body> {
    let code = match unavailable {
        Unavailable::RefreshInProgress => "refresh_in_progress",
        Unavailable::RefreshFailed => "refresh_failed",
    };
    let mut response = json_response(json::error(503, code, &unavailable.to_string(), now));
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
