//! The snapshot cache: one per target cluster, shared by every endpoint.
//!
//! A value is served until `ttl` after its refresh started. The first request after
//! that triggers a refresh; requests arriving meanwhile wait for that same refresh
//! (single flight) instead of starting their own, so a burst of scrapes costs the
//! cluster one round of CLUSTER SLOT-STATS. The refresh runs in its own task holding
//! the refresh lock: a client that disconnects mid-refresh cannot cancel it and let a
//! second one start.
//!
//! A request may bring a deadline (a scrape's timeout). It bounds only that request's
//! wait, never the refresh: the refresh always runs under the collector's own bounds
//! and its result is stored for everyone. A request whose deadline passes first gets
//! the previous value, or [`Unavailable::RefreshInProgress`] if there is none yet.
//! So no client can make the shared snapshot worse by asking impatiently.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Something that can produce a fresh value: in the product, a cluster's collector.
pub(crate) trait SnapshotSource: Send + Sync + 'static {
    type Output: Send + Sync + 'static;

    /// A new value. Never fails: whatever went wrong is part of the value.
    fn refresh(&self) -> impl Future<Output = Self::Output> + Send;
}

/// A value handed to a request.
#[derive(Debug)]
pub struct Served<T> {
    pub value: Arc<T>,
    /// True when the request was answered from an existing value, without waiting
    /// for a refresh to finish.
    pub cached: bool,
}

impl<T> Clone for Served<T> {
    fn clone(&self) -> Self {
        Served { value: self.value.clone(), cached: self.cached }
    }
}

/// Why a request got no value at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unavailable {
    /// The request's deadline passed before the first refresh finished; the refresh
    /// goes on and later requests get its result.
    #[error("the first snapshot is still being taken; retry shortly")]
    RefreshInProgress,
    /// The refresh task itself failed (a bug), and there is no earlier value.
    #[error("the refresh failed; retry shortly")]
    RefreshFailed,
}

struct Entry<T> {
    value: Arc<T>,
    fresh_until: Instant,
    /// Counts refreshes, so a waiter can tell whether a refresh finished while it waited.
    generation: u64,
}

pub(crate) struct SnapshotCache<S: SnapshotSource> {
    source: Arc<S>,
    ttl: Duration,
    current: RwLock<Option<Entry<S::Output>>>,
    /// Held for the whole of a refresh: at most one refresh per target at a time.
    refresh_lock: Arc<Mutex<()>>,
}

impl<S: SnapshotSource> SnapshotCache<S> {
    pub(crate) fn new(source: Arc<S>, ttl: Duration) -> Arc<Self> {
        Arc::new(SnapshotCache { source, ttl, current: RwLock::new(None), refresh_lock: Arc::new(Mutex::new(())) })
    }

    /// A value no older than the TTL, refreshing first if there is none. With a
    /// `deadline`, waits no longer than that (see the module docs).
    pub(crate) async fn get(self: &Arc<Self>, deadline: Option<Instant>) -> Result<Served<S::Output>, Unavailable> {
        if let Some(value) = self.fresh() {
            return Ok(Served { value, cached: true });
        }
        let Some(deadline) = deadline else {
            return self.refresh_or_join().await;
        };
        match tokio::time::timeout_at(deadline, self.refresh_or_join()).await {
            Ok(served) => served,
            Err(_) => self.latest().map(|value| Served { value, cached: true }).ok_or(Unavailable::RefreshInProgress),
        }
    }

    /// Waits for the refresh lock; then either someone else's refresh has just
    /// finished, or this request starts one and waits for it.
    async fn refresh_or_join(self: &Arc<Self>) -> Result<Served<S::Output>, Unavailable> {
        let seen_generation = self.generation();
        let guard = self.refresh_lock.clone().lock_owned().await;
        if let Some(value) = self.fresh() {
            return Ok(Served { cached: self.generation() == seen_generation, value });
        }
        let this = Arc::clone(self);
        let refresh = tokio::spawn(async move {
            let _holds_refresh_lock = guard;
            let started = Instant::now();
            let value = Arc::new(this.source.refresh().await);
            this.store(value.clone(), started + this.ttl);
            value
        });
        match refresh.await {
            Ok(value) => Ok(Served { value, cached: false }),
            Err(e) => {
                tracing::error!(error = %e, "refresh task failed");
                self.latest().map(|value| Served { value, cached: true }).ok_or(Unavailable::RefreshFailed)
            }
        }
    }

    /// The current value if it has not expired.
    fn fresh(&self) -> Option<Arc<S::Output>> {
        let current = crate::sync::read(&self.current);
        current.as_ref().filter(|e| Instant::now() < e.fresh_until).map(|e| e.value.clone())
    }

    /// The last value taken, expired or not.
    pub(crate) fn latest(&self) -> Option<Arc<S::Output>> {
        crate::sync::read(&self.current).as_ref().map(|e| e.value.clone())
    }

    fn generation(&self) -> u64 {
        crate::sync::read(&self.current).as_ref().map_or(0, |e| e.generation)
    }

    fn store(&self, value: Arc<S::Output>, fresh_until: Instant) {
        let mut current = crate::sync::write(&self.current);
        let generation = current.as_ref().map_or(0, |e| e.generation) + 1;
        *current = Some(Entry { value, fresh_until, generation });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Numbers its refreshes and takes 50 ms each, like a real cluster round trip.
    struct Counting(AtomicU64);

    impl SnapshotSource for Counting {
        type Output = u64;

        async fn refresh(&self) -> u64 {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            n
        }
    }

    fn counting() -> Arc<Counting> {
        Arc::new(Counting(AtomicU64::new(0)))
    }

    fn refreshes(source: &Counting) -> u64 {
        source.0.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share_one_refresh() {
        let source = counting();
        let cache = SnapshotCache::new(source.clone(), Duration::from_secs(60));
        let requests: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get(None).await.unwrap() })
            })
            .collect();
        for r in requests {
            let served = r.await.unwrap();
            assert!(!served.cached, "every request waited for the one refresh");
            assert_eq!(*served.value, 1);
        }
        assert_eq!(refreshes(&source), 1);
        assert!(cache.get(None).await.unwrap().cached);
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_triggers_exactly_one_new_refresh() {
        let source = counting();
        let cache = SnapshotCache::new(source.clone(), Duration::from_millis(100));
        assert!(!cache.get(None).await.unwrap().cached, "the refresh took 50 ms");
        tokio::time::sleep(Duration::from_millis(49)).await;
        assert_eq!(*cache.get(None).await.unwrap().value, 1, "still fresh 99 ms after the refresh started");
        tokio::time::sleep(Duration::from_millis(1)).await;
        let second = cache.get(None).await.unwrap();
        assert!(!second.cached);
        assert_eq!((*second.value, refreshes(&source)), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_bounds_the_wait_not_the_refresh() {
        let source = counting();
        let cache = SnapshotCache::new(source.clone(), Duration::from_secs(60));
        let hurried = cache.get(Some(Instant::now() + Duration::from_millis(1))).await;
        assert_eq!(hurried.unwrap_err(), Unavailable::RefreshInProgress, "nothing to fall back on yet");
        // The refresh that request started goes on, and its value serves everyone.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let next = cache.get(None).await.unwrap();
        assert_eq!((*next.value, next.cached), (1, true));
        assert_eq!(refreshes(&source), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_with_a_deadline_gets_the_previous_value_rather_than_wait_too_long() {
        let source = counting();
        let cache = SnapshotCache::new(source.clone(), Duration::from_millis(100));
        cache.get(None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let hurried = cache.get(Some(Instant::now() + Duration::from_millis(10))).await.unwrap();
        assert_eq!((*hurried.value, hurried.cached), (1, true));
        let patient = cache.get(None).await.unwrap();
        assert_eq!((*patient.value, patient.cached), (2, false), "joined the refresh the hurried request started");
        assert_eq!(refreshes(&source), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_request_does_not_cancel_its_refresh() {
        let source = counting();
        let cache = SnapshotCache::new(source.clone(), Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(5), cache.get(None)).await;
        let served = cache.get(None).await.unwrap();
        assert_eq!(refreshes(&source), 1);
        assert!(!served.cached, "waited for the refresh still running");
    }
}
