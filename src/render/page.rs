//! The exporter's own page: a slot map, hot slots, balance, nodes and a rebalance plan
//! for people without Grafana. HTML, CSS and JavaScript are embedded in the binary and
//! served from the exporter's own origin only; the page draws everything from the
//! JSON API (`/api/cluster/...`), nothing from anywhere else.

/// One embedded file.
pub(crate) struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
}

pub(crate) const INDEX: Asset =
    Asset { content_type: "text/html; charset=utf-8", body: include_str!("page/index.html") };

/// The page's other files, by path.
pub(crate) const ASSETS: [(&str, Asset); 3] = [
    ("/ui/app.js", Asset { content_type: "text/javascript; charset=utf-8", body: include_str!("page/app.js") }),
    ("/ui/app.css", Asset { content_type: "text/css; charset=utf-8", body: include_str!("page/app.css") }),
    ("/ui/icon.svg", Asset { content_type: "image/svg+xml", body: include_str!("page/icon.svg") }),
];

/// Only the exporter's own origin, for everything; no inline script or style, no
/// frames, no forms.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";
