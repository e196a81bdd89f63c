//! The cache's timing, on tokio's paused clock: single flight, expiry, deadlines, and
//! the first window.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers its refreshes and takes 50 ms each, like a real cluster round trip; each
/// value knows the time since the previous refresh started (its window).
struct Counting {
    /// Refreshes started, so tests can count what the cluster would have been asked.
    refreshes: AtomicU64,
    /// When the last refresh started: the next value's window starts there.
    last: Mutex<Option<Instant>>,
}

/// A value of [`Counting`].
#[derive(Debug, PartialEq)]
struct Taken {
    /// Which refresh took it, from 1.
    n: u64,
    /// Seconds since the refresh before; `None` for the first.
    window: Option<f64>,
}

impl SnapshotSource for Counting {
    type Output = Taken;

    async fn refresh(&self) -> Taken {
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        let now = Instant::now();
        let window = crate::sync::lock(&self.last).replace(now).map(|before| (now - before).as_secs_f64());
        tokio::time::sleep(Duration::from_millis(50)).await;
        Taken { n, window }
    }

    fn window_seconds(value: &Taken) -> Option<f64> {
        value.window
    }
}

fn counting() -> Arc<Counting> {
    Arc::new(Counting { refreshes: AtomicU64::new(0), last: Mutex::new(None) })
}

fn refreshes(source: &Counting) -> u64 {
    source.refreshes.load(Ordering::SeqCst)
}

const TTL: Duration = Duration::from_secs(30);

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
        assert_eq!(served.value.n, 1);
    }
    assert_eq!(refreshes(&source), 1);
    assert!(cache.get(None).await.unwrap().cached);
}

#[tokio::test(start_paused = true)]
async fn expiry_triggers_exactly_one_new_refresh() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), Duration::from_millis(100));
    assert!(!cache.get(None).await.unwrap().cached, "the refresh took 50 ms");
    tokio::time::sleep(Duration::from_millis(39)).await;
    assert_eq!(cache.get(None).await.unwrap().value.n, 1, "still fresh 89 ms after the refresh started");
    tokio::time::sleep(Duration::from_millis(1)).await;
    let second = cache.get(None).await.unwrap();
    assert!(!second.cached);
    assert_eq!((second.value.n, refreshes(&source)), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_scraper_asking_every_ttl_gets_a_new_value_every_time_even_a_little_early() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    for (scrape, early) in [(1, 0), (2, 3), (3, 0), (4, 900)] {
        let asked = Instant::now();
        let served = cache.get(None).await.unwrap();
        assert_eq!((served.value.n, served.cached), (scrape, false), "scrape {scrape}");
        // The next scrape comes one TTL after this one, `early` ms early, as a
        // scraper's jitter may have it.
        tokio::time::sleep_until(asked + TTL - Duration::from_millis(early)).await;
    }
    assert_eq!(refreshes(&source), 4);
    let asked = Instant::now();
    cache.get(None).await.unwrap();
    tokio::time::sleep_until(asked + TTL - Duration::from_millis(1001)).await;
    assert!(cache.get(None).await.unwrap().cached, "never more than one refresh per TTL less a second");
}

#[test]
fn the_slack_is_a_tenth_of_the_ttl_and_at_most_a_second() {
    let at = Instant::now();
    assert_eq!(expires_at(at, Duration::from_secs(30)), at + Duration::from_secs(29));
    assert_eq!(expires_at(at, Duration::from_secs(5)), at + Duration::from_millis(4500));
    assert_eq!(expires_at(at, Duration::from_millis(100)), at + Duration::from_millis(90));
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
    assert_eq!((next.value.n, next.cached), (1, true));
    assert_eq!(refreshes(&source), 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_with_a_deadline_gets_the_previous_value_rather_than_wait_too_long() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), Duration::from_millis(100));
    cache.get(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let hurried = cache.get(Some(Instant::now() + Duration::from_millis(10))).await.unwrap();
    assert_eq!((hurried.value.n, hurried.cached), (1, true));
    let patient = cache.get(None).await.unwrap();
    assert_eq!((patient.value.n, patient.cached), (2, false), "joined the refresh the hurried request started");
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

/// Lets spawned tasks (the first window's) run on the paused clock.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(start_paused = true)]
async fn the_first_question_for_rates_is_told_when_they_come_and_a_burst_schedules_one_refresh() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    let questions: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get_for_rates().await.unwrap() })
        })
        .collect();
    for question in questions {
        let answer = question.await.unwrap();
        assert_eq!(answer.served.value.n, 1, "answered at once from the one value there is");
        // Due 2 s after the first refresh started; it took 50 ms.
        assert_eq!(answer.rates_ready_in, Some(FIRST_WINDOW - Duration::from_millis(50)));
    }
    assert_eq!(refreshes(&source), 1, "nothing more until it is due");
    tokio::time::sleep(FIRST_WINDOW).await;
    settle().await;
    assert_eq!(refreshes(&source), 2, "one first window for the whole burst, taken unasked");
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!(*answer.served.value, Taken { n: 2, window: Some(FIRST_WINDOW.as_secs_f64()) });
    assert_eq!((answer.rates_ready_in, answer.served.cached), (None, true));
    // Current rates from now on: TTL-paced questions cause one refresh per TTL.
    for expected in 3..6 {
        tokio::time::sleep(TTL).await;
        let answer = cache.get_for_rates().await.unwrap();
        assert_eq!((answer.served.value.n, answer.rates_ready_in), (expected, None));
        settle().await;
        assert_eq!(refreshes(&source), expected);
    }
}

#[tokio::test(start_paused = true)]
async fn asked_when_the_first_window_is_due_already_the_question_takes_it_and_gets_rates() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    cache.get(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!(answer.rates_ready_in, None);
    assert_eq!(answer.served.value.n, 2);
    assert!(!answer.served.cached, "waited for the refresh that gives the rates");
    assert!(answer.served.value.window.is_some_and(|w| (5.0..5.2).contains(&w)), "{:?}", answer.served.value);
    settle().await;
    assert_eq!(refreshes(&source), 2);
}

#[tokio::test(start_paused = true)]
async fn after_a_long_idle_the_long_window_is_served_and_a_first_window_follows() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    cache.get(None).await.unwrap();
    tokio::time::sleep(TTL * 10).await;
    assert_eq!(refreshes(&source), 1, "an unobserved cache refreshes nothing");
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!(answer.served.value.n, 2, "refreshed: the old value had expired");
    assert!(answer.served.value.window.is_some_and(|w| w >= 300.0), "rates over the whole idle time");
    assert_eq!(answer.rates_ready_in, Some(FIRST_WINDOW - Duration::from_millis(50)), "current ones are coming");
    tokio::time::sleep(FIRST_WINDOW).await;
    settle().await;
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!(*answer.served.value, Taken { n: 3, window: Some(FIRST_WINDOW.as_secs_f64()) });
    assert_eq!(answer.rates_ready_in, None);
}

#[tokio::test(start_paused = true)]
async fn windows_up_to_two_ttls_are_current() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    cache.get(None).await.unwrap();
    tokio::time::sleep(TTL * 2 - Duration::from_millis(100)).await;
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!((answer.served.value.n, answer.rates_ready_in), (2, None));
    settle().await;
    assert_eq!(refreshes(&source), 2, "no first window");
}

#[tokio::test(start_paused = true)]
async fn scrapes_never_take_a_first_window() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), TTL);
    // Scrapes every 15 s for five minutes, with a scrape timeout, as Prometheus does.
    for _ in 0..20 {
        cache.get(Some(Instant::now() + Duration::from_secs(10))).await.unwrap();
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
    settle().await;
    assert_eq!(refreshes(&source), 10, "one per TTL: at 0, 30, 60, ... 270 s");
}

#[tokio::test(start_paused = true)]
async fn the_first_window_is_never_longer_than_the_ttl() {
    let source = counting();
    let cache = SnapshotCache::new(source.clone(), Duration::from_secs(1));
    let answer = cache.get_for_rates().await.unwrap();
    assert_eq!(answer.rates_ready_in, Some(Duration::from_millis(950)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(refreshes(&source), 2);
}
