//! The exporter's own endpoint: TLS and HTTP basic auth, configured with the Prometheus
//! exporter-toolkit web-config YAML, so the file users already have for node_exporter
//! or redis_exporter works here too:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/exporter/tls.crt
//!   key_file: /etc/exporter/tls.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: /etc/exporter/ca.crt           # optional
//! basic_auth_users:
//!   prometheus: $2y$10$...                        # bcrypt hash
//! ```
//!
//! Settings of that schema this exporter does not implement (cipher suites, curve
//! preferences, HTTP headers...) are refused by name rather than silently ignored.

use super::tls::{self, ClientAuth, TlsError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    tls_server_config: Option<TlsServerConfigFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfigFile {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
}

/// What the HTTP layer enforces.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// Serve HTTPS only, with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Required credentials, if any.
    pub basic_auth: Option<BasicAuthUsers>,
}

/// The validated `basic_auth_users`: user names and their bcrypt hashes. The HTTP layer
/// builds its checker from them. Debug shows only how many there are.
#[derive(Clone)]
pub struct BasicAuthUsers(BTreeMap<String, String>);

impl BasicAuthUsers {
    /// User name to bcrypt hash.
    pub fn hashes(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl fmt::Debug for BasicAuthUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasicAuthUsers({} users)", self.0.len())
    }
}

/// The costs bcrypt accepts.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// The cost of a bcrypt hash, or `None` if `hash` is not one bcrypt can verify.
pub fn bcrypt_cost(hash: &str) -> Option<u32> {
    let cost = hash.parse::<bcrypt::HashParts>().ok()?.get_cost();
    BCRYPT_COSTS.contains(&cost).then_some(cost)
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth_users", &self.basic_auth.as_ref().map(|a| a.0.len()))
            .finish()
    }
}

/// Loads and checks a web-config file; errors name the file and the offending key.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let failed = |problem| WebConfigError { path: path.to_path_buf(), problem };
    let text = std::fs::read_to_string(path).map_err(|e| failed(WebProblem::Unreadable(e.kind())))?;
    let file: WebConfigFile =
        serde_norway::from_str(&text).map_err(|e| failed(WebProblem::Yaml(redact_yaml_error(&e))))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let tls =
        file.tls_server_config.map(|t| server_tls(&t, base)).transpose().map_err(|e| failed(WebProblem::Tls(e)))?;
    let basic_auth = basic_auth(file.basic_auth_users).map_err(|e| failed(WebProblem::BasicAuth(e)))?;
    Ok(WebConfig { tls, basic_auth })
}

/// The YAML parser quotes offending values; a bcrypt hash is not a secret, but keep the
/// message to the key and position.
fn redact_yaml_error(e: &serde_norway::Error) -> String {
    let message = e.to_string();
    match e.location() {
        Some(l) if message.contains("unknown field") => {
            format!("{} (line {}); supported: tls_server_config, basic_auth_users", message, l.line())
        }
        _ => message,
    }
}

/// Relative paths in the file are relative to the file, as in exporter-toolkit.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

fn server_tls(t: &TlsServerConfigFile, base: &Path) -> Result<Arc<rustls::ServerConfig>, ServerTlsError> {
    let client_auth = match t.client_auth_type.as_deref() {
        None | Some("NoClientCert") => ClientAuth::NoClientCert,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyClientCertIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerifyClientCert,
        Some(other) => return Err(ServerTlsError::ClientAuthType(other.to_string())),
    };
    if client_auth == ClientAuth::NoClientCert && t.client_ca_file.is_some() {
        return Err(ServerTlsError::CaWithoutClientAuth);
    }
    if let Some(v) = t.min_version.as_deref()
        && !matches!(v, "TLS12" | "TLS13")
    {
        return Err(ServerTlsError::MinVersion(v.to_string()));
    }
    let ca = t.client_ca_file.as_ref().map(|p| resolve(base, p));
    let (cert, key) = (resolve(base, &t.cert_file), resolve(base, &t.key_file));
    // Read each file under its own key first, so an unreadable one is named by its key.
    let file = |key: &'static str| move |error| ServerTlsError::File { key, error };
    tls::read_certs(&cert).map_err(file("cert_file"))?;
    tls::read_key(&key).map_err(file("key_file"))?;
    if let Some(ca) = &ca {
        tls::read_certs(ca).map_err(file("client_ca_file"))?;
    }
    let tls13_only = t.min_version.as_deref() == Some("TLS13");
    tls::server_config(&cert, &key, ca.as_deref(), client_auth, tls13_only).map_err(ServerTlsError::Build)
}

/// Validates `basic_auth_users`.
fn basic_auth(users: BTreeMap<String, String>) -> Result<Option<BasicAuthUsers>, BasicAuthError> {
    if users.is_empty() {
        return Ok(None);
    }
    for (user, hash) in &users {
        if user.contains(':') {
            return Err(BasicAuthError::ColonInName(user.clone()));
        }
        // Reject plain-text passwords early: bcrypt would fail every request.
        if bcrypt_cost(hash).is_none() {
            return Err(BasicAuthError::NotBcrypt(user.clone()));
        }
    }
    Ok(Some(BasicAuthUsers(users)))
}

/// Why a web-config file was refused: the file, and what is wrong in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfigError {
    /// The file, as configured: every message starts with it.
    pub(crate) path: PathBuf,
    /// What is wrong.
    pub(crate) problem: WebProblem,
}

/// What is wrong with a web-config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebProblem {
    /// The file could not be read (the I/O error's kind only).
    Unreadable(std::io::ErrorKind),
    /// Not YAML, or not the exporter-toolkit schema (the parser's text, values redacted).
    Yaml(String),
    /// `tls_server_config` is unusable.
    Tls(ServerTlsError),
    /// `basic_auth_users` is unusable.
    BasicAuth(BasicAuthError),
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            WebProblem::Unreadable(kind) => write!(f, "cannot read {path}: {kind}"),
            WebProblem::Yaml(message) => write!(f, "{path}: {message}"),
            WebProblem::Tls(e) => write!(f, "{path}: {e}"),
            WebProblem::BasicAuth(e) => write!(f, "{path}: {e}"),
        }
    }
}

impl std::error::Error for WebConfigError {}

/// Why `tls_server_config` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServerTlsError {
    /// A `client_auth_type` this exporter does not implement, as written.
    #[error(
        "tls_server_config.client_auth_type `{0}` is not supported \
         (NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
    )]
    ClientAuthType(String),
    /// `client_ca_file` with `NoClientCert`: the CA would go unused.
    #[error("tls_server_config.client_ca_file is set but client_auth_type is NoClientCert")]
    CaWithoutClientAuth,
    /// A `min_version` other than TLS12 or TLS13, as written.
    #[error("tls_server_config.min_version `{0}` is not supported (TLS12, TLS13)")]
    MinVersion(String),
    /// The file named by `tls_server_config.{key}` is unusable.
    #[error("tls_server_config.{key}: {error}")]
    File { key: &'static str, error: TlsError },
    /// The files are readable but do not make a server configuration.
    #[error(transparent)]
    Build(TlsError),
}

/// Why `basic_auth_users` was refused; each variant holds the user name, never the hash.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BasicAuthError {
    /// A user name with `:`, which basic auth cannot carry.
    #[error("basic_auth_users: user name `{0}` contains ':'")]
    ColonInName(String),
    /// The user's hash is not one bcrypt can verify (a plain-text password, most likely).
    #[error("basic_auth_users.{0}: not a bcrypt hash (generate one with `htpasswd -nBC 10 {0}`)")]
    NotBcrypt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_users_get_a_checker_and_no_users_none() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = basic_auth(BTreeMap::from([("prom".to_string(), hash)])).unwrap().unwrap();
        assert_eq!(auth.hashes().len(), 1);
        assert!(basic_auth(BTreeMap::new()).unwrap().is_none());
    }

    #[test]
    fn user_names_with_a_colon_are_refused() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let err = basic_auth(BTreeMap::from([("a:b".to_string(), hash)])).err().unwrap();
        assert_eq!(err, BasicAuthError::ColonInName("a:b".into()));
        assert_eq!(err.to_string(), "basic_auth_users: user name `a:b` contains ':'");
    }

    #[test]
    fn plain_text_passwords_are_refused() {
        let err = basic_auth(BTreeMap::from([("prom".to_string(), "hunter2".to_string())])).err().unwrap();
        assert_eq!(err, BasicAuthError::NotBcrypt("prom".into()));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
