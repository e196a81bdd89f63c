//! `/metrics` bodies of the current snapshot, per format and encoding, rendered once.

use super::gzip::gzip;
use super::metrics::{render, render_gzip};
use super::negotiate::{Encoding, Format};
use super::per_snapshot::{PerSnapshot, run_blocking};
use crate::snapshot::Snapshot;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The bodies of the latest snapshot, per format and encoding, each rendered (or
/// compressed) at most once, when first asked for: every scrape after the first costs an `Arc` clone. Scrapes
/// arriving during a render wait for it rather than render again.
#[derive(Default)]
pub(crate) struct RenderedBodies {
    last: PerSnapshot<SnapshotBodies>,
}

/// Index: `format * 2 + encoding`.
#[derive(Default)]
struct SnapshotBodies([OnceCell<Bytes>; 4]);

impl RenderedBodies {
    /// The body of `snapshot` in `format` and `encoding`.
    pub(crate) async fn get(
        &self,
        snapshot: &Arc<Snapshot>,
        ttl: Duration,
        format: Format,
        encoding: Encoding,
    ) -> Bytes {
        let bodies = self.last.get(snapshot);
        let cell = |encoding: Encoding| &bodies.0[format as usize * 2 + encoding as usize];
        let snapshot = snapshot.clone();
        let body = match encoding {
            Encoding::Identity => {
                cell(encoding).get_or_init(|| run_blocking(move || Bytes::from(render(snapshot, ttl, format)))).await
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
                            None => Bytes::from(render_gzip(snapshot, ttl, format)),
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
    use crate::render::gzip::tests::gunzip;
    use crate::render::metrics::tests::snapshot;

    #[tokio::test]
    async fn bodies_are_rendered_once_per_snapshot_and_encoding() {
        let bodies = RenderedBodies::default();
        let (first, ttl) = (snapshot(), Duration::from_secs(30));
        let zipped = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Gzip).await;
        let again = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Gzip).await;
        assert_eq!(zipped.as_ptr(), again.as_ptr(), "served from memory, not rendered again");
        let identity = bodies.get(&first, ttl, Format::OpenMetrics, Encoding::Identity).await;
        assert_eq!(gunzip(&zipped), std::str::from_utf8(&identity).unwrap());
        let text = bodies.get(&first, ttl, Format::Text, Encoding::Identity).await;
        assert!(!text.ends_with(b"# EOF\n") && identity.ends_with(b"# EOF\n"));
        let second = snapshot();
        let fresh = bodies.get(&second, ttl, Format::OpenMetrics, Encoding::Identity).await;
        assert_ne!(fresh.as_ptr(), identity.as_ptr(), "a new snapshot is rendered anew");
    }
}
