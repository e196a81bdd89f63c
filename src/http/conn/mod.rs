//! One accepted connection, from TLS handshake to close, under the bounds of
//! [`HttpLimits`]: a watchdog ([`activity`]) closes it when it sends no request in
//! time, sits idle too long, or stops reading an answer; the accept loop's
//! [`registry`] may ask it to make room.
//!
//! hyper alone bounds only HTTP/1 request heads (and only with a timer set): the
//! protocol-sniffing read of hyper-util's auto builder, HTTP/2 connections and slow
//! readers are all unbounded there, which is why this module exists.

pub(crate) mod activity;
pub(crate) mod registry;

use super::body::Body;
use super::{DRAIN_TIMEOUT, MAX_HEADER_BYTES, MAX_HEADERS, basic_auth::BasicAuth, guard, respond, routes};
use crate::config::HttpLimits;
use crate::render::json;
use crate::target::Exporter;
use activity::{Activity, Expiry, InProgress, Sending, Watched};
use hyper::body::{Frame, SizeHint};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use registry::Place;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long past the drain timeout a connection may take to close after shutdown.
const POLITE_CLOSE: Duration = Duration::from_secs(1);
/// How often the watchdog looks again at a connection with no deadline in sight.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What every connection shares: what it answers with, and how it is bounded.
pub(crate) struct Shared {
    /// The clusters and their caches.
    pub(crate) exporter: Arc<Exporter>,
    /// Credentials required on every request, if configured.
    pub(crate) basic_auth: Option<Arc<BasicAuth>>,
    /// Timeouts and the HTTP/2 stream limit.
    pub(crate) limits: HttpLimits,
    /// The hyper builder, configured once from `limits`.
    pub(crate) builder: auto::Builder<TokioExecutor>,
}

impl Shared {
    pub(crate) fn new(exporter: Arc<Exporter>, basic_auth: Option<Arc<BasicAuth>>, limits: HttpLimits) -> Arc<Shared> {
        Arc::new(Shared { exporter, basic_auth, limits, builder: builder(&limits) })
    }
}

/// One accepted connection and what it needs to answer requests.
pub(crate) struct Connection {
    /// Shared by every connection.
    pub(crate) shared: Arc<Shared>,
    /// Its place among the served connections; `None` for one that only gets a 503.
    pub(crate) place: Option<Place>,
    /// What the watchdog watches; the registry's entry when `place` is set.
    pub(crate) activity: Arc<Activity>,
    /// The peer's address: basic auth queues at most one bcrypt run per address.
    pub(crate) client: IpAddr,
    /// The server's stop signal: finish what is in progress, then close.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Dropped when the connection ends; the server's drain waits for all of them.
    pub(crate) _alive: mpsc::Sender<()>,
}

impl Connection {
    pub(crate) async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let io = Watched::new(stream, self.activity.clone());
        let Some(acceptor) = tls else { return self.serve(io).await };
        // The handshake counts towards the header timeout, and yields to shedding.
        let handshake = tokio::time::timeout(self.shared.limits.header_timeout, acceptor.accept(io));
        tokio::select! {
            accepted = handshake => match accepted {
                Ok(Ok(stream)) => self.serve(stream).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            },
            () = self.activity.shed_requested() => tracing::debug!("closed during the TLS handshake to make room"),
        }
    }

    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = self.activity.clone();
        let limits = self.shared.limits;
        let answers =
            Arc::new(Answers { shared: self.shared.clone(), busy: self.place.is_none(), client: self.client });
        let service = service_fn(move |request| {
            let (answers, activity) = (answers.clone(), activity.clone());
            async move {
                let in_progress = activity.request_started();
                let response = answers.answer(request).await;
                let sending = activity.sending_started();
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _guards: (in_progress, sending) }))
            }
        });
        let connection = self.shared.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut close_by: Option<Instant> = None;
        loop {
            let closing = close_by.is_some();
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                // Idle, silent or shed connections have nothing in progress: closing them
                // at once loses nothing, where a polite close would wait on a client
                // that may never answer (an HTTP/2 handshake it never finishes).
                expiry = watchdog(&self.activity, &limits, closing) => {
                    tracing::debug!(?expiry, "closing connection");
                    return;
                }
                () = self.activity.shed_requested(), if !closing => {
                    tracing::debug!("closing an idle connection to make room");
                    if !self.activity.busy() {
                        return;
                    }
                    // It was idle when chosen, but an answer is still going out: finish
                    // it, within the send timeout, then close.
                    connection.as_mut().graceful_shutdown();
                    close_by = Some(Instant::now() + limits.send_timeout);
                }
                _ = self.shutdown.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    // The server gives up on the drain first, and says so.
                    close_by = Some(Instant::now() + DRAIN_TIMEOUT + POLITE_CLOSE);
                }
                () = tokio::time::sleep_until(close_by.unwrap_or_else(Instant::now)), if closing => return,
            }
        }
    }
}

/// Completes when the connection breaks one of its bounds. Once it is draining for
/// shutdown, only a client that stopped reading still matters (it would hold the drain).
async fn watchdog(activity: &Activity, limits: &HttpLimits, closing: bool) -> Expiry {
    loop {
        match activity.check(limits) {
            Err(expiry) if !(closing && expiry.graceful()) => return expiry,
            Err(_) => tokio::time::sleep(WATCH_INTERVAL).await,
            Ok(wait) => tokio::time::sleep(wait.min(WATCH_INTERVAL)).await,
        }
    }
}

/// Answers the requests of one connection.
struct Answers {
    shared: Arc<Shared>,
    /// Over the connection cap with nothing to shed: every request gets a 503.
    busy: bool,
    /// The peer's address, for basic auth's per-address queue.
    client: IpAddr,
}

impl Answers {
    async fn answer<B>(&self, request: hyper::Request<B>) -> hyper::Response<Body> {
        if self.busy {
            let reply = json::error(503, "too_many_connections", "connection limit reached; retry", SystemTime::now());
            let mut response = respond::json_response(reply);
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        if let Some(refusal) = guard::refusal(request.headers(), self.shared.basic_auth.as_deref(), self.client).await {
            return refusal;
        }
        routes::handle(request, self.shared.exporter.clone()).await
    }
}

/// An answer's body, carrying the marks that its request is in progress and its
/// answer is being sent until hyper drops it (sent, or the stream reset).
struct Tracked {
    body: Body,
    _guards: (InProgress, Sending),
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, Infallible>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// hyper's builder with the bounds of `limits` that hyper enforces itself.
fn builder(limits: &HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own HTTP/1 header timeout also runs while a keep-alive connection waits
    // for its next request, which would cut the idle timeout short: the watchdog
    // bounds the first request head, the idle timeout the wait for the next one.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(limits.http2_max_concurrent_streams);
    builder
}
