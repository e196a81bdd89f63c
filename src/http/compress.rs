//! Gzip for the answers that are not compressed already: large JSON and the page's
//! files, for clients that accept it (`/metrics` and slot ranges bring their own,
//! compressed once per snapshot).

use super::body::Body;
use crate::render::negotiate::Encoding;
use bytes::Bytes;
use hyper::Response;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};

/// Below this, gzip saves less than it costs.
const GZIP_MIN_BYTES: usize = 1024;

const COMPRESSIBLE: [&str; 5] = ["application/json", "text/html", "text/javascript", "text/css", "image/svg+xml"];

/// `response`, gzipped when `encoding` asks for it and it is worth it.
pub(super) fn compress(response: Response<Body>, encoding: Encoding) -> Response<Body> {
    let compressible = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| COMPRESSIBLE.iter().any(|c| t.starts_with(c)));
    if encoding != Encoding::Gzip || !compressible || response.headers().contains_key(CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body.into_bytes();
    if bytes.len() < GZIP_MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let zipped = Bytes::from(crate::render::gzip::gzip(&bytes));
    parts.headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let vary = match parts.headers.get(VARY) {
        Some(existing) => format!("{}, Accept-Encoding", existing.to_str().unwrap_or_default()),
        None => "Accept-Encoding".to_string(),
    };
    if let Ok(vary) = HeaderValue::from_str(&vary) {
        parts.headers.insert(VARY, vary);
    }
    Response::from_parts(parts, Body::from(zipped))
}
