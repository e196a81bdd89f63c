//! The HTTP server: accepts connections on a bound listener (TLS optional), bounds
//! each one ([`conn`]), checks credentials ([`basic_auth`]) and request bodies
//! ([`guard`]), serves [`routes`], and drains in-flight requests on shutdown.
//!
//! [`serve`] takes an already bound listener (tests bind port 0) and a shutdown
//! future (main passes SIGTERM/SIGINT), in the manner of mini-redis's `run`.
//!
//! Limits, because the endpoint may face more than Prometheus (see
//! [`HttpLimits`](crate::config::HttpLimits) for the timeouts):
//! - a connection must bring a complete request within `http_header_timeout` (TLS
//!   handshake and HTTP/2 preface included), may idle `http_idle_timeout` between
//!   requests, and is dropped when an answer makes no progress for `http_send_timeout`;
//! - request heads: at most [`MAX_HEADERS`] headers and [`MAX_HEADER_BYTES`] (more: 431);
//!   at most `http2_max_concurrent_streams` requests at once on an HTTP/2 connection;
//! - at most `max_connections` connections: at the cap the oldest idle one is closed to
//!   make room; when every one has a request in progress, newcomers get a 503;
//! - request bodies are refused ([`guard`]);
//! - answers share their bytes ([`body`]): a client that stops reading pins no copy.

pub(crate) mod basic_auth;
mod body;
mod clusters;
mod compress;
mod conn;
pub(crate) mod guard;
mod insight;
mod moves;
mod page;
pub(crate) mod query;
mod request;
mod respond;
pub(crate) mod routes;
mod scrape;

use crate::config::{HttpLimits, Settings};
use crate::target::Exporter;
use basic_auth::BasicAuth;
pub use basic_auth::BasicAuthError;
use conn::activity::Activity;
use conn::registry::{Admission, Registry};
use conn::{Connection, Shared};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

/// How long shutdown waits for in-flight requests before giving up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request headers accepted; Prometheus sends about eight.
pub(crate) const MAX_HEADERS: usize = 64;
/// Most bytes of request line and headers buffered (hyper's minimum is 8 KiB).
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How the endpoint is exposed.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Serve HTTPS only, with this configuration.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Require these credentials on every request.
    pub(crate) basic_auth: Option<Arc<BasicAuth>>,
    /// Most connections served at once; 0 means the default of 256.
    pub(crate) max_connections: usize,
    /// Per-connection timeouts and the HTTP/2 stream limit.
    pub(crate) limits: HttpLimits,
}

impl ServeOptions {
    /// The options `settings` ask for. Builds the basic-auth checker, which costs one
    /// bcrypt run (its dummy hash) now rather than on a request.
    pub fn from_settings(settings: &Settings) -> Result<Self, BasicAuthError> {
        let basic_auth = settings.web.basic_auth.as_ref().map(BasicAuth::new).transpose()?.map(Arc::new);
        Ok(ServeOptions {
            tls: settings.web.tls.clone(),
            basic_auth,
            max_connections: settings.max_connections,
            limits: settings.http_limits,
        })
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
    let registry = Registry::new(cap);
    let shared = Shared::new(exporter, options.basic_auth.clone(), options.limits);
    let tls = options.tls.clone().map(TlsAcceptor::from);
    let (stop, stopped) = watch::channel(false);
    // Each connection holds a sender; when all are gone, the drain is over.
    let (alive, mut all_gone) = mpsc::channel::<()>(1);
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
                let (place, activity, permit) = match registry.admit(peer.ip()) {
                    Admission::Serve(place) => {
                        let activity = place.activity.clone();
                        (Some(place), activity, None)
                    }
                    Admission::Busy(permit) => (None, Activity::new(), Some(permit)),
                    Admission::Drop => continue, // dropping the stream closes it
                };
                let connection = Connection {
                    shared: shared.clone(),
                    place,
                    activity,
                    client: peer.ip(),
                    shutdown: stopped.clone(),
                    _alive: alive.clone(),
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    connection.run(stream, tls).await;
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop.send(true);
    drop(alive);
    if tokio::time::timeout(DRAIN_TIMEOUT, all_gone.recv()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}
