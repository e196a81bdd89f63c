//! Serving the page: `/` to a browser, `/ui` always, and its files under `/ui/`, each
//! with a Content-Security-Policy that allows nothing but the exporter's own origin.

use super::body::Body;
use crate::render::page::{ASSETS, Asset, CONTENT_SECURITY_POLICY, INDEX};
use bytes::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

/// The page itself.
pub(super) fn index() -> Response<Body> {
    asset_response(&INDEX)
}

/// One of the page's files, if `path` names one.
pub(super) fn asset(path: &str) -> Option<Response<Body>> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, asset)| asset_response(asset))
}

/// Whether `path` is one of the page's files (for the 405 answer).
pub(super) fn is_asset(path: &str) -> bool {
    ASSETS.iter().any(|(p, _)| *p == path)
}

fn asset_response(asset: &Asset) -> Response<Body> {
    let mut response = Response::new(Body::from(Bytes::from_static(asset.body.as_bytes())));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers
        .insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    headers.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
    // The files change only with the binary; a restart serves new ones.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Whether an `Accept` header prefers HTML to JSON: a browser's does
/// (`text/html,...,*/*;q=0.8`), curl's `*/*` and a script's `application/json` do not.
/// Only an explicit `text/html` (or `text/*`) counts for HTML; `*/*` counts for JSON.
pub(super) fn prefers_html(accept: Option<&str>) -> bool {
    let (mut html, mut json) = (0.0f32, 0.0f32);
    for item in accept.unwrap_or_default().split(',') {
        let mut params = item.split(';');
        let media = params.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = params
            .find_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim().eq_ignore_ascii_case("q").then(|| value.trim().parse().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "text/*" | "application/xhtml+xml" => html = html.max(quality),
            "application/json" | "application/*" | "*/*" => json = json.max(quality),
            _ => {}
        }
    }
    html > 0.0 && html > json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(Some(chrome)) && prefers_html(Some(firefox)));
        for other in [None, Some("*/*"), Some("application/json"), Some("text/html;q=0.5, application/json")] {
            assert!(!prefers_html(other), "{other:?}");
        }
        assert!(!prefers_html(Some("text/html;q=0")));
    }
}
