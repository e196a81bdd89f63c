//! The exporter's own page: a slot map, hot slots, balance, slot moves, nodes and a
//! rebalance plan for people without Grafana. HTML, CSS and JavaScript are embedded in
//! the binary and served from the exporter's own origin only; the page draws everything
//! from the JSON API (`/api/cluster/...`), nothing from anywhere else.

/// One embedded file.
pub(crate) struct Asset {
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static str,
}

pub(crate) const INDEX: Asset =
    Asset { content_type: "text/html; charset=utf-8", body: include_str!("page/index.html") };

/// The page's other files, by path. The scripts are ES modules importing each other
/// by relative path; every one of them must be listed here (a test checks).
pub(crate) const ASSETS: [(&str, Asset); 10] = [
    ("/ui/app.js", script(include_str!("page/app.js"))),
    ("/ui/constants.js", script(include_str!("page/constants.js"))),
    ("/ui/api.js", script(include_str!("page/api.js"))),
    ("/ui/dom.js", script(include_str!("page/dom.js"))),
    ("/ui/format.js", script(include_str!("page/format.js"))),
    ("/ui/map.js", script(include_str!("page/map.js"))),
    ("/ui/moves.js", script(include_str!("page/moves.js"))),
    ("/ui/tables.js", script(include_str!("page/tables.js"))),
    ("/ui/app.css", Asset { content_type: "text/css; charset=utf-8", body: include_str!("page/app.css") }),
    ("/ui/icon.svg", Asset { content_type: "image/svg+xml", body: include_str!("page/icon.svg") }),
];

const fn script(body: &'static str) -> Asset {
    Asset { content_type: "text/javascript; charset=utf-8", body }
}

/// Only the exporter's own origin, for everything; no inline script or style, no
/// frames, no forms.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    fn served(path: &str) -> bool {
        ASSETS.iter().any(|(p, _)| *p == path)
    }

    /// What follows each `prefix` in `text` up to the next quote.
    fn quoted_after<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        text.match_indices(prefix)
            .map(move |(i, _)| text[i + prefix.len()..].split(['"', '\'']).next().unwrap_or_default())
    }

    #[test]
    fn every_file_the_page_loads_or_imports_is_served() {
        let referenced: Vec<String> = quoted_after(INDEX.body, "\"/ui/").map(|p| format!("/ui/{p}")).collect();
        assert!(referenced.iter().any(|p| p == "/ui/app.js") && referenced.iter().any(|p| p == "/ui/app.css"));
        for path in referenced {
            assert!(served(&path), "index.html loads {path}, which is not served");
        }
        for (path, asset) in ASSETS.iter().filter(|(p, _)| p.ends_with(".js")) {
            for import in quoted_after(asset.body, "from \"./") {
                assert!(served(&format!("/ui/{import}")), "{path} imports ./{import}, which is not served");
            }
        }
    }

    /// The CSP forbids inline script and style and other origins; a page that used them
    /// would break in the browser, so catch it here first.
    #[test]
    fn the_page_needs_nothing_its_policy_forbids() {
        let html = INDEX.body;
        assert!(!html.contains("style="), "a style attribute");
        assert!(!html.contains("<style"), "an inline style block");
        assert_eq!(html.matches("<script").count(), html.matches("<script type=\"module\" src=\"/ui/").count());
        for (path, asset) in std::iter::once(&("/", INDEX)).chain(ASSETS.iter()) {
            // The SVG's XML namespace is a name, not a request.
            let body = asset.body.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            for scheme in ["http://", "https://", "url(", "@import", "\"data:", "`data:"] {
                assert!(!body.contains(scheme), "{path} contains {scheme}");
            }
        }
    }

    #[test]
    fn the_page_stays_small() {
        let total: usize = INDEX.body.len() + ASSETS.iter().map(|(_, a)| a.body.len()).sum::<usize>();
        assert!(total < 150 * 1024, "the page's files total {total} bytes, over the 150 KB budget");
    }
}
