//! What one connection is doing, as the watchdog needs to know it: whether a request is
//! in progress, since when it has been idle, and whether its answers still reach the
//! client. The I/O wrapper [`Watched`] records writes; the guards [`InProgress`] and
//! [`Sending`] travel with a request and its answer's body, so that a request dropped
//! halfway (a reset stream, a closed socket) stops counting by itself.

use crate::config::HttpLimits;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Why the watchdog ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No complete request within `header_timeout` of accepting (silent sockets,
    /// trickled heads, a bare HTTP/2 preface).
    NoRequest,
    /// Idle for `idle_timeout` after an answer (keep-alive, HTTP/1.1 or HTTP/2).
    Idle,
    /// An answer made no progress towards the client for `send_timeout`.
    NotReading,
}

impl Expiry {
    /// Whether the bound is one a connection draining for shutdown may still break
    /// harmlessly: idle and silent connections are closed by the drain itself.
    pub(crate) fn graceful(self) -> bool {
        self != Expiry::NotReading
    }
}

/// One connection's activity. Times are milliseconds since `born`, so that they fit
/// atomics shared between the connection task, its requests and the accept loop.
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the connection was accepted: the origin of every time below, and the
    /// order in which idle connections are shed (oldest first).
    born: Instant,
    /// Requests whose answer is not finished (handler running or body not yet sent):
    /// a connection with none may be shed or closed as idle.
    in_progress: AtomicUsize,
    /// Answers handed to hyper whose body is not yet sent: these must keep moving.
    sending: AtomicUsize,
    /// When `in_progress` last fell to zero (at first: accepting).
    idle_since: AtomicU64,
    /// When the latest answer started sending.
    sending_since: AtomicU64,
    /// When the client last took bytes from us.
    last_write: AtomicU64,
    /// One more than when a write found the client's window full, 0 while writes flow.
    write_blocked_since: AtomicU64,
    /// Whether a request was ever started: before the first one, the shorter header
    /// timeout applies instead of the idle timeout.
    served_any: AtomicBool,
    /// Whether the connection has been read and found with nothing to read: a client
    /// holding it open, not one whose request simply has not been read yet. Those are
    /// shed first, so a newcomer is never shed before its request is even looked at.
    pub(super) waited: AtomicBool,
    /// Set once when the accept loop chooses this connection to make room.
    shed: AtomicBool,
    /// Wakes the connection task when it is shed.
    shed_signal: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            born: Instant::now(),
            in_progress: AtomicUsize::new(0),
            sending: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            sending_since: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(0),
            served_any: AtomicBool::new(false),
            waited: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            shed_signal: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the connection has a request in progress or an answer still on its way
    /// out (its body handed over, but the client's window full): not idle, not to be
    /// shed, not to be closed without finishing.
    pub(crate) fn busy(&self) -> bool {
        self.in_progress.load(Ordering::Acquire) > 0 || self.write_blocked_since.load(Ordering::Acquire) > 0
    }

    /// Whether the connection was found waiting for its client (see `waited`).
    pub(crate) fn waited(&self) -> bool {
        self.waited.load(Ordering::Acquire)
    }

    /// Asks the connection to close to make room for a newcomer. Returns
    /// false if it was already asked.
    pub(crate) fn shed(&self) -> bool {
        if self.shed.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.shed_signal.notify_one();
        true
    }

    pub(crate) fn is_shed(&self) -> bool {
        self.shed.load(Ordering::Acquire)
    }

    /// Completes once the connection has been shed.
    pub(crate) async fn shed_requested(&self) {
        self.shed_signal.notified().await;
    }

    /// Marks a request as started; the guard ends it when dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InProgress {
        self.served_any.store(true, Ordering::Release);
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        InProgress(self.clone())
    }

    /// Marks an answer as handed over for sending; the guard ends it when dropped.
    pub(crate) fn sending_started(self: &Arc<Self>) -> Sending {
        self.sending_since.store(self.now(), Ordering::Release);
        self.sending.fetch_add(1, Ordering::AcqRel);
        Sending(self.clone())
    }

    fn wrote(&self) {
        self.last_write.store(self.now(), Ordering::Release);
        self.write_blocked_since.store(0, Ordering::Release);
    }

    fn write_blocked(&self) {
        let now = self.now() + 1;
        let _ = self.write_blocked_since.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The first rule this connection breaks now, if any, and otherwise how long until
    /// one could be broken (so the watchdog knows when to look again).
    pub(crate) fn check(&self, limits: &HttpLimits) -> Result<Duration, Expiry> {
        let now = self.now();
        let mut next = u64::MAX;
        let mut rule = |since: u64, limit: Duration, expiry: Expiry| -> Result<(), Expiry> {
            let deadline = since.saturating_add(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
            if now >= deadline {
                return Err(expiry);
            }
            next = next.min(deadline - now);
            Ok(())
        };
        let blocked = self.write_blocked_since.load(Ordering::Acquire);
        if blocked > 0 {
            rule(blocked - 1, limits.send_timeout, Expiry::NotReading)?;
        }
        if self.sending.load(Ordering::Acquire) > 0 {
            let progress = self.last_write.load(Ordering::Acquire).max(self.sending_since.load(Ordering::Acquire));
            rule(progress, limits.send_timeout, Expiry::NotReading)?;
        }
        if self.in_progress.load(Ordering::Acquire) == 0 {
            let since = self.idle_since.load(Ordering::Acquire);
            if self.served_any.load(Ordering::Acquire) {
                rule(since, limits.idle_timeout, Expiry::Idle)?;
            } else {
                rule(since, limits.header_timeout, Expiry::NoRequest)?;
            }
        }
        Ok(Duration::from_millis(next))
    }
}

/// A request in progress on its connection, until dropped (with its answer's body).
#[derive(Debug)]
pub(crate) struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_progress.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.idle_since.store(activity.now(), Ordering::Release);
        }
    }
}

/// An answer being sent, until its body is dropped.
#[derive(Debug)]
pub(crate) struct Sending(Arc<Activity>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection's I/O, recording for its [`Activity`] when the client takes bytes and
/// when it stops taking them. Vectored writes pass through, so hyper sends shared
/// chunks without copying them into one buffer.
pub(crate) struct Watched<I> {
    /// The socket (or TLS stream).
    io: I,
    /// Where writes are recorded.
    activity: Arc<Activity>,
}

impl<I> Watched<I> {
    pub(crate) fn new(io: I, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }

    fn record(&self, written: &Poll<io::Result<usize>>) {
        match written {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_blocked(),
            _ => {}
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if read.is_pending() {
            self.activity.waited.store(true, Ordering::Release);
        }
        read
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.record(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.record(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HttpLimits = HttpLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(30),
        http2_max_concurrent_streams: 16,
    };

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_expires_after_the_header_timeout() {
        let activity = Activity::new();
        assert_eq!(activity.check(&LIMITS), Ok(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(activity.check(&LIMITS), Err(Expiry::NoRequest));
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_answer_the_idle_timeout_counts_from_its_end() {
        let activity = Activity::new();
        let request = activity.request_started();
        tokio::time::advance(Duration::from_secs(100)).await;
        assert!(activity.check(&LIMITS).is_ok(), "a request in progress is not idle");
        drop(request);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(activity.check(&LIMITS).is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(activity.check(&LIMITS), Err(Expiry::Idle));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_makes_no_progress_expires_after_the_send_timeout() {
        let activity = Activity::new();
        let _request = activity.request_started();
        let _sending = activity.sending_started();
        tokio::time::advance(Duration::from_secs(20)).await;
        activity.wrote();
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(activity.check(&LIMITS).is_ok(), "progress 29 s ago");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(activity.check(&LIMITS), Err(Expiry::NotReading));
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_write_expires_even_after_the_body_is_handed_over() {
        let activity = Activity::new();
        drop(activity.request_started());
        activity.write_blocked();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(activity.check(&LIMITS), Err(Expiry::NotReading));
        activity.wrote();
        assert!(activity.check(&LIMITS).is_ok(), "the client read again");
    }

    #[tokio::test]
    async fn shedding_is_signalled_once() {
        let activity = Activity::new();
        assert!(activity.shed());
        assert!(!activity.shed());
        activity.shed_requested().await;
        assert!(activity.is_shed());
    }
}
