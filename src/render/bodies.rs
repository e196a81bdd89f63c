//! `/metrics` bodies of the current snapshot, per format and encoding, rendered once.

use super::gzip::gzip;
use super::metrics::{Exposition, render, render_gzip};
use super::negotiate::{Encoding, Format};
use super::per_snapshot::{PerSnapshot, run_blocking};
use crate::aggregate::Observation;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The bodies of the latest snapshot, per format and encoding, each rendered (or
/// compressed) at most once, when first asked for: every scrape after the first costs an `Arc` clone. Scrapes
/// arriving during a render wait for it rather than render again.
#[derive(Default)]
pub(crate) struct RenderedBodies {
    last: PerSnapshot<Observation, SnapshotBodies>,
}

/// Index: `format * 2 + encoding`.
#[derive(Default)]
struct SnapshotBodies([OnceCell<Bytes>; 4]);

impl RenderedBodies {
    /// The body of `observation` in `format` and `encoding`.
    pub(crate) async fn get(
        &self,
        observation: &Arc<Observation>,
        exposition: Exposition,
        format: Format,
        encoding: Encoding,
    ) -> Bytes {
        let bodies = self.last.get(observation);
        let cell = |encoding: Encoding| &bodies.0[format as usize * 2 + encoding as usize];
        let observation = observation.clone();
        let body = match encoding {
            Encoding::Identity => {
                cell(encoding)
                    .get_or_init(|| run_blocking(move || Bytes::from(render(observation, exposition, format))))
                    .await
            }
            // Compressing an identity body already rendered is cheaper than rendering
            // again; without one, render straight into gzip rather than keep a large
            // body nobody asked for.
            Encoding::Gzip => {
                let identity = cell(Encoding::Identity).get().cloned();
                cell(encoding)
                    .get_or_init(|| {
                        run_blocking(move || match identity {
                            Some(identity) => Bytes::from(gzip(&identity)),
                            None => Bytes::from(render_gzip(observation, exposition, format)),
                        })
                    })
                    .await
            }
        };
        body.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SlotSeries;
    use crate::render::gzip::tests::gunzip;
    use crate::render::metrics::tests::observation;
    use std::time::Duration;

    #[tokio::test]
    async fn bodies_are_rendered_once_per_snapshot_and_encoding() {
        let bodies = RenderedBodies::default();
        let (first, ttl) = (observation(), Exposition { ttl: Duration::from_secs(30), slot_series: SlotSeries::All });
        let zipped = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Gzip).await;
        let again = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Gzip).await;
        assert_eq!(zipped.as_ptr(), again.as_ptr(), "served from memory, not rendered again");
        let identity = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Identity).await;
        assert_eq!(gunzip(&zipped), std::str::from_utf8(&identity).unwrap());
        let text = bodies.get(&first, ttl, Format::Text, Encoding::Identity).await;
        assert!(!text.ends_with(b"# EOF\n") && identity.ends_with(b"# EOF\n"));
        let second = observation();
        let fresh = bodies.get(&second, ttl, Format::OpenMetrics, Encoding::Identity).await;
        assert_ne!(fresh.as_ptr(), identity.as_ptr(), "a new snapshot is rendered anew");
    }
}
