//! The tests' one HTTP client: HTTP/1.1 over plain TCP or TLS, one request per fresh
//! connection, the whole answer read into an [`HttpResponse`].
//!
//! * [`request`]: the common case, a plain-text request that must be answered (it
//!   panics on a connection or protocol error, not on an error status);
//! * [`Request`]: the same with options (TLS with the caller's rustls configuration, a
//!   time limit), and [`Request::try_send`] for tests that expect a request to fail:
//!   the error names the step that failed (`connect`, `TLS handshake`, `HTTP`,
//!   `request`, `body`) and its causes;
//! * [`tls_client_config`]: a rustls client configuration trusting a CA, with or
//!   without a client certificate.
//!
//! No time limit unless asked for: a request the server holds open stays open until it
//! is answered or the connection is closed (then `try_send` returns the error).
//!
//! Load generators that measure throughput keep their own keep-alive client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How long a failed request waits for the connection's own error, which says why
/// (with TLS 1.3 a refused client certificate shows only there, as an alert).
const CONNECTION_ERROR_WAIT: Duration = Duration::from_secs(5);

/// One HTTP answer, its body as sent (not decoded, not checked).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The value of header `name`; `None` if absent (or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text; panics if it is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body)
            .unwrap_or_else(|e| panic!("body is not UTF-8 ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as JSON; panics if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A plain HTTP/1.1 request on a fresh connection, whose answer is returned whatever
/// its status; panics if there is none.
pub async fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> HttpResponse {
    Request::new(method, target).headers(headers).send(addr).await
}

/// An HTTP/1.1 request, sent on a fresh connection by [`send`](Request::send) or
/// [`try_send`](Request::try_send).
#[derive(Clone)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Option<Duration>,
    body: Bytes,
    /// The local address to connect from (another loopback address is another host).
    from: Option<std::net::IpAddr>,
}

impl<'a> Request<'a> {
    /// `method` (e.g. "GET", "HEAD", "POST") for `target` (path and query).
    pub fn new(method: &'a str, target: &'a str) -> Request<'a> {
        Request { method, target, headers: Vec::new(), tls: None, timeout: None, body: Bytes::new(), from: None }
    }

    pub fn get(target: &'a str) -> Request<'a> {
        Request::new("GET", target)
    }

    /// Adds a header. `Host` is the server's address unless given here.
    pub fn header(mut self, name: &'a str, value: &'a str) -> Request<'a> {
        self.headers.push((name, value));
        self
    }

    pub fn headers(mut self, headers: &[(&'a str, &'a str)]) -> Request<'a> {
        self.headers.extend_from_slice(headers);
        self
    }

    /// Sends `body` (with its `Content-Length`; the caller adds a `Content-Type`).
    pub fn body(mut self, body: impl Into<Bytes>) -> Request<'a> {
        self.body = body.into();
        self
    }

    /// Speaks TLS with `config`, verifying the server's certificate for its IP address.
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Request<'a> {
        self.tls = Some(config);
        self
    }

    /// Connects from `local` (e.g. 127.0.0.2, to come from another host than the rest).
    pub fn from(mut self, local: std::net::IpAddr) -> Request<'a> {
        self.from = Some(local);
        self
    }

    /// Gives up (with an error) if the whole exchange takes longer than `limit`.
    pub fn timeout(mut self, limit: Duration) -> Request<'a> {
        self.timeout = Some(limit);
        self
    }

    /// Sends the request; panics if it gets no answer.
    pub async fn send(self, addr: SocketAddr) -> HttpResponse {
        self.try_send(addr).await.unwrap_or_else(|error| panic!("{error}"))
    }

    /// Sends the request; the answer, or which step failed and why.
    pub async fn try_send(self, addr: SocketAddr) -> Result<HttpResponse, String> {
        let what = format!("{} {} on {addr}", self.method, self.target);
        let result = match self.timeout {
            None => self.exchange(addr).await,
            Some(limit) => match tokio::time::timeout(limit, self.exchange(addr)).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {limit:?}")),
            },
        };
        result.map_err(|error| format!("{what}: {error}"))
    }

    async fn exchange(&self, addr: SocketAddr) -> Result<HttpResponse, String> {
        let tcp = match self.from {
            None => TcpStream::connect(addr).await,
            Some(local) => {
                let socket = tokio::net::TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
                socket.bind(SocketAddr::new(local, 0)).map_err(|e| format!("bind {local}: {e}"))?;
                socket.connect(addr).await
            }
        }
        .map_err(|e| format!("connect: {e}"))?;
        match &self.tls {
            None => self.over(tcp, addr).await,
            Some(config) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                self.over(tls, addr).await
            }
        }
    }

    /// The HTTP exchange over an established connection.
    async fn over<S>(&self, io: S, addr: SocketAddr) -> Result<HttpResponse, String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| format!("HTTP: {e}"))?;
        let connection = tokio::spawn(connection);
        let mut request = hyper::Request::builder().method(self.method).uri(self.target);
        if !self.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            request = request.header("host", addr.to_string());
        }
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(self.body.clone())).map_err(|e| format!("bad request: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                // The connection's error says why the request failed, e.g. the TLS alert
                // of a refused client certificate.
                let why = match tokio::time::timeout(CONNECTION_ERROR_WAIT, connection).await {
                    Ok(Ok(Err(conn_error))) => error_chain(&conn_error),
                    _ => String::new(),
                };
                return Err(format!("request: {} ({why})", error_chain(&e)));
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|e| format!("body: {}", error_chain(&e)))?.to_bytes();
        Ok(HttpResponse { status, headers, body })
    }
}

/// An error and its sources, for assertions on the underlying cause.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A client configuration for [`Request::tls`] that trusts the CA certificates in the PEM
/// file `ca` and, given `identity` (certificate and key PEM files), presents that
/// client certificate. It offers HTTP/1.1 only (ALPN).
pub fn tls_client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
            builder.with_client_auth_cert(certs, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
