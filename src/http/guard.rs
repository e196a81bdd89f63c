//! Checks made before routing: credentials and request bodies.
//!
//! Every endpoint only reads, so a request carrying a body is a client error (or an
//! attempt to make the server buffer data) and is refused before anything else.

use super::routes::{Body, json_response};
use crate::config::web::BasicAuth;
use crate::render::json;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue, TRANSFER_ENCODING, WWW_AUTHENTICATE};
use hyper::{Request, Response};
use std::time::SystemTime;

/// The answer to send instead of routing the request, if it is refused.
pub fn refusal<B>(request: &Request<B>, auth: Option<&BasicAuth>) -> Option<Response<Body>> {
    let now = SystemTime::now();
    if let Some(auth) = auth {
        let header = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !auth.check(header) {
            let mut response = json_response(json::error(401, "unauthorized", "valid credentials are required", now));
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"valkey-slot-exporter\""));
            return Some(response);
        }
    }
    if has_body(request) {
        return Some(json_response(json::error(413, "body_not_allowed", "requests must not carry a body", now)));
    }
    None
}

fn has_body<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    let declared_length =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(|v| v.trim() != "0").unwrap_or(false);
    declared_length || headers.contains_key(TRANSFER_ENCODING)
}
