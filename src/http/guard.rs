//! Checks made before routing: credentials and request bodies.
//!
//! Every endpoint only reads, so a request carrying a body is a client error (or an
//! attempt to make the server buffer data) and is refused before anything else.

use super::basic_auth::BasicAuth;
use super::body::Body;
use super::respond::json_response;
use crate::render::json;
use hyper::Response;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderValue, TRANSFER_ENCODING, WWW_AUTHENTICATE};
use std::time::SystemTime;

/// The answer to send instead of routing a request with these headers, if it is refused.
///
/// It takes the headers rather than the request so that the future, which waits for
/// the credential check, does not need the request body type to be `Sync`.
pub async fn refusal(headers: &HeaderMap, auth: Option<&BasicAuth>) -> Option<Response<Body>> {
    if let Some(auth) = auth {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !auth.check(header).await {
            let now = SystemTime::now();
            let mut response = json_response(json::error(401, "unauthorized", "valid credentials are required", now));
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"valkey-slot-exporter\""));
            return Some(response);
        }
    }
    if has_body(headers) {
        let now = SystemTime::now();
        return Some(json_response(json::error(413, "body_not_allowed", "requests must not carry a body", now)));
    }
    None
}

fn has_body(headers: &HeaderMap) -> bool {
    let declared_length =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(|v| v.trim() != "0").unwrap_or(false);
    declared_length || headers.contains_key(TRANSFER_ENCODING)
}
