//! The one poller of the test suite: ask a check again until it holds or a deadline
//! passes, then fail naming what was awaited and what was last seen.
//!
//! A check returns `Ok(value)` once it holds, or `Err` with what it observed: a
//! `String` (try again) or an [`Unmet`] (`NotYet` to try again, `Never` to give up at
//! once, e.g. when the process being waited for has exited). The sync and the async
//! form share [`Attempts`], the deadline and step logic; they differ only in how they
//! sleep.

use std::future::Future;
use std::time::{Duration, Instant};

/// Why a check did not hold this time.
#[derive(Debug)]
pub enum Unmet {
    /// Not yet: what was observed; the check is asked again after a step.
    NotYet(String),
    /// Never will: what was observed; polling stops at once with this.
    Never(String),
}

impl From<String> for Unmet {
    fn from(observation: String) -> Self {
        Unmet::NotYet(observation)
    }
}

impl From<&str> for Unmet {
    fn from(observation: &str) -> Self {
        Unmet::NotYet(observation.to_owned())
    }
}

/// The deadline and step of one wait, shared by the sync and async forms.
struct Attempts<'a> {
    /// What is awaited, for the failure message.
    what: &'a str,
    /// How long the caller allowed, for the failure message.
    within: Duration,
    /// When to stop asking.
    deadline: Instant,
    /// How long to sleep between two checks.
    every: Duration,
}

impl<'a> Attempts<'a> {
    fn new(what: &'a str, within: Duration, every: Duration) -> Self {
        Attempts { what, within, deadline: Instant::now() + within, every }
    }

    /// After a failed check: how long to sleep before the next one, or the failure
    /// message naming what was awaited and the last observation.
    fn after(&self, unmet: Unmet) -> Result<Duration, String> {
        match unmet {
            Unmet::Never(seen) => Err(format!("{}: gave up: {seen}", self.what)),
            Unmet::NotYet(seen) if Instant::now() >= self.deadline => {
                Err(format!("{}: not within {:?}; last seen: {seen}", self.what, self.within))
            }
            Unmet::NotYet(_) => Ok(self.every.min(self.deadline.saturating_duration_since(Instant::now()))),
        }
    }
}

/// Asks `check` every `every` until it holds (its value is returned) or `within`
/// passes (the error names `what` and the last observation), so that the caller can
/// add context such as server logs.
pub fn try_eventually<T, E: Into<Unmet>>(
    what: &str,
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, String> {
    let attempts = Attempts::new(what, within, every);
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(unmet) => std::thread::sleep(attempts.after(unmet.into())?),
        }
    }
}

/// [`try_eventually`] that fails the test instead of returning the error.
#[track_caller]
pub fn eventually<T, E: Into<Unmet>>(
    what: &str,
    within: Duration,
    every: Duration,
    check: impl FnMut() -> Result<T, E>,
) -> T {
    try_eventually(what, within, every, check).unwrap_or_else(|failure| panic!("{failure}"))
}

/// The async form of [`try_eventually`]: sleeps on the tokio timer between checks.
pub async fn try_eventually_async<T, E, F, Fut>(
    what: &str,
    within: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, String>
where
    E: Into<Unmet>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let attempts = Attempts::new(what, within, every);
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(unmet) => tokio::time::sleep(attempts.after(unmet.into())?).await,
        }
    }
}

/// [`try_eventually_async`] that fails the test instead of returning the error.
pub async fn eventually_async<T, E, F, Fut>(what: &str, within: Duration, every: Duration, check: F) -> T
where
    E: Into<Unmet>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    try_eventually_async(what, within, every, check).await.unwrap_or_else(|failure| panic!("{failure}"))
}
