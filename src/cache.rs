//! The snapshot cache: one per target cluster, shared by every endpoint.
//!
//! A value is served until `ttl` after its refresh started, less a small slack (see
//! [`expires_at`]). The first request after that triggers a refresh; requests arriving meanwhile wait for that same refresh
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
//!
//! **The first window.** Rates need two values, and a TTL-paced second one would keep a
//! person who opens the page on a fresh or long-idle exporter waiting a whole TTL (30 s
//! by default). So a question that needs rates ([`SnapshotCache::get_for_rates`]) and
//! finds a value without a current window — none at all, or one longer than
//! [`CURRENT_WINDOW_TTLS`] TTLs (the exporter sat unobserved) — gets that value at once
//! with the time its rates are due, and causes one extra refresh [`FIRST_WINDOW`] after
//! that value's own; asked when that time has already come, it takes that refresh
//! itself (single flight, as above). Scrapes ([`SnapshotCache::get`]) never cause one,
//! and nothing is refreshed unless asked: an unobserved exporter stays idle.

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tokio::time::Instant;

#[cfg(test)]
mod tests;

/// How long after a value without a current window the next one is taken for rates:
/// long enough that the refresh's own duration (tens of ms, about a second on the
/// largest clusters) is a small part of the window, short enough that rates come
/// within 5 s of the question. Never longer than the TTL.
pub(crate) const FIRST_WINDOW: Duration = Duration::from_secs(2);

/// A window up to this many TTLs long is current: served values are refreshed once a
/// TTL, but only when asked, so windows between TTL-paced questions (a page, a 15–30 s
/// scrape loop) run a little past one TTL; anything much longer spans a time nobody
/// was looking and is not "now" any more.
pub(crate) const CURRENT_WINDOW_TTLS: u32 = 2;

/// The most a value's life is cut short by [`expires_at`].
pub(crate) const MAX_EXPIRY_SLACK: Duration = Duration::from_secs(1);

/// When a value taken at `started` stops being served: one TTL later, less a tenth of
/// the TTL (at most [`MAX_EXPIRY_SLACK`]). Without the slack, a scraper asking every
/// TTL, as Prometheus is told to, would find the value a millisecond short of
/// expiring every other time (its refresh starts just after the scrape that caused
/// it, and scrape times jitter by milliseconds): the refresh would come every two
/// TTLs, or every 45 s with 15 s scrapes at a 30 s TTL, as the fleet benchmark saw.
pub(crate) fn expires_at(started: Instant, ttl: Duration) -> Instant {
    started + ttl - (ttl / 10).min(MAX_EXPIRY_SLACK)
}

/// Something that can produce a fresh value: in the product, a cluster's collector.
pub(crate) trait SnapshotSource: Send + Sync + 'static {
    type Output: Send + Sync + 'static;

    /// A new value. Never fails: whatever went wrong is part of the value.
    fn refresh(&self) -> impl Future<Output = Self::Output> + Send;

    /// Seconds between `value` and the value before it, over which its rates were
    /// computed; `None` when it has no rates (the first value).
    fn window_seconds(value: &Self::Output) -> Option<f64>;
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

/// A value handed to a question that needs rates.
#[derive(Debug)]
pub(crate) struct ForRates<T> {
    /// The value to answer from now, with or without current rates.
    pub(crate) served: Served<T>,
    /// When the value has no current window: how long until a value with one is
    /// taken, so the answer can say when to ask again. `None` when its rates are current.
    pub(crate) rates_ready_in: Option<Duration>,
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

/// A stored value with what the cache needs to know about it.
struct Entry<T> {
    /// Shared with every request it answers.
    value: Arc<T>,
    /// When the refresh that took it started: the TTL and the first window count from here.
    started: Instant,
    /// Counts refreshes, so a waiter can tell whether a refresh finished while it waited.
    generation: u64,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry { value: self.value.clone(), started: self.started, generation: self.generation }
    }
}

/// A first window promised to the questions that asked for rates.
#[derive(Clone, Copy)]
struct FirstWindow {
    /// The generation of the value without a current window; a newer value ends the promise.
    after: u64,
    /// When the value with rates is taken.
    due: Instant,
}

pub(crate) struct SnapshotCache<S: SnapshotSource> {
    /// What refreshes: the cluster's collector and aggregator.
    source: Arc<S>,
    /// How long a value is served before a request refreshes it (`--cache-ttl`).
    ttl: Duration,
    /// The last value taken; `None` until the first refresh ends.
    current: RwLock<Option<Entry<S::Output>>>,
    /// Held for the whole of a refresh: at most one refresh per target at a time.
    refresh_lock: Arc<AsyncMutex<()>>,
    /// The first window already promised, so that a burst of questions schedules one.
    first_window: Mutex<Option<FirstWindow>>,
}

impl<S: SnapshotSource> SnapshotCache<S> {
    pub(crate) fn new(source: Arc<S>, ttl: Duration) -> Arc<Self> {
        Arc::new(SnapshotCache {
            source,
            ttl,
            current: RwLock::new(None),
            refresh_lock: Arc::new(AsyncMutex::new(())),
            first_window: Mutex::new(None),
        })
    }

    /// A value no older than the TTL, refreshing first if there is none. With a
    /// `deadline`, waits no longer than that (see the module docs).
    pub(crate) async fn get(self: &Arc<Self>, deadline: Option<Instant>) -> Result<Served<S::Output>, Unavailable> {
        self.entry(deadline).await.map(|(entry, cached)| Served { value: entry.value, cached })
    }

    /// As [`get`](Self::get), for a question that needs rates: when the value has no
    /// current window, schedules the first window (once) and says when it is due, or,
    /// if it is due already, takes it and answers from it (see the module docs).
    pub(crate) async fn get_for_rates(self: &Arc<Self>) -> Result<ForRates<S::Output>, Unavailable> {
        let (entry, cached) = self.entry(None).await?;
        if self.window_is_current(&entry) {
            return Ok(ForRates { served: Served { value: entry.value, cached }, rates_ready_in: None });
        }
        let due = self.promise_first_window(&entry);
        let now = Instant::now();
        if due > now {
            let served = Served { value: entry.value, cached };
            return Ok(ForRates { served, rates_ready_in: Some(due - now) });
        }
        let (entry, cached) = self.refresh_after(entry.generation).await?;
        Ok(ForRates { served: Served { value: entry.value, cached }, rates_ready_in: None })
    }

    async fn entry(self: &Arc<Self>, deadline: Option<Instant>) -> Result<(Entry<S::Output>, bool), Unavailable> {
        if let Some(entry) = self.fresh() {
            return Ok((entry, true));
        }
        let Some(deadline) = deadline else {
            return self.refresh_or_join().await;
        };
        match tokio::time::timeout_at(deadline, self.refresh_or_join()).await {
            Ok(served) => served,
            Err(_) => self.latest_entry().map(|entry| (entry, true)).ok_or(Unavailable::RefreshInProgress),
        }
    }

    /// Waits for the refresh lock; then either someone else's refresh has just
    /// finished, or this request starts one and waits for it.
    async fn refresh_or_join(self: &Arc<Self>) -> Result<(Entry<S::Output>, bool), Unavailable> {
        let seen_generation = self.generation();
        let guard = self.refresh_lock.clone().lock_owned().await;
        if let Some(entry) = self.fresh() {
            let cached = entry.generation == seen_generation;
            return Ok((entry, cached));
        }
        self.refresh_holding(guard).await
    }

    /// The first window: a refresh unless one has finished since the value of
    /// generation `after`, which then serves instead (single flight).
    async fn refresh_after(self: &Arc<Self>, after: u64) -> Result<(Entry<S::Output>, bool), Unavailable> {
        let guard = self.refresh_lock.clone().lock_owned().await;
        match self.latest_entry() {
            Some(entry) if entry.generation != after => Ok((entry, false)),
            _ => self.refresh_holding(guard).await,
        }
    }

    /// Refreshes in a task of its own that keeps `guard` until the value is stored.
    async fn refresh_holding(
        self: &Arc<Self>,
        guard: OwnedMutexGuard<()>,
    ) -> Result<(Entry<S::Output>, bool), Unavailable> {
        let this = Arc::clone(self);
        let refresh = tokio::spawn(async move {
            let _holds_refresh_lock = guard;
            let started = Instant::now();
            let value = Arc::new(this.source.refresh().await);
            this.store(value, started)
        });
        match refresh.await {
            Ok(entry) => Ok((entry, false)),
            Err(e) => {
                tracing::error!(error = %e, "refresh task failed");
                self.latest_entry().map(|entry| (entry, true)).ok_or(Unavailable::RefreshFailed)
            }
        }
    }

    /// When the value with rates following `entry` is (or was) due, scheduling it in
    /// the background the first time it is asked for, if it is not due yet.
    fn promise_first_window(self: &Arc<Self>, entry: &Entry<S::Output>) -> Instant {
        let mut promised = crate::sync::lock(&self.first_window);
        if let Some(window) = promised.filter(|w| w.after == entry.generation) {
            return window.due;
        }
        let due = (entry.started + FIRST_WINDOW.min(self.ttl)).max(Instant::now());
        *promised = Some(FirstWindow { after: entry.generation, due });
        if due > Instant::now() {
            let (this, after) = (Arc::clone(self), entry.generation);
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                this.refresh_after(after).await.map(drop)
            });
        }
        due
    }

    /// Whether `entry`'s rates describe now: it has a window, and not one spanning a
    /// time nobody asked (see [`CURRENT_WINDOW_TTLS`]).
    fn window_is_current(&self, entry: &Entry<S::Output>) -> bool {
        let longest = (self.ttl * CURRENT_WINDOW_TTLS).as_secs_f64();
        S::window_seconds(&entry.value).is_some_and(|seconds| seconds <= longest)
    }

    /// The current value if it has not expired.
    fn fresh(&self) -> Option<Entry<S::Output>> {
        let current = crate::sync::read(&self.current);
        current.as_ref().filter(|e| Instant::now() < expires_at(e.started, self.ttl)).cloned()
    }

    /// The last value taken, expired or not.
    pub(crate) fn latest(&self) -> Option<Arc<S::Output>> {
        self.latest_entry().map(|e| e.value)
    }

    fn latest_entry(&self) -> Option<Entry<S::Output>> {
        crate::sync::read(&self.current).as_ref().cloned()
    }

    fn generation(&self) -> u64 {
        crate::sync::read(&self.current).as_ref().map_or(0, |e| e.generation)
    }

    fn store(&self, value: Arc<S::Output>, started: Instant) -> Entry<S::Output> {
        let mut current = crate::sync::write(&self.current);
        let generation = current.as_ref().map_or(0, |e| e.generation) + 1;
        let entry = Entry { value, started, generation };
        *current = Some(entry.clone());
        entry
    }
}
