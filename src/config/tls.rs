//! TLS material, loaded and checked at start-up so a missing or malformed file stops
//! the exporter with the key that named it, rather than failing every refresh.
//!
//! Both sides use rustls with the ring provider (the same one fred is built with):
//! [`client_config`] for connections to Valkey, [`server_config`] for the exporter's
//! own endpoint. Private keys live only inside the rustls configs, whose `Debug` does
//! not print them.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file; an empty file is an error, not "trust nothing".
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path_buf = || path.to_path_buf();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::ReadCerts { path: path_buf(), detail: e.to_string() })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::InvalidPem { path: path_buf(), detail: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: path_buf() });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file. Errors name
/// the file, never its contents.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| TlsError::ReadKey { path: path.to_path_buf(), detail: e.to_string() })
}

fn root_store(ca_file: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file)? {
        roots.add(cert).map_err(|e| TlsError::UnusableCa { path: ca_file.to_path_buf(), detail: e.to_string() })?;
    }
    Ok(roots)
}

/// Client side (exporter → Valkey): server certificates are verified against `ca_file`
/// (or the system's CA store when none is given: the platform bundle, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, through rustls-native-certs); a client certificate is presented when
/// both `cert_file` and `key_file` are set.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    cert_and_key: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match ca_file {
        Some(path) => root_store(path)?,
        None => system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match cert_and_key {
        Some((cert, key)) => builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?).map_err(|e| {
            TlsError::Mismatch { client: true, cert: cert.to_path_buf(), key: key.to_path_buf(), detail: e.to_string() }
        })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    // Skip the odd unparsable system certificate rather than refusing to start.
    let (added, _skipped) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::NoSystemRoots { detail: found.errors.first().map(ToString::to_string) });
    }
    Ok(roots)
}

/// Why TLS material was refused. Each variant names the file, never its contents;
/// `detail` is the parser's or rustls's own text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The file could not be opened or read.
    #[error("cannot read certificates from {path}: {detail}")]
    ReadCerts { path: PathBuf, detail: String },
    /// A PEM section that is not a certificate.
    #[error("invalid PEM certificate in {path}: {detail}")]
    InvalidPem { path: PathBuf, detail: String },
    /// No certificate in the file at all.
    #[error("no certificate found in {path}")]
    NoCertificate { path: PathBuf },
    /// No usable private key in the file.
    #[error("cannot read a private key from {path}: {detail}")]
    ReadKey { path: PathBuf, detail: String },
    /// A CA certificate rustls cannot use as a trust anchor.
    #[error("unusable CA certificate in {path}: {detail}")]
    UnusableCa { path: PathBuf, detail: String },
    /// The system's CA store is empty or unreadable (`detail`: the first reason).
    #[error("no system CA certificates found{why}; set tls_ca_file, or SSL_CERT_FILE / SSL_CERT_DIR",
            why = detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NoSystemRoots { detail: Option<String> },
    /// Certificate and key are not a pair; `client` for the certificate shown to Valkey.
    #[error("{which} {cert} and key {key} do not match: {detail}",
            which = if *client { "client certificate" } else { "certificate" })]
    Mismatch { client: bool, cert: PathBuf, key: PathBuf, detail: String },
    /// Client certificates are asked for but nothing to verify them against.
    #[error("client_auth_type requires client_ca_file")]
    ClientAuthWithoutCa,
    /// rustls refused the configuration itself.
    #[error("{0}")]
    Rustls(String),
}

/// How the exporter's endpoint treats client certificates (exporter-toolkit names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// Server side (Prometheus → exporter).
pub(crate) fn server_config(
    cert_file: &Path,
    key_file: &Path,
    client_ca_file: Option<&Path>,
    client_auth: ClientAuth,
    tls13_only: bool,
) -> Result<Arc<ServerConfig>, TlsError> {
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls13_only { &[&rustls::version::TLS13] } else { rustls::DEFAULT_VERSIONS };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (client_auth, client_ca_file) {
        (ClientAuth::NoClientCert, _) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(ca)?), provider());
            let verifier =
                if mode == ClientAuth::VerifyClientCertIfGiven { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Rustls(e.to_string()))?)
        }
        (_, None) => return Err(TlsError::ClientAuthWithoutCa),
    };
    let mut config =
        builder.with_single_cert(read_certs(cert_file)?, read_key(key_file)?).map_err(|e| TlsError::Mismatch {
            client: false,
            cert: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
            detail: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
