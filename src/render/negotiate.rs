//! Content negotiation for `/metrics`: which text format (Accept) and which transfer
//! encoding (Accept-Encoding) a scraper gets.

/// The two text formats Prometheus understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: the default.
    Text = 0,
    /// OpenMetrics 1.0.0, when the scraper's Accept header asks for it.
    OpenMetrics = 1,
}

impl Format {
    /// Picks the format from an `Accept` header.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// How a body travels: as is, or gzip-compressed when the scraper accepts it (Prometheus
/// does), which is about an eighth of the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity = 0,
    Gzip = 1,
}

impl Encoding {
    /// Picks the encoding from an `Accept-Encoding` header: gzip when `gzip` (or `*`)
    /// is listed with a non-zero quality, identity otherwise.
    pub(crate) fn negotiate(accept_encoding: Option<&str>) -> Encoding {
        let (mut gzip, mut any) = (None, None);
        for item in accept_encoding.unwrap_or_default().split(',') {
            let mut params = item.split(';');
            let coding = params.next().unwrap_or_default().trim();
            let quality = params.find_map(quality_param).unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(quality);
            } else if coding == "*" {
                any = Some(quality);
            }
        }
        if gzip.or(any).is_some_and(|q| q > 0.0) { Encoding::Gzip } else { Encoding::Identity }
    }

    /// The `Content-Encoding` header value, if any.
    pub(crate) fn content_encoding(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
        }
    }
}

/// The value of a `q=` parameter; an unreadable one counts as 0 (not acceptable).
fn quality_param(param: &str) -> Option<f32> {
    let (name, value) = param.split_once('=')?;
    name.trim().eq_ignore_ascii_case("q").then(|| value.trim().parse().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_negotiation() {
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("deflate, GZIP;q=0.8, br")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("gzip;q=0")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("*;q=0.1")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("*, gzip;q=0")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("gzip;q=nonsense")), Encoding::Identity);
    }

    #[test]
    fn negotiation() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
    }
}
