//! Checks made before routing: credentials and request bodies.
//!
//! Every endpoint only reads, so a request carrying a body is a client error (or an
//! attempt to make the server buffer data) and is refused before anything else.

use super::basic_auth::{BasicAuth, Verdict};
use super::body::Body;
use super::respond::json_response;
use crate::render::json;
use hyper::Response;
use hyper::header::{
    AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderValue, RETRY_AFTER, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use std::net::IpAddr;
use std::time::SystemTime;

/// The answer to send instead of routing a request with these headers, from `client`
/// (the peer's address, which bounds how many of its credentials queue for bcrypt), if
/// it is refused.
///
/// It takes the headers rather than the request so that the future, which waits for
/// the credential check, does not need the request body type to be `Sync`.
pub(crate) async fn refusal(headers: &HeaderMap, auth: Option<&BasicAuth>, client: IpAddr) -> Option<Response<Body>> {
    if let Some(auth) = auth {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        match auth.check(header, client).await {
            Verdict::Accepted => {}
            Verdict::Refused => return Some(unauthorized()),
            Verdict::Busy => return Some(busy()),
        }
    }
    if has_body(headers) {
        let now = SystemTime::now();
        return Some(json_response(json::error(413, "body_not_allowed", "requests must not carry a body", now)));
    }
    None
}

fn unauthorized() -> Response<Body> {
    let reply = json::error(401, "unauthorized", "valid credentials are required", SystemTime::now());
    let mut response = json_response(reply);
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"valkey-slot-exporter\""));
    response
}

/// 429: another credential from this address is still waiting for (or in) its bcrypt
/// run. A second is about as long as a few runs take, even with other addresses queued.
fn busy() -> Response<Body> {
    let message = "another credential from this address is being verified; retry in a second";
    let mut response = json_response(json::error(429, "too_many_auth_attempts", message, SystemTime::now()));
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn has_body(headers: &HeaderMap) -> bool {
    let declared_length =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(|v| v.trim() != "0").unwrap_or(false);
    declared_length || headers.contains_key(TRANSFER_ENCODING)
}
