//! The snapshot cache: one per target cluster, shared by /metrics and the JSON API.
//!
//! A snapshot is served until `ttl` after its refresh started. The first request after
//! that triggers a refresh; requests arriving meanwhile wait for that same refresh
//! (single flight) instead of starting their own, so a burst of scrapes costs the
//! cluster one round of CLUSTER SLOT-STATS. The refresh runs in its own task holding
//! the refresh lock: a client that disconnects mid-refresh cannot cancel it and let a
//! second one start.

use crate::snapshot::{ClusterState, FailureKind, NodeFailure, Snapshot};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// Something that can produce a fresh snapshot: in the product, a cluster collector.
pub trait SnapshotSource: Send + Sync + 'static {
    /// A new snapshot, ready by `deadline` when one is given.
    fn refresh(&self, deadline: Option<Instant>) -> impl Future<Output = Snapshot> + Send;
}

impl SnapshotSource for crate::collect::ClusterCollector {
    fn refresh(&self, deadline: Option<Instant>) -> impl Future<Output = Snapshot> + Send {
        crate::collect::ClusterCollector::refresh(self, deadline)
    }
}

/// A snapshot handed to a request.
#[derive(Clone, Debug)]
pub struct Served {
    pub snapshot: Arc<Snapshot>,
    /// True when the request was answered from an existing snapshot, without waiting
    /// for a refresh.
    pub cached: bool,
}

struct Entry {
    snapshot: Arc<Snapshot>,
    fresh_until: Instant,
    /// Counts refreshes, so a waiter can tell whether a refresh finished while it waited.
    generation: u64,
}

pub struct SnapshotCache<S> {
    source: Arc<S>,
    ttl: Duration,
    current: RwLock<Option<Entry>>,
    /// Held for the whole of a refresh: at most one refresh per target at a time.
    refresh_lock: Arc<Mutex<()>>,
}

impl<S: SnapshotSource> SnapshotCache<S> {
    pub fn new(source: Arc<S>, ttl: Duration) -> Arc<Self> {
        Arc::new(SnapshotCache { source, ttl, current: RwLock::new(None), refresh_lock: Arc::new(Mutex::new(())) })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A snapshot no older than the TTL, refreshing first if there is none.
    ///
    /// With a `deadline` (a scrape's timeout), a refresh this request starts is bounded
    /// by it; a request that would have to wait past it for someone else's refresh
    /// gets the previous snapshot instead, marked `cached` and carrying its own
    /// timestamp, rather than an answer that arrives after the scraper gave up.
    pub async fn get(self: &Arc<Self>, deadline: Option<Instant>) -> Served {
        let seen_generation = self.generation();
        if let Some(snapshot) = self.fresh() {
            return Served { snapshot, cached: true };
        }
        let guard = match (deadline, self.latest()) {
            (Some(deadline), Some(previous)) => {
                match tokio::time::timeout_at(deadline.into(), self.refresh_lock.clone().lock_owned()).await {
                    Ok(guard) => guard,
                    Err(_) => return Served { snapshot: previous, cached: true },
                }
            }
            _ => self.refresh_lock.clone().lock_owned().await,
        };
        if let Some(snapshot) = self.fresh() {
            // Someone else's refresh finished while this request waited for it.
            return Served { cached: self.generation() == seen_generation, snapshot };
        }
        let this = Arc::clone(self);
        let refresh = tokio::spawn(async move {
            let _holds_refresh_lock = guard;
            let started = Instant::now();
            let snapshot = Arc::new(this.source.refresh(deadline).await);
            this.store(snapshot.clone(), started + this.ttl);
            snapshot
        });
        let snapshot = refresh.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "refresh task failed");
            Arc::new(internal_failure())
        });
        Served { snapshot, cached: false }
    }

    /// The current snapshot if it has not expired.
    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let current = self.current.read().expect("cache lock");
        current.as_ref().filter(|e| Instant::now() < e.fresh_until).map(|e| e.snapshot.clone())
    }

    /// The last snapshot taken, expired or not.
    fn latest(&self) -> Option<Arc<Snapshot>> {
        self.current.read().expect("cache lock").as_ref().map(|e| e.snapshot.clone())
    }

    fn generation(&self) -> u64 {
        self.current.read().expect("cache lock").as_ref().map_or(0, |e| e.generation)
    }

    fn store(&self, snapshot: Arc<Snapshot>, fresh_until: Instant) {
        let mut current = self.current.write().expect("cache lock");
        let generation = current.as_ref().map_or(0, |e| e.generation) + 1;
        *current = Some(Entry { snapshot, fresh_until, generation });
    }
}

/// What a request gets if the refresh task itself panicked: an honest "nothing known".
fn internal_failure() -> Snapshot {
    Snapshot {
        taken_at: SystemTime::now(),
        refresh_duration: Duration::ZERO,
        state: ClusterState::Unreachable(NodeFailure {
            kind: FailureKind::Other,
            detail: "internal error during refresh".into(),
        }),
        nodes: Vec::new(),
        slots: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts refreshes and takes a while, like a real cluster round trip.
    struct Counting(AtomicU64);

    impl SnapshotSource for Counting {
        async fn refresh(&self, _deadline: Option<Instant>) -> Snapshot {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Snapshot {
                taken_at: SystemTime::now(),
                refresh_duration: Duration::ZERO,
                state: ClusterState::Cluster,
                nodes: Vec::new(),
                slots: Vec::new(),
            }
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_refresh() {
        let source = Arc::new(Counting(AtomicU64::new(0)));
        let cache = SnapshotCache::new(source.clone(), Duration::from_secs(60));
        let requests: Vec<_> = (0..50)
            .map(|_| {
                tokio::spawn({
                    let cache = cache.clone();
                    async move { cache.get(None).await }
                })
            })
            .collect();
        let mut uncached = 0;
        for r in requests {
            if !r.await.unwrap().cached {
                uncached += 1;
            }
        }
        assert_eq!(source.0.load(Ordering::SeqCst), 1);
        assert_eq!(uncached, 50, "every request waited for the one refresh");
        assert!(cache.get(None).await.cached);
    }

    #[tokio::test]
    async fn expiry_triggers_exactly_one_new_refresh() {
        let source = Arc::new(Counting(AtomicU64::new(0)));
        let cache = SnapshotCache::new(source.clone(), Duration::from_millis(100));
        let first = cache.get(None).await;
        assert!(!first.cached);
        tokio::time::sleep(Duration::from_millis(120)).await;
        let second = cache.get(None).await;
        assert!(!second.cached);
        assert!(!Arc::ptr_eq(&first.snapshot, &second.snapshot));
        assert_eq!(source.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_with_a_deadline_gets_the_previous_snapshot_rather_than_wait_too_long() {
        let source = Arc::new(Counting(AtomicU64::new(0)));
        let cache = SnapshotCache::new(source.clone(), Duration::from_millis(10));
        let first = cache.get(None).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let refreshing = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get(None).await }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let hurried = cache.get(Some(Instant::now() + Duration::from_millis(10))).await;
        assert!(hurried.cached);
        assert!(Arc::ptr_eq(&hurried.snapshot, &first.snapshot));
        assert!(!refreshing.await.unwrap().cached);
    }

    #[tokio::test]
    async fn a_cancelled_request_does_not_cancel_its_refresh() {
        let source = Arc::new(Counting(AtomicU64::new(0)));
        let cache = SnapshotCache::new(source.clone(), Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(5), cache.get(None)).await;
        let served = cache.get(None).await;
        assert_eq!(source.0.load(Ordering::SeqCst), 1);
        assert!(!served.cached);
    }
}
