//! The HTTP server: accepts connections on a bound listener (TLS optional), checks
//! credentials ([`basic_auth`]) and limits, serves [`routes`], and drains in-flight requests on shutdown.
//!
//! [`serve`] takes an already bound listener (tests bind port 0) and a shutdown
//! future (main passes SIGTERM/SIGINT), in the manner of mini-redis's `run`.
//!
//! Limits, because the endpoint may face more than Prometheus:
//! - request headers must arrive within [`HEADER_READ_TIMEOUT`] (hyper enforces this
//!   only when a timer is set, so one is), at most [`MAX_HEADERS`] of them and
//!   [`MAX_HEADER_BYTES`] in all (more: 431);
//! - at most `max_connections` connections are served at once; the next ones get a
//!   503 and are closed, and past twice the cap they are closed at once;
//! - request bodies are refused ([`guard`]).

pub(crate) mod basic_auth;
mod clusters;
pub mod guard;
mod insight;
mod page;
pub mod query;
pub mod routes;

use crate::config::Settings;
use crate::render::json;
use crate::target::Exporter;
use basic_auth::BasicAuth;
pub use basic_auth::BasicAuthError;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

/// A client must send its request headers within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS client must finish its handshake within this time.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests before giving up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request headers accepted; Prometheus sends about eight.
pub const MAX_HEADERS: usize = 64;
/// Most bytes of request line and headers buffered (hyper's minimum is 8 KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How the endpoint is exposed.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Serve HTTPS only, with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Require these credentials on every request.
    pub basic_auth: Option<Arc<BasicAuth>>,
    /// Most connections served at once; 0 means the default of 256.
    pub max_connections: usize,
}

impl ServeOptions {
    /// The options `settings` ask for. Builds the basic-auth checker, which costs one
    /// bcrypt run (its dummy hash) now rather than on a request.
    pub fn from_settings(settings: &Settings) -> Result<Self, BasicAuthError> {
        let basic_auth = settings.web.basic_auth.as_ref().map(BasicAuth::new).transpose()?.map(Arc::new);
        Ok(ServeOptions { tls: settings.web.tls.clone(), basic_auth, max_connections: settings.max_connections })
    }
}

/// Serves until `shutdown` completes, then stops accepting and lets in-flight
/// requests finish (up to [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let cap = if options.max_connections == 0 { 256 } else { options.max_connections };
    let served = Arc::new(Semaphore::new(cap));
    // Connections over the cap still get a short 503, but only this many at a time.
    let turned_away = Arc::new(Semaphore::new(cap));
    let tls = options.tls.clone().map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let admission = match served.clone().try_acquire_owned() {
                    Ok(permit) => Admission::Serve(permit),
                    Err(_) => match turned_away.clone().try_acquire_owned() {
                        Ok(permit) => Admission::Busy(permit),
                        Err(_) => continue, // dropping the stream closes it
                    },
                };
                let connection = Connection {
                    exporter: exporter.clone(),
                    basic_auth: options.basic_auth.clone(),
                    admission,
                    client: peer.ip(),
                };
                tokio::spawn(connection.run(stream, tls.clone(), graceful.watcher()));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}

/// Whether a connection is within the cap; the permit is held for its lifetime.
enum Admission {
    Serve(#[allow(dead_code)] OwnedSemaphorePermit),
    Busy(#[allow(dead_code)] OwnedSemaphorePermit),
}

/// One accepted connection and what it needs to answer requests.
struct Connection {
    exporter: Arc<Exporter>,
    basic_auth: Option<Arc<BasicAuth>>,
    admission: Admission,
    /// The peer's address: basic auth queues at most one bcrypt run per address.
    client: std::net::IpAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>, watcher: Watcher) {
        match tls {
            None => self.serve_io(stream, watcher).await,
            Some(acceptor) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => self.serve_io(stream, watcher).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            },
        }
    }

    async fn serve_io<I>(self, io: I, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let busy = matches!(self.admission, Admission::Busy(_));
        let shared = Arc::new(self);
        let service = service_fn(move |request| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(shared.answer(request, busy).await) }
        });
        let builder = connection_builder();
        let connection = watcher.watch(builder.serve_connection(TokioIo::new(io), service).into_owned());
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }

    async fn answer<B>(&self, request: hyper::Request<B>, busy: bool) -> hyper::Response<routes::Body> {
        if busy {
            let reply = json::error(503, "too_many_connections", "connection limit reached; retry", SystemTime::now());
            let mut response = routes::json_response(reply);
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        if let Some(refusal) = guard::refusal(request.headers(), self.basic_auth.as_deref(), self.client).await {
            return refusal;
        }
        routes::handle(request, self.exporter.clone()).await
    }
}

fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEADER_BYTES);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
}
